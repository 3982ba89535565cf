// Shared data generators and error measures for the kernel oracle tests (Node/vitest, Deno and the browser page).
// Seeded (xorshift + Box-Muller in float64), so failures reproduce.

export function rng(seed: number): { uniform(): number; normal(): number } {
  let s = (seed >>> 0) || 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return {
    uniform: next,
    normal() {
      const u = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
  };
}

export function randn(r: ReturnType<typeof rng>, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => r.normal() * scale);
}

/** A [B, T] mask with about `keep` of the tokens on (1) and the rest off (0); every row keeps its first token. */
export function randMask(r: ReturnType<typeof rng>, B: number, T: number, keep = 0.7): Float32Array {
  const m = new Float32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) m[b * T + t] = t === 0 || r.uniform() < keep ? 1 : 0;
  return m;
}

/** max |a - b| / max |b| */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let e = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    e = Math.max(e, Number.isNaN(d) ? Infinity : d);
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? e : e / m;
}

/** Random orthogonal n x n (Gram-Schmidt of a Gaussian matrix, twice, float64), row-major. */
export function randOrthogonal(r: ReturnType<typeof rng>, n: number): Float64Array {
  const q = Float64Array.from({ length: n * n }, () => r.normal());
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < n; i++) d += q[i * n + j] * q[i * n + k];
        for (let i = 0; i < n; i++) q[i * n + j] -= d * q[i * n + k];
      }
      let nn = 0;
      for (let i = 0; i < n; i++) nn += q[i * n + j] ** 2;
      nn = Math.sqrt(nn);
      for (let i = 0; i < n; i++) q[i * n + j] /= nn;
    }
  }
  return q;
}

/** Symmetric positive definite Q diag(w) Q^T with eigenvalues log-spaced from 1 down to 1/cond (float64 and f32). */
export function randSpd(r: ReturnType<typeof rng>, n: number, cond: number): { a64: Float64Array; a32: Float32Array; eig: Float64Array } {
  const q = randOrthogonal(r, n);
  const w = Float64Array.from({ length: n }, (_, i) => (n === 1 ? 1 : cond ** (-i / (n - 1))));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * w[k] * q[j * n + k];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  const a32 = Float32Array.from(a);
  // the f32 matrix is what the solvers see: symmetric exactly
  return { a64: Float64Array.from(a32), a32, eig: w.sort() };
}

/** ||A V - V diag(w)||_F / ||A||_F and ||V^T V - I||_F for V [n, n] (columns = vectors), in float64. */
export function eighErrors(a: ArrayLike<number>, n: number, w: ArrayLike<number>, v: ArrayLike<number>): { residual: number; orthogonality: number } {
  let num = 0, den = 0, orth = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * v[k * n + j];
      num += (s - v[i * n + j] * w[j]) ** 2;
      den += a[i * n + j] ** 2;
      let o = 0;
      for (let k = 0; k < n; k++) o += v[k * n + i] * v[k * n + j];
      orth += (o - (i === j ? 1 : 0)) ** 2;
    }
  return { residual: Math.sqrt(num / den), orthogonality: Math.sqrt(orth) };
}

/** ||X H - G||_F / ||G||_F for H = A + lambda I, X and G [m, n]. */
export function solveResidual(a: ArrayLike<number>, n: number, lambda: number, x: ArrayLike<number>, g: ArrayLike<number>, m: number): number {
  let num = 0, den = 0;
  for (let r = 0; r < m; r++)
    for (let j = 0; j < n; j++) {
      let s = lambda * x[r * n + j];
      for (let k = 0; k < n; k++) s += x[r * n + k] * a[k * n + j];
      num += (s - g[r * n + j]) ** 2;
      den += g[r * n + j] ** 2;
    }
  return Math.sqrt(num / den);
}

/** Checks a whitener Wt [n, n] (float32) of H = A + lambda I: max |lower part| (must be 0: Wt = L^{-T} is upper
 *  triangular) and ||H Wt Wt^T - I|| (relative, as solveResidual). */
export function whitenerErrors(a: ArrayLike<number>, n: number, lambda: number, wt: ArrayLike<number>): { lower: number; residual: number } {
  let lower = 0;
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) lower = Math.max(lower, Math.abs(wt[i * n + j]));
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += wt[i * n + c] * wt[j * n + c];
      inv[i * n + j] = s;
    }
  }
  const eye = Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
  return { lower, residual: solveResidual(a, n, lambda, inv, eye, n) };
}
