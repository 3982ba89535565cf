// In-memory store (tests, throwaway indexes). Commits copy their inputs, so callers may reuse buffers.
import { StoreError, type Blob, type LogStore, type Manifest } from './store.ts';

export class MemoryStore implements LogStore {
  readonly location: string;
  private manifest?: string;
  readonly blobs = new Map<string, Uint8Array>();

  constructor(name = 'memory') {
    this.location = `memory:${name}`;
  }

  async readManifest(): Promise<Manifest | undefined> {
    return this.manifest ? (JSON.parse(this.manifest) as Manifest) : undefined;
  }
  async commit(blobs: Blob[], manifest: Manifest): Promise<void> {
    for (const b of blobs) this.blobs.set(b.key, b.bytes.slice());
    this.manifest = JSON.stringify(manifest);
  }
  async writeBlobs(blobs: Blob[]): Promise<void> {
    for (const b of blobs) this.blobs.set(b.key, b.bytes.slice());
  }
  async readBlob(key: string): Promise<Uint8Array> {
    const b = this.blobs.get(key);
    if (!b) throw new StoreError(`blob ${JSON.stringify(key)} is missing`, this.location);
    return b.slice();
  }
  async listBlobs(): Promise<string[]> {
    return [...this.blobs.keys()];
  }
  async deleteBlobs(keys: string[]): Promise<void> {
    for (const k of keys) this.blobs.delete(k);
  }
}
