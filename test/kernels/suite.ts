// Oracle cases for every WGSL kernel, shared by the Node (vitest + Dawn), Deno (lavapipe/llvmpipe) and Chromium
// (SwiftShader, Playwright) runners. A case runs on a GpuContext and returns its measured errors with their bounds;
// runners assert value <= bound. Sizes are small and odd on purpose (software adapters, 2 cores).
import { GpuContext } from '../../src/gpu/device.ts';
import { GpuDeviceLostError, GpuLimitError, GpuValidationError, NotPositiveDefiniteError, ShapeError, GpuTimeoutError } from '../../src/gpu/errors.ts';
import { fromHalfBits, fromHost, zeros, type GpuTensor } from '../../src/gpu/tensor.ts';
import { withWatchdog } from '../../src/gpu/watchdog.ts';
import { gemm } from '../../src/kernels/gemm.ts';
import { loGraProject, denseBaseline } from '../../src/kernels/logra.ts';
import { syrk, kfacAccumulate } from '../../src/kernels/syrk.ts';
import { eigh, eighHybrid } from '../../src/kernels/eigh.ts';
import { cholesky, choleskySolve, whitener } from '../../src/kernels/cholesky.ts';
import { score, TopK } from '../../src/kernels/score.ts';
import { randomNormal } from '../../src/kernels/rng.ts';
import { packF16, unpackF16 } from '../../src/kernels/f16.ts';
import { refGemm } from '../../src/kernels/reference/gemm.ts';
import { refLoGra, refPerExampleGrad, refDenseProject, refSyrk } from '../../src/kernels/reference/logra.ts';
import { refEigh } from '../../src/kernels/reference/eigh.ts';
import { refCholesky, refCholeskySolve } from '../../src/kernels/reference/cholesky.ts';
import { refScores, refTopK, type ScoreMode } from '../../src/kernels/reference/score.ts';
import { normalMatrix, threefry2x32 } from '../../src/kernels/reference/rng.ts';
import { packHalf, unpackHalf, floatToHalfBits } from '../../src/kernels/reference/f16.ts';
import { rng, randn, randMask, relErr, randSpd, randOrthogonal, eighErrors, solveResidual, whitenerErrors } from './oracle.ts';
import { asGpuTensor, prepareNodeForOrtWebGpu, webGpuEp } from '../../src/gpu/ort-share.ts';
import { loadOrt } from '../../src/runtime/ort.ts';
import { onnx, Long, encodeModel } from '../../src/onnx/codec.ts';
import { Graph } from '../../src/onnx/graph.ts';
import { DataType } from '../../src/onnx/tensor.ts';

/** fp32 kernels vs float64 references */
export const FP32_TOL = 1e-4;

export interface Metric {
  value: number;
  max: number;
}
export type Metrics = Record<string, Metric>;

export interface OracleCase {
  name: string;
  run(ctx: GpuContext): Promise<Metrics>;
}

/** Metric names whose value exceeds the bound (NaN fails). */
export function failures(m: Metrics): string[] {
  return Object.entries(m)
    .filter(([, v]) => !(v.value <= v.max))
    .map(([k, v]) => `${k}: ${v.value} > ${v.max}`);
}

export function formatMetrics(m: Metrics): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${v.value.toExponential(2)}`)
    .join(' ');
}

const up = (ctx: GpuContext, d: Float32Array, shape: number[]) => fromHost(ctx, d, shape);
const m = (value: number, max = FP32_TOL): Metric => ({ value, max });

async function expectError(p: Promise<unknown>, cls: abstract new (...a: never[]) => Error): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof cls) return 0;
    throw new Error(`expected ${cls.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  throw new Error(`expected ${cls.name}, got success`);
}

interface GemmCase {
  M: number;
  N: number;
  K: number;
  tA: boolean;
  tB: boolean;
  batch: number;
  /** which operand is 2-D and broadcast over the batch */
  bcast?: 'a' | 'b';
  alpha?: number;
  beta?: number;
  kw?: boolean;
  f16?: boolean;
}

