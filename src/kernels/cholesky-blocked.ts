// Blocked Cholesky of H = A + lambda I and triangular solves for many right-hand sides on the host, float64 with
// the GEMM-shaped work handed to a matrix-product provider (eigh-host.ts: onnxruntime-web wasm MatMul, float64 by
// default for the solver; plain JS as a fallback). The CPU backend's precondition / dampedInverse.
//
//   factor (left-looking, blocks of NB columns): S = A[k:, k:k+b] + lambda I - L[k:, :k] L[k:k+b, :k]^T (one GEMM),
//          then the b x b diagonal block by unblocked Cholesky and the panel below it by a b x b triangular solve.
//   solve  X H = G for the rows of G [m, n]: on G^T [n, m] (block rows are contiguous), forward L Z = G^T then
//          backward L^T X^T = Z, block by block: one GEMM against the solved blocks, a b x b substitution per block.
// Work: n^3/3 (factor) + 2 m n^2 (solve) flops, all but O(n^2 b + m n b) of it in GEMMs.
import { NotPositiveDefiniteError } from '../gpu/errors.ts';
import { jsMatMul, type MatMul } from './reference/tridiag.ts';

const NB = 64;

export interface HostCholesky {
  n: number;
  /** [n, n] row-major lower triangle (upper part zero) */
  L: Float64Array;
}

function small(mm: MatMul, minWork = 2 ** 16): MatMul {
  return (a, b, m, n, k, tA, tB) => (m * n * k >= minWork ? mm(a, b, m, n, k, tA, tB) : jsMatMul(a, b, m, n, k, tA, tB));
}

/** L L^T = A + lambda I (reads the lower triangle of A [n, n]). Throws NotPositiveDefiniteError. */
export async function blockedCholesky(a: ArrayLike<number>, n: number, lambda: number, matmul: MatMul = jsMatMul, nb = NB): Promise<HostCholesky> {
  const mm = small(matmul);
  const L = new Float64Array(n * n);
  for (let k = 0; k < n; k += nb) {
    const b = Math.min(nb, n - k);
    const rows = n - k;
    // S [rows, b] = A[k:, k:k+b] (lower triangle mirrored) + lambda on the diagonal
    const S = new Float64Array(rows * b);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < b; c++) {
        const i = k + r, j = k + c;
        S[r * b + c] = i >= j ? a[i * n + j] : a[j * n + i];
        if (i === j) S[r * b + c] += lambda;
      }
    if (k > 0) {
      const Lr = new Float64Array(rows * k);
      for (let r = 0; r < rows; r++) Lr.set(L.subarray((k + r) * n, (k + r) * n + k), r * k);
      const Lb = Lr.subarray(0, b * k);
      const U = await mm(Lr, Lb, rows, b, k, false, true);
      for (let i = 0; i < rows * b; i++) S[i] -= U[i];
    }
    // unblocked Cholesky of the top b x b block, then the rows below: L21 = S21 L11^{-T}
    for (let j = 0; j < b; j++) {
      let dj = S[j * b + j];
      for (let c = 0; c < j; c++) dj -= S[j * b + c] ** 2;
      if (!(dj > 0)) throw new NotPositiveDefiniteError(k + j, n);
      const ljj = Math.sqrt(dj);
      S[j * b + j] = ljj;
      for (let r = j + 1; r < rows; r++) {
        let s = S[r * b + j];
        for (let c = 0; c < j; c++) s -= S[r * b + c] * S[j * b + c];
        S[r * b + j] = s / ljj;
      }
    }
    for (let r = 0; r < rows; r++) {
      const lim = Math.min(b, r + 1); // upper part of the diagonal block stays zero
      for (let c = 0; c < lim; c++) L[(k + r) * n + k + c] = S[r * b + c];
    }
  }
  return { n, L };
}

/** X = G (L L^T)^{-1} for the rows of G [m, n]. */
export async function blockedCholeskySolve(f: HostCholesky, g: ArrayLike<number>, m: number, matmul: MatMul = jsMatMul, nb = NB): Promise<Float64Array> {
  const { n, L } = f;
  const mm = small(matmul);
  // B = G^T [n, m]
  const B = new Float64Array(n * m);
  for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) B[j * m + r] = g[r * n + j];
  // forward: L Z = B, block rows top to bottom
  for (let k = 0; k < n; k += nb) {
    const b = Math.min(nb, n - k);
    const Bk = B.subarray(k * m, (k + b) * m);
    if (k > 0) {
      const Lk = new Float64Array(b * k);
      for (let r = 0; r < b; r++) Lk.set(L.subarray((k + r) * n, (k + r) * n + k), r * k);
      const U = await mm(Lk, B.subarray(0, k * m), b, m, k, false, false);
      for (let i = 0; i < b * m; i++) Bk[i] -= U[i];
    }
    for (let r = 0; r < b; r++) {
      const row = Bk.subarray(r * m, (r + 1) * m);
      for (let c = 0; c < r; c++) {
        const l = L[(k + r) * n + k + c];
        if (l === 0) continue;
        const src = Bk.subarray(c * m, (c + 1) * m);
        for (let q = 0; q < m; q++) row[q] -= l * src[q];
      }
      const inv = 1 / L[(k + r) * n + k + r];
      for (let q = 0; q < m; q++) row[q] *= inv;
    }
  }
  // backward: L^T X = Z, block rows bottom to top
  const nBlocks = Math.ceil(n / nb);
  for (let bi = nBlocks - 1; bi >= 0; bi--) {
    const k = bi * nb;
    const b = Math.min(nb, n - k);
    const Bk = B.subarray(k * m, (k + b) * m);
    const below = n - k - b;
    if (below > 0) {
      // L[k+b:, k:k+b]^T X[k+b:]
      const Lk = new Float64Array(below * b);
      for (let r = 0; r < below; r++) Lk.set(L.subarray((k + b + r) * n + k, (k + b + r) * n + k + b), r * b);
      const U = await mm(Lk, B.subarray((k + b) * m, n * m), b, m, below, true, false);
      for (let i = 0; i < b * m; i++) Bk[i] -= U[i];
    }
    for (let r = b - 1; r >= 0; r--) {
      const row = Bk.subarray(r * m, (r + 1) * m);
      for (let c = r + 1; c < b; c++) {
        const l = L[(k + c) * n + k + r];
        if (l === 0) continue;
        const src = Bk.subarray(c * m, (c + 1) * m);
        for (let q = 0; q < m; q++) row[q] -= l * src[q];
      }
      const inv = 1 / L[(k + r) * n + k + r];
      for (let q = 0; q < m; q++) row[q] *= inv;
    }
  }
  const X = new Float64Array(m * n);
  for (let j = 0; j < n; j++) for (let r = 0; r < m; r++) X[r * n + j] = B[j * m + r];
  return X;
}
