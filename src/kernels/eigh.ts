// Symmetric eigendecomposition A = V diag(w) V^T on the GPU (float32): parallel two-sided Jacobi with round-robin
// ordering (shaders/jacobi_round.wgsl), one dispatch per round, N - 1 rounds per sweep, a convergence read-back
// (off-diagonal norm, shaders/jacobi_off.wgsl) per sweep.
//
// Why Jacobi: every step is a data-parallel 2x2 update of the whole matrix (no sequential panel, no host round trip
// inside a sweep), it needs no tridiagonal solver on the host, it keeps V orthogonal to working precision, and it is
// accurate for clustered and tiny eigenvalues (condition numbers 1e6+ in float32), which covariance matrices have.
// Cost: about 6-10 sweeps x N rounds x O(N^2) memory traffic, i.e. O(N^3) per sweep; on a real GPU an n = 4096
// solve is ~40k dispatches of ~128 MB each. On software adapters it is hopeless beyond n ~ 256 (79 s at n = 256 on
// SwiftShader under load): use eighHybrid below or the host placement (eigh-blocked.ts).
// Measured accuracy: see test/kernels/suite.ts (residual ||AV - V diag(w)||_F / ||A||_F and ||V^T V - I||_F).
//
// For large n this file also has eighHybrid: the blocked Householder + divide-and-conquer solver of
// eigh-blocked.ts with its GEMMs on this device (O(n^3) on the GPU, ~n small read-backs), and the WebGPU backend
// can run the same solver on the host with onnxruntime-web wasm GEMMs ('host', the fastest choice on software
// adapters). Which one runs is the backend's `eigh` option (see webgpu-backend.ts).
import type { GpuContext } from '../gpu/device.ts';
import { ShapeError } from '../gpu/errors.ts';
import { GpuTensor, empty, fromHost } from '../gpu/tensor.ts';
import { gemm } from './gemm.ts';
import { blockedEigh, type BlockedEighOptions, type HostLinalg } from './eigh-blocked.ts';
import type { FloatArray } from './reference/tridiag.ts';
import { ceilDiv, uniformBlock } from './util.ts';

export interface EighOptions {
  /** stop when off(A) <= tol ||A||_F (default 1e-6, about float32 precision x sqrt(n) in practice) */
  tol?: number;
  /** hard cap on sweeps (default 30) */
  maxSweeps?: number;
  /** Newton-Schulz re-orthogonalisation steps V <- V (3I - V^T V) / 2 after the sweeps (default 1; two GEMMs each) */
  refine?: number;
}

export interface EighResult {
  /** eigenvalues, ascending */
  values: Float32Array;
  /** [n, n]: column i is the unit eigenvector of values[i] */
  vectors: GpuTensor;
  sweeps: number;
  /** final off(A) / ||A||_F */
  relOffNorm: number;
}

export async function eigh(ctx: GpuContext, a: GpuTensor, opts: EighOptions = {}): Promise<EighResult> {
  if (a.shape.length !== 2 || a.shape[0] !== a.shape[1]) throw new ShapeError('eigh', `A must be square [n, n], got [${a.shape.join(', ')}]`);
  if (a.dtype !== 'f32') throw new ShapeError('eigh', 'A must be f32');
  const n = a.shape[0];
  if (n === 0) return { values: new Float32Array(0), vectors: empty(ctx, [0, 0]), sweeps: 0, relOffNorm: 0 };
  const N = n + (n % 2);
  ctx.checkBinding(N * N * 4, `eigh: ${n} x ${n}`);
  const tol = opts.tol ?? 1e-6;
  const maxSweeps = opts.maxSweeps ?? 30;
  let ain = ctx.alloc(N * N * 4, 'jacobi-a0');
  let aout = ctx.alloc(N * N * 4, 'jacobi-a1');
  const eye = new Float32Array(N * N);
  for (let i = 0; i < N; i++) eye[i * N + i] = 1;
  const v = ctx.upload(eye, 'jacobi-v');
  const stats = ctx.alloc(2 * N * 4, 'jacobi-stats');
  try {
    if (N === n) ctx.copy(a.buffer, 0, ain, 0, n * n * 4);
    else {
      ctx.clear(ain, 0, N * N * 4);
      const rp = await ctx.pipeline({ shader: 'repack', consts: { SRC_F16: false } });
      ctx.dispatch(rp, [a.buffer, ain], [ceilDiv(N, 64), n, 1], uniformBlock([n, n, n, 0, N, 0, 0, 0]), 'eigh-pad');
    }
    const round = await ctx.pipeline({ shader: 'jacobi_round' });
    const off = await ctx.pipeline({ shader: 'jacobi_off' });
    const half = N / 2;
    const grid: [number, number] = [ceilDiv(half, 8), ceilDiv(half + N, 8)];
    const measure = async (): Promise<{ off: number; total: number; diag: Float32Array }> => {
      ctx.dispatch(off, [ain, stats], [ceilDiv(N, 64)], uniformBlock([N, 0, 0, 0]), 'jacobi_off');
      const s = await ctx.readF32(stats, 0, 2 * N);
      let o = 0, d2 = 0;
      const diag = new Float32Array(N);
      for (let i = 0; i < N; i++) {
        o += s[2 * i];
        d2 += s[2 * i + 1] ** 2;
        diag[i] = s[2 * i + 1];
      }
      return { off: Math.sqrt(o), total: Math.sqrt(o + d2), diag };
    };
    let m = await measure();
    const norm = m.total;
    let sweeps = 0;
    let prev = Infinity;
    if (N > 1 && norm > 0) {
      while (sweeps < maxSweeps && m.off > tol * norm) {
        for (let r = 0; r < N - 1; r++) {
          ctx.dispatch(round, [ain, aout, v], grid, uniformBlock([N, r, 0, 0]), 'jacobi_round');
          [ain, aout] = [aout, ain];
        }
        sweeps++;
        m = await measure();
        if (!Number.isFinite(m.off)) throw new Error('eigh: the matrix has NaN or infinite entries');
        // stagnation at the rounding floor: quadratic convergence has stopped paying
        if (m.off > 0.5 * prev && m.off < 1e3 * tol * norm) break;
        prev = m.off;
      }
    }
    // ascending order; the padding index (odd n) holds the exact eigenpair (0, e_N) and is dropped
    const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => m.diag[x] - m.diag[y]);
    const values = Float32Array.from(order, (i) => m.diag[i]);
    const idx = ctx.upload(Uint32Array.from(order), 'eigh-order');
    const vectors = empty(ctx, [n, n]);
    const gp = await ctx.pipeline({ shader: 'gather_cols' });
    ctx.dispatch(gp, [v, idx, vectors.buffer], [ceilDiv(n, 64), n], uniformBlock([n, n, N, n]), 'gather_cols');
    ctx.release(idx);
    // Rounding in N x sweeps rotations leaves ||V^T V - I||_F ~ 1e-6 n; one Newton-Schulz step restores float32
    // orthogonality. It mixes columns by (V^T V - I)_ij, which is only large inside eigenvalue clusters, where
    // mixing leaves the residual unchanged.
    let vec = vectors;
    for (let it = 0; it < (opts.refine ?? 1); it++) {
      const e = new GpuTensor(ctx, ctx.upload(Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)), 'eye'), [n, n]);
      await gemm(ctx, vec, vec, { transA: true, beta: -1, c: e }); // E = V^T V - I
      const next = empty(ctx, [n, n]);
      ctx.copy(vec.buffer, 0, next.buffer, 0, n * n * 4);
      await gemm(ctx, vec, e, { alpha: -0.5, beta: 1, c: next }); // V - V E / 2
      e.dispose();
      vec.dispose();
      vec = next;
    }
    return { values, vectors: vec, sweeps, relOffNorm: norm > 0 ? m.off / norm : 0 };
  } finally {
    ctx.release(ain);
    ctx.release(aout);
    ctx.release(v);
    ctx.release(stats);
  }
}

