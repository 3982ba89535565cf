// WebGPU backend: the KernelBackend operations on our WGSL kernels (src/kernels/*.ts over shaders/*.wgsl).
import { GpuContext, type AcquireOptions } from '../gpu/device.ts';
import { ShapeError } from '../gpu/errors.ts';
import { GpuTensor, fromHalfBits, fromHost, zeros } from '../gpu/tensor.ts';
import type { BGemmOptions, BScoreOptions, BTaps, BTensor, BTopK, KernelBackend } from './backend.ts';
import { gemm } from './gemm.ts';
import { loGraProject, denseBaseline, type DenseProjectionOptions } from './logra.ts';
import { syrk, kfacAccumulate } from './syrk.ts';
import { eigh, eighHybrid } from './eigh.ts';
import { blockedEigh, jsLinalg, type HostLinalg } from './eigh-blocked.ts';
import { OrtLinalg } from './eigh-host.ts';
import { OrtGraphs } from './ort-graphs.ts';
import { whitener } from './cholesky.ts';
import { score, TopK } from './score.ts';
import { randomNormal } from './rng.ts';
import { packF16 } from './f16.ts';
import type { ProjectionSpec } from './reference/rng.ts';
import type { ScoreMode } from './reference/score.ts';

function gpu(t: BTensor, what: string): GpuTensor {
  if (!(t instanceof GpuTensor)) throw new ShapeError('webgpu backend', `${what} is not a WebGPU backend tensor`);
  return t;
}
const opt = (t: BTensor | undefined, what: string) => (t ? gpu(t, what) : undefined);
const gpuScoreOpts = (o: BScoreOptions) => ({ mode: o.mode, xScale: opt(o.xScale, 'xScale'), norms: o.norms ? { q: gpu(o.norms.q, 'norms.q'), x: gpu(o.norms.x, 'norms.x') } : undefined });

/**
 * Where eigendecompositions run:
 * - 'gpu': parallel Jacobi in WGSL (eigh.ts; one dispatch per round, ~N rounds x 6-10 sweeps);
 * - 'hybrid': blocked Householder + divide and conquer with the GEMMs on this device (eighHybrid);
 * - 'host': the same blocked solver on the host with onnxruntime-web wasm GEMMs (plain JS if ORT cannot load);
 * - 'auto' (default): 'host' on software fallback adapters (SwiftShader, lavapipe: ORT wasm is 5-20x faster than
 *   their GEMM); on hardware adapters Jacobi up to n = 1024 (few dispatches' worth of work each) and 'hybrid' above
 *   (Jacobi's N dispatches per sweep grow as n^3 in memory traffic), and 'hybrid' whenever Jacobi's N x N matrix
 *   exceeds maxStorageBufferBindingSize (Jacobi then throws GpuLimitError; the hybrid's GEMMs are chunked). The
 *   hardware thresholds are estimates: no hardware GPU was available to measure them.
 */
export type EighPlacement = 'gpu' | 'hybrid' | 'host' | 'auto';

export interface WebGpuBackendOptions extends AcquireOptions {
  eigh?: EighPlacement;
}

export class WebGpuBackend implements KernelBackend {
  readonly kind = 'webgpu' as const;
  readonly description: string;

  constructor(
    readonly ctx: GpuContext,
    private readonly eighWhere: EighPlacement = 'gpu',
  ) {
    const a = ctx.adapter;
    this.description = `WebGPU ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'adapter'}${a.isFallbackAdapter ? ' (software fallback)' : ''}${ctx.f16 ? ', shader-f16' : ''}`;
  }

  static async create(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    const ctx = await GpuContext.acquire(opts);
    const e = opts.eigh ?? 'auto';
    return new WebGpuBackend(ctx, e === 'auto' && ctx.adapter.isFallbackAdapter ? 'host' : e);
  }

  private hostLinalg: Promise<HostLinalg> | null = null;

  /** ORT wasm products for the host eigensolver (created on first use; plain JS when ORT cannot load) */
  private host(): Promise<HostLinalg> {
    this.hostLinalg ??= OrtGraphs.create().then(
      (g) => new OrtLinalg(g.ort, 'f32'),
      () => jsLinalg,
    );
    return this.hostLinalg;
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
    const n = A.shape[0];
    if (A.shape.length !== 2 || A.shape[1] !== n) throw new ShapeError('eigh', `A must be square [n, n], got [${A.shape.join(', ')}]`);
    const N = n + (n % 2);
    // 'auto' also avoids Jacobi when its N x N working matrix exceeds one storage binding (the hybrid chunks)
    const where = this.eighWhere === 'auto' ? (n <= 1024 && this.ctx.fitsBinding(N * N * 4) ? 'gpu' : 'hybrid') : this.eighWhere;
    if (where === 'host') {
      this.ctx.checkBufferSize(n * n * 4, `eigh: eigenvectors ${n} x ${n}`);
      const r = await blockedEigh(await A.read(), n, await this.host());
      return { values: Float32Array.from(r.values), vectors: fromHost(this.ctx, Float32Array.from(r.vectors), [n, n]) };
    }
    if (where === 'hybrid') return eighHybrid(this.ctx, A);
    const r = await eigh(this.ctx, A);
    return { values: r.values, vectors: r.vectors };
  }
  async whitener(a: BTensor, lambda: number): Promise<GpuTensor> {
    return whitener(this.ctx, gpu(a, 'A'), lambda);
  }
  async score(q: BTensor, x: BTensor, o: BScoreOptions = {}): Promise<GpuTensor> {
    return score(this.ctx, gpu(q, 'Q'), gpu(x, 'X'), gpuScoreOpts(o));
  }
  topK(q: number, k: number): BTopK {
    const t = new TopK(this.ctx, q, k);
    return {
      push: (qt, xt, base, o = {}) => t.push(gpu(qt, 'Q'), gpu(xt, 'X'), base, gpuScoreOpts(o)),
      result: () => t.result(),
      dispose: () => t.dispose(),
    };
  }
  async randomNormal(spec: ProjectionSpec): Promise<GpuTensor> {
    return randomNormal(this.ctx, spec);
  }
  dispose(): void {
    void this.hostLinalg?.then((l) => (l instanceof OrtLinalg ? l.dispose() : undefined));
    this.ctx.destroy();
  }
}
