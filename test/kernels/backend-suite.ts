// The KernelBackend interface checked against the float64 references, for any backend (CPU: onnxruntime-web wasm
// graphs + float64 TS; WebGPU: our WGSL kernels). Shared by the Node, Deno and browser runners.
import type { KernelBackend } from '../../src/kernels/backend.ts';
import { refGemm } from '../../src/kernels/reference/gemm.ts';
import { refLoGra, refPerExampleGrad, refDenseProject, refSyrk } from '../../src/kernels/reference/logra.ts';
import { refCholesky, refCholeskySolve } from '../../src/kernels/reference/cholesky.ts';
import { refScores, refTopK } from '../../src/kernels/reference/score.ts';
import { normalMatrix } from '../../src/kernels/reference/rng.ts';
import { packHalf } from '../../src/kernels/reference/f16.ts';
import { rng, randn, randMask, relErr, randSpd, eighErrors, whitenerErrors } from './oracle.ts';
import { FP32_TOL, type Metrics, type Metric } from './suite.ts';

const m = (value: number, max = FP32_TOL): Metric => ({ value, max });

export interface BackendCase {
  name: string;
  run(be: KernelBackend): Promise<Metrics>;
}

export const backendCases: BackendCase[] = [
  {
    name: 'gemm (transposes, batch, alpha/beta, weights)',
    async run(be) {
      const r = rng(31);
      const out: Metrics = {};
      for (const [M, N, K, tA, tB, batch, kw] of [
        [7, 5, 9, false, false, 1, false],
        [12, 10, 6, true, true, 1, false],
        [4, 6, 11, true, false, 3, true],
      ] as const) {
        const A = randn(r, batch * M * K), B = randn(r, batch * K * N), C0 = randn(r, batch * M * N);
        const W = kw ? randMask(r, batch, K) : undefined;
        const sh = (s: number[]) => (batch > 1 ? [batch, ...s] : s);
        const c = be.tensor(C0.slice(), sh([M, N]));
        await be.gemm(be.tensor(A, sh(tA ? [K, M] : [M, K])), be.tensor(B, sh(tB ? [N, K] : [K, N])), { transA: tA, transB: tB, alpha: 0.5, beta: 2, c, kWeights: W ? be.tensor(W, [batch, K]) : undefined });
        const want = refGemm(A, B, M, N, K, { transA: tA, transB: tB, alpha: 0.5, beta: 2, c: C0, batch, kWeights: W });
        out[`${batch}x${M}x${N}x${K}`] = m(relErr(await be.read(c), want));
      }
      return out;
    },
  },
  {
    name: 'LoGra projection and dense baseline',
    async run(be) {
      const r = rng(32);
      const B = 3, T = 7, dIn = 11, dOut = 6, kIn = 4, kOut = 3;
      const x = randn(r, B * T * dIn), dy = randn(r, B * T * dOut), mask = randMask(r, B, T);
      const taps = { x: be.tensor(x, [B, T, dIn]), dy: be.tensor(dy, [B, T, dOut]), mask: be.tensor(mask, [B, T]) };
      const pIn = randn(r, kIn * dIn), pOut = randn(r, kOut * dOut);
      const g = await be.loGraProject(taps, be.tensor(pIn, [kIn, dIn]), be.tensor(pOut, [kOut, dOut]));
      const dense = await be.denseBaseline(taps, { seed: 4, layer: 2, kIn, kOut });
      const want = refDenseProject(refPerExampleGrad(x, dy, mask, { B, T, dIn, dOut }), B, { seed: 4, layer: 2, role: 'dense', rows: kIn * kOut, cols: dIn * dOut });
      return {
        logra: m(relErr(await be.read(g), refLoGra(x, dy, mask, pIn, pOut, { B, T, dIn, dOut }, kIn, kOut))),
        dense: m(relErr(await be.read(dense), want)),
      };
    },
  },
  {
    name: 'covariance and KFAC accumulation',
    async run(be) {
      const r = rng(33);
      const n = 25, k = 9;
      const G = randn(r, n * k);
      const c = be.zeros([k, k]);
      await be.syrk(c, be.tensor(G, [n, k]));
      await be.syrk(c, be.tensor(G, [n, k]), { alpha: 2 });
      const B = 2, T = 5, dIn = 6, dOut = 4;
      const x = randn(r, B * T * dIn), dy = randn(r, B * T * dOut), mask = randMask(r, B, T);
      const A = be.zeros([dIn, dIn]), S = be.zeros([dOut, dOut]);
      await be.kfacAccumulate(A, S, be.tensor(x, [B, T, dIn]), be.tensor(dy, [B, T, dOut]), be.tensor(mask, [B, T]), 0.5);
      return {
        cov: m(relErr(await be.read(c), refSyrk(new Float64Array(k * k), G, n, k, undefined, 3))),
        A: m(relErr(await be.read(A), refSyrk(new Float64Array(dIn * dIn), x, B * T, dIn, mask, 0.5))),
        S: m(relErr(await be.read(S), refSyrk(new Float64Array(dOut * dOut), dy, B * T, dOut, mask, 0.5))),
      };
    },
  },
  {
    name: 'eigh, whitener (cond 1e6)',
    async run(be) {
      const r = rng(34);
      const n = 30;
      const { a32, a64 } = randSpd(r, n, 1e6);
      const e = await be.eigh(be.tensor(a32, [n, n]));
      const err = eighErrors(a64, n, e.values, await be.read(e.vectors));
      const lambda = 0.1 / n * Array.from({ length: n }, (_, i) => a64[i * n + i]).reduce((s, v) => s + v, 0);
      const wt = await be.read(await be.whitener(be.tensor(a32, [n, n]), lambda));
      const w = whitenerErrors(a64, n, lambda, wt);
      // whitened squared norms |g Wt|^2 = g^T H^{-1} g against the float64 solve
      const G = randn(r, 4 * n);
      const X = refCholeskySolve(refCholesky(a64, n, lambda), n, G, 4);
      const quad = [0, 1, 2, 3].map((q) => { let s = 0; for (let i = 0; i < n; i++) s += G[q * n + i] * X[q * n + i]; return s; });
      const ours = [0, 1, 2, 3].map((q) => { let s = 0; for (let j = 0; j < n; j++) { let d = 0; for (let i = 0; i < n; i++) d += G[q * n + i] * wt[i * n + j]; s += d * d; } return s; });
      return {
        'eigh residual': m(err.residual),
        'eigh orthogonality': m(err.orthogonality),
        'whitener: lower part': m(w.lower, 0),
        'whitener: ||H Wt Wt^T - I||': m(w.residual),
        'whitened norms vs f64 g^T H^-1 g': m(relErr(ours, quad)),
      };
    },
  },
  {
    name: 'score and top-k (f16 chunk), random projection, f16 packing',
    async run(be) {
      const r = rng(35);
      const q = 3, k = 16, n1 = 50, n2 = 40;
      const Q = randn(r, q * k), X1 = randn(r, n1 * k), X2 = randn(r, n2 * k);
      const top = be.topK(q, 5);
      await top.push(be.tensor(Q, [q, k]), be.tensor(X1, [n1, k]), 0, { mode: 'cosine' });
      const h2 = packHalf(X2);
      await top.push(be.tensor(Q, [q, k]), be.tensorFromHalf(h2, [n2, k]), n1, { mode: 'cosine' });
      const res = await top.result();
      top.dispose();
      const all = new Float32Array((n1 + n2) * k);
      all.set(X1);
      all.set(Float32Array.from(await be.read(be.tensorFromHalf(h2, [n2, k]))), n1 * k);
      const ref = refTopK(refScores(Q, all, q, n1 + n2, k, 'cosine'), q, n1 + n2, 5);
      const s = await be.read(await be.score(be.tensor(Q, [q, k]), be.tensor(X1, [n1, k]), { mode: 'l2' }));
      // given norms (self-influences in a preconditioned metric), rows from an f16 chunk, through the running top-k
      const qn = Float32Array.from({ length: q }, () => 0.5 + r.uniform());
      const xn = Float32Array.from({ length: n2 }, () => 0.5 + r.uniform());
      xn[3] = 0; // a zero self-influence scores 0 in cosine
      const given = { q: be.tensor(qn, [q]), x: be.tensor(xn, [n2]) };
      const X2h = Float32Array.from(await be.read(be.tensorFromHalf(h2, [n2, k])));
      const normsOut: Record<string, ReturnType<typeof m>> = {};
      for (const mode of ['cosine', 'l2'] as const) {
        const sg = await be.read(await be.score(be.tensor(Q, [q, k]), be.tensorFromHalf(h2, [n2, k]), { mode, norms: given }));
        const refG = refScores(Q, X2h, q, n2, k, mode, undefined, { q: qn, x: xn });
        const tg = be.topK(q, 4);
        await tg.push(be.tensor(Q, [q, k]), be.tensorFromHalf(h2, [n2, k]), 7, { mode, norms: given });
        const rg = await tg.result();
        tg.dispose();
        const refT = refTopK(refG, q, n2, 4, 7);
        normsOut[`given norms, ${mode} scores`] = m(relErr(sg, refG));
        normsOut[`given norms, ${mode} top-k index mismatches`] = m(rg.indices.filter((v, i) => v !== refT.indices[i]).length, 0);
      }
      const spec = { seed: 77, layer: 'blk', role: 'pOut' as const, rows: 9, cols: 14 };
      const p = await be.read(await be.randomNormal(spec));
      const want = normalMatrix(spec);
      const bits = await be.packHalf(be.tensor(X2, [n2, k]));
      return {
        'top-k values': m(relErr(res.values, ref.values)),
        'top-k index mismatches': m(res.indices.filter((v, i) => v !== ref.indices[i]).length, 0),
        'l2 scores': m(relErr(s, refScores(Q, X1, q, n1, k, 'l2'))),
        'projection bit mismatches': m(p.filter((v, i) => !Object.is(v, want[i])).length, 0),
        'f16 bit mismatches': m(bits.filter((v, i) => v !== h2[i]).length, 0),
        ...normsOut,
      };
    },
  },
];
