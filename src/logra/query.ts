// Scoring queries against an index: the query gradients (one model run per batch), preconditioned once per query
// batch, then one pass over the stored rows. Layers whose preconditioner is the kernel form (precondition.ts) are
// scored from their raw dot products with every row (N (M^{-1} a)_n), so they take separate rows in the pass; every
// other layer's preconditioned query blocks are summed into one row per query, one GEMM per chunk. When only the top
// items are asked for and no layer needs separate rows, the pass keeps a running top-k per query and never holds a
// [queries x rows] score matrix; on a WebGPU backend that pass runs on the device (deviceTopK).
import type { KernelBackend } from '../kernels/backend.ts';
import { refEigh } from '../kernels/reference/eigh.ts';
import type { LogStore, Manifest } from '../store/store.ts';
import type { Example } from '../runtime/batch.ts';
import type { TapModel } from '../runtime/taps.ts';
import { forEachChunk, forEachRowBlock, readRows, type ChunkCache } from './chunks.ts';
import type { DeviceRows } from './device-rows.ts';
import type { DecodePool } from './scan-pool.ts';
import type { Fitted } from './fitted.ts';
import { layerOffsets, sliceCols, type IndexLayer } from './layout.ts';
import { KernelPreconditioner, rowDots, type LayerPreconditioner } from './precondition.ts';
import { runExamples } from './examples.ts';
import { checkAbort, DEFAULT_RUN_BYTES, type QueryOptions, type QueryResult, type ScoreMode, type TopItem } from './types.ts';
import { planBatches } from '../runtime/batch.ts';

/** Rows scored per GEMM: chunks are joined into blocks of at least this many bytes of float32 rows. */
const SCORE_BLOCK_BYTES = 32 * 2 ** 20;

/** Per query: the input length and its tokens' projected activations and gradients per layer (per-token scores). */
export interface QueryTokens {
  T: number;
  len: number;
  xp: Float32Array[];
  dp: Float32Array[];
}

/** Projected gradients of a batch of queries (LograIndex.queryGradients), to score once or many times. */
export interface QueryGradients {
  /** per layer: whether its rows are the tokens (only those have per-token shares: not a pooled head or an image Conv) */
  perTokenLayers: boolean[];
  /** the queries' ids */
  ids: string[];
  /** per layer [q, k] */
  rows: Float32Array[];
  tokens: QueryTokens[];
  losses: number[];
}

/** Runs the model over the queries (batches of batchSize): projected gradients per layer (+ per-token projections). */
export async function queryGradients(tm: TapModel, layers: IndexLayer[], queries: Example[], o: { batchSize: number; runBytes?: number; perToken: boolean; signal?: AbortSignal }): Promise<QueryGradients> {
  const q = queries.length;
  const rows = layers.map((l) => new Float32Array(q * l.kIn * l.kOut));
  const tokens: QueryTokens[] = [];
  const losses: number[] = [];
  for (const [s, e] of planBatches(queries, o.batchSize, tm.tokensWithin(o.runBytes ?? DEFAULT_RUN_BYTES))) {
    checkAbort(o.signal, 'the query');
    const r = await runExamples(tm, queries.slice(s, e));
    for (let b = 0; b < r.B; b++) {
      losses.push(r.loss[b]);
      layers.forEach((l, i) => {
        const k = l.kIn * l.kOut;
        rows[i].set(r.layers[i].g!.subarray(b * k, (b + 1) * k), (s + b) * k);
      });
      if (o.perToken) {
        tokens.push({
          T: r.T,
          len: r.lengths[b],
          xp: layers.map((l, i) => r.layers[i].xp!.slice(b * r.T * l.kIn, (b + 1) * r.T * l.kIn)),
          dp: layers.map((l, i) => r.layers[i].dp!.slice(b * r.T * l.kOut, (b + 1) * r.T * l.kOut)),
        });
      }
    }
  }
  return { ids: queries.map((e) => e.id), perTokenLayers: tm.layers.map((l) => l.perToken === 1), rows, tokens, losses };
}

export interface ScoringContext {
  backend: KernelBackend;
  store: LogStore;
  m: Manifest;
  fitted: Fitted;
  ids: string[];
  cache?: ChunkCache;
  /** WebGPU backend: the rows on the device (top-k-only queries are then scored there) */
  device?: DeviceRows;
  /** decode chunks in worker threads while scoring (Node; scan-pool.ts) */
  pool?: DecodePool;
}

