// The fit's cost does not grow with the number of chunks (operation counts, not timings), and its two raw forms,
// its memory grouping and the query's streaming and separate-row paths all give the same scores.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { createEngine, Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { LogOptions, QueryResult } from '../../src/logra/types.ts';
import type { LograIndex } from '../../src/logra/index.ts';
import { countCalls } from '../../bench/support/count-calls.ts';
import { randomSequences } from '../support/data.ts';

const fx = new URL('../fixtures/gpt2_linear_erf_op17_mask_pos_tied/', import.meta.url);
const modelBytes = new Uint8Array(readFileSync(new URL('model.onnx', fx)));

/** a memory store that counts reads of chunk blobs */
class CountingStore extends MemoryStore {
  chunkReads = 0;
  override async readBlob(key: string): Promise<Uint8Array> {
    if (key.startsWith('chunk-')) this.chunkReads++;
    return super.readBlob(key);
  }
}

let base: Engine;
let model: LoadedModel;
const data = randomSequences(24, 5);
const queries = randomSequences(4, 77, 'q');
// k = 6 x 5 = 30 per layer (8 -> 24 and 32 -> 8 layers clamp to their widths): N = 24 < k on most layers
const opts: Omit<LogOptions, 'store'> = { kIn: 6, kOut: 5, hessian: 'raw', batchSize: 4, flushMs: 1e9 };

beforeAll(async () => {
  base = await createEngine({ backend: 'cpu' });
  model = await base.loadModel(modelBytes, { source: 'fixture' });
});
afterAll(async () => {
  await model.release();
  base.dispose();
});

async function logged(chunkBytes: number): Promise<{ engine: Engine; counted: ReturnType<typeof countCalls>; index: LograIndex; store: CountingStore }> {
  const counted = countCalls(base.backend);
  const engine = new Engine(counted.backend, 'wasm');
  const store = new CountingStore(`chunks-${chunkBytes}`);
  const index = await engine.log(model, data, { ...opts, store, chunkBytes });
  return { engine, counted, index, store };
}

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0, m = 0;
  a.forEach((row, j) => row.forEach((v, n) => {
    d = Math.max(d, Math.abs(v - b[j][n]));
    m = Math.max(m, Math.abs(b[j][n]));
  }));
  return d / m;
}

describe('fit cost and forms', () => {
  it('factorises once per layer however many chunks the index has, and queries factorise nothing', async () => {
    const one = await logged(1 << 30);
    const many = await logged(1);
    expect(one.index.manifest.chunks.length).toBe(1);
    expect(many.index.manifest.chunks.length).toBe(data.length / 4); // a chunk per batch
    const L = one.index.manifest.settings.layers.length;
    for (const hessian of ['raw', 'ekfac'] as const) {
      for (const rawForm of hessian === 'raw' ? (['kernel', 'covariance'] as const) : (['auto'] as const)) {
        const counts = [];
        for (const run of [one, many]) {
          run.counted.reset();
          run.store.chunkReads = 0;
          await run.index.fit({ hessian, rawForm });
          const fitCalls = run.counted.snapshot();
          // one pass for statistics (raw covariance / Gram rows, EKFAC corrections), one for self-influences
          // (not needed by the kernel form)
          const passes = hessian === 'raw' && rawForm === 'kernel' ? 1 : 2;
          expect(run.store.chunkReads, `${hessian}/${rawForm}: chunk reads`).toBe(passes * run.index.manifest.chunks.length);
          run.counted.reset();
          await run.index.query(queries, { topK: 3 });
          expect(run.counted.snapshot().factorisations, `${hessian}/${rawForm}: query factorisations`).toEqual({});
          counts.push(fitCalls.factorisations);
        }
        expect(counts[0], `${hessian}/${rawForm}`).toEqual(counts[1]);
        expect(counts[0]).toEqual(hessian === 'raw' ? { whitener: L } : { eigh: 2 * L });
      }
    }
  });

  it('kernel and covariance forms, one and many chunks, one and many layer groups give the same scores', async () => {
    const one = await logged(1 << 30);
    const many = await logged(1);
    const run = async (ix: LograIndex, fit: Parameters<LograIndex['fit']>[0]): Promise<QueryResult> => {
      const state = await ix.fit(fit);
      if (fit?.rawForm && fit.rawForm !== 'auto') expect(new Set(state.forms)).toEqual(new Set([fit.rawForm === 'kernel' ? 'kernel' : 'whiten']));
      return ix.query(queries, { topK: 5, mode: 'cosine', perLayer: true });
    };
    const ref = await run(one.index, { rawForm: 'covariance' });
    for (const [ix, fit] of [
      [one.index, { rawForm: 'kernel' }],
      [many.index, { rawForm: 'kernel' }],
      [many.index, { rawForm: 'covariance' }],
      [many.index, { rawForm: 'covariance', memoryBytes: 1 }],
      [many.index, { rawForm: 'kernel', memoryBytes: 1 }],
    ] as const) {
      const r = await run(ix, fit);
      expect(maxRelDiff(r.scores!, ref.scores!), JSON.stringify(fit)).toBeLessThan(2e-4);
      for (const name of r.layerNames) expect(maxRelDiff(r.layers!.get(name)!, ref.layers!.get(name)!), `${JSON.stringify(fit)} ${name}`).toBeLessThan(2e-4);
      expect(r.top.map((t) => t.map((i) => i.id))).toEqual(ref.top.map((t) => t.map((i) => i.id)));
      const self = await ix.selfInfluence();
      const selfRef = await one.index.fit({ rawForm: 'covariance' }).then(() => one.index.selfInfluence());
      expect(maxRelDiff([self.values], [selfRef.values])).toBeLessThan(2e-4);
    }
  });

  it('top-k only (no score matrix) equals the top of the full scores; per-token scores sum to the dot score; low-rank queries agree across forms', async () => {
    const { index } = await logged(1);
    for (const rawForm of ['kernel', 'covariance'] as const) {
      await index.fit({ rawForm });
      for (const mode of ['dot', 'cosine', 'l2'] as const) {
        const full = await index.query(queries, { topK: 4, mode });
        const top = await index.query(queries, { topK: 4, mode, scores: false });
        expect(top.scores).toBeUndefined();
        expect(top.top.map((t) => t.map((i) => i.id))).toEqual(full.top.map((t) => t.map((i) => i.id)));
        top.top.forEach((t, j) => t.forEach((item, i) => expect(item.score).toBeCloseTo(full.top[j][i].score, 4)));
      }
      const r = await index.query(queries, { topK: 3, perToken: true });
      for (const items of r.top)
        for (const item of items) {
          const sum = item.tokens!.reduce((a, b) => a + b, 0);
          expect(Math.abs(sum - item.score) / Math.abs(item.score), `${rawForm} per-token sum`).toBeLessThan(1e-3);
        }
    }
    await index.fit({ rawForm: 'kernel' });
    const kr = await index.query(queries, { topK: 3, queryRank: 2 });
    await index.fit({ rawForm: 'covariance' });
    const cr = await index.query(queries, { topK: 3, queryRank: 2 });
    expect(maxRelDiff(kr.scores!, cr.scores!)).toBeLessThan(1e-3);
  });
});
