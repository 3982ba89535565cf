// Stage 2 of the running top-k: invocation i merges the nseg*K candidates of query i (from topk_partial.wgsl)
// into its running sorted list (runV/runI [q, K], carried across chunks on the GPU) with topk_lib.wgsl.
// Header: const K: u32.

struct Params { q: u32, nseg: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> candV: array<f32>;
@group(0) @binding(2) var<storage, read> candI: array<u32>;
@group(0) @binding(3) var<storage, read_write> runV: array<f32>;
@group(0) @binding(4) var<storage, read_write> runI: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.q) { return; }
  var list: TopK;
  for (var t = 0u; t < K; t++) { list.v[t] = runV[i * K + t]; list.i[t] = runI[i * K + t]; }
  let c0 = i * p.nseg * K;
  for (var c = 0u; c < p.nseg * K; c++) {
    let idx = candI[c0 + c];
    if (idx == 0xffffffffu) { continue; }
    topk_insert(&list, candV[c0 + c], idx);
  }
  for (var t = 0u; t < K; t++) { runV[i * K + t] = list.v[t]; runI[i * K + t] = list.i[t]; }
}
