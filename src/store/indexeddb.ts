// IndexedDB store (browser) through idb-keyval: one object store per index; a commit is one setMany call, i.e. one
// readwrite transaction holding the new chunks and the manifest, which IndexedDB applies all-or-nothing.
import { createStore, del, delMany, get, keys, setMany, type UseStore } from 'idb-keyval';
import { StoreError, StoreQuotaError, validateManifest, type Blob, type LogStore, type Manifest } from './store.ts';

const MANIFEST = 'manifest';
const BLOB = 'blob:';

export class IndexedDbStore implements LogStore {
  private readonly db: UseStore;
  readonly location: string;

  constructor(readonly name: string) {
    this.db = createStore(`logra:${name}`, 'index');
    this.location = `indexeddb:${name}`;
  }

  async readManifest(): Promise<Manifest | undefined> {
    const m = await get(MANIFEST, this.db);
    return m === undefined ? undefined : validateManifest(m, this.location);
  }

  async commit(blobs: Blob[], manifest: Manifest): Promise<void> {
    await this.put([...blobs.map((b) => [BLOB + b.key, b.bytes] as [string, unknown]), [MANIFEST, manifest]]);
  }

  async writeBlobs(blobs: Blob[]): Promise<void> {
    await this.put(blobs.map((b) => [BLOB + b.key, b.bytes] as [string, unknown]));
  }

  private async put(entries: [string, unknown][]): Promise<void> {
    try {
      await setMany(entries, this.db);
    } catch (e) {
      const name = (e as DOMException)?.name ?? '';
      if (name === 'QuotaExceededError' || /quota/i.test(String((e as Error)?.message))) throw new StoreQuotaError(this.location, name || String(e));
      throw new StoreError(`IndexedDB write failed: ${(e as Error)?.message ?? e}`, this.location);
    }
  }

  async readBlob(key: string): Promise<Uint8Array> {
    const v = await get(BLOB + key, this.db);
    if (!(v instanceof Uint8Array)) throw new StoreError(`blob ${JSON.stringify(key)} is missing`, this.location);
    return v;
  }

  async listBlobs(): Promise<string[]> {
    return (await keys<string>(this.db)).filter((k) => typeof k === 'string' && k.startsWith(BLOB)).map((k) => k.slice(BLOB.length));
  }

  async deleteBlobs(ks: string[]): Promise<void> {
    await delMany(ks.map((k) => BLOB + k), this.db);
  }

  /** Deletes the whole index. */
  async destroy(): Promise<void> {
    for (const k of await keys(this.db)) await del(k, this.db);
  }
}
