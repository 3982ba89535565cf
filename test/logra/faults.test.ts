// Fault injection with real `logra` processes (Node): two writers at once, SIGKILL at random points of log and fit,
// a full disk (a tiny tmpfs, when root), a read-only folder, a corrupted chunk found by `verify` and re-logged after
// `repair`. Every case asserts that each id is stored once and the scores equal an undisturbed run, or that the
// error is the named one. Processes are held or killed at states they reach (a lock they wait on, chunks they
// committed, a fit blob they staged), never after an elapsed time; where the kill lands between those states is
// random, and the assertions hold wherever it lands. LOGRA_FAULT_SEED picks other kill points.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { FsStore } from '../../src/store/fs.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { StoreQuotaError, StoreReadOnlyError, referencedKeys } from '../../src/store/store.ts';
import { thisHost } from '../../src/store/fs-lock.ts';
import { verifyIndex } from '../../src/logra/verify.ts';
import { dropChunks } from '../../src/logra/resume.ts';
import type { LogOptions, QueryResult } from '../../src/logra/types.ts';
import { rng } from '../../src/train/gpt2.ts';
import { randomSequences } from '../support/data.ts';
import { Cli, cli, fromScoresJson, isRoot, remountReadOnly, root, scoreDiff, tinyFs, until } from '../support/faults.ts';

const MODEL = 'test/fixtures/gpt2_linear_erf_op17_mask_pos_tied/model.onnx';
const tmp = mkdtempSync(join(tmpdir(), 'logra-faults-'));
const N = 60;
const data = randomSequences(N, 5);
const queries = randomSequences(2, 77, 'q');
const trainFile = join(tmp, 'train.jsonl'), queryFile = join(tmp, 'q.jsonl');
const seed = Number(process.env.LOGRA_FAULT_SEED ?? 12);
const common = ['--backend', 'cpu', '--quiet'];
const logArgs = (index: string, file = trainFile, batch = 2) => ['log', '--model', MODEL, '--data', file, '--index', index, '--k-in', '4', '--k-out', '4', '--batch', String(batch), '--flush-seconds', '0', ...common];
const base: Omit<LogOptions, 'store'> = { kIn: 4, kOut: 4, hessian: 'raw', batchSize: 2, flushMs: 0 };

let engine: Engine;
let model: LoadedModel;
let reference: QueryResult;

beforeAll(async () => {
  writeFileSync(trainFile, data.map((e) => JSON.stringify(e)).join('\n'));
  writeFileSync(queryFile, queries.map((e) => JSON.stringify(e)).join('\n'));
  engine = await createEngine({ backend: 'cpu' });
  model = await engine.loadModel(new Uint8Array(readFileSync(join(root, MODEL))), { source: 'fixture' });
  reference = await (await engine.log(model, data, { ...base, store: new MemoryStore('undisturbed'), flushMs: 60_000 })).query(queries, { topK: 0 });
});
afterAll(async () => {
  await model.release();
  engine.dispose();
});

const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const chunksIn = (dir: string) => {
  try {
    return manifestOf(dir).chunks.length as number;
  } catch {
    return 0; // not written yet (or, on some file systems, a read racing the rename)
  }
};
async function scoresOf(dir: string): Promise<QueryResult> {
  return (await engine.openIndex(new FsStore(dir), model)).query(queries, { topK: 0 });
}
/** Every id once, the scores of an undisturbed run, nothing damaged, no leftovers of the store's own. */
async function expectWhole(dir: string): Promise<void> {
  const v = await verifyIndex(new FsStore(dir));
  expect(v.problems).toEqual([]);
  expect(v.rows).toBe(N);
  expect(scoreDiff(await scoresOf(dir), reference)).toBeLessThanOrEqual(1e-5);
}

