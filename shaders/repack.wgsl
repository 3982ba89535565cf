// Repack a row-major [rows, cols] matrix (or a batch of them, stacked as rows) into a dense f32 buffer whose leading
// dimension ldDst is a multiple of 4 (zero-filled padding), so that vec4 kernels can read it. The source may be
// f32 or packed f16 (two halves per u32, element 2i in the low bits) with any leading dimension and offset.
// Header: const SRC_F16: bool.

struct Params {
  rows: u32, cols: u32, ldSrc: u32, offSrc: u32,
  ldDst: u32, offDst: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn srcAt(i: u32) -> f32 {
  if (SRC_F16) {
    let w = unpack2x16float(src[i >> 1u]);
    return select(w.x, w.y, (i & 1u) == 1u);
  }
  return bitcast<f32>(src[i]);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x;
  let r = gid.y + gid.z * nwg.y;
  if (c >= p.ldDst || r >= p.rows) { return; }
  var v = 0.0;
  if (c < p.cols) { v = srcAt(p.offSrc + r * p.ldSrc + c); }
  dst[p.offDst + r * p.ldDst + c] = v;
}
