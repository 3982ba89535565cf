// The demo's training data rules, shared by the training script and by whoever indexes the training set for
// attribution: which ids are held out, how a text becomes a training example, batching by length, and the unigram
// baseline the trained model is compared against. Browser-safe (no Node imports).
import type { LmExample } from '../runtime/batch.ts';

/** 32-bit FNV-1a of the UTF-8 bytes of a string. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Default held-out share of the demo split, in percent. */
export const HELD_OUT_PERCENT = 5;

/**
 * The demo split, stable by id (independent of file order and of the other rows): an id is held out when
 * fnv1a32(id) % 100 < percent. Everything else is training data.
 */
export function isHeldOut(id: string, percent: number = HELD_OUT_PERCENT): boolean {
  return fnv1a32(id) % 100 < percent;
}

export interface ExampleFormat {
  /** the end-of-text id: it opens every example (as a beginning-of-text mark) and closes it */
  eot: number;
  /** longest example in tokens (the model's context); longer texts are truncated to their first maxLen tokens */
  maxLen: number;
}

/** A text's token ids -> the training example's ids: [EOT, ...ids, EOT], truncated to maxLen. */
export function formatExample(ids: readonly number[], f: ExampleFormat): number[] {
  if (f.maxLen < 2) throw new RangeError(`maxLen ${f.maxLen} is below 2`);
  return [f.eot, ...ids, f.eot].slice(0, f.maxLen);
}

/**
 * Shuffled batches of examples of similar length (less padding): the examples are shuffled, cut into pools of
 * `pool` batches, each pool is sorted by length and cut into batches, and the batches are shuffled again.
 * `uniform` is a seeded [0, 1) generator, so the order is reproducible.
 */
export function lengthBucketedBatches<T extends LmExample>(examples: readonly T[], batchSize: number, uniform: () => number, pool = 32): T[][] {
  const order = shuffle([...examples], uniform);
  const batches: T[][] = [];
  const span = batchSize * pool;
  for (let s = 0; s < order.length; s += span) {
    const chunk = order.slice(s, s + span).sort((a, b) => a.input_ids.length - b.input_ids.length);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return shuffle(batches, uniform);
}

export function shuffle<T>(a: T[], uniform: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Unigram baseline: the distribution of the *predicted* tokens (every token after the first of each example) of
 * the training examples, add-alpha smoothed over the vocabulary, and its mean cross-entropy (nats per predicted
 * token) on the predicted tokens of `evalExamples` — the same tokens the model's loss averages over.
 */
export function unigramBaseline(train: readonly LmExample[], evalExamples: readonly LmExample[], vocab: number, alpha = 1): { trainEntropy: number; crossEntropy: number } {
  const counts = new Float64Array(vocab);
  let total = 0;
  for (const e of train) for (let t = 1; t < e.input_ids.length; t++) {
    counts[e.input_ids[t]]++;
    total++;
  }
  const denom = total + alpha * vocab;
  const logp = Array.from(counts, (c) => Math.log((c + alpha) / denom));
  const ce = (set: readonly LmExample[]) => {
    let s = 0, n = 0;
    for (const e of set) for (let t = 1; t < e.input_ids.length; t++) {
      s -= logp[e.input_ids[t]];
      n++;
    }
    return s / Math.max(1, n);
  };
  return { trainEntropy: ce(train), crossEntropy: ce(evalExamples) };
}
