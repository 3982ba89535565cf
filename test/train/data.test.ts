import { describe, it, expect } from 'vitest';
import { fnv1a32, isHeldOut, formatExample, lengthBucketedBatches, unigramBaseline } from '../../src/train/data.ts';
import { rng } from '../../src/train/rng.ts';

describe('demo data rules', () => {
  it('fnv1a32 matches the reference FNV-1a values', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('the split depends on the id only and holds out about the requested share', () => {
    const ids = Array.from({ length: 20000 }, (_, i) => `Gen ${1 + (i % 50)}:${i}`);
    const held = ids.filter((id) => isHeldOut(id));
    expect(held.length / ids.length).toBeGreaterThan(0.04);
    expect(held.length / ids.length).toBeLessThan(0.06);
    expect(ids.filter((id) => isHeldOut(id, 20)).length / ids.length).toBeCloseTo(0.2, 1);
    for (const id of held.slice(0, 50)) expect(fnv1a32(id) % 100).toBeLessThan(5);
    // order-independent
    expect([...ids].reverse().filter((id) => isHeldOut(id)).reverse()).toEqual(held);
    expect(isHeldOut('Gen 1:1')).toBe(fnv1a32('Gen 1:1') % 100 < 5);
  });

  it('formats an example as [EOT, ...ids, EOT] truncated to the context', () => {
    expect(formatExample([5, 6, 7], { eot: 99, maxLen: 8 })).toEqual([99, 5, 6, 7, 99]);
    expect(formatExample([5, 6, 7], { eot: 99, maxLen: 3 })).toEqual([99, 5, 6]);
    expect(formatExample([], { eot: 99, maxLen: 3 })).toEqual([99, 99]);
    expect(() => formatExample([1], { eot: 99, maxLen: 1 })).toThrow(RangeError);
  });

  it('length-bucketed batches hold every example once, in a seeded order, with similar lengths', () => {
    const ex = Array.from({ length: 1000 }, (_, i) => ({ id: `x${i}`, input_ids: new Array(2 + ((i * 37) % 60)).fill(1) }));
    const a = lengthBucketedBatches(ex, 16, rng(3).uniform, 8);
    const b = lengthBucketedBatches(ex, 16, rng(3).uniform, 8);
    expect(a.map((x) => x.map((e) => e.id))).toEqual(b.map((x) => x.map((e) => e.id)));
    const ids = a.flat().map((e) => e.id).sort();
    expect(ids).toEqual(ex.map((e) => e.id).sort());
    // within a batch lengths span far less than the whole range
    const spread = a.map((x) => Math.max(...x.map((e) => e.input_ids.length)) - Math.min(...x.map((e) => e.input_ids.length)));
    expect(spread.reduce((s, v) => s + v, 0) / spread.length).toBeLessThan(10);
  });

  it('the unigram baseline is the cross-entropy of the smoothed training distribution of predicted tokens', () => {
    const train = [{ id: 'a', input_ids: [9, 0, 0, 1] }, { id: 'b', input_ids: [9, 1, 2] }];
    const evalSet = [{ id: 'c', input_ids: [9, 0, 3] }];
    // predicted tokens of train: 0,0,1,1,2 (5); alpha 1 over vocab 4 -> p = (c+1)/9
    const r = unigramBaseline(train, evalSet, 4);
    expect(r.crossEntropy).toBeCloseTo(-(Math.log(3 / 9) + Math.log(1 / 9)) / 2, 12);
    expect(r.trainEntropy).toBeCloseTo(-(2 * Math.log(3 / 9) + 2 * Math.log(3 / 9) + Math.log(2 / 9)) / 5, 12);
  });
});
