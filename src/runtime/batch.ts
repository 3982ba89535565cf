// Turns examples into the input tensors of a (possibly augmented) model: right-padding of variable-length
// sequences, attention/loss masks, positions, zero-length past key/values, labels.
import { LOSS_MASK, LABELS, TARGET_MASK, type ModelInputs } from '../autograd/inputs.ts';
export { LOSS_MASK, LABELS, TARGET_MASK };
import { DataType } from '../onnx/tensor.ts';

/** A token sequence: a causal LM example, or (with a label) a token-id classifier / regression example. */
export interface TokenExample {
  id: string;
  input_ids: number[];
  /** causal LM: 1 for tokens whose prediction is in the loss (a completion's tokens), 0 for context; default all 1 */
  target_mask?: number[];
  /** BERT-style segment ids (default all 0) */
  token_type_ids?: number[];
  /** classifier: the class index; regression: the target value */
  label?: number;
}
/** Causal LM examples are token sequences. */
export type LmExample = TokenExample;
/** A classifier example over one float feature input (an image, a feature vector). */
export interface ClassExample {
  id: string;
  input: number[];
  label: number;
}
export type Example = TokenExample | ClassExample;

export interface HostFeed {
  type: 'float32' | 'int64' | 'int32';
  data: Float32Array | BigInt64Array | Int32Array;
  dims: number[];
}

export interface Batch {
  feeds: Record<string, HostFeed>;
  B: number;
  /** padded sequence length (1 for classifiers) */
  T: number;
  /** real tokens per example */
  lengths: number[];
}


function intFeed(elemType: number | undefined, values: number[], dims: number[]): HostFeed {
  if (elemType === DataType.INT32) return { type: 'int32', data: Int32Array.from(values), dims };
  return { type: 'int64', data: BigInt64Array.from(values, (v) => BigInt(v)), dims };
}

export function isLmExample(e: Example): e is TokenExample {
  return Array.isArray((e as TokenExample).input_ids);
}

/** A per-token array of an example (target_mask, token_type_ids) checked against its input_ids. */
function perToken(e: TokenExample, key: 'target_mask' | 'token_type_ids', b: number): number[] | undefined {
  const v = e[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length !== e.input_ids.length) {
    throw new Error(`example ${JSON.stringify(e.id ?? b)}: ${key} must have one entry per input id (${e.input_ids.length}), got ${Array.isArray(v) ? v.length : typeof v}`);
  }
  if (!v.every((x) => Number.isFinite(x) && x >= 0)) throw new Error(`example ${JSON.stringify(e.id ?? b)}: ${key} must hold non-negative numbers`);
  return v;
}

/**
 * Right-padded token batch: ids, attention mask, positions, token types, zero-length past; with `withLossMask` the
 * real-token mask (logra_loss_mask) and the target mask (logra_target_mask: target_mask x real, for causal LMs).
 */
export function lmBatch(inputs: ModelInputs, examples: TokenExample[], opts: { padId?: number; withLossMask?: boolean; withTargets?: boolean } = {}): Batch {
  if (!inputs.ids) throw new Error('this model has no input_ids input');
  const B = examples.length;
  if (B === 0) throw new Error('empty batch');
  const lengths = examples.map((e, i) => {
    if (!Array.isArray(e.input_ids) || e.input_ids.length === 0) throw new Error(`example ${JSON.stringify(e.id ?? i)}: input_ids must be a non-empty array`);
    return e.input_ids.length;
  });
  const T = Math.max(...lengths);
  const pad = opts.padId ?? 0;
  const ids: number[] = [], mask: number[] = [], pos: number[] = [], types: number[] = [], target: number[] = [];
  examples.forEach((e, b) => {
    const tm = perToken(e, 'target_mask', b), tt = perToken(e, 'token_type_ids', b);
    for (let t = 0; t < T; t++) {
      const real = t < lengths[b];
      const v = real ? e.input_ids[t] : pad;
      if (!Number.isInteger(v) || v < 0) throw new Error(`example ${JSON.stringify(e.id ?? b)}: input_ids[${t}] = ${v} is not a non-negative integer`);
      if (inputs.vocab !== undefined && v >= inputs.vocab) {
        throw new Error(`example ${JSON.stringify(e.id ?? b)}: input_ids[${t}] = ${v} is outside the model's vocabulary (${inputs.vocab} tokens): is the tokenizer the model's?`);
      }
      ids.push(v);
      mask.push(real ? 1 : 0);
      pos.push(t);
      types.push(real && tt ? tt[t] : 0);
      target.push(real ? (tm ? tm[t] : 1) : 0);
    }
  });
  const feeds: Record<string, HostFeed> = {};
  feeds[inputs.ids] = intFeed(inputs.types.get(inputs.ids), ids, [B, T]);
  if (inputs.attentionMask) feeds[inputs.attentionMask] = intFeed(inputs.types.get(inputs.attentionMask), mask, [B, T]);
  if (inputs.positionIds) feeds[inputs.positionIds] = intFeed(inputs.types.get(inputs.positionIds), pos, [B, T]);
  if (inputs.tokenTypeIds) feeds[inputs.tokenTypeIds] = intFeed(inputs.types.get(inputs.tokenTypeIds), types, [B, T]);
  for (const p of inputs.past) feeds[p.name] = pastFeed(p.name, p.dims, B);
  if (opts.withLossMask) feeds[LOSS_MASK] = { type: 'float32', data: Float32Array.from(mask), dims: [B, T] };
  if (opts.withTargets ?? opts.withLossMask) feeds[TARGET_MASK] = { type: 'float32', data: Float32Array.from(target), dims: [B, T] };
  return { feeds, B, T, lengths };
}

