// Blocked symmetric eigendecomposition A = V diag(w) V^T for large n (up to 4096 and beyond) on the host, with the
// O(n^3) work handed to a matrix-product provider (HostLinalg): onnxruntime-web wasm MatMul graphs on the CPU
// backend (eigh-host.ts), our WGSL GEMM on the WebGPU backend's hybrid mode, plain JS as a fallback.
//
//   1. Householder tridiagonalisation Q^T A Q = T, blocked as in LAPACK dsytrd/dlatrd: panels of NB columns; per
//      column a Householder vector from the column updated by the panel so far, and w = tau (A22 v - V W^T v -
//      W V^T v) corrected so that A22 - V W^T - W V^T is the two-sided update. A22 is the trailing matrix as of the
//      panel's start, so its matrix-vector product can run on a prepared operand (an ORT session holding A22 as an
//      initializer: 2-3x faster than a JS loop here; a GPU buffer in hybrid mode). After the panel one rank-2NB
//      update A22 -= [V W] [W V]^T (a GEMM: ~2/3 of the flops).
//   2. Tridiagonal eigenpairs by divide and conquer (reference/tridiag.ts; its merges are GEMMs).
//   3. Back-transformation V = Q Z = H_0 (H_1 (... Z)), one compact-WY block I - V T V^T per panel (LAPACK dlarft,
//      T from the Gram matrix V^T V): two GEMMs per panel.
// Float64 on the host throughout; the provider's products may be float32 (ORT's f32 MatMul: ~30-50 GFLOP/s here vs
// ~6 for f64). Float32 products bound the accuracy: ||AV - VW||_F/||A||_F ~ 1e-6 and ||V^T V - I||_F ~ n * 3e-8
// (rounding of dot products of length n). Pass precision 'f64' products for ~1e-13 at ~5x the GEMM time.
//
// Measured (2-core VM shared with other jobs, Node 20, CPU backend = ORT wasm f32 products, A = G G^T/n + 1e-3 I
// unless noted; reproduce with `npx tsx bench/kernels.ts` and test/kernels/eigh-blocked.test.ts):
//   n =  256: 0.6 s quiet (3.2 s at load 7); residual 7e-7, orthogonality 1.7e-5
//   n = 1024: 3.4 s quiet (9-11 s at load 7-10); residual 6.5e-7, orthogonality 3.6e-5; SPD with condition 1e6:
//             residual 6.5e-7, orthogonality 3.4e-5 (the float64 EISPACK tred2/tql2 it replaces: 10-17 s)
//   n = 4096: 171 s at load ~3-5 (nb = 64), 346 s at load ~9 (nb = 128; tridiagonalise 285 s, tridiagonal solve 29 s,
//             back-transform 29 s): the per-column matrix-vector products against the trailing matrix (2/3 n^3
//             flops, memory-bound, sequential) dominate, then the rank-2NB GEMM updates.
//   tests (n <= 70, cond 1e6, rank-deficient, repeated eigenvalues): JS float64 products ~1e-14; ORT f32 ~1e-6 /
//             ~1e-5; WebGPU hybrid (WGSL GEMMs) residual 4e-7, orthogonality 4e-6.
import { tridiagEigh, jsMatMul, type FloatArray, type MatMul } from './reference/tridiag.ts';

/** y = A x for one fixed square matrix (prepared once per panel). */
export interface FixedMatvec {
  mul(x: Float64Array): Promise<FloatArray>;
  dispose(): void | Promise<void>;
}

export interface HostLinalg {
  /** C [m, n] = op(A) op(B), row-major */
  matmul: MatMul;
  /** 'f32': the products round to float32 anyway, so large operands are kept in float32 (less conversion) */
  precision?: 'f32' | 'f64';
  /** optional: a prepared y = A x for a fixed [n, n] matrix (used when n >= its threshold) */
  fixedMatvec?: (a: FloatArray, n: number) => Promise<FixedMatvec>;
  /** smallest n for which fixedMatvec pays off (default 512) */
  fixedMatvecMin?: number;
  /** smallest m*n*k for which matmul is used instead of JS loops (default 2^18) */
  matmulMinWork?: number;
}

export interface BlockedEighOptions {
  /** panel width (default 32 below n = 512, 64 below 2048, else 128: fewer panels, less per-panel overhead) */
  nb?: number;
  /** report phase times (ms) */
  onPhase?: (phase: 'tridiagonalise' | 'tridiagonal solve' | 'back-transform', ms: number) => void;
}

export interface BlockedEigh {
  /** ascending */
  values: Float64Array;
  /** [n, n] row-major, column j = eigenvector j (float32 when the provider's precision is 'f32') */
  vectors: FloatArray;
}

export const jsLinalg: HostLinalg = { matmul: jsMatMul };

