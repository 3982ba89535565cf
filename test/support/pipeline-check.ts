// Runtime-neutral checks of the LoGra pipeline against float64 references computed here from the torch fixtures'
// per-example x, dy and weight gradients (Node, Deno and Chromium run the same code on the bytes they read):
//  - exact:  --proj none --hessian none   = torch gradient dot products, per layer and total
//  - exact:  --proj none --hessian raw    = g_q^T (C + lambda I)^{-1} g_n with C = (1/N) sum g g^T, lambda = 0.1 tr/k
//  - logra:  given projections (k_in != k_out), none = <P_out dW_q P_in^T, P_out dW_n P_in^T>
//  - kfac / ekfac with given projections = the explicit Kronecker (or eigen-corrected) matrix, inverted in float64
// Error = max |ours - ref| / max |ref| over a [queries x train] matrix.
import { parseJsonl } from '../../src/io/jsonl.ts';
import { readSafetensors, type SafeTensor } from '../../src/io/safetensors.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import type { Example, HessianKind, LayerProjection, ProjectionInit } from '../../src/logra/types.ts';
import type { FixtureInput } from './fixture-check.ts';
import { jacobiEigh, kron, matmul, spdSolve, transpose } from './linalg64.ts';
import { rng } from '../../src/train/gpt2.ts';

export interface PipelineCheck {
  name: string;
  /** worst relative error over the total and every layer */
  err: number;
  /** worst layer */
  layer: string;
}

interface RefLayer {
  name: string;
  dIn: number;
  dOut: number;
  /** per example dW [d_out, d_in] */
  grads: Float64Array[];
  /** per example x [T_i, d_in], dy [T_i, d_out] */
  x: Float64Array[];
  dy: Float64Array[];
  T: number[];
}

function f64(ref: Map<string, SafeTensor>, key: string): Float64Array {
  const t = ref.get(key);
  if (!t || (t.dtype !== 'F64' && t.dtype !== 'F32')) throw new Error(`ref.safetensors: no F64 / F32 tensor ${key}`);
  return t.dtype === 'F64' ? (t.data as Float64Array) : Float64Array.from(t.data as Float32Array);
}

function refLayers(model: LoadedModel, ref: Map<string, SafeTensor>, n: number): RefLayer[] {
  return model.layers.map((l) => {
    const grads: Float64Array[] = [], x: Float64Array[] = [], dy: Float64Array[] = [], T: number[] = [];
    for (let i = 0; i < n; i++) {
      const g = f64(ref, `grad/${l.name}/${i}`);
      grads.push(l.layout === 'in_out' ? transpose(g, l.dIn, l.dOut) : Float64Array.from(g));
      // x / dy (the KFAC references need them) may be stored for some examples only
      if (!ref.has(`x/${l.name}/${i}`)) continue;
      const xi = f64(ref, `x/${l.name}/${i}`), di = f64(ref, `dy/${l.name}/${i}`);
      x.push(xi);
      dy.push(di);
      T.push(xi.length / l.dIn);
    }
    return { name: l.name, dIn: l.dIn, dOut: l.dOut, grads, x, dy, T };
  });
}

/** Projections drawn from a seeded PRNG independent of the engine's generator. */
export function testProjections(model: LoadedModel, kIn: number, kOut: number, seed: number): Map<string, LayerProjection> {
  const r = rng(seed);
  return new Map(
    model.layers.map((l) => [
      l.name,
      { kIn, kOut, pin: Float32Array.from({ length: kIn * l.dIn }, () => r.normal()), pout: Float32Array.from({ length: kOut * l.dOut }, () => r.normal()) },
    ]),
  );
}

/** per layer: g_n = vec(P_out dW_n P_in^T) (or dW_n with no projection), float64 */
function projectRef(rl: RefLayer, p?: LayerProjection): Float64Array[] {
  if (!p) return rl.grads;
  return rl.grads.map((g) => matmul(matmul(p.pout, g, p.kOut, rl.dOut, rl.dIn), transpose(p.pin, p.kIn, rl.dIn), p.kOut, rl.dIn, p.kIn));
}