/** Labels of a batch: int64 class indices (classification) or float32 targets (regression). */
export function labelFeed(examples: { id: string; label?: number }[], kind: 'class' | 'value'): HostFeed {
  examples.forEach((e, b) => {
    const ok = kind === 'class' ? Number.isInteger(e.label) && (e.label as number) >= 0 : typeof e.label === 'number' && Number.isFinite(e.label);
    if (!ok) throw new Error(`example ${JSON.stringify(e.id ?? b)}: label ${JSON.stringify(e.label)} is not ${kind === 'class' ? 'a non-negative integer class index' : 'a finite number (regression target)'}`);
  });
  return kind === 'class'
    ? { type: 'int64', data: BigInt64Array.from(examples, (e) => BigInt(e.label as number)), dims: [examples.length] }
    : { type: 'float32', data: Float32Array.from(examples, (e) => e.label as number), dims: [examples.length] };
}

/** A token-id classifier (or regression) batch: the token batch with the real-token mask, plus labels. */
export function tokenClassBatch(inputs: ModelInputs, examples: TokenExample[], opts: { padId?: number; withLabels?: 'class' | 'value' } = {}): Batch {
  const b = lmBatch(inputs, examples, { padId: opts.padId, withLossMask: true, withTargets: false });
  if (opts.withLabels) b.feeds[LABELS] = labelFeed(examples, opts.withLabels);
  return b;
}

/** A zero-length past: [B, heads, 0, head_dim]. */
function pastFeed(name: string, dims: (number | string | undefined)[], B: number): HostFeed {
  if (dims.length !== 4) throw new Error(`past input ${name}: expected rank 4 [batch, heads, past_len, head_dim], got rank ${dims.length}`);
  const [, h, , d] = dims;
  if (typeof h !== 'number' || typeof d !== 'number') throw new Error(`past input ${name}: heads and head_dim must be fixed numbers in the model`);
  return { type: 'float32', data: new Float32Array(0), dims: [B, h, 0, d] };
}

export function classBatch(inputs: ModelInputs, examples: ClassExample[], opts: { withLabels?: boolean | 'class' | 'value' } = {}): Batch {
  const f = inputs.features;
  if (!f) throw new Error('this model has no float feature input');
  const B = examples.length;
  if (B === 0) throw new Error('empty batch');
  const rest = f.dims.slice(1);
  const width = rest.reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1);
  const data = new Float32Array(B * (Number.isFinite(width) ? width : examples[0].input.length));
  const per = data.length / B;
  examples.forEach((e, b) => {
    if (!Array.isArray(e.input) || e.input.length !== per) {
      throw new Error(`example ${JSON.stringify(e.id ?? b)}: input has ${e.input?.length} values, the model's ${f.name} wants ${per}`);
    }
    data.set(e.input, b * per);
  });
  const dims = [B, ...(Number.isFinite(width) ? (rest as number[]) : [per])];
  const feeds: Record<string, HostFeed> = { [f.name]: { type: 'float32', data, dims } };
  if (opts.withLabels) feeds[LABELS] = labelFeed(examples, opts.withLabels === 'value' ? 'value' : 'class');
  return { feeds, B, T: 1, lengths: new Array(B).fill(1) };
}

/** Feeds for the shape probe: B = 2, T = 3 (distinct from each other and from 1). */
export function probeBatch(inputs: ModelInputs): Batch {
  if (inputs.ids) {
    // B = 2, T = 3 unless the export fixed them
    const [b, t] = inputs.idsDims ?? [];
    const B = typeof b === 'number' ? b : 2, T = typeof t === 'number' ? t : 3;
    return lmBatch(inputs, Array.from({ length: B }, (_, i) => ({ id: `p${i}`, input_ids: Array.from({ length: T }, (_, j) => 1 + ((i + j) % 3)) })));
  }
  const f = inputs.features!;
  const per = f.dims.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' ? d : 3), 1);
  const mk = (s: number) => Array.from({ length: per }, (_, i) => Math.sin(i + s));
  const b = classBatch(inputs, [
    { id: 'p0', input: mk(0), label: 0 },
    { id: 'p1', input: mk(1), label: 0 },
  ]);
  // symbolic trailing dims take 3
  b.feeds[f.name].dims = [2, ...f.dims.slice(1).map((d) => (typeof d === 'number' ? d : 3))];
  return b;
}

/** Positions of an example in a model run: its tokens (causal LM; the batch is padded to its longest) or 1. */
export function exampleTokens(e: Example): number {
  return isLmExample(e) ? Math.max(1, e.input_ids.length) : 1;
}

/**
 * Consecutive runs of at most `maxExamples` examples whose padded size (examples x longest) stays within
 * `maxTokens` (a run holds at least one example, however long): [start, end) ranges in order.
 */
export function planBatches(examples: readonly Example[], maxExamples: number, maxTokens = Infinity): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  while (start < examples.length) {
    let end = start + 1, longest = exampleTokens(examples[start]);
    while (end < examples.length && end - start < maxExamples) {
      const l = Math.max(longest, exampleTokens(examples[end]));
      if ((end - start + 1) * l > maxTokens) break;
      longest = l;
      end++;
    }
    out.push([start, end]);
    start = end;
  }
  return out;
}
