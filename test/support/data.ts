// Synthetic examples for pipeline tests.
import type { LmExample } from '../../src/runtime/batch.ts';
import { rng } from '../../src/train/gpt2.ts';

/** n random token sequences (lengths 3-12) over a vocabulary of `vocab` tokens, ids `${prefix}${i}` */
export function randomSequences(n: number, seed: number, prefix = 's', vocab = 48): LmExample[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, input_ids: Array.from({ length: 3 + Math.floor(r.uniform() * 10) }, () => Math.floor(r.uniform() * vocab)) }));
}
