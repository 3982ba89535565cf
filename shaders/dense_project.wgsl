// Dense (TRAK-style) random projection of full per-example gradients, the baseline LoGra is measured against:
// out[b, j] = scale * sum_q R[j, q] G[b, q], R [k, D] ~ N(0, 1) regenerated on the fly from the Threefry key
// (rng_lib.wgsl), as TRAK's fast_jl does: R (k x D = 4096 x 2.4M at GPT-2 widths) is far too large to store.
// One invocation per (row j of R, 4 examples): each variate is drawn once and used for 4 gradients.

struct Params {
  key: vec2<u32>, B: u32, D: u32,
  k: u32, offG: u32, offOut: u32, unitScale: u32,
  scale: u32, j0: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x + p.j0;
  let b0 = gid.y * 4u;
  if (j >= p.k || b0 >= p.B) { return; }
  let bs = min(vec4<u32>(b0, b0 + 1u, b0 + 2u, b0 + 3u), vec4<u32>(p.B - 1u)) * p.D + vec4<u32>(p.offG);
  let us = bitcast<f32>(p.unitScale);
  var acc = vec4<f32>(0.0);
  for (var q = 0u; q < p.D; q++) {
    let r = rng_normal(p.key, j, q, us);
    acc += r * vec4<f32>(G[bs.x + q], G[bs.y + q], G[bs.z + q], G[bs.w + q]);
  }
  let s = bitcast<f32>(p.scale);
  for (var i = 0u; i < 4u; i++) {
    if (b0 + i < p.B) { out[p.offOut + (b0 + i) * p.k + j] = acc[i] * s; }
  }
}
