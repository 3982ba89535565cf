// Damaged and edited indexes: every blob and the manifest are checksummed, so each kind of damage gives an error
// naming the file, its role and the fix, never different scores; `verify` finds them all, `repair` drops what is
// damaged and `log` re-logs exactly those ids, after which the scores equal an undamaged index's. Node, CPU backend.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { FsStore } from '../../src/store/fs.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { BlobMissingError, type Manifest } from '../../src/store/store.ts';
import { ChunkError, decodeChunk, encodeChunk } from '../../src/store/chunk.ts';
import { BlobChecksumError, ManifestChecksumError } from '../../src/store/integrity.ts';
import { IndexDamagedError, quickCheck, repairIndex, verifyIndex } from '../../src/logra/verify.ts';
import type { LogOptions, QueryResult } from '../../src/logra/types.ts';
import { randomSequences } from '../support/data.ts';
import { scoreDiff } from '../support/faults.ts';

const modelBytes = new Uint8Array(readFileSync(new URL('../fixtures/gpt2_linear_erf_op17_mask_pos_tied/model.onnx', import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), 'logra-integrity-'));
const data = randomSequences(24, 31);
const queries = randomSequences(2, 6, 'q');
const base: Omit<LogOptions, 'store'> = { kIn: 4, kOut: 4, hessian: 'raw', batchSize: 4, flushMs: 0 };
const pristine = join(tmp, 'pristine');

let engine: Engine;
let model: LoadedModel;
let reference: QueryResult;
let m0: Manifest;

beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
  model = await engine.loadModel(modelBytes, { source: 'fixture' });
  const ix = await engine.log(model, data, { ...base, store: new FsStore(pristine) });
  await ix.fit();
  reference = await ix.query(queries, { topK: 0 });
  m0 = ix.manifest;
});
afterAll(async () => {
  await model.release();
  engine.dispose();
});

let n = 0;
/** A fresh copy of the fitted index. */
function copy(): { dir: string; store: FsStore; blob: (key: string) => string } {
  const dir = join(tmp, `case-${n++}`);
  cpSync(pristine, dir, { recursive: true });
  return { dir, store: new FsStore(dir), blob: (key) => join(dir, 'blobs', `${key}.bin`) };
}

function flip(file: string, at = -3): void {
  const b = readFileSync(file);
  b[at < 0 ? b.length + at : at] ^= 0x10;
  writeFileSync(file, b);
}

const query = async (store: FsStore) => (await engine.openIndex(store, model)).query(queries, { topK: 0 });

describe('each kind of damage is named, never scored', () => {
  it('an edited manifest (the seed) is refused by every command; verify reports it; repair cannot undo it', async () => {
    const { dir, store } = copy();
    const file = join(dir, 'manifest.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"seed":0', '"seed":1'));
    for (const run of [() => engine.openIndex(store, model), () => engine.log(model, data, { ...base, store }), () => quickCheck(store, m0).then(() => store.readManifest())]) {
      const e = await run().catch((x) => x);
      expect(e).toBeInstanceOf(ManifestChecksumError);
      expect(e.message).toMatch(/manifest does not match its checksum.*edited or damaged/);
    }
    const v = await verifyIndex(store);
    expect(v.ok).toBe(false);
    expect(v.problems[0]).toMatchObject({ kind: 'manifest' });
    await expect(repairIndex(store)).rejects.toBeInstanceOf(ManifestChecksumError);
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 100));
    await expect(engine.openIndex(store, model)).rejects.toThrow(/manifest.json is not valid JSON/);
  });

  it('a flipped byte in a chunk, a KFAC blob, a layer\'s fit or the self-influences names the blob, its role and the fix', async () => {
    const c = copy();
    flip(c.blob(m0.chunks[2].key));
    const e1 = await query(c.store).catch((x) => x);
    expect(e1).toBeInstanceOf(ChunkError);
    expect(e1.message).toMatch(new RegExp(`${m0.chunks[2].key}.*checksum mismatch`));

    const k = copy();
    const kfac = m0.blobs[`kfac/${m0.chunks[1].key}`];
    flip(k.blob(kfac.key));
    const e2 = await (await engine.openIndex(k.store, model)).fit().catch((x) => x);
    expect(e2).toBeInstanceOf(BlobChecksumError);
    expect(e2.message).toMatch(new RegExp(`${kfac.key}" \\(kfac/${m0.chunks[1].key}\\) does not match its checksum.*logra repair`));

    const f = copy();
    flip(f.blob(m0.blobs['fit/3'].key), 40);
    const e3 = await query(f.store).catch((x) => x);
    expect(e3).toBeInstanceOf(BlobChecksumError);
    expect(e3.message).toMatch(/\(fit\/3\) does not match its checksum.*run `logra fit` again/);

    const s = copy();
    flip(s.blob(m0.blobs.self.key));
    const e4 = await (await engine.openIndex(s.store, model)).selfInfluence().catch((x) => x);
    expect(e4).toBeInstanceOf(BlobChecksumError);
    expect(e4.message).toMatch(/\(self\) does not match/);
  });

  it('a truncated or missing chunk shows in the cheap check (info), and log refuses to add to the index', async () => {
    const t = copy();
    truncateSync(t.blob(m0.chunks[0].key), 100);
    rmSync(t.blob(m0.chunks[4].key));
    const q = await quickCheck(t.store, m0);
    expect(q.ok).toBe(false);
    expect(q.problems.map((p) => [p.key, p.message])).toEqual([
      [m0.chunks[0].key, `holds 100 bytes, the manifest says ${m0.chunks[0].bytes} (truncated or replaced)`],
      [m0.chunks[4].key, 'is missing'],
    ]);
    const e = await engine.log(model, [...data, ...randomSequences(2, 8, 'n')], { ...base, store: t.store }).catch((x) => x);
    expect(e).toBeInstanceOf(IndexDamagedError);
    expect(e.message).toMatch(/is missing.*logra repair --index/);
    await expect(query(t.store)).rejects.toThrow(new RegExp(`${m0.chunks[0].key}.*(truncated|size)`));
    rmSync(t.blob(m0.chunks[0].key));
    const e2 = await query(t.store).catch((x) => x);
    expect(e2).toBeInstanceOf(BlobMissingError);
    expect(e2.message).toContain(m0.chunks[0].key);
  });

  it('damaged PCA projections are named and cannot be repaired', async () => {
    const dir = join(tmp, 'pca');
    const store = new FsStore(dir);
    await engine.log(model, data.slice(0, 8), { ...base, init: 'pca', store });
    const m = (await store.readManifest())!;
    flip(join(dir, 'blobs', `${m.blobs.projections.key}.bin`), 100);
    await expect(query(store)).rejects.toThrow(/\(projections\) does not match its checksum.*log into a new index/);
    await expect(engine.log(model, data, { ...base, init: 'pca', store })).rejects.toBeInstanceOf(BlobChecksumError);
    const e = await repairIndex(store).catch((x) => x);
    expect(e).toBeInstanceOf(IndexDamagedError);
    expect(e.message).toMatch(/projections/);
  });
});