/**
 * HostLinalg on this device: each product uploads its operands (float32), runs our GEMM and reads the result back;
 * the tridiagonalisation's fixed trailing matrix is uploaded once per panel and each matrix-vector product moves
 * only two vectors. For blockedEigh in the 'hybrid' mode: the O(n^3) work on the GPU, the O(n^2) work and the
 * sequential parts on the host; one read-back per Householder vector (~n of them).
 */
export interface GpuLinalgTuning {
  /** smallest m*n*k sent to the GPU (smaller products run in JS; default 2^20) */
  matmulMinWork?: number;
  /** smallest trailing matrix whose matrix-vector products run on the GPU (default 256) */
  fixedMatvecMin?: number;
}

export function gpuLinalg(ctx: GpuContext, tune: GpuLinalgTuning = {}): HostLinalg {
  const up = (x: FloatArray, shape: number[]) => fromHost(ctx, x instanceof Float32Array ? x : Float32Array.from(x), shape);
  return {
    precision: 'f32',
    matmulMinWork: tune.matmulMinWork ?? 2 ** 20,
    fixedMatvecMin: tune.fixedMatvecMin ?? 256,
    async matmul(a, b, m, n, k, transA, transB) {
      if (m === 0 || n === 0 || k === 0) return new Float32Array(m * n);
      const A = up(a, transA ? [k, m] : [m, k]), B = up(b, transB ? [n, k] : [k, n]);
      try {
        const c = await gemm(ctx, A, B, { transA, transB });
        try {
          return await c.read();
        } finally {
          c.dispose();
        }
      } finally {
        A.dispose();
        B.dispose();
      }
    },
    async fixedMatvec(a, n) {
      // a trailing matrix larger than one binding is fine: the GEMM splits it into row blocks
      ctx.checkBufferSize(n * n * 4, `eigh (hybrid): trailing matrix ${n} x ${n}`);
      const A = up(a, [n, n]);
      return {
        async mul(x) {
          const X = up(x, [n, 1]);
          try {
            const y = await gemm(ctx, A, X);
            try {
              return await y.read();
            } finally {
              y.dispose();
            }
          } finally {
            X.dispose();
          }
        },
        dispose: () => A.dispose(),
      };
    },
  };
}

/**
 * Blocked Householder tridiagonalisation + divide and conquer + blocked back-transformation (eigh-blocked.ts) with
 * the products on this device (gpuLinalg). Float64 on the host, float32 products on the GPU.
 */
export async function eighHybrid(ctx: GpuContext, a: GpuTensor, opts: BlockedEighOptions & GpuLinalgTuning = {}): Promise<{ values: Float32Array; vectors: GpuTensor }> {
  if (a.shape.length !== 2 || a.shape[0] !== a.shape[1]) throw new ShapeError('eigh', `A must be square [n, n], got [${a.shape.join(', ')}]`);
  const n = a.shape[0];
  ctx.checkBufferSize(n * n * 4, `eigh: eigenvectors ${n} x ${n}`);
  const r = await blockedEigh(await a.read(), n, gpuLinalg(ctx, opts), opts);
  return { values: Float32Array.from(r.values), vectors: fromHost(ctx, Float32Array.from(r.vectors), [n, n]) };
}