async function gemmCase(ctx: GpuContext, c: GemmCase, seed: number): Promise<number> {
  const r = rng(seed);
  const { M, N, K, tA, tB, batch } = c;
  const bA = c.bcast === 'a' ? 1 : batch, bB = c.bcast === 'b' ? 1 : batch;
  let A = randn(r, bA * M * K), B = randn(r, bB * K * N);
  if (c.f16) {
    A = unpackHalf(packHalf(A));
    B = unpackHalf(packHalf(B));
  }
  const C0 = randn(r, batch * M * N);
  const W = c.kw ? randMask(r, batch, K) : undefined;
  const shA = tA ? [K, M] : [M, K], shB = tB ? [N, K] : [K, N];
  const mk = (d: Float32Array, sh: number[], bt: number): GpuTensor => {
    const shape = batch > 1 && bt > 1 ? [bt, ...sh] : sh;
    return c.f16 ? fromHalfBits(ctx, packHalf(d), shape) : up(ctx, d, shape);
  };
  const a = mk(A, shA, bA), b = mk(B, shB, bB);
  const batched = a.shape.length === 3 || b.shape.length === 3;
  const cT = up(ctx, C0, batched ? [batch, M, N] : [M, N]);
  const w = W ? up(ctx, W, batch > 1 ? [batch, K] : [K]) : undefined;
  const beta = c.beta ?? 0;
  const out = await gemm(ctx, a, b, { transA: tA, transB: tB, alpha: c.alpha, beta, c: beta !== 0 ? cT : undefined, kWeights: w });
  const got = await out.read();
  const want = refGemm(A, B, M, N, K, {
    transA: tA,
    transB: tB,
    alpha: c.alpha,
    beta,
    c: C0,
    batch,
    strideA: bA === 1 ? 0 : M * K,
    strideB: bB === 1 ? 0 : K * N,
    kWeights: W,
    strideW: batch > 1 ? K : 0,
  });
  for (const t of [a, b, cT, out, w]) t?.dispose();
  return relErr(got, want);
}

const GEMM_CASES: GemmCase[] = [
  { M: 1, N: 1, K: 1, tA: false, tB: false, batch: 1 },
  { M: 5, N: 7, K: 9, tA: false, tB: false, batch: 1, alpha: 0.5, beta: 2 },
  { M: 33, N: 17, K: 64, tA: true, tB: false, batch: 1 },
  { M: 16, N: 20, K: 13, tA: false, tB: true, batch: 3, beta: -1 },
  { M: 37, N: 41, K: 29, tA: true, tB: true, batch: 2, alpha: -1.5, beta: 0.25 },
  { M: 6, N: 9, K: 11, tA: false, tB: false, batch: 4, bcast: 'b' },
  { M: 10, N: 3, K: 7, tA: true, tB: false, batch: 3, bcast: 'a' },
  { M: 9, N: 12, K: 19, tA: true, tB: false, batch: 3, kw: true },
  { M: 70, N: 66, K: 35, tA: false, tB: true, batch: 1 },
];

