// Covariance and KFAC factor accumulation (shaders/syrk.wgsl): C = beta C + alpha G^T diag(w) G, C symmetric.
//   covariance:  syrk(ctx, C, G)                          C += G^T G over rows of G [n, k] (k up to 4096)
//   KFAC:        kfacAccumulate(ctx, A, S, x, dy, mask)    A += X^T diag(m) X, S += DY^T diag(m) DY
// G larger than a storage binding is processed in row blocks.
import type { GpuContext } from '../gpu/device.ts';
import { GpuLimitError, ShapeError } from '../gpu/errors.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { repack, viewOf, type MatView } from './gemm.ts';
import { ceilDiv, uniformBlock, window } from './util.ts';

export interface SyrkOptions {
  /** row weights [n] (a token mask): rows with weight 0 are excluded (even if they hold NaN) */
  weights?: GpuTensor;
  alpha?: number;
  /** 1 (default) accumulates into C; 0 overwrites */
  beta?: number;
}

async function runSyrk(ctx: GpuContext, c: GpuTensor, g: MatView, n: number, k: number, w: GpuTensor | undefined, alpha: number, beta: number): Promise<void> {
  const pipe = await ctx.pipeline({ shader: 'syrk', consts: { HAS_W: !!w } });
  const cBytes = k * k * 4;
  ctx.checkBinding(cBytes, `syrk: C (${k} x ${k})`);
  const cap = ctx.limits.maxStorageBufferBindingSize - ctx.limits.minStorageBufferOffsetAlignment;
  const rowBytes = g.ld * 4;
  if (rowBytes > cap) throw new GpuLimitError('maxStorageBufferBindingSize', rowBytes, cap, 'syrk: one row of G');
  const rowsPer = Math.max(1, Math.floor(cap / rowBytes));
  const wg = ceilDiv(k, 32);
  if (wg > ctx.limits.maxComputeWorkgroupsPerDimension) throw new GpuLimitError('maxComputeWorkgroupsPerDimension', wg, ctx.limits.maxComputeWorkgroupsPerDimension, 'syrk');
  let b = beta;
  for (let r0 = 0; r0 < Math.max(n, 1); r0 += rowsPer) {
    const rows = Math.min(rowsPer, n - r0);
    const gw = window(ctx, g.buffer, g.offset + r0 * g.ld, g.offset + (r0 + Math.max(rows, 1)) * g.ld);
    const ww = w ? window(ctx, w.buffer, r0, r0 + Math.max(rows, 1)) : null;
    const u = uniformBlock([rows, k, g.ld, gw.elemOffset, 0, ww?.elemOffset ?? 0, 0, 0, alpha, b, 0, 0], new Set([8, 9]));
    ctx.dispatch(pipe, [gw.binding, c.buffer, ww ? ww.binding : ctx.dummyBuffer], [wg, wg], u, 'syrk');
    b = 1;
  }
}

/** C = beta C + alpha G^T diag(w) G for G [n, k] (or [.., k], rows flattened); C [k, k] f32, updated in place. */
export async function syrk(ctx: GpuContext, c: GpuTensor, g: GpuTensor, opts: SyrkOptions = {}): Promise<GpuTensor> {
  if (g.shape.length < 1) throw new ShapeError('syrk', 'G must have rank >= 1');
  const k = g.shape[g.shape.length - 1];
  const n = g.size / Math.max(k, 1);
  if (c.shape.length !== 2 || c.shape[0] !== k || c.shape[1] !== k || c.dtype !== 'f32') throw new ShapeError('syrk', `C has shape [${c.shape.join(', ')}], expected [${k}, ${k}] f32`);
  if (opts.weights && opts.weights.size !== n) throw new ShapeError('syrk', `weights have ${opts.weights.size} values for ${n} rows`);
  if (k === 0) return c;
  let v = viewOf(g.reshape([n, k]));
  let temp: GPUBuffer | null = null;
  if (v.ld % 4 !== 0 || v.dtype !== 'f32') {
    v = await repack(ctx, v, 1);
    temp = v.buffer;
  }
  try {
    await runSyrk(ctx, c, v, n, k, opts.weights, opts.alpha ?? 1, opts.beta ?? 1);
  } finally {
    if (temp) ctx.release(temp);
  }
  return c;
}

/**
 * KFAC factor accumulation for one batch of taps: A += alpha X^T diag(m) X, S += alpha DY^T diag(m) DY with
 * x [B, T, dIn], dy [B, T, dOut], mask [B, T] (optional). Masked tokens are excluded; alpha lets the caller average.
 */
export async function kfacAccumulate(ctx: GpuContext, a: GpuTensor, s: GpuTensor, x: GpuTensor, dy: GpuTensor, mask?: GpuTensor, alpha = 1): Promise<void> {
  if (x.shape.length !== 3 || dy.shape.length !== 3 || x.shape[0] !== dy.shape[0] || x.shape[1] !== dy.shape[1]) {
    throw new ShapeError('kfacAccumulate', `x [${x.shape.join(', ')}] and dy [${dy.shape.join(', ')}] must be [B, T, d] with equal B, T`);
  }
  if (mask && (mask.size !== x.shape[0] * x.shape[1])) throw new ShapeError('kfacAccumulate', `mask has ${mask.size} values for B*T = ${x.shape[0] * x.shape[1]}`);
  await syrk(ctx, a, x, { weights: mask, alpha });
  await syrk(ctx, s, dy, { weights: mask, alpha });
}
