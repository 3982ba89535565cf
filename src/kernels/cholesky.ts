// Cholesky factorisation of H = A + lambda I and the damped preconditioner x = H^{-1} g for many g
// (shaders/cholesky.wgsl, trsm.wgsl, trsm_block.wgsl), all in float32 on the GPU.
//
//   const f = await cholesky(ctx, C, lambda);   // n dispatches (one per column), then one 4-byte status read
//   const X = await choleskySolve(ctx, f, G);   // rows of G [m, n]: X = G H^{-1} (one invocation per row)
//   const Wt = await whitener(ctx, C, lambda);  // L^{-T} (forward solves against I): H^{-1} = Wt Wt^T, GEMMs after
//
// Blocked for n > 128 (block = 64 columns, a multiple of 4): the factor is left-looking by blocks: one GEMM
// U = L[k:, :k] L[k:k+b, :k]^T per block, then the block's b column dispatches sum only within the block (O(n^2 b)
// in the column kernel, the other n^3/3 in GEMMs). The solves go block by block: a GEMM against the solved blocks,
// then trsm_block.wgsl's b x b substitution per right-hand side (O(m n b) there, 2 m n^2 in GEMMs). Unblocked, each
// solve invocation runs O(n^2) sequentially for its row, which stalls software adapters (and trips GPU watchdogs)
// at n in the thousands.
// Limits: the factor [n, roundUp(n, 4)] must fit one storage binding (else GpuLimitError naming cholesky and
// maxStorageBufferBindingSize); right-hand sides are solved in row chunks that fit a binding.
// A non-positive pivot throws NotPositiveDefiniteError naming the column (increase the damping).
import type { GpuContext } from '../gpu/device.ts';
import { NotPositiveDefiniteError, ShapeError } from '../gpu/errors.ts';
import { GpuTensor, empty } from '../gpu/tensor.ts';
import { repack, runGemm, viewOf, type MatView } from './gemm.ts';
import { grid1d } from './f16.ts';
import { roundUp, uniformBlock, window } from './util.ts';

export interface CholeskyOptions {
  /** block size (multiple of 4); 0 = unblocked. Default: 64 when n > 128, else unblocked */
  block?: number;
}

function blockOf(n: number, o: CholeskyOptions): number {
  const b = o.block ?? (n > 128 ? 64 : 0);
  if (b !== 0 && (b % 4 !== 0 || b < 4)) throw new ShapeError('cholesky', `block must be a positive multiple of 4, got ${b}`);
  return b >= n ? 0 : b;
}

/** f32 matrix view [rows, cols] at element offset `offset` with leading dimension ld */
const mview = (buffer: GPUBuffer, offset: number, ld: number, rows: number, cols: number): MatView => ({ buffer, dtype: 'f32', offset, ld, stride: 0, rows, cols });

export class CholeskyFactor {
  constructor(
    readonly ctx: GpuContext,
    /** [n, ld] buffer: strict lower triangle = L (upper part: the input's values) */
    readonly work: GPUBuffer,
    /** L's diagonal [n] */
    readonly diag: GpuTensor,
    readonly n: number,
    readonly ld: number,
  ) {}

  /** Dense lower-triangular L [n, n] on the host (tests, debugging). */
  async lower(): Promise<Float32Array> {
    const { n, ld } = this;
    const w = await this.ctx.readF32(this.work, 0, n * ld);
    const d = await this.diag.read();
    const l = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) l[i * n + j] = w[i * ld + j];
      l[i * n + i] = d[i];
    }
    return l;
  }

  dispose(): void {
    this.ctx.release(this.work);
    this.diag.dispose();
  }
}

function square(kernel: string, a: GpuTensor): number {
  if (a.shape.length !== 2 || a.shape[0] !== a.shape[1]) throw new ShapeError(kernel, `A must be square [n, n], got [${a.shape.join(', ')}]`);
  return a.shape[0];
}

