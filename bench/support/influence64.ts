// Float64 references for the accuracy study: per-example gradient rows read back from a LoGra store, exact
// influence scores computed from them (plain dot products; raw damped influence through the Woodbury identity, so
// the k x k covariance is never formed), and Spearman rank correlation.
import { decodeChunk } from '../../src/store/chunk.ts';
import type { LogStore } from '../../src/store/store.ts';
import { spdSolve } from '../../test/support/linalg64.ts';

/** Per-layer gradient blocks of a set of examples: blocks[l][n] = vec(G_l) of example n (float64). */
export interface GradRows {
  ids: string[];
  layers: { name: string; k: number }[];
  blocks: Float64Array[][];
}

/** Reads every row of a store, split into per-layer blocks (the index layout: vec(G_l) per layer, in layer order). */
export async function readRows(store: LogStore): Promise<GradRows> {
  const m = await store.readManifest();
  if (!m) throw new Error(`${store.location}: no manifest`);
  const layers = m.settings.layers.map((l) => ({ name: l.name, k: l.kIn * l.kOut }));
  const blocks: Float64Array[][] = layers.map(() => []);
  const ids: string[] = [];
  for (const c of m.chunks) {
    const d = decodeChunk(await store.readBlob(c.key), `${store.location}/${c.key}`, { checksum: c.checksum, rows: c.rows, cols: m.cols });
    for (let r = 0; r < c.rows; r++) {
      let off = r * m.cols;
      layers.forEach((l, i) => {
        blocks[i].push(Float64Array.from(d.data.subarray(off, off + l.k)));
        off += l.k;
      });
      ids.push(c.ids[r]);
    }
  }
  return { ids, layers, blocks };
}

/** Rows of `rows` in the order of `ids`. */
export function pick(rows: GradRows, ids: string[]): GradRows {
  const at = new Map(rows.ids.map((id, i) => [id, i]));
  const idx = ids.map((id) => {
    const i = at.get(id);
    if (i === undefined) throw new Error(`row ${id} missing`);
    return i;
  });
  return { ids, layers: rows.layers, blocks: rows.blocks.map((b) => idx.map((i) => b[i])) };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export type Scores = Float64Array[]; // [query][train]

/**
 * Influence scores summed over layers, [query][train]:
 *  - damping null: plain dot products sum_l g_q,l . g_n,l
 *  - damping d: sum_l g_q,l^T (C_l + lambda_l I)^{-1} g_n,l, C_l = (1/N) sum_n g_n,l g_n,l^T, lambda_l = d tr(C_l) / k_l
 *    (the index's raw definition), computed exactly with the Woodbury identity:
 *    (lambda I + G^T G / N)^{-1} = (1/lambda) (I - G^T (N lambda I + G G^T)^{-1} G), G = [g_1 .. g_N]^T,
 *    which needs only the N x N Gram matrix.
 */
export function influence(train: GradRows, query: GradRows, damping: number | null): Scores {
  if (damping !== null) return influenceDampings(train, query, [damping])[0];
  const N = train.ids.length, Q = query.ids.length;
  const out = Array.from({ length: Q }, () => new Float64Array(N));
  train.layers.forEach((_, l) => {
    const G = train.blocks[l], Gq = query.blocks[l];
    for (let q = 0; q < Q; q++) for (let n = 0; n < N; n++) out[q][n] += dot(Gq[q], G[n]);
  });
  return out;
}

/** Ranks (1-based), ties get their average rank. */
export function ranks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let t = i; t <= j; t++) r[idx[t]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

export const spearman = (a: ArrayLike<number>, b: ArrayLike<number>) => pearson(ranks(a), ranks(b));

/** Mean over queries of the Spearman correlation between two [query][train] score matrices. */
export function meanSpearman(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let s = 0;
  for (let q = 0; q < a.length; q++) s += spearman(a[q], b[q]);
  return s / a.length;
}

/** max |a - b| / max |b| over a [query][train] matrix. */
export function relErr(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let num = 0, den = 0;
  for (let q = 0; q < a.length; q++)
    for (let n = 0; n < b[q].length; n++) {
      num = Math.max(num, Math.abs(a[q][n] - b[q][n]));
      den = Math.max(den, Math.abs(b[q][n]));
    }
  return den > 0 ? num / den : num;
}

/** influence(train, query, d) for several dampings at once: the Gram matrices are computed once per layer. */
export function influenceDampings(train: GradRows, query: GradRows, dampings: number[]): Scores[] {
  const N = train.ids.length, Q = query.ids.length;
  const outs = dampings.map(() => Array.from({ length: Q }, () => new Float64Array(N)));
  train.layers.forEach((layer, l) => {
    const G = train.blocks[l], Gq = query.blocks[l];
    const a = new Float64Array(Q * N);
    for (let q = 0; q < Q; q++) for (let n = 0; n < N; n++) a[q * N + n] = dot(Gq[q], G[n]);
    const K = new Float64Array(N * N);
    for (let i = 0; i < N; i++) for (let j = i; j < N; j++) K[i * N + j] = K[j * N + i] = dot(G[i], G[j]);
    let tr = 0;
    for (let i = 0; i < N; i++) tr += K[i * N + i];
    dampings.forEach((damping, di) => {
      const lambda = (damping * (tr / N)) / layer.k;
      if (!(lambda > 0)) return;
      const X = spdSolve(K, N, N * lambda, K, N); // (K + N lambda I)^{-1} K  [N, N]
      const out = outs[di];
      for (let q = 0; q < Q; q++)
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let m = 0; m < N; m++) s += a[q * N + m] * X[m * N + n];
          out[q][n] += (a[q * N + n] - s) / lambda;
        }
    });
  });
  return outs;
}