function jsMatvec(a: FloatArray, n: number): FixedMatvec {
  return {
    async mul(x) {
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const o = i * n;
        let s0 = 0, s1 = 0;
        let k = 0;
        for (; k + 1 < n; k += 2) {
          s0 += a[o + k] * x[k];
          s1 += a[o + k + 1] * x[k + 1];
        }
        if (k < n) s0 += a[o + k] * x[k];
        y[i] = s0 + s1;
      }
      return y;
    },
    dispose() {},
  };
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Eigendecomposition of the symmetric A [n, n] (row-major; symmetrised as (A + A^T) / 2). */
export async function blockedEigh(a: ArrayLike<number>, n: number, la: HostLinalg = jsLinalg, opts: BlockedEighOptions = {}): Promise<BlockedEigh> {
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
  for (let i = 0; i < n * n; i++) if (!Number.isFinite(A[i])) throw new Error('eigh: the matrix has NaN or infinite entries');
  const minWork = la.matmulMinWork ?? 2 ** 18;
  const mm: MatMul = (x, y, m, nn, k, tA, tB) => (m * nn * k >= minWork ? la.matmul(x, y, m, nn, k, tA, tB) : jsMatMul(x, y, m, nn, k, tA, tB));
  let t0 = now();
  const tri = await tridiagonalise(A, n, opts.nb ?? (n >= 2048 ? 128 : n >= 512 ? 64 : 32), la, mm);
  opts.onPhase?.('tridiagonalise', now() - t0);
  t0 = now();
  const te = await tridiagEigh(tri.d, tri.e, n, mm);
  opts.onPhase?.('tridiagonal solve', now() - t0);
  t0 = now();
  const V = await backTransform(tri.panels, la.precision === 'f32' ? Float32Array.from(te.vectors) : te.vectors, n, mm);
  opts.onPhase?.('back-transform', now() - t0);
  return { values: te.values, vectors: V };
}

interface Panel {
  /** first column */
  p: number;
  nb: number;
  /** [n - p - 1, nb]: Householder vectors (row r = global row p + 1 + r), unit leading entries, zeros above */
  V: Float64Array;
  tau: Float64Array;
}

async function tridiagonalise(A: Float64Array, n: number, NB: number, la: HostLinalg, mm: MatMul): Promise<{ d: Float64Array; e: Float64Array; panels: Panel[] }> {
  const d = new Float64Array(n), e = new Float64Array(Math.max(n - 1, 0));
  const panels: Panel[] = [];
  const fixedMin = la.fixedMatvecMin ?? 512;
  let p = 0;
  while (p < n) {
    // the last panel takes all remaining columns (no trailing update needed after it)
    const rest = n - p;
    const nb = rest <= 2 * NB ? rest : NB;
    const mp = n - p - 1; // rows p+1..n-1
    const V = new Float64Array(Math.max(mp, 0) * nb), W = new Float64Array(Math.max(mp, 0) * nb);
    const tau = new Float64Array(nb);
    // A22 = A[p+1.., p+1..] at the panel's start
    let mv: FixedMatvec | null = null;
    if (mp > 0) {
      const a22 = la.precision === 'f32' && la.fixedMatvec && mp >= fixedMin ? new Float32Array(mp * mp) : new Float64Array(mp * mp);
      for (let r = 0; r < mp; r++) a22.set(A.subarray((p + 1 + r) * n + p + 1, (p + 1 + r) * n + n), r * mp);
      mv = la.fixedMatvec && mp >= fixedMin ? await la.fixedMatvec(a22, mp) : jsMatvec(a22, mp);
    }
    try {
      for (let j = 0; j < nb; j++) {
        const c = p + j;
        // (a) column c (rows c..n-1) minus the panel's updates so far: A[i,c] -= sum_l V[i,l] W[c,l] + W[i,l] V[c,l]
        if (j > 0) {
          const rc = c - p - 1; // local row of global row c
          for (let i = c; i < n; i++) {
            const ri = (i - p - 1) * nb;
            let s = 0;
            for (let l = 0; l < j; l++) s += V[ri + l] * W[rc * nb + l] + W[ri + l] * V[rc * nb + l];
            A[i * n + c] -= s;
          }
        }
        d[c] = A[c * n + c];
        const L = n - c - 1;
        if (L === 0) break;
        // (b) Householder reflector for x = A[c+1.., c]
        const alpha = A[(c + 1) * n + c];
        let xn2 = 0;
        for (let i = c + 2; i < n; i++) xn2 += A[i * n + c] ** 2;
        const r0 = c + 1 - p - 1; // local row of global row c+1
        if (xn2 === 0) {
          e[c] = alpha;
          tau[j] = 0;
          V[r0 * nb + j] = 1; // H = I; v kept for the WY bookkeeping (tau = 0)
          continue; // w = 0
        }
        const beta = -(alpha >= 0 ? 1 : -1) * Math.sqrt(alpha * alpha + xn2);
        const t = (beta - alpha) / beta;
        const sc = 1 / (alpha - beta);
        tau[j] = t;
        e[c] = beta;
        const v = new Float64Array(mp); // padded: local rows < r0 are zero
        v[r0] = 1;
        for (let i = c + 2; i < n; i++) v[i - p - 1] = A[i * n + c] * sc;
        for (let r = r0; r < mp; r++) V[r * nb + j] = v[r];
        // (c) w = tau (A22 v - V (W^T v) - W (V^T v)); w -= (tau/2)(w.v) v
        const y = await mv!.mul(v);
        if (j > 0) {
          const wv = new Float64Array(j), vv = new Float64Array(j);
          for (let r = r0; r < mp; r++) {
            const vr = v[r], o = r * nb;
            for (let l = 0; l < j; l++) {
              wv[l] += W[o + l] * vr;
              vv[l] += V[o + l] * vr;
            }
          }
          for (let r = r0; r < mp; r++) {
            const o = r * nb;
            let s = 0;
            for (let l = 0; l < j; l++) s += V[o + l] * wv[l] + W[o + l] * vv[l];
            y[r] -= s;
          }
        }
        let wdot = 0;
        for (let r = r0; r < mp; r++) {
          y[r] *= t;
          wdot += y[r] * v[r];
        }
        const al = -0.5 * t * wdot;
        for (let r = r0; r < mp; r++) W[r * nb + j] = y[r] + al * v[r];
      }
    } finally {
      await mv?.dispose();
    }
    if (mp > 0) panels.push({ p, nb, V, tau });
    // trailing update A[q.., q..] -= V W^T + W V^T, q = p + nb (local rows from nb - 1)
    const q = p + nb;
    const mt = n - q;
    if (mt > 0) {
      const X = new Float64Array(mt * 2 * nb), Y = new Float64Array(mt * 2 * nb);
      for (let r = 0; r < mt; r++) {
        const src = (r + nb - 1) * nb;
        for (let l = 0; l < nb; l++) {
          X[r * 2 * nb + l] = V[src + l];
          X[r * 2 * nb + nb + l] = W[src + l];
          Y[r * 2 * nb + l] = W[src + l];
          Y[r * 2 * nb + nb + l] = V[src + l];
        }
      }
      const U = await mm(X, Y, mt, mt, 2 * nb, false, true);
      for (let r = 0; r < mt; r++) {
        const o = (q + r) * n + q;
        for (let s = 0; s < mt; s++) A[o + s] -= U[r * mt + s];
      }
    }
    p = q;
  }
  return { d, e, panels };
}

