// Scores of queries against a chunk of stored gradients: S[i, j] = f(Q[i] . X[j]) for Q [q, k] (f32) and X [n, k]
// (f32, or packed f16 straight from a store chunk: two halves per u32, unpacked with unpack2x16float, no
// 'shader-f16' needed). k % 4 == 0 (k % 8 == 0 for f16 X); the wrapper repacks otherwise.
// MODE 0 dot:    S = Q.X (times xScale[j] when HAS_XSCALE, e.g. 1/sqrt(self-influence) for RelatIF)
// MODE 1 cosine: S = Q.X / (|Q| |X|)   (0 when a norm is 0)
// MODE 2 l2:     S = -|Q - X|^2 = -(|Q|^2 + |X|^2 - 2 Q.X)   (larger = closer, so top-k = nearest)
// Norms are accumulated in the same loop as the dot products (no extra pass over the chunk), or, when GIVEN_NORMS,
// read as squared norms from Qn [q] and Xs [n] (self-influences in the preconditioned metric: the LoGra pipeline's
// cosine and l2 modes; HAS_XSCALE is then false). 4x4 register block per invocation, vec4 loads, no shared memory.
// Header: const MODE: u32, const X_F16: bool, const HAS_XSCALE: bool, const GIVEN_NORMS: bool.

struct Params {
  q: u32, n: u32, k: u32, ldS: u32,
  offQ: u32, offX: u32, offS: u32, offXs: u32,
  offQn: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> X: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;
@group(0) @binding(4) var<storage, read> Xs: array<f32>;
@group(0) @binding(5) var<storage, read> Qn: array<f32>;

// X[row, c..c+3] (c % 4 == 0)
fn ldX(row: u32, c: u32) -> vec4<f32> {
  let e = p.offX + row * p.k + c;
  if (X_F16) {
    let w = X[e / 8u];
    let h = select(w.xy, w.zw, (e / 4u) % 2u == 1u);
    return vec4<f32>(unpack2x16float(h.x), unpack2x16float(h.y));
  }
  return bitcast<vec4<f32>>(X[e / 4u]);
}

fn ldQ(row: u32, c: u32) -> vec4<f32> {
  return Q[(p.offQ + row * p.k + c) / 4u];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j0 = gid.x * 4u;
  let i0 = gid.y * 4u;
  if (j0 >= p.n || i0 >= p.q) { return; }
  let qi = min(vec4<u32>(i0, i0 + 1u, i0 + 2u, i0 + 3u), vec4<u32>(p.q - 1u));
  let xj = min(vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u), vec4<u32>(p.n - 1u));
  let z = vec4<f32>(0.0);
  var c0 = z; var c1 = z; var c2 = z; var c3 = z;
  var qn = z;
  var xn = z;
  for (var c = 0u; c < p.k; c += 4u) {
    let a0 = ldQ(qi.x, c); let a1 = ldQ(qi.y, c); let a2 = ldQ(qi.z, c); let a3 = ldQ(qi.w, c);
    let b0 = ldX(xj.x, c); let b1 = ldX(xj.y, c); let b2 = ldX(xj.z, c); let b3 = ldX(xj.w, c);
    c0 += vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
    c1 += vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
    c2 += vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
    c3 += vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
    if (MODE != 0u && !GIVEN_NORMS) {
      qn += vec4<f32>(dot(a0, a0), dot(a1, a1), dot(a2, a2), dot(a3, a3));
      xn += vec4<f32>(dot(b0, b0), dot(b1, b1), dot(b2, b2), dot(b3, b3));
    }
  }
  if (GIVEN_NORMS && MODE != 0u) {
    qn = vec4<f32>(Qn[p.offQn + qi.x], Qn[p.offQn + qi.y], Qn[p.offQn + qi.z], Qn[p.offQn + qi.w]);
    xn = vec4<f32>(Xs[p.offXs + xj.x], Xs[p.offXs + xj.y], Xs[p.offXs + xj.z], Xs[p.offXs + xj.w]);
  }
  let acc = mat4x4<f32>(c0, c1, c2, c3);
  for (var i = 0u; i < 4u; i++) {
    if (i0 + i >= p.q) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (j0 + j >= p.n) { break; }
      let d = acc[i][j];
      var s = d;
      if (MODE == 1u) {
        let den = sqrt(qn[i]) * sqrt(xn[j]);
        s = select(0.0, d / den, den > 0.0);
      } else if (MODE == 2u) {
        s = -max(qn[i] + xn[j] - 2.0 * d, 0.0);
      }
      if (HAS_XSCALE) { s = s * Xs[p.offXs + j0 + j]; }
      S[p.offS + (i0 + i) * p.ldS + j0 + j] = s;
    }
  }
}
