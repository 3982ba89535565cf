// Read-only store over HTTP in the file-system layout (BASE/manifest.json, BASE/blobs/<key>.bin): a prebuilt index
// shipped with a web page. copyStore() moves an index between stores (e.g. HTTP -> IndexedDB on a first visit),
// chunk by chunk with its checksums verified, committing the manifest last so an interrupted copy resumes cleanly.
import { StoreError, sweepOrphans, validateManifest, type Blob, type LogStore, type Manifest } from './store.ts';
import { decodeChunk } from './chunk.ts';

const KEY = /^[A-Za-z0-9._-]{1,128}$/;

export class HttpStore implements LogStore {
  readonly location: string;
  constructor(private readonly base: string, private readonly init?: RequestInit) {
    this.location = base.endsWith('/') ? base : `${base}/`;
  }

  private async get(path: string): Promise<Response | undefined> {
    const url = new URL(path, new URL(this.location, globalThis.location?.href ?? 'http://127.0.0.1/'));
    const r = await fetch(url, this.init);
    if (r.status === 404) return undefined;
    if (!r.ok) throw new StoreError(`GET ${url}: ${r.status} ${r.statusText}`, this.location);
    return r;
  }

  async readManifest(): Promise<Manifest | undefined> {
    const r = await this.get('manifest.json');
    if (!r) return undefined;
    let json: unknown;
    try {
      json = await r.json();
    } catch (e) {
      throw new StoreError(`manifest.json is not valid JSON (${(e as Error).message})`, this.location);
    }
    return validateManifest(json, this.location);
  }

  async readBlob(key: string): Promise<Uint8Array> {
    if (!KEY.test(key)) throw new StoreError(`invalid blob key ${JSON.stringify(key)}`, this.location);
    const r = await this.get(`blobs/${key}.bin`);
    if (!r) throw new StoreError(`blob ${JSON.stringify(key)} is missing (blobs/${key}.bin)`, this.location);
    return new Uint8Array(await r.arrayBuffer());
  }

  async listBlobs(): Promise<string[]> {
    const m = await this.readManifest();
    return m ? [...m.chunks.map((c) => c.key), ...Object.values(m.blobs).map((b) => b.key)] : [];
  }

  async commit(): Promise<void> {
    throw new StoreError('this store is read-only (served over HTTP)', this.location);
  }
  async writeBlobs(): Promise<void> {
    throw new StoreError('this store is read-only (served over HTTP)', this.location);
  }
  async deleteBlobs(): Promise<void> {
    throw new StoreError('this store is read-only (served over HTTP)', this.location);
  }
}

/**
 * Copies the index in `from` into `to` (which must be empty or hold an earlier partial copy of the same index),
 * verifying every chunk's checksum. Blobs go in groups of about `groupBytes`; the manifest is committed last.
 */
export async function copyStore(from: LogStore, to: LogStore, opts: { groupBytes?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<Manifest> {
  const m = await from.readManifest();
  if (!m) throw new StoreError('no index to copy (no manifest)', from.location);
  const existing = await to.readManifest();
  if (existing && !existing.state.copying) {
    if (existing.updated === m.updated && existing.chunks.length === m.chunks.length) return existing;
    throw new StoreError(`already holds a different index (updated ${existing.updated}); clear it first`, to.location);
  }
  const have = new Set(await to.listBlobs());
  const keys = [...m.chunks.map((c) => c.key), ...Object.values(m.blobs).map((b) => b.key)];
  const checks = new Map(m.chunks.map((c) => [c.key, c]));
  const group = opts.groupBytes ?? 8 * 2 ** 20;
  let pending: Blob[] = [];
  let size = 0, done = 0;
  // stores only expose commit(): groups of blobs go with an interim manifest that references no chunks and says
  // `copying` (a reopened copy resumes from the blobs already there); the real manifest comes last
  const interim: Manifest = { ...m, chunks: [], blobs: {}, state: { ...m.state, copying: true } };
  const flush = async () => {
    if (pending.length) await to.commit(pending, interim);
    pending = [];
    size = 0;
  };
  for (const key of keys) {
    if (!have.has(key)) {
      const bytes = await from.readBlob(key);
      const c = checks.get(key);
      if (c) decodeChunk(bytes, `${from.location}${key}`, { checksum: c.checksum, rows: c.rows, cols: m.cols });
      pending.push({ key, bytes });
      size += bytes.length;
      if (size >= group) await flush();
    }
    opts.onProgress?.(++done, keys.length);
  }
  await to.commit(pending, m);
  await sweepOrphans(to, m);
  return m;
}
