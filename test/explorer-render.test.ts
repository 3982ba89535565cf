// The explorer's pure helpers (src/explorer/render.ts): layer names as readers see them, score shares, which tokens a
// training text supports and the words that follow from them.
import { describe, expect, it } from 'vitest';
import { describeLayer, formatShare, shares, shortLayer, supportedTokens, supportedWords } from '../src/explorer/render.ts';

describe('describeLayer', () => {
  it('names GPT-2 layers by block (1-based) and part', () => {
    expect(describeLayer('/h.0/attn/c_attn/MatMul')).toEqual({ group: 'Block 1', label: 'attention in (q, k, v)' });
    expect(describeLayer('/h.0/attn/c_proj/MatMul')).toEqual({ group: 'Block 1', label: 'attention out' });
    expect(describeLayer('/h.3/mlp/c_fc/MatMul')).toEqual({ group: 'Block 4', label: 'MLP in' });
    expect(describeLayer('/h.3/mlp/c_proj/MatMul')).toEqual({ group: 'Block 4', label: 'MLP out' });
    expect(describeLayer('/lm_head/MatMul')).toEqual({ group: '', label: 'output head' });
    expect(shortLayer('/h.1/mlp/c_fc/MatMul')).toBe('Block 2 MLP in');
  });
  it('knows Llama- and BERT-style names', () => {
    expect(describeLayer('/model/layers.2/self_attn/q_proj/MatMul')).toEqual({ group: 'Block 3', label: 'attention query' });
    expect(describeLayer('/model/layers.2/self_attn/o_proj/MatMul')).toEqual({ group: 'Block 3', label: 'attention out' });
    expect(describeLayer('/model/layers.0/mlp/gate_proj/MatMul')).toEqual({ group: 'Block 1', label: 'MLP gate' });
    expect(describeLayer('/model/layers.0/mlp/down_proj/MatMul')).toEqual({ group: 'Block 1', label: 'MLP out' });
    expect(describeLayer('/bert/encoder/layer.1/attention/self/query/MatMul')).toEqual({ group: 'Block 2', label: 'attention query' });
    expect(describeLayer('/classifier/Gemm')).toEqual({ group: '', label: 'classifier head' });
  });
});

describe('shares', () => {
  it('divides the positive scores of the shown results; none for scores <= 0', () => {
    const s = shares([30, 10, 0, -5]);
    expect(s[0]).toBeCloseTo(0.75);
    expect(s[1]).toBeCloseTo(0.25);
    expect(s[2]).toBeUndefined();
    expect(s[3]).toBeUndefined();
    expect(formatShare(s[0])).toBe('75 %');
    expect(formatShare(0.0123)).toBe('1.2 %');
    expect(formatShare(0.0001)).toBe('<0.1 %');
    expect(formatShare(undefined)).toBe('—');
  });
});

describe('supported tokens and words', () => {
  it('marks tokens from `from` on with at least a quarter of the largest positive contribution', () => {
    expect(supportedTokens([undefined, 9, 1, 4, -3, 10, 2], 2)).toEqual([false, false, false, true, false, true, false]);
    expect(supportedTokens([undefined, -1, -2], 1)).toEqual([false, false, false]);
  });
  it('collects the supported words, without very common ones', () => {
    const toks = ['', 'And', ' God', ' said', ' unto', ' Mo', 'ses', ' and'];
    const sup = [false, false, true, false, true, false, true, true];
    expect([...supportedWords(toks, sup)].sort()).toEqual(['god', 'moses']);
  });
});
