// Logging: run the model over the training set, store every example's projected gradient (one row per example),
// and the projected KFAC factors of each chunk. Resumable: ids the store already holds are skipped; rows are
// committed in chunks (by size, or every flushMs), each commit atomic, so a crash loses at most the rows not yet
// committed and never duplicates or corrupts one.
import type { KernelBackend } from '../kernels/backend.ts';
import { encodeChunk, payloadBytes } from '../store/chunk.ts';
import { checkSettings, sweepOrphans, MANIFEST_VERSION, StoreError, type IndexSettings, type LogStore, type Manifest, type Blob } from '../store/store.ts';
import type { Example } from '../runtime/batch.ts';
import type { LoadedModel } from './model.ts';
import { decodeProjections, encodeProjections, identityProjections, pcaProjections, randomProjections, ProjectionError, type Projections } from './projections.ts';
import { BLOB, isFitRole, layerOffsets, packTensors, withoutFit } from './layout.ts';
import { checkAbort, AbortError, DEFAULT_RUN_BYTES, type LogOptions, type ProjectionInit } from './types.ts';
import { planBatches } from '../runtime/batch.ts';
import { statsRows } from '../runtime/taps.ts';
import { sha256Hex } from './model.ts';
import { blobRef, readVerified } from '../store/integrity.ts';
import { checkExamples, contentHash, runFinite, NonFiniteGradientError } from './examples.ts';
import { dropChunks, planLog } from './resume.ts';
import { assertIntact } from './verify.ts';
import { checkShardResume, planShard, shardState, ShardError, type ShardState } from './shard.ts';

export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/** Ids must be non-empty strings, unique within one call. */
export function checkIds(examples: Example[], what: string): void {
  const seen = new Map<string, number>();
  examples.forEach((e, i) => {
    if (typeof e.id !== 'string' || e.id.length === 0) throw new DataError(`${what}: example ${i} has no string id`);
    const j = seen.get(e.id);
    if (j !== undefined) throw new DataError(`${what}: id ${JSON.stringify(e.id)} appears twice (examples ${j} and ${i}); ids must be unique`);
    seen.set(e.id, i);
  });
}

const DEFAULT_K = 16;

/** The most examples one model run takes (a larger batch is a typo, and would try to allocate its buffers). */
export const MAX_BATCH = 65536;

/** Logs under the index's writer lock (one writer at a time; another waits, or fails with IndexLockedError). */
export async function logExamples(backend: KernelBackend, model: LoadedModel, examples: Example[], opts: LogOptions): Promise<Manifest> {
  checkIds(examples, 'log');
  checkExamples(model, examples, 'log');
  const lock = await opts.store.lock({ op: 'log', waitMs: opts.lockWaitMs, onWait: opts.onLockWait, signal: opts.signal });
  try {
    return await logLocked(backend, model, examples, opts);
  } finally {
    await lock.release();
  }
}

