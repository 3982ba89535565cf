// The kernel backend interface: one set of linear-algebra operations for the LoGra pipeline, implemented on WebGPU
// (webgpu-backend.ts: our WGSL kernels) and on the CPU (cpu-backend.ts: onnxruntime-web wasm MatMul graphs for the
// GEMM-shaped work, float64 TypeScript for eigen/Cholesky). createBackend() picks WebGPU when an adapter exists.
import type { ProjectionSpec } from './reference/rng.ts';
import type { ScoreMode } from './reference/score.ts';
import type { DenseProjectionOptions } from './logra.ts';
import type { AcquireOptions } from '../gpu/device.ts';

export type BackendKind = 'webgpu' | 'cpu';
export type BackendChoice = 'auto' | BackendKind;

/** A dense row-major float32 tensor owned by one backend. */
export interface BTensor {
  readonly shape: readonly number[];
  dispose(): void;
}

export interface BGemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  /** output/accumulator (required when beta != 0); written in place */
  c?: BTensor;
  /** per-K weights [K] or [batch, K] */
  kWeights?: BTensor;
}

export interface BTaps {
  x: BTensor;
  dy: BTensor;
  mask?: BTensor;
}

export interface BTopK {
  push(q: BTensor, x: BTensor, base: number, opts?: { mode?: ScoreMode; xScale?: BTensor }): Promise<void>;
  result(): Promise<{ values: Float32Array; indices: Int32Array }>;
  dispose(): void;
}

export interface KernelBackend {
  readonly kind: BackendKind;
  /** e.g. the adapter's description, or "onnxruntime-web wasm (2 threads)" */
  readonly description: string;
  tensor(data: Float32Array, shape: readonly number[]): BTensor;
  /** IEEE half bit patterns (a store chunk's f16 payload) as a tensor; the CPU widens to f32 */
  tensorFromHalf(bits: Uint16Array, shape: readonly number[]): BTensor;
  zeros(shape: readonly number[]): BTensor;
  read(t: BTensor): Promise<Float32Array>;
  /** f32 -> IEEE half bits (round to nearest even) */
  packHalf(t: BTensor): Promise<Uint16Array>;
  gemm(a: BTensor, b: BTensor, opts?: BGemmOptions): Promise<BTensor>;
  /** LoGra: G [B, k_out, k_in] = sum_t mask (P_out dy)(P_in x)^T */
  loGraProject(taps: BTaps, pIn: BTensor, pOut: BTensor): Promise<BTensor>;
  /** TRAK-style dense baseline with the same output shape */
  denseBaseline(taps: BTaps, o: DenseProjectionOptions): Promise<BTensor>;
  /** C = beta C + alpha G^T diag(w) G (beta default 1) */
  syrk(c: BTensor, g: BTensor, opts?: { weights?: BTensor; alpha?: number; beta?: number }): Promise<void>;
  /** A += alpha X^T diag(m) X, S += alpha DY^T diag(m) DY */
  kfacAccumulate(a: BTensor, s: BTensor, x: BTensor, dy: BTensor, mask?: BTensor, alpha?: number): Promise<void>;
  /** ascending eigenvalues; vectors [n, n] with eigenvectors as columns */
  eigh(a: BTensor): Promise<{ values: Float32Array; vectors: BTensor }>;
  /** rows of G [m, n] -> rows of G (A + lambda I)^{-1} */
  precondition(a: BTensor, lambda: number, g: BTensor): Promise<BTensor>;
  dampedInverse(a: BTensor, lambda: number): Promise<BTensor>;
  score(q: BTensor, x: BTensor, opts?: { mode?: ScoreMode; xScale?: BTensor }): Promise<BTensor>;
  topK(q: number, k: number): BTopK;
  randomNormal(spec: ProjectionSpec): Promise<BTensor>;
  dispose(): void;
}

export interface CreateBackendOptions {
  backend?: BackendChoice;
  /** WebGPU: adopt this device (e.g. the one shared with onnxruntime-web's WebGPU EP) */
  device?: GPUDevice;
  /** WebGPU: where eigendecompositions run. 'auto' (default): on the GPU unless the adapter is a software
   *  fallback (then float64 on the host, which is faster there) */
  eigh?: 'gpu' | 'host' | 'auto';
  /** WebGPU: further device acquisition options (limit caps, Node flags, f16 opt-out) */
  gpu?: AcquireOptions;
}

/** 'auto': WebGPU when an adapter and device can be had, else CPU; 'webgpu' throws GpuUnavailableError instead. */
export async function createBackend(opts: CreateBackendOptions = {}): Promise<KernelBackend> {
  const choice = opts.backend ?? 'auto';
  if (choice !== 'cpu') {
    try {
      const { WebGpuBackend } = await import('./webgpu-backend.ts');
      return await WebGpuBackend.create({ ...opts.gpu, device: opts.device ?? opts.gpu?.device, eigh: opts.eigh });
    } catch (e) {
      if (choice === 'webgpu') throw e;
    }
  }
  const { CpuBackend } = await import('./cpu-backend.ts');
  return CpuBackend.create();
}
