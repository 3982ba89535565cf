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

/** Scoring options (see shaders/score.wgsl): the mode; per-row multipliers xScale [n]; or given squared norms
 *  (self-influences) of the queries [q] and rows [n] for cosine and l2 in a preconditioned metric. */
export interface BScoreOptions {
  mode?: ScoreMode;
  xScale?: BTensor;
  norms?: { q: BTensor; x: BTensor };
}

export interface BTopK {
  push(q: BTensor, x: BTensor, base: number, opts?: BScoreOptions): Promise<void>;
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
  /**
   * The damped inverse's whitening factor: Wt = L^{-T} [n, n] (upper triangular) with L L^T = A + lambda I, so that
   * (A + lambda I)^{-1} = Wt Wt^T and each row of G Wt has squared norm g^T (A + lambda I)^{-1} g (no cancellation).
   * One factorisation; every later use is a GEMM. Throws NotPositiveDefiniteError naming the failing column.
   */
  whitener(a: BTensor, lambda: number): Promise<BTensor>;
  score(q: BTensor, x: BTensor, opts?: BScoreOptions): Promise<BTensor>;
  topK(q: number, k: number): BTopK;
  randomNormal(spec: ProjectionSpec): Promise<BTensor>;
  dispose(): void;
}

export interface CreateBackendOptions {
  backend?: BackendChoice;
  /** WebGPU: adopt this device (e.g. the one shared with onnxruntime-web's WebGPU EP) */
  device?: GPUDevice;
  /** WebGPU: where eigendecompositions run (see EighPlacement in webgpu-backend.ts): 'gpu' (Jacobi in WGSL),
   *  'hybrid' (blocked Householder + divide and conquer, GEMMs on the GPU), 'host' (the same on the host with
   *  onnxruntime-web wasm GEMMs). 'auto' (default): 'host' on software fallback adapters, else 'gpu' up to n = 1024
   *  and 'hybrid' above */
  eigh?: 'gpu' | 'hybrid' | 'host' | 'auto';
  /** WebGPU: further device acquisition options (limit caps, Node flags, f16 opt-out) */
  gpu?: AcquireOptions;
  /**
   * 'auto' only: what to do when the only adapter is a software fallback (SwiftShader): 'cpu' (default) takes the
   * CPU backend, whose onnxruntime-web wasm GEMMs are 10-20x faster than software WebGPU (docs/ARCHITECTURE.md);
   * 'gpu' keeps the software adapter.
   */
  softwareAdapter?: 'cpu' | 'gpu';
  /** CPU backend: which onnxruntime runs its GEMMs ('auto', the default: the native onnxruntime-node where it loads,
   *  else onnxruntime-web's wasm) */
  cpuRuntime?: 'auto' | 'wasm' | 'native';
}

/** 'auto': WebGPU when a hardware adapter (or a caller's device) can be had, else CPU; 'webgpu' throws
 *  GpuUnavailableError instead of falling back. */
export async function createBackend(opts: CreateBackendOptions = {}): Promise<KernelBackend> {
  const choice = opts.backend ?? 'auto';
  if (choice !== 'cpu') {
    try {
      const { WebGpuBackend } = await import('./webgpu-backend.ts');
      const device = opts.device ?? opts.gpu?.device;
      // 'auto' that would drop a software adapter anyway looks for hardware only (in Node: no software Vulkan driver
      // is loaded, so Dawn prints no warnings about drivers it rejects and no device is made for nothing)
      const hardwareOnly = choice === 'auto' && opts.softwareAdapter !== 'gpu' && !device;
      const b = await WebGpuBackend.create({ ...opts.gpu, hardwareOnly: opts.gpu?.hardwareOnly ?? hardwareOnly, device, eigh: opts.eigh });
      if (choice === 'webgpu' || !b.ctx.adapter.isFallbackAdapter || opts.softwareAdapter === 'gpu' || opts.device) return b;
      b.dispose();
    } catch (e) {
      if (choice === 'webgpu') throw e;
    }
  }
  const { CpuBackend } = await import('./cpu-backend.ts');
  return CpuBackend.create(opts.cpuRuntime);
}
