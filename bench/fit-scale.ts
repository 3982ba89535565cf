// Fit, self-influence and query at the paper's rank (k_in = k_out = 64) and at k 16, on the case issue 11 reported:
// a small GPT (3 blocks, width 48, the demo's 4,096-token BPE and KJV verses) with more projected dimensions per
// layer than logged examples (N < k), where a per-chunk factorisation of a k x k matrix made `fit` take ~45 minutes.
// Per runtime (native onnxruntime-node, onnxruntime-web wasm) and k: log N examples into a file-system index, then
// time fit + self-influence (raw and EKFAC), the queries' gradients and the scoring (pairs/s of the scoring alone,
// as LogIX's compute_influence_all over logged query gradients, and end to end), and count the backend's
// factorisations (they must not grow with the number of chunks).
//   npx tsx bench/fit-scale.ts [--n 2002] [--queries 64] [--ks 16,64] [--eps native,wasm] [--hessians raw,ekfac]
//                              [--chunk-mb 4] [--json bench/results/fit-scale.json]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, Engine, type HessianKind } from '../src/logra/mod.ts';
import { FsStore } from '../src/store/fs.ts';
import { buildGpt2 } from '../src/train/gpt2.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import { ortThreads, type ExecutionProvider } from '../src/runtime/ort.ts';
import { loadTokenizerFile } from '../src/tokenizer/node.ts';
import { formatExample } from '../src/train/data.ts';
import { countCalls } from './support/count-calls.ts';
import { exit, opt, runtimeName, table, writeJson } from './support/common.ts';

const N = Number(opt('--n') ?? 2002);
const Q = Number(opt('--queries') ?? 64);
const KS = (opt('--ks') ?? '16,64').split(',').map(Number);
const EPS = (opt('--eps') ?? 'native,wasm').split(',') as ExecutionProvider[];
const chunkMb = Number(opt('--chunk-mb') ?? 4);
const hessians = (opt('--hessians') ?? 'raw,ekfac').split(',') as HessianKind[];
const now = () => performance.now();
const secs = (ms: number) => (ms / 1000).toFixed(1);
const fmt = (v: number) => Math.round(v).toLocaleString('en-US');

// the demo's data: KJV verses in the project's byte-level BPE (4,096 tokens), [EOT] + text + [EOT], <= 64 tokens
const tok = loadTokenizerFile();
const gpt = buildGpt2({ vocab: tok.vocabSize, nEmbd: 48, nHead: 4, nLayer: 3, nPositions: 64, seed: 0 });
const bytes = encodeModel(gpt.model);
const verses = (await readFile(new URL('../public/corpus/kjv.jsonl', import.meta.url), 'utf8')).split('\n').filter((l) => l.trim()).slice(0, N + Q);
const all = verses.map((l) => {
  const v = JSON.parse(l) as { id: string; text: string };
  return { id: v.id, input_ids: formatExample(tok.encode(v.text), { eot: tok.endOfTextId, maxLen: 64 }) };
});
const train = all.slice(0, N), queries = all.slice(N, N + Q);
const tokens = train.reduce((a, e) => a + e.input_ids.length, 0);
const header = `runtime: ${runtimeName()}; ${ortThreads()} threads; model: buildGpt2 3 blocks, width 48, 4 heads, vocab ${tok.vocabSize}; ${N} KJV verses (${tokens} tokens) x ${Q} queries`;
console.log(header);
const json: Record<string, unknown> = { runtime: runtimeName(), header, n: N, queries: Q, tokens, runs: [] as unknown[] };
const rows: (string | number)[][] = [];

for (const ep of EPS) {
  const counted = countCalls((await createEngine({ backend: 'cpu', ep, kernels: { cpuRuntime: ep === 'wasm' ? 'wasm' : 'native' } })).backend);
  const engine = new Engine(counted.backend, ep);
  const model = await engine.loadModel(bytes, { task: 'causal-lm' });
  for (const K of KS) {
    const dir = await mkdtemp(join(tmpdir(), 'logra-fit-scale-'));
    try {
      let t = now();
      const index = await engine.log(model, train, { store: new FsStore(dir), kIn: K, kOut: K, hessian: 'raw', dtype: 'f16', chunkBytes: chunkMb * 2 ** 20, batchSize: 8 });
      const logMs = now() - t;
      const dims = [...new Set(index.manifest.settings.layers.map((l) => l.kIn * l.kOut))];
      console.log(`[${ep}] k ${K}x${K}: logged ${N} examples in ${secs(logMs)} s (${Math.round(tokens / (logMs / 1000))} tokens/s); ${index.manifest.chunks.length} chunks; projected dims per layer ${dims.join(', ')}`);
      for (const hessian of hessians) {
        counted.reset();
        t = now();
        const state = await index.fit({ hessian, damping: 0.1 });
        const fitMs = now() - t;
        const fitCalls = counted.snapshot();
        counted.reset();
        t = now();
        const g = await index.queryGradients(queries);
        const gradMs = now() - t;
        t = now();
        const r = await index.scoreGradients(g, { topK: 10, scores: false });
        const scoreMs = now() - t;
        const queryCalls = counted.snapshot();
        if (r.top.length !== Q) throw new Error('bad result');
        const scorePairs = (Q * N) / (scoreMs / 1000), e2ePairs = (Q * N) / ((gradMs + scoreMs) / 1000);
        const forms = [...new Set(state.forms)].join('/');
        rows.push([ep, `${K}x${K}`, hessian, forms, secs(logMs), secs(fitMs), (fitMs / logMs).toFixed(2), fmt(scorePairs), fmt(e2ePairs), JSON.stringify(fitCalls.factorisations), JSON.stringify(queryCalls.factorisations)]);
        (json.runs as unknown[]).push({ ep, k: K, hessian, forms: state.forms, chunks: index.manifest.chunks.length, logMs, fitMs, fitOverLog: fitMs / logMs, queryGradMs: gradMs, scoreMs, scorePairsPerS: scorePairs, e2ePairsPerS: e2ePairs, fitCalls, queryCalls });
        console.log(`  ${hessian} (${forms}): fit + self-influence ${secs(fitMs)} s (${(fitMs / logMs).toFixed(2)}x the log); query gradients ${secs(gradMs)} s, scoring ${secs(scoreMs)} s: ${fmt(scorePairs)} pairs/s scoring, ${fmt(e2ePairs)} end to end; backend ms in fit ${JSON.stringify(fitCalls.ms)}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  await model.release();
  engine.dispose();
}
const md = table(['runtime', 'k', 'hessian', 'form', 'log s', 'fit + self s', 'fit / log', 'pairs/s (scoring)', 'pairs/s (end to end)', 'factorisations (fit)', 'factorisations (query)'], rows);
console.log(`\n${header}\n${md}`);
json.markdown = md;
const jsonPath = opt('--json');
if (jsonPath) await writeJson(jsonPath, json);
exit(0);
