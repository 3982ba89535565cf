// Scoring queries against stored-gradient chunks with a fused running top-k (shaders/score.wgsl,
// topk_partial.wgsl, topk_merge.wgsl). The scores of a chunk live only in a scratch buffer: per chunk, one scoring
// dispatch, one partial top-k dispatch (segments of SEG scores per invocation) and one merge dispatch into the
// running [q, K] list, which stays on the GPU until result() reads it.
//
//   const top = new TopK(ctx, q, 10);
//   for (const [chunk, firstRow] of chunks) await top.push(Q, chunk, firstRow, { mode: 'cosine' });
//   const { values, indices } = await top.result();   // [q, K], best first; index -1 where fewer than K rows
import type { GpuContext } from '../gpu/device.ts';
import { GpuLimitError, ShapeError } from '../gpu/errors.ts';
import { GpuTensor, empty } from '../gpu/tensor.ts';
import { repack, viewOf } from './gemm.ts';
import type { ScoreMode } from './reference/score.ts';
import { ceilDiv, uniformBlock, window } from './util.ts';

export type { ScoreMode };
const MODES: Record<ScoreMode, number> = { dot: 0, cosine: 1, l2: 2 };
/** scores per stage-1 invocation */
const SEG = 256;
/** largest K (private arrays in the top-k kernels) */
export const MAX_TOPK = 256;

export interface ScoreOptions {
  mode?: ScoreMode;
  /** per-row multipliers of the chunk [n] (e.g. 1 / sqrt(self-influence) for RelatIF) */
  xScale?: GpuTensor;
  /**
   * Squared norms to use in the cosine and l2 modes instead of |Q|^2 and |X|^2: q [q] and x [n] (the LoGra
   * pipeline's self-influences, the norms in the preconditioned metric in which Q . X is taken). Not with xScale.
   */
  norms?: { q: GpuTensor; x: GpuTensor };
}

interface Prepared {
  q: GpuTensor;
  release: GPUBuffer[];
}

function checkQX(q: GpuTensor, x: GpuTensor): { nq: number; n: number; k: number } {
  if (q.shape.length !== 2 || x.shape.length !== 2) throw new ShapeError('score', `Q [q, k] and X [n, k] must be 2-D, got [${q.shape.join(', ')}] and [${x.shape.join(', ')}]`);
  if (q.shape[1] !== x.shape[1]) throw new ShapeError('score', `Q has k = ${q.shape[1]}, X has k = ${x.shape[1]}`);
  if (q.dtype !== 'f32') throw new ShapeError('score', 'Q must be f32');
  return { nq: q.shape[0], n: x.shape[0], k: q.shape[1] };
}

async function prepareQ(ctx: GpuContext, q: GpuTensor): Promise<Prepared> {
  if (q.shape[1] % 4 === 0) return { q, release: [] };
  const v = await repack(ctx, viewOf(q), 1);
  return { q: new GpuTensor(ctx, v.buffer, [q.shape[0], v.ld], 'f32', false), release: [v.buffer] };
}

/**
 * Writes scores of Q against X into S (a [q, ldS] buffer at column offset `col`). Rows of X beyond one binding are
 * processed in sub-chunks. Q must already have k % 4 == 0 (prepareQ).
 */
