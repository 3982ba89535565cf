// f32 -> packed f16 (two halves per u32, element 2i in the low 16 bits): the layout of 'f16' tensors and of store
// chunks. pack2x16float works without the 'shader-f16' feature; WGSL leaves its result indeterminate outside the
// finite f16 range (SwiftShader returns NaN patterns for inf), so NaN and |x| >= 65520 are handled here with bit
// tests (a `x != x` test may be optimised away): NaN -> 0x7e00 | sign, overflow -> +-inf, as the RNE reference.

struct Params { n: u32, offIn: u32, offOut: u32, _p: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn toHalf(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let mag = b & 0x7fffffffu;
  if (mag > 0x7f800000u) { return sign | 0x7e00u; }  // NaN
  if (mag >= 0x477ff000u) { return sign | 0x7c00u; } // |x| >= 65520 rounds to infinity
  return pack2x16float(vec2<f32>(x, 0.0)) & 0xffffu;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let n2 = (p.n + 1u) / 2u;
  if (i >= n2) { return; }
  let lo = src[p.offIn + 2u * i];
  var hi = 0.0;
  if (2u * i + 1u < p.n) { hi = src[p.offIn + 2u * i + 1u]; }
  dst[p.offOut + i] = toHalf(lo) | (toHalf(hi) << 16u);
}
