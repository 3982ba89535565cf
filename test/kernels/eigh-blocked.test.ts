// The host-side large-n solvers against float64 references, at small sizes with small panels so that every path
// runs (panels, trailing GEMM updates, grouped back-transformation, divide-and-conquer merges with deflation):
// blocked Householder + divide and conquer (eigh-blocked.ts, reference/tridiag.ts) with plain-JS and
// onnxruntime-web (float32 and float64) products, and the blocked Cholesky / many-right-hand-side solves.
// Big-n timings live in bench/kernels.ts, not here.
import { describe, it, expect, afterAll } from 'vitest';
import { blockedEigh, jsLinalg, type HostLinalg } from '../../src/kernels/eigh-blocked.ts';
import { OrtLinalg } from '../../src/kernels/eigh-host.ts';
import { OrtGraphs } from '../../src/kernels/ort-graphs.ts';
import { tridiagEigh } from '../../src/kernels/reference/tridiag.ts';
import { refEigh } from '../../src/kernels/reference/eigh.ts';
import { refCholesky, refCholeskySolve } from '../../src/kernels/reference/cholesky.ts';
import { refSyrk } from '../../src/kernels/reference/logra.ts';
import { blockedCholesky, blockedTriInverse } from '../../src/kernels/cholesky-blocked.ts';
import { NotPositiveDefiniteError } from '../../src/gpu/errors.ts';
import { rng, randn, randSpd, eighErrors, relErr, solveResidual } from './oracle.ts';

const TOL = 1e-4;

function tridiagErrors(d: Float64Array, e: Float64Array, n: number, w: Float64Array, V: ArrayLike<number>) {
  let res = 0, nrm = 0, orth = 0;
  for (let j = 0; j < n; j++)
    for (let i = 0; i < n; i++) {
      const s = d[i] * V[i * n + j] + (i > 0 ? e[i - 1] * V[(i - 1) * n + j] : 0) + (i < n - 1 ? e[i] * V[(i + 1) * n + j] : 0);
      res += (s - w[j] * V[i * n + j]) ** 2;
    }
  for (let i = 0; i < n; i++) nrm += d[i] ** 2 + (i < n - 1 ? 2 * e[i] ** 2 : 0);
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += V[i * n + a] * V[i * n + b];
      orth += (s - (a === b ? 1 : 0)) ** 2;
    }
  return { residual: Math.sqrt(res / nrm), orthogonality: Math.sqrt(orth) };
}

describe('tridiagonal divide and conquer (float64)', () => {
  const r = rng(51);
  const cases: [string, number, (i: number) => [number, number]][] = [
    ['random', 150, () => [r.normal(), r.normal()]],
    ['Wilkinson-like (close pairs)', 121, (i) => [Math.abs(60 - i), 1]],
    ['clusters and zero couplings', 100, (i) => [1 + (i % 3) * 1e-12, i % 9 === 0 ? 0 : 1e-10]],
    ['Toeplitz (2, -1)', 97, () => [2, -1]],
    ['graded 1e-12..1', 80, (i) => [10 ** (-12 * (i / 79)), 1e-3 * 10 ** (-6 * (i / 79))]],
  ];
  for (const [name, n, gen] of cases) {
    it(`${name}, n=${n}: residual and orthogonality ~1e-14, ascending`, async () => {
      const d = new Float64Array(n), e = new Float64Array(n - 1);
      for (let i = 0; i < n; i++) {
        const [a, b] = gen(i);
        d[i] = a;
        if (i < n - 1) e[i] = b;
      }
      const res = await tridiagEigh(d, e, n);
      const err = tridiagErrors(d, e, n, res.values, res.vectors);
      expect(err.residual).toBeLessThan(1e-12);
      expect(err.orthogonality).toBeLessThan(1e-11);
      for (let i = 1; i < n; i++) expect(res.values[i]).toBeGreaterThanOrEqual(res.values[i - 1]);
    });
  }
  it('n = 0, 1, 2 and the zero matrix', async () => {
    expect((await tridiagEigh([], [], 0)).values.length).toBe(0);
    expect(Array.from((await tridiagEigh([3], [], 1)).values)).toEqual([3]);
    const two = await tridiagEigh([1, 1], [1], 2);
    expect(two.values[0]).toBeCloseTo(0, 14);
    expect(two.values[1]).toBeCloseTo(2, 14);
    const z = await tridiagEigh(new Float64Array(40), new Float64Array(39), 40);
    expect(tridiagErrors(new Float64Array(40), new Float64Array(39), 40, z.values, z.vectors).orthogonality).toBe(0);
  });
});

let graphs: OrtGraphs | null = null;
const ortLinalgs: OrtLinalg[] = [];
afterAll(async () => {
  for (const l of ortLinalgs) await l.dispose();
  await graphs?.dispose();
});

