// Symmetric rank-n update: C = beta C + alpha sum_r w[r] g_r g_r^T for the rows g_r of G [n, k] (ld % 4 == 0).
// Covariance accumulation (C += G^T G over a batch of projected gradients) and KFAC factors (A += X^T diag(mask) X,
// S += DY^T diag(mask) DY). Only 4x4 blocks on or above the diagonal are computed; each is written to both halves,
// so C stays exactly symmetric. Masked rows (w = 0) are skipped with select(), so NaN/garbage there never leaks.
// Header: const HAS_W: bool.

struct Params {
  n: u32, k: u32, ldg: u32, offG: u32,
  offC: u32, offW: u32, _p0: u32, _p1: u32,
  alpha: f32, beta: f32, _p2: u32, _p3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> G: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;

fn weight(r: u32) -> f32 {
  if (HAS_W) { return W[p.offW + r]; }
  return 1.0;
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  if (n0 >= p.k || m0 >= p.k || m0 > n0) { return; }
  let z = vec4<f32>(0.0);
  var c0 = z; var c1 = z; var c2 = z; var c3 = z;
  let ia = (p.offG + m0) / 4u;
  let ib = (p.offG + n0) / 4u;
  let ld4 = p.ldg / 4u;
  for (var r = 0u; r < p.n; r++) {
    let w = weight(r);
    let a = select(z, G[ia + r * ld4] * w, w != 0.0);
    let b = select(z, G[ib + r * ld4], w != 0.0);
    c0 += a.x * b; c1 += a.y * b; c2 += a.z * b; c3 += a.w * b;
  }
  let acc = mat4x4<f32>(c0, c1, c2, c3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= p.k) { break; }
    for (var j = 0u; j < 4u; j++) {
      let nn = n0 + j;
      if (nn >= p.k) { break; }
      if (m0 == n0 && j < i) { continue; } // diagonal block: the upper half is written twice below
      let i1 = p.offC + m * p.k + nn;
      let i2 = p.offC + nn * p.k + m;
      var v = p.alpha * acc[i][j];
      if (p.beta != 0.0) { v += p.beta * C[i1]; }
      C[i1] = v;
      C[i2] = v;
    }
  }
}
