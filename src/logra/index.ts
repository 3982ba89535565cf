// A LoGra index: the store's manifest and chunks, the model it was logged with (needed for queries), and the fit
// (fit.ts writes it; fitted.ts reads it back lazily, one layer's preconditioner at a time; query.ts scores).
import type { KernelBackend } from '../kernels/backend.ts';
import { BlobMissingError, IndexLockedError, StoreError, StoreMismatchError, StoreQuotaError, StoreReadOnlyError, validateManifest, type IndexLock, type LogStore, type Manifest } from '../store/store.ts';
import { readVerified } from '../store/integrity.ts';
import type { Example } from '../runtime/batch.ts';
import type { LoadedModel } from './model.ts';
import type { TapModel } from '../runtime/taps.ts';
import { decodeProjections, identityProjections, randomProjections, type Projections } from './projections.ts';
import { BLOB, fitIsCurrent, isFitRole, trainIds } from './layout.ts';
import { ChunkCache, forEachChunk } from './chunks.ts';
import { forEachLimited } from './concurrency.ts';
import { DEFAULT_DEVICE_BYTES, DeviceRows } from './device-rows.ts';
import { DecodePool } from './scan-pool.ts';
import { DEFAULT_FIT_MEMORY, fitIndex, packSelf, type FitState } from './fit.ts';
import { Fitted } from './fitted.ts';
import { queryGradients, scoreQueries, type QueryGradients } from './query.ts';
import { crc32 } from '../store/chunk.ts';
import { checkIds } from './log.ts';
import { checkExamples, describeExample, ExampleError } from './examples.ts';
import type { FitOptions, ProgressCallback, QueryOptions, QueryResult, ScoreMode, SelfInfluence } from './types.ts';

export { topIndices, lowRank } from './query.ts';

/** Rows an index must hold (bytes as stored) before scans decode its chunks in worker threads by default. */
export const AUTO_SCAN_BYTES = 16 * 2 ** 20;

export class LograIndex {
  private fitted?: Fitted;
  /** the projections, once read (or being read: concurrent callers share one read) */
  private projCache?: Promise<Projections>;
  /** an ensureFitted() in flight: warm() and a query arriving together share it (one read of the fit, one fit) */
  private fitting?: Promise<Fitted>;
  private chunkCache?: ChunkCache;
  /** bytes of fitted preconditioners kept in memory between queries (others are read from their blobs per query) */
  fitCacheBytes = DEFAULT_FIT_MEMORY;
  private pool?: Promise<DecodePool | undefined>;
  private threads: number | 'auto' = 'auto';
  /** told when a query or self-influence had to fit in memory without saving the fit (another writer, read-only) */
  onNote?: (message: string) => void;

  /**
   * Memory for decoded chunks kept between queries (bytes of float32 rows; default 0: every query reads and verifies
   * the chunks again). An interactive client querying one index repeatedly (the explorer) sets it to the index size.
   */
  set cacheBytes(n: number) {
    if (!(n >= 0)) throw new RangeError(`cacheBytes must be >= 0, got ${n}`);
    this.chunkCache = n > 0 ? new ChunkCache(n) : undefined;
  }
  get cacheBytes(): number {
    return this.chunkCache?.maxBytes ?? 0;
  }

  private deviceRows?: DeviceRows;
  /**
   * WebGPU backend: device memory for row blocks kept resident between top-k queries (default 1 GiB; beyond it
   * blocks stream through). Setting it frees the resident blocks.
   */
  set deviceBytes(n: number) {
    if (!(n >= 0)) throw new RangeError(`deviceBytes must be >= 0, got ${n}`);
    this.deviceRows?.clear();
    this.deviceRows = this.backend.kind === 'webgpu' ? new DeviceRows(this.backend, n, this.deviceRows?.blockBytes) : undefined;
  }
  get deviceBytes(): number {
    return this.device?.maxBytes ?? 0;
  }
  /** WebGPU backend: bytes of rows joined into one block per scoring dispatch (default 64 MiB). Frees the residents. */
  set deviceBlockBytes(n: number) {
    if (!(n > 0)) throw new RangeError(`deviceBlockBytes must be > 0, got ${n}`);
    this.deviceRows?.clear();
    this.deviceRows = this.backend.kind === 'webgpu' ? new DeviceRows(this.backend, this.deviceRows?.maxBytes ?? DEFAULT_DEVICE_BYTES, n) : undefined;
  }
  /** the device rows (WebGPU backend only), made on first use */
  get device(): DeviceRows | undefined {
    if (!this.deviceRows && this.backend.kind === 'webgpu') this.deviceRows = new DeviceRows(this.backend, DEFAULT_DEVICE_BYTES);
    return this.deviceRows;
  }
  /** Frees the rows resident on the device (the next top-k query uploads them again). */
  releaseDevice(): void {
    this.deviceRows?.clear();
  }

