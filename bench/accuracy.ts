// LoGra's accuracy against exact influence: mean (over queries) Spearman rank correlation between the scores the
// pipeline gives with LoGra projections (random or PCA init, k_in = k_out = k) and exact scores over the training
// set, on a tiny GPT-2 (random-initialised and trained) and a small MLP classifier (random-initialised and trained).
//   Node:  npx tsx bench/accuracy.ts [--quick] [--json out.json] [--seeds 0,1,2] [--engine-raw-max-k 32]
//   Deno:  node scripts/deno.js run --allow-read --allow-env --allow-net=127.0.0.1 --allow-write=/tmp bench/accuracy.ts
// Method (docs/ACCURACY.md):
//  - Exact gradients come from the engine's exact mode (init 'identity': the full per-example weight gradient of
//    every tapped layer, the same pipeline code path), read back from the store as float64 rows.
//  - Exact references, float64: dot = sum_l g_q,l . g_n,l; raw = sum_l g_q,l^T (C_l + lambda_l I)^{-1} g_n,l with
//    C_l = (1/N) sum_n g_n,l g_n,l^T and lambda_l = 0.1 tr(C_l) / dim(C_l) (the index's raw definition), computed with
//    the Woodbury identity from the N x N Gram matrix, so it is exact for every layer however wide.
//  - LoGra scores: engine.log(init, k) -> index.fit({hessian}) -> index.query. The raw fit factorises the
//    (k_in k_out)^2 covariance per layer; at k = 64 that is ~3072^2 per layer, which the CPU backend needs minutes
//    for, so above --engine-raw-max-k (default 32) the raw LoGra scores are computed from the engine's logged
//    projected gradients (query gradients logged with the same projections, init 'given') with the same float64
//    Woodbury formula; where both exist the two are compared (column "raw: engine vs f64").
//  - Seeds are fixed (model init, data order, projection seed); nothing is tuned.
import { createEngine, type Engine, type LoadedModel, type Example, type HessianKind, type StoreDtype } from '../src/logra/mod.ts';
import { MemoryStore } from '../src/store/memory.ts';
import { buildGpt2 } from '../src/train/gpt2.ts';
import { Trainer } from '../src/train/trainer.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import type { ClassExample, LmExample } from '../src/runtime/batch.ts';
import { rng } from '../src/train/rng.ts';
import { influence, meanSpearman, pick, readRows, relErr, type GradRows, type Scores } from './support/influence64.ts';
import { evaluate, initMlp, mlpOnnx, teacherData, trainMlp } from './support/mlp.ts';
import { CHAR_VOCAB, exit, flag, kjvCharExamples, opt, runtimeName, shuffled, table, writeJson } from './support/common.ts';

const quick = flag('--quick');
const jsonPath = opt('--json');
const KS = (opt('--ks') ?? (quick ? '8,16' : '8,16,32,64')).split(',').map(Number);
const SEEDS = (opt('--seeds') ?? '0').split(',').map(Number);
// raw LoGra scores come from the engine's own fit at every k since the fit factorises once per layer (the kernel
// form when there are fewer rows than dimensions); --engine-raw-max-k K recomputes them in float64 above K instead
const ENGINE_RAW_MAX_K = Number(opt('--engine-raw-max-k') ?? Infinity);
const DTYPES: StoreDtype[] = ['f32', 'f16', 'int8', 'sign'];
const DTYPE_KS = (opt('--dtype-ks') ?? (quick ? '16' : '16,64')).split(',').map(Number);
const DAMPING = 0.1;
const only = opt('--only'); // substring filter on setting names

interface Setting {
  name: string;
  task: 'causal-lm' | 'classification';
  bytes: Uint8Array;
  train: Example[];
  queries: Example[];
  note: string;
}

interface Row {
  setting: string;
  init: 'random' | 'pca';
  k: number;
  /** per-layer ranks actually used (k_out x k_in, clamped to the layer widths) */
  ranks: string;
  noneVsDot: number;
  rawVsDot: number;
  rawVsRaw: number;
  /** 'engine' when index.fit({hessian: 'raw'}) + query made the raw scores, else 'f64 from store' */
  rawSource: string;
  /** max rel. difference between the engine's scores and the float64 recomputation from its stored rows */
  noneCheck: number;
  rawCheck: number | null;
  seconds: number;
}

