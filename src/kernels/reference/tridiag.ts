// Symmetric tridiagonal eigensolver: Cuppen's divide and conquer with deflation and the Gu-Eisenstat eigenvector
// formula (the LAPACK dstedc / dlaed0-4 scheme), float64 TypeScript for the O(n^2) parts and a caller-supplied
// matrix product for the O(n^3) part (merging eigenvector blocks: Q = blockdiag(Q1, Q2) U). Leaves of size <= 32
// use implicit QL (tql2). The matrix is scaled to max-norm 1 first so that the deflation tolerance is absolute.
//
// Why divide and conquer: the eigenvector work is GEMM-shaped (and shrinks with deflation, which covariance spectra
// with clusters and zero eigenvalues trigger a lot), where QL's is 3n^3 flops of plane rotations in JS
// (~10 s at n = 1024 here). Orthogonality comes from the Gu-Eisenstat recomputation of z, not from the accuracy of
// the secular roots, so a float32 matrix product is enough for the 1e-4 bounds (see eigh-blocked.ts for numbers).
import { tql2 } from './eigh.ts';

export type FloatArray = Float32Array | Float64Array;

/** C [m, n] = op(A) op(B), row-major (the arithmetic and the result may be float32). */
export type MatMul = (a: FloatArray, b: FloatArray, m: number, n: number, k: number, transA: boolean, transB: boolean) => Promise<FloatArray>;

/** Plain float64 JS product (i-k-j loops): the fallback and the test reference. */
export const jsMatMul: MatMul = async (a, b, m, n, k, transA, transB) => {
  const c = new Float64Array(m * n);
  const bt = transB ? transposeOf(b, n, k) : b; // B as [k, n]
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const aip = transA ? a[p * m + i] : a[i * k + p];
      if (aip === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += aip * bt[bp + j];
    }
  }
  return c;
};

export function transposeOf(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

const EPS = 2 ** -52;
const LEAF = 32;

export interface TridiagEigh {
  /** ascending */
  values: Float64Array;
  /** [n, n] row-major, column j = eigenvector j */
  vectors: Float64Array;
  /** how many of the merge eigenpairs were deflated (diagnostics) */
  deflated: number;
}

/** Eigenpairs of the symmetric tridiagonal matrix with diagonal d [n] and off-diagonal e [n - 1]. */
export async function tridiagEigh(d: ArrayLike<number>, e: ArrayLike<number>, n: number, matmul: MatMul = jsMatMul): Promise<TridiagEigh> {
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(d[i]));
  for (let i = 0; i < n - 1; i++) scale = Math.max(scale, Math.abs(e[i]));
  if (n === 0 || scale === 0 || !Number.isFinite(scale)) {
    if (!Number.isFinite(scale)) throw new Error('eigh: the matrix has NaN or infinite entries');
    const v = new Float64Array(n * n);
    for (let i = 0; i < n; i++) v[i * n + i] = 1;
    return { values: new Float64Array(n), vectors: v, deflated: 0 };
  }
  const ds = Float64Array.from({ length: n }, (_, i) => d[i] / scale);
  const es = Float64Array.from({ length: Math.max(n - 1, 0) }, (_, i) => e[i] / scale);
  const stats = { deflated: 0 };
  const r = await solve(ds, es, n, matmul, stats);
  for (let i = 0; i < n; i++) r.w[i] *= scale;
  return { values: r.w, vectors: r.q, deflated: stats.deflated };
}

interface Pair {
  w: Float64Array;
  q: Float64Array;
}

async function solve(d: Float64Array, e: Float64Array, n: number, matmul: MatMul, stats: { deflated: number }): Promise<Pair> {
  if (n <= LEAF) return leaf(d, e, n);
  const m = n >> 1;
  const beta = e[m - 1];
  const rho = Math.abs(beta);
  const s = beta < 0 ? -1 : 1;
  const d1 = d.slice(0, m), d2 = d.slice(m);
  d1[m - 1] -= rho;
  d2[0] -= rho;
  const [p1, p2] = [await solve(d1, e.slice(0, m - 1), m, matmul, stats), await solve(d2, e.slice(m), n - m, matmul, stats)];
  return merge(p1, p2, m, n, rho, s, matmul, stats);
}

function leaf(d: Float64Array, e: Float64Array, n: number): Pair {
  const W = new Float64Array(n * n);
  for (let i = 0; i < n; i++) W[i * n + i] = 1;
  const dd = d.slice();
  const ee = new Float64Array(n);
  for (let i = 1; i < n; i++) ee[i] = e[i - 1];
  tql2(W, dd, ee, n);
  return { w: dd, q: transposeOf(W, n, n) };
}

