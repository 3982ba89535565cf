// One writer at a time, readers never blocked (Node, in-process; the process-level cases are in faults.test.ts):
// the file-system lock (holder named, stale locks taken over, a lock taken over makes its holder's commit fail),
// two writers on one index, a log started during a fit, a query during a log, and cleanup of the store's own files
// only. Writers are held at a known point by a gate (a promise), never by elapsed time.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { FsStore, ForeignFilesError } from '../../src/store/fs.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { IndexLockedError, type Blob, type LockHolder, type LogStore, type Manifest } from '../../src/store/store.ts';
import { LEASE_MS, thisHost } from '../../src/store/fs-lock.ts';
import { verifyIndex } from '../../src/logra/verify.ts';
import type { LogOptions, QueryResult } from '../../src/logra/types.ts';
import { randomSequences } from '../support/data.ts';
import { scoreDiff } from '../support/faults.ts';

const fx = new URL('../fixtures/gpt2_linear_erf_op17_mask_pos_tied/', import.meta.url);
const modelBytes = new Uint8Array(readFileSync(new URL('model.onnx', fx)));
const tmp = mkdtempSync(join(tmpdir(), 'logra-concurrency-'));
const data = randomSequences(24, 21);
const queries = randomSequences(2, 5, 'q');
const base: Omit<LogOptions, 'store'> = { kIn: 4, kOut: 4, hessian: 'raw', batchSize: 4, flushMs: 0 };

let engine: Engine;
let model: LoadedModel;
let reference: QueryResult;

beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
  model = await engine.loadModel(modelBytes, { source: 'fixture' });
  const ix = await engine.log(model, data, { ...base, store: new MemoryStore('reference'), flushMs: 60_000 });
  reference = await ix.query(queries, { topK: 0 });
});
afterAll(async () => {
  await model.release();
  engine.dispose();
});

/** A promise to open later. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** An FsStore whose next commit (or staged write) waits at a gate, telling when it got there. */
class GatedFs extends FsStore {
  arrived = gate();
  release = gate();
  armed: 'commit' | 'writeBlobs' | undefined;
  override async commit(blobs: Blob[], m: Manifest, drop?: string[]): Promise<void> {
    if (this.armed === 'commit' && m.chunks.length > 0) await this.hold();
    return super.commit(blobs, m, drop);
  }
  override async writeBlobs(blobs: Blob[]): Promise<void> {
    if (this.armed === 'writeBlobs') await this.hold();
    return super.writeBlobs(blobs);
  }
  private async hold(): Promise<void> {
    this.armed = undefined;
    this.arrived.open();
    await this.release.wait;
  }
}

async function scores(store: LogStore): Promise<QueryResult> {
  return (await engine.openIndex(store, model)).query(queries, { topK: 0 });
}

