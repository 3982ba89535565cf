// Reuses GPU buffers by size class and usage: kernels allocate scratch space per call, and creating/destroying
// buffers is slow on every implementation. Sizes are rounded up to quarter-octave classes (<= 25% waste) and to
// 16 bytes (vec4 loads may touch the padding); at most `maxPooledBytes` are kept idle.

export interface PoolStats {
  live: number;
  liveBytes: number;
  idle: number;
  idleBytes: number;
  created: number;
  reused: number;
}

/** Size class for a request: multiple of 16 bytes, and above 4 KiB a multiple of a quarter of its power of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 4096) return b;
  const step = 2 ** (Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private idle = new Map<string, GPUBuffer[]>();
  private idleBytes = 0;
  private live = new Set<GPUBuffer>();
  private liveBytes = 0;
  private created = 0;
  private reused = 0;

  constructor(
    private readonly device: GPUDevice,
    /** largest buffer the device allows (maxBufferSize) */
    private readonly maxBufferSize: number,
    readonly maxPooledBytes = 256 * 2 ** 20,
  ) {}

  /** A buffer of at least `bytes` bytes (contents undefined) with exactly `usage`. */
  acquire(bytes: number, usage: number, label?: string): GPUBuffer {
    let size = sizeClass(bytes);
    if (size > this.maxBufferSize) size = Math.ceil(bytes / 16) * 16; // exact fit near the limit
    const key = `${usage}:${size}`;
    const list = this.idle.get(key);
    let buf = list?.pop();
    if (buf) {
      this.idleBytes -= size;
      this.reused++;
    } else {
      buf = this.device.createBuffer({ size, usage, label });
      this.created++;
    }
    this.live.add(buf);
    this.liveBytes += size;
    return buf;
  }

  /** Gives a buffer back; it may be handed out again for work submitted later (queue order keeps this safe). */
  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) return; // not ours, or released twice
    this.liveBytes -= buf.size;
    if (this.idleBytes + buf.size > this.maxPooledBytes) {
      buf.destroy();
      return;
    }
    const key = `${buf.usage}:${buf.size}`;
    let list = this.idle.get(key);
    if (!list) this.idle.set(key, (list = []));
    list.push(buf);
    this.idleBytes += buf.size;
  }

  /** Destroys the idle buffers (live ones stay with their owners). */
  trim(): void {
    for (const list of this.idle.values()) for (const b of list) b.destroy();
    this.idle.clear();
    this.idleBytes = 0;
  }

  stats(): PoolStats {
    let idle = 0;
    for (const l of this.idle.values()) idle += l.length;
    return { live: this.live.size, liveBytes: this.liveBytes, idle, idleBytes: this.idleBytes, created: this.created, reused: this.reused };
  }

  destroyAll(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.liveBytes = 0;
  }
}
