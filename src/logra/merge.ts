// Merging shard indexes (shard.ts) into one index, as if one process had logged all of the data.
// The merged manifest lists shard 0's chunks, then shard 1's, ... (each shard's rows are its slice in data order, so
// the row order is a single-process run's) with each chunk's KFAC statistics blob: those are per-chunk sums, so the
// fit sums them over every chunk of every shard exactly as over a single-process index's. The shards' fits are left
// out (a fit covers one shard's rows); `fit`, `query` and `self` then work on the merged index as on any other.
// Blobs are not copied where the stores can share them (LogStore.linkBlobs: hard links on one file system), so the
// merged index costs a manifest; `copy` copies them (checksums verified) into any store.
// Refused, naming the field or shard: shards with other settings (model, task, layers, ranks, projection, seed,
// dtype, hessian, reduction) or projection matrices, from other data, overlapping or missing slices, ids stored
// twice, shards still logging or interrupted, damaged shards, and an output that already holds an index.
import { MANIFEST_VERSION, StoreError, settingsDifference, withLock, type Blob, type LockOptions, type LogStore, type Manifest } from '../store/store.ts';
import { decodeChunk } from '../store/chunk.ts';
import { checkBlob } from '../store/integrity.ts';
import { BLOB, isFitRole } from './layout.ts';
import { shardRange, shardState, sliceIdsHash, type ShardState } from './shard.ts';
import { quickCheck } from './verify.ts';

export class MergeError extends StoreError {
  constructor(message: string, location?: string) {
    super(message, location);
    this.name = 'MergeError';
  }
}