describe('verify, repair, re-log', () => {
  it('verify names every damaged chunk and blob; repair drops them; log re-logs exactly those ids; scores equal the undamaged index', async () => {
    const { store, blob } = copy();
    flip(blob(m0.chunks[1].key));
    flip(blob(m0.blobs[`kfac/${m0.chunks[3].key}`].key));
    flip(blob(m0.blobs['fit/0'].key), 40);
    const v = await verifyIndex(store);
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.chunk ?? p.role).sort()).toEqual([m0.chunks[1].key, m0.chunks[3].key, 'fit/0'].sort());
    const r = await repairIndex(store);
    expect(r.dropped.map((d) => d.key).sort()).toEqual([m0.chunks[1].key, m0.chunks[3].key].sort());
    expect(r.fitDropped).toBe(true);
    expect((await verifyIndex(store)).ok).toBe(true);
    let logged = -1;
    await engine.log(model, data, { ...base, store, onProgress: (p) => (logged = p.done - (p.skipped ?? 0)) });
    expect(logged).toBe(m0.chunks[1].rows + m0.chunks[3].rows);
    const after = await verifyIndex(store);
    expect(after).toMatchObject({ ok: true, rows: data.length, leftovers: [] });
    expect(scoreDiff(await query(store), reference)).toBeLessThanOrEqual(1e-5);
  });

  it('a non-finite row stored by an older build is found by verify (with its id); repair and log replace it', async () => {
    const { store, blob } = copy();
    const m = (await store.readManifest())!;
    const c = m.chunks[2];
    const rows = decodeChunk(readFileSync(blob(c.key)), c.key).data;
    rows[m.cols + 5] = NaN; // the chunk's second row
    const enc = encodeChunk(rows, c.rows, m.cols, 'f32');
    const key = `${c.key}-nan`;
    const blobs = { ...m.blobs, [`kfac/${key}`]: m.blobs[`kfac/${c.key}`] };
    delete blobs[`kfac/${c.key}`];
    await store.commit([{ key, bytes: enc.bytes }], { ...m, chunks: m.chunks.map((x) => (x === c ? { ...x, key, checksum: enc.checksum, bytes: enc.bytes.length } : x)), blobs });
    const v = await verifyIndex(store);
    expect(v.problems.map((p) => p.message)).toEqual([`row 1 (id ${JSON.stringify(c.ids[1])}) holds a non-finite value`]);
    expect((await repairIndex(store)).dropped.map((d) => d.key)).toEqual([key]);
    await engine.log(model, data, { ...base, store });
    expect((await verifyIndex(store)).ok).toBe(true);
    expect(scoreDiff(await query(store), reference)).toBeLessThanOrEqual(1e-5);
  });

  it('a version-1 manifest (no checksums) is read with the same scores and upgraded by the next commit', async () => {
    const { dir, store } = copy();
    const file = join(dir, 'manifest.json');
    const v2 = JSON.parse(readFileSync(file, 'utf8'));
    delete v2.checksum;
    v2.version = 1;
    for (const b of Object.values(v2.blobs) as { checksum: number }[]) b.checksum = 0;
    writeFileSync(file, JSON.stringify(v2));
    expect((await quickCheck(store, (await store.readManifest())!)).manifest).toMatch(/version 1/);
    expect(scoreDiff(await query(store), reference)).toBeLessThanOrEqual(1e-5);
    await engine.log(model, [...data, ...randomSequences(1, 3, 'x')], { ...base, store });
    const up = JSON.parse(readFileSync(file, 'utf8'));
    expect(up.version).toBe(2);
    expect(typeof up.checksum).toBe('number');
    // a memory store seals and verifies the same way
    const mem = new MemoryStore();
    await mem.commit([], up);
    expect((await mem.readManifest())!.chunks.length).toBe(up.chunks.length);
  });
});
