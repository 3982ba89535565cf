// Decoding chunks in worker threads while the main thread scores (Node only; Deno and browsers decode on the
// calling thread). A scan (chunks.ts forEachChunk) reads each chunk's bytes on the main thread (file reads are
// asynchronous already), hands them to a worker that verifies the checksums and decodes the rows to float32
// (store/chunk.ts decodeChunk, the same code as on the main thread), and takes the chunks back in order, keeping up
// to `ahead` chunks in flight: checksums and f16/int8 decoding overlap the scoring GEMMs.
// No static import of a Node built-in: this module is part of the runtime-neutral graph, and loads worker_threads
// only when a pool is made (in Node).
import { jsRuntime } from '../gpu/runtime.ts';
import { ChunkError } from '../store/chunk.ts';

interface NodeWorker {
  postMessage(v: unknown, transfer?: ArrayBuffer[]): void;
  on(ev: 'message', f: (v: { id?: number; data?: Float32Array; error?: { name: string; message: string }; ready?: boolean }) => void): void;
  on(ev: 'error', f: (e: Error) => void): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

export interface DecodeJob {
  bytes: Uint8Array;
  name: string;
  checksum: number;
  rows: number;
  cols: number;
}

/** Worker threads that decode chunks; `decode` resolves with the float32 rows (or rejects with the ChunkError). */
export class DecodePool {
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (d: Float32Array) => void; reject: (e: Error) => void }>();
  private rr = 0;
  private failed?: Error;

  private constructor(private readonly workers: NodeWorker[]) {
    for (const w of workers) {
      w.on('message', (m) => {
        if (m.id === undefined) return;
        const p = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        this.idle();
        if (!p) return;
        if (m.error) {
          const e = new ChunkError(m.error.message);
          e.name = m.error.name;
          p.reject(e);
        } else p.resolve(m.data!);
      });
      w.on('error', (e) => {
        this.failed = e;
        for (const p of this.waiting.values()) p.reject(e);
        this.waiting.clear();
        this.idle();
      });
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * `threads` workers ('auto': as many as the machine has cores, at most 4). Node only: undefined in Deno and
   * browsers, or when threads < 1.
   */
  static async create(threads: number | 'auto'): Promise<DecodePool | undefined> {
    if (jsRuntime() !== 'node') return undefined;
    if (threads === 'auto') {
      const os = 'node:os';
      const { availableParallelism } = (await import(/* @vite-ignore */ os)) as { availableParallelism: () => number };
      threads = Math.min(4, availableParallelism());
    }
    if (threads < 1) return undefined;
    const spec = 'node:worker_threads';
    const { Worker } = (await import(/* @vite-ignore */ spec)) as { Worker: new (code: string, o: object) => NodeWorker };
    // the sources (tsx, vitest) run the worker's TypeScript through tsx's loader; the built package runs its .js
    const ts = import.meta.url.endsWith('.ts');
    const url = new URL(ts ? './scan-worker.ts' : './scan-worker.js', import.meta.url).href;
    let tsx: string | undefined;
    if (ts) {
      const mod = 'node:module', urlMod = 'node:url';
      const { createRequire } = (await import(/* @vite-ignore */ mod)) as { createRequire: (u: string) => { resolve(s: string, o?: { paths?: string[] }): string } };
      const { pathToFileURL } = (await import(/* @vite-ignore */ urlMod)) as { pathToFileURL: (p: string) => URL };
      // the ESM build of tsx's API (its CommonJS one registers hooks the worker cannot resolve)
      const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
      tsx = pathToFileURL(cjs.replace(/index\.cjs$/, 'index.mjs')).href;
    }
    const boot = `const { workerData } = require('node:worker_threads');
      (workerData.tsx ? import(workerData.tsx).then((m) => m.register()) : Promise.resolve()).then(() => import(workerData.url));`;
    const workers: NodeWorker[] = [];
    for (let i = 0; i < threads; i++) {
      workers.push(new Worker(boot, { eval: true, workerData: { url, tsx } }));
    }
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      w.on('message', (m) => m.ready && resolve());
      w.on('error', reject);
    })));
    const pool = new DecodePool(workers);
    pool.idle();
    return pool;
  }

  /**
   * Idle workers do not keep the process alive (a script that never disposed its index still exits); workers with
   * jobs in flight do (a script awaiting a scan is not cut short). Called after every listener is attached: attaching
   * a 'message' listener refs a worker again.
   */
  private idle(): void {
    if (!this.waiting.size) for (const w of this.workers) w.unref();
  }

  decode(j: DecodeJob): Promise<Float32Array> {
    if (this.failed) return Promise.reject(this.failed);
    if (!this.waiting.size) for (const w of this.workers) w.ref();
    const id = this.next++;
    const w = this.workers[this.rr++ % this.workers.length];
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // the bytes move to the worker when they own their buffer; a view into a larger buffer is copied
      const own = j.bytes.byteOffset === 0 && j.bytes.byteLength === j.bytes.buffer.byteLength;
      const bytes = own ? j.bytes : j.bytes.slice();
      w.postMessage({ id, ...j, bytes }, [bytes.buffer as ArrayBuffer]);
    });
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