export interface MergeOptions {
  /** copy the blobs instead of sharing them (another file system, another kind of store, a self-contained copy) */
  copy?: boolean;
  /** the output's lock: wait options */
  lock?: Omit<LockOptions, 'op'>;
  /** blobs copied per commit group when copying (default 8 MiB) */
  groupBytes?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface MergeResult {
  manifest: Manifest;
  shards: number;
  examples: number;
  chunks: number;
  /** blobs shared with the shards (not copied) and blobs copied, with their bytes */
  linked: { blobs: number; bytes: number };
  copied: { blobs: number; bytes: number };
}

interface Shard {
  store: LogStore;
  m: Manifest;
  st: ShardState;
}

const show = (v: unknown) => JSON.stringify(v);

/** Reads and checks the shards: one index of all of them is possible. Returns them in shard order. */
export async function checkShards(stores: LogStore[]): Promise<Shard[]> {
  if (stores.length === 0) throw new MergeError('no shard indexes to merge');
  const shards: Shard[] = [];
  for (const store of stores) {
    const m = await store.readManifest();
    if (!m) throw new MergeError('no index here (no manifest): is this a shard written by `logra log --shard i/n`?', store.location);
    const st = shardState(m);
    if (!st) throw new MergeError('this index was not logged as a shard (no state.shard): merge takes the indexes `logra log --shard i/n` writes', store.location);
    shards.push({ store, m, st });
  }
  const [a] = shards;
  for (const b of shards.slice(1)) {
    const d = settingsDifference(a.m.settings, b.m.settings);
    if (d) throw new MergeError(`shards have different settings: ${d.field} is ${show(d.a)} in ${a.store.location} and ${show(d.b)} in ${b.store.location}; every shard must be logged with the same model and flags`);
    if (a.m.cols !== b.m.cols) throw new MergeError(`shards have different row widths: cols is ${a.m.cols} in ${a.store.location} and ${b.m.cols} in ${b.store.location}`);
    if (a.st.projections !== b.st.projections) throw new MergeError(`shards were logged with different projection matrices (shard.projections ${a.st.projections.slice(0, 12)}... in ${a.store.location}, ${b.st.projections.slice(0, 12)}... in ${b.store.location}) although their settings agree; log them again with the same --seed (or --projections FILE)`);
    const pa = a.m.blobs[BLOB.projections], pb = b.m.blobs[BLOB.projections];
    if ((pa?.checksum ?? 0) !== (pb?.checksum ?? 0)) throw new MergeError(`shards store different projections blobs (${a.store.location}, ${b.store.location})`);
    for (const f of ['count', 'total'] as const) {
      if (a.st[f] !== b.st[f]) throw new MergeError(`shards disagree on shard.${f}: ${a.st[f]} in ${a.store.location}, ${b.st[f]} in ${b.store.location}; every shard must be logged with the same data and --shard i/n (same n)`);
    }
    if (a.st.dataIds !== b.st.dataIds) throw new MergeError(`shards were logged from different data (shard.dataIds, the hash of all ids in order, differs between ${a.store.location} and ${b.store.location}); every shard must read the same data file`);
  }
  // slices: each shard once, the ranges shard.ts gives, together every example
  shards.sort((x, y) => x.st.index - y.st.index);
  const { count, total } = a.st;
  for (let i = 0; i < shards.length; i++) {
    const s = shards[i];
    const r = shardRange(total, { index: s.st.index, count });
    if (s.st.start !== r.start || s.st.end !== r.end) throw new MergeError(`shard ${s.st.index}/${count} records examples ${s.st.start}..${s.st.end}, not its slice ${r.start}..${r.end}`, s.store.location);
    if (i > 0 && shards[i - 1].st.index === s.st.index) throw new MergeError(`shard ${s.st.index}/${count} is given twice (${shards[i - 1].store.location} and ${s.store.location}): their examples ${s.st.start}..${s.st.end} overlap`);
  }
  const have = new Set(shards.map((s) => s.st.index));
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !have.has(i));
  if (missing.length) {
    const list = missing.slice(0, 5).map((i) => { const r = shardRange(total, { index: i, count }); return `${i}/${count} (examples ${r.start}..${r.end})`; }).join(', ');
    throw new MergeError(`shard${missing.length > 1 ? 's' : ''} ${list}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} ${missing.length > 1 ? 'are' : 'is'} missing: pass every shard's index (examples would be missing from the merged index)`);
  }
  // finished, every id of its slice stored once
  const where = new Map<string, string>();
  for (const s of shards) {
    const name = `shard ${s.st.index}/${count}`;
    if (!s.st.complete) throw new MergeError(`${name} is not finished (still logging, or its log was interrupted): run \`logra log --shard ${s.st.index}/${count}\` over it again to finish it, then merge`, s.store.location);
    const ids: string[] = [];
    for (const c of s.m.chunks) for (const id of c.ids) {
      const other = where.get(id);
      if (other !== undefined) throw new MergeError(`id ${show(id)} is stored by two shards (${other} and ${s.store.location}); ids must be unique across the data`);
      where.set(id, s.store.location);
      ids.push(id);
    }
    const want = s.st.end - s.st.start - s.st.rejected.length;
    if (ids.length !== want || (await sliceIdsHash([...ids, ...s.st.rejected])) !== s.st.sliceIds) {
      throw new MergeError(`${name} holds ${ids.length} rows, not the ${want} ids of its slice (examples ${s.st.start}..${s.st.end}${s.st.rejected.length ? `, less ${s.st.rejected.length} with non-finite gradients` : ''}): run \`logra log --shard ${s.st.index}/${count}\` over it again (after \`logra repair\`, it re-logs the dropped ids)`, s.store.location);
    }
    const q = await quickCheck(s.store, s.m);
    const bad = q.problems.filter((p) => !p.role || !isFitRole(p.role));
    if (bad.length) throw new MergeError(`${name} is damaged (${bad.slice(0, 3).map((p) => `${p.kind} ${show(p.key ?? p.role)}: ${p.message}`).join('; ')}): run \`logra verify\` and \`logra repair\` on it, then log it again`, s.store.location);
  }
  return shards;
}

/**
 * Makes `out` (empty, or what an interrupted merge left) one index of the shard indexes, holding its lock. The shards
 * are only read. See the file comment.
 */
