// GEMM and batched GEMM on the GPU: C[b] = alpha op(A[b]) diag(w[b]) op(B[b]) + beta C[b] (shaders/gemm.wgsl).
//
// Shapes: A [M, K] or [batch, M, K] ([.., K, M] with transA); B [K, N] or [batch, K, N] ([.., N, K] with transB);
// a rank-2 operand is broadcast over the batch. C [batch?, M, N]. kWeights [batch?, K] scales the K terms (masked
// outer products, e.g. sum_t mask[t] v_t u_t^T). Any sizes: operands whose leading dimension is not a multiple of 4
// are repacked (shaders/repack.wgsl) so the kernel's vec4 loads stay aligned. 'f16' operands are read natively when
// the device has shader-f16, else widened by the repack. Operands larger than maxStorageBufferBindingSize are
// split (rows of C and A, columns of C and rows of B^T, or K) into sub-GEMMs on aligned binding windows; a problem
// that cannot be split that far throws GpuLimitError.
import type { GpuContext } from '../gpu/device.ts';
import { GpuLimitError, ShapeError } from '../gpu/errors.ts';
import { GpuTensor, empty, type GpuDtype } from '../gpu/tensor.ts';
import { ceilDiv, roundUp, uniformBlock, window, expectRank } from './util.ts';

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  /** when non-zero, `c` is read and accumulated into */
  beta?: number;
  /** output (and input when beta != 0): written in place; a new tensor is made otherwise */
  c?: GpuTensor;
  /** per-K weights [K] or [batch, K] */
  kWeights?: GpuTensor;
}

/** A matrix operand as the kernel sees it: element offset, leading dimension, batch stride. */
export interface MatView {
  buffer: GPUBuffer;
  dtype: GpuDtype;
  offset: number;
  ld: number;
  /** batch stride in elements (0 = broadcast) */
  stride: number;
  /** stored rows and columns of one batch item */
  rows: number;
  cols: number;
}

export interface GemmProblem {
  M: number;
  N: number;
  K: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  a: MatView;
  b: MatView;
  c: MatView;
  /** weights view: rows = 1, cols = K */
  w?: MatView;
}

/** workgroup shape (invocations); each invocation computes a 4x4 block of C */
export const GEMM_WG = { x: 8, y: 8 };

/** Dense view of a tensor (rank 2 or 3). */
export function viewOf(t: GpuTensor): MatView {
  const s = t.shape;
  const rows = s[s.length - 2], cols = s[s.length - 1];
  return { buffer: t.buffer, dtype: t.dtype, offset: 0, ld: cols, stride: s.length === 3 ? rows * cols : 0, rows, cols };
}

function aligned(v: MatView): boolean {
  return v.ld % 4 === 0 && v.offset % 4 === 0 && v.stride % 4 === 0;
}

/**
 * Copies a view into a fresh f32 buffer with ld = roundUp(cols, 4) (zero padding). Batches are stacked densely.
 * The caller releases the returned view's buffer.
 */
export async function repack(ctx: GpuContext, v: MatView, batch: number): Promise<MatView> {
  const ld = roundUp(v.cols, 4);
  const nb = v.stride === 0 ? 1 : batch;
  const out = ctx.alloc(nb * v.rows * ld * 4, 'repack');
  const pipe = await ctx.pipeline({ shader: 'repack', consts: { SRC_F16: v.dtype === 'f16' } });
  const srcBytes = v.dtype === 'f16' ? 2 : 4;
  const maxWg = ctx.limits.maxComputeWorkgroupsPerDimension;
  for (let b = 0; b < nb; b++) {
    // rows per dispatch: both windows must fit a binding
    const cap = ctx.limits.maxStorageBufferBindingSize - 2 * ctx.limits.minStorageBufferOffsetAlignment;
    const perRow = Math.max(v.ld * srcBytes, ld * 4);
    const rowsPer = Math.max(1, Math.min(v.rows, Math.floor(cap / perRow)));
    if (perRow > cap) throw new GpuLimitError('maxStorageBufferBindingSize', perRow, cap, 'repack: one row');
    for (let r0 = 0; r0 < v.rows; r0 += rowsPer) {
      const r1 = Math.min(v.rows, r0 + rowsPer);
      const sStart = v.offset + b * v.stride + r0 * v.ld;
      const sEnd = v.offset + b * v.stride + (r1 - 1) * v.ld + v.cols;
      // packed f16 is addressed in u32 words: window on words, element offset in halves
      const sw = v.dtype === 'f16' ? window(ctx, v.buffer, Math.floor(sStart / 2), ceilDiv(sEnd, 2), 4) : window(ctx, v.buffer, sStart, sEnd, 4);
      const srcOff = v.dtype === 'f16' ? sw.elemOffset * 2 + (sStart % 2) : sw.elemOffset;
      const dStart = (b * v.rows + r0) * ld;
      const dw = window(ctx, out, dStart, dStart + (r1 - r0) * ld, 4);
      const rows = r1 - r0;
      const y = Math.min(rows, maxWg), z = ceilDiv(rows, y);
      ctx.dispatch(pipe, [sw.binding, dw.binding], [ceilDiv(ld, 64), y, z], uniformBlock([rows, v.cols, v.ld, srcOff, ld, dw.elemOffset, 0, 0]), 'repack');
    }
  }
  return { buffer: out, dtype: 'f32', offset: 0, ld, stride: v.stride === 0 ? 0 : v.rows * ld, rows: v.rows, cols: v.cols };
}