const now = () => performance.now();
const log = (s: string) => console.log(s);

// ---------------------------------------------------------------- settings

const GPT = { vocab: CHAR_VOCAB, nEmbd: 48, nHead: 4, nLayer: 3, nPositions: 32 };
const GPT_TRAIN = { steps: quick ? 60 : 300, batch: 16, lr: 3e-3, warmup: 30 };
const MLP_SIZES = [32, 64, 64, 4];
const MLP_TRAIN = { steps: quick ? 300 : 1500, batch: 32, lr: 0.05, seed: 11 };

async function gptSettings(): Promise<Setting[]> {
  // character-level KJV verses, 32 tokens; 8 held-out queries, 14 attribution training sequences that are also in
  // the trainer's data (the trained model saw them), the rest of the trainer's data
  const all = shuffled(await kjvCharExamples(GPT.nPositions, 4000), 7);
  const queries = all.slice(0, 8), train = all.slice(8, 22), trainerData = all.slice(8);
  const g = buildGpt2({ ...GPT, seed: 1 });
  const cfg = `GPT-2 ${GPT.nLayer} blocks, width ${GPT.nEmbd}, ${GPT.nHead} heads, vocab ${GPT.vocab} (chars), context ${GPT.nPositions}`;
  const out: Setting[] = [];
  out.push({ name: 'gpt2-random', task: 'causal-lm', bytes: encodeModel(g.model), train, queries, note: `${cfg}; random init (buildGpt2 seed 1)` });
  if (only && !'gpt2-trained'.includes(only)) return out; // --only gpt2-random: no training
  const t0 = now();
  const tr = await Trainer.create(g.model, g.params, { lr: GPT_TRAIN.lr, warmup: GPT_TRAIN.warmup, totalSteps: GPT_TRAIN.steps });
  const before = await tr.evaluate(queries as LmExample[]);
  const r = rng(3);
  let last = 0;
  for (let s = 0; s < GPT_TRAIN.steps; s++) {
    const batch = Array.from({ length: GPT_TRAIN.batch }, () => trainerData[Math.floor(r.uniform() * trainerData.length)]);
    last = (await tr.step(batch)).loss;
  }
  const after = await tr.evaluate(queries as LmExample[]);
  const bytes = encodeModel(tr.exportModel());
  await tr.release();
  const note = `${cfg}; trained ${GPT_TRAIN.steps} AdamW steps x ${GPT_TRAIN.batch} sequences (lr ${GPT_TRAIN.lr}) on ${trainerData.length} KJV verses; held-out loss/token ${before.toFixed(3)} -> ${after.toFixed(3)} nats (last batch ${last.toFixed(3)}; uniform = ${Math.log(GPT.vocab).toFixed(3)}); ${((now() - t0) / 1000).toFixed(0)} s`;
  log(note);
  out.push({ name: 'gpt2-trained', task: 'causal-lm', bytes, train, queries, note });
  return out;
}

function mlpSettings(): Setting[] {
  // teacher-student data: 2048 training points (the first 128 are the attribution set), 16 held-out queries
  const [dIn, , , classes] = MLP_SIZES;
  const data = teacherData(2048 + 16, dIn, classes, 5, 'x');
  const trainerData = data.slice(0, 2048), train = trainerData.slice(0, 128), queries = data.slice(2048);
  const cfg = `MLP ${MLP_SIZES.join('-')} (Gemm + ReLU), teacher-student data (10% label noise)`;
  const w = initMlp(MLP_SIZES, 1);
  const out: Setting[] = [{ name: 'mlp-random', task: 'classification', bytes: mlpOnnx(w), train, queries, note: `${cfg}; random init (torch Linear default, seed 1)` }];
  const e0 = evaluate(w, queries as ClassExample[]);
  trainMlp(w, trainerData as ClassExample[], MLP_TRAIN);
  const e1 = evaluate(w, queries as ClassExample[]), et = evaluate(w, trainerData as ClassExample[]);
  out.push({
    name: 'mlp-trained', task: 'classification', bytes: mlpOnnx(w), train, queries,
    note: `${cfg}; trained ${MLP_TRAIN.steps} SGD steps x ${MLP_TRAIN.batch} (lr ${MLP_TRAIN.lr}, momentum 0.9) on 2048 points; query acc ${e0.acc.toFixed(2)} -> ${e1.acc.toFixed(2)}, train acc ${et.acc.toFixed(2)}, query loss ${e0.loss.toFixed(3)} -> ${e1.loss.toFixed(3)}`,
  });
  return out;
}

