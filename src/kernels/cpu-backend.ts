// CPU backend: the same operations as the WebGPU backend. GEMM-shaped work (GEMM, LoGra projection, per-example
// gradients, covariance/KFAC accumulation, scoring) runs as tiny ONNX graphs on onnxruntime-web's wasm EP
// (multi-threaded MatMul); eigendecomposition (blocked Householder + divide and conquer, eigh-blocked.ts), Cholesky
// and solves (blocked, cholesky-blocked.ts) run in float64 TypeScript with their O(n^3) parts as ORT MatMul graphs
// (eigh-host.ts); random projections use the reference generator (bit-identical to the GPU's).
import { ShapeError } from '../gpu/errors.ts';
import { numel } from '../gpu/tensor.ts';
import type { BGemmOptions, BScoreOptions, BTaps, BTensor, BTopK, KernelBackend } from './backend.ts';
import { OrtGraphs, gemmGraph, loGraGraph, type Feed } from './ort-graphs.ts';
import { blockedEigh } from './eigh-blocked.ts';
import { OrtLinalg } from './eigh-host.ts';
import { blockedCholesky, blockedTriInverse } from './cholesky-blocked.ts';
import { normalMatrix, normalRows, type ProjectionSpec } from './reference/rng.ts';
import { packHalf, unpackHalf } from './reference/f16.ts';
import type { ScoreMode } from './reference/score.ts';
import { denseSpec, type DenseProjectionOptions } from './logra.ts';
import { describeOrt } from '../runtime/ort.ts';

export class CpuTensor implements BTensor {
  constructor(
    public data: Float32Array,
    readonly shape: readonly number[],
  ) {
    if (numel(shape) !== data.length) throw new ShapeError('CpuTensor', `${data.length} values for shape [${shape.join(', ')}]`);
  }
  dispose(): void {
    this.data = new Float32Array(0);
  }
}

function cpu(t: BTensor, what: string): CpuTensor {
  if (!(t instanceof CpuTensor)) throw new ShapeError('cpu backend', `${what} is not a CPU backend tensor`);
  return t;
}

const feed = (t: CpuTensor): Feed => ({ data: t.data, dims: t.shape });

/** Bytes of R (dense baseline) drawn per block. */
const DENSE_BLOCK_BYTES = 64 * 2 ** 20;

export class CpuBackend implements KernelBackend {
  readonly kind = 'cpu' as const;
  readonly description: string;

  /** eigensolver and triangular-inverse products in float32 (ORT's fast MatMul), Cholesky updates in float64 */
  private readonly linalg32: OrtLinalg;
  private readonly linalg64: OrtLinalg;

  private constructor(private readonly graphs: OrtGraphs) {
    this.linalg32 = new OrtLinalg(graphs.ort, 'f32');
    this.linalg64 = new OrtLinalg(graphs.ort, 'f64');
    this.description = `${describeOrt(graphs.ort)} + float64 TypeScript`;
  }

  /** GEMMs on the native onnxruntime where it loads ('auto': Node and Deno with onnxruntime-node), else wasm */
  static async create(runtime: 'auto' | 'wasm' | 'native' = 'auto'): Promise<CpuBackend> {
    return new CpuBackend(await OrtGraphs.create(runtime));
  }

  tensor(data: Float32Array, shape: readonly number[]): CpuTensor {
    return new CpuTensor(data, [...shape]);
  }

  tensorFromHalf(bits: Uint16Array, shape: readonly number[]): CpuTensor {
    return new CpuTensor(unpackHalf(bits), [...shape]);
  }

  zeros(shape: readonly number[]): CpuTensor {
    return new CpuTensor(new Float32Array(numel(shape)), [...shape]);
  }

  async read(t: BTensor): Promise<Float32Array> {
    return cpu(t, 'read()').data.slice();
  }

  async packHalf(t: BTensor): Promise<Uint16Array> {
    return packHalf(cpu(t, 'packHalf()').data);
  }

