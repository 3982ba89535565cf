// Resumability, storage errors, corruption and settings mismatches of the pipeline (CPU backend, Node).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { FsStore } from '../../src/store/fs.ts';
import { StoreQuotaError, StoreMismatchError, type Blob, type Manifest } from '../../src/store/store.ts';
import { ChunkError } from '../../src/store/chunk.ts';
import { AbortError, type LogOptions } from '../../src/logra/types.ts';
import { parseJsonl } from '../../src/io/jsonl.ts';
import { randomSequences } from '../support/data.ts';

const fx = new URL('../fixtures/gpt2_linear_erf_op17_mask_pos_tied/', import.meta.url);
const modelBytes = new Uint8Array(readFileSync(new URL('model.onnx', fx)));
const fixtureExamples = parseJsonl(readFileSync(new URL('data.jsonl', fx), 'utf8'));


class QuotaStore extends MemoryStore {
  commits = 0;
  constructor(private readonly failAt: number) {
    super('quota');
  }
  override async commit(blobs: Blob[], m: Manifest): Promise<void> {
    if (++this.commits === this.failAt) throw new StoreQuotaError(this.location, 'QuotaExceededError (simulated)');
    return super.commit(blobs, m);
  }
}

let engine: Engine;
let model: LoadedModel;
const data = randomSequences(40, 11);
const queries = randomSequences(3, 99, 'q');
const base: Omit<LogOptions, 'store'> = { kIn: 4, kOut: 6, hessian: 'raw', batchSize: 4, flushMs: 0 };

beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
  model = await engine.loadModel(modelBytes, { source: 'fixture' });
});
afterAll(async () => {
  await model.release();
  engine.dispose();
});

async function scoresOf(store: MemoryStore | FsStore): Promise<Float32Array[]> {
  const ix = await engine.openIndex(store, model);
  return (await ix.query(queries, { topK: 0 })).scores!;
}

function expectClose(a: Float32Array[], b: Float32Array[], tol = 1e-5): void {
  expect(a.length).toBe(b.length);
  let scale = 0, err = 0;
  a.forEach((row, i) => row.forEach((v, j) => {
    scale = Math.max(scale, Math.abs(b[i][j]));
    err = Math.max(err, Math.abs(v - b[i][j]));
  }));
  expect(err / scale).toBeLessThanOrEqual(tol);
}

describe('pipeline storage safety', () => {
  let reference: Float32Array[];
  beforeAll(async () => {
    const s = new MemoryStore('reference');
    await engine.log(model, data, { ...base, store: s, flushMs: 60_000 });
    reference = await scoresOf(s);
  });

  it('an aborted run resumes: every id stored once, scores equal an uninterrupted run', async () => {
    const store = new MemoryStore('abort');
    const ac = new AbortController();
    await expect(
      engine.log(model, data, { ...base, store, signal: ac.signal, onProgress: (e) => e.done >= 12 && ac.abort() }),
    ).rejects.toBeInstanceOf(AbortError);
    const partial = (await store.readManifest())!;
    const stored = partial.chunks.flatMap((c) => c.ids);
    expect(stored.length).toBeGreaterThanOrEqual(12);
    expect(stored.length).toBeLessThan(data.length);
    let skipped = 0;
    await engine.log(model, data, { ...base, store, onProgress: (e) => (skipped = e.skipped ?? 0) });
    expect(skipped).toBe(stored.length);
    const ids = (await store.readManifest())!.chunks.flatMap((c) => c.ids);
    expect(ids.length).toBe(data.length);
    expect(new Set(ids).size).toBe(data.length);
    expect([...ids].sort()).toEqual(data.map((d) => d.id).sort());
    expectClose(await scoresOf(store), reference);
  });

  it('a quota error leaves the last committed state readable, names the problem, and the run resumes', async () => {
    const store = new QuotaStore(4); // the manifest commit + 2 chunks succeed, the 3rd chunk fails
    const err = await engine.log(model, data, { ...base, store }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreQuotaError);
    expect(String(err.message)).toMatch(/out of storage space.*index is unchanged/);
    const ix = await engine.openIndex(store, model);
    expect(ix.size).toBe(8);
    const healthy = new MemoryStore('after');
    for (const [k, v] of store.blobs) healthy.blobs.set(k, v);
    await healthy.commit([], (await store.readManifest())!);
    await engine.log(model, data, { ...base, store: healthy });
    expectClose(await scoresOf(healthy), reference);
  });

  it('a corrupted chunk is detected by its checksum and named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logra-corrupt-'));
    const store = new FsStore(dir);
    await engine.log(model, data, { ...base, store });
    const m = (await store.readManifest())!;
    const victim = m.chunks[1].key;
    const file = join(dir, 'blobs', `${victim}.bin`);
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] ^= 0x40;
    writeFileSync(file, bytes);
    const ix = await engine.openIndex(store, model);
    const err = await ix.query(queries).catch((e) => e);
    expect(err).toBeInstanceOf(ChunkError);
    expect(err.message).toContain(victim);
    expect(err.message).toMatch(/checksum mismatch/);
    // nothing was deleted or rewritten by the failed read
    expect(readdirSync(join(dir, 'blobs')).length).toBe(m.chunks.length * 2 + 0);
  });

  it('reopening with other settings or another model fails with a mismatch naming the field', async () => {
    const store = new MemoryStore('mismatch');
    await engine.log(model, data.slice(0, 8), { ...base, store });
    const e1 = await engine.log(model, data, { ...base, kIn: 5, store }).catch((e) => e);
    expect(e1).toBeInstanceOf(StoreMismatchError);
    expect(e1.message).toMatch(/projection/);
    const e2 = await engine.log(model, data, { ...base, dtype: 'f16', store }).catch((e) => e);
    expect(e2.message).toMatch(/dtype/);
    const other = await engine.loadModel(new Uint8Array(readFileSync(new URL('../fixtures/gpt2_linear_erf_op17_nomask_untied/model.onnx', import.meta.url))));
    try {
      const e3 = await engine.log(other, data, { ...base, store }).catch((e) => e);
      expect(e3).toBeInstanceOf(StoreMismatchError);
      expect(e3.message).toMatch(/modelSha256/);
      await expect(engine.openIndex(store, other)).rejects.toThrow(/modelSha256/);
    } finally {
      await other.release();
    }
    // the failed runs changed nothing
    expect((await store.readManifest())!.chunks.flatMap((c) => c.ids).length).toBe(8);
  });

  it('duplicate ids in the data are rejected with both positions', async () => {
    const dup = [...data.slice(0, 3), { ...data[1] }];
    await expect(engine.log(model, dup, { ...base, store: new MemoryStore() })).rejects.toThrow(/"s1" appears twice \(examples 1 and 3\)/);
  });
});