/**
 * Eigenpairs of blockdiag(T1, T2) + rho u u^T, u = e_{m-1} + s e_m, from those of T1 (p1) and T2 (p2).
 * In the basis of the block eigenvectors the matrix is D + rho z z^T with z = [last row of Q1; s * first row of Q2].
 */
async function merge(p1: Pair, p2: Pair, m: number, n: number, rho: number, s: number, matmul: MatMul, stats: { deflated: number }): Promise<Pair> {
  const n2 = n - m;
  // columns of the block-diagonal eigenvector matrix, kept as separate top [m] and bottom [n2] parts
  const D = new Float64Array(n);
  const z = new Float64Array(n);
  D.set(p1.w, 0);
  D.set(p2.w, m);
  for (let j = 0; j < m; j++) z[j] = p1.q[(m - 1) * m + j];
  for (let j = 0; j < n2; j++) z[m + j] = s * p2.q[j];
  // column j: top part (rows 0..m-1) and bottom part (rows m..n-1); null = all zero
  const top: (Float64Array | null)[] = new Array(n).fill(null);
  const bot: (Float64Array | null)[] = new Array(n).fill(null);
  for (let j = 0; j < m; j++) {
    const c = new Float64Array(m);
    for (let i = 0; i < m; i++) c[i] = p1.q[i * m + j];
    top[j] = c;
  }
  for (let j = 0; j < n2; j++) {
    const c = new Float64Array(n2);
    for (let i = 0; i < n2; i++) c[i] = p2.q[i * n2 + j];
    bot[m + j] = c;
  }
  // normalise z (||z||^2 = 2 in exact arithmetic)
  let zn = 0;
  for (let j = 0; j < n; j++) zn += z[j] * z[j];
  zn = Math.sqrt(zn);
  for (let j = 0; j < n; j++) z[j] /= zn;
  rho *= zn * zn;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => D[a] - D[b]);
  let dmax = 0;
  for (let j = 0; j < n; j++) dmax = Math.max(dmax, Math.abs(D[j]));
  const tol = 8 * EPS * Math.max(dmax, rho);
  const deflated: number[] = [];
  const kept: number[] = [];
  const rotate = (p: number, j: number, c: number, sn: number) => {
    // [q_p, q_j] <- [c q_p - sn q_j, sn q_p + c q_j]
    const mix = (P: (Float64Array | null)[], len: number) => {
      const a = P[p], b = P[j];
      if (!a && !b) return;
      const x = a ?? new Float64Array(len), y = b ?? new Float64Array(len);
      for (let i = 0; i < len; i++) {
        const xi = x[i], yi = y[i];
        x[i] = c * xi - sn * yi;
        y[i] = sn * xi + c * yi;
      }
      P[p] = x;
      P[j] = y;
    };
    mix(top, m);
    mix(bot, n2);
  };
  let cand = -1;
  for (const j of order) {
    if (rho * Math.abs(z[j]) <= tol) {
      deflated.push(j);
      continue;
    }
    if (cand < 0) {
      cand = j;
      continue;
    }
    const p = cand;
    const r = Math.hypot(z[p], z[j]);
    const c = z[j] / r, sn = z[p] / r;
    if (Math.abs(c * sn * (D[j] - D[p])) <= tol) {
      // close poles: rotate so that z_p = 0 and deflate p
      rotate(p, j, c, sn);
      const dp = D[p], dj = D[j];
      D[p] = c * c * dp + sn * sn * dj;
      D[j] = sn * sn * dp + c * c * dj;
      z[p] = 0;
      z[j] = r;
      deflated.push(p);
      cand = j;
    } else {
      kept.push(p);
      cand = j;
    }
  }
  if (cand >= 0) kept.push(cand);
  stats.deflated += deflated.length;
  kept.sort((a, b) => D[a] - D[b]);
  const k = kept.length;
  const dk = Float64Array.from(kept, (j) => D[j]);
  const zk = Float64Array.from(kept, (j) => z[j]);
  const lam = new Float64Array(k);
  const U = k ? secularVectors(dk, zk, rho, lam) : new Float64Array(0); // [k, k]: U[j*k + i] = component j of vector i
  // new columns = Qk U, with Qk the kept columns; split by which rows are non-zero
  const newTop = new Float64Array(m * k), newBot = new Float64Array(n2 * k);
  for (const [P, len, out] of [[top, m, newTop], [bot, n2, newBot]] as const) {
    const rows: number[] = [];
    for (let r = 0; r < k; r++) if (P[kept[r]]) rows.push(r);
    if (!rows.length) continue;
    const kk = rows.length;
    const A = new Float64Array(len * kk);
    rows.forEach((r, c) => {
      const col = P[kept[r]]!;
      for (let i = 0; i < len; i++) A[i * kk + c] = col[i];
    });
    const Us = new Float64Array(kk * k);
    rows.forEach((r, c) => Us.set(U.subarray(r * k, (r + 1) * k), c * k));
    out.set(await matmul(A, Us, len, k, kk, false, false));
  }
  // assemble all n eigenpairs, ascending
  const vals: number[] = [];
  const src: { kind: 'new' | 'old'; idx: number }[] = [];
  for (const j of deflated) {
    vals.push(D[j]);
    src.push({ kind: 'old', idx: j });
  }
  for (let i = 0; i < k; i++) {
    vals.push(lam[i]);
    src.push({ kind: 'new', idx: i });
  }
  const perm = Array.from({ length: n }, (_, i) => i).sort((a, b) => vals[a] - vals[b]);
  const w = new Float64Array(n);
  const q = new Float64Array(n * n);
  perm.forEach((pi, col) => {
    w[col] = vals[pi];
    const sr = src[pi];
    if (sr.kind === 'new') {
      for (let i = 0; i < m; i++) q[i * n + col] = newTop[i * k + sr.idx];
      for (let i = 0; i < n2; i++) q[(m + i) * n + col] = newBot[i * k + sr.idx];
    } else {
      const t = top[sr.idx], b = bot[sr.idx];
      if (t) for (let i = 0; i < m; i++) q[i * n + col] = t[i];
      if (b) for (let i = 0; i < n2; i++) q[(m + i) * n + col] = b[i];
    }
  });
  return { w, q };
}