describe('two writers, and a writer that will not wait', () => {
  it('two logra log processes at once: the second waits (told who holds the lock); every id stored once; scores equal one run', async () => {
    const dir = join(tmp, 'two');
    const half = (lo: number, hi: number) => {
      const f = join(tmp, `part-${lo}.jsonl`);
      writeFileSync(f, data.slice(lo, hi).map((e) => JSON.stringify(e)).join('\n'));
      return f;
    };
    const held = await new FsStore(dir).lock({ op: 'test' }); // both start while the index is busy
    const a = new Cli(logArgs(dir, half(0, 40), 4)), b = new Cli(logArgs(dir, half(20, 60), 4));
    const impatient = cli([...logArgs(dir), '--wait', '0']);
    const waiting = new RegExp(`waiting for the index lock, held by process \\(pid ${process.pid} on ${thisHost()}\\): test`);
    await Promise.all([a.waitFor(waiting), b.waitFor(waiting)]);
    const c = await impatient;
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(new RegExp(`IndexLockedError: .*being written by another process \\(pid ${process.pid} on ${thisHost()}\\): test, since`));
    await held.release();
    expect([await a.exit, await b.exit]).toEqual([0, 0]);
    expect(a.json().logged as number + (b.json().logged as number)).toBe(N);
    await expectWhole(dir);
  });
});

