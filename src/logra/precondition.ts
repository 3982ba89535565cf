// The fitted preconditioner of one tapped layer, H^{-1} = (C + lambda I)^{-1}, in one of four forms; the fit chooses
// the form by cost (fit.ts) and every later use is a GEMM (no factorisation after the fit). g = vec(G_l) (k values),
// N logged examples, rows of G [N, k] the stored gradients.
//   none:    H^{-1} = I (plain dot products).
//   whiten:  raw, N >= k: Wt = L^{-T} with L L^T = C + lambda I (k x k), H^{-1} = Wt Wt^T; g^T H^{-1} g = |g Wt|^2.
//   kernel:  raw, N < k (Woodbury): with K = G G^T (N x N) and M = K + c I, c = N lambda, and Wt = L^{-T} for
//            L L^T = M (so M^{-1} = Wt Wt^T):
//              H^{-1} q           = (1/lambda) (q - G^T M^{-1} G q)
//              q^T H^{-1} g_n     = N (M^{-1} a)_n              with a = G q (the raw dot products with every row)
//              q^T H^{-1} q       = (N / c) (|q|^2 - |a^T Wt|^2)
//              g_n^T H^{-1} g_n   = N (1 - c |Wt[n, :]|^2)      (self-influence from the fit alone)
//              H^{-1} g_n         = G^T beta_n, beta_n = N M^{-1} e_n  (a pass over the stored rows)
//            Scores need the raw dots of every stored row first, so queries score kernel layers separately.
//   eigen:   kfac / ekfac: U = U_S (x) U_A, H^{-1} = U diag(1 / (w + lambda)) U^T; g^T H^{-1} g = sum (U^T g)^2 / (w + lambda).
import type { BTensor, KernelBackend } from '../kernels/backend.ts';
import type { IndexLayer } from './layout.ts';
import type { HessianKind } from './types.ts';

export type PreconditionerForm = 'none' | 'whiten' | 'kernel' | 'eigen';

type Tensors = Record<string, { shape: number[]; data: Float32Array }>;
type TensorReader = { get(name: string, shape?: number[]): Float32Array };

/** C = A B (row-major float32 on the host) through the backend, freeing its tensors. */
async function mul(backend: KernelBackend, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], o: { transA?: boolean; transB?: boolean } = {}): Promise<Float32Array> {
  const ta = backend.tensor(a, aShape), tb = backend.tensor(b, bShape);
  const tmp: BTensor[] = [ta, tb];
  try {
    const c = await backend.gemm(ta, tb, o);
    tmp.push(c);
    return await backend.read(c);
  } finally {
    for (const t of tmp) t.dispose();
  }
}

/** sum of squares of each row of x [m, k], float64 accumulation */
export function rowSquares(x: Float32Array, m: number, k: number, weights?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    const o = i * k;
    if (weights) for (let j = 0; j < k; j++) s += x[o + j] * x[o + j] * weights[j];
    else for (let j = 0; j < k; j++) s += x[o + j] * x[o + j];
    out[i] = s;
  }
  return out;
}

/** row-wise dot products of a and b [m, k] */
export function rowDots(a: Float32Array, b: Float32Array, m: number, k: number): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    const o = i * k;
    for (let j = 0; j < k; j++) s += a[o + j] * b[o + j];
    out[i] = s;
  }
  return out;
}

/** (C_l + lambda_l I)^{-1} of one layer. */
export abstract class LayerPreconditioner {
  abstract readonly form: PreconditionerForm;
  constructor(
    readonly layer: IndexLayer,
    readonly kind: HessianKind,
    readonly lambda: number,
  ) {}

  /** k = k_in k_out */
  get k(): number {
    return this.layer.kIn * this.layer.kOut;
  }

  /** Whether scoring needs the raw dot products with every stored row first (the kernel form). */
  get scoresFromDots(): boolean {
    return false;
  }