/** score transform of a mode, in the (C + lambda I)^{-1} metric: dot, cosine = dot / sqrt(self_q self_n), l2 */
function transformOf(mode: ScoreMode): (d: number, sq: number, sn: number) => number {
  if (mode === 'dot') return (d) => d;
  if (mode === 'cosine') return (d, sq, sn) => (sq > 0 && sn > 0 ? d / Math.sqrt(sq * sn) : 0);
  return (d, sq, sn) => -Math.max(sq + sn - 2 * d, 0);
}

/** One pass over the stored rows: per layer of `layers`, the raw dots a = rows G_l^T [m, N] of the given rows. */
async function dotsPass(ctx: ScoringContext, layers: number[], rows: Map<number, Float32Array>, m: number, signal?: AbortSignal): Promise<Map<number, Float32Array>> {
  const N = ctx.ids.length;
  const ls = ctx.m.settings.layers;
  const { offsets, cols } = layerOffsets(ls);
  const out = new Map(layers.map((l) => [l, new Float32Array(m * N)]));
  const be = ctx.backend;
  await forEachChunk(ctx.store, ctx.m, async (data, n, start) => {
    for (const l of layers) {
      const k = ls[l].kIn * ls[l].kOut;
      const d = await gemmRows(be, rows.get(l)!, m, sliceCols(data, n, cols, offsets[l], k), n, k);
      const o = out.get(l)!;
      for (let r = 0; r < m; r++) o.set(d.subarray(r * n, (r + 1) * n), r * N + start);
    }
  }, signal, ctx.cache, ctx.pool);
  return out;
}

/** One pass over the stored rows: per layer, coef G_l [m, k] for coefficients coef [m, N]. */
async function weightedSumPass(ctx: ScoringContext, layers: number[], coefs: Map<number, Float32Array>, m: number, signal?: AbortSignal): Promise<Map<number, Float32Array>> {
  const N = ctx.ids.length;
  const ls = ctx.m.settings.layers;
  const { offsets, cols } = layerOffsets(ls);
  const out = new Map(layers.map((l) => [l, new Float32Array(m * ls[l].kIn * ls[l].kOut)]));
  const be = ctx.backend;
  await forEachChunk(ctx.store, ctx.m, async (data, n, start) => {
    for (const l of layers) {
      const k = ls[l].kIn * ls[l].kOut;
      const c = coefs.get(l)!;
      const part = new Float32Array(m * n);
      for (let r = 0; r < m; r++) part.set(c.subarray(r * N + start, r * N + start + n), r * n);
      const g = be.tensor(sliceCols(data, n, cols, offsets[l], k), [n, k]), a = be.tensor(part, [m, n]);
      try {
        const p = await be.gemm(a, g);
        const v = await be.read(p);
        p.dispose();
        const o = out.get(l)!;
        for (let i = 0; i < v.length; i++) o[i] += v[i];
      } finally {
        g.dispose();
        a.dispose();
      }
    }
  }, signal, ctx.cache, ctx.pool);
  return out;
}

