// Fit, self-influence and query at the paper's rank (k_in = k_out = 64) on a small GPT (3 blocks, width 48, the demo's 4,096-token BPE and KJV verses) with more projected
// dimensions per layer than logged examples (N < k): the case where a per-chunk factorisation of a k x k matrix made
// `fit` take ~45 minutes (issue 11). Logs N examples into a file-system index, then times fit + self-influence (raw
// and EKFAC) and a query batch, and counts the backend's factorisations (eigh / Cholesky-based calls): they must not
// grow with the number of chunks.
//   npx tsx bench/fit-scale.ts [--n 2002] [--queries 64] [--k 64] [--chunk-mb 4] [--json out.json] [--hessians raw,ekfac]
//   Deno: node scripts/deno.js run -A bench/fit-scale.ts ...
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, Engine, type HessianKind } from '../src/logra/mod.ts';
import { FsStore } from '../src/store/fs.ts';
import { buildGpt2 } from '../src/train/gpt2.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import { hardwareThreads } from '../src/runtime/ort.ts';
import { countCalls } from './support/count-calls.ts';
import { loadTokenizerFile } from '../src/tokenizer/node.ts';
import { formatExample } from '../src/train/data.ts';
import { exit, opt, runtimeName, table, writeJson } from './support/common.ts';

const N = Number(opt('--n') ?? 2002);
const Q = Number(opt('--queries') ?? 64);
const K = Number(opt('--k') ?? 64);
const chunkMb = Number(opt('--chunk-mb') ?? 4);
const hessians = (opt('--hessians') ?? 'raw,ekfac').split(',') as HessianKind[];
const now = () => performance.now();
const secs = (ms: number) => (ms / 1000).toFixed(1);

const counted = countCalls((await createEngine({ backend: 'cpu' })).backend);
const engine = new Engine(counted.backend, 'wasm');
const header = `runtime: ${runtimeName()}; kernel backend: ${engine.backend.description}; ${hardwareThreads()} threads`;
console.log(header);
// the demo's data: KJV verses in the project's byte-level BPE (4,096 tokens), [EOT] + text + [EOT], <= 64 tokens
const tok = loadTokenizerFile();
const gpt = buildGpt2({ vocab: tok.vocabSize, nEmbd: 48, nHead: 4, nLayer: 3, nPositions: 64, seed: 0 });
const model = await engine.loadModel(encodeModel(gpt.model), { task: 'causal-lm' });
const verses = (await readFile(new URL('../public/corpus/kjv.jsonl', import.meta.url), 'utf8')).split('\n').filter((l) => l.trim()).slice(0, N + Q);
const all = verses.map((l) => {
  const v = JSON.parse(l) as { id: string; text: string };
  return { id: v.id, input_ids: formatExample(tok.encode(v.text), { eot: tok.endOfTextId, maxLen: 64 }) };
});
const train = all.slice(0, N), queries = all.slice(N, N + Q);
const tokens = train.reduce((a, e) => a + e.input_ids.length, 0);
const dir = await mkdtemp(join(tmpdir(), 'logra-fit-scale-'));
const json: Record<string, unknown> = { runtime: runtimeName(), header, n: N, queries: Q, k: K, tokens, layers: model.layers.map((l) => ({ name: l.name, dIn: l.dIn, dOut: l.dOut })) };
try {
  let t = now();
  const index = await engine.log(model, train, { store: new FsStore(dir), kIn: K, kOut: K, hessian: 'raw', dtype: 'f16', chunkBytes: chunkMb * 2 ** 20, batchSize: 8 });
  const logMs = now() - t;
  const dims = index.manifest.settings.layers.map((l) => l.kIn * l.kOut);
  console.log(`logged ${N} examples (${tokens} tokens) in ${secs(logMs)} s (${Math.round(tokens / (logMs / 1000))} tokens/s); ${index.manifest.chunks.length} chunks; projected dims per layer ${[...new Set(dims)].join(', ')}`);
  json.log = { ms: logMs, tokensPerS: tokens / (logMs / 1000), chunks: index.manifest.chunks.length, dims };
  const rows: (string | number)[][] = [];
  const runs: Record<string, unknown>[] = [];
  for (const hessian of hessians) {
    counted.reset();
    t = now();
    await index.fit({ hessian, damping: 0.1 });
    const fitMs = now() - t;
    const fitCalls = counted.snapshot();
    t = now();
    await index.selfInfluence();
    const selfMs = now() - t;
    counted.reset();
    t = now();
    const r = await index.query(queries, { topK: 10, scores: false });
    const queryMs = now() - t;
    const queryCalls = counted.snapshot();
    const pairs = (Q * N) / (queryMs / 1000);
    rows.push([hessian, secs(fitMs), secs(logMs), (fitMs / logMs).toFixed(2), secs(queryMs), Math.round(pairs).toLocaleString('en-US'), JSON.stringify(fitCalls.factorisations), JSON.stringify(queryCalls.factorisations)]);
    runs.push({ hessian, fitMs, selfMs, queryMs, pairsPerS: pairs, fitCalls, queryCalls, top1: r.top[0][0] });
    console.log(`${hessian}: fit + self-influence ${secs(fitMs)} s; query ${secs(queryMs)} s (${Math.round(pairs)} pairs/s); factorisation calls fit ${JSON.stringify(fitCalls.factorisations)}, query ${JSON.stringify(queryCalls.factorisations)}`);
    console.log(`  backend ms in fit: ${JSON.stringify(fitCalls.ms)}; in query: ${JSON.stringify(queryCalls.ms)}`);
  }
  json.runs = runs;
  console.log(`\n${table(['hessian', 'fit + self-influence s', 'log s', 'fit / log', `query s (${Q} queries)`, 'pairs/s', 'factorisations (fit)', 'factorisations (query)'], rows)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
const jsonPath = opt('--json');
if (jsonPath) await writeJson(jsonPath, json);
exit(0);