export const cases: OracleCase[] = [
  {
    name: 'gemm: transposes, batches, broadcast, alpha/beta, K weights, odd sizes',
    async run(ctx) {
      const out: Metrics = {};
      for (let i = 0; i < GEMM_CASES.length; i++) {
        const c = GEMM_CASES[i];
        out[`${c.batch}x${c.M}x${c.N}x${c.K}${c.tA ? 'T' : 'N'}${c.tB ? 'T' : 'N'}${c.kw ? 'w' : ''}`] = m(await gemmCase(ctx, c, 100 + i));
      }
      return out;
    },
  },
  {
    name: 'gemm: f16 operands (native shader-f16 when present, else widened)',
    async run(ctx) {
      return {
        [`f16 ${ctx.f16 ? 'native' : 'widened'} NN`]: m(await gemmCase(ctx, { M: 21, N: 18, K: 24, tA: false, tB: false, batch: 1, f16: true }, 7)),
        [`f16 ${ctx.f16 ? 'native' : 'widened'} TT odd`]: m(await gemmCase(ctx, { M: 13, N: 11, K: 9, tA: true, tB: true, batch: 2, f16: true }, 8)),
      };
    },
  },
  {
    name: 'loGraProject: fused projection vs float64 reference (masks, k_in != k_out, accumulate)',
    async run(ctx) {
      const r = rng(11);
      const out: Metrics = {};
      for (const [B, T, dIn, dOut, kIn, kOut, masked] of [
        [3, 9, 13, 10, 3, 5, true],
        [2, 5, 16, 24, 8, 4, false],
        [1, 1, 7, 3, 2, 6, true],
      ] as const) {
        const x = randn(r, B * T * dIn), dy = randn(r, B * T * dOut), pIn = randn(r, kIn * dIn), pOut = randn(r, kOut * dOut);
        const mask = masked ? randMask(r, B, T) : undefined;
        const taps = { x: up(ctx, x, [B, T, dIn]), dy: up(ctx, dy, [B, T, dOut]), mask: mask ? up(ctx, mask, [B, T]) : undefined };
        const pi = up(ctx, pIn, [kIn, dIn]), po = up(ctx, pOut, [kOut, dOut]);
        const res = await loGraProject(ctx, taps, pi, po, { keepTokenProjections: true });
        const want = refLoGra(x, dy, mask, pIn, pOut, { B, T, dIn, dOut }, kIn, kOut);
        out[`B${B} T${T} ${dIn}->${dOut} k${kIn}x${kOut}${masked ? ' masked' : ''}`] = m(relErr(await res.g.read(), want));
        // accumulate: G += again
        await loGraProject(ctx, taps, pi, po, { out: res.g, accumulate: true });
        out[`accumulate B${B}`] = m(relErr(await res.g.read(), want.map((v) => 2 * v)));
        for (const t of [taps.x, taps.dy, taps.mask, pi, po, res.g, res.u, res.v]) t?.dispose();
      }
      return out;
    },
  },
  {
    name: 'denseBaseline: per-example gradient + dense Gaussian projection (on the fly and materialised)',
    async run(ctx) {
      const r = rng(12);
      const B = 5, T = 6, dIn = 9, dOut = 7, kIn = 3, kOut = 4;
      const x = randn(r, B * T * dIn), dy = randn(r, B * T * dOut), mask = randMask(r, B, T);
      const taps = { x: up(ctx, x, [B, T, dIn]), dy: up(ctx, dy, [B, T, dOut]), mask: up(ctx, mask, [B, T]) };
      const dw = refPerExampleGrad(x, dy, mask, { B, T, dIn, dOut });
      const want = refDenseProject(dw, B, { seed: 5, layer: 'h.1/mlp', role: 'dense', rows: kIn * kOut, cols: dIn * dOut, scale: 0.5 });
      const out: Metrics = {};
      for (const mode of ['onthefly', 'materialized'] as const) {
        const g = await denseBaseline(ctx, taps, { seed: 5, layer: 'h.1/mlp', kIn, kOut, scale: 0.5, mode });
        if (g.shape.join() !== [B, kOut, kIn].join()) throw new Error(`dense output shape [${g.shape}]`);
        out[mode] = m(relErr(await g.read(), want));
        g.dispose();
      }
      return out;
    },
  },
  {
    name: 'syrk / kfacAccumulate: C += G^T G and A += X^T diag(m) X, S += DY^T diag(m) DY',
    async run(ctx) {
      const r = rng(13);
      const out: Metrics = {};
      const n = 37, k = 15;
      const G1 = randn(r, n * k), G2 = randn(r, 20 * k);
      const C = zeros(ctx, [k, k]);
      await syrk(ctx, C, up(ctx, G1, [n, k]));
      await syrk(ctx, C, up(ctx, G2, [20, k]), { alpha: 0.5 });
      const want = refSyrk(refSyrk(new Float64Array(k * k), G1, n, k), G2, 20, k, undefined, 0.5);
      const got = await C.read();
      out['cov k=15'] = m(relErr(got, want));
      let asym = 0;
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) asym = Math.max(asym, Math.abs(got[i * k + j] - got[j * k + i]));
      out['exactly symmetric'] = m(asym, 0);
      const B = 3, T = 8, dIn = 12, dOut = 7;
      const x = randn(r, B * T * dIn), dy = randn(r, B * T * dOut), mask = randMask(r, B, T);
      // masked tokens hold NaN: they must not leak
      const xN = x.slice(), dyN = dy.slice();
      for (let i = 0; i < B * T; i++) if (mask[i] === 0) {
        xN[i * dIn] = NaN;
        dyN[i * dOut] = NaN;
      }
      const A = zeros(ctx, [dIn, dIn]), S = zeros(ctx, [dOut, dOut]);
      const mt = up(ctx, mask, [B, T]);
      await kfacAccumulate(ctx, A, S, up(ctx, xN, [B, T, dIn]), up(ctx, dyN, [B, T, dOut]), mt, 1 / 3);
      out['kfac A (NaN in masked tokens)'] = m(relErr(await A.read(), refSyrk(new Float64Array(dIn * dIn), x, B * T, dIn, mask, 1 / 3)));
      out['kfac S'] = m(relErr(await S.read(), refSyrk(new Float64Array(dOut * dOut), dy, B * T, dOut, mask, 1 / 3)));
      return out;
    },
  },
  {
    name: 'eigh (parallel Jacobi): SPD with condition 1e6 (even and odd n) and a rank-deficient covariance',
    async run(ctx) {
      const r = rng(14);
      const out: Metrics = {};
      const mats: [string, number, Float64Array, Float32Array][] = [];
      for (const n of [48, 33]) {
        const s = randSpd(r, n, 1e6);
        mats.push([`spd n=${n} cond=1e6`, n, s.a64, s.a32]);
      }
      {
        // covariance of 10 samples in 24 dims: 14 zero eigenvalues (a cluster)
        const n = 24, g = randn(r, 10 * n);
        const c = Float32Array.from(refSyrk(new Float64Array(n * n), g, 10, n, undefined, 0.1));
        mats.push([`psd n=${n} rank 10`, n, Float64Array.from(c), c]);
      }
      for (const [label, n, a64, a32] of mats) {
        const a = up(ctx, a32, [n, n]);
        const res = await eigh(ctx, a);
        const V = await res.vectors.read();
        const e = eighErrors(a64, n, res.values, V);
        const ref = refEigh(a64, n);
        out[`${label}: residual`] = m(e.residual);
        out[`${label}: orthogonality`] = m(e.orthogonality);
        out[`${label}: eigenvalues vs f64`] = m(relErr(res.values, ref.values));
        a.dispose();
        res.vectors.dispose();
      }
      return out;
    },
  },
  {
    name: 'eigh (hybrid: blocked Householder + divide and conquer, GEMMs on the GPU): SPD cond 1e6, rank-deficient',
    async run(ctx) {
      const r = rng(18);
      const out: Metrics = {};
      const mats: [string, number, Float64Array, Float32Array][] = [];
      for (const n of [70, 45]) {
        const s = randSpd(r, n, 1e6);
        mats.push([`spd n=${n} cond=1e6`, n, s.a64, s.a32]);
      }
      {
        const n = 40, g = randn(r, 12 * n);
        const c = Float32Array.from(refSyrk(new Float64Array(n * n), g, 12, n, undefined, 0.1));
        mats.push([`psd n=${n} rank 12`, n, Float64Array.from(c), c]);
      }
      for (const [label, n, a64, a32] of mats) {
        const a = up(ctx, a32, [n, n]);
        // small panels and every product on the GPU, so that all paths run at test sizes
        const res = await eighHybrid(ctx, a, { nb: 8, matmulMinWork: 1, fixedMatvecMin: 1 });
        const e = eighErrors(a64, n, res.values, await res.vectors.read());
        out[`${label}: residual`] = m(e.residual);
        out[`${label}: orthogonality`] = m(e.orthogonality);
        out[`${label}: eigenvalues vs f64`] = m(relErr(res.values, refEigh(a64, n).values));
        a.dispose();
        res.vectors.dispose();
      }
      return out;
    },
  },
  {
    name: 'cholesky + solves + whitener: (C + lambda I)^{-1} g for many g, L^{-T}, cond 1e6',
    async run(ctx) {
      const r = rng(15);
      const out: Metrics = {};
      for (const n of [40, 29]) {
        const { a32, a64 } = randSpd(r, n, 1e6);
        let tr = 0;
        for (let i = 0; i < n; i++) tr += a64[i * n + i];
        const lambda = (0.1 * tr) / n; // damping = 0.1 x mean eigenvalue
        const a = up(ctx, a32, [n, n]);
        const f = await cholesky(ctx, a, lambda);
        out[`n=${n}: L vs f64`] = m(relErr(await f.lower(), refCholesky(a64, n, lambda)));
        const mRhs = 7, G = randn(r, mRhs * n);
        const X = await (await choleskySolve(ctx, f, up(ctx, G, [mRhs, n]))).read();
        out[`n=${n}: solve residual`] = m(solveResidual(a64, n, lambda, X, G, mRhs));
        out[`n=${n}: solve vs f64`] = m(relErr(X, refCholeskySolve(refCholesky(a64, n, lambda), n, G, mRhs)));
        const w = whitenerErrors(a64, n, lambda, await (await whitener(ctx, a, lambda)).read());
        out[`n=${n}: whitener lower part`] = m(w.lower, 0);
        out[`n=${n}: ||H Wt Wt^T - I||`] = m(w.residual);
        f.dispose();
        // undamped, indefinite: a typed error naming the column
        const q = randOrthogonal(r, n);
        const ind = new Float32Array(n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += q[i * n + k] * (k === 3 ? -1 : 1) * q[j * n + k];
          ind[i * n + j] = s;
        }
        out[`n=${n}: indefinite -> NotPositiveDefiniteError`] = m(await expectError(cholesky(ctx, up(ctx, ind, [n, n]), 0), NotPositiveDefiniteError), 0);
        out[`n=${n}: indefinite, blocked -> NotPositiveDefiniteError`] = m(await expectError(cholesky(ctx, up(ctx, ind, [n, n]), 0, { block: 8 }), NotPositiveDefiniteError), 0);
        // blocked factor (GEMM updates between blocks of 8 columns) and blocked solves
        const fb = await cholesky(ctx, a, lambda, { block: 8 });
        out[`n=${n}: blocked L vs f64`] = m(relErr(await fb.lower(), refCholesky(a64, n, lambda)));
        const Xb = await (await choleskySolve(ctx, fb, up(ctx, G, [mRhs, n]), { block: 8 })).read();
        out[`n=${n}: blocked solve residual`] = m(solveResidual(a64, n, lambda, Xb, G, mRhs));
        const wb = whitenerErrors(a64, n, lambda, await (await whitener(ctx, a, lambda, { block: 12 })).read());
        out[`n=${n}: blocked whitener lower part`] = m(wb.lower, 0);
        out[`n=${n}: blocked ||H Wt Wt^T - I||`] = m(wb.residual);
        fb.dispose();
      }
      return out;
    },
  },
  {
    name: 'score + running top-k across chunks (dot, cosine, l2; f32 and f16 chunks; ties)',
    async run(ctx) {
      const r = rng(16);
      const out: Metrics = {};
      for (const mode of ['dot', 'cosine', 'l2'] as ScoreMode[]) {
        const q = 5, k = 24, sizes = [300, 77, 129];
        const Q = randn(r, q * k);
        const chunks = sizes.map((n) => randn(r, n * k));
        chunks[1].set(chunks[0].subarray(0, 5 * k), 0); // rows 300..304 duplicate rows 0..4: exact score ties (f32)
        const top = new TopK(ctx, q, 7);
        const host: Float32Array[] = [];
        let base = 0;
        for (let c = 0; c < chunks.length; c++) {
          const n = sizes[c];
          const f16 = c === 2;
          const data = f16 ? unpackHalf(packHalf(chunks[c])) : chunks[c];
          host.push(data);
          const x = f16 ? fromHalfBits(ctx, packHalf(chunks[c]), [n, k]) : up(ctx, data, [n, k]);
          const qt = up(ctx, Q, [q, k]);
          if (c === 0) out[`${mode}: scores`] = m(relErr(await (await score(ctx, qt, x, { mode })).read(), refScores(Q, data, q, n, k, mode)));
          await top.push(qt, x, base, { mode });
          base += n;
          x.dispose();
          qt.dispose();
        }
        const all = new Float32Array(base * k);
        let o = 0;
        for (const h of host) {
          all.set(h, o);
          o += h.length;
        }
        const ref = refTopK(refScores(Q, all, q, base, k, mode), q, base, 7);
        const res = await top.result();
        out[`${mode}: top-7 values`] = m(relErr(res.values, ref.values));
        // indices must agree except where the reference's scores are within rounding of each other
        let bad = 0;
        for (let i = 0; i < res.indices.length; i++) if (res.indices[i] !== ref.indices[i] && Math.abs(ref.values[i] - res.values[i]) > 1e-5 * Math.abs(ref.values[i])) bad++;
        out[`${mode}: top-7 index mismatches`] = m(bad, 0);
        top.dispose();
      }
      {
        // K larger than the rows seen: -1 / -Infinity padding; xScale
        const q = 2, k = 8, n = 3;
        const Q = randn(r, q * k), X = randn(r, n * k), xs = Float32Array.of(1, 0.5, 2);
        const top = new TopK(ctx, q, 5);
        await top.push(up(ctx, Q, [q, k]), up(ctx, X, [n, k]), 10, { xScale: up(ctx, xs, [n]) });
        const res = await top.result();
        const ref = refTopK(refScores(Q, X, q, n, k, 'dot', xs), q, n, 5, 10);
        out['K > n: indices equal'] = m(res.indices.every((v, i) => v === ref.indices[i]) ? 0 : 1, 0);
        top.dispose();
      }
      return out;
    },
  },
  {
    name: 'randomNormal: Threefry-2x32 KAT and GPU matrices bit-identical to the TS generator',
    async run(ctx) {
      const out: Metrics = {};
      const kat: [number[], number[]][] = [
        [[0, 0, 0, 0], [0x6b200159, 0x99ba4efe]],
        [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0x1cb996fc, 0xbb002be7]],
        [[0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3], [0xc4923a9c, 0x483df7a0]],
      ];
      out['Random123 known answers (mismatches)'] = m(kat.filter(([i, o]) => threefry2x32(i[0], i[1], i[2], i[3]).some((v, j) => v !== o[j])).length, 0);
      for (const spec of [
        { seed: 42, layer: 'h.0/mlp/c_fc', role: 'pIn' as const, rows: 37, cols: 101, scale: 0.125 },
        { seed: 0xfffffffe, layer: 3, role: 'pOut' as const, rows: 5, cols: 3 },
        { seed: 7, layer: 0, role: 'dense' as const, rows: 64, cols: 193 },
      ]) {
        const g = await randomNormal(ctx, spec);
        const got = await g.read();
        const want = normalMatrix(spec);
        let diff = 0;
        for (let i = 0; i < want.length; i++) if (Object.is(got[i], want[i]) === false) diff++;
        out[`${spec.rows}x${spec.cols} bit mismatches`] = m(diff, 0);
        g.dispose();
      }
      const big = normalMatrix({ seed: 1, layer: 0, role: 0, rows: 200, cols: 500 });
      let mean = 0, v = 0;
      for (const x of big) mean += x;
      mean /= big.length;
      for (const x of big) v += (x - mean) ** 2;
      v /= big.length;
      out['|mean| (1e5 draws)'] = m(Math.abs(mean), 0.015);
      out['|var - 1|'] = m(Math.abs(v - 1), 0.02);
      return out;
    },
  },
  {
    name: 'f16 pack/unpack: bit-exact round-to-nearest-even, specials, round trip',
    async run(ctx) {
      const r = rng(17);
      const special = [0, -0, 1, -1, 65504, 65520, 1e5, -1e5, 6.1e-5, 5.96e-8, 2.98e-8, 1e-9, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, -Infinity, NaN, 65519, 2 ** -25, 3 * 2 ** -26];
      const vals = Float32Array.from([...special, ...randn(r, 1001, 30)]);
      const h = await packF16(ctx, up(ctx, vals, [vals.length]));
      const words = await ctx.readU32(h.buffer, 0, Math.ceil(vals.length / 2));
      const bits = new Uint16Array(words.buffer, 0, vals.length);
      let diff = 0;
      for (let i = 0; i < vals.length; i++) if (bits[i] !== floatToHalfBits(vals[i])) diff++;
      const back = await (await unpackF16(ctx, h)).read();
      const want = unpackHalf(packHalf(vals));
      let diff2 = 0;
      for (let i = 0; i < vals.length; i++) if (!Object.is(back[i], want[i])) diff2++;
      return { 'pack bit mismatches vs RNE reference': m(diff, 0), 'unpack mismatches': m(diff2, 0) };
    },
  },
  {
    name: 'limits: operands larger than maxStorageBufferBindingSize are chunked (capped context)',
    async run(_ctx) {
      // a second device whose planning limits are tiny, so that small problems must be split
      const small = await GpuContext.acquire({ limitCaps: { maxStorageBufferBindingSize: 2048 } });
      try {
        const out: Metrics = {};
        out['gemm NN 40x44x36'] = m(await gemmCase(small, { M: 40, N: 44, K: 36, tA: false, tB: false, batch: 1, beta: 1 }, 21));
        out['gemm TT 37x30x41 batched'] = m(await gemmCase(small, { M: 37, N: 30, K: 41, tA: true, tB: true, batch: 2 }, 22));
        out['gemm TN weights'] = m(await gemmCase(small, { M: 12, N: 20, K: 90, tA: true, tB: false, batch: 3, kw: true }, 23));
        const r = rng(24);
        const n = 150, k = 20;
        const G = randn(r, n * k);
        const C = zeros(small, [k, k]);
        await syrk(small, C, up(small, G, [n, k]));
        out['syrk 150 rows'] = m(relErr(await C.read(), refSyrk(new Float64Array(k * k), G, n, k)));
        const Q = randn(r, 3 * k), X = randn(r, 400 * k);
        const top = new TopK(small, 3, 4);
        await top.push(up(small, Q, [3, k]), up(small, X, [400, k]), 0, { mode: 'cosine' });
        const res = await top.result();
        const ref = refTopK(refScores(Q, X, 3, 400, k, 'cosine'), 3, 400, 4);
        out['top-k over 400 rows'] = m(relErr(res.values, ref.values));
        const spec = { seed: 9, layer: 1, role: 'pIn' as const, rows: 50, cols: 33 };
        const g = await randomNormal(small, spec);
        const want = normalMatrix(spec);
        const got = await g.read();
        out['randomNormal bit mismatches'] = m(got.filter((v, i) => !Object.is(v, want[i])).length, 0);
        const vals = randn(r, 3001);
        const back = await (await unpackF16(small, await packF16(small, up(small, vals, [3001])))).read();
        out['f16 round trip (chunked)'] = m(relErr(back, unpackHalf(packHalf(vals))), 0);
        // a single row larger than a binding cannot be split: a clear error
        out['syrk k=1025 (C > binding) -> GpuLimitError'] = m(await expectError(syrk(small, zeros(small, [1025, 1025]), zeros(small, [2, 1025])), GpuLimitError), 0);
        {
          // factor 20 x 20 (1,600 B) fits the 2,048 B binding; 30 right-hand sides (2,400 B) are solved in chunks
          const nc = 20, { a32, a64 } = randSpd(r, nc, 1e3), Gs = randn(r, 30 * nc);
          const Xs = await (await (async () => {
            const f = await cholesky(small, up(small, a32, [nc, nc]), 0.01);
            try {
              return await choleskySolve(small, f, up(small, Gs, [30, nc]), { block: 8 });
            } finally {
              f.dispose();
            }
          })()).read();
          out['cholesky solve, 30 rows in chunks: residual'] = m(solveResidual(a64, nc, 0.01, Xs, Gs, 30));
          // matrices beyond the binding limit: typed errors naming the kernel and the limit
          const big = zeros(small, [24, 24]);
          const named = async (p: Promise<unknown>, what: RegExp) => {
            try {
              await p;
            } catch (e) {
              return e instanceof GpuLimitError && what.test(e.message) && /maxStorageBufferBindingSize/.test(e.message) ? 0 : 1;
            }
            return 1;
          };
          out['cholesky 24 x 24 (> binding) -> GpuLimitError naming cholesky'] = m(await named(cholesky(small, big, 1), /cholesky/), 0);
          out['eigh (Jacobi) 24 x 24 -> GpuLimitError naming eigh'] = m(await named(eigh(small, big), /eigh/), 0);
          // the hybrid eigensolver chunks its products instead (GEMMs split into row/column blocks)
          const ne = 30, se = randSpd(r, ne, 1e6), te = up(small, se.a32, [ne, ne]);
          const he = await eighHybrid(small, te, { nb: 8, matmulMinWork: 1, fixedMatvecMin: 1 });
          const ee = eighErrors(se.a64, ne, he.values, await he.vectors.read());
          out['eigh (hybrid) 30 x 30 (> binding), chunked: residual'] = m(ee.residual);
          out['eigh (hybrid) 30 x 30 (> binding), chunked: orthogonality'] = m(ee.orthogonality);
        }
        return out;
      } finally {
        small.destroy();
      }
    },
  },
  {
    name: 'errors: shape checks, device loss, watchdog',
    async run(ctx) {
      const out: Metrics = {};
      const a = zeros(ctx, [3, 4]), b = zeros(ctx, [5, 6]);
      out['gemm inner mismatch -> ShapeError'] = m(await expectError(gemm(ctx, a, b), ShapeError), 0);
      out['logra bad P_in -> ShapeError'] = m(await expectError(loGraProject(ctx, { x: zeros(ctx, [2, 3, 4]), dy: zeros(ctx, [2, 3, 5]) }, zeros(ctx, [2, 3]), zeros(ctx, [2, 5])), ShapeError), 0);
      out['watchdog -> GpuTimeoutError'] = m(await expectError(withWatchdog('never', 50, new Promise(() => {})), GpuTimeoutError), 0);
      // a validation error (a bind group missing a binding) surfaces as GpuValidationError at the next sync
      {
        const v = await GpuContext.acquire();
        try {
          const pipe = await v.pipeline({ shader: 'pack_f16' });
          v.dispatch(pipe, [v.alloc(64)], [1], new Uint32Array([1, 0, 0, 0]), 'broken');
          let got = 1;
          try {
            await v.sync();
            await v.sync(); // uncaptured-error events may arrive one turn later
          } catch (e) {
            if (e instanceof GpuValidationError) got = 0;
            else throw e;
          }
          out['validation error -> GpuValidationError'] = m(got, 0);
        } finally {
          v.destroy();
        }
      }
      // buffers come back from the pool
      {
        const b1 = ctx.alloc(1000);
        ctx.release(b1);
        const before = ctx.pool.stats().reused;
        const b2 = ctx.alloc(1000);
        out['pool reuses a released buffer'] = m(b1 === b2 && ctx.pool.stats().reused === before + 1 ? 0 : 1, 0);
        ctx.release(b2);
      }
      // device loss: adopt a device, destroy it underneath the context
      const own = await GpuContext.acquire();
      const adopted = await GpuContext.acquire({ device: own.device });
      own.device.destroy();
      await new Promise((res) => setTimeout(res, 50));
      out['lost device -> GpuDeviceLostError'] = m(await expectError((async () => (await randomNormal(adopted, { seed: 1, layer: 0, role: 0, rows: 4, cols: 4 })).read())(), GpuDeviceLostError), 0);
      own.destroy();
      return out;
    },
  },
  {
    name: 'shared device: onnxruntime-web WebGPU EP output feeds our GEMM without a copy (and ours feeds ORT)',
    async run(ctx) {
      const restore = await prepareNodeForOrtWebGpu(ctx.device);
      try {
        const ort = await loadOrt('webgpu');
        const model = onnx.ModelProto.create({
          irVersion: Long.fromNumber(8),
          opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: Long.fromNumber(17) })],
          graph: onnx.GraphProto.create({ name: 'mm', node: [], initializer: [], input: [], output: [] }),
        });
        const g = new Graph(model);
        g.addInput('X', DataType.FLOAT, ['m', 'k']);
        g.addInput('W', DataType.FLOAT, ['k', 'n']);
        g.addOutput(g.op('MatMul', ['X', 'W']), DataType.FLOAT);
        const session = await ort.InferenceSession.create(encodeModel(model), {
          executionProviders: [webGpuEp(ctx) as unknown as string],
          preferredOutputLocation: 'gpu-buffer',
        });
        const r = rng(41);
        const M = 6, K = 10, N = 7, P = 5;
        const X = randn(r, M * K), W = randn(r, K * N), Z = randn(r, N * P);
        const xg = up(ctx, X, [M, K]);
        await ctx.sync(); // our upload must land before ORT reads the buffer
        const res = await session.run({
          X: ort.Tensor.fromGpuBuffer(xg.buffer, { dataType: 'float32', dims: [M, K] }),
          W: new ort.Tensor('float32', W, [K, N]),
        });
        const y = res[session.outputNames[0]];
        if (y.location !== 'gpu-buffer') throw new Error(`ORT output is on ${y.location}, not on the GPU`);
        const yt = asGpuTensor(ctx, y.gpuBuffer as GPUBuffer, [M, N]);
        const out = await gemm(ctx, yt, up(ctx, Z, [N, P]));
        const got = await out.read();
        const want = refGemm(refGemm(X, W, M, N, K), Z, M, P, N);
        y.dispose();
        await session.release();
        return { 'ORT(X W) then our GEMM x Z': m(relErr(got, want)) };
      } finally {
        restore();
      }
    },
  },
];
