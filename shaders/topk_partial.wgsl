// Stage 1 of the running top-k: invocation (segment s, query i) keeps the KMAX... K best (score, index) pairs of
// scores S[i, s*SEG .. (s+1)*SEG) in a private sorted list and writes them to the candidate buffer
// [q, nseg, K] (score -inf / index 0xffffffff where the segment had fewer). Order: higher score first, ties by
// smaller index; NaN scores never enter (topk_lib.wgsl). Header: const K: u32 (list length), const SEG: u32.

struct Params {
  q: u32, n: u32, nseg: u32, base: u32,
  ldS: u32, offS: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> candV: array<f32>;
@group(0) @binding(3) var<storage, read_write> candI: array<u32>;

const NEG_INF = -3.4028234663852886e38; // -FLT_MAX stands for "empty" (WGSL has no infinity literal)

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let s = gid.x;
  let i = gid.y;
  if (s >= p.nseg || i >= p.q) { return; }
  var list: TopK;
  for (var t = 0u; t < K; t++) { list.v[t] = NEG_INF; list.i[t] = 0xffffffffu; }
  let j1 = min(p.n, (s + 1u) * SEG);
  for (var j = s * SEG; j < j1; j++) {
    topk_insert(&list, S[p.offS + i * p.ldS + j], p.base + j);
  }
  let o = (i * p.nseg + s) * K;
  for (var t = 0u; t < K; t++) { candV[o + t] = list.v[t]; candI[o + t] = list.i[t]; }
}
