// Pipeline benchmark, one run per runtime, on a GPT-2-style LM of the bench/models size (buildGpt2: 4 blocks, width
// 128, 4 heads, vocab 512, context 128; random weights) and synthetic token data:
//  (i)   logging throughput (tokens/s) of engine.log with LoGra (k_in = k_out = 16 and 64) vs plain fwd+bwd of the
//        same model: the trainer's gradient pass (forward, summed next-token loss, backward to every parameter:
//        what a training step computes before the optimizer); also, for context, forward only and the taps pass
//        (forward + backward to every tapped layer's output, returning x and dy to the host).
//  (ii)  influence pairs/s from the store (index.query over the logged rows) vs recomputing the train gradients per
//        query batch (what one does without a store: run the model over the training set for every query batch,
//        here with the cheapest recompute there is, the same in-graph LoGra projection, then dot products).
//  (iii) stored bytes per example, f32 vs f16.
// Timings are medians over interleaved rounds; compare them as ratios within one run (the machine is shared).
//   Node:  npx tsx bench/pipeline.ts [--quick] [--json out.json] [--backend cpu|webgpu|auto] [--ep wasm|webgpu]
//   Deno:  node scripts/deno.js run --allow-read --allow-env --allow-net=127.0.0.1 --allow-write=/tmp bench/pipeline.ts
import { createEngine, randomProjections, type LoadedModel, type LograIndex } from '../src/logra/mod.ts';
import { Fitted } from '../src/logra/fitted.ts';
import { MemoryStore } from '../src/store/memory.ts';
import { buildGpt2 } from '../src/train/gpt2.ts';
import { Trainer } from '../src/train/trainer.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import { TapModel } from '../src/runtime/taps.ts';
import { createSession, hardwareThreads, type ExecutionProvider } from '../src/runtime/ort.ts';
import { lmBatch, type LmExample } from '../src/runtime/batch.ts';
import { toOrtFeeds } from '../src/runtime/feeds.ts';
import { describeInputs } from '../src/autograd/inputs.ts';
import { Graph } from '../src/onnx/graph.ts';
import type { BackendChoice } from '../src/kernels/backend.ts';
import { replicateFitted } from './support/replicate.ts';
import { exit, flag, opt, randomSequences, runtimeName, table, writeJson } from './support/common.ts';

export interface PipelineBenchOptions {
  quick?: boolean;
  /** kernel backend (default cpu) */
  backend?: BackendChoice;
  /** ORT execution provider for model runs (default wasm) */
  ep?: ExecutionProvider;
  log?: (line: string) => void;
}