  /**
   * Worker threads that verify and decode chunks while a query, self-influence or fit scans them (Node only; Deno
   * and browsers decode on the calling thread): 'auto' (default) = one per core, at most 4, for an index of at least
   * AUTO_SCAN_BYTES of rows (on 2 cores the scan of 63 MiB of f16 rows took 0.37x the time with 2 threads:
   * bench/parallel-scan.ts); 0 = the calling thread. dispose() ends the threads.
   */
  set scanThreads(n: number | 'auto') {
    if (n !== 'auto' && !(Number.isInteger(n) && n >= 0)) throw new RangeError(`scanThreads must be 'auto' or an integer >= 0, got ${n}`);
    if (n === this.threads) return;
    void this.dispose();
    this.threads = n;
  }
  get scanThreads(): number | 'auto' {
    return this.threads;
  }

  private decodePool(): Promise<DecodePool | undefined> {
    const bytes = this.m.chunks.reduce((a, c) => a + c.bytes, 0);
    if (!this.threads || (this.threads === 'auto' && bytes < AUTO_SCAN_BYTES)) return Promise.resolve(undefined);
    return (this.pool ??= DecodePool.create(this.threads));
  }

  /** Ends the scan threads (scanThreads), if any, and frees device-resident rows; the index stays usable (both are
   *  made again when needed). */
  async dispose(): Promise<void> {
    this.deviceRows?.clear();
    const p = this.pool;
    this.pool = undefined;
    await (await p?.catch(() => undefined))?.dispose();
  }

  constructor(
    private readonly backend: KernelBackend,
    readonly store: LogStore,
    private m: Manifest,
    private model?: LoadedModel,
  ) {}

  static async open(backend: KernelBackend, store: LogStore, model?: LoadedModel): Promise<LograIndex> {
    const raw = await store.readManifest();
    if (!raw) throw new StoreError('no index here (no manifest); run log first', store.location);
    const m = validateManifest(raw, store.location);
    const ix = new LograIndex(backend, store, m);
    if (model) ix.attach(model);
    return ix;
  }

  get manifest(): Manifest {
    return this.m;
  }
  get layerNames(): string[] {
    return this.m.settings.layers.map((l) => l.name);
  }
  get size(): number {
    return this.m.chunks.reduce((a, c) => a + c.rows, 0);
  }
  ids(): string[] {
    return trainIds(this.m);
  }
  get fitState(): FitState | undefined {
    return this.m.state.fit as FitState | undefined;
  }

  /** Attaches the model the index was logged with (checked by hash); queries need it. */
  attach(model: LoadedModel): void {
    if (model.sha256 !== this.m.settings.modelSha256) throw new StoreMismatchError(this.store.location, 'modelSha256', this.m.settings.modelSha256, model.sha256);
    const names = model.layers.map((l) => l.name).join(',');
    if (names !== this.layerNames.join(',')) throw new StoreMismatchError(this.store.location, 'layers', this.layerNames, model.layers.map((l) => l.name));
    this.model = model;
  }

  /** P_in / P_out per layer: regenerated (random, identity) or read from the store (pca, given). */
  projections(): Promise<Projections> {
    this.projCache ??= this.readProjections().catch((e: unknown) => {
      this.projCache = undefined;
      throw e;
    });
    return this.projCache;
  }

