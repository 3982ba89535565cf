// WebGPU backend: the KernelBackend operations on our WGSL kernels (src/kernels/*.ts over shaders/*.wgsl).
import { GpuContext, type AcquireOptions } from '../gpu/device.ts';
import { ShapeError } from '../gpu/errors.ts';
import { GpuTensor, fromHalfBits, fromHost, zeros } from '../gpu/tensor.ts';
import type { BGemmOptions, BTaps, BTensor, BTopK, KernelBackend } from './backend.ts';
import { gemm } from './gemm.ts';
import { loGraProject, denseBaseline, type DenseProjectionOptions } from './logra.ts';
import { syrk, kfacAccumulate } from './syrk.ts';
import { eigh } from './eigh.ts';
import { precondition, dampedInverse } from './cholesky.ts';
import { score, TopK } from './score.ts';
import { randomNormal } from './rng.ts';
import { packF16 } from './f16.ts';
import { refEigh } from './reference/eigh.ts';
import type { ProjectionSpec } from './reference/rng.ts';
import type { ScoreMode } from './reference/score.ts';

function gpu(t: BTensor, what: string): GpuTensor {
  if (!(t instanceof GpuTensor)) throw new ShapeError('webgpu backend', `${what} is not a WebGPU backend tensor`);
  return t;
}
const opt = (t: BTensor | undefined, what: string) => (t ? gpu(t, what) : undefined);

export interface WebGpuBackendOptions extends AcquireOptions {
  eigh?: 'gpu' | 'host' | 'auto';
}

export class WebGpuBackend implements KernelBackend {
  readonly kind = 'webgpu' as const;
  readonly description: string;

  constructor(
    readonly ctx: GpuContext,
    private readonly eighWhere: 'gpu' | 'host' = 'gpu',
  ) {
    const a = ctx.adapter;
    this.description = `WebGPU ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'adapter'}${a.isFallbackAdapter ? ' (software fallback)' : ''}${ctx.f16 ? ', shader-f16' : ''}`;
  }

  static async create(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    const ctx = await GpuContext.acquire(opts);
    const e = opts.eigh ?? 'auto';
    return new WebGpuBackend(ctx, e === 'auto' ? (ctx.adapter.isFallbackAdapter ? 'host' : 'gpu') : e);
  }

  tensor(data: Float32Array, shape: readonly number[]): GpuTensor {
    return fromHost(this.ctx, data, shape);
  }
  tensorFromHalf(bits: Uint16Array, shape: readonly number[]): GpuTensor {
    return fromHalfBits(this.ctx, bits, shape);
  }
  zeros(shape: readonly number[]): GpuTensor {
    return zeros(this.ctx, shape);
  }
  async read(t: BTensor): Promise<Float32Array> {
    return gpu(t, 'read()').read();
  }
  async packHalf(t: BTensor): Promise<Uint16Array> {
    const h = await packF16(this.ctx, gpu(t, 'packHalf()'));
    try {
      const words = await this.ctx.readU32(h.buffer, 0, Math.ceil(h.size / 2));
      return new Uint16Array(words.buffer, 0, h.size).slice();
    } finally {
      h.dispose();
    }
  }
  async gemm(a: BTensor, b: BTensor, o: BGemmOptions = {}): Promise<GpuTensor> {
    return gemm(this.ctx, gpu(a, 'A'), gpu(b, 'B'), { ...o, c: opt(o.c, 'C'), kWeights: opt(o.kWeights, 'kWeights') });
  }
  async loGraProject(taps: BTaps, pIn: BTensor, pOut: BTensor): Promise<GpuTensor> {
    const r = await loGraProject(this.ctx, { x: gpu(taps.x, 'x'), dy: gpu(taps.dy, 'dy'), mask: opt(taps.mask, 'mask') }, gpu(pIn, 'P_in'), gpu(pOut, 'P_out'));
    return r.g;
  }
  async denseBaseline(taps: BTaps, o: DenseProjectionOptions): Promise<GpuTensor> {
    return denseBaseline(this.ctx, { x: gpu(taps.x, 'x'), dy: gpu(taps.dy, 'dy'), mask: opt(taps.mask, 'mask') }, o);
  }
  async syrk(c: BTensor, g: BTensor, o: { weights?: BTensor; alpha?: number; beta?: number } = {}): Promise<void> {
    await syrk(this.ctx, gpu(c, 'C'), gpu(g, 'G'), { ...o, weights: opt(o.weights, 'weights') });
  }
  async kfacAccumulate(a: BTensor, s: BTensor, x: BTensor, dy: BTensor, mask?: BTensor, alpha = 1): Promise<void> {
    return kfacAccumulate(this.ctx, gpu(a, 'A'), gpu(s, 'S'), gpu(x, 'x'), gpu(dy, 'dy'), opt(mask, 'mask'), alpha);
  }
  async eigh(a: BTensor): Promise<{ values: Float32Array; vectors: GpuTensor }> {
    const A = gpu(a, 'A');
    if (this.eighWhere === 'host') {
      const n = A.shape[0];
      if (A.shape.length !== 2 || A.shape[1] !== n) throw new ShapeError('eigh', `A must be square [n, n], got [${A.shape.join(', ')}]`);
      const r = refEigh(await A.read(), n);
      return { values: Float32Array.from(r.values), vectors: fromHost(this.ctx, Float32Array.from(r.vectors), [n, n]) };
    }
    const r = await eigh(this.ctx, A);
    return { values: r.values, vectors: r.vectors };
  }
  async precondition(a: BTensor, lambda: number, g: BTensor): Promise<GpuTensor> {
    return precondition(this.ctx, gpu(a, 'A'), lambda, gpu(g, 'G'));
  }
  async dampedInverse(a: BTensor, lambda: number): Promise<GpuTensor> {
    return dampedInverse(this.ctx, gpu(a, 'A'), lambda);
  }
  async score(q: BTensor, x: BTensor, o: { mode?: ScoreMode; xScale?: BTensor } = {}): Promise<GpuTensor> {
    return score(this.ctx, gpu(q, 'Q'), gpu(x, 'X'), { mode: o.mode, xScale: opt(o.xScale, 'xScale') });
  }
  topK(q: number, k: number): BTopK {
    const t = new TopK(this.ctx, q, k);
    return {
      push: (qt, xt, base, o = {}) => t.push(gpu(qt, 'Q'), gpu(xt, 'X'), base, { mode: o.mode, xScale: opt(o.xScale, 'xScale') }),
      result: () => t.result(),
      dispose: () => t.dispose(),
    };
  }
  async randomNormal(spec: ProjectionSpec): Promise<GpuTensor> {
    return randomNormal(this.ctx, spec);
  }
  dispose(): void {
    this.ctx.destroy();
  }
}
