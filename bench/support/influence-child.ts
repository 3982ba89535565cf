// Influence throughput in the shape of the seed's Table 1, in its own process: pairs/s from the store (the
// preconditioned query gradients scored against N stored rows) against recomputing the N train gradients per query
// batch (what one does without a store: a forward + backward per train example, the cheapest one: our in-graph
// LoGra projection). The store holds `real` logged rows listed N / real times over (manifest only: duplicating rows
// leaves the covariance and every self-influence unchanged, so the fit of the real rows, in the covariance form, is
// the fit of the N rows; it is copied, the self-influences tiled). Prints one JSON line.
//   npx tsx bench/support/influence-child.ts (--model M.onnx | --gpt2 vocab,width,layers,heads) [--k 64] [--n 10000]
//        [--queries 256] [--real 16] [--tokens 128] [--ep native] [--threads 2]
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../src/logra/mod.ts';
import { FsStore } from '../../src/store/fs.ts';
import { BLOB, packTensors, unpackTensors } from '../../src/logra/layout.ts';
import { crc32 } from '../../src/store/chunk.ts';
import type { Manifest } from '../../src/store/store.ts';
import type { FitState } from '../../src/logra/fit.ts';
import type { ExecutionProvider } from '../../src/runtime/ort.ts';
import { buildGpt2 } from '../../src/train/gpt2.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { exit, opt, randomSequences } from './common.ts';

const k = Number(opt('--k') ?? 64);
const N = Number(opt('--n') ?? 10_000);
const Q = Number(opt('--queries') ?? 256);
const REAL = Number(opt('--real') ?? 16);
const T = Number(opt('--tokens') ?? 128);
const ep = (opt('--ep') ?? 'native') as ExecutionProvider;
const threads = Number(opt('--threads') ?? 2);
const now = () => performance.now();

let bytes: Uint8Array, vocab: number, name: string;
const g = opt('--gpt2');
if (g) {
  const [v, d, l, h] = g.split(',').map(Number);
  const m = buildGpt2({ vocab: v, nEmbd: d, nHead: h ?? 4, nLayer: l, nPositions: Math.max(T, 64), seed: 0 });
  bytes = encodeModel(m.model);
  vocab = v;
  name = `buildGpt2 ${l} blocks, width ${d}, vocab ${v}`;
} else {
  const path = opt('--model')!;
  const b = readFileSync(path);
  bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  vocab = Number(opt('--vocab') ?? 50257);
  name = path;
}
const engine = await createEngine({ backend: 'cpu', ep, threads, kernels: { cpuRuntime: ep === 'wasm' ? 'wasm' : 'native' } });
const model = await engine.loadModel(bytes, { source: name });
const params = model.layers.reduce((a, l) => a + l.dIn * l.dOut, 0);
const train = randomSequences(REAL, vocab, T, T, 11, 't');
const queries = randomSequences(Q, vocab, T, T, 12, 'q');
const dir = await mkdtemp(join(tmpdir(), 'logra-infl-'));
try {
  const small = new FsStore(join(dir, 'small'));
  let t = now();
  const index = await engine.log(model, train, { store: small, kIn: k, kOut: k, batchSize: 8, hessian: 'raw', dtype: 'f16' });
  const trainS = (now() - t) / 1000 / REAL; // per train example: the recompute's unit cost
  t = now();
  await index.fit({ rawForm: 'covariance' });
  const fitS = (now() - t) / 1000;

  // the replicated index: same chunk files, manifest listing them N / REAL times, fit blobs shared, self tiled
  const m = index.manifest;
  const times = Math.ceil(N / REAL);
  const big = new FsStore(join(dir, 'small')); // same folder: its blobs are the small index's
  const self = unpackTensors(await small.readBlob(m.blobs[BLOB.self].key), 'self');
  const tiled: Record<string, { shape: number[]; data: Float32Array }> = {};
  m.settings.layers.forEach((_, l) => {
    const v = self.get(String(l), [REAL]), out = new Float32Array(REAL * times);
    for (let r = 0; r < times; r++) out.set(v, r * REAL);
    tiled[String(l)] = { shape: [REAL * times], data: out };
  });
  const selfBytes = packTensors(tiled);
  const chunks: Manifest['chunks'] = [];
  for (let r = 0; r < times; r++) for (const c of m.chunks) chunks.push({ ...c, ids: c.ids.map((id) => `${id}#${r}`) });
  const fit = { ...(m.state.fit as FitState), chunks: chunks.length, examples: REAL * times };
  await big.commit([{ key: 'self-replicated', bytes: selfBytes }], { ...m, chunks, blobs: { ...m.blobs, [BLOB.self]: { key: 'self-replicated', checksum: crc32(selfBytes), bytes: selfBytes.length } }, state: { ...m.state, fit } });
  const bigIx = await engine.openIndex(big, model);
  const rows = bigIx.size;

  t = now();
  const qg = await bigIx.queryGradients(queries, { batchSize: 8 });
  const queryGradS = (now() - t) / 1000;
  t = now();
  const r = await bigIx.scoreGradients(qg, { topK: 10, scores: false });
  const scoreS = (now() - t) / 1000;
  if (r.top.length !== Q) throw new Error('bad result');
  // store: the scoring (Table 1: query gradients are the same on both sides) and end to end
  const storePairs = (Q * rows) / scoreS;
  const recomputeS = rows * trainS + scoreS; // the train gradients again, then the same products
  const recomputePairs = (Q * rows) / recomputeS;
  const e2eStore = (Q * rows) / (queryGradS + scoreS), e2eRecompute = (Q * rows) / (queryGradS + recomputeS);
  console.log(JSON.stringify({
    model: name, params, layers: model.layers.length, k, ep, threads, rows, queries: Q, tokens: T, real: REAL,
    trainS, fitS, queryGradS, scoreS, storePairs, recomputeS, recomputePairs, ratio: storePairs / recomputePairs,
    e2e: { storePairs: e2eStore, recomputePairs: e2eRecompute, ratio: e2eStore / e2eRecompute },
    cols: m.cols, bytesPerRow: m.chunks.reduce((a, c) => a + c.bytes, 0) / REAL, backend: engine.backend.description,
  }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
exit(0);