  private async readProjections(): Promise<Projections> {
    const s = this.m.settings;
    const layers = s.layers.map((l) => ({ name: l.name, dIn: l.dIn, dOut: l.dOut }));
    let p: Projections;
    const ref = this.m.blobs[BLOB.projections];
    if (ref) p = decodeProjections(await readVerified(this.store, this.m, BLOB.projections), layers as never, `${this.store.location}/${ref.key}`);
    else if (s.projection === 'identity') p = identityProjections(layers as never);
    else if (s.projection.startsWith('random:')) {
      const [kIn, kOut] = s.projection.slice(7).split('x').map(Number);
      p = await randomProjections(this.backend, layers as never, kIn, kOut, s.seed);
    } else throw new StoreError(`projection ${JSON.stringify(s.projection)} needs a stored projections blob, which is missing`, this.store.location);
    s.layers.forEach((l) => {
      const q = p.get(l.name)!;
      if (q.kIn !== l.kIn || q.kOut !== l.kOut) throw new StoreError(`projection of ${l.name} is ${q.kOut}x${q.kIn}, the manifest says ${l.kOut}x${l.kIn}`, this.store.location);
    });
    return p;
  }

  /**
   * Fits the damped Hessian approximation and the self-influences, and stores them in the index, holding its writer
   * lock (another writer makes it wait, or fail with IndexLockedError); the fit covers the index as it is then.
   */
  async fit(opts: FitOptions = {}): Promise<FitState> {
    const lock = await this.store.lock({ op: 'fit', waitMs: opts.lockWaitMs, onWait: opts.onLockWait, signal: opts.signal });
    try {
      await this.refresh();
      await this.store.sweep(this.m);
      return await this.fitLocked(opts);
    } finally {
      await lock.release();
    }
  }

  /** Re-reads the manifest (another writer may have committed since it was read). */
  private async refresh(): Promise<boolean> {
    const fresh = await this.store.readManifest();
    if (!fresh) throw new StoreError('the index was removed while it was open', this.store.location);
    if (JSON.stringify(fresh.settings) !== JSON.stringify(this.m.settings)) throw new StoreError('the index was replaced by another one (other settings) while it was open; open it again', this.store.location);
    const sig = (m: Manifest) => `${m.updated}|${m.chunks.length}|${Object.values(m.blobs).map((b) => b.key).join(',')}`;
    if (sig(fresh) === sig(this.m)) return false;
    this.m = fresh;
    this.fitted = undefined;
    return true;
  }