/** L L^T = A + lambda I (A symmetric; only its lower triangle and diagonal are read). */
export async function cholesky(ctx: GpuContext, a: GpuTensor, lambda = 0, opts: CholeskyOptions = {}): Promise<CholeskyFactor> {
  const n = square('cholesky', a);
  const ld = roundUp(Math.max(n, 1), 4);
  ctx.checkBinding(n * ld * 4, `cholesky: ${n} x ${n} matrix`);
  const nb = blockOf(n, opts);
  // working copy with ld % 4 == 0 (always a copy: the factor overwrites it)
  const work = await repack(ctx, viewOf(a), 1);
  const diag = empty(ctx, [n]);
  const status = ctx.alloc(16, 'cholesky-status');
  ctx.write(status, 0, new Uint32Array([0xffffffff, 0, 0, 0]));
  try {
    const pipe = await ctx.pipeline({ shader: 'cholesky' });
    if (!nb) {
      for (let j = 0; j < n; j++) {
        ctx.dispatch(pipe, [work.buffer, diag.buffer, status, ctx.dummyBuffer], grid1d(ctx, n - j), uniformBlock([n, j, ld, 0, lambda, 0x7fc00000, 0, 0], new Set([4])), 'cholesky');
      }
    } else {
      const u = ctx.alloc(n * nb * 4, 'cholesky-update');
      try {
        for (let k = 0; k < n; k += nb) {
          const b = Math.min(nb, n - k);
          if (k > 0) {
            // U [n-k, b] = L[k:, :k] L[k:k+b, :k]^T (reads the strict lower triangle only: columns < k <= rows)
            await runGemm(ctx, { M: n - k, N: b, K: k, batch: 1, transA: false, transB: true, alpha: 1, beta: 0, a: mview(work.buffer, k * ld, ld, n - k, k), b: mview(work.buffer, k * ld, ld, b, k), c: mview(u, 0, b, n - k, b) }, false);
          }
          for (let j = k; j < k + b; j++) {
            ctx.dispatch(pipe, [work.buffer, diag.buffer, status, k > 0 ? u : ctx.dummyBuffer], grid1d(ctx, n - j), uniformBlock([n, j, ld, k, lambda, 0x7fc00000, b, k > 0 ? 1 : 0], new Set([4])), 'cholesky');
          }
        }
      } finally {
        ctx.release(u);
      }
    }
    const [bad] = await ctx.readU32(status, 0, 1);
    if (bad !== 0xffffffff) throw new NotPositiveDefiniteError(bad, n);
  } catch (e) {
    ctx.release(work.buffer);
    diag.dispose();
    throw e;
  } finally {
    ctx.release(status);
  }
  return new CholeskyFactor(ctx, work.buffer, diag, n, ld);
}

/** Solves the m rows of the view x (rows x.offset / x.ld ..., ld % 4 == 0) in place (forwardOnly: L y = g only). */
async function solveRows(ctx: GpuContext, f: CholeskyFactor, x: MatView, m: number, nb: number, forwardOnly: boolean): Promise<void> {
  const w = window(ctx, x.buffer, x.offset, x.offset + m * x.ld, 4);
  if (!nb) {
    const pipe = await ctx.pipeline({ shader: 'trsm' });
    ctx.dispatch(pipe, [f.work, f.diag.buffer, w.binding], grid1d(ctx, m), uniformBlock([m, f.n, f.ld, x.ld, w.elemOffset, forwardOnly ? 1 : 0, 0, 0]), 'trsm');
    return;
  }
  const { n, ld } = f;
  const pipe = await ctx.pipeline({ shader: 'trsm_block' });
  const t = ctx.alloc(Math.max(m * nb, 1) * 4, 'trsm-update');
  try {
    const block = (k: number, b: number, mode: 0 | 1, useT: boolean) =>
      ctx.dispatch(pipe, [f.work, f.diag.buffer, w.binding, useT ? t : ctx.dummyBuffer], grid1d(ctx, m), uniformBlock([m, n, ld, x.ld, w.elemOffset, k, b, mode, b, useT ? 1 : 0, 0, 0]), 'trsm_block');
    for (let k = 0; k < n; k += nb) {
      const b = Math.min(nb, n - k);
      // T [m, b] = X[:, :k] L[k:k+b, :k]^T
      if (k > 0) await runGemm(ctx, { M: m, N: b, K: k, batch: 1, transA: false, transB: true, alpha: 1, beta: 0, a: { ...x, cols: k }, b: mview(f.work, k * ld, ld, b, k), c: mview(t, 0, b, m, b) }, false);
      block(k, b, 0, k > 0);
    }
    if (forwardOnly) return;
    for (let k = Math.floor((n - 1) / nb) * nb; k >= 0; k -= nb) {
      const b = Math.min(nb, n - k);
      const below = n - k - b;
      // T [m, b] = X[:, k+b:] L[k+b:, k:k+b]
      if (below > 0) await runGemm(ctx, { M: m, N: b, K: below, batch: 1, transA: false, transB: false, alpha: 1, beta: 0, a: { ...x, offset: x.offset + k + b, cols: below }, b: mview(f.work, (k + b) * ld + k, ld, below, b), c: mview(t, 0, b, m, b) }, false);
      block(k, b, 1, below > 0);
    }
  } finally {
    ctx.release(t);
  }
}

