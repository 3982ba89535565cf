// Stage 2 of the running top-k: invocation i merges the nseg*K candidates of query i (from topk_partial.wgsl)
// into its running sorted list (runV/runI [q, K], carried across chunks on the GPU). Same order as stage 1.
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
  var bv: array<f32, K>;
  var bi: array<u32, K>;
  for (var t = 0u; t < K; t++) { bv[t] = runV[i * K + t]; bi[t] = runI[i * K + t]; }
  var worst = bv[K - 1u];
  var worstI = bi[K - 1u];
  let c0 = i * p.nseg * K;
  for (var c = 0u; c < p.nseg * K; c++) {
    let v = candV[c0 + c];
    let idx = candI[c0 + c];
    if (idx == 0xffffffffu) { continue; }
    if (!(v > worst || (v == worst && idx < worstI))) { continue; }
    var t = K - 1u;
    loop {
      if (t == 0u) { break; }
      let pv = bv[t - 1u];
      if (pv > v || (pv == v && bi[t - 1u] < idx)) { break; }
      bv[t] = pv;
      bi[t] = bi[t - 1u];
      t--;
    }
    bv[t] = v;
    bi[t] = idx;
    worst = bv[K - 1u];
    worstI = bi[K - 1u];
  }
  for (var t = 0u; t < K; t++) { runV[i * K + t] = bv[t]; runI[i * K + t] = bi[t]; }
}