async function logLocked(backend: KernelBackend, model: LoadedModel, examples: Example[], opts: LogOptions): Promise<Manifest> {
  const store: LogStore = opts.store;
  if (opts.shard && (opts.init ?? (opts.projections ? 'given' : 'random')) === 'pca') {
    throw new ShardError('PCA projections are computed from the data each shard sees, so shards would not share them: log shards with --init random (seeded: every shard makes the same matrices), or export one index\'s projections (logra info --export-projections) and pass --projections');
  }
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) throw new DataError(`batchSize must be an integer from 1 to ${MAX_BATCH}, got ${batchSize}`);
  const init: ProjectionInit = opts.init ?? (opts.projections ? 'given' : 'random');
  if (init === 'given' && !opts.projections) throw new ProjectionError('init "given" needs projections');
  if (init !== 'given' && opts.projections) throw new ProjectionError(`projections were given but init is ${JSON.stringify(init)}`);
  const kIn = opts.kIn ?? DEFAULT_K, kOut = opts.kOut ?? DEFAULT_K;
  for (const [k, n] of [[kIn, 'kIn'], [kOut, 'kOut']] as const) if (!Number.isInteger(k) || k < 1) throw new ProjectionError(`${n} must be a positive integer, got ${k}`);
  const seed = opts.seed ?? 0;
  const dtype = opts.dtype ?? 'f32';
  const hessian = opts.hessian ?? 'raw';
  const layers = model.layers;

  let manifest = await store.readManifest();
  await sweepOrphans(store, manifest);
  if (manifest) await assertIntact(store, manifest);

  // projections: stored ones win on resume (PCA / given); random and identity are regenerated
  let proj: Projections | undefined;
  let projection: string = init;
  let projBlob: Uint8Array | undefined;
  if (init === 'given') {
    proj = opts.projections!;
    for (const l of layers) {
      const p = proj.get(l.name);
      if (!p) throw new ProjectionError(`no projection for tapped layer ${JSON.stringify(l.name)}`);
      if (p.pin.length !== p.kIn * l.dIn || p.pout.length !== p.kOut * l.dOut) throw new ProjectionError(`projection of ${l.name}: P_in must be [k_in, ${l.dIn}], P_out [k_out, ${l.dOut}]`);
    }
    proj = new Map(layers.map((l) => [l.name, proj!.get(l.name)!]));
    projBlob = encodeProjections(proj);
    projection = `given:${(await sha256Hex(projBlob)).slice(0, 16)}`;
  } else if (init === 'identity') proj = identityProjections(layers);
  else if (init === 'random') proj = await randomProjections(backend, layers, kIn, kOut, seed);
  else if (init === 'pca' && manifest?.blobs[BLOB.projections]) {
    proj = decodeProjections(await readVerified(store, manifest, BLOB.projections), layers, `${store.location} (stored PCA projections)`);
  }
  if (init === 'pca' && !proj) {
    proj = await pcaPass(backend, model, examples, kIn, kOut, batchSize, opts);
    projBlob = encodeProjections(proj);
  }
  const settings: IndexSettings = {
    modelSha256: model.sha256,
    task: model.task,
    layers: layers.map((l) => ({ name: l.name, dIn: l.dIn, dOut: l.dOut, kIn: proj!.get(l.name)!.kIn, kOut: proj!.get(l.name)!.kOut })),
    projection: init === 'random' ? `random:${kIn}x${kOut}` : init === 'pca' ? `pca:${kIn}x${kOut}` : projection,
    seed: init === 'random' ? seed : 0,
    dtype,
    hessian,
    reduction: model.reduction,
  };
  const { cols } = layerOffsets(settings.layers);
  const now = () => new Date().toISOString();
  // a shard logs its slice of the data (shard.ts); its index records which slice, of which data, with which projections
  let shard: ShardState | undefined;
  if (opts.shard) ({ slice: examples, state: shard } = await planShard(examples, opts.shard, proj!));
  if (manifest) {
    checkSettings(store.location, manifest.settings, settings);
    checkShardResume(store.location, shardState(manifest), shard);
  } else {
    manifest = { format: 'logra-index', version: MANIFEST_VERSION, settings, cols, chunks: [], blobs: {}, state: { model: { source: model.source }, ...(shard ? { shard } : {}) }, created: now(), updated: now() };
    const blobs: Blob[] = [];
    if (projBlob && init !== 'identity') {
      const key = `projections-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
      blobs.push({ key, bytes: projBlob });
      manifest.blobs[BLOB.projections] = blobRef(key, projBlob);
    }
    await store.commit(blobs, manifest);
  }

  // stored ids with the same content are skipped; with other content: an error, or (replace) their chunks re-logged
  const hashes = new Map(examples.map((e) => [e.id, contentHash(e)]));
  const plan = planLog(manifest, examples, hashes, !!opts.replace, store.location);
  if (plan.drop.length) manifest = await dropChunks(store, manifest, plan.drop);
  const todo = plan.todo;
  const skipped = examples.length - todo.length;
  const rejected: Example[] = [];
  const rejectedIds: string[] = [];
  const progress = (n: number) => opts.onProgress?.({ stage: 'log', done: skipped + n, total: examples.length, unit: 'examples', skipped });
  progress(0);
  // a shard is complete once a log ran to the end of its slice; until then the merge refuses it
  const markShard = async (complete: boolean) => {
    const st = shardState(manifest!);
    if (!st || (st.complete === complete && complete === false)) return;
    manifest = { ...manifest!, state: { ...manifest!.state, shard: { ...st, complete, rejected: complete ? rejectedIds : [] } }, updated: now() };
    await store.commit([], manifest);
  };
  if (todo.length === 0) {
    if (shard && !shardState(manifest)!.complete) await markShard(true);
    return manifest;
  }
  await markShard(false);

  const tm = await model.projector();
  tm.setProjections(layers.map((l) => proj!.get(l.name)!));
  const L = layers.length;
  const rowBytes = payloadBytes(dtype, 1, cols);
  const chunkRows = Math.max(1, Math.floor((opts.chunkBytes ?? 4 * 2 ** 20) / rowBytes));
  const flushMs = opts.flushMs ?? 10_000;

  // a chunk is flushed after the batch that fills it, so the buffer holds up to chunkRows + batchSize - 1 rows
  const buf = new Float32Array((Math.min(chunkRows, todo.length) + Math.min(batchSize, todo.length)) * cols);
  let ids: string[] = [];
  let rowHashes: string[] = [];
  let tokens = 0;
  // projected KFAC factors of the rows not yet committed (summed in float64 from the model's per-batch outputs), and
  // the rows each layer's A summed over
  const A = settings.layers.map((l) => new Float64Array(l.kIn * l.kIn));
  const S = settings.layers.map((l) => new Float64Array(l.kOut * l.kOut));
  const statRows = new Float64Array(L);
  const resetStats = () => {
    for (const t of [...A, ...S]) t.fill(0);
    statRows.fill(0);
    tokens = 0;
  };
  let lastFlush = performance.now();

  const flush = async () => {
    if (ids.length === 0) return;
    const rows = ids.length;
    const { bytes, checksum } = encodeChunk(buf.subarray(0, rows * cols), rows, cols, dtype);
    const seq = manifest!.chunks.length;
    const key = `chunk-${String(seq).padStart(6, '0')}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const stats: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (let l = 0; l < L; l++) {
      const sl = settings.layers[l];
      stats[`${l}.a`] = { shape: [sl.kIn, sl.kIn], data: Float32Array.from(A[l]) };
      stats[`${l}.s`] = { shape: [sl.kOut, sl.kOut], data: Float32Array.from(S[l]) };
    }
    const kfacBytes = packTensors(stats, { tokens: String(tokens), examples: String(rows), rows: JSON.stringify([...statRows]) });
    const kfacKey = `kfac-${key}`;
    const next: Manifest = {
      ...manifest!,
      chunks: [...manifest!.chunks, { key, ids: ids.slice(), rows, checksum, bytes: bytes.length, hashes: rowHashes.slice() }],
      blobs: { ...withoutFit(manifest!.blobs), [BLOB.kfac(key)]: blobRef(kfacKey, kfacBytes) },
      state: withoutFitState(manifest!.state),
      updated: now(),
    };
    const staleFit = Object.entries(manifest!.blobs).filter(([role]) => isFitRole(role)).map(([, b]) => b.key);
    await store.commit([{ key, bytes }, { key: kfacKey, bytes: kfacBytes }], next, staleFit);
    manifest = next;
    ids = [];
    rowHashes = [];
    resetStats();
    lastFlush = performance.now();
  };

  let processed = 0;
  for (const [s, end] of planBatches(todo, batchSize, tm.tokensWithin(opts.runBytes ?? DEFAULT_RUN_BYTES))) {
    if (opts.signal?.aborted) {
      await flush();
      throw new AbortError('logging');
    }
    const batch = todo.slice(s, end);
    const run = await runFinite(tm, batch);
    for (const e of run.rejected) {
      rejectedIds.push(e.id);
      if (opts.onRejected) opts.onRejected(e);
      else rejected.push(e);
    }
    if (!run.r) {
      processed += batch.length;
      progress(processed);
      continue;
    }
    const r = run.r;
    for (let b = 0; b < r.B; b++) {
      const at = ids.length * cols;
      let c = 0;
      for (let l = 0; l < L; l++) {
        const k = settings.layers[l].kIn * settings.layers[l].kOut;
        buf.set(r.layers[l].g!.subarray(b * k, (b + 1) * k), at + c);
        c += k;
      }
      ids.push(r.ids[b]);
      rowHashes.push(hashes.get(r.ids[b])!);
    }
    for (let l = 0; l < L; l++) {
      const ap = r.layers[l].ap!, sp = r.layers[l].sp!;
      for (let j = 0; j < ap.length; j++) A[l][j] += ap[j];
      for (let j = 0; j < sp.length; j++) S[l][j] += sp[j];
    }
    tokens += r.lengths.reduce((a, c) => a + c, 0);
    statsRows(r).forEach((n, l) => (statRows[l] += n));
    processed += batch.length;
    if (ids.length >= chunkRows || performance.now() - lastFlush >= flushMs) await flush();
    progress(processed);
  }
  await flush();
  await markShard(true);
  if (rejected.length) throw new NonFiniteGradientError(rejected);
  return manifest;
}

