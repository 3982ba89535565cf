// The LDS task: classify KJV verses (public/corpus/kjv.jsonl) by book from hashed bag-of-words features, with a
// small ReLU MLP (the bench's mlp.ts weights layout and ONNX export) trained in float64 TypeScript. The trainer here
// is mlp.ts's minibatch SGD with momentum, specialised to sparse inputs (a verse has ~20 distinct words out of D
// hashed buckets, so the first layer touches only those columns) and with seeded epoch shuffles and L2 weight
// decay: one retrain on 500 verses takes a fraction of a second, so M >= 50 retrains are cheap.
import { fnv1a32 } from '../../src/train/data.ts';
import type { ClassExample } from '../../src/runtime/batch.ts';
import { rng } from '../../src/train/rng.ts';
import { initMlp, type MlpWeights } from './mlp.ts';
import { shuffled } from './common.ts';

/** Books of distinct genres (narrative, law, poetry, wisdom, prophecy, gospel, history, epistle). */
export const LDS_BOOKS = ['Genesis', 'Leviticus', 'Psalms', 'Proverbs', 'Isaiah', 'Matthew', 'Acts', 'Romans'];

/** One verse: sparse features (bucket, value) and the dense ClassExample the engine logs. */
export interface SparseExample {
  id: string;
  label: number;
  idx: Int32Array;
  val: Float64Array;
}

export interface VerseData {
  dims: number;
  books: string[];
  pool: SparseExample[];
  queries: SparseExample[];
  /** held-out verses (disjoint from pool and queries) for accuracy/loss of the models */
  test: SparseExample[];
}

/** log(1 + count) of each hashed lower-case word, L2-normalised, rounded to float32 (what the ONNX model sees). */
export function hashedBow(text: string, dims: number): { idx: Int32Array; val: Float64Array } {
  const counts = new Map<number, number>();
  for (const w of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    const h = fnv1a32(w) % dims;
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  const idx = Int32Array.from([...counts.keys()].sort((a, b) => a - b));
  const raw = Array.from(idx, (i) => Math.log1p(counts.get(i)!));
  const norm = Math.sqrt(raw.reduce((a, v) => a + v * v, 0)) || 1;
  return { idx, val: Float64Array.from(raw, (v) => Math.fround(v / norm)) };
}

export function toDense(e: SparseExample, dims: number): ClassExample {
  const input = new Array<number>(dims).fill(0);
  e.idx.forEach((i, j) => (input[i] = e.val[j]));
  return { id: e.id, input, label: e.label };
}

/** public/corpus/kjv.jsonl through node:fs (Node, Deno), loaded on first use so that a page can import this file. */
async function readCorpus(): Promise<string> {
  const fs = (await import(/* @vite-ignore */ 'node:fs/promises' as string)) as typeof import('node:fs/promises');
  return fs.readFile(new URL('../../public/corpus/kjv.jsonl', import.meta.url), 'utf8');
}

/**
 * Balanced per book: `pool` training verses, `queries` query verses and `test` evaluation verses, seeded. `corpus`
 * is the text of kjv.jsonl (a page fetches it); without it the file is read from public/corpus.
 */
export async function loadVerses(o: { dims: number; pool: number; queries: number; test: number; seed: number; corpus?: string }): Promise<VerseData> {
  const text = o.corpus ?? (await readCorpus());
  const byBook = new Map<string, { id: string; text: string }[]>(LDS_BOOKS.map((b) => [b, []]));
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const v = JSON.parse(line) as { id: string; book: string; text: string };
    byBook.get(v.book)?.push(v);
  }
  const C = LDS_BOOKS.length;
  const per = (n: number) => Math.ceil(n / C);
  const out: VerseData = { dims: o.dims, books: LDS_BOOKS, pool: [], queries: [], test: [] };
  LDS_BOOKS.forEach((b, label) => {
    const vs = shuffled(byBook.get(b)!, o.seed + label);
    const mk = (v: { id: string; text: string }): SparseExample => ({ id: v.id, label, ...hashedBow(v.text, o.dims) });
    let at = 0;
    for (const [key, n] of [['pool', o.pool], ['queries', o.queries], ['test', o.test]] as const) {
      out[key].push(...vs.slice(at, at + per(n)).map(mk));
      at += per(n);
    }
  });
  // interleave the books (the pool order is the order the engine logs; it does not matter for the scores)
  out.pool = shuffled(out.pool, o.seed + 100).slice(0, o.pool);
  out.queries = shuffled(out.queries, o.seed + 101).slice(0, o.queries);
  out.test = shuffled(out.test, o.seed + 102).slice(0, o.test);
  return out;
}

export interface TrainRecipe {
  hidden: number;
  epochs: number;
  batch: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** seed of the weight init (the same for every model: retrains differ only in their data and batch order) */
  initSeed: number;
}