/** Element ranges [start, end) of one operand touched by a sub-problem (batch items b0..b1-1, rows r0..r1-1). */
function span(v: MatView, b0: number, b1: number, r0: number, r1: number, c0: number, c1: number): [number, number] {
  const first = v.offset + (v.stride ? b0 * v.stride : 0) + r0 * v.ld + c0;
  const lastRow = v.offset + (v.stride ? (b1 - 1) * v.stride : 0) + (r1 - 1) * v.ld;
  // vec4 loads may read up to the next multiple of 4 past the last column
  return [first - (c0 % 4), lastRow + roundUp(c1, 4)];
}

interface Sub {
  b0: number;
  b1: number;
  m0: number;
  m1: number;
  n0: number;
  n1: number;
  k0: number;
  k1: number;
  beta: number;
}

/** Runs a prepared (aligned) problem, splitting it until every binding window fits. */
export async function runGemm(ctx: GpuContext, P: GemmProblem, f16Native: boolean): Promise<void> {
  const pipe = await ctx.pipeline({
    shader: 'gemm',
    f16: f16Native,
    aliases: { A4: P.a.dtype === 'f16' ? 'vec4<f16>' : 'vec4<f32>', B4: P.b.dtype === 'f16' ? 'vec4<f16>' : 'vec4<f32>' },
    consts: { TRANS_A: P.transA, TRANS_B: P.transB, HAS_KW: !!P.w, WG_X: GEMM_WG.x, WG_Y: GEMM_WG.y },
  });
  const cap = ctx.limits.maxStorageBufferBindingSize;
  const maxWg = ctx.limits.maxComputeWorkgroupsPerDimension;
  const eb = (v: MatView) => (v.dtype === 'f16' ? 2 : 4);

  const windows = (s: Sub) => {
    // A stored [M, K] (rows = m) or [K, M] (rows = k); B stored [K, N] or [N, K]; C [M, N]
    const aSpan = P.transA ? span(P.a, s.b0, s.b1, s.k0, s.k1, s.m0, s.m1) : span(P.a, s.b0, s.b1, s.m0, s.m1, s.k0, s.k1);
    const bSpan = P.transB ? span(P.b, s.b0, s.b1, s.n0, s.n1, s.k0, s.k1) : span(P.b, s.b0, s.b1, s.k0, s.k1, s.n0, s.n1);
    const cFirst = P.c.offset + s.b0 * P.c.stride + s.m0 * P.c.ld + s.n0;
    const cLast = P.c.offset + (s.b1 - 1) * P.c.stride + (s.m1 - 1) * P.c.ld + s.n1;
    const wA = window(ctx, P.a.buffer, aSpan[0], aSpan[1], eb(P.a));
    const wB = window(ctx, P.b.buffer, bSpan[0], bSpan[1], eb(P.b));
    const wC = window(ctx, P.c.buffer, cFirst, cLast, 4);
    const wW = P.w ? window(ctx, P.w.buffer, P.w.offset + (P.w.stride ? s.b0 * P.w.stride : 0) + s.k0, P.w.offset + (P.w.stride ? (s.b1 - 1) * P.w.stride : 0) + s.k1, 4) : null;
    return { wA, wB, wC, wW, aStart: aSpan[0], bStart: bSpan[0], cFirst };
  };

  const split4 = (lo: number, hi: number) => lo + Math.max(4, Math.floor((hi - lo) / 8) * 4);

  const run = (s: Sub): void => {
    const nb = s.b1 - s.b0;
    const w = windows(s);
    const tooBig = (x: { bytes: number } | null) => !!x && x.bytes > cap;
    const fits = !tooBig(w.wA) && !tooBig(w.wB) && !tooBig(w.wC) && !tooBig(w.wW);
    if (fits && nb <= maxWg && ceilDiv(s.n1 - s.n0, 4 * GEMM_WG.x) <= maxWg && ceilDiv(s.m1 - s.m0, 4 * GEMM_WG.y) <= maxWg) {
      dispatch(s, w);
      return;
    }
    if (nb > 1) {
      const mid = s.b0 + Math.floor(nb / 2);
      run({ ...s, b1: mid });
      run({ ...s, b0: mid });
      return;
    }
    // one batch item that does not fit: shrink the dimension that makes the largest offending operand contiguous
    const cands: { bytes: number; dim: 'm' | 'n' | 'k' }[] = [];
    if (tooBig(w.wA)) cands.push({ bytes: w.wA.bytes, dim: P.transA ? 'k' : 'm' });
    if (tooBig(w.wB)) cands.push({ bytes: w.wB.bytes, dim: P.transB ? 'n' : 'k' });
    if (tooBig(w.wC)) cands.push({ bytes: w.wC.bytes, dim: 'm' });
    if (tooBig(w.wW)) cands.push({ bytes: w.wW!.bytes, dim: 'k' });
    if (!cands.length) {
      // only the workgroup count is too large
      cands.push({ bytes: 0, dim: ceilDiv(s.n1 - s.n0, 4 * GEMM_WG.x) > maxWg ? 'n' : 'm' });
    }
    cands.sort((x, y) => y.bytes - x.bytes);
    const dim = cands[0].dim;
    const lo = dim === 'm' ? s.m0 : dim === 'n' ? s.n0 : s.k0;
    const hi = dim === 'm' ? s.m1 : dim === 'n' ? s.n1 : s.k1;
    if (hi - lo <= 4) {
      const big = Math.max(w.wA.bytes, w.wB.bytes, w.wC.bytes, w.wW?.bytes ?? 0);
      throw new GpuLimitError('maxStorageBufferBindingSize', big, cap, `gemm ${P.M}x${P.N}x${P.K}: cannot split further`);
    }
    const mid = split4(lo, hi);
    if (dim === 'm') {
      run({ ...s, m1: mid });
      run({ ...s, m0: mid });
    } else if (dim === 'n') {
      run({ ...s, n1: mid });
      run({ ...s, n0: mid });
    } else {
      run({ ...s, k1: mid });
      run({ ...s, k0: mid, beta: 1 }); // later K slices accumulate
    }
  };

  const dispatch = (s: Sub, w: ReturnType<typeof windows>) => {
    const M = s.m1 - s.m0, N = s.n1 - s.n0, K = s.k1 - s.k0;
    // element offset of (b0, m0/k0, ...) inside each window: the window starts at aStart aligned down
    const offA = w.wA.elemOffset + (P.transA ? s.m0 % 4 : s.k0 % 4);
    const offB = w.wB.elemOffset + (P.transB ? s.k0 % 4 : s.n0 % 4);
    if (offA % 4 || offB % 4) throw new Error('gemm: internal misalignment');
    const offW = w.wW ? w.wW.elemOffset : 0;
    const u = uniformBlock(
      [M, N, K, s.b1 - s.b0, P.a.ld, P.b.ld, P.c.ld, P.w?.stride ?? 0, offA, offB, w.wC.elemOffset, offW, P.a.stride, P.b.stride, P.c.stride, 0, P.alpha, s.beta, 0, 0],
      new Set([16, 17]),
    );
    ctx.dispatch(pipe, [w.wA.binding, w.wB.binding, w.wC.binding, w.wW ? w.wW.binding : ctx.dummyBuffer], [ceilDiv(N, 4 * GEMM_WG.x), ceilDiv(M, 4 * GEMM_WG.y), s.b1 - s.b0], u, 'gemm');
  };

  if (P.M === 0 || P.N === 0 || P.batch === 0) return;
  if (P.K === 0) {
    // C = beta C: a GEMM with an all-zero product; run it as K = 1 with weight... simpler: scale via alpha = 0
    throw new ShapeError('gemm', 'K = 0 is not supported');
  }
  run({ b0: 0, b1: P.batch, m0: 0, m1: P.M, n0: 0, n1: P.N, k0: 0, k1: P.K, beta: P.beta });
}

