// Solves rows of X H = G in place, H = L L^T with L from cholesky.wgsl (strict lower triangle in Lm, diagonal in
// diag): X = G H^{-1}, i.e. x^T = H^{-1} g^T for every row g of G [m, n]. One invocation per row (right-hand
// side), both substitutions on the row itself, vec4 along it (ld % 4 == 0 for both matrices):
//   forward   L y = g:    y_j = (g_j - sum_{c<j} L[j,c] y_c) / L[j,j]        (row j of L: a dot product)
//   backward  L^T x = y:  x_j = y_j / L[j,j];  y_c -= L[j,c] x_j for c < j   (row j of L again: an axpy)
// With fwdOnly = 1 only the forward substitution runs (x = L^{-1} g: whitening).

struct Params {
  m: u32, n: u32, ldL: u32, ldX: u32,
  offX: u32, fwdOnly: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Lm: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> diag: array<f32>;
@group(0) @binding(3) var<storage, read_write> X: array<vec4<f32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.m) { return; }
  let xb = (p.offX + r * p.ldX) / 4u;
  let lane = vec4<u32>(0u, 1u, 2u, 3u);
  let z = vec4<f32>(0.0);
  // forward substitution
  for (var j = 0u; j < p.n; j++) {
    let lb = j * p.ldL / 4u;
    var acc = z;
    let full = j / 4u;
    for (var q = 0u; q < full; q++) { acc += Lm[lb + q] * X[xb + q]; }
    let rem = j % 4u;
    if (rem != 0u) { acc += select(z, Lm[lb + full] * X[xb + full], lane < vec4<u32>(rem)); }
    var xv = X[xb + j / 4u];
    xv[j % 4u] = (xv[j % 4u] - (acc.x + acc.y + acc.z + acc.w)) / diag[j];
    X[xb + j / 4u] = xv;
  }
  if (p.fwdOnly == 1u) { return; }
  // backward substitution (column-oriented, reading rows of L)
  for (var jj = 0u; jj < p.n; jj++) {
    let j = p.n - 1u - jj;
    var xv = X[xb + j / 4u];
    let xj = xv[j % 4u] / diag[j];
    xv[j % 4u] = xj;
    X[xb + j / 4u] = xv;
    let lb = j * p.ldL / 4u;
    let full = j / 4u;
    for (var q = 0u; q < full; q++) { X[xb + q] -= Lm[lb + q] * xj; }
    let rem = j % 4u;
    if (rem != 0u) { X[xb + full] -= select(z, Lm[lb + full] * xj, lane < vec4<u32>(rem)); }
  }
}
