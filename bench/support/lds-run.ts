// The linear datamodeling score (LDS; Park et al. 2023, as used by LoGra (Choe et al. 2024) and dattri) of the
// engine's influence scores on a real classification task (bench/support/lds-task.ts: KJV verses -> book).
//
//  1. Train the MLP on the whole pool (N verses) -> the model whose influence scores are computed.
//  2. Draw M random 50% subsets S_j of the pool (seeded); retrain from the same init on each (its own seeded batch
//     order); record every query's loss L_q(S_j) (cross-entropy, nats).
//  3. Scores s(q, n) from the engine on the full-pool model: engine.log(init, k) -> index.fit({hessian}) ->
//     index.query(queries, {mode: 'dot'}); s(q, n) = g_q^T (H + lambda I)^{-1} g_n with g the gradient of the loss.
//     Sign: upweighting n by eps moves the weights by -eps H^{-1} g_n, so q's loss changes by -eps s(q, n): a
//     positive score means "n helps q" (lowers its loss). The predicted loss of the model trained on S_j is
//     therefore  pred_q(S_j) = -sum_{n in S_j} s(q, n)  (up to a constant and a positive scale, which a rank
//     correlation ignores).
//  4. LDS = mean over queries of Spearman(pred_q(S_j), L_q(S_j)) across j = 1..M.
// Exact mode (init 'identity': full per-example weight gradients through the same pipeline) is the ceiling; its raw
// scores are computed in float64 from the stored exact gradients with the Woodbury identity (support/influence64.ts),
// because the engine's raw fit would factorise a (D x hidden)^2 covariance for the first layer.
import { createEngine, type HessianKind, type Engine, type LoadedModel, type LograIndex } from '../../src/logra/mod.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { influenceDampings, readRows, spearman, type GradRows, type Scores } from './influence64.ts';
import { mlpOnnx } from './mlp.ts';
import { evaluateSparse, exampleLoss, halfSubsets, loadVerses, toDense, trainSparseMlp, LDS_BOOKS, type TrainRecipe } from './lds-task.ts';
import { runtimeName, table } from './common.ts';

export interface LdsOptions {
  quick?: boolean;
  /** training pool size N (default 1000; quick 300) */
  pool?: number;
  /** number of retrains M (default 64; quick 50) */
  models?: number;
  /** held-out queries (default 32; quick 16) */
  queries?: number;
  /** projection ranks k_in = k_out = k (default 4,8,16,32; quick 4,16) */
  ks?: number[];
  hessians?: HessianKind[];
  inits?: ('random' | 'pca')[];
  /** run the exact-mode ceiling (default true) */
  exact?: boolean;
  /** relative dampings (lambda_l = damping x mean eigenvalue); every (init, k, hessian) is fitted with each
   *  (default 0.1,1,10; quick 0.1,1). The first is the headline table. */
  dampings?: number[];
  /** hashed bag-of-words dimension (default 512) */
  dims?: number;
  log?: (line: string) => void;
  /** the text of public/corpus/kjv.jsonl (pages fetch it; Node and Deno read the file when absent) */
  corpus?: string;
}

export interface LdsRow {
  init: 'random' | 'pca' | 'identity';
  /** 0 for exact mode */
  k: number;
  hessian: HessianKind;
  damping: number;
  /** mean over queries of the Spearman correlation */
  lds: number;
  /** standard error of that mean over queries */
  se: number;
  /** per-layer ranks used (k_out x k_in) */
  ranks: string;
  /** where the scores came from */
  source: 'engine' | 'f64 Woodbury from the engine\'s exact gradients';
  fitS: number;
  queryS: number;
}

export interface LdsResult {
  suite: 'lds';
  runtime: string;
  date: string;
  quick: boolean;
  task: Record<string, unknown>;
  recipe: TrainRecipe;
  dampings: number[];
  seeds: Record<string, number>;
  fullModel: { trainAcc: number; trainLoss: number; testAcc: number; testLoss: number; queryLoss: number; seconds: number };
  retrains: { M: number; subsetSize: number; seconds: number; meanTestAcc: number; meanQueryLoss: number; queryLossSdAcrossSubsets: number };
  rows: LdsRow[];
  /** wall-clock seconds of the whole suite */
  seconds: number;
  markdown: string;
}

const now = () => performance.now();

/** LDS of a [query][pool] score matrix against actual[j][q] losses of the subset models. */
export function ldsOf(scores: Scores | Float32Array[], subsets: number[][], actual: number[][]): { mean: number; se: number } {
  const Q = scores.length;
  const per: number[] = [];
  for (let q = 0; q < Q; q++) {
    const s = scores[q];
    const pred = subsets.map((S) => -S.reduce((a, n) => a + s[n], 0));
    per.push(spearman(pred, actual.map((r) => r[q])));
  }
  const mean = per.reduce((a, v) => a + v, 0) / Q;
  const sd = Math.sqrt(per.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, Q - 1));
  return { mean, se: sd / Math.sqrt(Q) };
}