  async gemm(a: BTensor, b: BTensor, opts: BGemmOptions = {}): Promise<CpuTensor> {
    const A = cpu(a, 'A'), B = cpu(b, 'B');
    const ra = A.shape.length, rb = B.shape.length;
    if (ra < 2 || ra > 3 || rb < 2 || rb > 3) throw new ShapeError('gemm', `A and B must have rank 2 or 3, got [${A.shape.join(', ')}] and [${B.shape.join(', ')}]`);
    const M = opts.transA ? A.shape[ra - 1] : A.shape[ra - 2];
    const Ka = opts.transA ? A.shape[ra - 2] : A.shape[ra - 1];
    const Kb = opts.transB ? B.shape[rb - 1] : B.shape[rb - 2];
    const N = opts.transB ? B.shape[rb - 2] : B.shape[rb - 1];
    if (Ka !== Kb) throw new ShapeError('gemm', `inner dimensions differ: op(A) is ${M}x${Ka}, op(B) is ${Kb}x${N}`);
    const batch = Math.max(ra === 3 ? A.shape[0] : 1, rb === 3 ? B.shape[0] : 1);
    if (ra === 3 && rb === 3 && A.shape[0] !== B.shape[0]) throw new ShapeError('gemm', `batch sizes differ: ${A.shape[0]} vs ${B.shape[0]}`);
    const outShape = ra === 3 || rb === 3 ? [batch, M, N] : [M, N];
    const beta = opts.beta ?? 0;
    if (beta !== 0 && !opts.c) throw new ShapeError('gemm', 'beta != 0 needs opts.c');
    const C = opts.c ? cpu(opts.c, 'C') : undefined;
    if (C && (C.shape.length !== outShape.length || C.shape.some((d, i) => d !== outShape[i]))) throw new ShapeError('gemm', `C has shape [${C.shape.join(', ')}], expected [${outShape.join(', ')}]`);
    const W = opts.kWeights ? cpu(opts.kWeights, 'kWeights') : undefined;
    if (W && W.data.length !== Ka && W.data.length !== batch * Ka) throw new ShapeError('gemm', `kWeights has ${W.data.length} values, expected ${Ka} or ${batch * Ka}`);
    let y: Float32Array;
    if (M * N * batch === 0) y = new Float32Array(0);
    else if (Ka === 0) y = new Float32Array(batch * M * N);
    else {
      const hasC = beta !== 0;
      const rw = W ? (W.data.length === Ka ? 1 : 2) : 0;
      const key = `gemm:${ra}:${rb}:${!!opts.transA}:${!!opts.transB}:${rw}:${hasC}`;
      const feeds: Record<string, Feed> = { A: feed(A), B: feed(B), alpha: { data: Float32Array.of(opts.alpha ?? 1), dims: [1] } };
      if (W) feeds.W = { data: W.data, dims: rw === 1 ? [Ka] : [batch, Ka] };
      if (hasC) {
        feeds.beta = { data: Float32Array.of(beta), dims: [1] };
        feeds.C = feed(C!);
      }
      y = await this.graphs.run(key, gemmGraph(ra, rb, !!opts.transA, !!opts.transB, !!W, rw, hasC), feeds);
    }
    if (C) {
      C.data.set(y);
      return C;
    }
    return new CpuTensor(y, outShape);
  }

  async loGraProject(taps: BTaps, pIn: BTensor, pOut: BTensor): Promise<CpuTensor> {
    const x = cpu(taps.x, 'x'), dy = cpu(taps.dy, 'dy'), pi = cpu(pIn, 'P_in'), po = cpu(pOut, 'P_out');
    if (x.shape.length !== 3 || dy.shape.length !== 3 || x.shape[0] !== dy.shape[0] || x.shape[1] !== dy.shape[1]) throw new ShapeError('loGraProject', `x [${x.shape.join(', ')}] and dy [${dy.shape.join(', ')}] must be [B, T, d]`);
    const [B, T, dIn] = x.shape;
    const dOut = dy.shape[2];
    if (pi.shape.length !== 2 || pi.shape[1] !== dIn) throw new ShapeError('loGraProject', `P_in has shape [${pi.shape.join(', ')}], expected [k_in, ${dIn}]`);
    if (po.shape.length !== 2 || po.shape[1] !== dOut) throw new ShapeError('loGraProject', `P_out has shape [${po.shape.join(', ')}], expected [k_out, ${dOut}]`);
    const m = taps.mask ? cpu(taps.mask, 'mask') : undefined;
    if (m && m.data.length !== B * T) throw new ShapeError('loGraProject', `mask has ${m.data.length} values for B*T = ${B * T}`);
    const kIn = pi.shape[0], kOut = po.shape[0];
    const feeds: Record<string, Feed> = { X: feed(x), DY: feed(dy), PIN: feed(pi), POUT: feed(po) };
    if (m) feeds.M = { data: m.data, dims: [B, T] };
    const g = B * T === 0 ? new Float32Array(B * kOut * kIn) : await this.graphs.run(`logra:${!!m}`, loGraGraph(!!m), feeds);
    return new CpuTensor(g, [B, kOut, kIn]);
  }