  /** H^{-1} g for rows [m, k] (not the kernel form: it needs the stored rows, see KernelPreconditioner). */
  abstract precondition(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float32Array>;

  /** g^T H^{-1} g for rows [m, k] (not the kernel form). */
  abstract quad(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float64Array>;

  /** serialisable form (the fit blob of this layer) */
  abstract tensors(): Tensors;

  /** bytes held in memory */
  abstract get bytes(): number;
}

export class IdentityPreconditioner extends LayerPreconditioner {
  readonly form = 'none';
  constructor(layer: IndexLayer) {
    super(layer, 'none', 0);
  }
  async precondition(_b: KernelBackend, rows: Float32Array): Promise<Float32Array> {
    return rows.slice();
  }
  async quad(_b: KernelBackend, rows: Float32Array, m: number): Promise<Float64Array> {
    return rowSquares(rows, m, this.k);
  }
  tensors(): Tensors {
    return {};
  }
  get bytes(): number {
    return 0;
  }
}

/** raw, covariance form: H^{-1} = Wt Wt^T with Wt = L^{-T} [k, k]. */
export class WhitenPreconditioner extends LayerPreconditioner {
  readonly form = 'whiten';
  constructor(
    layer: IndexLayer,
    lambda: number,
    /** L^{-T} [k, k], L L^T = C + lambda I */
    readonly wt: Float32Array,
  ) {
    super(layer, 'raw', lambda);
  }
  /** rows Wt: whitened rows, |g Wt|^2 = g^T H^{-1} g */
  whiten(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float32Array> {
    return mul(backend, rows, [m, this.k], this.wt, [this.k, this.k]);
  }
  async precondition(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float32Array> {
    if (m === 0) return new Float32Array(0);
    return mul(backend, await this.whiten(backend, rows, m), [m, this.k], this.wt, [this.k, this.k], { transB: true });
  }
  async quad(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float64Array> {
    if (m === 0) return new Float64Array(0);
    return rowSquares(await this.whiten(backend, rows, m), m, this.k);
  }
  tensors(): Tensors {
    return { wt: { shape: [this.k, this.k], data: this.wt } };
  }
  get bytes(): number {
    return this.wt.byteLength;
  }
}

/** raw, kernel (Woodbury) form over the N stored rows: see the file comment. */
export class KernelPreconditioner extends LayerPreconditioner {
  readonly form = 'kernel';
  constructor(
    layer: IndexLayer,
    lambda: number,
    /** number of stored rows the fit saw */
    readonly n: number,
    /** L^{-T} [n, n], L L^T = G G^T + n lambda I */
    readonly wt: Float32Array,
  ) {
    super(layer, 'raw', lambda);
  }
  get c(): number {
    return this.n * this.lambda;
  }
  override get scoresFromDots(): boolean {
    return true;
  }
  /** M^{-1} a for rows of raw dot products a [m, n] (rows a M^{-1}) */
  async solveDots(backend: KernelBackend, dots: Float32Array, m: number): Promise<Float32Array> {
    const t = await mul(backend, dots, [m, this.n], this.wt, [this.n, this.n]);
    return mul(backend, t, [m, this.n], this.wt, [this.n, this.n], { transB: true });
  }
  /** scores q^T H^{-1} g_n = N (M^{-1} a)_n from the raw dots a [m, n] */
  async scores(backend: KernelBackend, dots: Float32Array, m: number): Promise<Float32Array> {
    if (m === 0) return new Float32Array(0);
    const s = await this.solveDots(backend, dots, m);
    for (let i = 0; i < s.length; i++) s[i] *= this.n;
    return s;
  }
  /** q^T H^{-1} q from the rows q [m, k] and their raw dots a [m, n] */
  async quadFromDots(backend: KernelBackend, rows: Float32Array, dots: Float32Array, m: number): Promise<Float64Array> {
    if (m === 0) return new Float64Array(0);
    const qq = rowSquares(rows, m, this.k);
    const aw = rowSquares(await mul(backend, dots, [m, this.n], this.wt, [this.n, this.n]), m, this.n);
    return qq.map((v, i) => Math.max(0, (this.n / this.c) * (v - aw[i])));
  }
  /** self-influence of every stored row: N (1 - c |Wt[n, :]|^2) */
  selfInfluence(): Float64Array {
    const { n, c } = this;
    const s = rowSquares(this.wt, n, n);
    return s.map((v) => Math.max(0, n * (1 - c * v)));
  }
  /** the coefficients beta with H^{-1} g_r = G^T beta_r for stored rows r: beta_r = N M^{-1} e_r, as rows [m, n] */
  async rowCoefficients(backend: KernelBackend, rows: number[]): Promise<Float32Array> {
    const m = rows.length, n = this.n;
    const e = new Float32Array(m * n);
    rows.forEach((r, i) => (e[i * n + r] = 1));
    const s = await this.solveDots(backend, e, m);
    for (let i = 0; i < s.length; i++) s[i] *= n;
    return s;
  }
  /** H^{-1} q = (1/lambda) (q - (a M^{-1}) G) given the rows q, their raw dots a, and P = (a M^{-1}) G [m, k] */
  combine(rows: Float32Array, solvedG: Float32Array): Float32Array {
    const out = new Float32Array(rows.length);
    const inv = 1 / this.lambda;
    for (let i = 0; i < rows.length; i++) out[i] = inv * (rows[i] - solvedG[i]);
    return out;
  }
  precondition(): Promise<Float32Array> {
    throw new Error(`internal: the kernel-form preconditioner of ${this.layer.name} needs the stored rows (use query.ts)`);
  }
  quad(): Promise<Float64Array> {
    throw new Error(`internal: the kernel-form preconditioner of ${this.layer.name} needs the raw dot products (quadFromDots)`);
  }
  tensors(): Tensors {
    return { wt: { shape: [this.n, this.n], data: this.wt } };
  }
  get bytes(): number {
    return this.wt.byteLength;
  }
}

/** kfac / ekfac: eigenbasis U_S (x) U_A with eigenvalues w. */
export class EigenPreconditioner extends LayerPreconditioner {
  readonly form = 'eigen';
  /** 1 / (w + lambda) */
  private readonly inv: Float64Array;
  constructor(
    layer: IndexLayer,
    kind: 'kfac' | 'ekfac',
    /** U_A [k_in, k_in], U_S [k_out, k_out], eigenvectors as columns */
    readonly ua: Float32Array,
    readonly us: Float32Array,
    readonly w: Float32Array,
    lambda: number,
  ) {
    super(layer, kind, lambda);
    this.inv = Float64Array.from(w, (v) => 1 / (Math.max(v, 0) + lambda));
  }

  /** U_S^T G U_A for rows of G [m, k_out * k_in] (back: U_S G U_A^T) */
  async rotate(backend: KernelBackend, rows: Float32Array, m: number, back = false): Promise<Float32Array> {
    const { kIn, kOut } = this.layer;
    const g = backend.tensor(rows, [m, kOut, kIn]);
    const ua = backend.tensor(this.ua, [kIn, kIn]), us = backend.tensor(this.us, [kOut, kOut]);
    const tmp: BTensor[] = [g, ua, us];
    try {
      // forward: Y = G U_A, R = U_S^T Y; back: Y = G U_A^T, R = U_S Y
      const y = await backend.gemm(g, ua, { transB: back });
      tmp.push(y);
      const r = await backend.gemm(us, y, { transA: !back });
      tmp.push(r);
      return await backend.read(r);
    } finally {
      for (const t of tmp) t.dispose();
    }
  }
  async precondition(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float32Array> {
    if (m === 0) return new Float32Array(0);
    const r = await this.rotate(backend, rows, m);
    const k = this.k;
    for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) r[i * k + j] *= this.inv[j];
    return this.rotate(backend, r, m, true);
  }
  async quad(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float64Array> {
    if (m === 0) return new Float64Array(0);
    return rowSquares(await this.rotate(backend, rows, m), m, this.k, this.inv);
  }
  tensors(): Tensors {
    const { kIn, kOut } = this.layer;
    return { ua: { shape: [kIn, kIn], data: this.ua }, us: { shape: [kOut, kOut], data: this.us }, w: { shape: [kOut * kIn], data: this.w } };
  }
  get bytes(): number {
    return this.ua.byteLength + this.us.byteLength + this.w.byteLength;
  }
}

/** Rebuilds a layer's preconditioner from its fit blob. */
export function preconditionerFrom(layer: IndexLayer, kind: HessianKind, form: PreconditionerForm, lambda: number, t: TensorReader, n: number): LayerPreconditioner {
  const { kIn, kOut } = layer;
  const k = kIn * kOut;
  switch (form) {
    case 'none':
      return new IdentityPreconditioner(layer);
    case 'whiten':
      return new WhitenPreconditioner(layer, lambda, t.get('wt', [k, k]));
    case 'kernel':
      return new KernelPreconditioner(layer, lambda, n, t.get('wt', [n, n]));
    case 'eigen':
      if (kind !== 'kfac' && kind !== 'ekfac') throw new Error(`an eigenbasis preconditioner needs hessian kfac or ekfac, the fit says ${kind}`);
      return new EigenPreconditioner(layer, kind, t.get('ua', [kIn, kIn]), t.get('us', [kOut, kOut]), t.get('w', [k]), lambda);
  }
  throw new Error(`unknown preconditioner form ${JSON.stringify(form)}`);
}
