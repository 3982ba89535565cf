// LoGra projection of per-example weight gradients, and the dense baseline it replaces.
//
// LoGra (fused): G[b] = sum_t mask[b,t] (P_out dy[b,t]) (P_in x[b,t])^T, a k_out x k_in matrix per example, from
// x [B, T, d_in], dy [B, T, d_out], mask [B, T], P_in [k_in, d_in], P_out [k_out, d_out]. Computed as three GEMMs
// (shaders/gemm.wgsl): U = X P_in^T ([B*T, k_in]), V = DY P_out^T ([B*T, k_out]), then the masked batched outer
// product G[b] = V[b]^T diag(mask[b]) U[b]. Cost B T (d_in k_in + d_out k_out + k_in k_out) multiply-adds; the
// [B, T, d_in d_out] tensor of per-token gradients and the [B, d_out, d_in] per-example gradient are never formed.
//
// Dense baseline (TRAK-style, for comparison): DW[b] = sum_t mask dy x^T ([B, d_out, d_in], materialised), then a
// dense Gaussian projection R [k, d_out d_in] (k = k_out k_in) regenerated on the fly (shaders/dense_project.wgsl)
// or, when it fits, materialised once and applied as a GEMM. Same output shape [B, k_out, k_in].
import type { GpuContext } from '../gpu/device.ts';
import { ShapeError } from '../gpu/errors.ts';
import { GpuTensor, empty } from '../gpu/tensor.ts';
import { gemm } from './gemm.ts';
import { randomNormal } from './rng.ts';
import { deriveKey, NORMAL_SCALE, type ProjectionSpec } from './reference/rng.ts';
import { ceilDiv, uniformBlock, window } from './util.ts';

export interface LoGraTaps {
  /** layer inputs [B, T, d_in] */
  x: GpuTensor;
  /** output gradients [B, T, d_out] */
  dy: GpuTensor;
  /** token mask [B, T] (1 = counted, 0 = excluded), optional */
  mask?: GpuTensor;
}

export interface LoGraResult {
  /** [B, k_out, k_in] */
  g: GpuTensor;
  /** per-token projections U = X P_in^T [B, T, k_in] and V = DY P_out^T [B, T, k_out] (unmasked), when kept */
  u?: GpuTensor;
  v?: GpuTensor;
}

export function checkTaps(kernel: string, t: LoGraTaps): { B: number; T: number; dIn: number; dOut: number } {
  const { x, dy, mask } = t;
  if (x.shape.length !== 3) throw new ShapeError(kernel, `x must be [B, T, d_in], got [${x.shape.join(', ')}]`);
  if (dy.shape.length !== 3) throw new ShapeError(kernel, `dy must be [B, T, d_out], got [${dy.shape.join(', ')}]`);
  const [B, T, dIn] = x.shape;
  const dOut = dy.shape[2];
  if (dy.shape[0] !== B || dy.shape[1] !== T) throw new ShapeError(kernel, `x is [${x.shape.join(', ')}] but dy is [${dy.shape.join(', ')}]: B and T must agree`);
  if (mask) {
    const ok = (mask.shape.length === 2 && mask.shape[0] === B && mask.shape[1] === T) || (mask.shape.length === 1 && mask.shape[0] === B * T);
    if (!ok) throw new ShapeError(kernel, `mask has shape [${mask.shape.join(', ')}], expected [${B}, ${T}]`);
    if (mask.dtype !== 'f32') throw new ShapeError(kernel, 'mask must be f32 (1 = token counted, 0 = excluded)');
  }
  return { B, T, dIn, dOut };
}

/** LoGra projected per-example gradients G [B, k_out, k_in]; with `accumulate`, adds into opts.out. */
export async function loGraProject(
  ctx: GpuContext,
  taps: LoGraTaps,
  pIn: GpuTensor,
  pOut: GpuTensor,
  opts: { out?: GpuTensor; accumulate?: boolean; keepTokenProjections?: boolean } = {},
): Promise<LoGraResult> {
  const K = 'loGraProject';
  const { B, T, dIn, dOut } = checkTaps(K, taps);
  if (pIn.shape.length !== 2 || pIn.shape[1] !== dIn) throw new ShapeError(K, `P_in has shape [${pIn.shape.join(', ')}], expected [k_in, ${dIn}]`);
  if (pOut.shape.length !== 2 || pOut.shape[1] !== dOut) throw new ShapeError(K, `P_out has shape [${pOut.shape.join(', ')}], expected [k_out, ${dOut}]`);
  const kIn = pIn.shape[0], kOut = pOut.shape[0];
  if (opts.out && !(opts.out.shape.length === 3 && opts.out.shape[0] === B && opts.out.shape[1] === kOut && opts.out.shape[2] === kIn)) {
    throw new ShapeError(K, `out has shape [${opts.out.shape.join(', ')}], expected [${B}, ${kOut}, ${kIn}]`);
  }
  if (opts.accumulate && !opts.out) throw new ShapeError(K, 'accumulate needs opts.out');
  const u = await gemm(ctx, taps.x.reshape([B * T, dIn]), pIn, { transB: true });
  const v = await gemm(ctx, taps.dy.reshape([B * T, dOut]), pOut, { transB: true });
  const out = opts.out ?? empty(ctx, [B, kOut, kIn]);
  try {
    await gemm(ctx, v.reshape([B, T, kOut]), u.reshape([B, T, kIn]), {
      transA: true,
      kWeights: taps.mask ? taps.mask.reshape([B, T]) : undefined,
      c: out,
      beta: opts.accumulate ? 1 : 0,
    });
  } catch (e) {
    u.dispose();
    v.dispose();
    if (!opts.out) out.dispose();
    throw e;
  }
  if (opts.keepTokenProjections) return { g: out, u: withShape(u, [B, T, kIn]), v: withShape(v, [B, T, kOut]) };
  u.dispose();
  v.dispose();
  return { g: out };
}

