// In-memory store (tests, throwaway indexes). Commits copy their inputs, so callers may reuse buffers. Its lock
// excludes writers within this JavaScript realm (there is no other process to exclude).
import { BlobMissingError, IndexLockedError, referencedKeys, type Blob, type BlobStat, type IndexLock, type LockHolder, type LockOptions, type LogStore, type Manifest } from './store.ts';
import { manifestText, openManifest } from './integrity.ts';

export class MemoryStore implements LogStore {
  readonly location: string;
  private manifest?: string;
  readonly blobs = new Map<string, Uint8Array>();
  private holder?: LockHolder;
  private queue: (() => void)[] = [];

  constructor(name = 'memory') {
    this.location = `memory:${name}`;
  }

  async readManifest(): Promise<Manifest | undefined> {
    return this.manifest ? openManifest(JSON.parse(this.manifest), this.location) : undefined;
  }
  async commit(blobs: Blob[], manifest: Manifest, drop: string[] = []): Promise<void> {
    for (const b of blobs) this.blobs.set(b.key, b.bytes.slice());
    this.manifest = manifestText(manifest);
    for (const k of drop) this.blobs.delete(k);
  }
  async writeBlobs(blobs: Blob[]): Promise<void> {
    for (const b of blobs) this.blobs.set(b.key, b.bytes.slice());
  }
  async readBlob(key: string): Promise<Uint8Array> {
    const b = this.blobs.get(key);
    if (!b) throw new BlobMissingError(this.location, key);
    return b.slice();
  }
  async statBlob(key: string, headBytes: number): Promise<BlobStat | undefined> {
    const b = this.blobs.get(key);
    return b ? { size: b.length, head: b.slice(0, headBytes) } : undefined;
  }
  async listBlobs(): Promise<string[]> {
    return [...this.blobs.keys()];
  }
  async deleteBlobs(keys: string[]): Promise<void> {
    for (const k of keys) this.blobs.delete(k);
  }

  async lock(opts: LockOptions): Promise<IndexLock> {
    const me: LockHolder = { op: opts.op, since: new Date().toISOString() };
    if (this.holder) {
      if (opts.waitMs === 0) throw new IndexLockedError(this.location, this.holder);
      opts.onWait?.(this.holder);
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
    this.holder = me;
    let released = false;
    return {
      holder: me,
      release: async () => {
        if (released) return;
        released = true;
        const next = this.queue.shift();
        if (next) next(); // handed over: the waiter sets itself as the holder
        else this.holder = undefined;
      },
    };
  }

  async sweep(manifest: Manifest | undefined): Promise<string[]> {
    const keep = referencedKeys(manifest);
    const orphans = [...this.blobs.keys()].filter((k) => !keep.has(k));
    for (const k of orphans) this.blobs.delete(k);
    return orphans;
  }
}
