// out[i, c] = src[i, idx[c]] for i < rows, c < cols: reorders and selects columns (sorted eigenvectors), with
// independent leading dimensions.

struct Params { rows: u32, cols: u32, ldSrc: u32, ldOut: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let i = gid.y;
  if (c >= p.cols || i >= p.rows) { return; }
  out[i * p.ldOut + c] = src[i * p.ldSrc + idx[c]];
}
