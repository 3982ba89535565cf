// The raw preconditioner's two forms against a float64 solve of (C + lambda I) x = g, C = (1/N) G^T G:
// the covariance form (whitener of C, k x k) and the kernel form (whitener of the Gram matrix G G^T + N lambda I,
// N x N), for N below and above k: preconditioned rows, quadratic forms, scores from raw dot products, the stored
// rows' self-influences and their preconditioned rows.
import { describe, it, expect } from 'vitest';
import { createBackend, type KernelBackend } from '../../src/kernels/backend.ts';
import { KernelPreconditioner, WhitenPreconditioner } from '../../src/logra/precondition.ts';
import { rawFormFor } from '../../src/logra/fit.ts';
import { spdSolve, transpose } from '../support/linalg64.ts';
import { rng } from '../../src/train/rng.ts';

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

async function whiten(be: KernelBackend, a: Float32Array, n: number, lambda: number): Promise<Float32Array> {
  const t = be.tensor(a, [n, n]);
  const w = await be.whitener(t, lambda);
  const out = await be.read(w);
  t.dispose();
  w.dispose();
  return out;
}

describe('raw preconditioner forms', () => {
  it('chooses the kernel form below about 1.35 k and the covariance form above', () => {
    expect(rawFormFor(100, 4096)).toBe('kernel');
    expect(rawFormFor(4096, 4096)).toBe('kernel');
    expect(rawFormFor(6000, 4096)).toBe('whiten');
    expect(rawFormFor(1e6, 256)).toBe('whiten');
    expect(rawFormFor(100, 4096, 'covariance')).toBe('whiten');
    expect(() => rawFormFor(1, 1, 'fast' as never)).toThrow(/rawForm/);
  });

  for (const [kOut, kIn, N, m] of [[4, 6, 50, 7], [12, 16, 300, 33], [8, 8, 20, 5]] as const) {
    it(`k = ${kOut} x ${kIn}, N = ${N}: covariance and kernel forms equal a float64 solve`, async () => {
      const be = await createBackend({ backend: 'cpu' });
      try {
        const k = kOut * kIn;
        const r = rng(k + N);
        const layer = { name: 'l', dIn: kIn, dOut: kOut, kIn, kOut };
        // N stored rows with uneven scales; C = (1/N) G^T G, lambda = 0.1 * mean eigenvalue
        const G = Float32Array.from({ length: N * k }, () => r.normal() * (1 + 3 * r.uniform()));
        const C = new Float64Array(k * k);
        for (let a = 0; a < N; a++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) C[i * k + j] += (G[a * k + i] * G[a * k + j]) / N;
        let tr = 0;
        for (let i = 0; i < k; i++) tr += C[i * k + i];
        const lambda = (0.1 * tr) / k;
        const Q = Float32Array.from({ length: m * k }, () => r.normal());
        // references: H^{-1} q, q^T H^{-1} q, q^T H^{-1} g_n, g_n^T H^{-1} g_n, H^{-1} g_n
        const solve = (rows: Float32Array, count: number) => transpose(spdSolve(C, k, lambda, transpose(rows, count, k), count), k, count);
        const pq = solve(Q, m), pg = solve(G, N);
        const dot = (a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number) => { let s = 0; for (let i = 0; i < k; i++) s += a[ao + i] * b[bo + i]; return s; };
        const quadQ = Array.from({ length: m }, (_, j) => dot(Q, j * k, pq, j * k));
        const selfG = Array.from({ length: N }, (_, n) => dot(G, n * k, pg, n * k));
        const scores = Float64Array.from({ length: m * N }, (_, i) => dot(pq, Math.floor(i / N) * k, G, (i % N) * k));

        // covariance form
        const wp = new WhitenPreconditioner(layer, lambda, await whiten(be, Float32Array.from(C), k, lambda));
        expect(relErr(await wp.precondition(be, Q, m), pq)).toBeLessThan(1e-4);
        expect(relErr(await wp.quad(be, Q, m), quadQ)).toBeLessThan(1e-5);
        expect(relErr(await wp.quad(be, G, N), selfG)).toBeLessThan(1e-5);

        // kernel form: K = G G^T, M = K + N lambda I
        const K = new Float32Array(N * N);
        for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) K[a * N + b] = dot(G, a * k, G, b * k);
        const kp = new KernelPreconditioner(layer, lambda, N, await whiten(be, K, N, N * lambda));
        const dots = Float32Array.from({ length: m * N }, (_, i) => dot(Q, Math.floor(i / N) * k, G, (i % N) * k));
        expect(relErr(await kp.scores(be, dots, m), scores)).toBeLessThan(1e-4);
        expect(relErr(await kp.quadFromDots(be, Q, dots, m), quadQ)).toBeLessThan(1e-4);
        expect(relErr(kp.selfInfluence(), selfG)).toBeLessThan(1e-4);
        // H^{-1} g_n = G^T beta_n for a few stored rows
        const pick = [0, N - 1, Math.floor(N / 2)];
        const beta = await kp.rowCoefficients(be, pick);
        const viaBeta = new Float64Array(pick.length * k);
        for (let i = 0; i < pick.length; i++) for (let n = 0; n < N; n++) for (let c = 0; c < k; c++) viaBeta[i * k + c] += beta[i * N + n] * G[n * k + c];
        const wantRows = Float64Array.from({ length: pick.length * k }, (_, i) => pg[pick[Math.floor(i / k)] * k + (i % k)]);
        expect(relErr(viaBeta, wantRows)).toBeLessThan(1e-4);
        // H^{-1} q = (1/lambda)(q - (a M^{-1}) G)
        const solved = await kp.solveDots(be, dots, m);
        const sg = new Float32Array(m * k);
        for (let j = 0; j < m; j++) for (let n = 0; n < N; n++) for (let c = 0; c < k; c++) sg[j * k + c] += solved[j * N + n] * G[n * k + c];
        expect(relErr(kp.combine(Q, sg), pq)).toBeLessThan(1e-3);
      } finally {
        be.dispose();
      }
    });
  }
});
