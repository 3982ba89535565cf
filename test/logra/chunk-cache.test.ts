// ChunkCache.load shares reads in flight (warm() and a query asking for the same chunk read it once), keeps what it
// read, and forgets a failed read so the next caller retries; forEachChunk without a decode pool reads the next chunk
// while fn handles the current one.
import { describe, expect, it } from 'vitest';
import { ChunkCache, forEachChunk } from '../../src/logra/chunks.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { encodeChunk } from '../../src/store/chunk.ts';
import type { Manifest } from '../../src/store/store.ts';

describe('ChunkCache.load', () => {
  it('one read for callers that ask while it is in flight; then from memory; a failure is not kept', async () => {
    const cache = new ChunkCache(1 << 20);
    let reads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const read = async () => {
      reads++;
      await gate;
      return new Float32Array([1, 2, 3]);
    };
    const a = cache.load('k', read), b = cache.load('k', read);
    release();
    const [x, y] = await Promise.all([a, b]);
    expect(reads).toBe(1);
    expect(x).toBe(y);
    expect(await cache.load('k', read)).toBe(x);
    expect(reads).toBe(1);

    let fails = 0;
    const bad = async (): Promise<Float32Array> => {
      fails++;
      throw new Error('network down');
    };
    await expect(cache.load('j', bad)).rejects.toThrow('network down');
    await expect(cache.load('j', bad)).rejects.toThrow('network down');
    expect(fails).toBe(2);
    expect(Array.from(await cache.load('j', read))).toEqual([1, 2, 3]);
  });
});

describe('forEachChunk without a decode pool', () => {
  it('asks for chunk i + 1 before fn has finished with chunk i, and gives every row in order', async () => {
    const cols = 2, store = new MemoryStore('ahead');
    const chunks = [0, 1, 2].map((i) => ({ key: `chunk-${i}`, ...encodeChunk(new Float32Array([i, i, i, i]), 2, cols, 'f32') }));
    const m = { cols, chunks: chunks.map((c) => ({ key: c.key, rows: 2, checksum: c.checksum, bytes: c.bytes.length })) } as unknown as Manifest;
    await store.writeBlobs(chunks.map((c) => ({ key: c.key, bytes: c.bytes })));
    const log: string[] = [];
    const spy = new Proxy(store, {
      get(t, p, r) {
        const v = Reflect.get(t, p, r);
        if (p === 'readBlob') return (k: string) => (log.push(`read ${k}`), (v as MemoryStore['readBlob']).call(t, k));
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const seen: number[] = [];
    await forEachChunk(spy, m, async (d, rows, start, i) => {
      log.push(`fn ${i}`);
      seen.push(...d.subarray(0, rows * cols), start);
    });
    expect(log.indexOf('read chunk-1')).toBeLessThan(log.indexOf('fn 0'));
    expect(log.indexOf('read chunk-2')).toBeLessThan(log.indexOf('fn 1'));
    expect(seen).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 4]);
  });
});
