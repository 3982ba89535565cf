// Sharded logging and merging (src/logra/shard.ts, merge.ts, `logra log --shard`, `logra merge`): three `logra log
// --shard i/3` processes at once, merged without copying a byte, give the scores of one process over all the data;
// the shard comes from Kubernetes' and Slurm's variables too; merges that would lose or double rows are refused and
// leave the shards as they were.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logra } from '../support/cli.ts';
import { randomSequences } from '../support/data.ts';
import { parseShard, shardFromEnv, shardRange } from '../../src/logra/shard.ts';
import { mergeShards, MergeError } from '../../src/logra/merge.ts';
import { createEngine } from '../../src/logra/engine.ts';
import { FsStore } from '../../src/store/fs.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { verifyIndex } from '../../src/logra/verify.ts';
import { AbortError } from '../../src/logra/types.ts';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'logra-shard-'));
const model = 'test/fixtures/gpt2_linear_erf_op17_mask_pos_tied/model.onnx';
const data = join(tmp, 'train.jsonl');
const queries = join(tmp, 'q.jsonl');
const N = 31;
const common = ['--model', model, '--data', data, '--k-in', '4', '--k-out', '4', '--batch', '4', '--backend', 'cpu', '--quiet'];
const noSchedulerEnv = { JOB_COMPLETION_INDEX: undefined, SLURM_ARRAY_TASK_ID: undefined, SLURM_ARRAY_TASK_MIN: undefined, SLURM_ARRAY_TASK_COUNT: undefined, SLURM_ARRAY_TASK_STEP: undefined };

async function ok(args: string[], env: Record<string, string | undefined> = noSchedulerEnv) {
  const r = await logra(args, 180_000, env);
  expect(r.stderr, r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

async function fails(args: string[], pattern: RegExp, env: Record<string, string | undefined> = noSchedulerEnv) {
  const r = await logra(args, 180_000, env);
  expect(r.code, r.stdout).not.toBe(0);
  expect(r.stderr).toMatch(pattern);
  return r.stderr;
}

const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const files = (dir: string) => (existsSync(join(dir, 'blobs')) ? readdirSync(join(dir, 'blobs')).sort() : []);
/** what a folder holds, to show a refused merge changed nothing */
const snapshot = (dir: string) => JSON.stringify({ m: readFileSync(join(dir, 'manifest.json'), 'utf8'), f: files(dir).map((f) => [f, statSync(join(dir, 'blobs', f)).size]) });

describe('shard slices and scheduler variables', () => {
  it('slices are contiguous, disjoint and cover every example once, for any N and n', () => {
    for (const total of [0, 1, 2, 5, 31, 100])
      for (const count of [1, 2, 3, 7, 40]) {
        let next = 0;
        for (let index = 0; index < count; index++) {
          const r = shardRange(total, { index, count });
          expect(r.start).toBe(next);
          expect(r.end).toBeGreaterThanOrEqual(r.start);
          next = r.end;
        }
        expect(next).toBe(total);
      }
    expect(parseShard('1/3')).toEqual({ index: 1, count: 3 });
    expect(() => parseShard('3/3')).toThrow(/not in 0\.\.2 .*numbered from 0/);
    expect(() => parseShard('1of3')).toThrow(/i\/n/);
  });

  it('reads JOB_COMPLETION_INDEX (with the count) and SLURM_ARRAY_TASK_* (ids from SLURM_ARRAY_TASK_MIN, with a step)', () => {
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: '2' }, 3)).toMatchObject({ index: 2, count: 3 });
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '2' })).toThrow(/--shards N/);
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '3' }, 3)).toThrow(/not in 0\.\.2/);
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3' })).toMatchObject({ index: 0, count: 3 });
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' })).toMatchObject({ index: 2, count: 3 });
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: '14', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_STEP: '2', SLURM_ARRAY_TASK_COUNT: '3' })).toMatchObject({ index: 2, count: 3 });
    expect(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' })).toThrow(/gaps.*--shard i\/n/);
    expect(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '1' })).toThrow(/SLURM_ARRAY_TASK_COUNT/);
    expect(() => shardFromEnv({})).toThrow(/neither is set/);
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: 'x' }, 2)).toThrow(/JOB_COMPLETION_INDEX="x"/);
  });
});

