// One round of the parallel (round-robin ordered) two-sided Jacobi eigenvalue method for a symmetric N x N matrix
// (N even). In round r the N indices form N/2 disjoint pairs (circle method: index 0 fixed, the others rotate), so
// all N/2 rotations of a round commute and are applied at once: A' = J^T A J, V' = V J.
// A is double-buffered (Ain -> Aout) so that every invocation reads the round's original entries: each one
// recomputes the rotations of its two pairs from the same inputs (identical results), with no extra dispatch.
// Invocation (x = pair J, y = pair I < N/2) updates the 2x2 block (I, J) of A and its mirror when I < J (I > J
// idle); invocations with y >= N/2 update row y - N/2 of V at the columns of pair J (V is updated in place).
// A rotation is skipped (c = 1, s = 0) when |a_pq| <= 1e-7 sqrt(|a_pp a_qq|) or a_pq = 0: it is at rounding level.

struct Params {
  N: u32, round: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Ain: array<f32>;
@group(0) @binding(2) var<storage, read_write> Aout: array<f32>;
@group(0) @binding(3) var<storage, read_write> V: array<f32>;

// the two indices of pair t in this round (p < q)
fn pairOf(t: u32) -> vec2<u32> {
  let m = p.N - 1u;
  var a: u32;
  var b: u32;
  if (t == 0u) {
    a = 0u;
    b = (p.round % m) + 1u;
  } else {
    a = ((t + p.round) % m) + 1u;
    b = ((m - t + p.round) % m) + 1u;
  }
  return vec2<u32>(min(a, b), max(a, b));
}

fn at(r: u32, c: u32) -> f32 {
  return Ain[r * p.N + c];
}

// (c, s, t) of the rotation zeroing A[p, q]; t = tan(theta) (0 when skipped)
fn rotation(pq: vec2<u32>) -> vec3<f32> {
  let apq = at(pq.x, pq.y);
  let app = at(pq.x, pq.x);
  let aqq = at(pq.y, pq.y);
  if (apq == 0.0 || abs(apq) <= 1e-7 * sqrt(abs(app * aqq))) { return vec3<f32>(1.0, 0.0, 0.0); }
  let theta = (aqq - app) / (2.0 * apq);
  var t = 1.0 / (abs(theta) + sqrt(theta * theta + 1.0));
  if (theta < 0.0) { t = -t; }
  // |theta| huge: t ~ 1 / (2 theta)
  if (abs(theta) > 1e18) { t = 0.5 / theta; }
  let c = 1.0 / sqrt(t * t + 1.0);
  return vec3<f32>(c, t * c, t);
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = p.N / 2u;
  let J = gid.x;
  if (J >= half) { return; }
  let I = gid.y;
  if (I < half && I > J) { return; } // lower blocks: written by their mirror invocation
  let pj = pairOf(J);
  let rj = rotation(pj);
  if (I >= half) {
    let i = I - half;
    if (i >= p.N) { return; }
    let vp = V[i * p.N + pj.x];
    let vq = V[i * p.N + pj.y];
    V[i * p.N + pj.x] = rj.x * vp - rj.y * vq;
    V[i * p.N + pj.y] = rj.y * vp + rj.x * vq;
    return;
  }
  let pi = pairOf(I);
  let ri = rotation(pi);
  if (I == J) {
    // diagonal block: closed form, off-diagonal exactly zero when rotated
    let app = at(pi.x, pi.x);
    let aqq = at(pi.y, pi.y);
    let apq = at(pi.x, pi.y);
    let rotated = ri.y != 0.0;
    Aout[pi.x * p.N + pi.x] = app - ri.z * apq;
    Aout[pi.y * p.N + pi.y] = aqq + ri.z * apq;
    let off = select(apq, 0.0, rotated);
    Aout[pi.x * p.N + pi.y] = off;
    Aout[pi.y * p.N + pi.x] = off;
    return;
  }
  // B = A[{p_i, q_i}, {p_j, q_j}];  B' = R_i^T B R_j with R = [[c, s], [-s, c]]
  let b00 = at(pi.x, pj.x);
  let b01 = at(pi.x, pj.y);
  let b10 = at(pi.y, pj.x);
  let b11 = at(pi.y, pj.y);
  // B R_j
  let x00 = rj.x * b00 - rj.y * b01;
  let x01 = rj.y * b00 + rj.x * b01;
  let x10 = rj.x * b10 - rj.y * b11;
  let x11 = rj.y * b10 + rj.x * b11;
  // R_i^T (B R_j)
  let y00 = ri.x * x00 - ri.y * x10;
  let y01 = ri.x * x01 - ri.y * x11;
  let y10 = ri.y * x00 + ri.x * x10;
  let y11 = ri.y * x01 + ri.x * x11;
  Aout[pi.x * p.N + pj.x] = y00;
  Aout[pi.x * p.N + pj.y] = y01;
  Aout[pi.y * p.N + pj.x] = y10;
  Aout[pi.y * p.N + pj.y] = y11;
  Aout[pj.x * p.N + pi.x] = y00;
  Aout[pj.y * p.N + pi.x] = y01;
  Aout[pj.x * p.N + pi.y] = y10;
  Aout[pj.y * p.N + pi.y] = y11;
}