describe('pipeline semantics', () => {
  it('a query identical to a training example ranks that example first (dot and cosine)', async () => {
    const store = new MemoryStore('self-rank');
    const train = [...fixtureExamples, ...data.slice(0, 20)];
    const ix = await engine.log(model, train, { ...base, store });
    for (const mode of ['dot', 'cosine'] as const) {
      const r = await ix.query(train, { topK: 3, mode });
      r.top.forEach((items, i) => expect(items[0].id, `${mode}: query ${train[i].id}`).toBe(train[i].id));
    }
  });

  it('a chunk cache serves repeated queries from memory with the same scores, and stays within its budget', async () => {
    const store = new MemoryStore('cache');
    const ix = await engine.log(model, data.slice(0, 12), { ...base, store, chunkBytes: 1 });
    const chunks = ix.manifest.chunks.length;
    expect(chunks).toBeGreaterThan(2);
    const plain = await ix.query(queries, { topK: 3 });
    let reads = 0;
    const readBlob = store.readBlob.bind(store);
    store.readBlob = (key: string) => (key.startsWith('chunk') && reads++, readBlob(key));
    ix.cacheBytes = 64 * 2 ** 20;
    const first = await ix.query(queries, { topK: 3 });
    const again = await ix.query(queries, { topK: 3 });
    expect(reads).toBe(chunks); // the second query read nothing
    expect(again.scores).toEqual(plain.scores);
    expect(first.scores).toEqual(plain.scores);
    // a budget of about one chunk keeps at most one: every query reads (almost) all again
    const rowBytes = ix.manifest.cols * 4 * ix.manifest.chunks[0].rows;
    ix.cacheBytes = rowBytes;
    reads = 0;
    await ix.query(queries, { topK: 3 });
    await ix.query(queries, { topK: 3 });
    expect(reads).toBeGreaterThanOrEqual(2 * chunks - 1);
  });

  it('per-token contributions sum to the dot score; per-layer scores sum to the total', async () => {
    const store = new MemoryStore('tokens');
    const ix = await engine.log(model, data.slice(0, 12), { ...base, store });
    const r = await ix.query(queries, { topK: 4, perLayer: true, perToken: true });
    r.top.forEach((items, j) => {
      expect(items.length).toBe(4);
      for (let i = 1; i < items.length; i++) expect(items[i - 1].score).toBeGreaterThanOrEqual(items[i].score);
      for (const t of items) {
        expect(t.tokens!.length).toBe(queries[j].input_ids.length);
        const sum = t.tokens!.reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - t.score)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(t.score)));
        const lsum = t.layers!.reduce((a, b) => a + b, 0);
        expect(Math.abs(lsum - t.score)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(t.score)));
        expect(r.scores![j][t.index]).toBe(t.score);
      }
    });
  });

  it('kfac/ekfac/none/raw, f16 storage, PCA init and low-rank queries all produce sane, consistent scores', async () => {
    const f32 = new MemoryStore('f32'), f16 = new MemoryStore('f16');
    const a = await engine.log(model, data, { ...base, store: f32 });
    const b = await engine.log(model, data, { ...base, store: f16, dtype: 'f16' });
    const ra = await a.query(queries, { topK: 0 }), rb = await b.query(queries, { topK: 0 });
    expectClose(rb.scores!, ra.scores!, 5e-3);
    expect(b.info().bytesPerExample).toBeLessThan(0.55 * (a.info().bytesPerExample as number));
    for (const hessian of ['none', 'kfac', 'ekfac'] as const) {
      await a.fit({ hessian });
      const s = await a.selfInfluence();
      expect(s.values.every((v) => v > 0 && Number.isFinite(v))).toBe(true);
    }
    // low rank: full rank (min(k_out, k_in) = 4) equals no truncation; rank 1 changes the scores
    await a.fit({ hessian: 'raw' });
    const full = await a.query(queries, { topK: 0 });
    const r4 = await a.query(queries, { topK: 0, queryRank: 4 });
    expectClose(r4.scores!, full.scores!, 1e-5);
    const r1 = await a.query(queries, { topK: 0, queryRank: 1 });
    expect(r1.scores!.every((row) => row.every(Number.isFinite))).toBe(true);
    expect(Math.max(...r1.scores!.map((row, i) => Math.max(...row.map((v, j) => Math.abs(v - full.scores![i][j])))))).toBeGreaterThan(0);
    const pca = new MemoryStore('pca');
    const p = await engine.log(model, data, { ...base, init: 'pca', store: pca });
    expect(p.manifest.settings.projection).toBe('pca:4x6');
    expect(p.manifest.blobs.projections).toBeDefined();
    const rp = await p.query(queries, { topK: 3 });
    expect(rp.top[0].length).toBe(3);
  });
});