  /** Runs a read; when a blob it needs vanished because a writer committed meanwhile, reads the new state and retries. */
  private async reading<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof BlobMissingError) || attempt >= 3 || !(await this.refresh())) throw e;
      }
    }
  }

  private async fitLocked(opts: FitOptions): Promise<FitState> {
    const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const r = await fitIndex(this.backend, this.store, this.m, { ...opts, stamp, keepBytes: this.fitCacheBytes, cache: this.chunkCache, pool: await this.decodePool() });
    const selfBytes = packSelf(r.self);
    const selfKey = `self-${stamp}`;
    const old = Object.entries(this.m.blobs).filter(([role]) => isFitRole(role)).map(([, b]) => b.key);
    const blobs = Object.fromEntries(Object.entries(this.m.blobs).filter(([role]) => !isFitRole(role)));
    for (const b of r.blobs) blobs[BLOB.fit(b.layer)] = { key: b.key, checksum: b.checksum, bytes: b.bytes };
    blobs[BLOB.self] = { key: selfKey, checksum: crc32(selfBytes), bytes: selfBytes.length };
    const next: Manifest = { ...this.m, blobs, state: { ...this.m.state, fit: r.state }, updated: new Date().toISOString() };
    await this.store.commit([{ key: selfKey, bytes: selfBytes }], next, old);
    this.m = next;
    this.fitted = new Fitted(this.store, this.m, r.state, r.self, this.fitCacheBytes, r.pre);
    return r.state;
  }

  /**
   * The fit queries use: the stored one when it is current; else a new fit with the last one's settings, saved when
   * the lock can be taken at once and the medium takes it, computed in memory (and not saved) otherwise: readers
   * never wait for writers and work on read-only media.
   */
  private ensureFitted(): Promise<Fitted> {
    if (this.fitted) return Promise.resolve(this.fitted);
    this.fitting ??= this.fitOrLoad().finally(() => (this.fitting = undefined));
    return this.fitting;
  }

  private async fitOrLoad(): Promise<Fitted> {
    if (fitIsCurrent(this.m)) return (this.fitted = await Fitted.load(this.store, this.m, this.fitCacheBytes));
    const st = this.fitState;
    const fo: FitOptions = { hessian: st?.hessian, damping: st?.damping, absolute: st?.absolute };
    const cannotSave = (e: unknown) => e instanceof IndexLockedError || e instanceof StoreReadOnlyError || e instanceof StoreQuotaError;
    let lock: IndexLock | undefined;
    try {
      lock = await this.store.lock({ op: 'fit (for a query)', waitMs: 0 });
    } catch (e) {
      if (!cannotSave(e)) throw e;
      this.onNote?.(`the index has no current fit; it was fitted in memory for this run and not saved (${(e as Error).message})`);
    }
    if (lock) {
      try {
        await this.refresh();
        if (fitIsCurrent(this.m)) return (this.fitted = await Fitted.load(this.store, this.m, this.fitCacheBytes));
        await this.store.sweep(this.m);
        await this.fitLocked(fo);
        return this.fitted!;
      } catch (e) {
        if (!cannotSave(e)) throw e;
        await this.store.sweep(this.m).catch(() => undefined); // what the cut-short fit staged
        this.onNote?.(`the fit could not be saved; it was computed in memory for this run (${(e as Error).message})`);
      } finally {
        await lock.release();
      }
    }
    const r = await fitIndex(this.backend, this.store, this.m, { ...fo, stamp: 'memory', stage: false, cache: this.chunkCache, pool: await this.decodePool() });
    this.fitted = new Fitted(this.store, this.m, r.state, r.self, Infinity, r.pre);
    return this.fitted;
  }

  /** g_n^T (C + lambda I)^{-1} g_n for every logged example (fits first when needed). */
  async selfInfluence(): Promise<SelfInfluence> {
    return this.reading(async () => {
      const f = await this.ensureFitted();
      return { ids: this.ids(), values: Float32Array.from(f.total), layers: f.self, layerNames: this.layerNames };
    });
  }

  /** Influence of every logged example on each query. */
  async query(queries: Example[], opts: QueryOptions = {}): Promise<QueryResult> {
    return this.scoreGradients(await this.queryGradients(queries, opts), opts);
  }

  /**
   * The queries' projected gradients (one model run per batch; with perToken, the per-token projections too), to
   * score with scoreGradients() once or many times (other modes, top-k sizes, after a refit with new damping).
   */
  async queryGradients(queries: Example[], opts: Pick<QueryOptions, 'batchSize' | 'runBytes' | 'perToken' | 'signal'> = {}): Promise<QueryGradients> {
    if (!this.model) throw new StoreError('queries need the model the index was logged with: open the index with it', this.store.location);
    checkIds(queries, 'query');
    if (queries.length === 0) throw new Error('query: no query examples');
    checkExamples(this.model, queries, 'query');
    const layers = this.m.settings.layers;
    const tm = await this.projector(this.model);
    const g = await queryGradients(tm, layers, queries, { batchSize: opts.batchSize ?? 8, runBytes: opts.runBytes, perToken: !!opts.perToken, signal: opts.signal });
    const bad = queries.filter((_, j) => g.rows.some((r, l) => r.subarray(j * layers[l].kIn * layers[l].kOut, (j + 1) * layers[l].kIn * layers[l].kOut).some((v) => !Number.isFinite(v))));
    if (bad.length) throw new ExampleError(`query: ${bad.map(describeExample).join(', ')} ${bad.length === 1 ? 'gives' : 'give'} a non-finite gradient (values overflow float32 in the model); fix or drop ${bad.length === 1 ? 'it' : 'them'}`, bad.map((e) => ({ id: e.id })));
    return g;
  }

  /** The model's projection session with this index's projections set. */
  private async projector(model: LoadedModel): Promise<TapModel> {
    const tm = await model.projector();
    const proj = await this.projections();
    tm.setProjections(this.m.settings.layers.map((l) => proj.get(l.name)!));
    return tm;
  }

  /** Influence of every logged example on queries whose gradients queryGradients() computed. */
  async scoreGradients(g: QueryGradients, opts: QueryOptions = {}): Promise<QueryResult> {
    const mode: ScoreMode = opts.mode ?? 'dot';
    if (!['dot', 'cosine', 'l2'].includes(mode)) throw new Error(`mode must be dot, cosine or l2, got ${JSON.stringify(mode)}`);
    const layers = this.m.settings.layers;
    if (g.rows.length !== layers.length || g.rows.some((r, i) => r.length !== g.ids.length * layers[i].kIn * layers[i].kOut)) {
      throw new Error('these query gradients were not computed for this index (layers or ranks differ)');
    }
    return this.reading(async () => {
      const fitted = await this.ensureFitted();
      return scoreQueries({ backend: this.backend, store: this.store, m: this.m, fitted, ids: this.ids(), cache: this.chunkCache, pool: await this.decodePool(), device: this.device }, g, opts);
    });
  }

  /**
   * Readies the index for fast queries, so that the first one scans nothing from the store: the fit (fitting first
   * when it is not current, as a query would), every layer's preconditioner (within fitCacheBytes), the projections,
   * the model's projection session, and every row: onto the device on a WebGPU backend (deviceBytes; the top items'
   * per-layer scores then read their few chunks per query), otherwise decoded into memory (cacheBytes; without a
   * cache there is nothing to keep and the rows are not read). An interactive client calls it in the background
   * after opening the index; a query meanwhile shares its reads (a chunk, layer or block that warm() is reading is
   * awaited, not read again), so it is never slower than waiting for warm() first. Progress counts chunks.
   */
  async warm(opts: { signal?: AbortSignal; onProgress?: ProgressCallback } = {}): Promise<void> {
    await this.reading(async () => {
      const f = await this.ensureFitted();
      const total = this.m.chunks.length;
      const report = (done: number) => opts.onProgress?.({ stage: 'warm', done, total, unit: 'chunks' });
      const rows = async () => {
        report(0);
        const device = this.device;
        if (device && device.maxBytes > 0) {
          await device.forEachBlock(this.store, this.m, async (_t, _n, _s, last) => report(last + 1), opts.signal, this.chunkCache);
        } else if (this.chunkCache) {
          await forEachChunk(this.store, this.m, async (_d, _n, _s, i) => report(i + 1), opts.signal, this.chunkCache, await this.decodePool());
        }
      };
      // while the rows are read: the projection session, and the layers' preconditioners a few at a time (over HTTP
      // each is a request)
      await Promise.all([
        rows(),
        this.model ? this.projector(this.model) : this.projections(),
        forEachLimited(Array.from({ length: f.layers }, (_, l) => l), 4, (l) => f.layer(l)),
      ]);
      report(total);
    });
  }

  /** A summary for `logra info`. */
  info(): Record<string, unknown> {
    const s = this.m.settings;
    return {
      location: this.store.location,
      examples: this.size,
      chunks: this.m.chunks.length,
      bytes: this.m.chunks.reduce((a, c) => a + c.bytes, 0),
      bytesPerExample: this.size ? Math.round(this.m.chunks.reduce((a, c) => a + c.bytes, 0) / this.size) : 0,
      model: { sha256: s.modelSha256, source: (this.m.state.model as { source?: string } | undefined)?.source, task: s.task, reduction: s.reduction },
      projection: s.projection,
      seed: s.seed,
      dtype: s.dtype,
      hessian: s.hessian,
      layers: s.layers,
      cols: this.m.cols,
      fit: this.fitState ?? null,
      created: this.m.created,
      updated: this.m.updated,
    };
  }
}
