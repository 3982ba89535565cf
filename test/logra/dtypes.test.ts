// Quantised stores (int8 and 1-bit sign rows, store/chunk.ts) against float32 rows of the same index settings: the
// scores' rank correlation and the bytes per example. The accuracy cost on the accuracy bench is in
// bench/results/accuracy.json; here, that the whole pipeline (log, fit, query, self-influence) runs on each dtype
// and stays close to float32.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { StoreDtype } from '../../src/logra/types.ts';
import { meanSpearman } from '../../bench/support/influence64.ts';
import { randomSequences } from '../support/data.ts';

const fx = new URL('../fixtures/gpt2_linear_erf_op17_mask_pos_tied/', import.meta.url);
let engine: Engine;
let model: LoadedModel;
const data = randomSequences(60, 3);
const queries = randomSequences(6, 31, 'q');

beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
  model = await engine.loadModel(new Uint8Array(readFileSync(new URL('model.onnx', fx))), { source: 'fixture' });
});
afterAll(async () => {
  await model.release();
  engine.dispose();
});

describe('stored row dtypes', () => {
  it('int8 and sign rows give scores rank-correlated with float32 rows, in fewer bytes', async () => {
    const run = async (dtype: StoreDtype) => {
      const store = new MemoryStore(dtype);
      const index = await engine.log(model, data, { store, kIn: 8, kOut: 8, hessian: 'raw', dtype, batchSize: 8 });
      await index.fit();
      const r = await index.query(queries, { topK: 5 });
      const self = await index.selfInfluence();
      const bytes = index.manifest.chunks.reduce((a, c) => a + c.bytes, 0) / index.size;
      return { scores: r.scores!.map((s) => Float64Array.from(s)), self: self.values, bytes };
    };
    const f32 = await run('f32');
    // sign rows keep about one bit per value: the ranking survives only roughly (~0.6 here; 0 for a broken code)
    const want: Record<StoreDtype, number> = { f32: 1, f16: 0.999, int8: 0.995, sign: 0.4 };
    for (const dtype of ['f16', 'int8', 'sign'] as const) {
      const q = await run(dtype);
      const rho = meanSpearman(q.scores, f32.scores);
      console.log(`${dtype}: Spearman vs f32 ${rho.toFixed(4)}, ${q.bytes.toFixed(0)} bytes per example (f32 ${f32.bytes.toFixed(0)})`);
      expect(rho).toBeGreaterThanOrEqual(want[dtype]);
      expect(q.self.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      expect(q.bytes).toBeLessThan(f32.bytes * (dtype === 'f16' ? 0.51 : dtype === 'int8' ? 0.28 : 0.06));
    }
  });
});
