// Reading an index's rows: every chunk in order (verified against the manifest's checksums), an in-memory cache of
// decoded chunks for repeated queries, and a few chosen rows (per-token scores of the top items).
import { decodeChunk } from '../store/chunk.ts';
import type { LogStore, Manifest } from '../store/store.ts';
import { checkAbort } from './types.ts';
import type { DecodePool } from './scan-pool.ts';
import { SharedReads } from './concurrency.ts';

/**
 * Decoded chunks kept in memory between queries, by chunk key (a committed chunk never changes under its key), up
 * to `maxBytes` of float32 rows; the least recently used go first. Reads in flight are shared: a query that needs a
 * chunk which warm() (or another query) is reading waits for that read instead of reading it again.
 */
export class ChunkCache {
  private readonly map = new Map<string, Float32Array>();
  private readonly reads = new SharedReads<string, Float32Array>();
  private bytes = 0;
  constructor(readonly maxBytes: number) {}
  /**
   * The chunk under `key`: from memory, from a read already in flight, or from `read()` (shared with any caller
   * that asks for the same key before it settles; a failed read is not kept).
   */
  load(key: string, read: () => Promise<Float32Array>): Promise<Float32Array> {
    const hit = this.get(key);
    if (hit) return Promise.resolve(hit);
    return this.reads.run(key, () => read().then((d) => {
      this.set(key, d);
      return d;
    }));
  }
  get(key: string): Float32Array | undefined {
    const d = this.map.get(key);
    if (d) {
      this.map.delete(key);
      this.map.set(key, d);
    }
    return d;
  }
  set(key: string, data: Float32Array): void {
    if (data.byteLength > this.maxBytes || this.map.has(key)) return;
    this.map.set(key, data);
    this.bytes += data.byteLength;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
  }
  get size(): number {
    return this.bytes;
  }
}

/** Decodes (and verifies) chunk i of the manifest: in a decode pool's worker when given one, else here. */
export function readChunk(store: LogStore, m: Manifest, i: number, cache?: ChunkCache, pool?: DecodePool): Promise<Float32Array> {
  const c = m.chunks[i];
  const name = `${store.location}/${c.key}`;
  const read = async () => {
    const bytes = await store.readBlob(c.key);
    return pool ? pool.decode({ bytes, name, checksum: c.checksum, rows: c.rows, cols: m.cols }) : decodeChunk(bytes, name, { checksum: c.checksum, rows: c.rows, cols: m.cols }).data;
  };
  return cache ? cache.load(c.key, read) : read();
}

/**
 * Reads and verifies every chunk in order (or takes it from `cache`, or waits for a read of it already in flight
 * there), calling fn with its rows. Chunks are read ahead of fn: with a decode pool (scan-pool.ts, Node) up to
 * `pool.size + 1`, decoded in worker threads; without one, the next chunk (its download overlaps fn and the decoding
 * of the current one).
 */
export async function forEachChunk(store: LogStore, m: Manifest, fn: (data: Float32Array, rows: number, start: number, index: number) => Promise<void>, signal?: AbortSignal, cache?: ChunkCache, pool?: DecodePool): Promise<void> {
  let start = 0;
  const ahead = pool ? pool.size + 1 : 1;
  const inflight: Promise<Float32Array>[] = [];
  const fetch = (i: number): Promise<Float32Array> => readChunk(store, m, i, cache, pool);
  try {
    for (let i = 0; i < m.chunks.length; i++) {
      checkAbort(signal, 'reading the index');
      while (inflight.length <= ahead && i + inflight.length < m.chunks.length) {
        const p = fetch(i + inflight.length);
        p.catch(() => undefined); // a chunk read ahead may fail before its turn: it is rethrown when awaited
        inflight.push(p);
      }
      const data = await inflight.shift()!;
      await fn(data, m.chunks[i].rows, start, i);
      start += m.chunks[i].rows;
    }
  } finally {
    inflight.length = 0; // chunks read ahead of a failure or an abort settle unobserved
  }
}

/**
 * Like forEachChunk, but consecutive chunks are joined into blocks of at least `minBytes` of float32 rows (a chunk
 * that large alone passes through as it is): one GEMM per block instead of per chunk, so a wide query matrix (GPT-2's
 * 49 layers at k 64 x 64: 200,704 values a row) is read once per block, not once per few-row chunk.
 * fn gets the block's rows, its first row and the index of its last chunk.
 */
export async function forEachRowBlock(store: LogStore, m: Manifest, minBytes: number, fn: (data: Float32Array, rows: number, start: number, lastChunk: number) => Promise<void>, signal?: AbortSignal, cache?: ChunkCache, pool?: DecodePool): Promise<void> {
  const cols = m.cols;
  const rowBytes = Math.max(cols * 4, 1);
  let parts: Float32Array[] = [], rows = 0, start = 0;
  const emit = async (last: number) => {
    if (!rows) return;
    let data: Float32Array;
    if (parts.length === 1) data = parts[0];
    else {
      data = new Float32Array(rows * cols);
      let o = 0;
      for (const p of parts) {
        data.set(p, o);
        o += p.length;
      }
    }
    await fn(data, rows, start, last);
    start += rows;
    parts = [];
    rows = 0;
  };
  await forEachChunk(store, m, async (data, n, _s, i) => {
    parts.push(data.length === n * cols ? data : data.subarray(0, n * cols));
    rows += n;
    if (rows * rowBytes >= minBytes || i === m.chunks.length - 1) await emit(i);
  }, signal, cache, pool);
}

/** The full rows [rows.length, cols] of the given row numbers (ascending or not), reading only their chunks. */
export async function readRows(store: LogStore, m: Manifest, rows: number[], cache?: ChunkCache): Promise<Float32Array> {
  const cols = m.cols;
  const out = new Float32Array(rows.length * cols);
  const order = rows.map((r, i) => [r, i] as const).sort((a, b) => a[0] - b[0]);
  let start = 0, j = 0;
  for (let i = 0; i < m.chunks.length && j < order.length; i++) {
    const end = start + m.chunks[i].rows;
    if (order[j][0] < end) {
      const data = await readChunk(store, m, i, cache);
      for (; j < order.length && order[j][0] < end; j++) out.set(data.subarray((order[j][0] - start) * cols, (order[j][0] - start + 1) * cols), order[j][1] * cols);
    }
    start = end;
  }
  return out;
}