/** C = alpha op(A) diag(w) op(B) + beta C for GpuTensors; returns C (opts.c when given). */
export async function gemm(ctx: GpuContext, a: GpuTensor, b: GpuTensor, opts: GemmOptions = {}): Promise<GpuTensor> {
  const K_ = 'gemm';
  expectRank(K_, 'A', a.shape, [2, 3]);
  expectRank(K_, 'B', b.shape, [2, 3]);
  const transA = !!opts.transA, transB = !!opts.transB;
  const ar = a.shape.length, br = b.shape.length;
  const M = transA ? a.shape[ar - 1] : a.shape[ar - 2];
  const Ka = transA ? a.shape[ar - 2] : a.shape[ar - 1];
  const Kb = transB ? b.shape[br - 1] : b.shape[br - 2];
  const N = transB ? b.shape[br - 2] : b.shape[br - 1];
  if (Ka !== Kb) throw new ShapeError(K_, `inner dimensions differ: op(A) is ${M}x${Ka}, op(B) is ${Kb}x${N}`);
  const batchA = ar === 3 ? a.shape[0] : 1, batchB = br === 3 ? b.shape[0] : 1;
  if (ar === 3 && br === 3 && batchA !== batchB) throw new ShapeError(K_, `batch sizes differ: ${batchA} vs ${batchB}`);
  const batch = Math.max(batchA, batchB);
  const batched = ar === 3 || br === 3;
  const cShape = batched ? [batch, M, N] : [M, N];
  const beta = opts.beta ?? 0;
  if (beta !== 0 && !opts.c) throw new ShapeError(K_, 'beta != 0 needs opts.c');
  if (opts.c) {
    const cs = opts.c.shape;
    const ok = cs.length === cShape.length && cs.every((d, i) => d === cShape[i]);
    if (!ok) throw new ShapeError(K_, `C has shape [${cs.join(', ')}], expected [${cShape.join(', ')}]`);
    if (opts.c.dtype !== 'f32') throw new ShapeError(K_, 'C must be f32');
  }
  if (opts.kWeights) {
    const ws = opts.kWeights.shape;
    const ok = (ws.length === 1 && ws[0] === Ka) || (ws.length === 2 && ws[0] === batch && ws[1] === Ka);
    if (!ok) throw new ShapeError(K_, `kWeights has shape [${ws.join(', ')}], expected [${Ka}] or [${batch}, ${Ka}]`);
    if (opts.kWeights.dtype !== 'f32') throw new ShapeError(K_, 'kWeights must be f32');
  }
  if (opts.c && (opts.c.buffer === a.buffer || opts.c.buffer === b.buffer)) throw new ShapeError(K_, 'C must not share a buffer with A or B (the kernel reads them while writing C)');
  const c = opts.c ?? empty(ctx, cShape);
  if (M === 0 || N === 0 || batch === 0) return c;
  if (Ka === 0) {
    if (beta === 0) ctx.clear(c.buffer, 0, c.byteLength);
    else if (beta !== 1) throw new ShapeError(K_, 'K = 0 with beta not in {0, 1} is not supported');
    return c;
  }
  const temps: GPUBuffer[] = [];
  try {
    let va = viewOf(a), vb = viewOf(b);
    const nativeF16 = ctx.f16;
    const prep = async (v: MatView) => {
      if (aligned(v) && (v.dtype === 'f32' || nativeF16)) return v;
      const r = await repack(ctx, v, batch);
      temps.push(r.buffer);
      return r;
    };
    va = await prep(va);
    vb = await prep(vb);
    const vw = opts.kWeights ? { ...viewOf(opts.kWeights.shape.length === 1 ? opts.kWeights.reshape([1, Ka]) : opts.kWeights), stride: opts.kWeights.shape.length === 2 ? Ka : 0 } : undefined;
    const vc: MatView = { buffer: c.buffer, dtype: 'f32', offset: 0, ld: N, stride: batched ? M * N : 0, rows: M, cols: N };
    const useF16 = va.dtype === 'f16' || vb.dtype === 'f16';
    await runGemm(ctx, { M, N, K: Ka, batch, transA, transB, alpha: opts.alpha ?? 1, beta, a: va, b: vb, c: vc, w: vw }, useF16);
  } catch (e) {
    if (!opts.c) c.dispose();
    throw e;
  } finally {
    for (const t of temps) ctx.release(t);
  }
  return c;
}
