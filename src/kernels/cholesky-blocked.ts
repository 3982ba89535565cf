// Blocked Cholesky of H = A + lambda I and the triangular inverse L^{-1} on the host, float64 with the GEMM-shaped
// work handed to a matrix-product provider (eigh-host.ts: onnxruntime-web wasm MatMul, float64 for these; plain JS
// as a fallback). The CPU backend's whitener (H^{-1} = L^{-T} L^{-1}).
//
//   factor (left-looking, blocks of NB columns): S = A[k:, k:k+b] + lambda I - L[k:, :k] L[k:k+b, :k]^T (one GEMM),
//          then the b x b diagonal block by unblocked Cholesky and the panel below it by a b x b triangular solve.
//   inverse by block rows: one GEMM against the rows already inverted, a b x b substitution per block.
// Work: n^3/3 multiply-adds each, all but O(n^2 b) of it in GEMMs.
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
  // L starts as A (float64), so every read below is of one array type; its upper triangle is cleared at the end
  const L = Float64Array.from(a);
  for (let k = 0; k < n; k += nb) {
    const b = Math.min(nb, n - k);
    const rows = n - k;
    // S [rows, b] = A[k:, k:k+b] (lower triangle mirrored) + lambda on the diagonal
    const S = new Float64Array(rows * b);
    for (let r = 0; r < rows; r++) {
      const i = k + r, o = i * n + k;
      const lim = Math.min(b, r + 1);
      S.set(L.subarray(o, o + lim), r * b);
      for (let c = lim; c < b; c++) S[r * b + c] = L[(k + c) * n + i];
      if (r < b) S[r * b + r] += lambda;
    }
    if (k > 0) {
      const Lr = new Float64Array(rows * k);
      for (let r = 0; r < rows; r++) Lr.set(L.subarray((k + r) * n, (k + r) * n + k), r * k);
      const Lb = Lr.subarray(0, b * k);
      const U = await mm(Lr, Lb, rows, b, k, false, true);
      for (let i = 0; i < rows * b; i++) S[i] -= U[i];
    }
    // unblocked Cholesky of the top b x b block
    for (let j = 0; j < b; j++) {
      let dj = S[j * b + j];
      for (let c = 0; c < j; c++) dj -= S[j * b + c] ** 2;
      if (!(dj > 0)) throw new NotPositiveDefiniteError(k + j, n);
      const ljj = Math.sqrt(dj);
      S[j * b + j] = ljj;
      for (let r = j + 1; r < b; r++) {
        let s = S[r * b + j];
        for (let c = 0; c < j; c++) s -= S[r * b + c] * S[j * b + c];
        S[r * b + j] = s / ljj;
      }
    }
    // the rows below: L21 = S21 L11^{-T}, one GEMM against the b x b inverse
    if (rows > b) {
      const inv = new Float64Array(b * b);
      for (let r = 0; r < b; r++) {
        inv[r * b + r] = 1;
        for (let c = 0; c < r; c++) {
          const l = S[r * b + c];
          if (l === 0) continue;
          for (let q = 0; q <= c; q++) inv[r * b + q] -= l * inv[c * b + q];
        }
        const d = 1 / S[r * b + r];
        for (let q = 0; q <= r; q++) inv[r * b + q] *= d;
      }
      const below = S.subarray(b * b);
      below.set(await mm(below, inv, rows - b, b, b, false, true));
    }
    for (let r = 0; r < rows; r++) {
      const lim = Math.min(b, r + 1);
      L.set(S.subarray(r * b, r * b + lim), (k + r) * n + k);
    }
  }
  for (let i = 0; i < n; i++) L.fill(0, i * n + i + 1, (i + 1) * n); // the upper triangle (A's) is not L's
  return { n, L };
}

/**
 * L^{-1} (lower triangular, [n, n] row-major) from a Cholesky factor, recursively on halves:
 *   [[A, 0], [B, C]]^{-1} = [[A^{-1}, 0], [-C^{-1} B A^{-1}, C^{-1}]]
 * two GEMMs per level (n^3 / 3 multiply-adds in all, in a few large products), substitution below nb.
 */
export async function blockedTriInverse(f: HostCholesky, matmul: MatMul = jsMatMul, nb = NB): Promise<Float64Array> {
  const { n, L } = f;
  const mm = small(matmul);
  const X = new Float64Array(n * n);
  /** block [r0, r0 + size) of the diagonal, inverted into X */
  const inv = async (r0: number, size: number): Promise<void> => {
    if (size <= nb) {
      for (let r = 0; r < size; r++) {
        const row = X.subarray((r0 + r) * n + r0, (r0 + r) * n + r0 + r + 1);
        row[r] = 1;
        for (let c = 0; c < r; c++) {
          const l = L[(r0 + r) * n + r0 + c];
          if (l === 0) continue;
          const src = X.subarray((r0 + c) * n + r0, (r0 + c) * n + r0 + c + 1);
          for (let q = 0; q < src.length; q++) row[q] -= l * src[q];
        }
        const d = 1 / L[(r0 + r) * n + r0 + r];
        for (let q = 0; q <= r; q++) row[q] *= d;
      }
      return;
    }
    const h = Math.ceil(size / 2 / nb) * nb;
    const m = size - h;
    await inv(r0, h);
    await inv(r0 + h, m);
    const block = (src: Float64Array, row0: number, col0: number, rows: number, cols: number) => {
      const out = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) out.set(src.subarray((row0 + r) * n + col0, (row0 + r) * n + col0 + cols), r * cols);
      return out;
    };
    // X21 = -C^{-1} (B A^{-1}), B = L[r0+h:, r0:r0+h]
    const T = await mm(block(L, r0 + h, r0, m, h), block(X, r0, r0, h, h), m, h, h, false, false);
    const Y = await mm(block(X, r0 + h, r0 + h, m, m), T, m, h, m, false, false);
    for (let r = 0; r < m; r++) {
      const dst = X.subarray((r0 + h + r) * n + r0, (r0 + h + r) * n + r0 + h);
      for (let c = 0; c < h; c++) dst[c] = -Y[r * h + c];
    }
  };
  if (n > 0) await inv(0, n);
  return X;
}
