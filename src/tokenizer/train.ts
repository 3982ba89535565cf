/**
 * Byte-level BPE training by iterative pair merging on pre-token counts.
 *
 * Each distinct GPT-2 pre-token is a sequence of ids weighted by its count. Pair counts are kept in a map and a
 * lazily-invalidated max-heap; each merge rewrites only the words that contain the pair (found through a pair ->
 * words index) and applies the resulting pair-count deltas, so nothing is recounted from scratch.
 *
 * Determinism: the most frequent pair wins; ties go to the smaller (left id, right id). The result depends only on
 * the multiset of pre-tokens, not on document order, iteration order or platform.
 */
import { MAX_VOCAB } from './format.ts';
import { pretokenize } from './pretokenize.ts';
import { ByteBPETokenizer, END_OF_TEXT } from './tokenizer.ts';

export interface TrainOptions {
  /** Target total vocabulary: 256 bytes + merges + special tokens. */
  vocabSize: number;
  /** Default ["<|endoftext|>"]. */
  specialTokens?: string[];
  /** Stop early when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Stored in the JSON's "training" field. */
  metadata?: Record<string, unknown>;
  /** Called every `progressEvery` merges (default 250). */
  onProgress?: (merges: number, target: number) => void;
  progressEvery?: number;
}

/** Counts GPT-2 pre-tokens over documents. Special-token text inside documents is counted as ordinary text. */
export function countPretokens(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of texts) for (const p of pretokenize(t)) counts.set(p, (counts.get(p) ?? 0) + 1);
  return counts;
}

/** Max-heap of (count, pair key) ordered by count desc, then key asc. Entries may be stale. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  private before(c1: number, k1: number, c2: number, k2: number): boolean {
    return c1 > c2 || (c1 === c2 && k1 < k2);
  }
  push(count: number, key: number): void {
    const c = this.counts, k = this.keys;
    let i = k.length;
    c.push(count);
    k.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(count, key, c[p], k[p])) break;
      c[i] = c[p];
      k[i] = k[p];
      i = p;
    }
    c[i] = count;
    k[i] = key;
  }
  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const c = this.counts, k = this.keys;
    const top: [number, number] = [c[0], k[0]];
    const lc = c.pop()!, lk = k.pop()!;
    const n = k.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let ch = 2 * i + 1;
        if (ch >= n) break;
        if (ch + 1 < n && this.before(c[ch + 1], k[ch + 1], c[ch], k[ch])) ch++;
        if (!this.before(c[ch], k[ch], lc, lk)) break;
        c[i] = c[ch];
        k[i] = k[ch];
        i = ch;
      }
      c[i] = lc;
      k[i] = lk;
    }
    return top;
  }
}

/** Learns merges from pre-token counts; returns the flat [left0, right0, left1, right1, ...] merge list. */
export function learnMerges(counts: Map<string, number>, numMerges: number, opts: Pick<TrainOptions, 'minFrequency' | 'onProgress' | 'progressEvery'> = {}): number[] {
  const minFrequency = opts.minFrequency ?? 2;
  const every = opts.progressEvery ?? 250;
  const enc = new TextEncoder();
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [piece, c] of counts) {
    const b = enc.encode(piece);
    if (b.length < 2) continue; // no pairs, never changes
    words.push(Array.from(b));
    freq.push(c);
  }
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>();
  for (let w = 0; w < words.length; w++) {
    const s = words[w], f = freq[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] * MAX_VOCAB + s[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      let list = where.get(key);
      if (!list) where.set(key, (list = []));
      if (list[list.length - 1] !== w) list.push(w);
    }
  }
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  const merges: number[] = [];
  const lastVisit = new Int32Array(words.length).fill(-1);
  const delta = new Map<number, number>();
  while (merges.length / 2 < numMerges && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count) continue; // stale
    if (count < minFrequency) break;
    const rank = merges.length / 2;
    const a = Math.floor(key / MAX_VOCAB), b = key - a * MAX_VOCAB, id = 256 + rank;
    merges.push(a, b);
    const list = where.get(key) ?? [];
    pairCount.delete(key);
    where.delete(key);
    const touched = new Map<number, number>();
    for (const w of list) {
      if (lastVisit[w] === rank) continue;
      lastVisit[w] = rank;
      const s = words[w];
      let hit = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) { hit = true; break; }
      if (!hit) continue; // stale index entry
      const t: number[] = [];
      for (let i = 0; i < s.length; ) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          t.push(id);
          i += 2;
        } else t.push(s[i++]);
      }
      delta.clear();
      for (let i = 0; i + 1 < s.length; i++) {
        const k = s[i] * MAX_VOCAB + s[i + 1];
        delta.set(k, (delta.get(k) ?? 0) - 1);
      }
      for (let i = 0; i + 1 < t.length; i++) {
        const k = t[i] * MAX_VOCAB + t[i + 1];
        delta.set(k, (delta.get(k) ?? 0) + 1);
      }
      const f = freq[w];
      for (const [k, d] of delta) {
        if (d === 0 || k === key) continue;
        const c = (pairCount.get(k) ?? 0) + d * f;
        if (c > 0) pairCount.set(k, c);
        else pairCount.delete(k);
        touched.set(k, c);
        // Only pairs containing the new id can be new to this word; add the word to their index.
        if (d > 0 && (Math.floor(k / MAX_VOCAB) === id || k % MAX_VOCAB === id)) {
          let l = where.get(k);
          if (!l) where.set(k, (l = []));
          if (l[l.length - 1] !== w) l.push(w);
        }
      }
      words[w] = t;
    }
    for (const [k, c] of touched) if (c > 0) heap.push(c, k);
    if (opts.onProgress && (rank + 1) % every === 0) opts.onProgress(rank + 1, numMerges);
  }
  return merges;
}

/** Trains a byte-level BPE tokenizer on documents. */
export function trainBPE(texts: Iterable<string>, opts: TrainOptions): ByteBPETokenizer {
  const specials = opts.specialTokens ?? [END_OF_TEXT];
  const numMerges = opts.vocabSize - 256 - specials.length;
  if (!Number.isInteger(numMerges) || numMerges < 0) throw new RangeError(`vocabSize ${opts.vocabSize} is below 256 + ${specials.length} special tokens`);
  const merges = learnMerges(countPretokens(texts), numMerges, opts);
  return new ByteBPETokenizer(merges, specials, opts.metadata);
}