/** rows [m, k] x block [n, k]^T -> [m, n] on the backend */
async function gemmRows(be: KernelBackend, rows: Float32Array, m: number, block: Float32Array, n: number, k: number): Promise<Float32Array> {
  const a = be.tensor(rows, [m, k]), b = be.tensor(block, [n, k]);
  try {
    const s = await be.gemm(a, b, { transB: true });
    const v = await be.read(s);
    s.dispose();
    return v;
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** H^{-1} rows for kernel-form layers by two passes: a = rows G^T, then (1/lambda)(rows - (a M^{-1}) G). */
async function explicitKernel(ctx: ScoringContext, pres: Map<number, KernelPreconditioner>, rows: Map<number, Float32Array>, m: number, signal?: AbortSignal): Promise<Map<number, Float32Array>> {
  const layers = [...pres.keys()];
  const dots = await dotsPass(ctx, layers, rows, m, signal);
  const coefs = new Map<number, Float32Array>();
  for (const l of layers) coefs.set(l, await pres.get(l)!.solveDots(ctx.backend, dots.get(l)!, m));
  const sums = await weightedSumPass(ctx, layers, coefs, m, signal);
  return new Map(layers.map((l) => [l, pres.get(l)!.combine(rows.get(l)!, sums.get(l)!)]));
}

/** Running top-k per query on the host: higher first, ties by smaller row; NaN never enters. */
export class RunningTopK {
  readonly values: Float64Array;
  readonly indices: Int32Array;
  constructor(
    readonly q: number,
    readonly k: number,
  ) {
    this.values = new Float64Array(q * k).fill(-Infinity);
    this.indices = new Int32Array(q * k).fill(-1);
  }
  push(j: number, v: number, idx: number): void {
    const k = this.k;
    if (k === 0 || Number.isNaN(v)) return;
    const o = j * k;
    const last = o + k - 1;
    if (this.indices[last] !== -1 && !(v > this.values[last] || (v === this.values[last] && idx < this.indices[last]))) return;
    let t = k - 1;
    while (t > 0) {
      const pv = this.values[o + t - 1], pi = this.indices[o + t - 1];
      if (pi !== -1 && (pv > v || (pv === v && pi < idx))) break;
      this.values[o + t] = pv;
      this.indices[o + t] = pi;
      t--;
    }
    this.values[o + t] = v;
    this.indices[o + t] = idx;
  }
  top(j: number): number[] {
    const out: number[] = [];
    for (let t = 0; t < this.k; t++) if (this.indices[j * this.k + t] !== -1) out.push(this.indices[j * this.k + t]);
    return out;
  }
}

/** Scores the query gradients against every stored row (see the file comment). */
export async function scoreQueries(ctx: ScoringContext, g: QueryGradients, opts: QueryOptions): Promise<QueryResult> {
  const { backend, fitted } = ctx;
  const mode: ScoreMode = opts.mode ?? 'dot';
  const transform = transformOf(mode);
  const topK = opts.topK ?? 10;
  const layers = ctx.m.settings.layers;
  const L = layers.length;
  const { offsets, cols } = layerOffsets(layers);
  const q = g.ids.length;
  const N = ctx.ids.length;
  const perLayer = !!opts.perLayer;
  const keep = opts.scores ?? true;
  const rank = opts.queryRank && opts.queryRank > 0 ? opts.queryRank : 0;
  const ks = layers.map((l) => l.kIn * l.kOut);

  // ---- precondition the queries once; kernel-form layers keep their raw rows and are scored from dots
  const Qp: (Float32Array | undefined)[] = new Array(L).fill(undefined);
  const selfQ: Float64Array[] = layers.map(() => new Float64Array(q));
  const kernels = new Map<number, KernelPreconditioner>();
  for (let l = 0; l < L; l++) {
    const pre: LayerPreconditioner = await fitted.layer(l);
    if (pre instanceof KernelPreconditioner) {
      kernels.set(l, pre);
      continue;
    }
    const p = await pre.precondition(backend, g.rows[l], q);
    if (rank) {
      for (let j = 0; j < q; j++) lowRank(p.subarray(j * ks[l], (j + 1) * ks[l]), layers[l].kOut, layers[l].kIn, rank);
      selfQ[l] = rowDots(g.rows[l], p, q, ks[l]);
    } else selfQ[l] = await pre.quad(backend, g.rows[l], q);
    Qp[l] = p;
  }
  if (rank && kernels.size) {
    // low-rank queries need H^{-1} q explicitly: two passes for the kernel-form layers, then they score like the rest
    const explicit = await explicitKernel(ctx, kernels, new Map([...kernels.keys()].map((l) => [l, g.rows[l]])), q, opts.signal);
    for (const [l, p] of explicit) {
      for (let j = 0; j < q; j++) lowRank(p.subarray(j * ks[l], (j + 1) * ks[l]), layers[l].kOut, layers[l].kIn, rank);
      selfQ[l] = rowDots(g.rows[l], p, q, ks[l]);
      Qp[l] = p;
    }
    kernels.clear();
  }

  // ---- the pass: one combined row per query for the layers that allow it, separate rows for the others (per-layer
  // scores of the top items only are computed afterwards from their rows)
  const separate = layers.map((_, l) => (perLayer && keep) || kernels.has(l));
  const combinedLayers = layers.map((_, l) => l).filter((l) => !separate[l]);
  const separateLayers = layers.map((_, l) => l).filter((l) => separate[l]);
  let qc: Float32Array | undefined;
  if (combinedLayers.length) {
    qc = new Float32Array(q * cols);
    for (const l of combinedLayers) for (let j = 0; j < q; j++) qc.set(Qp[l]!.subarray(j * ks[l], (j + 1) * ks[l]), j * cols + offsets[l]);
  }
  const streaming = !keep && separateLayers.length === 0;
  const selfQTotal = Float64Array.from({ length: q }, (_, j) => selfQ.reduce((a, s) => a + s[j], 0));
  const combined = qc && !streaming ? Array.from({ length: q }, () => new Float32Array(N)) : undefined;
  const sepDots = new Map<number, Float32Array>(separateLayers.map((l) => [l, new Float32Array(q * N)]));
  const onDevice = streaming && !!qc && !!ctx.device && topK > 0 && topK <= MAX_DEVICE_TOPK;
  const running = streaming ? new RunningTopK(q, topK) : undefined;
  if (onDevice) await deviceTopK(ctx, qc!, q, mode, selfQTotal, running!, opts);
  const qt = qc && !onDevice ? backend.tensor(qc, [q, cols]) : undefined;
  if (!onDevice) try {
    await forEachRowBlock(ctx.store, ctx.m, SCORE_BLOCK_BYTES, async (data, rows, start, ci) => {
      if (qt) {
        const x = backend.tensor(data, [rows, cols]);
        let v: Float32Array;
        try {
          const s = await backend.gemm(qt, x, { transB: true });
          v = await backend.read(s);
          s.dispose();
        } finally {
          x.dispose();
        }
        if (running) {
          for (let j = 0; j < q; j++) for (let r = 0; r < rows; r++) running.push(j, Math.fround(transform(v[j * rows + r], selfQTotal[j], fitted.total[start + r])), start + r);
        } else for (let j = 0; j < q; j++) combined![j].set(v.subarray(j * rows, (j + 1) * rows), start);
      }
      for (const l of separateLayers) {
        const rowsL = Qp[l] ?? g.rows[l];
        const d = await gemmRows(backend, rowsL, q, sliceCols(data, rows, cols, offsets[l], ks[l]), rows, ks[l]);
        const o = sepDots.get(l)!;
        for (let j = 0; j < q; j++) o.set(d.subarray(j * rows, (j + 1) * rows), j * N + start);
      }
      opts.onProgress?.({ stage: 'query', done: ci + 1, total: ctx.m.chunks.length, unit: 'chunks' });
    }, opts.signal, ctx.cache, ctx.pool);
  } finally {
    qt?.dispose();
  }

  // ---- kernel-form layers: scores and query self-influences from their dots
  for (const [l, pre] of kernels) {
    const d = sepDots.get(l)!;
    selfQ[l] = await pre.quadFromDots(backend, g.rows[l], d, q);
    sepDots.set(l, await pre.scores(backend, d, q));
  }
  for (let j = 0; j < q; j++) selfQTotal[j] = selfQ.reduce((a, s) => a + s[j], 0);

  // ---- totals, modes, top-k
  const ids = ctx.ids;
  let scores: Float32Array[] | undefined;
  let layerScores: Float32Array[][] | undefined;
  let top: TopItem[][];
  if (running) {
    top = Array.from({ length: q }, (_, j) => running.top(j).map((n, t) => ({ id: ids[n], index: n, score: running.values[j * topK + t] })));
    if (perLayer) await topLayerScores(ctx, top, Qp as Float32Array[], selfQ, transform);
  } else {
    scores = [];
    layerScores = perLayer ? layers.map(() => [] as Float32Array[]) : undefined;
    for (let j = 0; j < q; j++) {
      const tot = combined ? combined[j] : new Float32Array(N);
      for (const l of separateLayers) {
        const d = sepDots.get(l)!.subarray(j * N, (j + 1) * N);
        for (let n = 0; n < N; n++) tot[n] += d[n];
        if (layerScores) {
          const ls = new Float32Array(N);
          for (let n = 0; n < N; n++) ls[n] = transform(d[n], selfQ[l][j], fitted.self[l][n]);
          layerScores[l].push(ls);
        }
      }
      for (let n = 0; n < N; n++) tot[n] = transform(tot[n], selfQTotal[j], fitted.total[n]);
      scores.push(tot);
    }
    top = scores.map((s, j) => topIndices(s, topK).map((n) => ({ id: ids[n], index: n, score: s[n], layers: layerScores?.map((ls) => ls[j][n]) })));
  }
  if (opts.perToken && topK > 0) {
    if (g.tokens.length !== q) throw new Error('per-token scores need the per-token projections: compute the query gradients with perToken: true');
    await perTokenScores(ctx, top, g.tokens, g.perTokenLayers, mode, selfQTotal, opts.signal);
  }

  return {
    queryIds: g.ids,
    trainIds: ids,
    mode,
    scores: keep ? scores : undefined,
    layers: keep && layerScores ? new Map(layers.map((l, i) => [l.name, layerScores![i]])) : undefined,
    top,
    layerNames: layers.map((l) => l.name),
    losses: g.losses,
  };
}

/**
 * The top items' per-layer scores, from their stored rows (one read of the chunks holding them): the streaming pass
 * needs no [queries x rows] matrix per layer when only the top items' layer scores are asked for.
 */
async function topLayerScores(ctx: ScoringContext, top: TopItem[][], Qp: Float32Array[], selfQ: Float64Array[], transform: (d: number, sq: number, sn: number) => number): Promise<void> {
  const layers = ctx.m.settings.layers;
  const { offsets, cols } = layerOffsets(layers);
  const need = [...new Set(top.flat().map((t) => t.index))].sort((a, b) => a - b);
  const rowOf = new Map(need.map((n, i) => [n, i]));
  const G = await readRows(ctx.store, ctx.m, need, ctx.cache);
  top.forEach((items, j) => {
    for (const item of items) {
      const r = rowOf.get(item.index)!;
      item.layers = layers.map((l, i) => {
        const k = l.kIn * l.kOut;
        const qv = Qp[i].subarray(j * k, (j + 1) * k), gv = G.subarray(r * cols + offsets[i], r * cols + offsets[i] + k);
        let d = 0;
        for (let c = 0; c < k; c++) d += qv[c] * gv[c];
        return Math.fround(transform(d, selfQ[i][j], ctx.fitted.self[i][item.index]));
      });
    }
  });
}

/** largest top-k the WGSL running top-k keeps (src/kernels/score.ts MAX_TOPK) */
const MAX_DEVICE_TOPK = 256;

/**
 * The streaming pass on a WebGPU device: the combined query rows stay on the device, every chunk is scored there
 * block by block (f16 rows unpacked by the scoring shader, resident blocks uploaded once per index: device-rows.ts), merged
 * into a running top-k that is read back once at the end; cosine and l2 take the self-influences as given norms.
 */
async function deviceTopK(ctx: ScoringContext, qc: Float32Array, q: number, mode: ScoreMode, selfQ: Float64Array, out: RunningTopK, opts: QueryOptions): Promise<void> {
  const be = ctx.backend;
  const cols = ctx.m.cols;
  const qt = be.tensor(qc, [q, cols]);
  const qn = mode === 'dot' ? undefined : be.tensor(Float32Array.from(selfQ), [q]);
  const top = be.topK(q, out.k);
  try {
    await ctx.device!.forEachBlock(ctx.store, ctx.m, async (x, n, start, last) => {
      const xn = qn ? be.tensor(Float32Array.from(ctx.fitted.total.subarray(start, start + n)), [n]) : undefined;
      try {
        await top.push(qt, x, start, { mode, norms: qn ? { q: qn, x: xn! } : undefined });
      } finally {
        xn?.dispose();
      }
      opts.onProgress?.({ stage: 'query', done: last + 1, total: ctx.m.chunks.length, unit: 'chunks' });
    }, opts.signal, ctx.cache);
    const r = await top.result();
    for (let j = 0; j < q; j++)
      for (let t = 0; t < out.k; t++) {
        const idx = r.indices[j * out.k + t];
        if (idx >= 0) out.push(j, r.values[j * out.k + t], idx);
      }
  } finally {
    top.dispose();
    qn?.dispose();
    qt.dispose();
  }
}

/** tokens[t] = sum_l dy~_t^T [(C_l + lambda I)^{-1} G_n,l] x~_t over the per-token layers: sums to their dot score. */
async function perTokenScores(ctx: ScoringContext, top: TopItem[][], tok: QueryTokens[], perTokenLayers: boolean[], mode: ScoreMode, selfQ: Float64Array, signal?: AbortSignal): Promise<void> {
  const layers = ctx.m.settings.layers;
  const { offsets, cols } = layerOffsets(layers);
  const need = [...new Set(top.flat().map((t) => t.index))].sort((a, b) => a - b);
  const rowOf = new Map(need.map((n, i) => [n, i]));
  const G = await readRows(ctx.store, ctx.m, need, ctx.cache);
  // H^{-1} g_n per layer: directly, or (kernel form) as G^T beta_n in one pass over the stored rows
  const pre: Float32Array[] = new Array(layers.length);
  const kernels = new Map<number, Float32Array>();
  for (let l = 0; l < layers.length; l++) {
    const p = await ctx.fitted.layer(l);
    if (p instanceof KernelPreconditioner) kernels.set(l, await p.rowCoefficients(ctx.backend, need));
    else pre[l] = await p.precondition(ctx.backend, sliceCols(G, need.length, cols, offsets[l], layers[l].kIn * layers[l].kOut), need.length);
  }
  if (kernels.size) for (const [l, v] of await weightedSumPass(ctx, [...kernels.keys()], kernels, need.length, signal)) pre[l] = v;
  top.forEach((items, j) => {
    const t = tok[j];
    for (const item of items) {
      const r = rowOf.get(item.index)!;
      const out = new Array<number>(t.len).fill(0);
      layers.forEach((l, i) => {
        if (!perTokenLayers[i]) return;
        const k = l.kIn * l.kOut;
        const M = pre[i].subarray(r * k, (r + 1) * k); // [kOut, kIn]
        for (let s = 0; s < t.len; s++) {
          const xp = t.xp[i].subarray(s * l.kIn, (s + 1) * l.kIn), dp = t.dp[i].subarray(s * l.kOut, (s + 1) * l.kOut);
          let acc = 0;
          for (let o = 0; o < l.kOut; o++) {
            if (dp[o] === 0) continue;
            let row = 0;
            for (let c = 0; c < l.kIn; c++) row += M[o * l.kIn + c] * xp[c];
            acc += dp[o] * row;
          }
          out[s] += acc;
        }
      });
      const sn = ctx.fitted.total[item.index];
      const scale = mode === 'cosine' ? (selfQ[j] > 0 && sn > 0 ? 1 / Math.sqrt(selfQ[j] * sn) : 0) : mode === 'l2' ? 2 : 1;
      item.tokens = out.map((v) => v * scale);
    }
  });
}

/** Indices of the k largest values (NaN last), ties by smaller index. */
export function topIndices(s: Float32Array, k: number): number[] {
  const n = s.length;
  if (k <= 0 || n === 0) return [];
  const idx = Array.from({ length: n }, (_, i) => i).filter((i) => !Number.isNaN(s[i]));
  idx.sort((a, b) => s[b] - s[a] || a - b);
  return idx.slice(0, k);
}

/** In place: the best rank-r approximation of M [rows, cols] (rows x rows eigendecomposition of M M^T). */
export function lowRank(m: Float32Array, rows: number, cols: number, r: number): void {
  if (r >= Math.min(rows, cols)) return;
  const mmT = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++)
    for (let j = i; j < rows; j++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += m[i * cols + c] * m[j * cols + c];
      mmT[i * rows + j] = mmT[j * rows + i] = s;
    }
  const { vectors } = refEigh(mmT, rows); // ascending: the top r are the last r columns
  const U = new Float64Array(rows * r);
  for (let i = 0; i < rows; i++) for (let t = 0; t < r; t++) U[i * r + t] = vectors[i * rows + rows - 1 - t];
  // M <- U (U^T M)
  const UtM = new Float64Array(r * cols);
  for (let t = 0; t < r; t++) for (let i = 0; i < rows; i++) for (let c = 0; c < cols; c++) UtM[t * cols + c] += U[i * r + t] * m[i * cols + c];
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let t = 0; t < r; t++) s += U[i * r + t] * UtM[t * cols + c];
      m[i * cols + c] = s;
    }
}