async function scoreInto(ctx: GpuContext, qp: GpuTensor, x: GpuTensor, s: GPUBuffer, ldS: number, col: number, opts: ScoreOptions): Promise<void> {
  const nq = qp.shape[0], k = qp.shape[1];
  let xv = x;
  const temps: GPUBuffer[] = [];
  const f16 = x.dtype === 'f16' && x.shape[1] % 8 === 0;
  if (x.shape[1] !== k || (x.dtype === 'f16' && !f16)) {
    const r = await repack(ctx, viewOf(x), 1); // f32, ld = k rounded to 4 (= Q's padded k)
    temps.push(r.buffer);
    xv = new GpuTensor(ctx, r.buffer, [x.shape[0], r.ld], 'f32', false);
  }
  try {
    const given = !!opts.norms && (opts.mode ?? 'dot') !== 'dot';
    const pipe = await ctx.pipeline({ shader: 'score', consts: { MODE: MODES[opts.mode ?? 'dot'], X_F16: f16, HAS_XSCALE: !!opts.xScale, GIVEN_NORMS: given } });
    const eb = f16 ? 2 : 4;
    const cap = ctx.limits.maxStorageBufferBindingSize - ctx.limits.minStorageBufferOffsetAlignment;
    const n = x.shape[0];
    ctx.checkBinding(nq * k * 4, 'score: the query block');
    const maxWg = ctx.limits.maxComputeWorkgroupsPerDimension;
    if (ceilDiv(nq, 32) > maxWg) throw new GpuLimitError('maxComputeWorkgroupsPerDimension', ceilDiv(nq, 32), maxWg, 'score: queries');
    if (k * eb * 8 > cap) throw new GpuLimitError('maxStorageBufferBindingSize', k * eb * 8, cap, 'score: 8 rows of the chunk');
    const rowsPer = Math.max(8, Math.floor(Math.min(Math.floor(cap / (k * eb)), maxWg * 32) / 8) * 8);
    for (let j0 = 0; j0 < n; j0 += rowsPer) {
      const nj = Math.min(rowsPer, n - j0);
      const xw = window(ctx, xv.buffer, j0 * k, (j0 + nj) * k, eb);
      if (f16 && xw.elemOffset % 8 !== 0) throw new Error('score: internal f16 misalignment');
      const sw = window(ctx, s, col + j0, (nq - 1) * ldS + col + j0 + nj);
      const xsBuf = opts.xScale ?? (given ? opts.norms!.x : undefined);
      const xs = xsBuf ? window(ctx, xsBuf.buffer, j0, j0 + nj) : null;
      const qn = given ? window(ctx, opts.norms!.q.buffer, 0, nq) : null;
      const u = uniformBlock([nq, nj, k, ldS, 0, xw.elemOffset, sw.elemOffset, xs?.elemOffset ?? 0, qn?.elemOffset ?? 0, 0, 0, 0]);
      ctx.dispatch(pipe, [qp.buffer, xw.binding, sw.binding, xs ? xs.binding : ctx.dummyBuffer, qn ? qn.binding : ctx.dummyBuffer], [ceilDiv(nj, 32), ceilDiv(nq, 32)], u, 'score');
    }
  } finally {
    for (const t of temps) ctx.release(t);
  }
}

function checkOpts(opts: ScoreOptions, nq: number, n: number): void {
  if (opts.xScale && opts.xScale.size !== n) throw new ShapeError('score', `xScale has ${opts.xScale.size} values for ${n} rows`);
  if (opts.norms) {
    if (opts.xScale) throw new ShapeError('score', 'norms and xScale cannot be combined');
    if (opts.norms.q.size !== nq) throw new ShapeError('score', `norms.q has ${opts.norms.q.size} values for ${nq} queries`);
    if (opts.norms.x.size !== n) throw new ShapeError('score', `norms.x has ${opts.norms.x.size} values for ${n} rows`);
  }
}

/** Scores S [q, n] of queries Q [q, k] against a chunk X [n, k] (f32 or f16). */
export async function score(ctx: GpuContext, q: GpuTensor, x: GpuTensor, opts: ScoreOptions = {}): Promise<GpuTensor> {
  const { nq, n } = checkQX(q, x);
  checkOpts(opts, nq, n);
  const out = empty(ctx, [nq, n]);
  if (nq === 0 || n === 0 || q.shape[1] === 0) {
    if (nq * n) ctx.clear(out.buffer, 0, nq * n * 4);
    return out;
  }
  ctx.checkBinding(nq * n * 4, 'score: the [q, n] score block (use TopK.push for large chunks)');
  const p = await prepareQ(ctx, q);
  try {
    await scoreInto(ctx, p.q, x, out.buffer, n, 0, opts);
  } finally {
    for (const b of p.release) ctx.release(b);
  }
  return out;
}

/** A running top-K per query, kept on the GPU across chunks. */
export class TopK {
  readonly runV: GPUBuffer;
  readonly runI: GPUBuffer;
  private disposed = false;

  constructor(
    readonly ctx: GpuContext,
    readonly q: number,
    readonly k: number,
  ) {
    if (!Number.isInteger(k) || k < 1 || k > MAX_TOPK) throw new ShapeError('TopK', `K must be an integer in [1, ${MAX_TOPK}], got ${k}`);
    this.runV = ctx.alloc(q * k * 4, 'topk-values');
    this.runI = ctx.alloc(q * k * 4, 'topk-indices');
    ctx.write(this.runV, 0, new Float32Array(q * k).fill(-3.4028234663852886e38));
    ctx.write(this.runI, 0, new Uint32Array(q * k).fill(0xffffffff));
  }

  /** Merges precomputed scores S [q, n] (rows are stored examples base .. base + n - 1). */
  async pushScores(s: GpuTensor, base: number): Promise<void> {
    if (s.shape.length !== 2 || s.shape[0] !== this.q) throw new ShapeError('TopK', `scores have shape [${s.shape.join(', ')}], expected [${this.q}, n]`);
    await this.reduce(s.buffer, s.shape[1], s.shape[1], base);
  }