/** index.query scores re-ordered to the pool order. */
async function scoresInPoolOrder(ix: LograIndex, queries: Parameters<LograIndex['query']>[0], poolIds: string[]): Promise<Float32Array[]> {
  const r = await ix.query(queries, { topK: 0, mode: 'dot', batchSize: 64 });
  const at = new Map(r.trainIds.map((id, i) => [id, i]));
  const idx = poolIds.map((id) => at.get(id)!);
  return r.scores!.map((s) => Float32Array.from(idx, (i) => s[i]));
}

export async function runLds(o: LdsOptions = {}): Promise<LdsResult> {
  const log = o.log ?? ((s: string) => console.log(s));
  const quick = !!o.quick;
  const N = o.pool ?? (quick ? 300 : 1000);
  const M = o.models ?? (quick ? 50 : 64);
  const Q = o.queries ?? (quick ? 16 : 32);
  const KS = o.ks ?? (quick ? [4, 16] : [4, 8, 16, 32]);
  const HESSIANS = o.hessians ?? (['none', 'raw', 'kfac', 'ekfac'] as HessianKind[]);
  const INITS = o.inits ?? (['random', 'pca'] as const);
  const D = o.dims ?? 512;
  const DAMPINGS = o.dampings ?? (quick ? [0.1, 1] : [0.1, 1, 10]);
  const seeds = { data: 1, subsets: 1, init: 1, fullOrder: 0, projection: 0 };
  const recipe: TrainRecipe = { hidden: 32, epochs: 20, batch: 32, lr: 0.05, momentum: 0.9, weightDecay: 5e-3, initSeed: seeds.init };
  const C = LDS_BOOKS.length;
  const t0 = now();

  const data = await loadVerses({ dims: D, pool: N, queries: Q, test: 400, seed: seeds.data, corpus: o.corpus });
  const task = {
    description: `KJV verse -> book (${C} classes: ${LDS_BOOKS.join(', ')}), hashed bag of words (fnv1a32 % ${D}, log(1 + count), L2-normalised)`,
    model: `MLP ${D}-${recipe.hidden}-${C} (Gemm transB=1 + ReLU), ONNX built in code (bench/support/mlp.ts); trained in float64 TS (bench/support/lds-task.ts: minibatch SGD + momentum, L2 weight decay)`,
    pool: N, queries: Q, test: data.test.length, classes: C, dims: D,
    exactWeightsPerExample: D * recipe.hidden + recipe.hidden * C,
  };
  log(`LDS: ${task.description}\n  ${task.model}\n  pool ${N}, queries ${Q}, test ${data.test.length}, M = ${M} retrains on 50% subsets; k in {${KS.join(', ')}}; dampings ${DAMPINGS.join(', ')}`);

  // 1. the full-pool model
  let t = now();
  const full = trainSparseMlp(data.pool, D, C, recipe, seeds.fullOrder);
  const fullS = (now() - t) / 1000;
  const tr = evaluateSparse(full, data.pool), te = evaluateSparse(full, data.test), qe = evaluateSparse(full, data.queries);
  const fullModel = { trainAcc: tr.acc, trainLoss: tr.loss, testAcc: te.acc, testLoss: te.loss, queryLoss: qe.loss, seconds: fullS };
  log(`  full-pool model: train acc ${tr.acc.toFixed(3)} (loss ${tr.loss.toFixed(3)}), test acc ${te.acc.toFixed(3)} (loss ${te.loss.toFixed(3)}; chance ${(1 / C).toFixed(3)}), ${fullS.toFixed(1)} s`);

  // 2. retrains
  t = now();
  const subsets = halfSubsets(N, M, seeds.subsets);
  const actual: number[][] = [];
  let accSum = 0;
  for (let j = 0; j < M; j++) {
    const mj = trainSparseMlp(subsets[j].map((i) => data.pool[i]), D, C, recipe, 1000 + j);
    actual.push(data.queries.map((q) => exampleLoss(mj, q).loss));
    accSum += evaluateSparse(mj, data.test).acc;
  }
  const retrainS = (now() - t) / 1000;
  const flat = actual.flat();
  const meanQ = flat.reduce((a, v) => a + v, 0) / flat.length;
  let sdAcross = 0;
  for (let q = 0; q < Q; q++) {
    const v = actual.map((r) => r[q]);
    const m = v.reduce((a, x) => a + x, 0) / M;
    sdAcross += Math.sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / (M - 1)) / Q;
  }
  const retrains = { M, subsetSize: subsets[0].length, seconds: retrainS, meanTestAcc: accSum / M, meanQueryLoss: meanQ, queryLossSdAcrossSubsets: sdAcross };
  log(`  ${M} retrains on ${subsets[0].length} verses: ${retrainS.toFixed(1)} s; mean test acc ${(accSum / M).toFixed(3)}; mean query loss ${meanQ.toFixed(3)} (sd across subsets ${sdAcross.toFixed(3)})`);

  // 3. engine scores
  const engine: Engine = await createEngine({ backend: 'cpu' });
  const rows: LdsRow[] = [];
  try {
    const model: LoadedModel = await engine.loadModel(mlpOnnx(full), { task: 'classification' });
    const trainDense = data.pool.map((e) => toDense(e, D)), queryDense = data.queries.map((e) => toDense(e, D));
    const poolIds = data.pool.map((e) => e.id);
    const measure = async (ix: LograIndex, init: LdsRow['init'], k: number, hessian: HessianKind, damping: number): Promise<void> => {
      const t1 = now();
      await ix.fit({ hessian, damping });
      const t2 = now();
      const sc = await scoresInPoolOrder(ix, queryDense, poolIds);
      const t3 = now();
      const r = ldsOf(sc, subsets, actual);
      const ranks = [...new Set(ix.manifest.settings.layers.map((l) => `${l.kOut}x${l.kIn}`))].join(', ');
      rows.push({ init, k, hessian, damping, lds: r.mean, se: r.se, ranks, source: 'engine', fitS: (t2 - t1) / 1000, queryS: (t3 - t2) / 1000 });
      log(`  ${init.padEnd(8)} k=${String(k).padStart(2)} ${hessian.padEnd(5)} d=${damping} LDS ${r.mean.toFixed(3)} +- ${r.se.toFixed(3)}  (${ranks}; fit ${((t2 - t1) / 1000).toFixed(1)} s, query ${((t3 - t2) / 1000).toFixed(1)} s)`);
    };
    for (const init of INITS) {
      for (const k of KS) {
        const ix = await engine.log(model, trainDense, { store: new MemoryStore(`lds-${init}-${k}`), init, kIn: k, kOut: k, seed: seeds.projection, hessian: 'raw', batchSize: 64 });
        for (const h of HESSIANS) for (const d of h === 'none' ? [DAMPINGS[0]] : DAMPINGS) await measure(ix, init, k, h, d);
      }
    }
    if (o.exact ?? true) {
      const store = new MemoryStore('lds-exact');
      const ix = await engine.log(model, trainDense, { store, init: 'identity', hessian: 'none', batchSize: 64 });
      for (const h of HESSIANS) {
        const ds = h === 'none' ? [DAMPINGS[0]] : DAMPINGS;
        if (h !== 'raw') {
          for (const d of ds) await measure(ix, 'identity', 0, h, d);
          continue;
        }
        const t1 = now();
        const qStore = new MemoryStore('lds-exact-q');
        await engine.log(model, queryDense, { store: qStore, init: 'identity', hessian: 'none', batchSize: 64 });
        const byId = (rws: GradRows, ids: string[]): GradRows => {
          const at = new Map(rws.ids.map((id, i) => [id, i]));
          return { ids, layers: rws.layers, blocks: rws.blocks.map((b) => ids.map((id) => b[at.get(id)!])) };
        };
        const trRows = byId(await readRows(store), poolIds);
        const qRows = byId(await readRows(qStore), queryDense.map((e) => e.id));
        const all = influenceDampings(trRows, qRows, ds);
        const s = (now() - t1) / 1000;
        ds.forEach((damping, di) => {
          const r = ldsOf(all[di], subsets, actual);
          rows.push({ init: 'identity', k: 0, hessian: 'raw', damping, lds: r.mean, se: r.se, ranks: 'full', source: "f64 Woodbury from the engine's exact gradients", fitS: s, queryS: 0 });
          log(`  exact    raw   d=${damping} LDS ${r.mean.toFixed(3)} +- ${r.se.toFixed(3)}  (float64 Woodbury from the exact gradients, all dampings ${s.toFixed(1)} s)`);
        });
      }
    }
    await model.release();
  } finally {
    engine.dispose();
  }

  const seconds = (now() - t0) / 1000;
  const res: LdsResult = { suite: 'lds', runtime: runtimeName(), date: new Date().toISOString(), quick, task, recipe, dampings: DAMPINGS, seeds, fullModel, retrains, rows, seconds, markdown: '' };
  res.markdown = ldsMarkdown(res);
  return res;
}

/** One table per damping: a row per (init, k), a column per hessian ('none' does not depend on the damping). */
export function ldsMarkdown(r: LdsResult): string {
  const hs = [...new Set(r.rows.map((x) => x.hessian))];
  const keys = [...new Set(r.rows.map((x) => `${x.init}|${x.k}`))];
  return r.dampings
    .map((d) => {
      const body = keys.map((key) => {
        const [init, k] = key.split('|');
        const cells = hs.map((h) => {
          const x = r.rows.find((y) => `${y.init}|${y.k}` === key && y.hessian === h && (h === 'none' || y.damping === d));
          return x ? `${x.lds.toFixed(3)} ± ${x.se.toFixed(3)}` : '-';
        });
        const ranks = r.rows.find((y) => `${y.init}|${y.k}` === key)!.ranks;
        return [init === 'identity' ? 'exact (identity)' : init, k === '0' ? 'full' : k, ranks, ...cells];
      });
      return `damping ${d} (lambda_l = ${d} x mean eigenvalue of the layer's curvature):\n\n` + table(['init', 'k', 'ranks (k_out x k_in)', ...hs.map((h) => `LDS ${h}`)], body);
    })
    .join('\n\n');
}