  async denseBaseline(taps: BTaps, o: DenseProjectionOptions): Promise<CpuTensor> {
    const dy = cpu(taps.dy, 'dy'), x = cpu(taps.x, 'x');
    const [B, T] = x.shape;
    const dw = await this.gemm(dy, x, { transA: true, kWeights: taps.mask ? new CpuTensor(cpu(taps.mask, 'mask').data, [B, T]) : undefined });
    const D = dw.data.length / Math.max(B, 1);
    const k = o.kIn * o.kOut;
    const spec = denseSpec(o, D);
    const out = new Float32Array(B * k);
    const flat = new CpuTensor(dw.data, [B, D]);
    const rowsPer = Math.max(1, Math.floor(DENSE_BLOCK_BYTES / 4 / Math.max(D, 1)));
    for (let j0 = 0; j0 < k; j0 += rowsPer) {
      const nj = Math.min(rowsPer, k - j0);
      const r = new CpuTensor(normalRows(spec, j0, nj), [nj, D]);
      const part = await this.gemm(flat, r, { transB: true }); // [B, nj]
      for (let b = 0; b < B; b++) out.set(part.data.subarray(b * nj, (b + 1) * nj), b * k + j0);
    }
    return new CpuTensor(out, [B, o.kOut, o.kIn]);
  }

  async syrk(c: BTensor, g: BTensor, opts: { weights?: BTensor; alpha?: number; beta?: number } = {}): Promise<void> {
    const G = cpu(g, 'G');
    const k = G.shape[G.shape.length - 1];
    const n = G.data.length / Math.max(k, 1);
    const C = cpu(c, 'C');
    if (C.shape.length !== 2 || C.shape[0] !== k || C.shape[1] !== k) throw new ShapeError('syrk', `C has shape [${C.shape.join(', ')}], expected [${k}, ${k}]`);
    if (n === 0) {
      const beta = opts.beta ?? 1;
      if (beta !== 1) for (let i = 0; i < C.data.length; i++) C.data[i] *= beta;
      return;
    }
    const g2 = new CpuTensor(G.data, [n, k]);
    const w = opts.weights ? new CpuTensor(cpu(opts.weights, 'weights').data, [n]) : undefined;
    await this.gemm(g2, g2, { transA: true, kWeights: w, alpha: opts.alpha ?? 1, beta: opts.beta ?? 1, c: C });
  }

  async kfacAccumulate(a: BTensor, s: BTensor, x: BTensor, dy: BTensor, mask?: BTensor, alpha = 1): Promise<void> {
    await this.syrk(a, x, { weights: mask, alpha });
    await this.syrk(s, dy, { weights: mask, alpha });
  }

  async eigh(a: BTensor): Promise<{ values: Float32Array; vectors: CpuTensor }> {
    const A = cpu(a, 'A');
    const n = square('eigh', A);
    const r = await blockedEigh(A.data, n, this.linalg32);
    return { values: Float32Array.from(r.values), vectors: new CpuTensor(Float32Array.from(r.vectors), [n, n]) };
  }

