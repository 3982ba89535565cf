// One column of a left-looking (Crout) Cholesky factorisation of H = A + lambda I, A [n, n] symmetric, row-major
// with ld % 4 == 0, factorised in place: dispatch j computes column j of L for rows i >= j:
//   d     = A[j,j] + lambda - sum_{c<j} L[j,c]^2,   L[j,j] = sqrt(d)        (stored in diag[j])
//   L[i,j] = (A[i,j] - sum_{c<j} L[i,c] L[j,c]) / L[j,j]                  (stored over A[i,j], i > j)
// Rows of L are contiguous, so both dot products are vec4 loops. The diagonal of A is never overwritten (every
// invocation reads A[j,j]); the strict lower triangle of A becomes L. A non-positive or NaN pivot records the first
// failing column in status (atomicMin) and poisons the column with NaN, so later columns fail too.
// Blocked use (cholesky.ts): the sums over c < c0 (columns of earlier blocks) come precomputed by one GEMM in
// U [n - c0, uld] (U[i - c0, j - c0] = sum_{c<c0} L[i,c] L[j,c]); the kernel then sums only c0 <= c < j.
// c0 % 4 == 0. Unblocked: c0 = 0, useU = 0.

struct Params {
  n: u32, j: u32, ld: u32, c0: u32,
  lambda: f32, nanBits: u32, uld: u32, useU: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> diag: array<f32>;
@group(0) @binding(3) var<storage, read_write> status: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read> U: array<f32>;

fn el(r: u32, c: u32) -> f32 {
  let v = A[(r * p.ld + c) / 4u];
  return v[c % 4u];
}

// sum_{c0 <= c < c0 + len} A[r1, c] A[r2, c]
fn rowdot(r1: u32, r2: u32, len: u32) -> f32 {
  let b1 = (r1 * p.ld + p.c0) / 4u;
  let b2 = (r2 * p.ld + p.c0) / 4u;
  var acc = vec4<f32>(0.0);
  let full = len / 4u;
  for (var q = 0u; q < full; q++) { acc += A[b1 + q] * A[b2 + q]; }
  let rem = len % 4u;
  if (rem != 0u) {
    let m = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(rem);
    acc += select(vec4<f32>(0.0), A[b1 + full] * A[b2 + full], m);
  }
  return acc.x + acc.y + acc.z + acc.w;
}

fn upd(r: u32, c: u32) -> f32 {
  if (p.useU == 0u) { return 0.0; }
  return U[(r - p.c0) * p.uld + (c - p.c0)];
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = p.j + gid.x + gid.y * nwg.x * 64u;
  let j = p.j;
  if (i >= p.n) { return; }
  let len = j - p.c0;
  let d = el(j, j) + p.lambda - upd(j, j) - rowdot(j, j, len);
  let ok = d > 0.0; // false for NaN too
  let ljj = select(bitcast<f32>(p.nanBits), sqrt(d), ok); // NaN from a uniform: WGSL rejects NaN constants
  if (i == j) {
    diag[j] = ljj;
    if (!ok) { atomicMin(&status[0], j); }
    return;
  }
  let s = el(i, j) - upd(i, j) - rowdot(i, j, len);
  let idx = (i * p.ld + j) / 4u;
  var v = A[idx];
  v[j % 4u] = s / ljj;
  A[idx] = v;
}
