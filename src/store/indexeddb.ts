// IndexedDB store (browser): one object store per index; a commit is one readwrite transaction (the new blobs, the
// manifest, and the removal of blobs it no longer references), which IndexedDB applies all-or-nothing, with
// durability 'strict' (the transaction completes only once it is on disk).
// One writer at a time, in this page and across tabs and workers of the origin: the Web Locks API
// (navigator.locks) around every write; the holder records who it is under the key 'holder' for other writers'
// messages. The browser releases a lock when its tab closes or crashes, so there are no stale locks.
import { promisifyRequest, type UseStore } from 'idb-keyval';
import { BlobMissingError, IndexLockedError, StoreError, StoreQuotaError, referencedKeys, type Blob, type BlobStat, type IndexLock, type LockHolder, type LockOptions, type LogStore, type Manifest } from './store.ts';
import { openManifest, sealManifest } from './integrity.ts';

const MANIFEST = 'manifest';
const HOLDER = 'holder';
const BLOB = 'blob:';

/** idb-keyval's createStore, with durability 'strict' on readwrite transactions. */
function strictStore(dbName: string, storeName: string): UseStore {
  let dbp: Promise<IDBDatabase> | undefined;
  const getDB = () => {
    if (dbp) return dbp;
    const request = indexedDB.open(dbName);
    request.onupgradeneeded = () => request.result.createObjectStore(storeName);
    const p = promisifyRequest(request);
    dbp = p;
    p.then(
      (db) => (db.onclose = () => (dbp = undefined)),
      () => (dbp = undefined),
    );
    return p;
  };
  return (txMode, callback) =>
    getDB().then((db) => callback(db.transaction(storeName, txMode, txMode === 'readwrite' ? { durability: 'strict' } : undefined).objectStore(storeName)));
}

const locks = (): LockManager | undefined => (globalThis.navigator as Navigator | undefined)?.locks;

function clientName(): string {
  const g = globalThis as { location?: { pathname?: string } };
  return `${g.location?.pathname ?? 'page'} #${Math.random().toString(36).slice(2, 8)}`;
}

export class IndexedDbStore implements LogStore {
  private readonly db: UseStore;
  readonly location: string;
  private held = false;

  constructor(readonly name: string) {
    this.db = strictStore(`logra:${name}`, 'index');
    this.location = `indexeddb:${name}`;
  }

  private async get<T>(key: string): Promise<T | undefined> {
    return this.db('readonly', (s) => promisifyRequest(s.get(key)));
  }

  async readManifest(): Promise<Manifest | undefined> {
    const m = await this.get<unknown>(MANIFEST);
    return m === undefined ? undefined : openManifest(m, this.location);
  }

  async commit(blobs: Blob[], manifest: Manifest, drop: string[] = []): Promise<void> {
    const write = () => this.put([...blobs.map((b) => [BLOB + b.key, b.bytes] as [string, unknown]), [MANIFEST, sealManifest(manifest)]], drop.map((k) => BLOB + k));
    if (this.held) return write();
    const lock = await this.lock({ op: 'commit' });
    try {
      await write();
    } finally {
      await lock.release();
    }
  }

  async writeBlobs(blobs: Blob[]): Promise<void> {
    if (!this.held) throw new StoreError('writeBlobs stages blobs for a later commit and needs the index lock (store.lock())', this.location);
    await this.put(blobs.map((b) => [BLOB + b.key, b.bytes] as [string, unknown]));
  }

  private async put(entries: [string, unknown][], remove: string[] = []): Promise<void> {
    try {
      await this.db('readwrite', (s) => {
        for (const [k, v] of entries) s.put(v, k);
        for (const k of remove) s.delete(k);
        return promisifyRequest(s.transaction);
      });
    } catch (e) {
      const name = (e as DOMException)?.name ?? '';
      if (name === 'QuotaExceededError' || /quota/i.test(String((e as Error)?.message))) throw new StoreQuotaError(this.location, name || String(e));
      throw new StoreError(`IndexedDB write failed: ${(e as Error)?.message ?? e}`, this.location);
    }
  }