/**
 * Roots of the secular equation 1 + rho sum_j z_j^2 / (d_j - lambda) = 0 (d ascending and distinct, rho > 0) and
 * the eigenvectors of diag(d) + rho z z^T by the Gu-Eisenstat formula. Each root is kept as (origin pole, offset)
 * so that d_j - lambda_i is computed without cancellation. Returns U [k, k] (column i = vector i); fills lam.
 */
export function secularVectors(d: Float64Array, z: Float64Array, rho: number, lam: Float64Array): Float64Array {
  const k = d.length;
  const org = new Int32Array(k);
  const tau = new Float64Array(k);
  let zz = 0;
  for (let j = 0; j < k; j++) zz += z[j] * z[j];
  const delta = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    // bracket the root in offsets from the nearer pole
    let o = i, lo = 0, hi = 0;
    if (i < k - 1) {
      const gap = d[i + 1] - d[i];
      const mid = gap / 2;
      let f = 1;
      for (let j = 0; j < k; j++) f += (rho * z[j] * z[j]) / (d[j] - d[i] - mid);
      if (f >= 0) {
        o = i;
        lo = 0;
        hi = mid;
      } else {
        o = i + 1;
        lo = -mid;
        hi = 0;
      }
    } else {
      o = i;
      lo = 0;
      hi = rho * zz * (1 + 4 * EPS) + EPS * Math.abs(d[i]);
    }
    for (let j = 0; j < k; j++) delta[j] = d[j] - d[o];
    let t = (lo + hi) / 2;
    for (let it = 0; it < 200; it++) {
      let f = 1, fp = 0, fa = 1;
      for (let j = 0; j < k; j++) {
        const den = delta[j] - t;
        const q = (z[j] * z[j]) / den;
        f += rho * q;
        fp += (rho * q) / den;
        fa += Math.abs(rho * q);
      }
      if (f === 0 || Math.abs(f) <= 8 * EPS * k * fa) break;
      if (f > 0) hi = t;
      else lo = t;
      let next = t - f / fp;
      if (!(next > lo && next < hi)) next = (lo + hi) / 2;
      if (hi - lo <= 2 * EPS * Math.max(Math.abs(lo), Math.abs(hi)) || next === t) break;
      t = next;
    }
    org[i] = o;
    tau[i] = t;
    lam[i] = d[o] + t;
  }
  // d_j - lambda_i = (d_j - d_org(i)) - tau_i
  const diff = (j: number, i: number) => d[j] - d[org[i]] - tau[i];
  // Gu-Eisenstat: zhat_j^2 = prod_i (lambda_i - d_j) / (rho prod_{i != j} (d_i - d_j))
  const zh = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let p = -diff(j, k - 1) / rho;
    for (let i = 0; i < k - 1; i++) {
      // pair lambda_i with d_i (i < j) or d_{i+1} (i >= j): each ratio is positive by interlacing
      const di = i < j ? i : i + 1;
      p *= -diff(j, i) / (d[di] - d[j]);
    }
    zh[j] = Math.sign(z[j]) * Math.sqrt(Math.max(p, 0));
  }
  const U = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    let nn = 0;
    for (let j = 0; j < k; j++) {
      const v = zh[j] / diff(j, i);
      U[j * k + i] = v;
      nn += v * v;
    }
    nn = Math.sqrt(nn);
    for (let j = 0; j < k; j++) U[j * k + i] /= nn;
  }
  return U;
}
