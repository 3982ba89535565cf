// out[r, c] = scale * N(r, c) for a [rows, cols] block starting at row0: Gaussian projection matrices drawn on the
// GPU from (seed, layer, role, shape) via the derived Threefry key (uses rng_lib.wgsl).

struct Params {
  key: vec2<u32>, rows: u32, cols: u32,
  row0: u32, unitScale: u32, scale: u32, offOut: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let r = gid.y;
  if (c >= p.cols || r >= p.rows) { return; }
  // two separately rounded products (x * 1.0 is exact), as in the reference
  let v = rng_normal(p.key, p.row0 + r, c, bitcast<f32>(p.unitScale));
  out[p.offOut + r * p.cols + c] = v * bitcast<f32>(p.scale);
}
