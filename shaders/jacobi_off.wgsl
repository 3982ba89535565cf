// Per-row sums of squares of a symmetric N x N matrix, split into off-diagonal and diagonal parts:
// out[2i] = sum_{c != i} A[i,c]^2, out[2i+1] = A[i,i] (the eigenvalue estimate). The host adds them up
// (Jacobi convergence test) and sorts the diagonal.

struct Params { N: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.N) { return; }
  var s = 0.0;
  for (var c = 0u; c < p.N; c++) {
    let v = A[i * p.N + c];
    s += select(v * v, 0.0, c == i);
  }
  out[2u * i] = s;
  out[2u * i + 1u] = A[i * p.N + i];
}