// ---------------------------------------------------------------- measurement

async function logRows(engine: Engine, model: LoadedModel, examples: Example[], o: Parameters<Engine['log']>[2]): Promise<GradRows> {
  await engine.log(model, examples, o);
  return readRows(o.store);
}

async function engineScores(ix: Awaited<ReturnType<Engine['log']>>, queries: Example[], hessian: HessianKind): Promise<Scores> {
  await ix.fit({ hessian, damping: DAMPING });
  const r = await ix.query(queries, { topK: 0, mode: 'dot' });
  return r.scores!.map((s) => Float64Array.from(s));
}

interface StorageRow {
  setting: string;
  k: number;
  dtype: StoreDtype;
  /** Spearman of the raw scores with those of f32 rows (same projections), and with exact raw influence */
  vsF32: number;
  vsExactRaw: number;
  bytesPerExample: number;
}

async function measure(engine: Engine, s: Setting, rows: Row[], summary: Record<string, unknown>[], storage: StorageRow[]): Promise<void> {
  log(`\n## ${s.name}: ${s.note}`);
  let t0 = now();
  const model = await engine.loadModel(s.bytes, { task: s.task });
  log(`  loaded: ${model.layers.length} tapped layers (${model.layers.map((l) => `${l.dIn}->${l.dOut}`).join(', ')}) in ${((now() - t0) / 1000).toFixed(1)} s`);

  // exact gradients (exact mode) of the training set and the queries
  t0 = now();
  const exStore = new MemoryStore('exact-train');
  const exIx = await engine.log(model, s.train, { store: exStore, init: 'identity', hessian: 'none', batchSize: 8 });
  const exTrain = await readRows(exStore);
  const exQuery = await logRows(engine, model, s.queries, { store: new MemoryStore('exact-query'), init: 'identity', hessian: 'none', batchSize: 8 });
  const exactDot = influence(exTrain, exQuery, null);
  const exactRaw = influence(exTrain, exQuery, DAMPING);
  const engineExactDot = await engineScores(exIx, s.queries, 'none');
  const exactDotCheck = relErr(engineExactDot, exactDot);
  const totalK = exTrain.layers.reduce((a, l) => a + l.k, 0);
  const maxK = Math.max(...exTrain.layers.map((l) => l.k));
  let exactRawCheck: number | null = null;
  // the engine's own exact raw fit where the exact covariance is small enough to factorise here in seconds
  if (maxK <= 4096) {
    const t1 = now();
    exactRawCheck = relErr(await engineScores(exIx, s.queries, 'raw'), exactRaw);
    log(`  engine exact-mode raw fit + query (max covariance ${maxK}^2): ${((now() - t1) / 1000).toFixed(1)} s, rel. diff vs Woodbury ${exactRawCheck.toExponential(2)}`);
  }
  const context = meanSpearman(exactRaw, exactDot);
  log(`  exact gradients: ${totalK} weights per example over ${exTrain.layers.length} layers, ${((now() - t0) / 1000).toFixed(1)} s; engine exact dot vs f64 ${exactDotCheck.toExponential(2)}; Spearman(exact raw, exact dot) = ${context.toFixed(3)}`);
  summary.push({ setting: s.name, note: s.note, train: s.train.length, queries: s.queries.length, layers: model.layers.map((l) => ({ name: l.name, dIn: l.dIn, dOut: l.dOut })), exactWeights: totalK, exactDotCheck, exactRawCheck, spearmanExactRawVsDot: context });

  for (const init of ['random', 'pca'] as const) {
    for (const k of KS) {
      const seeds = init === 'random' ? SEEDS : [0];
      const acc = { none: 0, rawDot: 0, rawRaw: 0, noneCheck: 0, rawCheck: null as number | null, rawSource: '', ranks: '' };
      t0 = now();
      for (const seed of seeds) {
        const store = new MemoryStore(`${init}-${k}`);
        const ix = await engine.log(model, s.train, { store, init, kIn: k, kOut: k, seed, hessian: 'raw', batchSize: 8 });
        const trRows = await readRows(store);
        const proj = await ix.projections();
        const qRows = pick(await logRows(engine, model, s.queries, { store: new MemoryStore('q'), init: 'given', projections: proj, hessian: 'none', batchSize: 8 }), s.queries.map((e) => e.id));
        const ranks = ix.manifest.settings.layers.map((l) => `${l.kOut}x${l.kIn}`);
        acc.ranks = [...new Set(ranks)].join(', ');
        const none = await engineScores(ix, s.queries, 'none');
        acc.noneCheck = Math.max(acc.noneCheck, relErr(none, influence(trRows, qRows, null)));
        const rawF64 = influence(trRows, qRows, DAMPING);
        let raw = rawF64;
        if (k <= ENGINE_RAW_MAX_K) {
          raw = await engineScores(ix, s.queries, 'raw');
          acc.rawCheck = Math.max(acc.rawCheck ?? 0, relErr(raw, rawF64));
          acc.rawSource = 'engine';
        } else acc.rawSource = 'f64 from store';
        acc.none += meanSpearman(none, exactDot) / seeds.length;
        acc.rawDot += meanSpearman(raw, exactDot) / seeds.length;
        acc.rawRaw += meanSpearman(raw, exactRaw) / seeds.length;
      }
      const row: Row = { setting: s.name, init, k, ranks: acc.ranks, noneVsDot: acc.none, rawVsDot: acc.rawDot, rawVsRaw: acc.rawRaw, rawSource: acc.rawSource, noneCheck: acc.noneCheck, rawCheck: acc.rawCheck, seconds: (now() - t0) / 1000 };
      rows.push(row);
      log(`  ${init.padEnd(6)} k=${String(k).padStart(2)}  none/dot ${row.noneVsDot.toFixed(3)}  raw/dot ${row.rawVsDot.toFixed(3)}  raw/raw ${row.rawVsRaw.toFixed(3)}  (${row.rawSource}; checks ${row.noneCheck.toExponential(1)} / ${row.rawCheck?.toExponential(1) ?? '-'}; ${row.seconds.toFixed(1)} s)`);
    }
  }
  // stored row dtypes: the same random projections (seed 0), rows stored as f32 / f16 / int8 / sign
  for (const k of DTYPE_KS) {
    let f32: Scores | undefined;
    for (const dtype of DTYPES) {
      const store = new MemoryStore(`dtype-${dtype}-${k}`);
      const ix = await engine.log(model, s.train, { store, init: 'random', kIn: k, kOut: k, seed: 0, hessian: 'raw', batchSize: 8, dtype });
      const raw = await engineScores(ix, s.queries, 'raw');
      f32 ??= raw;
      const row: StorageRow = { setting: s.name, k, dtype, vsF32: meanSpearman(raw, f32), vsExactRaw: meanSpearman(raw, exactRaw), bytesPerExample: ix.manifest.chunks.reduce((a, c) => a + c.bytes, 0) / ix.size };
      storage.push(row);
      log(`  dtype ${dtype.padEnd(4)} k=${String(k).padStart(2)}  vs f32 rows ${row.vsF32.toFixed(3)}  vs exact raw ${row.vsExactRaw.toFixed(3)}  ${row.bytesPerExample.toFixed(0)} bytes/example`);
    }
  }
  await model.release();
}

