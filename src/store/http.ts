// Read-only store over HTTP in the file-system layout (BASE/manifest.json, BASE/blobs/<key>.bin): a prebuilt index
// shipped with a web page. copyStore() moves an index between stores (e.g. HTTP -> IndexedDB on a first visit),
// chunk by chunk with its checksums verified, committing the manifest last so an interrupted copy resumes cleanly.
import { BlobMissingError, StoreError, StoreReadOnlyError, withLock, type Blob, type BlobStat, type LogStore, type Manifest } from './store.ts';
import { decodeChunk } from './chunk.ts';
import { checkBlob, openManifest } from './integrity.ts';

const KEY = /^[A-Za-z0-9._-]{1,128}$/;

export class HttpStore implements LogStore {
  readonly location: string;
  constructor(private readonly base: string, private readonly init?: RequestInit) {
    this.location = base.endsWith('/') ? base : `${base}/`;
  }

  private async get(path: string, headers?: Record<string, string>): Promise<Response | undefined> {
    const url = new URL(path, new URL(this.location, globalThis.location?.href ?? 'http://127.0.0.1/'));
    let init = this.init;
    if (headers) {
      const h = new Headers(this.init?.headers);
      for (const [k, v] of Object.entries(headers)) h.set(k, v);
      init = { ...this.init, headers: h };
    }
    const r = await fetch(url, init);
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
    return openManifest(json, this.location);
  }

  async readBlob(key: string): Promise<Uint8Array> {
    if (!KEY.test(key)) throw new StoreError(`invalid blob key ${JSON.stringify(key)}`, this.location);
    const r = await this.get(`blobs/${key}.bin`);
    if (!r) throw new BlobMissingError(this.location, key, ` (blobs/${key}.bin)`);
    return new Uint8Array(await r.arrayBuffer());
  }

  /**
   * A blob's size and first bytes with one ranged request (206 with Content-Range: only the head is downloaded); a
   * server that ignores ranges (200) or refuses the range (416: an empty blob) costs a whole read.
   */
  async statBlob(key: string, headBytes: number): Promise<BlobStat | undefined> {
    if (!KEY.test(key)) throw new StoreError(`invalid blob key ${JSON.stringify(key)}`, this.location);
    // undefined: no such blob; null: the range was refused
    const r = await this.get(`blobs/${key}.bin`, { Range: `bytes=0-${Math.max(1, headBytes) - 1}` }).catch((e: unknown) => {
      if (e instanceof StoreError && /: 416 /.test(e.message)) return null;
      throw e;
    });
    if (r === undefined) return undefined;
    if (r?.status === 206) {
      const size = Number(/\/(\d+)\s*$/.exec(r.headers.get('content-range') ?? '')?.[1]);
      const head = new Uint8Array(await r.arrayBuffer());
      if (Number.isSafeInteger(size)) return { size, head: head.subarray(0, headBytes) };
    }
    // the whole blob: the server ignored the range (this response holds it), refused it (an empty blob), or left out
    // the total size
    const b = r && r.status !== 206 ? new Uint8Array(await r.arrayBuffer()) : await this.readBlob(key).catch((e: unknown) => {
      if (e instanceof BlobMissingError) return undefined;
      throw e;
    });
    return b && { size: b.length, head: b.subarray(0, headBytes) };
  }

  async listBlobs(): Promise<string[]> {
    const m = await this.readManifest();
    return m ? [...m.chunks.map((c) => c.key), ...Object.values(m.blobs).map((b) => b.key)] : [];
  }

  private readOnly(): never {
    throw new StoreReadOnlyError(this.location, 'an index served over HTTP is read-only');
  }
  async commit(): Promise<void> {
    this.readOnly();
  }
  async writeBlobs(): Promise<void> {
    this.readOnly();
  }
  async deleteBlobs(): Promise<void> {
    this.readOnly();
  }
  async lock(): Promise<never> {
    this.readOnly();
  }
  async sweep(): Promise<string[]> {
    this.readOnly();
  }
}

/**
 * Copies the index in `from` into `to` (which must be empty or hold an earlier partial copy of the same index),
 * verifying every chunk's and blob's checksum. Blobs go in groups of about `groupBytes`; the manifest is committed
 * last. Holds `to`'s writer lock throughout.
 */
export async function copyStore(from: LogStore, to: LogStore, opts: { groupBytes?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<Manifest> {
  return withLock(to, { op: 'copy' }, () => copyLocked(from, to, opts));
}

async function copyLocked(from: LogStore, to: LogStore, opts: { groupBytes?: number; onProgress?: (done: number, total: number) => void }): Promise<Manifest> {
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
  const roles = new Map(Object.entries(m.blobs).map(([role, b]) => [b.key, { role, b }]));
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
      const r = roles.get(key);
      if (r) checkBlob(from.location, r.role, r.b, bytes);
      pending.push({ key, bytes });
      size += bytes.length;
      if (size >= group) await flush();
    }
    opts.onProgress?.(++done, keys.length);
  }
  await to.commit(pending, m);
  await to.sweep(m);
  return m;
}