async function ortLinalg(precision: 'f32' | 'f64'): Promise<HostLinalg> {
  graphs ??= await OrtGraphs.create();
  const l = new OrtLinalg(graphs.ort, precision);
  ortLinalgs.push(l);
  // every product and matrix-vector product through ORT, even at test sizes
  return { precision, matmul: l.matmul, fixedMatvec: l.fixedMatvec, fixedMatvecMin: 1, matmulMinWork: 1 };
}

describe('blocked eigh (Householder panels + divide and conquer + WY back-transformation)', () => {
  const mats = (seed: number) => {
    const r = rng(seed);
    const out: [string, number, Float64Array][] = [];
    for (const n of [1, 2, 5, 37, 70]) out.push([`SPD cond 1e6 n=${n}`, n, randSpd(r, n, 1e6).a64]);
    const n = 44, g = randn(r, 10 * n);
    out.push([`PSD rank 10 n=${n}`, n, Float64Array.from(Float32Array.from(refSyrk(new Float64Array(n * n), g, 10, n, undefined, 0.1)))]);
    // indefinite with repeated eigenvalues
    const m = 33, a = new Float64Array(m * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) a[i * m + j] = i === j ? (i % 3) - 1 : 0;
    out.push([`diagonal with triples n=${m}`, m, a]);
    return out;
  };
  for (const [label, make] of [
    ['plain JS products (float64)', async () => jsLinalg],
    ['onnxruntime-web float32 products', () => ortLinalg('f32')],
    ['onnxruntime-web float64 products', () => ortLinalg('f64')],
  ] as const) {
    it(`${label}: ||AV - VW||/||A|| and ||V^T V - I|| <= 1e-4, eigenvalues vs QL`, async () => {
      const la = await make();
      for (const [name, n, a] of mats(61)) {
        const res = await blockedEigh(a, n, la, { nb: 8 });
        const e = eighErrors(a, n, res.values, res.vectors);
        const ref = refEigh(a, n);
        const ctx = `${name}: residual ${e.residual.toExponential(2)} orthogonality ${e.orthogonality.toExponential(2)}`;
        expect(e.residual, ctx).toBeLessThanOrEqual(TOL);
        expect(e.orthogonality, ctx).toBeLessThanOrEqual(TOL);
        expect(relErr(res.values, ref.values), ctx).toBeLessThanOrEqual(TOL);
        if (la === jsLinalg) expect(Math.max(e.residual, e.orthogonality), ctx).toBeLessThan(1e-12);
      }
    }, 60_000);
  }
  it('rejects NaN', async () => {
    await expect(blockedEigh([1, NaN, NaN, 1], 2)).rejects.toThrow(/NaN/);
  });
});

describe('blocked Cholesky and triangular inverse (float64)', () => {
  for (const [label, make] of [
    ['plain JS products', async () => jsLinalg],
    ['onnxruntime-web float64 products', () => ortLinalg('f64')],
  ] as const) {
    it(`${label}: factor vs unblocked; L^-1 with L L^-1 = I and L^-T L^-1 = (A + lambda I)^-1; cond 1e6`, async () => {
      const la = await make();
      const r = rng(71);
      for (const n of [1, 9, 40, 67]) {
        const { a64 } = randSpd(r, n, 1e6);
        let tr = 0;
        for (let i = 0; i < n; i++) tr += a64[i * n + i];
        for (const lambda of [(0.1 * tr) / n, 0]) {
          const f = await blockedCholesky(a64, n, lambda, la.matmul, 8);
          const L = refCholesky(a64, n, lambda);
          expect(relErr(f.L, L)).toBeLessThan(lambda ? 1e-12 : 1e-6);
          const X = await blockedTriInverse(f, la.matmul, 8);
          // lower triangular, L X = I
          let upper = 0, resid = 0;
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++) {
              if (j > i) upper = Math.max(upper, Math.abs(X[i * n + j]));
              let s = 0;
              for (let c = 0; c < n; c++) s += f.L[i * n + c] * X[c * n + j];
              resid = Math.max(resid, Math.abs(s - (i === j ? 1 : 0)));
            }
          expect(upper).toBe(0);
          expect(resid).toBeLessThan(lambda ? 1e-12 : 1e-6);
          // X^T X = (A + lambda I)^{-1}
          const eye = Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
          const inv = refCholeskySolve(L, n, eye, n);
          const xtx = new Float64Array(n * n);
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let c = 0; c < n; c++) xtx[i * n + j] += X[c * n + i] * X[c * n + j];
          expect(relErr(xtx, inv)).toBeLessThan(lambda ? 1e-10 : 1e-4);
        }
      }
    }, 60_000);
  }
  it('an indefinite matrix -> NotPositiveDefiniteError naming the column', async () => {
    const n = 20, a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = i === 13 ? -1 : 1;
    await expect(blockedCholesky(a, n, 0, undefined, 8)).rejects.toThrow(NotPositiveDefiniteError);
    await expect(blockedCholesky(a, n, 0, undefined, 8)).rejects.toThrow(/pivot 13 of 20/);
  });
});