/** Logits of one sparse example (float64), with the hidden post-ReLU activations. */
function forward(m: MlpWeights, e: SparseExample): { h: Float64Array; z: Float64Array } {
  const [D, H, C] = m.sizes;
  const h = new Float64Array(H);
  const W1 = m.w[0], W2 = m.w[1];
  for (let o = 0; o < H; o++) {
    let s = m.b[0][o];
    const row = o * D;
    for (let j = 0; j < e.idx.length; j++) s += W1[row + e.idx[j]] * e.val[j];
    h[o] = s > 0 ? s : 0;
  }
  const z = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = m.b[1][c];
    for (let o = 0; o < H; o++) s += W2[c * H + o] * h[o];
    z[c] = s;
  }
  return { h, z };
}

/** Per-example cross-entropy (nats) and whether the argmax is right. */
export function exampleLoss(m: MlpWeights, e: SparseExample): { loss: number; hit: boolean } {
  const { z } = forward(m, e);
  let mx = -Infinity, arg = 0;
  for (let c = 0; c < z.length; c++) if (z[c] > mx) { mx = z[c]; arg = c; }
  let s = 0;
  for (let c = 0; c < z.length; c++) s += Math.exp(z[c] - mx);
  return { loss: mx + Math.log(s) - z[e.label], hit: arg === e.label };
}

export function evaluateSparse(m: MlpWeights, data: SparseExample[]): { loss: number; acc: number } {
  let loss = 0, hit = 0;
  for (const e of data) {
    const r = exampleLoss(m, e);
    loss += r.loss;
    if (r.hit) hit++;
  }
  return { loss: loss / data.length, acc: hit / data.length };
}

/**
 * Minibatch SGD with momentum on mean cross-entropy + (weightDecay / 2) ||W||^2 (weights, not biases), `epochs`
 * seeded shuffles of `data` (seed `orderSeed`), from initMlp([D, hidden, classes], initSeed).
 */
export function trainSparseMlp(data: SparseExample[], dims: number, classes: number, r: TrainRecipe, orderSeed: number): MlpWeights {
  const m = initMlp([dims, r.hidden, classes], r.initSeed);
  const [D, H, C] = m.sizes;
  const vw = m.w.map((w) => new Float64Array(w.length)), vb = m.b.map((b) => new Float64Array(b.length));
  const gw = m.w.map((w) => new Float64Array(w.length)), gb = m.b.map((b) => new Float64Array(b.length));
  const order = Array.from({ length: data.length }, (_, i) => i);
  const g = rng(orderSeed);
  const dh = new Float64Array(H), dz = new Float64Array(C);
  for (let ep = 0; ep < r.epochs; ep++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(g.uniform() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let s = 0; s < order.length; s += r.batch) {
      const end = Math.min(order.length, s + r.batch), bs = end - s;
      for (const a of gw) a.fill(0);
      for (const a of gb) a.fill(0);
      for (let t = s; t < end; t++) {
        const e = data[order[t]];
        const { h, z } = forward(m, e);
        let mx = -Infinity;
        for (let c = 0; c < C; c++) mx = Math.max(mx, z[c]);
        let sum = 0;
        for (let c = 0; c < C; c++) sum += (dz[c] = Math.exp(z[c] - mx));
        for (let c = 0; c < C; c++) dz[c] = dz[c] / sum - (c === e.label ? 1 : 0);
        dh.fill(0);
        for (let c = 0; c < C; c++) {
          gb[1][c] += dz[c];
          for (let o = 0; o < H; o++) {
            gw[1][c * H + o] += dz[c] * h[o];
            dh[o] += m.w[1][c * H + o] * dz[c];
          }
        }
        for (let o = 0; o < H; o++) {
          if (h[o] <= 0) continue; // ReLU
          gb[0][o] += dh[o];
          const row = o * D;
          for (let j = 0; j < e.idx.length; j++) gw[0][row + e.idx[j]] += dh[o] * e.val[j];
        }
      }
      for (let l = 0; l < 2; l++) {
        const w = m.w[l], v = vw[l], gg = gw[l];
        for (let j = 0; j < w.length; j++) {
          v[j] = r.momentum * v[j] + gg[j] / bs + r.weightDecay * w[j];
          w[j] -= r.lr * v[j];
        }
        const b = m.b[l], u = vb[l], gbb = gb[l];
        for (let j = 0; j < b.length; j++) {
          u[j] = r.momentum * u[j] + gbb[j] / bs;
          b[j] -= r.lr * u[j];
        }
      }
    }
  }
  return m;
}

/** The M random 50% subsets (indices into the pool, sorted), seeded. */
export function halfSubsets(n: number, m: number, seed: number): number[][] {
  return Array.from({ length: m }, (_, j) => {
    const perm = shuffled(Array.from({ length: n }, (_, i) => i), seed * 1000 + j);
    return perm.slice(0, Math.floor(n / 2)).sort((a, b) => a - b);
  });
}
