// The raw preconditioner's two ways of applying (C + lambda I)^{-1}: a factorisation per apply, and the damped
// inverse made once by prepare() (what fit's self-influence pass uses), both against a float64 solve.
import { describe, it, expect } from 'vitest';
import { createBackend } from '../../src/kernels/backend.ts';
import { LayerPreconditioner } from '../../src/logra/fit.ts';
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

describe('raw preconditioner', () => {
  for (const [kOut, kIn, n, m] of [[4, 6, 50, 7], [12, 16, 300, 33]] as const) {
    it(`k = ${kOut} x ${kIn}: prepared inverse and per-apply factorisation equal a float64 solve`, async () => {
      const backend = await createBackend({ backend: 'cpu' });
      try {
        const k = kOut * kIn;
        const r = rng(k + n);
        // C = (1/n) G^T G from n low-ish rank gradients (as fit builds it), lambda = 0.1 * mean eigenvalue
        const G = Float64Array.from({ length: n * k }, () => r.normal() * (1 + r.uniform()));
        const C = new Float64Array(k * k);
        for (let a = 0; a < n; a++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) C[i * k + j] += (G[a * k + i] * G[a * k + j]) / n;
        let tr = 0;
        for (let i = 0; i < k; i++) tr += C[i * k + i];
        const lambda = (0.1 * tr) / k;
        const layer = { name: 'l', dIn: kIn, dOut: kOut, kIn, kOut };
        const rows = Float32Array.from({ length: m * k }, () => r.normal());
        // spdSolve takes right-hand sides as columns: B = rows^T [k, m]
        const cols = transpose(rows, m, k);
        const want = transpose(spdSolve(Float64Array.from(Float32Array.from(C)), k, lambda, cols, m), k, m);
        const p = LayerPreconditioner.raw(layer, Float32Array.from(C), lambda);
        const direct = await p.apply(backend, rows, m);
        await p.prepare(backend);
        const viaInverse = await p.apply(backend, rows, m);
        expect(relErr(direct, want)).toBeLessThan(1e-5);
        expect(relErr(viaInverse, want)).toBeLessThan(1e-4);
        const quad = await p.quad(backend, rows, m);
        for (let j = 0; j < m; j++) {
          let s = 0;
          for (let c = 0; c < k; c++) s += rows[j * k + c] * want[j * k + c];
          expect(Math.abs(quad[j] - s) / Math.abs(s)).toBeLessThan(1e-4);
        }
      } finally {
        backend.dispose();
      }
    });
  }
});
