import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { buildGpt2 } from '../../src/train/gpt2.ts';
import { rng } from '../../src/train/rng.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { createSession } from '../../src/runtime/ort.ts';
import { CausalLm, GenerationError, argmax, sampleToken } from '../../src/runtime/generate.ts';
import type * as OrtNs from 'onnxruntime-web';

const cfg = { vocab: 40, nEmbd: 16, nHead: 2, nLayer: 2, nPositions: 12, seed: 5 };
const bytes = encodeModel(buildGpt2(cfg).model);

let lm: CausalLm;
let ref: { ort: typeof OrtNs; session: OrtNs.InferenceSession };

/** logits of the last position from a separate session, on exactly `ids` */
async function refNext(ids: number[]): Promise<Float32Array> {
  const t = new ref.ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]);
  const out = await ref.session.run({ input_ids: t });
  const d = out.logits.data as Float32Array;
  return d.slice((ids.length - 1) * cfg.vocab, ids.length * cfg.vocab);
}

beforeAll(async () => {
  lm = await CausalLm.create(bytes);
  ref = await createSession(bytes);
});
afterAll(async () => {
  await lm.release();
  await ref.session.release();
});

describe('generation', () => {
  it('reads the context window from the model metadata and the vocabulary size from the logits', async () => {
    expect(lm.contextLength).toBe(cfg.nPositions);
    expect(lm.vocabSize).toBe(cfg.vocab);
    // a fresh instance checks ids before its first generation
    const fresh = await CausalLm.create(bytes);
    await expect(fresh.generate([cfg.vocab], { maxNewTokens: 1 })).rejects.toThrow(/\[0, 40\)/);
    await fresh.release();
  });

  it('greedy decoding picks the argmax of an independently computed forward pass at every step', async () => {
    const prompt = [3, 17, 8];
    const r = await lm.generate(prompt, { maxNewTokens: 6 });
    expect(r.stopReason).toBe('maxNewTokens');
    expect(r.tokens).toHaveLength(6);
    const ids = [...prompt];
    for (const t of r.tokens) {
      expect(t).toBe(argmax(await refNext(ids)));
      ids.push(t);
    }
  });

  it('slides the window over the last contextLength tokens once the text is longer than the context', async () => {
    const long = Array.from({ length: 20 }, (_, i) => (i * 7) % cfg.vocab);
    const got = await lm.nextLogits(long);
    const want = await refNext(long.slice(-cfg.nPositions));
    for (let i = 0; i < cfg.vocab; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    // greedy generation keeps going past the context length
    const r = await lm.generate(long, { maxNewTokens: 3 });
    const ids = [...long];
    for (const t of r.tokens) {
      expect(t).toBe(argmax(await refNext(ids.slice(-cfg.nPositions))));
      ids.push(t);
    }
  });

  it('seeded sampling is deterministic, and the seed matters', async () => {
    const opts = { maxNewTokens: 8, strategy: 'sample' as const, temperature: 1.5, seed: 42 };
    const a = await lm.generate([1, 2], opts);
    const b = await lm.generate([1, 2], opts);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.seed).toBe(42);
    const others = await Promise.all([1, 2, 3, 4].map((seed) => lm.generate([1, 2], { ...opts, seed })));
    expect(others.some((o) => o.tokens.join() !== a.tokens.join())).toBe(true);
    // top-k 1 is greedy
    const g = await lm.generate([1, 2], { maxNewTokens: 5 });
    const k1 = await lm.generate([1, 2], { maxNewTokens: 5, strategy: 'sample', topK: 1, seed: 9 });
    expect(k1.tokens).toEqual(g.tokens);
    // without a seed one is chosen and reported, and reproduces the text
    const free = await lm.generate([1, 2], { maxNewTokens: 5, strategy: 'sample' });
    expect(Number.isInteger(free.seed)).toBe(true);
    expect((await lm.generate([1, 2], { maxNewTokens: 5, strategy: 'sample', seed: free.seed })).tokens).toEqual(free.tokens);
  });

  it('stops at the end-of-text id, which is not returned', async () => {
    const full = await lm.generate([5], { maxNewTokens: 8 });
    const k = full.tokens.findIndex((t, i) => i > 0 && !full.tokens.slice(0, i).includes(t));
    expect(k).toBeGreaterThan(0);
    const r = await lm.generate([5], { maxNewTokens: 8, eotId: full.tokens[k] });
    expect(r.stopReason).toBe('eot');
    expect(r.tokens).toEqual(full.tokens.slice(0, k));
  });

  it('streams tokens through onToken in order', async () => {
    const seen: [number, number][] = [];
    const r = await lm.generate([4, 4], { maxNewTokens: 5, strategy: 'sample', seed: 3, onToken: (id, i) => void seen.push([id, i]) });
    expect(seen).toEqual(r.tokens.map((t, i) => [t, i]));
  });

  it('an AbortSignal stops generation and rejects with its reason', async () => {
    const ctl = new AbortController();
    const seen: number[] = [];
    const p = lm.generate([1], { maxNewTokens: 10, signal: ctl.signal, onToken: (id) => {
      seen.push(id);
      if (seen.length === 2) ctl.abort();
    } });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(2);
    const pre = AbortSignal.abort(new Error('stop now'));
    await expect(lm.generate([1], { maxNewTokens: 3, signal: pre })).rejects.toThrow('stop now');
  });

  it('rejects bad input with clear errors', async () => {
    await expect(lm.generate([], { maxNewTokens: 2 })).rejects.toThrow(/no token ids/);
    await expect(lm.generate([1], { maxNewTokens: -1 })).rejects.toThrow(GenerationError);
    await expect(lm.generate([1], { maxNewTokens: 1.5 })).rejects.toThrow(/maxNewTokens/);
    await expect(lm.generate([1], { maxNewTokens: 2, strategy: 'sample', temperature: 0 })).rejects.toThrow(/temperature/);
    await expect(lm.generate([1], { maxNewTokens: 2, strategy: 'sample', topK: -2 })).rejects.toThrow(/topK/);
    await expect(lm.generate([1], { maxNewTokens: 2, strategy: 'beam' as 'greedy' })).rejects.toThrow(/strategy/);
    await expect(lm.generate([1], { maxNewTokens: 2, strategy: 'sample', seed: 0.5 })).rejects.toThrow(/seed/);
    await expect(lm.generate([1, cfg.vocab], { maxNewTokens: 1 })).rejects.toThrow(/token id 40 at position 1 is not an integer in \[0, 40\)/);
    await expect(lm.generate([1, -3], { maxNewTokens: 1 })).rejects.toThrow(/token id -3/);
    await expect(CausalLm.create(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow();
    await expect(CausalLm.create('model.onnx' as unknown as Uint8Array)).rejects.toThrow(GenerationError);
  });

  it('drives a session created through createSession; its context comes from the options', async () => {
    const { session } = await createSession(bytes);
    await expect(CausalLm.create(session)).rejects.toThrow(/contextLength/);
    const s = await CausalLm.create(session, { contextLength: cfg.nPositions });
    const a = await s.generate([7, 8, 9], { maxNewTokens: 4 });
    expect(a.tokens).toEqual((await lm.generate([7, 8, 9], { maxNewTokens: 4 })).tokens);
    await s.release(); // not owned: the session stays usable
    await session.run({ input_ids: new ref.ort.Tensor('int64', BigInt64Array.of(1n), [1, 1]) });
    await session.release();
  });
});

describe('sampleToken', () => {
  it('draws in proportion to softmax(logits / temperature) among the top k', () => {
    const logits = [0, Math.log(2), Math.log(3), -1e9, Math.log(4)];
    const u = rng(1).uniform;
    const n = 20000;
    const counts = new Array(5).fill(0);
    for (let i = 0; i < n; i++) counts[sampleToken(logits, {}, u)]++;
    expect(counts[3]).toBe(0);
    [1, 2, 3, 0, 4].forEach((w, i) => expect(Math.abs(counts[i] / n - w / 10)).toBeLessThan(0.015));
    // top-2 keeps ids 4 and 2 only (weights 4:3); temperature 0.5 squares the ratios (16:9)
    const c2 = new Array(5).fill(0);
    for (let i = 0; i < n; i++) c2[sampleToken(logits, { topK: 2, temperature: 0.5 }, u)]++;
    expect(c2[0] + c2[1] + c2[3]).toBe(0);
    expect(Math.abs(c2[4] / n - 16 / 25)).toBeLessThan(0.015);
  });

  it('argmax takes the lowest index among ties and rejects all-NaN logits', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(() => argmax([NaN, NaN])).toThrow(GenerationError);
    expect(() => sampleToken([NaN, -Infinity], {}, Math.random)).toThrow(GenerationError);
  });
});
