// float64 references for the LoGra projection, the dense per-example gradient and the dense (TRAK-style) random
// projection, KFAC factors and covariance accumulation.
import { deriveKey, normalAt, type ProjectionSpec } from './rng.ts';

export interface TapDims {
  B: number;
  T: number;
  dIn: number;
  dOut: number;
}

/** G[b] = sum_t mask[b,t] (P_out dy[b,t]) (P_in x[b,t])^T -> [B, kOut, kIn] (float64). */
export function refLoGra(x: ArrayLike<number>, dy: ArrayLike<number>, mask: ArrayLike<number> | undefined, pIn: ArrayLike<number>, pOut: ArrayLike<number>, d: TapDims, kIn: number, kOut: number): Float64Array {
  const { B, T, dIn, dOut } = d;
  const g = new Float64Array(B * kOut * kIn);
  const u = new Float64Array(kIn), v = new Float64Array(kOut);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const m = mask ? mask[b * T + t] : 1;
      if (m === 0) continue;
      const xo = (b * T + t) * dIn, yo = (b * T + t) * dOut;
      for (let i = 0; i < kIn; i++) {
        let s = 0;
        for (let c = 0; c < dIn; c++) s += pIn[i * dIn + c] * x[xo + c];
        u[i] = s;
      }
      for (let o = 0; o < kOut; o++) {
        let s = 0;
        for (let c = 0; c < dOut; c++) s += pOut[o * dOut + c] * dy[yo + c];
        v[o] = s * m;
      }
      for (let o = 0; o < kOut; o++) for (let i = 0; i < kIn; i++) g[b * kOut * kIn + o * kIn + i] += v[o] * u[i];
    }
  }
  return g;
}

/** Full per-example weight gradient DW[b] = sum_t mask dy[b,t] x[b,t]^T -> [B, dOut, dIn] (float64). */
export function refPerExampleGrad(x: ArrayLike<number>, dy: ArrayLike<number>, mask: ArrayLike<number> | undefined, d: TapDims): Float64Array {
  const { B, T, dIn, dOut } = d;
  const g = new Float64Array(B * dOut * dIn);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const m = mask ? mask[b * T + t] : 1;
      if (m === 0) continue;
      const xo = (b * T + t) * dIn, yo = (b * T + t) * dOut;
      for (let o = 0; o < dOut; o++) {
        const v = m * dy[yo + o];
        const go = b * dOut * dIn + o * dIn;
        for (let i = 0; i < dIn; i++) g[go + i] += v * x[xo + i];
      }
    }
  return g;
}

/** out[b, j] = scale_f32(sum_q R[j, q] G[b, q]) with R from the reference generator (rows = k, cols = D). */
export function refDenseProject(grads: ArrayLike<number>, B: number, spec: ProjectionSpec): Float64Array {
  const { rows: k, cols: D } = spec;
  const [k0, k1] = deriveKey(spec);
  const out = new Float64Array(B * k);
  const r = new Float64Array(D);
  for (let j = 0; j < k; j++) {
    for (let q = 0; q < D; q++) r[q] = normalAt(k0, k1, j, q);
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let q = 0; q < D; q++) s += r[q] * grads[b * D + q];
      out[b * k + j] = s * (spec.scale ?? 1);
    }
  }
  return out;
}

/** C += alpha sum_r w[r] g_r g_r^T for rows g_r of G [n, k] (float64, full symmetric result). */
export function refSyrk(c: Float64Array, g: ArrayLike<number>, n: number, k: number, w?: ArrayLike<number>, alpha = 1): Float64Array {
  for (let r = 0; r < n; r++) {
    const wr = (w ? w[r] : 1) * alpha;
    if (wr === 0) continue;
    for (let i = 0; i < k; i++) {
      const gi = g[r * k + i] * wr;
      if (gi === 0) continue;
      for (let j = 0; j < k; j++) c[i * k + j] += gi * g[r * k + j];
    }
  }
  return c;
}
