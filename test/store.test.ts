import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { encodeChunk, decodeChunk, ChunkError, toHalf, fromHalf, crc32 } from '../src/store/chunk.ts';
import { FsStore } from '../src/store/fs.ts';
import { MemoryStore } from '../src/store/memory.ts';
import { checkSettings, sweepOrphans, StoreMismatchError, StoreError, MANIFEST_VERSION, type Manifest, type IndexSettings } from '../src/store/store.ts';

const settings: IndexSettings = {
  modelSha256: 'ab'.repeat(32), task: 'causal-lm', layers: [{ name: '/h.0/mlp/c_fc/Gemm', dIn: 8, dOut: 32, kIn: 4, kOut: 2 }],
  projection: 'random', seed: 1, dtype: 'f32', hessian: 'raw', reduction: 'sum',
};
function manifest(chunks: Manifest['chunks']): Manifest {
  return { format: 'logra-index', version: MANIFEST_VERSION, settings, cols: 8, chunks, blobs: {}, state: {}, created: 'now', updated: 'now' };
}

describe('chunk format', () => {
  it('round-trips f32 exactly and f16 to half precision', () => {
    const data = Float32Array.from({ length: 3 * 5 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3));
    const a = encodeChunk(data, 3, 5, 'f32');
    expect(decodeChunk(a.bytes, 'c0', { checksum: a.checksum }).data).toEqual(data);
    const b = encodeChunk(data, 3, 5, 'f16');
    expect(b.bytes.length).toBe(24 + 30);
    const back = decodeChunk(b.bytes, 'c1').data;
    data.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -24));
  });

  it('int8 and sign rows: sizes, per-group scales, errors within a half step, groups never cross rows', () => {
    const rows = 3, cols = 150; // groups of 64: 64 + 64 + 22 per row
    const r = (i: number) => Math.sin(i * 1.7) * 10 ** ((i % 5) - 2);
    const data = Float32Array.from({ length: rows * cols }, (_, i) => (Math.floor(i / cols) === 1 ? 1000 * r(i) : r(i)));
    const q = encodeChunk(data, rows, cols, 'int8');
    expect(q.bytes.length).toBe(24 + rows * 3 * 4 + rows * cols);
    const back = decodeChunk(q.bytes, 'int8', { checksum: q.checksum }).data;
    for (let row = 0; row < rows; row++)
      for (let g = 0; g < 3; g++) {
        const a = row * cols + g * 64, b = row * cols + Math.min(cols, (g + 1) * 64);
        let max = 0;
        for (let i = a; i < b; i++) max = Math.max(max, Math.abs(data[i]));
        // each value within half a quantisation step of its group's scale max/127 (scale per group, not per row)
        for (let i = a; i < b; i++) expect(Math.abs(back[i] - data[i])).toBeLessThanOrEqual((max / 127) * 0.5 * (1 + 1e-6));
      }
    const sgn = encodeChunk(data, rows, cols, 'sign');
    expect(sgn.bytes.length).toBe(24 + rows * 3 * 4 + rows * Math.ceil(cols / 8));
    const sb = decodeChunk(sgn.bytes, 'sign').data;
    for (let row = 0; row < rows; row++)
      for (let g = 0; g < 3; g++) {
        const a = row * cols + g * 64, b = row * cols + Math.min(cols, (g + 1) * 64);
        let mean = 0;
        for (let i = a; i < b; i++) mean += Math.abs(data[i]);
        mean /= b - a;
        for (let i = a; i < b; i++) expect(Math.abs(sb[i] - (data[i] >= 0 ? mean : -mean))).toBeLessThanOrEqual(mean * 1e-6); // scale stored as float32
      }
    // a flipped bit in the payload is caught; non-finite values are refused at encode
    const bad = sgn.bytes.slice();
    bad[bad.length - 1] ^= 1;
    expect(() => decodeChunk(bad, 'flipped')).toThrow(ChunkError);
    expect(() => encodeChunk(Float32Array.of(1, Infinity), 1, 2, 'int8')).toThrow(/non-finite/);
  });

  it('float16 conversion matches IEEE binary16 on known values', () => {
    const cases: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [2 ** -24, 0x0001], [2 ** -14, 0x0400], [0.1, 0x2e66], [1 / 3, 0x3555], [Infinity, 0x7c00], [-0, 0x8000]];
    for (const [v, h] of cases) expect(toHalf(v)).toBe(h);
    for (const [v, h] of cases) if (Number.isFinite(v) && Math.abs(v) <= 65504 && v !== 0.1 && v !== 1 / 3) expect(fromHalf(h)).toBe(v);
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
    // round half to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00);
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('crc32 matches the standard check value and zlib at every length and offset', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const buf = new Uint8Array(300).map((_, i) => (i * 2654435761) >>> 24);
    for (let off = 0; off < 9; off++) for (let n = 0; n < 40; n++) {
      const b = buf.subarray(off, off + n * 7);
      expect(crc32(b)).toBe(zlibCrc32(b));
    }
  });

  it('decodes every half value like fromHalf, from aligned and unaligned buffers', () => {
    const all = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) all[h] = fromHalf(h);
    const { bytes } = encodeChunk(Float32Array.from(all, (v) => (Number.isNaN(v) ? 0 : v)), 256, 256, 'f16');
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    for (const b of [bytes, shifted]) {
      const d = decodeChunk(b, 'all-halves');
      const bad = [];
      for (let h = 0; h < 65536; h++) if (!Number.isNaN(all[h]) && d.data[h] !== all[h]) bad.push(h);
      expect(bad).toEqual([]);
    }
    const f = encodeChunk(new Float32Array([1.5, -2, 3e-8, 7]), 2, 2, 'f32').bytes;
    const g = new Uint8Array(f.length + 3).subarray(3);
    g.set(f);
    expect(Array.from(decodeChunk(g, 'unaligned-f32').data)).toEqual([1.5, -2, Math.fround(3e-8), 7]);
  });

  it('detects and names corrupted, truncated and foreign chunks', () => {
    const a = encodeChunk(new Float32Array([1, 2, 3, 4]), 2, 2, 'f32');
    const flipped = a.bytes.slice();
    flipped[30] ^= 1;
    expect(() => decodeChunk(flipped, 'chunk-7')).toThrow(/chunk "chunk-7".*checksum mismatch/);
    expect(() => decodeChunk(a.bytes.subarray(0, 30), 'chunk-8')).toThrow(ChunkError);
    expect(() => decodeChunk(new Uint8Array(40), 'chunk-9')).toThrow(/bad magic/);
    expect(() => decodeChunk(a.bytes, 'chunk-10', { checksum: a.checksum ^ 1 })).toThrow(/checksum mismatch/);
    expect(() => decodeChunk(a.bytes, 'chunk-11', { rows: 3 })).toThrow(/manifest says 3/);
  });
});

