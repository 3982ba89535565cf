// Library (functions only) of the running top-k (topk_partial.wgsl, topk_merge.wgsl): a sorted list of the K best
// (score, index) pairs in private memory; order: higher score first, ties by smaller index; NaN never enters.
// Needs the header's const K: u32.

struct TopK {
  v: array<f32, K>,
  i: array<u32, K>,
}

// Inserts (v, idx) when it beats the current K-th entry.
fn topk_insert(list: ptr<function, TopK>, v: f32, idx: u32) {
  let worst = (*list).v[K - 1u];
  // strictly better than the current K-th (NaN compares false)
  if (!(v > worst || (v == worst && idx < (*list).i[K - 1u]))) { return; }
  var t = K - 1u;
  loop {
    if (t == 0u) { break; }
    let pv = (*list).v[t - 1u];
    if (pv > v || (pv == v && (*list).i[t - 1u] < idx)) { break; }
    (*list).v[t] = pv;
    (*list).i[t] = (*list).i[t - 1u];
    t--;
  }
  (*list).v[t] = v;
  (*list).i[t] = idx;
}