// ---------------------------------------------------------------- main

const tStart = now();
const engine = await createEngine({ backend: 'cpu' });
log(`runtime: ${runtimeName()}; kernel backend: cpu; ORT EP: wasm; k in {${KS.join(', ')}}; random-init projection seeds {${SEEDS.join(', ')}}; damping ${DAMPING}`);
const settings = [...(!only || 'gpt2-'.includes(only) || only.startsWith('gpt') ? await gptSettings() : []), ...(!only || only.startsWith('mlp') ? mlpSettings() : [])].filter((s) => !only || s.name.includes(only));
const rows: Row[] = [];
const summary: Record<string, unknown>[] = [];
const storage: StorageRow[] = [];
for (const s of settings) await measure(engine, s, rows, summary, storage);
engine.dispose();

const fmt = (v: number) => v.toFixed(3);
log(`\nMean Spearman over queries (LoGra scores vs exact scores over the training set); k_in = k_out = k (clamped per layer to its widths).`);
log(`none/dot: hessian none vs exact gradient dot products. raw/dot: hessian raw (damping ${DAMPING}) vs exact dot products (the calibration's comparison).`);
log(`raw/exact-raw: hessian raw vs exact raw-damped influence (Woodbury, exact for every layer). * = raw LoGra scores recomputed in float64 from the engine's stored projected gradients (k > ${ENGINE_RAW_MAX_K}).\n`);
const md = table(
  ['model', 'init', 'k', 'ranks used (k_out x k_in)', 'none vs exact dot', 'raw vs exact dot', 'raw vs exact raw'],
  rows.map((r) => [r.setting, r.init, r.k, r.ranks, fmt(r.noneVsDot), fmt(r.rawVsDot) + (r.rawSource === 'engine' ? '' : '*'), fmt(r.rawVsRaw) + (r.rawSource === 'engine' ? '' : '*')]),
);
log(md);
log('\nReference points per model: Spearman(exact raw, exact dot); engine exact mode vs float64 (max rel. diff); engine vs float64 recomputation of its own LoGra scores (worst over k and init).');
log(
  table(
    ['model', 'train x queries', 'exact weights / example', 'Spearman(exact raw, exact dot)', 'exact dot: engine vs f64', 'exact raw: engine vs Woodbury', 'LoGra none: engine vs f64', 'LoGra raw: engine vs f64'],
    summary.map((s) => {
      const rs = rows.filter((r) => r.setting === s.setting);
      const worst = (f: (r: Row) => number | null) => {
        const v = rs.map(f).filter((x): x is number => x !== null);
        return v.length ? Math.max(...v).toExponential(1) : '-';
      };
      return [s.setting as string, `${s.train} x ${s.queries}`, String(s.exactWeights), fmt(s.spearmanExactRawVsDot as number), (s.exactDotCheck as number).toExponential(1), s.exactRawCheck === null ? 'not run (covariance too large)' : (s.exactRawCheck as number).toExponential(1), worst((r) => r.noneCheck), worst((r) => r.rawCheck)];
    }),
  ),
);
const storageMd = table(
  ['model', 'k', 'dtype', 'Spearman vs f32 rows', 'Spearman vs exact raw', 'bytes per example', 'vs f32 size'],
  storage.map((r) => {
    const base = storage.find((x) => x.setting === r.setting && x.k === r.k && x.dtype === 'f32')!;
    return [r.setting, r.k, r.dtype, fmt(r.vsF32), fmt(r.vsExactRaw), r.bytesPerExample.toFixed(0), `${(base.bytesPerExample / r.bytesPerExample).toFixed(1)}x smaller`];
  }),
);
log(`\nStored row dtypes (random init, seed 0, raw Hessian, damping ${DAMPING}): the cost of storing rows as f16, int8 (a scale per 64 values) or 1-bit signs (a scale per 64 values).\n`);
log(storageMd);
log(`\ntotal ${((now() - tStart) / 1000).toFixed(0)} s`);
if (jsonPath) await writeJson(jsonPath, { runtime: runtimeName(), ks: KS, seeds: SEEDS, damping: DAMPING, engineRawMaxK: Number.isFinite(ENGINE_RAW_MAX_K) ? ENGINE_RAW_MAX_K : null, settings: summary, rows, storage, markdown: md, storageMarkdown: storageMd });
exit(0);