  async whitener(a: BTensor, lambda: number): Promise<CpuTensor> {
    const A = cpu(a, 'A');
    const n = square('whitener', A);
    // the factor in float64 (GEMM updates on ORT's float64 MatMul): L L^T = A + lambda I must hold to float64
    // rounding, since (A + lambda I)^{-1}'s error grows with its condition number; the triangular inverse's error
    // grows only with cond(L) = sqrt(cond(A + lambda I)), so its GEMMs run in float32 (5-8x faster here)
    const X = await blockedTriInverse(await blockedCholesky(A.data, n, lambda, this.linalg64.matmul), this.linalg32.matmul);
    const wt = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) wt[j * n + i] = X[i * n + j];
    return new CpuTensor(wt, [n, n]);
  }

  async score(q: BTensor, x: BTensor, opts: BScoreOptions = {}): Promise<CpuTensor> {
    const Q = cpu(q, 'Q'), X = cpu(x, 'X');
    if (Q.shape.length !== 2 || X.shape.length !== 2 || Q.shape[1] !== X.shape[1]) throw new ShapeError('score', `Q [q, k] and X [n, k] expected, got [${Q.shape.join(', ')}] and [${X.shape.join(', ')}]`);
    const [nq, k] = Q.shape;
    const n = X.shape[0];
    const s = (await this.gemm(Q, X, { transB: true })).data;
    const mode = opts.mode ?? 'dot';
    if (opts.norms && opts.xScale) throw new ShapeError('score', 'norms and xScale cannot be combined');
    if (mode !== 'dot') {
      const given = opts.norms ? { q: cpu(opts.norms.q, 'norms.q').data, x: cpu(opts.norms.x, 'norms.x').data } : undefined;
      if (given && (given.q.length !== nq || given.x.length !== n)) throw new ShapeError('score', `norms have ${given.q.length} and ${given.x.length} values for ${nq} queries and ${n} rows`);
      const qn = given?.q ?? rowNorms2(Q.data, nq, k), xn = given?.x ?? rowNorms2(X.data, n, k);
      for (let i = 0; i < nq; i++)
        for (let j = 0; j < n; j++) {
          const d = s[i * n + j];
          if (mode === 'cosine') {
            const den = Math.sqrt(qn[i]) * Math.sqrt(xn[j]);
            s[i * n + j] = den > 0 ? d / den : 0;
          } else s[i * n + j] = -Math.max(qn[i] + xn[j] - 2 * d, 0);
        }
    }
    if (opts.xScale) {
      const xs = cpu(opts.xScale, 'xScale').data;
      for (let i = 0; i < nq; i++) for (let j = 0; j < n; j++) s[i * n + j] *= xs[j];
    }
    return new CpuTensor(s, [nq, n]);
  }

  topK(q: number, k: number): BTopK {
    const values = new Float32Array(q * k).fill(-Infinity);
    const indices = new Int32Array(q * k).fill(-1);
    return {
      push: async (qt, xt, base, opts) => {
        const s = await this.score(qt, xt, opts);
        const n = s.shape[1];
        for (let i = 0; i < q; i++) {
          for (let j = 0; j < n; j++) {
            const v = s.data[i * n + j];
            const idx = base + j;
            const last = i * k + k - 1;
            if (!(v > values[last] || (v === values[last] && (indices[last] === -1 || idx < indices[last])))) continue;
            let t = k - 1;
            while (t > 0) {
              const pv = values[i * k + t - 1], pi = indices[i * k + t - 1];
              if (pv > v || (pv === v && pi !== -1 && pi < idx)) break;
              values[i * k + t] = pv;
              indices[i * k + t] = pi;
              t--;
            }
            values[i * k + t] = v;
            indices[i * k + t] = idx;
          }
        }
      },
      result: async () => ({ values: values.slice(), indices: indices.slice() }),
      dispose: () => {},
    };
  }

  async randomNormal(spec: ProjectionSpec): Promise<CpuTensor> {
    return new CpuTensor(normalMatrix(spec), [spec.rows, spec.cols]);
  }

  dispose(): void {
    void this.linalg32.dispose();
    void this.linalg64.dispose();
    void this.graphs.dispose();
  }
}

function square(kernel: string, a: CpuTensor): number {
  if (a.shape.length !== 2 || a.shape[0] !== a.shape[1]) throw new ShapeError(kernel, `A must be square [n, n], got [${a.shape.join(', ')}]`);
  return a.shape[0];
}

function rowNorms2(d: Float32Array, rows: number, k: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < k; c++) s += d[r * k + c] ** 2;
    out[r] = s;
  }
  return out;
}
