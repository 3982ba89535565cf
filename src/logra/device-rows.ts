// The index's rows on a WebGPU device, for scoring that stays there: each chunk is uploaded as stored (an 'f16'
// chunk as its half bit patterns, unpacked by the scoring shader itself; 'f32' as is; the quantised dtypes decoded on
// the host once) and kept resident while a byte budget lasts; beyond it chunks stream through (uploaded, scored,
// released). Scans read every chunk in order, so first come stay (least-recently-used eviction would evict every
// chunk before its next use once the index outgrows the budget). A committed chunk never changes under its key, so
// residents stay valid across appends and fits.
import type { BTensor, KernelBackend } from '../kernels/backend.ts';
import { decodeChunk, halfBitsOf, verifyChunk } from '../store/chunk.ts';
import type { LogStore, Manifest } from '../store/store.ts';
import type { ChunkCache } from './chunks.ts';

/** default device memory for resident chunks (LograIndex.deviceBytes) */
export const DEFAULT_DEVICE_BYTES = 1 << 30;

export interface DeviceChunk {
  /** [rows, cols], f16 or f32 on the device */
  t: BTensor;
  /** false: resident (the cache owns it); true: streamed, the caller disposes it */
  owned: boolean;
}

export class DeviceRows {
  private readonly map = new Map<string, { t: BTensor; bytes: number }>();
  private bytes = 0;
  /** chunks uploaded so far (a resident chunk is uploaded once) */
  uploads = 0;

  constructor(
    readonly backend: KernelBackend,
    readonly maxBytes: number,
  ) {}

  /** device bytes held by resident chunks */
  get size(): number {
    return this.bytes;
  }

  /** Chunk i of the manifest on the device (verified against its checksum when read). */
  async chunk(store: LogStore, m: Manifest, i: number, hostCache?: ChunkCache): Promise<DeviceChunk> {
    const c = m.chunks[i];
    const hit = this.map.get(c.key);
    if (hit) return { t: hit.t, owned: false };
    const cached = hostCache?.get(c.key);
    let t: BTensor, bytes: number;
    if (cached) {
      t = this.backend.tensor(cached.length === c.rows * m.cols ? cached : cached.subarray(0, c.rows * m.cols), [c.rows, m.cols]);
      bytes = c.rows * m.cols * 4;
    } else {
      const raw = await store.readBlob(c.key);
      const name = `${store.location}/${c.key}`;
      const v = verifyChunk(raw, name, { checksum: c.checksum, rows: c.rows, cols: m.cols });
      if (v.dtype === 'f16') {
        t = this.backend.tensorFromHalf(halfBitsOf(v), [c.rows, m.cols]);
        bytes = c.rows * m.cols * 2;
      } else {
        const p = v.payload.byteOffset % 4 === 0 ? v.payload : v.payload.slice();
        const data = v.dtype === 'f32' ? new Float32Array(p.buffer, p.byteOffset, c.rows * m.cols) : decodeChunk(raw, name).data;
        t = this.backend.tensor(data, [c.rows, m.cols]);
        bytes = c.rows * m.cols * 4;
      }
    }
    this.uploads++;
    if (this.bytes + bytes > this.maxBytes) return { t, owned: true };
    this.map.set(c.key, { t, bytes });
    this.bytes += bytes;
    return { t, owned: false };
  }

  /** Frees every resident chunk. */
  clear(): void {
    for (const v of this.map.values()) v.t.dispose();
    this.map.clear();
    this.bytes = 0;
  }
}
