// LograIndex.warm(): after it, a query reads nothing from the store (fit, preconditioners, projections and rows are
// in memory; on WebGPU the rows are on the device and only the top items' chunks are read for their per-layer
// scores) and gives the results of a cold query; progress counts chunks; an
// abort stops it with the index still usable.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { MemoryStore } from '../../src/store/memory.ts';
import type { LogStore } from '../../src/store/store.ts';
import type { ProgressEvent, QueryResult } from '../../src/logra/types.ts';
import { randomSequences } from '../support/data.ts';
import { cpuAndGpuEngines } from '../support/engines.ts';

const fx = new URL('../fixtures/gpt2_linear_erf_op17_mask_pos_tied/', import.meta.url);
const modelBytes = new Uint8Array(readFileSync(new URL('model.onnx', fx)));
const data = randomSequences(40, 5);
const queries = randomSequences(2, 77, 'q');

/** A store that counts blob reads (in all and by key). */
function counting(store: LogStore): { store: LogStore; reads: () => number; byKey: Map<string, number> } {
  let n = 0;
  const byKey = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop === 'readBlob') return (key: string) => (n++, byKey.set(key, (byKey.get(key) ?? 0) + 1), (v as LogStore['readBlob']).call(target, key));
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: proxy, reads: () => n, byKey };
}

/** the same top items, scores and per-layer scores as the cold query */
function expectSameTop(r: QueryResult, cold: QueryResult): void {
  r.top.forEach((items, j) => {
    expect(items.map((t) => t.id)).toEqual(cold.top[j].map((t) => t.id));
    items.forEach((t, i) => {
      expect(t.score).toBeCloseTo(cold.top[j][i].score, 3);
      t.layers!.forEach((v, l) => expect(v).toBeCloseTo(cold.top[j][i].layers![l], 3));
    });
  });
}

const base = new MemoryStore('warm');
const e = cpuAndGpuEngines(modelBytes, async ({ cpu, model }) => {
  const ix = await cpu.log(model, data, { store: base, kIn: 4, kOut: 3, hessian: 'kfac', dtype: 'int8', batchSize: 8, flushMs: 1e9, chunkBytes: 512 });
  await ix.fit();
});

describe('LograIndex.warm', () => {
  for (const backend of ['cpu', 'webgpu'] as const) {
    it(`${backend}: after warm() a top-k query with per-layer and per-token scores scans no chunk and equals a cold query`, async () => {
      const engine = backend === 'cpu' ? e.cpu : e.gpu, m = backend === 'cpu' ? e.model : e.gpuModel;
      const cold = await (await engine.openIndex(base, m)).query(queries, { topK: 5, perLayer: true, perToken: true, scores: false });
      const c = counting(base);
      const ix = await engine.openIndex(c.store, m);
      ix.cacheBytes = 2 ** 24;
      const events: ProgressEvent[] = [];
      await ix.warm({ onProgress: (e) => events.push(e) });
      const chunks = ix.manifest.chunks.length;
      expect(chunks).toBeGreaterThan(2);
      expect(events.every((e) => e.stage === 'warm' && e.unit === 'chunks' && e.total === chunks)).toBe(true);
      expect(events[0].done).toBe(0);
      expect(events[events.length - 1].done).toBe(chunks);
      const before = c.reads();
      expect(before).toBeGreaterThanOrEqual(chunks);
      const warm = await ix.query(queries, { topK: 5, perLayer: true, perToken: true, scores: false });
      // on WebGPU the rows live on the device; the top items' per-layer and per-token scores read their own chunks
      // (at most one chunk per top item), never a scan
      if (backend === 'cpu') expect(c.reads()).toBe(before);
      else expect(c.reads() - before).toBeLessThanOrEqual(5 * queries.length);
      expectSameTop(warm, cold);
      await ix.dispose();
    }, 120_000);
  }

  for (const backend of ['cpu', 'webgpu'] as const) {
    it(`${backend}: a query scored while warm() reads shares its reads (no blob read twice by the scans) and equals a cold query`, async () => {
      const engine = backend === 'cpu' ? e.cpu : e.gpu, m = backend === 'cpu' ? e.model : e.gpuModel;
      const opts = { topK: 5, perLayer: true, perToken: true, scores: false };
      const cold = await (await engine.openIndex(base, m)).query(queries, opts);
      const c = counting(base);
      // chunk reads are held until both scans have had the chance to ask for the first chunk
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let asked = 0;
      const gated = new Proxy(c.store, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (prop === 'readBlob') return async (key: string) => (key.startsWith('chunk-') && (asked++, await gate), (v as LogStore['readBlob'])(key));
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const ix = await engine.openIndex(gated, m);
      ix.cacheBytes = 2 ** 24;
      const g = await ix.queryGradients(queries, { perToken: true });
      // the explorer's first attribution: clicked while the index is still being read into memory
      const both = Promise.all([ix.warm(), ix.scoreGradients(g, opts)]);
      const turn = () => new Promise<void>((r) => setImmediate(r));
      while (asked === 0) await turn();
      for (let i = 0; i < 50; i++) await turn();
      open();
      const [, during] = await both;
      const twice = [...c.byKey].filter(([, n]) => n > 1);
      // the fit, the self-influences and every chunk are read once for both; on WebGPU the top items' per-layer and
      // per-token scores read their own few chunks afterwards (as after warm() alone)
      if (backend === 'cpu') expect(twice).toEqual([]);
      else expect(twice.reduce((a, [, n]) => a + n - 1, 0)).toBeLessThanOrEqual(5 * queries.length);
      for (const b of Object.values(ix.manifest.blobs)) if (b.key.startsWith('fit-') || b.key.startsWith('self-')) expect(c.byKey.get(b.key)).toBe(1);
      expectSameTop(during, cold);
      await ix.dispose();
    }, 120_000);
  }

  it('an aborted warm() rejects with an AbortError-like error and leaves the index usable', async () => {
    const ix = await e.cpu.openIndex(base, e.model);
    ix.cacheBytes = 2 ** 24;
    const ac = new AbortController();
    const p = ix.warm({ signal: ac.signal, onProgress: (e) => e.done === 1 && ac.abort() });
    await expect(p).rejects.toThrow(/abort/i);
    const r = await ix.query(queries, { topK: 3 });
    expect(r.top[0]).toHaveLength(3);
  }, 60_000);
});