describe('logra log --shard, logra merge', () => {
  const one = join(tmp, 'one'), merged = join(tmp, 'merged');
  const shard = (i: number) => join(tmp, `s${i}`);

  beforeAll(async () => {
    writeFileSync(data, randomSequences(N, 11).map((e) => JSON.stringify(e)).join('\n') + '\n');
    writeFileSync(queries, randomSequences(3, 12, 'q').map((e) => JSON.stringify(e)).join('\n') + '\n');
    // three shard processes at once, and one process over everything
    const logs = await Promise.all([0, 1, 2].map((i) => ok(['log', ...common, '--index', shard(i), '--shard', `${i}/3`])));
    logs.forEach((l, i) => expect(l.shard).toMatchObject({ index: i, count: 3, ...shardRange(N, { index: i, count: 3 }), total: N, complete: true }));
    expect(logs.map((l) => l.examples)).toEqual([10, 10, 11]);
    await ok(['log', ...common, '--index', one]);
  });

  it('three shard processes merged without copying a byte score like one process over all the data (fit, query, self)', async () => {
    const r = await ok(['merge', merged, shard(2), shard(0), shard(1), '--quiet']);
    expect(r).toMatchObject({ shards: 3, examples: N, mode: 'link', copied: { blobs: 0, bytes: 0 } });
    // the merged index's chunk and statistics files are the shards' own (hard links: same inode), no new bytes
    const shardFiles = new Map<string, number>();
    for (const i of [0, 1, 2]) for (const f of files(shard(i))) shardFiles.set(f, statSync(join(shard(i), 'blobs', f)).ino);
    const mine = files(merged);
    expect(mine.length).toBeGreaterThan(0);
    for (const f of mine) {
      const st = statSync(join(merged, 'blobs', f));
      expect(st.ino, f).toBe(shardFiles.get(f));
      expect(st.nlink).toBe(2);
    }
    expect(r.linked.bytes).toBe(mine.reduce((a, f) => a + statSync(join(merged, 'blobs', f)).size, 0));
    // row order is the single process's; every byte checks out
    const ids = (dir: string) => manifest(dir).chunks.flatMap((c: { ids: string[] }) => c.ids);
    expect(ids(merged)).toEqual(ids(one));
    expect((await ok(['verify', '--index', merged])).ok).toBe(true);

    for (const ix of [one, merged]) {
      await ok(['fit', '--index', ix, '--backend', 'cpu', '--quiet']);
      await ok(['query', '--index', ix, '--data', queries, '--out', join(ix, '..', `${ix.split('/').pop()}-q.json`), '--top', '5', '--per-layer', '--backend', 'cpu', '--quiet']);
      await ok(['self', '--index', ix, '--out', join(ix, '..', `${ix.split('/').pop()}-self.json`), '--backend', 'cpu', '--quiet']);
    }
    const a = JSON.parse(readFileSync(join(tmp, 'one-q.json'), 'utf8')), b = JSON.parse(readFileSync(join(tmp, 'merged-q.json'), 'utf8'));
    expect(b.train_ids).toEqual(a.train_ids);
    let err = 0, scale = 0;
    a.scores.forEach((row: number[], i: number) => row.forEach((v, j) => ((err = Math.max(err, Math.abs(v - b.scores[i][j]))), (scale = Math.max(scale, Math.abs(v))))));
    expect(err / scale).toBeLessThan(1e-5);
    expect(b.top.map((t: { id: string }[]) => t.map((x) => x.id))).toEqual(a.top.map((t: { id: string }[]) => t.map((x) => x.id)));
    const sa = JSON.parse(readFileSync(join(tmp, 'one-self.json'), 'utf8')), sb = JSON.parse(readFileSync(join(tmp, 'merged-self.json'), 'utf8'));
    expect(sb.ids).toEqual(sa.ids);
    sa.values.forEach((v: number, i: number) => expect(Math.abs(v - sb.values[i]) / Math.abs(v)).toBeLessThan(1e-5));
    // the fit of the merged index is its own: the shards are untouched (no fit blobs were added to them)
    for (const i of [0, 1, 2]) expect(Object.keys(manifest(shard(i)).blobs).some((k) => k.startsWith('fit'))).toBe(false);
  });

  it('--copy makes a self-contained index with the same rows', async () => {
    const copy = join(tmp, 'copied');
    const r = await ok(['merge', copy, shard(0), shard(1), shard(2), '--copy', '--quiet']);
    expect(r).toMatchObject({ mode: 'copy', linked: { blobs: 0 } });
    for (const f of files(copy)) expect(statSync(join(copy, 'blobs', f)).nlink).toBe(1);
    expect(manifest(copy).chunks).toEqual(manifest(merged).chunks);
    expect((await verifyIndex(new FsStore(copy))).ok).toBe(true);
  });

  it('a scan that decodes chunks in worker threads (scanThreads) scores exactly as the calling thread; a damaged chunk is named', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    try {
      const m = await engine.loadModel(new Uint8Array(readFileSync(join(root, model))));
      const ix = await engine.openIndex(new FsStore(merged), m);
      const q = randomSequences(3, 12, 'q');
      ix.scanThreads = 0;
      const a = await ix.query(q, { topK: 5, perLayer: true });
      ix.scanThreads = 2;
      const b = await ix.query(q, { topK: 5, perLayer: true });
      expect(b.scores).toEqual(a.scores);
      expect(b.top).toEqual(a.top);
      // the copy's chunk, damaged: the worker's ChunkError names it
      const copy = join(tmp, 'copied');
      const c = await engine.openIndex(new FsStore(copy), m);
      c.scanThreads = 2;
      const key = manifest(copy).chunks[1].key, file = join(copy, 'blobs', `${key}.bin`);
      const bytes = readFileSync(file);
      bytes[bytes.length - 3] ^= 0xff;
      writeFileSync(file, bytes);
      await expect(c.query(q, { topK: 5 })).rejects.toThrow(new RegExp(`chunk ".*${key}": checksum mismatch`));
      await Promise.all([ix.dispose(), c.dispose()]);
      await m.release();
    } finally {
      engine.dispose();
    }
  });

  it('JOB_COMPLETION_INDEX + --shards and SLURM_ARRAY_TASK_* select the same shard as --shard 1/3', async () => {
    const k8s = join(tmp, 'k8s'), slurm = join(tmp, 'slurm');
    const a = await ok(['log', ...common, '--index', k8s, '--shards', '3'], { ...noSchedulerEnv, JOB_COMPLETION_INDEX: '1' });
    const b = await ok(['log', ...common, '--index', slurm, '--shard', 'auto'], { ...noSchedulerEnv, SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' });
    expect(a.shard).toMatchObject({ index: 1, count: 3, from: 'JOB_COMPLETION_INDEX=1' });
    expect(b.shard).toMatchObject({ index: 1, count: 3 });
    const ids = (dir: string) => manifest(dir).chunks.flatMap((c: { ids: string[] }) => c.ids);
    expect(ids(k8s)).toEqual(ids(shard(1)));
    expect(ids(slurm)).toEqual(ids(shard(1)));
    await fails(['log', ...common, '--index', join(tmp, 'k8s-no-count'), '--shard', 'auto'], /JOB_COMPLETION_INDEX is set .*--shards N/, { ...noSchedulerEnv, JOB_COMPLETION_INDEX: '1' });
    await fails(['log', ...common, '--index', join(tmp, 'none'), '--shard', 'auto'], /neither is set: pass --shard i\/n/);
    // a shard index resumed as another shard (or unsharded) is refused, naming the field
    await fails(['log', ...common, '--index', k8s, '--shard', '2/3'], /shard = "shard 1\/3 of 31 examples", this run has "shard 2\/3 of 31 examples"/);
    await fails(['log', ...common, '--index', k8s], /shard = "shard 1\/3 of 31 examples", this run has "no shard/);
  });

  it('refuses other settings, overlapping, missing and unfinished shards, naming what is wrong, and loses nothing', async () => {
    const before = [0, 1, 2].map((i) => snapshot(shard(i)));
    const out = (name: string) => join(tmp, `out-${name}`);
    // other settings: the field is named
    const seeded = join(tmp, 'seed1');
    await ok(['log', ...common, '--index', seeded, '--shard', '1/3', '--seed', '1']);
    await fails(['merge', out('seed'), shard(0), seeded, shard(2), '--quiet'], /different settings: seed is 0 in .*s0 and 1 in .*seed1/);
    const f16 = join(tmp, 'f16');
    await ok(['log', ...common, '--index', f16, '--shard', '1/3', '--dtype', 'f16']);
    await fails(['merge', out('dtype'), shard(0), f16, shard(2), '--quiet'], /different settings: dtype is "f32" .* and "f16"/);
    // overlap, missing
    await fails(['merge', out('overlap'), shard(0), shard(1), join(tmp, 'k8s'), shard(2), '--quiet'], /shard 1\/3 is given twice .* overlap/);
    await fails(['merge', out('missing'), shard(0), shard(2), '--quiet'], /shard 1\/3 \(examples 10\.\.20\) is missing/);
    // other data (an example more): every shard must slice the same data
    const other = join(tmp, 'other.jsonl'), od = join(tmp, 'other');
    writeFileSync(other, readFileSync(data, 'utf8') + JSON.stringify({ id: 'extra', input_ids: [1, 2, 3] }) + '\n');
    await ok(['log', ...common.map((x) => (x === data ? other : x)), '--index', od, '--shard', '1/3']);
    await fails(['merge', out('data'), shard(0), od, shard(2), '--quiet'], /shard\.total: 31 in .*, 32 in/);
    // duplicate ids are refused when logging (every shard sees the whole data)
    const dup = join(tmp, 'dup.jsonl');
    writeFileSync(dup, readFileSync(data, 'utf8') + JSON.stringify({ id: 's3', input_ids: [1, 2] }) + '\n');
    await fails(['log', ...common.map((x) => (x === data ? dup : x)), '--index', join(tmp, 'dup'), '--shard', '0/3'], /dup\.jsonl:32: duplicate id "s3"/);
    // pca would give each shard its own projections
    await fails(['log', '--model', model, '--data', data, '--init', 'pca', '--backend', 'cpu', '--quiet', '--index', join(tmp, 'pca'), '--shard', '0/3'], /PCA projections .* --init random/);
    // an unfinished shard (its log was interrupted after some chunks were committed) is refused until it is finished
    const engine = await createEngine({ backend: 'cpu' });
    try {
      const m = await engine.loadModel(new Uint8Array(readFileSync(join(root, model))));
      const examples = randomSequences(N, 11);
      const cut = join(tmp, 'cut');
      const ac = new AbortController();
      const e = await engine
        .log(m, examples, { store: new FsStore(cut), shard: { index: 2, count: 3 }, kIn: 4, kOut: 4, batchSize: 2, flushMs: 0, signal: ac.signal, onProgress: (p) => p.done >= 4 && ac.abort() })
        .catch((x) => x);
      expect(e).toBeInstanceOf(AbortError);
      expect(manifest(cut).state.shard.complete).toBe(false);
      expect(manifest(cut).chunks.length).toBeGreaterThan(0);
      await fails(['merge', out('cut'), shard(0), shard(1), cut, '--quiet'], /shard 2\/3 is not finished .*logra log --shard 2\/3/);
      expect(existsSync(join(out('cut'), 'manifest.json'))).toBe(false);
      // the API refuses the same, and a store that cannot share files is told to copy
      await expect(mergeShards([new FsStore(shard(0)), new FsStore(shard(1)), new FsStore(cut)], new FsStore(out('api')))).rejects.toThrow(MergeError);
      await expect(mergeShards([0, 1, 2].map((i) => new FsStore(shard(i))), new MemoryStore())).rejects.toThrow(/pass copy/);
      const mem = new MemoryStore();
      const r = await mergeShards([0, 1, 2].map((i) => new FsStore(shard(i))), mem, { copy: true });
      expect(r.examples).toBe(N);
      // finishing the shard makes it mergeable
      await engine.log(m, examples, { store: new FsStore(cut), shard: { index: 2, count: 3 }, kIn: 4, kOut: 4, batchSize: 2 });
      expect(manifest(cut).state.shard.complete).toBe(true);
      await m.release();
    } finally {
      engine.dispose();
    }
    await ok(['merge', out('finished'), shard(0), shard(1), join(tmp, 'cut'), '--quiet']);
    // an output that already holds an index is refused
    await fails(['merge', merged, shard(0), shard(1), shard(2), '--quiet'], /already holds an index/);
    // nothing of the shards changed
    expect([0, 1, 2].map((i) => snapshot(shard(i)))).toEqual(before);
    for (const i of [0, 1, 2]) expect((await verifyIndex(new FsStore(shard(i)))).ok).toBe(true);
  });
});