/** Z <- Q Z with Q = H_0 H_1 ...: groups of panels (>= 256 columns) in reverse, each I - V T V^T (dlarft forward). */
async function backTransform(panels: Panel[], Z: FloatArray, n: number, mm: MatMul): Promise<FloatArray> {
  const groups: Panel[][] = [];
  for (let i = 0; i < panels.length; ) {
    const g: Panel[] = [];
    let w = 0;
    while (i < panels.length && (w < 256 || g.length === 0)) {
      g.push(panels[i]);
      w += panels[i++].nb;
    }
    groups.push(g);
  }
  for (let gi = groups.length - 1; gi >= 0; gi--) {
    const g = groups[gi];
    const p0 = g[0].p;
    const mp = n - p0 - 1;
    const nb = g.reduce((s, x) => s + x.nb, 0);
    // V [mp, nb] and tau [nb] of the whole group
    const V = new Float64Array(mp * nb), tau = new Float64Array(nb);
    let col = 0;
    for (const pn of g) {
      const off = pn.p - p0; // local row of the panel's first row
      const rows = n - pn.p - 1;
      for (let r = 0; r < rows; r++) for (let l = 0; l < pn.nb; l++) V[(off + r) * nb + col + l] = pn.V[r * pn.nb + l];
      tau.set(pn.tau, col);
      col += pn.nb;
    }
    const G = await mm(V, V, nb, nb, mp, true, false); // V^T V
    const T = new Float64Array(nb * nb);
    const tmp = new Float64Array(nb);
    for (let j = 0; j < nb; j++) {
      T[j * nb + j] = tau[j];
      if (tau[j] === 0) continue;
      // T[0:j, j] = -tau_j T[0:j, 0:j] G[0:j, j]
      for (let i = 0; i < j; i++) tmp[i] = G[i * nb + j];
      for (let i = 0; i < j; i++) {
        let s = 0;
        for (let l = i; l < j; l++) s += T[i * nb + l] * tmp[l];
        T[i * nb + j] = -tau[j] * s;
      }
    }
    const Zs = Z.subarray((p0 + 1) * n, n * n); // rows p0+1..n-1
    const Y = await mm(V, Zs, nb, n, mp, true, false); // V^T Z [nb, n]
    const TY = await mm(T, Y, nb, n, nb, false, false);
    const U = await mm(V, TY, mp, n, nb, false, false);
    for (let i = 0; i < mp * n; i++) Zs[i] -= U[i];
  }
  return Z;
}