/** reference H_l (k x k, float64) and lambda_l */
function refHessian(kind: HessianKind, rl: RefLayer, g: Float64Array[], p: LayerProjection | undefined, damping: number): { h: Float64Array; lambda: number } | undefined {
  const k = g[0].length, N = g.length;
  if (kind === 'none') return undefined;
  if (kind === 'raw') {
    const h = new Float64Array(k * k);
    for (const v of g) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) h[i * k + j] += (v[i] * v[j]) / N;
    let tr = 0;
    for (let i = 0; i < k; i++) tr += h[i * k + i];
    return { h, lambda: (damping * tr) / k };
  }
  // projected token activations and gradients
  const kIn = p ? p.kIn : rl.dIn, kOut = p ? p.kOut : rl.dOut;
  const A = new Float64Array(kIn * kIn), S = new Float64Array(kOut * kOut);
  let tokens = 0;
  rl.x.forEach((x, n) => {
    const T = rl.T[n];
    const xp = p ? matmul(x, transpose(p.pin, kIn, rl.dIn), T, rl.dIn, kIn) : x;
    const dp = p ? matmul(rl.dy[n], transpose(p.pout, kOut, rl.dOut), T, rl.dOut, kOut) : rl.dy[n];
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < kIn; i++) for (let j = 0; j < kIn; j++) A[i * kIn + j] += xp[t * kIn + i] * xp[t * kIn + j];
      for (let i = 0; i < kOut; i++) for (let j = 0; j < kOut; j++) S[i * kOut + j] += dp[t * kOut + i] * dp[t * kOut + j];
    }
    tokens += T;
  });
  for (let i = 0; i < A.length; i++) A[i] /= tokens;
  for (let i = 0; i < S.length; i++) S[i] /= N;
  const ea = jacobiEigh(A, kIn), es = jacobiEigh(S, kOut);
  const w = new Float64Array(k);
  for (let o = 0; o < kOut; o++) for (let i = 0; i < kIn; i++) w[o * kIn + i] = Math.max(es.values[o], 0) * Math.max(ea.values[i], 0);
  const U = kron(es.vectors, kOut, ea.vectors, kIn); // columns: eigenvectors (o, i)
  if (kind === 'ekfac') {
    w.fill(0);
    for (const v of g) {
      const r = matmul(transpose(U, k, k), v, k, k, 1);
      for (let j = 0; j < k; j++) w[j] += (r[j] * r[j]) / N;
    }
  }
  const mean = w.reduce((a, b) => a + b, 0) / k;
  // H = U diag(w) U^T
  const UW = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) UW[i * k + j] = U[i * k + j] * w[j];
  return { h: matmul(UW, transpose(U, k, k), k, k, k), lambda: damping * mean };
}

function relErr(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let me = 0, mr = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    me = Number.isNaN(d) ? Infinity : Math.max(me, d);
    mr = Math.max(mr, Math.abs(ref[i]));
  }
  return mr > 0 ? me / mr : me;
}

export interface PipelineCase {
  name: string;
  init: ProjectionInit;
  hessian: HessianKind;
  kIn?: number;
  kOut?: number;
}

export const PIPELINE_CASES: PipelineCase[] = [
  { name: 'exact none', init: 'identity', hessian: 'none' },
  { name: 'exact raw', init: 'identity', hessian: 'raw' },
  { name: 'logra given none', init: 'given', hessian: 'none', kIn: 5, kOut: 3 },
  { name: 'logra given raw', init: 'given', hessian: 'raw', kIn: 5, kOut: 3 },
  { name: 'logra given kfac', init: 'given', hessian: 'kfac', kIn: 4, kOut: 3 },
  { name: 'logra given ekfac', init: 'given', hessian: 'ekfac', kIn: 4, kOut: 3 },
];

/**
 * Runs every case on one fixture: all examples are logged, then all are queried (a [N x N] score matrix). `loaded`
 * passes a model and examples the caller loaded itself (a model folder, text data through its tokenizer).
 */
export async function checkPipeline(
  input: FixtureInput,
  engine: Engine,
  cases: PipelineCase[] = PIPELINE_CASES,
  loaded?: { model: LoadedModel; examples: Example[] },
): Promise<PipelineCheck[]> {
  const examples = loaded?.examples ?? parseJsonl(input.data, `${input.name}/data.jsonl`);
  const ref = readSafetensors(input.ref, `${input.name}/ref.safetensors`).tensors;
  const model = loaded?.model ?? (await engine.loadModel(input.model, { source: `${input.name}/model.onnx`, externalData: input.externalData }));
  const N = examples.length;
  const rls = refLayers(model, ref, N);
  const out: PipelineCheck[] = [];
  try {
    for (const c of cases) {
      const projections = c.init === 'given' ? testProjections(model, c.kIn!, c.kOut!, 7) : undefined;
      const store = new MemoryStore(`${input.name}-${c.name}`);
      const index = await engine.log(model, examples, { store, init: c.init, projections, hessian: c.hessian, batchSize: 3, chunkBytes: 1 });
      await index.fit({ damping: 0.1 });
      const r = await index.query(examples, { perLayer: true, topK: 0 });
      const total = new Float64Array(N * N);
      let worst = 0, where = 'total';
      rls.forEach((rl) => {
        const g = projectRef(rl, projections?.get(rl.name));
        const k = g[0].length;
        const H = refHessian(c.hessian, rl, g, projections?.get(rl.name), 0.1);
        // preconditioned queries: (H + lambda I)^{-1} g_q
        const pq = H ? (() => {
          const B = new Float64Array(k * N);
          g.forEach((v, n) => v.forEach((x, i) => (B[i * N + n] = x)));
          const X = spdSolve(H.h, k, H.lambda, B, N);
          return g.map((_, n) => Float64Array.from({ length: k }, (_, i) => X[i * N + n]));
        })() : g;
        const want = new Float64Array(N * N);
        for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) {
          let s = 0;
          for (let i = 0; i < k; i++) s += pq[a][i] * g[b][i];
          want[a * N + b] = s;
          total[a * N + b] += s;
        }
        const got = r.layers!.get(rl.name)!;
        const flat = new Float64Array(N * N);
        got.forEach((row, a) => flat.set(row, a * N));
        const e = relErr(flat, want);
        if (e > worst) [worst, where] = [e, rl.name];
      });
      const flat = new Float64Array(N * N);
      r.scores!.forEach((row, a) => flat.set(row, a * N));
      const e = relErr(flat, total);
      if (e > worst) [worst, where] = [e, 'total'];
      out.push({ name: c.name, err: worst, layer: where });
    }
  } finally {
    await model.release();
  }
  return out;
}
