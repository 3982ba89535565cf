// float64 reference for scoring and the running top-k.

export type ScoreMode = 'dot' | 'cosine' | 'l2';

/** S [q, n] for Q [q, k] and X [n, k] (see shaders/score.wgsl for the modes; `norms`: given squared norms). */
export function refScores(qm: ArrayLike<number>, x: ArrayLike<number>, q: number, n: number, k: number, mode: ScoreMode = 'dot', xScale?: ArrayLike<number>, norms?: { q: ArrayLike<number>; x: ArrayLike<number> }): Float64Array {
  const s = new Float64Array(q * n);
  for (let i = 0; i < q; i++)
    for (let j = 0; j < n; j++) {
      let d = 0, qq = 0, xx = 0;
      for (let c = 0; c < k; c++) {
        const a = qm[i * k + c], b = x[j * k + c];
        d += a * b;
        qq += a * a;
        xx += b * b;
      }
      if (norms) {
        qq = norms.q[i];
        xx = norms.x[j];
      }
      let v = d;
      if (mode === 'cosine') v = qq > 0 && xx > 0 ? d / Math.sqrt(qq * xx) : 0;
      else if (mode === 'l2') v = -Math.max(qq + xx - 2 * d, 0);
      if (xScale) v *= xScale[j];
      s[i * n + j] = v;
    }
  return s;
}

/** Top-K per row of S [q, n] (higher first, ties by smaller index), with index offset `base`. */
export function refTopK(s: ArrayLike<number>, q: number, n: number, K: number, base = 0): { values: Float64Array; indices: Int32Array } {
  const values = new Float64Array(q * K).fill(-Infinity);
  const indices = new Int32Array(q * K).fill(-1);
  for (let i = 0; i < q; i++) {
    const order = Array.from({ length: n }, (_, j) => j).filter((j) => !Number.isNaN(s[i * n + j]));
    order.sort((a, b) => s[i * n + b] - s[i * n + a] || a - b);
    for (let t = 0; t < Math.min(K, order.length); t++) {
      values[i * K + t] = s[i * n + order[t]];
      indices[i * K + t] = base + order[t];
    }
  }
  return { values, indices };
}