/** Runs the three sections; returns the printed tables (markdown) and the numbers (json). */
export async function runPipelineBench(o: PipelineBenchOptions = {}): Promise<{ header: string; markdown: string; json: Record<string, unknown> }> {
  const quick = !!o.quick;
  const backendChoice: BackendChoice = o.backend ?? 'cpu';
  const ep: ExecutionProvider = o.ep ?? 'wasm';
  const log = o.log ?? ((s: string) => console.log(s));
  const CFG = { vocab: 512, nEmbd: 128, nHead: 4, nLayer: 4, nPositions: 128, seed: 0 };
  const T = 64; // tokens per example
  const B = 8; // examples per model run
  const N_LOG = quick ? 32 : 64; // examples per timed logging pass
  const ROUNDS = quick ? 2 : 3;
  const Q = 16; // queries per query batch
  const REPLICATE = quick ? 16 : 128; // the logged rows are replicated (manifest only) to N_LOG x REPLICATE rows
  const KS = [16, 64];

  const now = () => performance.now();
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const fmt = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

  const tStart = now();
  const engine = await createEngine({ backend: backendChoice, ep });
  const header = `runtime: ${runtimeName()}; ORT EP for model runs: ${ep} (${hardwareThreads()} threads); kernel backend: ${engine.backend.kind} = ${engine.backend.description}`;
  log(header);
  const gpt = buildGpt2(CFG);
  const bytes = encodeModel(gpt.model);
  const modelDesc = `buildGpt2 ${CFG.nLayer} blocks, width ${CFG.nEmbd}, ${CFG.nHead} heads, vocab ${CFG.vocab}, context ${CFG.nPositions} (random weights); batches of ${B} x ${T} tokens`;
  log(`model: ${modelDesc}`);

  const data = randomSequences(N_LOG, CFG.vocab, T, T, 1, 't');
  const queries = randomSequences(Q, CFG.vocab, T, T, 2, 'q');
  const tokens = data.reduce((a, e) => a + e.input_ids.length, 0);
  const batches = (ex: LmExample[]) => Array.from({ length: Math.ceil(ex.length / B) }, (_, i) => ex.slice(i * B, (i + 1) * B));

  let t0 = now();
  const model: LoadedModel = await engine.loadModel(bytes, { task: 'causal-lm' });
  const loadS = (now() - t0) / 1000;
  t0 = now();
  const trainer = await Trainer.create(gpt.model, gpt.params, { lr: 1e-3, warmup: 1, totalSteps: 1 }, ep);
  const trainerS = (now() - t0) / 1000;
  const taps = await TapModel.create(bytes, { task: 'causal-lm', taps: true, ep });
  const inputs = describeInputs(new Graph(gpt.model));
  const { ort, session: fwd } = await createSession(bytes, { ep });
  log(`sessions built: LoGra ${loadS.toFixed(1)} s, trainer ${trainerS.toFixed(1)} s; tapped layers: ${model.layers.length}`);

  // ---------------------------------------------------------------- (i) logging throughput
  type Method = { name: string; run: () => Promise<void> };
  const lastIndex = new Map<number, LograIndex>();
  const methods: Method[] = [
    { name: 'forward only (context)', run: async () => { for (const b of batches(data)) await fwd.run(toOrtFeeds(ort, lmBatch(inputs, b).feeds)); } },
    { name: 'plain fwd+bwd (trainer gradient pass)', run: async () => { for (const b of batches(data)) await trainer.gradients(b); } },
    { name: 'taps fwd+bwd (x, dy of every layer to host)', run: async () => { for (const b of batches(data)) await taps.run(b); } },
    ...KS.map((k) => ({
      name: `engine.log LoGra k=${k} (f32, random init)`,
      run: async () => {
        lastIndex.set(k, await engine.log(model, data, { store: new MemoryStore(`log-${k}`), init: 'random', kIn: k, kOut: k, hessian: 'raw', batchSize: B, seed: 0 }));
      },
    })),
    // the per-call fixed cost inside engine.log: regenerating the seeded projections (amortised over a real dataset)
    ...KS.map((k) => ({ name: `(setup inside engine.log: random projections k=${k})`, run: async () => void (await randomProjections(engine.backend, model.layers, k, k, 0)) })),
  ];
  const times = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  for (const m of methods) await m.run(); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const m of methods) {
      const t = now();
      await m.run();
      times.get(m.name)!.push(now() - t);
    }
  }
  const med = (name: string) => median(times.get(name)!);
  const plainName = methods[1].name;
  const plain = tokens / (med(plainName) / 1000);
  const logRows: string[][] = [];
  const logJson: Record<string, unknown>[] = [];
  for (const m of methods) {
    if (m.name.startsWith('(setup')) continue;
    const k = KS.find((kk) => m.name.includes(`k=${kk} `));
    const ms = med(m.name), tps = tokens / (ms / 1000);
    const setup = k ? med(`(setup inside engine.log: random projections k=${k})`) : 0;
    const steady = k ? tokens / ((ms - setup) / 1000) : tps;
    logRows.push([m.name, fmt(ms), fmt(tps), `${(tps / plain).toFixed(2)}x`, k ? `${fmt(setup)} ms` : '-', k ? `${(steady / plain).toFixed(2)}x` : '-']);
    logJson.push({ name: m.name, ms, tokensPerS: tps, ratio: tps / plain, setupMs: setup, ratioWithoutSetup: steady / plain });
  }
  log(`\n(i) logging throughput: ${N_LOG} examples x ${T} tokens = ${tokens} tokens per pass, median of ${ROUNDS} interleaved rounds after a warm-up`);
  const t1 = table(['pass', 'ms per pass', 'tokens/s', 'vs plain fwd+bwd', 'of which projection setup', 'vs plain, setup amortised away'], logRows);
  log(t1);

  // ---------------------------------------------------------------- (ii) influence pairs/s
  async function timeQueries(ix: LograIndex): Promise<number> {
    await ix.query(queries.slice(0, 2), { topK: 10, scores: false }); // warm-up
    const qt: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t = now();
      await ix.query(queries, { topK: 10, scores: false });
      qt.push(now() - t);
    }
    return median(qt);
  }

  const BIG = 1_000_000;
  const inflRows: string[][] = [];
  const inflJson: Record<string, unknown>[] = [];
  for (const k of KS) {
    const hessian = k === 16 ? 'raw' : 'kfac'; // raw at k = 64 would factorise a 4096^2 covariance per layer
    const small = lastIndex.get(k)!;
    t0 = now();
    await small.fit({ hessian, damping: 0.1, rawForm: 'covariance' });
    const fitS = (now() - t0) / 1000;
    const smallMs = await timeQueries(small);
    const big = new MemoryStore(`big-${k}`);
    await replicateFitted(small, big, REPLICATE);
    const bigIx = await engine.openIndex(big, model);
    const N = bigIx.size;
    const storeMs = await timeQueries(bigIx);
    const storePairs = (Q * N) / (storeMs / 1000);
    // store query time = fixed (query gradients, preconditioning) + per row (read, verify, GEMM): from the two sizes
    const perRow = Math.max(0, (storeMs - smallMs) / (N - N_LOG));
    const fixed = Math.max(0, smallMs - perRow * N_LOG);

    // recompute baseline, measured on the N_LOG real training examples: per query batch, the query gradients, the
    // train gradients again (same session and projections), preconditioned dot products
    const sm = small.manifest;
    const f = await Fitted.load(small.store, sm, 2 ** 30);
    const tm = await model.projector();
    const proj = await small.projections();
    const layers = sm.settings.layers;
    const rt: number[] = [], rq: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t = now();
      tm.setProjections(layers.map((l) => proj.get(l.name)!));
      const qg = layers.map((l) => new Float32Array(Q * l.kIn * l.kOut));
      for (let s = 0; s < Q; s += B) {
        const o = await tm.run(queries.slice(s, s + B));
        layers.forEach((l, i) => qg[i].set(o.layers[i].g!, s * l.kIn * l.kOut));
      }
      const qp: Float32Array[] = [];
      for (let i = 0; i < layers.length; i++) qp.push(await (await f.layer(i)).precondition(engine.backend, qg[i], Q));
      rq.push(now() - t);
      const scores = new Float32Array(Q * N_LOG);
      for (let s = 0; s < N_LOG; s += B) {
        const o = await tm.run(data.slice(s, s + B));
        layers.forEach((l, i) => {
          const kk = l.kIn * l.kOut, g = o.layers[i].g!;
          for (let b = 0; b < o.B; b++)
            for (let q = 0; q < Q; q++) {
              let acc = 0;
              for (let c = 0; c < kk; c++) acc += qp[i][q * kk + c] * g[b * kk + c];
              scores[q * N_LOG + s + b] += acc;
            }
        });
      }
      rt.push(now() - t);
    }
    const recMs = median(rt), recQueryMs = median(rq);
    const recPerEx = Math.max(0, (recMs - recQueryMs) / N_LOG);
    const recAt = (n: number) => recQueryMs + n * recPerEx;
    const recPairs = (Q * N) / (recAt(N) / 1000);
    const storeBig = (Q * BIG) / ((fixed + perRow * BIG) / 1000), recBig = (Q * BIG) / (recAt(BIG) / 1000);
    inflRows.push([
      `k=${k}, ${hessian}`, fmt(N), fmt(storeMs), fmt(storePairs), fmt(recAt(N) / 1000, 1), fmt(recPairs), `**${fmt(storePairs / recPairs)}x**`,
      `${fmt(storeBig)} vs ${fmt(recBig)}: ${fmt(storeBig / recBig)}x`, `${fmt(fixed)} ms + ${(perRow * 1000).toFixed(1)} us/row`, `${fmt(recQueryMs)} ms + ${fmt(recPerEx, 1)} ms/row`, `${fitS.toFixed(1)} s`,
    ]);
    inflJson.push({ k, hessian, N, Q, storeMs, smallMs, storePairs, storeFixedMs: fixed, storePerRowMs: perRow, recomputeQueryMs: recQueryMs, recomputePerRowMs: recPerEx, recomputeMsAtN: recAt(N), recomputePairs: recPairs, ratio: storePairs / recPairs, at1M: { store: storeBig, recompute: recBig, ratio: storeBig / recBig }, fitS });
    log(`  k=${k}: store ${fmt(storePairs)} pairs/s over ${fmt(N)} rows; recompute ${fmt(recPairs)} pairs/s; ratio ${fmt(storePairs / recPairs)}x`);
  }
  log(`\n(ii) influence of one batch of ${Q} queries on N training rows. store = index.query (query gradients, preconditioning, one GEMM per chunk, top-10), measured at N = ${N_LOG} (the logged rows) and N = ${N_LOG} x ${REPLICATE} (the same chunks listed ${REPLICATE} times in the manifest, fit copied: duplicating rows leaves C and self-influences unchanged).`);
  log(`    recompute = no store: per query batch, the query gradients, then the train gradients again (same in-graph LoGra session and projections: the cheapest recompute) and preconditioned dot products; measured over the ${N_LOG} real rows, time at N extrapolated linearly (it is N model runs). The 1M column extrapolates both linearly (fixed + per-row costs from the measurements).`);
  const t2 = table(['index', 'N', 'store ms', 'store pairs/s', 'recompute s (at N, extrap.)', 'recompute pairs/s', 'store / recompute at N', 'pairs/s at N = 1M (extrapolated)', 'store cost model', 'recompute cost model', 'fit (one-off, 64 rows)'], inflRows);
  log(t2);

  // ---------------------------------------------------------------- (iii) storage
  const sub = data.slice(0, 16);
  const storeRows: string[][] = [];
  const storeJson: Record<string, unknown>[] = [];
  const fullBytes = model.layers.reduce((a, l) => a + l.dIn * l.dOut * 4, 0);
  for (const k of KS) {
    for (const dtype of ['f32', 'f16'] as const) {
      const st = new MemoryStore(`${k}-${dtype}`);
      await engine.log(model, sub, { store: st, init: 'random', kIn: k, kOut: k, hessian: 'raw', batchSize: B, dtype });
      const m = (await st.readManifest())!;
      const rows = m.chunks.reduce((a, c) => a + c.rows, 0);
      const chunkBytes = m.chunks.reduce((a, c) => a + c.bytes, 0);
      const all = [...st.blobs.values()].reduce((a, b) => a + b.length, 0) + JSON.stringify(m).length;
      storeRows.push([`k=${k}`, dtype, fmt(m.cols), fmt(chunkBytes / rows, 1), fmt(all / rows, 1), `${fmt(fullBytes / (chunkBytes / rows))}x`]);
      storeJson.push({ k, dtype, cols: m.cols, rowBytes: chunkBytes / rows, allBytes: all / rows, rows });
    }
  }
  log(`\n(iii) storage per example (${sub.length} examples logged; ${model.layers.length} tapped layers; a full f32 per-example gradient of these layers is ${fmt(fullBytes)} bytes)`);
  const t3 = table(['projection', 'dtype', 'floats per example', 'bytes per example (chunks)', 'bytes per example (whole index: chunks + KFAC blobs + manifest)', 'full gradient / stored'], storeRows);
  log(t3);

  const markdown = `${header}\nmodel: ${modelDesc}\n\n${t1}\n\n${t2}\n\n${t3}\n\ntotal ${((now() - tStart) / 1000).toFixed(0)} s`;
  const json = { runtime: runtimeName(), header, model: modelDesc, logging: logJson, influence: inflJson, storage: storeJson };
  await trainer.release();
  await taps.release();
  await fwd.release();
  await model.release();
  engine.dispose();
  return { header, markdown, json };
}

// ---- CLI (Node via tsx, Deno); Chromium: test/e2e/pipeline-bench.spec.ts ----
const g = globalThis as { Deno?: unknown; process?: { argv: string[] } };
const isMain = (import.meta as { main?: boolean }).main === true || (!!g.process?.argv?.[1] && /bench[\\/]pipeline\.ts$/.test(g.process.argv[1]) && !g.Deno);
if (isMain) {
  const res = await runPipelineBench({ quick: flag('--quick'), backend: (opt('--backend') ?? 'cpu') as BackendChoice, ep: (opt('--ep') ?? 'wasm') as ExecutionProvider });
  console.log(`\n${res.markdown}`);
  const jsonPath = opt('--json');
  if (jsonPath) await writeJson(jsonPath, res.json);
  exit(0);
}