function withoutFitState(state: Manifest['state']): Manifest['state'] {
  const out = { ...state };
  delete out.fit;
  return out;
}

/** PCA init: one pass with full KFAC statistics, A = sum x x^T / rows (tokens for per-token layers), S = sum dy dy^T / examples. */
async function pcaPass(backend: KernelBackend, model: LoadedModel, examples: Example[], kIn: number, kOut: number, batchSize: number, opts: LogOptions): Promise<Projections> {
  const n = Math.min(examples.length, opts.pcaExamples ?? examples.length);
  if (n === 0) throw new DataError('PCA init needs at least one example');
  const tm = await model.statistician();
  const layers = model.layers;
  const a = layers.map((l) => new Float64Array(l.dIn * l.dIn));
  const s = layers.map((l) => new Float64Array(l.dOut * l.dOut));
  const rows = new Float64Array(layers.length);
  for (const [i, e] of planBatches(examples.slice(0, n), batchSize, tm.tokensWithin(opts.runBytes ?? DEFAULT_RUN_BYTES))) {
    checkAbort(opts.signal, 'the PCA statistics pass');
    const batch = examples.slice(i, e);
    const r = await tm.run(batch);
    r.layers.forEach((lt, l) => {
      for (let j = 0; j < a[l].length; j++) a[l][j] += lt.a![j];
      for (let j = 0; j < s[l].length; j++) s[l][j] += lt.s![j];
    });
    statsRows(r).forEach((c, l) => (rows[l] += c));
    opts.onProgress?.({ stage: 'stats', done: e, total: n, unit: 'examples' });
  }
  const stats = layers.map((_, l) => ({ a: Float32Array.from(a[l], (v) => v / Math.max(rows[l], 1)), s: Float32Array.from(s[l], (v) => v / n) }));
  return pcaProjections(backend, layers, stats, kIn, kOut);
}

export { StoreError };
