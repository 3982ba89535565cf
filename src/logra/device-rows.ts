// The index's rows on a WebGPU device, for scoring that stays there. Consecutive chunks are joined into blocks of at
// least DEVICE_BLOCK_BYTES (one scoring dispatch per block, not per few-row chunk: a million rows in small chunks
// would otherwise be a hundred thousand dispatches per query). A block of 'f16' chunks is uploaded as its half bit
// patterns, unpacked by the scoring shader itself; 'f32' as is; the quantised dtypes are decoded on the host first.
// Blocks stay resident while a byte budget lasts; beyond it they stream through (uploaded, scored, released). Scans
// read every block in order, so first come stay (least-recently-used eviction would evict every block before its
// next use once the index outgrows the budget). Blocks are formed greedily from the first chunk, so an append changes
// only the last block, and a committed chunk never changes under its key: residents stay valid across appends and
// fits.
import type { BTensor, KernelBackend } from '../kernels/backend.ts';
import { decodeChunk, halfBitsOf, verifyChunk } from '../store/chunk.ts';
import type { LogStore, Manifest } from '../store/store.ts';
import type { ChunkCache } from './chunks.ts';
import { checkAbort } from './types.ts';

/** default device memory for resident blocks (LograIndex.deviceBytes) */
export const DEFAULT_DEVICE_BYTES = 1 << 30;
/** a block joins chunks until it holds this many bytes as stored on the device */
export const DEVICE_BLOCK_BYTES = 64 * 2 ** 20;

export class DeviceRows {
  private readonly map = new Map<string, { t: BTensor; bytes: number }>();
  /** blocks being uploaded: a scan that reaches one waits for that upload (warm() and a query running together) */
  private readonly uploading = new Map<string, Promise<void>>();
  private bytes = 0;
  /** blocks uploaded so far (a resident block is uploaded once) */
  uploads = 0;

  constructor(
    readonly backend: KernelBackend,
    readonly maxBytes: number,
    readonly blockBytes = DEVICE_BLOCK_BYTES,
  ) {}

  /** device bytes held by resident blocks */
  get size(): number {
    return this.bytes;
  }

  /**
   * Every row of the index on the device, block by block in row order: fn gets the block [rows, cols] (f16 or f32),
   * its first row and the index of its last chunk. Chunks are verified against their checksums when read.
   */
  async forEachBlock(store: LogStore, m: Manifest, fn: (t: BTensor, rows: number, start: number, lastChunk: number) => Promise<void>, signal?: AbortSignal, hostCache?: ChunkCache): Promise<void> {
    const f16 = m.settings.dtype === 'f16'; // every chunk of an index has the index's dtype (checked when read)
    let first = 0, start = 0;
    while (first < m.chunks.length) {
      checkAbort(signal, 'reading the index');
      // the block: chunks first..last, greedily up to blockBytes (stored size on the device)
      let last = first, rows = 0, bytes = 0;
      for (; last < m.chunks.length; last++) {
        rows += m.chunks[last].rows;
        bytes = rows * m.cols * (f16 ? 2 : 4);
        if (bytes >= this.blockBytes) break;
      }
      if (last === m.chunks.length) last--;
      const key = m.chunks.slice(first, last + 1).map((c) => c.key).join('|');
      let hit = this.map.get(key);
      const pending = hit ? undefined : this.uploading.get(key);
      if (pending) {
        await pending;
        hit = this.map.get(key);
      }
      let owned = false;
      if (!hit) {
        // only a block that will stay resident is shared (one past the budget belongs to the scan that uploads it);
        // it is registered before the shared promise settles, so a waiting scan finds it
        const resident = this.bytes + bytes <= this.maxBytes;
        const up = this.upload(store, m, first, last, rows, f16, hostCache).then((t) => {
          this.uploads++;
          const e = { t, bytes };
          if (!resident || this.bytes + bytes > this.maxBytes) return { e, owned: true };
          this.map.set(key, e);
          this.bytes += bytes;
          return { e, owned: false };
        });
        if (resident) {
          // a failed upload is its own scan's error; a waiting scan then uploads the block itself
          this.uploading.set(key, up.then(() => undefined, () => undefined).finally(() => this.uploading.delete(key)));
        }
        const r = await up;
        hit = r.e;
        owned = r.owned;
      }
      try {
        await fn(hit.t, rows, start, last);
      } finally {
        if (owned) hit.t.dispose();
      }
      start += rows;
      first = last + 1;
    }
  }

  private async upload(store: LogStore, m: Manifest, first: number, last: number, rows: number, f16: boolean, hostCache?: ChunkCache): Promise<BTensor> {
    const cols = m.cols;
    const half = f16 ? new Uint16Array(rows * cols) : undefined;
    const full = f16 ? undefined : new Float32Array(rows * cols);
    let o = 0;
    for (let i = first; i <= last; i++) {
      const c = m.chunks[i];
      const n = c.rows * cols;
      const cached = full ? hostCache?.get(c.key) : undefined;
      if (cached) full!.set(cached.subarray(0, n), o);
      else {
        const raw = await store.readBlob(c.key);
        const name = `${store.location}/${c.key}`;
        const v = verifyChunk(raw, name, { checksum: c.checksum, rows: c.rows, cols });
        if (half) {
          if (v.dtype !== 'f16') throw new Error(`${name}: a ${v.dtype} chunk in an f16 index`);
          half.set(halfBitsOf(v), o);
        } else full!.set(decodeChunk(raw, name).data, o);
      }
      o += n;
    }
    return half ? this.backend.tensorFromHalf(half, [rows, cols]) : this.backend.tensor(full!, [rows, cols]);
  }

  /** Frees every resident block. */
  clear(): void {
    for (const v of this.map.values()) v.t.dispose();
    this.map.clear();
    this.bytes = 0;
  }
}
