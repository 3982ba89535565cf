// Does decoding chunks in worker threads (LograIndex.scanThreads, src/logra/scan-pool.ts) make a query's scan over
// the stored rows faster? A synthetic index of several "shards" (rows of random values, as a merge leaves them: many
// chunks), fitted with hessian none (no factorisation: the scan is all there is), scored with scanThreads 0, 1, 2 in
// interleaved rounds; prints the medians and the ratio to the single-threaded scan.
//   npx tsx bench/parallel-scan.ts [--rows 24000] [--dtype f16] [--queries 8] [--rounds 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argv } from 'node:process';
import { createEngine } from '../src/logra/engine.ts';
import { FsStore } from '../src/store/fs.ts';
import { encodeChunk, type ChunkDtype } from '../src/store/chunk.ts';
import { blobRef } from '../src/store/integrity.ts';
import { MANIFEST_VERSION, type Manifest } from '../src/store/store.ts';
import { BLOB, packTensors } from '../src/logra/layout.ts';
import { LograIndex } from '../src/logra/index.ts';

const flag = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const N = Number(flag('rows', '24000')), dtype = flag('dtype', 'f16') as ChunkDtype, Q = Number(flag('queries', '8')), rounds = Number(flag('rounds', '3'));
const layers = Array.from({ length: 8 }, (_, i) => ({ name: `l${i}`, dIn: 64, dOut: 64, kIn: 16, kOut: 16 }));
const cols = layers.reduce((a, l) => a + l.kIn * l.kOut, 0);
const dir = mkdtempSync(join(tmpdir(), 'logra-scan-bench-'));

let seed = 1;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;

async function build(): Promise<FsStore> {
  const store = new FsStore(dir);
  const lock = await store.lock({ op: 'bench' });
  const m: Manifest = {
    format: 'logra-index', version: MANIFEST_VERSION, cols, chunks: [], blobs: {}, state: {}, created: '', updated: '',
    settings: { modelSha256: 'bench', task: 'causal-lm', layers, projection: 'random:16x16', seed: 0, dtype, hessian: 'none', reduction: 'sum' },
  };
  const chunkRows = Math.floor((4 * 2 ** 20) / (cols * (dtype === 'f32' ? 4 : 2)));
  const stats: Record<string, { shape: number[]; data: Float32Array }> = {};
  layers.forEach((l, i) => ((stats[`${i}.a`] = { shape: [l.kIn, l.kIn], data: new Float32Array(l.kIn * l.kIn) }), (stats[`${i}.s`] = { shape: [l.kOut, l.kOut], data: new Float32Array(l.kOut * l.kOut) })));
  for (let s = 0, c = 0; s < N; s += chunkRows, c++) {
    const rows = Math.min(chunkRows, N - s);
    const data = Float32Array.from({ length: rows * cols }, rand);
    const { bytes, checksum } = encodeChunk(data, rows, cols, dtype);
    const key = `chunk-${c}`;
    const kfac = packTensors(stats, { tokens: String(rows), examples: String(rows) });
    await store.writeBlobs([{ key, bytes }, { key: `kfac-${key}`, bytes: kfac }]);
    m.chunks.push({ key, ids: Array.from({ length: rows }, (_, r) => `e${s + r}`), rows, checksum, bytes: bytes.length });
    m.blobs[BLOB.kfac(key)] = blobRef(`kfac-${key}`, kfac);
  }
  await store.commit([], m);
  await lock.release();
  return store;
}

const engine = await createEngine({ backend: 'cpu' });
try {
  const store = await build();
  const index = await LograIndex.open(engine.backend, store);
  await index.fit({ hessian: 'none' });
  const g = { ids: Array.from({ length: Q }, (_, i) => `q${i}`), perTokenLayers: layers.map(() => false), rows: layers.map((l) => Float32Array.from({ length: Q * l.kIn * l.kOut }, rand)), tokens: [], losses: new Array(Q).fill(0) };
  const times = new Map<number, number[]>([[0, []], [1, []], [2, []]]);
  let ref: string | undefined;
  for (let r = 0; r < rounds + 1; r++) {
    for (const threads of times.keys()) {
      index.scanThreads = threads;
      await index.scoreGradients(g, { topK: 10, scores: false }); // warm: the pool made, the fit read
      const t0 = performance.now();
      const res = await index.scoreGradients(g, { topK: 10, scores: false });
      const t = performance.now() - t0;
      const top = JSON.stringify(res.top.map((x) => x.map((i) => i.id)));
      if (ref === undefined) ref = top;
      else if (top !== ref) throw new Error(`scanThreads ${threads} gave other top-k lists`);
      if (r > 0) times.get(threads)!.push(t); // round 0 warms up
    }
  }
  await index.dispose();
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const base = median(times.get(0)!);
  console.log(`${N} rows x ${cols} ${dtype} (${(N * cols * (dtype === 'f32' ? 4 : 2) / 2 ** 20).toFixed(0)} MiB in ${Math.ceil(N / Math.floor((4 * 2 ** 20) / (cols * (dtype === 'f32' ? 4 : 2))))} chunks), ${Q} queries, ${engine.backend.description}`);
  for (const [threads, v] of times) console.log(`scanThreads ${threads}: median ${median(v).toFixed(0)} ms (${v.map((x) => x.toFixed(0)).join(', ')}), ratio to 0 threads ${(median(v) / base).toFixed(2)} (below 1 = faster)`);
} finally {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
}
