// Packed f16 (two halves per u32, element 2i in the low 16 bits) -> f32. Exact (every half is an f32).

struct Params { n: u32, offIn: u32, offOut: u32, _p: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let n2 = (p.n + 1u) / 2u;
  if (i >= n2) { return; }
  let v = unpack2x16float(src[p.offIn + i]);
  dst[p.offOut + 2u * i] = v.x;
  if (2u * i + 1u < p.n) { dst[p.offOut + 2u * i + 1u] = v.y; }
}