/**
 * X = G (A + lambda I)^{-1} for the rows of G [m, n] (each row solved independently; in row chunks that fit a
 * binding); with forwardOnly, X = G L^{-T} (each row x = L^{-1} g).
 */
export async function choleskySolve(ctx: GpuContext, f: CholeskyFactor, g: GpuTensor, opts: CholeskyOptions & { forwardOnly?: boolean } = {}): Promise<GpuTensor> {
  const n = f.n;
  const rows = g.shape.length === 1 ? 1 : g.size / Math.max(n, 1);
  if (g.shape[g.shape.length - 1] !== n) throw new ShapeError('choleskySolve', `G has shape [${g.shape.join(', ')}], rows must have length ${n}`);
  const nb = blockOf(n, opts);
  const cap = ctx.limits.maxStorageBufferBindingSize - ctx.limits.minStorageBufferOffsetAlignment;
  const ld = roundUp(Math.max(n, 1), 4);
  ctx.checkBinding(ld * 4, 'choleskySolve: one right-hand side');
  ctx.checkBufferSize(rows * ld * 4, `choleskySolve: ${rows} right-hand sides of length ${n}`);
  const x = await repack(ctx, viewOf(g.reshape([rows, n])), 1);
  try {
    const per = Math.max(1, Math.floor(cap / (ld * 4)));
    for (let r0 = 0; r0 < rows; r0 += per) {
      const r1 = Math.min(rows, r0 + per);
      await solveRows(ctx, f, { ...x, offset: r0 * ld, rows: r1 - r0 }, r1 - r0, nb, !!opts.forwardOnly);
    }
    return await unpad(ctx, x, rows, n, g.shape);
  } finally {
    ctx.release(x.buffer);
  }
}

/** Copies a padded [rows, ld] view into a dense tensor of the given shape. */
export async function unpad(ctx: GpuContext, v: MatView, rows: number, cols: number, shape: readonly number[]): Promise<GpuTensor> {
  const out = empty(ctx, shape);
  if (v.ld === cols) {
    ctx.copy(v.buffer, v.offset * 4, out.buffer, 0, rows * cols * 4);
    return out;
  }
  const pipe = await ctx.pipeline({ shader: 'repack', consts: { SRC_F16: false } });
  const maxWg = ctx.limits.maxComputeWorkgroupsPerDimension;
  const y = Math.min(rows, maxWg), z = Math.ceil(rows / y);
  ctx.dispatch(pipe, [v.buffer, out.buffer], [Math.ceil(cols / 64), y, z], uniformBlock([rows, cols, v.ld, v.offset, cols, 0, 0, 0]), 'unpad');
  return out;
}

/**
 * Wt = L^{-T} [n, n] with L L^T = A + lambda I: the rows of the identity solved forward (row i = (L^{-1} e_i)^T), so
 * (A + lambda I)^{-1} = Wt Wt^T and G Wt whitens the rows of G. One factorisation, then GEMMs.
 */
export async function whitener(ctx: GpuContext, a: GpuTensor, lambda: number, opts: CholeskyOptions = {}): Promise<GpuTensor> {
  const n = square('whitener', a);
  const f = await cholesky(ctx, a, lambda, opts);
  try {
    const eye = new Float32Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    const e = new GpuTensor(ctx, ctx.upload(eye, 'identity'), [n, n]);
    try {
      return await choleskySolve(ctx, f, e, { ...opts, forwardOnly: true });
    } finally {
      e.dispose();
    }
  } finally {
    f.dispose();
  }
}