export async function mergeShards(stores: LogStore[], out: LogStore, opts: MergeOptions = {}): Promise<MergeResult> {
  const shards = await checkShards(stores);
  return withLock(out, { ...opts.lock, op: 'merge' }, async () => {
    const existing = await out.readManifest();
    if (existing) throw new MergeError('already holds an index; merge writes a new one: choose an empty or new folder', out.location);
    await out.sweep(undefined); // what an interrupted merge linked or copied
    if (!opts.copy && !out.linkBlobs) throw new MergeError(`${out.location} cannot share blobs with the shards (only file-system indexes can): pass copy (logra merge --copy)`);
    const first = shards[0];
    // keys stay the shards' own unless two shards used the same one (then prefixed by the shard number)
    const used = new Set<string>();
    const rename = (key: string, i: number) => (used.has(key) ? `s${i}-${key}` : key);
    const plan: { shard: Shard; from: string; to: string; check: (bytes: Uint8Array) => void; bytes: number }[] = [];
    const chunks: Manifest['chunks'] = [];
    const blobs: Manifest['blobs'] = {};
    for (const s of shards) {
      for (const c of s.m.chunks) {
        const key = rename(c.key, s.st.index);
        used.add(key);
        chunks.push({ ...c, key });
        plan.push({ shard: s, from: c.key, to: key, bytes: c.bytes, check: (b) => void decodeChunk(b, `${s.store.location}/${c.key}`, { checksum: c.checksum, rows: c.rows, cols: s.m.cols }) });
        const role = BLOB.kfac(c.key), ref = s.m.blobs[role];
        if (!ref) throw new MergeError(`chunk ${c.key} has no KFAC statistics blob: run \`logra repair\` on the shard, then log it again`, s.store.location);
        const kkey = rename(ref.key, s.st.index);
        used.add(kkey);
        blobs[BLOB.kfac(key)] = { ...ref, key: kkey };
        plan.push({ shard: s, from: ref.key, to: kkey, bytes: ref.bytes, check: (b) => void checkBlob(s.store.location, role, ref, b) });
      }
    }
    const proj = first.m.blobs[BLOB.projections];
    if (proj) {
      blobs[BLOB.projections] = proj;
      used.add(proj.key);
      plan.push({ shard: first, from: proj.key, to: proj.key, bytes: proj.bytes, check: (b) => void checkBlob(first.store.location, BLOB.projections, proj, b) });
    }
    const linked = { blobs: 0, bytes: 0 }, copied = { blobs: 0, bytes: 0 };
    let done = 0;
    if (!opts.copy) {
      for (const s of shards) {
        const pairs = plan.filter((p) => p.shard === s);
        await out.linkBlobs!(s.store, pairs.map((p) => ({ from: p.from, to: p.to })));
        linked.blobs += pairs.length;
        linked.bytes += pairs.reduce((a, p) => a + p.bytes, 0);
        opts.onProgress?.((done += pairs.length), plan.length);
      }
    } else {
      const group = opts.groupBytes ?? 8 * 2 ** 20;
      let pending: Blob[] = [], size = 0;
      for (const p of plan) {
        const bytes = await p.shard.store.readBlob(p.from);
        p.check(bytes);
        pending.push({ key: p.to, bytes });
        size += bytes.length;
        copied.blobs++;
        copied.bytes += bytes.length;
        if (size >= group) {
          await out.writeBlobs(pending);
          pending = [];
          size = 0;
        }
        opts.onProgress?.(++done, plan.length);
      }
      if (pending.length) await out.writeBlobs(pending);
    }
    const now = new Date().toISOString();
    const { count, total } = first.st;
    const manifest: Manifest = {
      format: 'logra-index',
      version: MANIFEST_VERSION,
      settings: first.m.settings,
      cols: first.m.cols,
      chunks,
      blobs,
      state: {
        model: first.m.state.model,
        merged: {
          at: now,
          mode: opts.copy ? 'copy' : 'link',
          total,
          rejected: shards.flatMap((s) => s.st.rejected),
          shards: shards.map((s) => ({ location: s.store.location, index: s.st.index, count, start: s.st.start, end: s.st.end, examples: s.m.chunks.reduce((a, c) => a + c.rows, 0), chunks: s.m.chunks.length })),
        },
      },
      created: now,
      updated: now,
    };
    await out.commit([], manifest);
    return { manifest, shards: shards.length, examples: chunks.reduce((a, c) => a + c.rows, 0), chunks: chunks.length, linked, copied };
  });
}