describe('SIGKILL at random points', () => {
  it(`log killed twice, fit killed while staging, then a query: nothing lost or duplicated, no leftovers, foreign files kept (seed ${seed})`, async () => {
    const r = rng(seed);
    const dir = join(tmp, 'killed');
    const k1 = 1 + Math.floor(r.uniform() * 6), k2 = k1 + 1 + Math.floor(r.uniform() * 6);
    const killAt = async (args: string[], reached: () => boolean, what: string) => {
      const p = new Cli(args);
      let ended = false;
      void p.exit.then(() => (ended = true));
      await until(() => ended || reached(), what);
      p.child.kill('SIGKILL');
      return p.exit;
    };
    await killAt(logArgs(dir), () => chunksIn(dir) >= k1, `${k1} chunks`);
    mkdirSync(join(dir, 'blobs'), { recursive: true });
    writeFileSync(join(dir, 'blobs', 'weights.bin'), 'not the index\'s');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await killAt(logArgs(dir), () => chunksIn(dir) >= k2, `${k2} chunks`);
    const partial = manifestOf(dir).chunks.flatMap((c: { ids: string[] }) => c.ids);
    expect(new Set(partial).size).toBe(partial.length);
    const done = await cli(logArgs(dir));
    expect(done.code, done.stderr).toBe(0);
    expect(done.json()).toMatchObject({ examples: N, skipped: partial.length, logged: N - partial.length });
    // a fit of one layer per group (a staged blob per layer), killed once it staged its first
    const staged = () => readdirSync(join(dir, 'blobs')).some((f) => f.startsWith('fit-'));
    await killAt(['fit', '--index', dir, '--raw-form', 'kernel', '--memory-mb', '1', ...common], staged, 'a staged fit blob');
    // a reader next: it takes over the dead fit's lock, sweeps what the fit staged, fits, saves, and scores
    const out = join(tmp, 'killed-scores.json');
    const q = await cli(['query', '--index', dir, '--data', queryFile, '--out', out, ...common]);
    expect(q.code, q.stderr).toBe(0);
    expect(scoreDiff(fromScoresJson(JSON.parse(readFileSync(out, 'utf8'))), reference)).toBeLessThanOrEqual(1e-4);
    await expectWhole(dir);
    const keep = referencedKeys(manifestOf(dir));
    expect(readdirSync(join(dir, 'blobs')).filter((f) => !keep.has(f.replace(/\.bin$/, '')))).toEqual(['weights.bin']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });
});

describe('verify and repair from the command line', () => {
  it('a corrupted chunk: verify exits 1 naming it, repair drops it, log re-logs exactly its ids, verify exits 0', async () => {
    const dir = join(tmp, 'repair');
    cpSync(join(tmp, 'two'), dir, { recursive: true });
    const m = manifestOf(dir);
    const victim = m.chunks[5];
    const file = join(dir, 'blobs', `${victim.key}.bin`);
    const b = readFileSync(file);
    b[b.length - 2] ^= 1;
    writeFileSync(file, b);
    const v = await cli(['verify', '--index', dir]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(`logra verify: chunk "${victim.key}": checksum mismatch`);
    expect(v.stderr).toMatch(/IndexDamagedError: .*logra repair --index/);
    const rep = await cli(['repair', '--index', dir]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.json()).toMatchObject({ droppedChunks: [{ key: victim.key, rows: victim.rows }], relog: victim.rows });
    const again = await cli(logArgs(dir));
    expect(again.json()).toMatchObject({ logged: victim.rows, skipped: N - victim.rows });
    await expectWhole(dir);
  });
});

describe('full and read-only media', () => {
  it.skipIf(!isRoot)('a full disk (tiny tmpfs): log stops with StoreQuotaError, the index stays whole and queryable there, and resumes elsewhere', async () => {
    const dir = join(tmp, 'full');
    const unmount = tinyFs(dir, 160);
    if (!unmount) return console.warn('skipped: cannot mount a tmpfs here');
    try {
      const ix = join(dir, 'ix');
      const e = await engine.log(model, data, { ...base, store: new FsStore(ix) }).catch((x) => x);
      expect(e).toBeInstanceOf(StoreQuotaError);
      expect(e.message).toMatch(/out of storage space.*index is unchanged and still readable/);
      const stored = manifestOf(ix).chunks.flatMap((c: { ids: string[] }) => c.ids) as string[];
      expect(stored.length).toBeGreaterThan(0);
      expect(stored.length).toBeLessThan(N);
      expect((await verifyIndex(new FsStore(ix))).problems).toEqual([]);
      // a query on the full disk cannot save its fit: it fits in memory and scores the stored rows
      const notes: string[] = [];
      const open = await engine.openIndex(new FsStore(ix), model);
      open.onNote = (n) => notes.push(n);
      const got = await open.query(queries, { topK: 0 });
      expect(notes.join()).toMatch(/not saved|could not be saved/);
      const subset = await (await engine.log(model, data.filter((d) => stored.includes(d.id)), { ...base, store: new MemoryStore() })).query(queries, { topK: 0 });
      expect(scoreDiff(got, subset)).toBeLessThanOrEqual(1e-5);
      // moved to a disk with room, it resumes: every id once, the scores of one undisturbed run
      const moved = join(tmp, 'moved');
      cpSync(ix, moved, { recursive: true });
      let skipped = 0;
      await engine.log(model, data, { ...base, store: new FsStore(moved), onProgress: (p) => (skipped = p.skipped ?? 0) });
      expect(skipped).toBe(stored.length);
      await expectWhole(moved);
    } finally {
      unmount();
    }
  });

  it('a read-only folder: query and self work (fit in memory, a note says so); log fails with StoreReadOnlyError naming it', async () => {
    const dir = join(tmp, 'ro');
    const unmount = tinyFs(dir, 4096);
    const ix = join(dir, 'ix');
    cpSync(join(tmp, 'two'), ix, { recursive: true });
    await dropChunks(new FsStore(ix), (await new FsStore(ix).readManifest())!, []); // drops only its fit: a query must fit
    const before = readFileSync(join(ix, 'manifest.json'), 'utf8');
    try {
      if (unmount) expect(remountReadOnly(dir)).toBe(true);
      else if (isRoot) return console.warn('skipped: root ignores file modes and no tmpfs could be mounted');
      else for (const p of [ix, join(ix, 'blobs')]) chmodSync(p, 0o555);
      const out = join(tmp, 'ro-scores.json');
      const q = await cli(['query', '--index', ix, '--data', queryFile, '--out', out, '--backend', 'cpu']);
      expect(q.code, q.stderr).toBe(0);
      expect(q.stderr).toMatch(/logra: note: .*fitted in memory.*not saved.*cannot write here/);
      expect(scoreDiff(fromScoresJson(JSON.parse(readFileSync(out, 'utf8'))), reference)).toBeLessThanOrEqual(1e-5);
      const self = await (await engine.openIndex(new FsStore(ix), model)).selfInfluence();
      expect(self.values.length).toBe(N);
      const e = await engine.log(model, randomSequences(2, 3, 'new'), { ...base, store: new FsStore(ix) }).catch((x) => x);
      expect(e).toBeInstanceOf(StoreReadOnlyError);
      expect(e.message).toContain(ix);
      expect(readFileSync(join(ix, 'manifest.json'), 'utf8')).toBe(before);
    } finally {
      if (unmount) unmount();
      else for (const p of [ix, join(ix, 'blobs')]) chmodSync(p, 0o755);
    }
  });
});
