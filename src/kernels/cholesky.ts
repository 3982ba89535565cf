// Cholesky factorisation of H = A + lambda I and the damped preconditioner x = H^{-1} g for many g
// (shaders/cholesky.wgsl, trsm.wgsl), all in float32 on the GPU.
//
//   const f = await cholesky(ctx, C, lambda);   // n dispatches (one per column), then one 4-byte status read
//   const X = await choleskySolve(ctx, f, G);   // rows of G [m, n]: X = G H^{-1} (one invocation per row)
//   const Hinv = await dampedInverse(ctx, C, lambda);  // H^{-1} explicitly (solve against I), for GEMM-based use
//
// A non-positive pivot throws NotPositiveDefiniteError naming the column (increase the damping).
import type { GpuContext } from '../gpu/device.ts';
import { NotPositiveDefiniteError, ShapeError } from '../gpu/errors.ts';
import { GpuTensor, empty } from '../gpu/tensor.ts';
import { repack, viewOf, type MatView } from './gemm.ts';
import { grid1d } from './f16.ts';
import { roundUp, uniformBlock } from './util.ts';

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
export async function cholesky(ctx: GpuContext, a: GpuTensor, lambda = 0): Promise<CholeskyFactor> {
  const n = square('cholesky', a);
  const ld = roundUp(Math.max(n, 1), 4);
  ctx.checkBinding(n * ld * 4, `cholesky: ${n} x ${n} matrix`);
  // working copy with ld % 4 == 0 (always a copy: the factor overwrites it)
  const work = await repack(ctx, viewOf(a), 1);
  const diag = empty(ctx, [n]);
  const status = ctx.alloc(16, 'cholesky-status');
  ctx.write(status, 0, new Uint32Array([0xffffffff, 0, 0, 0]));
  try {
    const pipe = await ctx.pipeline({ shader: 'cholesky' });
    for (let j = 0; j < n; j++) {
      ctx.dispatch(pipe, [work.buffer, diag.buffer, status], grid1d(ctx, n - j), uniformBlock([n, j, ld, 0, lambda, 0x7fc00000, 0, 0], new Set([4])), 'cholesky');
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

async function solveRows(ctx: GpuContext, f: CholeskyFactor, x: MatView, m: number): Promise<void> {
  const pipe = await ctx.pipeline({ shader: 'trsm' });
  ctx.dispatch(pipe, [f.work, f.diag.buffer, x.buffer], grid1d(ctx, m), uniformBlock([m, f.n, f.ld, x.ld, x.offset, 0, 0, 0]), 'trsm');
}

/** X = G (A + lambda I)^{-1} for the rows of G [m, n] (each row solved independently). */
export async function choleskySolve(ctx: GpuContext, f: CholeskyFactor, g: GpuTensor): Promise<GpuTensor> {
  const n = f.n;
  const rows = g.shape.length === 1 ? 1 : g.size / Math.max(n, 1);
  if (g.shape[g.shape.length - 1] !== n) throw new ShapeError('choleskySolve', `G has shape [${g.shape.join(', ')}], rows must have length ${n}`);
  ctx.checkBinding(rows * f.ld * 4, 'choleskySolve: right-hand sides');
  const x = await repack(ctx, viewOf(g.reshape([rows, n])), 1);
  try {
    await solveRows(ctx, f, x, rows);
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

/** (A + lambda I)^{-1} as a dense [n, n] tensor (solves against the identity). */
export async function dampedInverse(ctx: GpuContext, a: GpuTensor, lambda: number): Promise<GpuTensor> {
  const n = square('dampedInverse', a);
  const f = await cholesky(ctx, a, lambda);
  try {
    const eye = new Float32Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    const e = new GpuTensor(ctx, ctx.upload(eye, 'identity'), [n, n]);
    try {
      return await choleskySolve(ctx, f, e);
    } finally {
      e.dispose();
    }
  } finally {
    f.dispose();
  }
}

/** x = (A + lambda I)^{-1} g for every row g of G: one factorisation, one solve. */
export async function precondition(ctx: GpuContext, a: GpuTensor, lambda: number, g: GpuTensor): Promise<GpuTensor> {
  const f = await cholesky(ctx, a, lambda);
  try {
    return await choleskySolve(ctx, f, g);
  } finally {
    f.dispose();
  }
}
