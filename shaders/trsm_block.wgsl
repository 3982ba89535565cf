// One diagonal block of the blocked triangular solves behind X = G (L L^T)^{-1} (cholesky.ts), rows of X [m, n]
// solved in place, one invocation per row (right-hand side); L from cholesky.wgsl (strict lower triangle in Lm,
// diagonal in diag). The contributions of the other blocks arrive precomputed by one GEMM in T [m, ldT]:
//   mode 0 (forward,  L y = g):   T[r, jj] = sum_{c < k} L[k+jj, c] y_c;      then for j = k .. k+b-1:
//                                 y_j = (g_j - T[r, j-k] - sum_{k <= c < j} L[j,c] y_c) / L[j,j]
//   mode 1 (backward, L^T x = y): T[r, jj] = sum_{i >= k+b} L[i, k+jj] x_i;   y_j -= T[r, j-k], then for
//                                 j = k+b-1 .. k: x_j = y_j / L[j,j]; y_c -= L[j,c] x_j for k <= c < j
// Scalar loads: this kernel does O(m n b) of the O(m n^2) work; the GEMMs do the rest.

struct Params {
  m: u32, n: u32, ldL: u32, ldX: u32,
  offX: u32, k: u32, b: u32, mode: u32,
  ldT: u32, useT: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Lm: array<f32>;
@group(0) @binding(2) var<storage, read> diag: array<f32>;
@group(0) @binding(3) var<storage, read_write> X: array<f32>;
@group(0) @binding(4) var<storage, read> T: array<f32>;

fn t(r: u32, jj: u32) -> f32 {
  if (p.useT == 0u) { return 0.0; }
  return T[r * p.ldT + jj];
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.m) { return; }
  let xb = p.offX + r * p.ldX;
  if (p.mode == 0u) {
    for (var jj = 0u; jj < p.b; jj++) {
      let j = p.k + jj;
      var s = X[xb + j] - t(r, jj);
      for (var c = p.k; c < j; c++) { s -= Lm[j * p.ldL + c] * X[xb + c]; }
      X[xb + j] = s / diag[j];
    }
    return;
  }
  for (var jj = 0u; jj < p.b; jj++) { X[xb + p.k + jj] -= t(r, jj); }
  for (var q = 0u; q < p.b; q++) {
    let j = p.k + p.b - 1u - q;
    let xj = X[xb + j] / diag[j];
    X[xb + j] = xj;
    for (var c = p.k; c < j; c++) { X[xb + c] -= Lm[j * p.ldL + c] * xj; }
  }
}