  /** Scores Q against chunk X (rows base .. base + n - 1) and merges them, without leaving the GPU. */
  async push(q: GpuTensor, x: GpuTensor, base: number, opts: ScoreOptions = {}): Promise<void> {
    const { nq, n } = checkQX(q, x);
    if (nq !== this.q) throw new ShapeError('TopK', `Q has ${nq} rows, this TopK tracks ${this.q}`);
    if (n === 0) return;
    checkOpts(opts, nq, n);
    const p = await prepareQ(this.ctx, q);
    // scratch scores in column blocks that fit a binding
    const cap = this.ctx.limits.maxStorageBufferBindingSize - this.ctx.limits.minStorageBufferOffsetAlignment;
    const cols = Math.max(SEG, Math.floor(cap / 4 / Math.max(nq, 1) / SEG) * SEG);
    try {
      for (let j0 = 0; j0 < n; j0 += cols) {
        const nj = Math.min(cols, n - j0);
        const s = this.ctx.alloc(nq * nj * 4, 'scores');
        try {
          const whole = j0 === 0 && nj === n;
          const sub = whole ? x : sliceRows(x, j0, nj);
          const perRow = opts.xScale ?? opts.norms?.x;
          const xs = perRow && !whole ? sliceRows(perRow.reshape([n, 1]), j0, nj) : undefined;
          const sliced = whole ? opts : opts.norms ? { ...opts, norms: { q: opts.norms.q, x: xs!.reshape([nj]) } } : { ...opts, xScale: xs?.reshape([nj]) };
          try {
            await scoreInto(this.ctx, p.q, sub, s, nj, 0, sliced);
            await this.reduce(s, nj, nj, base + j0);
          } finally {
            if (!whole) sub.dispose();
            xs?.dispose();
          }
        } finally {
          this.ctx.release(s);
        }
      }
    } finally {
      for (const b of p.release) this.ctx.release(b);
    }
  }

  private async reduce(s: GPUBuffer, n: number, ldS: number, base: number): Promise<void> {
    const ctx = this.ctx;
    const nseg = ceilDiv(n, SEG);
    const K = this.k;
    const candV = ctx.alloc(this.q * nseg * K * 4, 'topk-cand-v');
    const candI = ctx.alloc(this.q * nseg * K * 4, 'topk-cand-i');
    try {
      const part = await ctx.pipeline({ shader: 'topk_partial', libs: ['topk_lib'], consts: { K, SEG } });
      const merge = await ctx.pipeline({ shader: 'topk_merge', libs: ['topk_lib'], consts: { K } });
      ctx.checkBinding(this.q * nseg * K * 4, 'topk: candidates (use fewer queries per call or a smaller K)');
      ctx.dispatch(part, [s, candV, candI], [ceilDiv(nseg, 64), this.q], uniformBlock([this.q, n, nseg, base, ldS, 0, 0, 0]), 'topk_partial');
      ctx.dispatch(merge, [candV, candI, this.runV, this.runI], [ceilDiv(this.q, 64)], uniformBlock([this.q, nseg, 0, 0]), 'topk_merge');
    } finally {
      ctx.release(candV);
      ctx.release(candI);
    }
  }

  /** The current lists [q, K] (best first); index -1 (value -Infinity) where fewer than K rows were seen. */
  async result(): Promise<{ values: Float32Array; indices: Int32Array }> {
    const v = await this.ctx.readF32(this.runV, 0, this.q * this.k);
    const i = await this.ctx.readU32(this.runI, 0, this.q * this.k);
    const indices = new Int32Array(i.length);
    for (let t = 0; t < i.length; t++) {
      indices[t] = i[t] === 0xffffffff ? -1 : i[t];
      if (indices[t] === -1) v[t] = -Infinity;
    }
    return { values: v, indices };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.release(this.runV);
    this.ctx.release(this.runI);
  }
}

/** Rows r0 .. r0 + n - 1 of a row-major tensor as a tensor view (copy-free when aligned; else a copy). */
function sliceRows(x: GpuTensor, r0: number, n: number): GpuTensor {
  const k = x.shape[1];
  const ctx = x.ctx;
  const bytes = x.dtype === 'f16' ? 2 : 4;
  const out = ctx.alloc(Math.max(n * k * bytes, 4), 'slice');
  ctx.copy(x.buffer, Math.floor((r0 * k * bytes) / 4) * 4, out, 0, Math.ceil((n * k * bytes) / 4) * 4);
  if ((r0 * k * bytes) % 4 !== 0) throw new ShapeError('TopK', 'odd f16 row offsets are not supported: use an even k');
  // the copy is released with the tensor (owned)
  return new GpuTensor(ctx, out, [n, k], x.dtype, true);
}