describe('the file-system lock', () => {
  it('a second writer fails at once with IndexLockedError naming the holder, or waits (told who holds it) and then gets it', async () => {
    const dir = join(tmp, 'lock');
    const a = new FsStore(dir), b = new FsStore(dir);
    const la = await a.lock({ op: 'log' });
    const e = await b.lock({ op: 'fit', waitMs: 0 }).catch((x) => x);
    expect(e).toBeInstanceOf(IndexLockedError);
    expect(e.message).toContain(`pid ${process.pid} on ${thisHost()}`);
    expect(e.message).toMatch(/: log, since /);
    let told: LockHolder | undefined;
    const waiting = b.lock({ op: 'fit', onWait: (h) => (told = h) });
    await expect.poll(() => told).toBeDefined();
    expect(told).toMatchObject({ op: 'log', pid: process.pid });
    await la.release();
    const lb = await waiting;
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({ op: 'fit', pid: process.pid });
    await lb.release();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });

  it('takes over a lock whose process is gone, or whose pid now belongs to a later process; reports one from another host', async () => {
    const dir = join(tmp, 'stale');
    mkdirSync(dir, { recursive: true });
    const dead = spawnSync('node', ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const lock = (o: object) => writeFileSync(join(dir, 'lock'), JSON.stringify({ format: 'logra-lock', token: 'old', host: thisHost(), op: 'log', since: '2026-01-01T00:00:00Z', ...o }));
    lock({ pid: Number(dead) });
    await (await new FsStore(dir).lock({ op: 'log', waitMs: 0 })).release();
    lock({ pid: process.pid, started: '1' }); // this pid, but a process that started at another time
    await (await new FsStore(dir).lock({ op: 'log', waitMs: 0 })).release();
    lock({ pid: 1, host: 'elsewhere' });
    const e = await new FsStore(dir).lock({ op: 'log', waitMs: 0 }).catch((x) => x);
    expect(e).toBeInstanceOf(IndexLockedError);
    expect(e.message).toMatch(/pid 1 on elsewhere.*another machine.*remove .*lock/);
    // a holder that cannot be looked up and whose heartbeat stopped longer than the lease ago
    const old = new Date(Date.now() - LEASE_MS - 60_000);
    utimesSync(join(dir, 'lock'), old, old);
    await (await new FsStore(dir).lock({ op: 'log', waitMs: 0 })).release();
    writeFileSync(join(dir, 'lock'), 'not json');
    expect((await new FsStore(dir).lock({ op: 'log', waitMs: 0 }).catch((x) => x)).message).toMatch(/not a logra lock file/);
  });

  it('a holder whose lock was taken over commits nothing', async () => {
    const dir = join(tmp, 'fenced');
    const store = new FsStore(dir);
    await engine.log(model, data.slice(0, 4), { ...base, store });
    const before = readFileSync(join(dir, 'manifest.json'), 'utf8');
    const l = await store.lock({ op: 'log' });
    writeFileSync(join(dir, 'lock'), JSON.stringify({ format: 'logra-lock', token: 'thief', pid: process.pid, host: thisHost(), op: 'log', since: 'now' }));
    const m = (await store.readManifest())!;
    const e = await store.commit([], { ...m, updated: 'later' }).catch((x) => x);
    expect(e).toBeInstanceOf(IndexLockedError);
    expect(e.message).toMatch(/taken over/);
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(before);
    await l.release();
    expect(existsSync(join(dir, 'lock'))).toBe(true); // the other holder's lock is left alone
  });
});

describe('writers and readers on one index', () => {
  it('two logs at once (fs and memory): each id stored once, scores equal one run', async () => {
    for (const make of [() => new FsStore(join(tmp, 'two')), () => new MemoryStore('two')]) {
      const s1 = make();
      const s2 = s1 instanceof MemoryStore ? s1 : make();
      let waited = 0;
      await Promise.all([
        engine.log(model, data.slice(0, 16), { ...base, store: s1, onLockWait: () => waited++ }),
        engine.log(model, data.slice(8), { ...base, store: s2, onLockWait: () => waited++ }),
      ]);
      expect(waited).toBe(1);
      const r = await scores(s1);
      expect(r.trainIds.length).toBe(data.length);
      expect(scoreDiff(r, reference)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('a log started during a fit waits for it, keeps its staged blobs, and a log of stored ids started during a commit deletes nothing', async () => {
    const dir = join(tmp, 'fit-log');
    const store = new GatedFs(dir);
    await engine.log(model, data.slice(0, 16), { ...base, store });
    const ix = await engine.openIndex(store, model);
    store.armed = 'writeBlobs'; // the fit stops before staging its first layer
    const fitting = ix.fit();
    await store.arrived.wait;
    let waited: LockHolder | undefined;
    const logging = engine.log(model, data, { ...base, store: new FsStore(dir), onLockWait: (h) => (waited = h) });
    await expect.poll(() => waited).toMatchObject({ op: 'fit' });
    store.release.open();
    await fitting;
    await logging;
    expect((await verifyIndex(store)).problems).toEqual([]);
    // a writer held in the middle of a commit, and a log whose ids are all stored
    const g = new GatedFs(dir);
    g.armed = 'commit';
    const more = randomSequences(4, 77, 'm');
    const writer = engine.log(model, [...data, ...more], { ...base, store: g });
    await g.arrived.wait;
    let told = false;
    const idle = engine.log(model, data, { ...base, store: new FsStore(dir), onLockWait: () => (told = true) });
    await expect.poll(() => told).toBe(true);
    g.release.open();
    await writer;
    await idle;
    const report = await verifyIndex(g);
    expect(report.problems).toEqual([]);
    expect(report.rows).toBe(data.length + more.length);
    expect(report.leftovers).toEqual([]);
  });

  it('a fit started during a log waits for it and then fits every row the log committed', async () => {
    const dir = join(tmp, 'log-fit');
    const store = new GatedFs(dir);
    await engine.log(model, data.slice(0, 8), { ...base, store });
    const ix = await engine.openIndex(new FsStore(dir), model);
    store.armed = 'commit';
    const writer = engine.log(model, data, { ...base, store });
    await store.arrived.wait;
    let waited = false;
    const fitting = ix.fit({ onLockWait: () => (waited = true) });
    await expect.poll(() => waited).toBe(true);
    store.release.open();
    await writer;
    const state = await fitting;
    expect(state.examples).toBe(data.length);
    expect(scoreDiff(await scores(store), reference)).toBeLessThanOrEqual(1e-5);
  });

  it('a query during a log neither waits nor writes: it fits in memory and scores the rows committed when it opened', async () => {
    const dir = join(tmp, 'query-log');
    const store = new GatedFs(dir);
    await engine.log(model, data, { ...base, store });
    const snapshot = readFileSync(join(dir, 'manifest.json'), 'utf8');
    store.armed = 'commit';
    const writer = engine.log(model, [...data, ...randomSequences(4, 9, 'w')], { ...base, store });
    await store.arrived.wait; // the writer holds the lock, its commit not yet made
    const notes: string[] = [];
    const ix = await engine.openIndex(new FsStore(dir), model);
    ix.onNote = (m) => notes.push(m);
    const r = await ix.query(queries, { topK: 0 });
    expect(scoreDiff(r, reference)).toBeLessThanOrEqual(1e-5);
    expect(notes.join()).toMatch(/fitted in memory.*not saved.*being written by another process/);
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(snapshot);
    store.release.open();
    await writer;
    expect((await verifyIndex(store)).rows).toBe(data.length + 4);
  });
});

describe('cleanup of own files only', () => {
  it('refuses a folder holding other files; keeps foreign files in blobs/, also through a symlinked blobs/, and removes only its own leftovers', async () => {
    const foreign = join(tmp, 'foreign');
    mkdirSync(foreign, { recursive: true });
    writeFileSync(join(foreign, 'weights.bin'), 'w');
    const e = await engine.log(model, data, { ...base, store: new FsStore(foreign) }).catch((x) => x);
    expect(e).toBeInstanceOf(ForeignFilesError);
    expect(e.message).toMatch(/weights\.bin.*choose another --index folder/);
    expect(readdirSync(foreign)).toEqual(['weights.bin']);

    const shared = join(tmp, 'shared-blobs');
    mkdirSync(shared, { recursive: true });
    writeFileSync(join(shared, 'notes.bin'), 'n');
    const dir = join(tmp, 'symlinked');
    mkdirSync(dir, { recursive: true });
    symlinkSync(shared, join(dir, 'blobs'));
    const store = new FsStore(dir);
    // a new index whose (symlinked) blobs/ holds another file is refused like any other folder with foreign files
    expect(await engine.log(model, data.slice(0, 8), { ...base, store }).catch((x) => x)).toBeInstanceOf(ForeignFilesError);
    spawnSync('mv', [join(shared, 'notes.bin'), join(tmp, 'notes.bin')]);
    await engine.log(model, data.slice(0, 8), { ...base, store });
    spawnSync('mv', [join(tmp, 'notes.bin'), join(shared, 'notes.bin')]);
    writeFileSync(join(shared, 'weights.bin'), 'w');
    writeFileSync(join(shared, 'data.tmp-1'), 'd');
    writeFileSync(join(shared, 'chunk-000009-zzz.bin'), 'looks like ours, but the store never wrote it');
    // an interrupted write of the store's own: a staged blob and a temporary file, journaled
    const l = await store.lock({ op: 'test' });
    await store.writeBlobs([{ key: 'fit-x-0', bytes: new Uint8Array(3) }]);
    writeFileSync(join(shared, 'fit-x-0.bin.tmp-abc'), 'half');
    writeFileSync(join(dir, 'manifest.json.tmp-def'), '{');
    await l.release();
    await engine.log(model, data, { ...base, store });
    const left = readdirSync(shared).sort();
    expect(left.filter((f) => !/^(kfac-)?chunk-0000\d\d-[a-z0-9]+\.bin$/.test(f) || f === 'chunk-000009-zzz.bin')).toEqual(['chunk-000009-zzz.bin', 'data.tmp-1', 'notes.bin', 'weights.bin']);
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'journal', 'manifest.json']);
    expect(scoreDiff(await scores(store), reference)).toBeLessThanOrEqual(1e-5);
  });
});
