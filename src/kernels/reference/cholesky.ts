// float64 Cholesky of A + lambda I and triangular solves: the CPU backend's solver and the GPU kernels' reference.
import { NotPositiveDefiniteError } from '../../gpu/errors.ts';

/** Lower-triangular L [n, n] with L L^T = A + lambda I (reads the lower triangle of A). */
export function refCholesky(a: ArrayLike<number>, n: number, lambda = 0): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] + lambda;
    for (let c = 0; c < j; c++) d -= L[j * n + c] * L[j * n + c];
    if (!(d > 0)) throw new NotPositiveDefiniteError(j, n);
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let c = 0; c < j; c++) s -= L[i * n + c] * L[j * n + c];
      L[i * n + j] = s / ljj;
    }
  }
  return L;
}

/** X = G (L L^T)^{-1} for the rows of G [m, n]. */
export function refCholeskySolve(L: Float64Array, n: number, g: ArrayLike<number>, m: number): Float64Array {
  const x = Float64Array.from({ length: m * n }, (_, i) => g[i]);
  for (let r = 0; r < m; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) {
      let s = x[o + j];
      for (let c = 0; c < j; c++) s -= L[j * n + c] * x[o + c];
      x[o + j] = s / L[j * n + j];
    }
    for (let j = n - 1; j >= 0; j--) {
      const xj = x[o + j] / L[j * n + j];
      x[o + j] = xj;
      for (let c = 0; c < j; c++) x[o + c] -= L[j * n + c] * xj;
    }
  }
  return x;
}