describe.each([
  ['fs', () => new FsStore(mkdtempSync(join(tmpdir(), 'logra-store-')))],
  ['memory', () => new MemoryStore()],
])('%s store', (_kind, make) => {
  it('commits blobs with the manifest and reads them back', async () => {
    const s = make();
    expect(await s.readManifest()).toBeUndefined();
    const c = encodeChunk(new Float32Array(16).fill(0.5), 2, 8, 'f32');
    const m = manifest([{ key: 'c0', ids: ['a', 'b'], rows: 2, checksum: c.checksum, bytes: c.bytes.length }]);
    await s.commit([{ key: 'c0', bytes: c.bytes }], m);
    expect(await s.readManifest()).toEqual(m);
    expect(decodeChunk(await s.readBlob('c0'), 'c0').data[3]).toBe(0.5);
    await expect(s.readBlob('nope')).rejects.toThrow(StoreError);
  });

  it('sweeps blobs that no manifest references (an interrupted commit)', async () => {
    const s = make();
    const c = encodeChunk(new Float32Array(8), 1, 8, 'f32');
    await s.commit([{ key: 'c0', bytes: c.bytes }], manifest([{ key: 'c0', ids: ['a'], rows: 1, checksum: c.checksum, bytes: c.bytes.length }]));
    // a blob written without its manifest update
    await s.commit([{ key: 'c1', bytes: c.bytes }], (await s.readManifest())!);
    expect((await s.listBlobs()).sort()).toEqual(['c0', 'c1']);
    expect(await sweepOrphans(s, await s.readManifest())).toEqual(['c1']);
    expect(await s.listBlobs()).toEqual(['c0']);
  });
});

describe('store safety', () => {
  it('names the first differing setting on mismatch', () => {
    expect(() => checkSettings('idx', settings, { ...settings, seed: 2 })).toThrow(StoreMismatchError);
    expect(() => checkSettings('idx', settings, { ...settings, seed: 2 })).toThrow(/seed = 1.*has 2/);
    expect(() => checkSettings('idx', settings, { ...settings, layers: [{ ...settings.layers[0], kIn: 8 }] })).toThrow(/layers\[0\]/);
    expect(() => checkSettings('idx', settings, { ...settings })).not.toThrow();
  });

  it('fs store rejects a damaged manifest and path-like blob keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logra-store-'));
    const s = new FsStore(dir);
    mkdirSync(join(dir, 'blobs'), { recursive: true });
    writeFileSync(join(dir, 'manifest.json'), '{"format": "logra-index", "version": 1');
    await expect(s.readManifest()).rejects.toThrow(/manifest.json is not valid JSON/);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ format: 'other' }));
    await expect(s.readManifest()).rejects.toThrow(/not a logra index manifest/);
    await expect(s.readBlob('../../etc/passwd')).rejects.toThrow(/invalid blob key/);
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toContain('other');
  });
});