function withShape(t: GpuTensor, shape: number[]): GpuTensor {
  return new GpuTensor(t.ctx, t.buffer, shape, t.dtype, true);
}

/** Full per-example weight gradients DW[b] = sum_t mask dy x^T: [B, d_out, d_in]. */
export async function perExampleGrad(ctx: GpuContext, taps: LoGraTaps): Promise<GpuTensor> {
  const { B, T } = checkTaps('perExampleGrad', taps);
  return gemm(ctx, taps.dy, taps.x, { transA: true, kWeights: taps.mask ? taps.mask.reshape([B, T]) : undefined });
}

export interface DenseProjectionOptions {
  seed: number;
  layer: number | string;
  /** output dims: k = kOut * kIn rows of R */
  kIn: number;
  kOut: number;
  /** f32 scale of R (default 1) */
  scale?: number;
  /** 'onthefly' regenerates R inside the projection kernel (TRAK's fast_jl approach; any size); 'materialized'
   *  draws R once into memory and runs a GEMM (only when k * D floats fit a binding). Default: materialized when
   *  R fits in 64 MiB, else onthefly. */
  mode?: 'onthefly' | 'materialized';
}

/** The R matrix spec of the dense baseline for a layer. */
export function denseSpec(o: DenseProjectionOptions, D: number): ProjectionSpec {
  return { seed: o.seed, layer: o.layer, role: 'dense', rows: o.kIn * o.kOut, cols: D, scale: o.scale };
}

/** out[b, :] = R vec(grads[b]) for grads [B, ...] flattened to [B, D]; returns [B, k]. */
export async function denseProject(ctx: GpuContext, grads: GpuTensor, o: DenseProjectionOptions): Promise<GpuTensor> {
  const B = grads.shape[0];
  const D = grads.size / Math.max(B, 1);
  const k = o.kIn * o.kOut;
  const spec = denseSpec(o, D);
  const mode = o.mode ?? (k * D * 4 <= 64 * 2 ** 20 && ctx.fitsBinding(k * D * 4) ? 'materialized' : 'onthefly');
  if (mode === 'materialized') {
    const r = await randomNormal(ctx, spec);
    try {
      return await gemm(ctx, grads.reshape([B, D]), r, { transB: true });
    } finally {
      r.dispose();
    }
  }
  const out = empty(ctx, [B, k]);
  const pipe = await ctx.pipeline({ shader: 'dense_project', libs: ['rng_lib'] });
  const [k0, k1] = deriveKey(spec);
  const bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
  const cap = ctx.limits.maxStorageBufferBindingSize - ctx.limits.minStorageBufferOffsetAlignment;
  const maxWg = ctx.limits.maxComputeWorkgroupsPerDimension;
  // examples per dispatch: their gradients must fit one binding
  const perB = Math.max(1, Math.min(Math.floor(cap / (D * 4)), maxWg * 4));
  if (D * 4 > cap) ctx.checkBinding(D * 4, 'denseProject: one per-example gradient');
  const jPer = maxWg * 64;
  for (let b0 = 0; b0 < B; b0 += perB) {
    const nb = Math.min(perB, B - b0);
    const gw = window(ctx, grads.buffer, b0 * D, (b0 + nb) * D);
    const ow = window(ctx, out.buffer, b0 * k, (b0 + nb) * k);
    for (let j0 = 0; j0 < k; j0 += jPer) {
      const nj = Math.min(jPer, k - j0);
      const u = uniformBlock([k0, k1, nb, D, k, gw.elemOffset, ow.elemOffset, bits(NORMAL_SCALE), bits(Math.fround(o.scale ?? 1)), j0, 0, 0]);
      ctx.dispatch(pipe, [gw.binding, ow.binding], [ceilDiv(nj, 64), ceilDiv(nb, 4)], u, 'dense_project');
    }
  }
  return out;
}

/** The whole dense baseline: per-example gradients then dense projection -> [B, k_out, k_in]. */
export async function denseBaseline(ctx: GpuContext, taps: LoGraTaps, o: DenseProjectionOptions): Promise<GpuTensor> {
  const { B } = checkTaps('denseBaseline', taps);
  const dw = await perExampleGrad(ctx, taps);
  try {
    const g = await denseProject(ctx, dw, o);
    return withShape(g, [B, o.kOut, o.kIn]);
  } finally {
    dw.dispose();
  }
}