  async readBlob(key: string): Promise<Uint8Array> {
    const v = await this.get<unknown>(BLOB + key);
    if (!(v instanceof Uint8Array)) throw new BlobMissingError(this.location, key);
    return v;
  }

  async statBlob(key: string, headBytes: number): Promise<BlobStat | undefined> {
    const v = await this.get<unknown>(BLOB + key);
    return v instanceof Uint8Array ? { size: v.length, head: v.subarray(0, headBytes) } : undefined;
  }

  private async keys(): Promise<string[]> {
    return this.db('readonly', (s) => promisifyRequest(s.getAllKeys())) as Promise<string[]>;
  }

  async listBlobs(): Promise<string[]> {
    return (await this.keys()).filter((k) => typeof k === 'string' && k.startsWith(BLOB)).map((k) => k.slice(BLOB.length));
  }

  async deleteBlobs(ks: string[]): Promise<void> {
    await this.put([], ks.map((k) => BLOB + k));
  }

  /** Web Lock named after the database: exclusive across this origin's tabs and workers. */
  async lock(opts: LockOptions): Promise<IndexLock> {
    const lm = locks();
    const since = new Date().toISOString();
    const me: LockHolder = { op: opts.op, since, client: clientName() };
    if (!lm) {
      // no Web Locks (an insecure context, an old browser): this page's writers still exclude each other
      return this.localLock(me);
    }
    const name = `logra-index:${this.name}`;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const granted = (wait: boolean) =>
      new Promise<boolean>((resolveGranted, rejectGranted) => {
        lm.request(name, { mode: 'exclusive', ifAvailable: !wait, signal: wait ? signalFor(opts) : undefined }, async (lock) => {
          if (!lock) {
            resolveGranted(false);
            return;
          }
          resolveGranted(true);
          await released;
        }).catch(rejectGranted);
      });
    let got = await granted(false);
    if (!got) {
      const holder = (await this.get<LockHolder>(HOLDER).catch(() => undefined)) ?? { op: 'unknown', since: 'unknown' };
      if (opts.waitMs === 0) throw new IndexLockedError(this.location, holder);
      opts.onWait?.(holder);
      try {
        got = await granted(true);
      } catch (e) {
        if ((e as DOMException)?.name === 'AbortError') throw new IndexLockedError(this.location, holder, opts.signal?.aborted ? '; stopped waiting' : `; waited ${opts.waitMs} ms`);
        throw e;
      }
    }
    this.held = true;
    await this.put([[HOLDER, me]]).catch(() => undefined);
    return {
      holder: me,
      release: async () => {
        this.held = false;
        release();
      },
    };
  }

  private localQueue: Promise<void> = Promise.resolve();
  private async localLock(me: LockHolder): Promise<IndexLock> {
    let release!: () => void;
    const prev = this.localQueue;
    this.localQueue = new Promise<void>((r) => (release = r));
    await prev;
    this.held = true;
    return {
      holder: me,
      release: async () => {
        this.held = false;
        release();
      },
    };
  }

  async sweep(manifest: Manifest | undefined): Promise<string[]> {
    const keep = referencedKeys(manifest);
    const orphans = (await this.listBlobs()).filter((k) => !keep.has(k));
    if (orphans.length) await this.deleteBlobs(orphans);
    return orphans;
  }

  /** Deletes the whole index (holding its lock). */
  async destroy(): Promise<void> {
    const lock = await this.lock({ op: 'destroy' });
    try {
      const all = await this.keys();
      await this.put([], all.filter((k) => k !== HOLDER));
    } finally {
      await lock.release();
    }
  }
}

/** An AbortSignal for a lock request: the caller's, and a timer when waitMs is finite. */
function signalFor(opts: LockOptions): AbortSignal | undefined {
  const sigs: AbortSignal[] = [];
  if (opts.signal) sigs.push(opts.signal);
  if (opts.waitMs !== undefined && Number.isFinite(opts.waitMs)) sigs.push(AbortSignal.timeout(Math.max(1, opts.waitMs)));
  if (sigs.length === 0) return undefined;
  return sigs.length === 1 ? sigs[0] : AbortSignal.any(sigs);
}
