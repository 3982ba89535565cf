// Text generation with an ONNX causal LM in onnxruntime-web: greedy or sampled (temperature, top-k, seeded PRNG)
// decoding, one full forward pass per new token over the last `contextLength` tokens (a sliding window once the
// text outgrows the model's context), stopping at an end-of-text id, streaming through a callback, cancellable with
// an AbortSignal. Runtime-agnostic (browser, Deno, Node): no Node imports, no tokenizer dependency (ids in, ids out).
import type * as OrtNs from 'onnxruntime-web';
import { createSession, loadOrt, type ExecutionProvider, type Ort } from './ort.ts';
import { decodeModel, type ModelProto } from '../onnx/codec.ts';
import { dimsOf } from '../onnx/tensor.ts';
import { rng } from '../train/rng.ts';

/** Invalid arguments or a model generation cannot drive; the message says what to change. */
export class GenerationError extends Error {
  override name = 'GenerationError';
}

export interface CausalLmOptions {
  /** execution provider when the model is given as bytes (default 'wasm') */
  ep?: ExecutionProvider;
  /** a GPUDevice to share (WebGPU EP, bytes only) */
  device?: GPUDevice;
  /**
   * The model's context window in tokens. Default: the model's `context_length` metadata, else a fixed sequence
   * dimension of input_ids, else the first dimension of a position-embedding initializer (wpe / position_embeddings).
   * Required when a session is passed and its input_ids has no fixed sequence dimension.
   */
  contextLength?: number;
  /** the logits output (default: `logits`, else the first output) */
  logits?: string;
}

export interface GenerateOptions {
  /** how many tokens to add at most (0 returns at once) */
  maxNewTokens: number;
  /** 'greedy' (default): the most likely token (lowest id on ties); 'sample': draw from the softmax */
  strategy?: 'greedy' | 'sample';
  /** sampling temperature > 0 (default 1) */
  temperature?: number;
  /** sample among the k most likely tokens only (default 0: the whole vocabulary) */
  topK?: number;
  /** seed of the sampling PRNG (mulberry32); the same seed, prompt and model give the same text. Default: random
   * (the result reports the seed used). */
  seed?: number;
  /** stop when this id is produced (it is not included in the result); e.g. the tokenizer's endOfTextId */
  eotId?: number;
  /** called for every new token, in order, before the next forward pass */
  onToken?: (id: number, index: number) => void | Promise<void>;
  /** aborting rejects the promise with the signal's reason (an AbortError by default) */
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** the new token ids (without the stop id) */
  tokens: number[];
  stopReason: 'eot' | 'maxNewTokens';
  /** the sampling seed used (strategy 'sample') */
  seed?: number;
}

interface InputPlan {
  ids: string;
  idsType: 'int64' | 'int32';
  /** a fixed sequence length of input_ids (the input is right-padded to it), else undefined */
  fixedT?: number;
  attentionMask?: { name: string; type: 'int64' | 'int32' | 'float32' };
  positionIds?: { name: string; type: 'int64' | 'int32' };
  tokenTypeIds?: { name: string; type: 'int64' | 'int32' };
  past: { name: string; heads: number; headDim: number; type: 'float32' | 'float16' }[];
}

const IDS = ['input_ids', 'input', 'ids', 'tokens'];

/** A causal LM ready for decoding. Create with `CausalLm.create(bytesOrSession)`; `release()` when done. */
export class CausalLm {
  private vocab: number | undefined;

  private constructor(
    private readonly ort: Ort,
    readonly session: OrtNs.InferenceSession,
    private readonly owned: boolean,
    private readonly plan: InputPlan,
    private readonly logitsName: string,
    /** the context window in tokens */
    readonly contextLength: number,
  ) {}

  /**
   * @param model the .onnx bytes (Uint8Array or ArrayBuffer, e.g. from fetch; a session is created on `opts.ep`), or a session created through
   *   `createSession` (src/runtime/ort.ts); a passed session is not released by `release()`.
   */
  static async create(model: Uint8Array | ArrayBuffer | OrtNs.InferenceSession, opts: CausalLmOptions = {}): Promise<CausalLm> {
    if (model instanceof ArrayBuffer) model = new Uint8Array(model);
    let proto: ModelProto | undefined;
    let session: OrtNs.InferenceSession, ort: Ort, owned: boolean;
    if (model instanceof Uint8Array) {
      proto = decodeModel(model, 'generation model');
      ({ ort, session } = await createSession(model, { ep: opts.ep, device: opts.device }));
      owned = true;
    } else if (model && typeof (model as OrtNs.InferenceSession).run === 'function') {
      session = model;
      ort = await loadOrt(opts.ep ?? 'wasm');
      owned = false;
    } else {
      throw new GenerationError('CausalLm.create needs the .onnx bytes (Uint8Array) or an onnxruntime-web InferenceSession');
    }
    try {
      const plan = planInputs(session);
      const logitsName = opts.logits ?? (session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]);
      if (!session.outputNames.includes(logitsName)) {
        throw new GenerationError(`the model has no output ${JSON.stringify(logitsName)}; outputs: ${session.outputNames.join(', ')}`);
      }
      const contextLength = resolveContext(opts.contextLength, plan, proto);
      const lm = new CausalLm(ort, session, owned, plan, logitsName, contextLength);
      // learn the vocabulary size (for checking ids before they reach the model) from one forward pass on one token
      await lm.nextLogits([0]);
      return lm;
    } catch (e) {
      if (owned) await session.release();
      throw e;
    }
  }

  /** Vocabulary size (the last dimension of the logits). */
  get vocabSize(): number {
    return this.vocab ?? 0;
  }

  /**
   * Logits of the next token after `ids` (float32, one per vocabulary entry). Only the last `contextLength` ids
   * are seen by the model.
   */
  async nextLogits(ids: readonly number[]): Promise<Float32Array> {
    if (ids.length === 0) throw new GenerationError('the input holds no token ids: start with at least one (e.g. the end-of-text id as a start mark)');
    const win = ids.length > this.contextLength ? ids.slice(ids.length - this.contextLength) : ids;
    for (let i = 0; i < win.length; i++) {
      const v = win[i];
      if (!Number.isInteger(v) || v < 0 || (this.vocab !== undefined && v >= this.vocab)) {
        throw new GenerationError(`token id ${v} at position ${ids.length - win.length + i} is not an integer in [0, ${this.vocab ?? 'vocab'})`);
      }
    }
    const n = win.length;
    const T = this.plan.fixedT ?? n;
    const { Tensor } = this.ort;
    const intTensor = (type: 'int64' | 'int32', f: (t: number) => number) =>
      type === 'int64' ? new Tensor('int64', BigInt64Array.from({ length: T }, (_, t) => BigInt(f(t))), [1, T]) : new Tensor('int32', Int32Array.from({ length: T }, (_, t) => f(t)), [1, T]);
    const feeds: Record<string, OrtNs.Tensor> = { [this.plan.ids]: intTensor(this.plan.idsType, (t) => (t < n ? win[t] : 0)) };
    const p = this.plan;
    if (p.attentionMask) {
      const m = p.attentionMask;
      feeds[m.name] = m.type === 'float32' ? new Tensor('float32', Float32Array.from({ length: T }, (_, t) => (t < n ? 1 : 0)), [1, T]) : intTensor(m.type, (t) => (t < n ? 1 : 0));
    }
    if (p.positionIds) feeds[p.positionIds.name] = intTensor(p.positionIds.type, (t) => t);
    if (p.tokenTypeIds) feeds[p.tokenTypeIds.name] = intTensor(p.tokenTypeIds.type, () => 0);
    for (const k of p.past) {
      feeds[k.name] = k.type === 'float16'
        ? new Tensor('float16', new Uint16Array(0), [1, k.heads, 0, k.headDim])
        : new Tensor('float32', new Float32Array(0), [1, k.heads, 0, k.headDim]);
    }
    const out = await this.session.run(feeds, [this.logitsName]);
    const t = out[this.logitsName];
    const data = (await t.getData()) as Float32Array;
    if (t.type !== 'float32') throw new GenerationError(`logits output ${this.logitsName} is ${t.type}; float32 is needed`);
    const V = t.dims[t.dims.length - 1];
    const rows = data.length / V;
    if (!Number.isInteger(rows) || rows < n) throw new GenerationError(`logits output ${this.logitsName} has dims [${t.dims.join(', ')}]; expected [1, ${T}, vocab]`);
    this.vocab = V;
    // a token sent before the vocabulary was known: check now
    for (let i = 0; i < n; i++) if (win[i] >= V) throw new GenerationError(`token id ${win[i]} is not below the vocabulary size ${V}`);
    return data.slice((n - 1) * V, n * V);
  }

  /** Continues `prompt` (token ids) by up to `maxNewTokens` tokens. */
  async generate(prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
    const o = checkOptions(opts);
    if (!Array.isArray(prompt) || prompt.length === 0) {
      throw new GenerationError('the prompt holds no token ids: start with at least one (e.g. the end-of-text id as a start mark)');
    }
    const ids = [...prompt];
    const tokens: number[] = [];
    const uniform = o.strategy === 'sample' ? rng(o.seed).uniform : undefined;
    const aborted = () => {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new DOMException('generation aborted', 'AbortError');
    };
    for (let i = 0; i < o.maxNewTokens; i++) {
      aborted();
      const logits = await this.nextLogits(ids);
      aborted();
      const id = uniform ? sampleToken(logits, { temperature: o.temperature, topK: o.topK }, uniform) : argmax(logits);
      if (o.eotId !== undefined && id === o.eotId) return { tokens, stopReason: 'eot', ...(uniform ? { seed: o.seed } : {}) };
      ids.push(id);
      tokens.push(id);
      await opts.onToken?.(id, i);
    }
    return { tokens, stopReason: 'maxNewTokens', ...(uniform ? { seed: o.seed } : {}) };
  }

  /** Releases the session if this object created it. */
  async release(): Promise<void> {
    if (this.owned) await this.session.release();
  }
}

function checkOptions(opts: GenerateOptions): Required<Omit<GenerateOptions, 'eotId' | 'onToken' | 'signal'>> & { eotId?: number } {
  if (!opts || typeof opts !== 'object') throw new GenerationError('generate needs options, at least { maxNewTokens }');
  const { maxNewTokens, strategy = 'greedy', temperature = 1, topK = 0, eotId } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new GenerationError(`maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  if (strategy !== 'greedy' && strategy !== 'sample') throw new GenerationError(`strategy must be 'greedy' or 'sample', got ${JSON.stringify(strategy)}`);
  if (!(Number.isFinite(temperature) && temperature > 0)) throw new GenerationError(`temperature must be a finite number > 0, got ${temperature} (use strategy 'greedy' for argmax decoding)`);
  if (!Number.isInteger(topK) || topK < 0) throw new GenerationError(`topK must be a non-negative integer (0 = no limit), got ${topK}`);
  if (eotId !== undefined && (!Number.isInteger(eotId) || eotId < 0)) throw new GenerationError(`eotId must be a non-negative integer, got ${eotId}`);
  let seed = opts.seed;
  if (seed === undefined) seed = Math.floor(Math.random() * 2 ** 32);
  else if (!Number.isInteger(seed)) throw new GenerationError(`seed must be an integer, got ${seed}`);
  return { maxNewTokens, strategy, temperature, topK, seed, eotId };
}

/** Index of the largest logit (the lowest index among equals); NaN logits are never chosen. */
export function argmax(logits: ArrayLike<number>): number {
  let best = -1, bv = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > bv) {
    bv = logits[i];
    best = i;
  }
  if (best < 0) throw new GenerationError('the logits are all NaN or -Infinity: the model produced no usable scores');
  return best;
}

/**
 * Draws a token from softmax(logits / temperature), restricted to the topK largest logits when topK > 0 (ties at
 * the k-th value are all kept). `uniform` returns numbers in [0, 1).
 */
export function sampleToken(logits: ArrayLike<number>, opts: { temperature?: number; topK?: number }, uniform: () => number): number {
  const temperature = opts.temperature ?? 1, topK = opts.topK ?? 0;
  const V = logits.length;
  let cut = -Infinity;
  if (topK > 0 && topK < V) {
    const sorted = Float64Array.from(logits).filter((x) => !Number.isNaN(x)).sort();
    cut = sorted[Math.max(0, sorted.length - topK)];
  }
  let mx = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] >= cut && logits[i] > mx) mx = logits[i];
  if (mx === -Infinity) throw new GenerationError('the logits are all NaN or -Infinity: the model produced no usable scores');
  const w = new Float64Array(V);
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const x = logits[i];
    if (x >= cut && x > -Infinity) {
      w[i] = Math.exp((x - mx) / temperature);
      sum += w[i];
    }
  }
  let u = uniform() * sum;
  let last = -1;
  for (let i = 0; i < V; i++) {
    if (w[i] === 0) continue;
    last = i;
    u -= w[i];
    if (u < 0) return i;
  }
  return last; // rounding: the last candidate
}

function ioType<T extends string>(m: OrtNs.InferenceSession.ValueMetadata | undefined, allowed: readonly T[], fallback: T, name: string): T {
  if (!m || !m.isTensor) return fallback;
  if (!(allowed as readonly string[]).includes(m.type)) throw new GenerationError(`input ${name} has type ${m.type}; generation supports ${allowed.join(' or ')}`);
  return m.type as T;
}

function planInputs(session: OrtNs.InferenceSession): InputPlan {
  const meta = new Map<string, OrtNs.InferenceSession.ValueMetadata>();
  for (const m of (session as { inputMetadata?: readonly OrtNs.InferenceSession.ValueMetadata[] }).inputMetadata ?? []) meta.set(m.name, m);
  const names = session.inputNames;
  const ids = names.find((n) => IDS.includes(n));
  if (!ids) throw new GenerationError(`the model has no token-id input (one of ${IDS.join(', ')}); inputs: ${names.join(', ')}`);
  const im = meta.get(ids);
  const plan: InputPlan = { ids, idsType: ioType(im, ['int64', 'int32'] as const, 'int64', ids), past: [] };
  if (im?.isTensor) {
    const [b, t] = im.shape;
    if (typeof b === 'number' && b !== 1) throw new GenerationError(`input ${ids} has a fixed batch size ${b}; generation runs one sequence (batch 1 or symbolic)`);
    if (typeof t === 'number' && t > 0) plan.fixedT = t;
  }
  const unknown: string[] = [];
  for (const n of names) {
    if (n === ids) continue;
    const m = meta.get(n);
    if (n === 'attention_mask') plan.attentionMask = { name: n, type: ioType(m, ['int64', 'int32', 'float32'] as const, 'int64', n) };
    else if (n === 'position_ids') plan.positionIds = { name: n, type: ioType(m, ['int64', 'int32'] as const, 'int64', n) };
    else if (n === 'token_type_ids') plan.tokenTypeIds = { name: n, type: ioType(m, ['int64', 'int32'] as const, 'int64', n) };
    else if (/^past_key_values?\.|^past\./.test(n)) {
      const shape = m?.isTensor ? m.shape : [];
      const [, heads, , headDim] = shape;
      if (shape.length !== 4 || typeof heads !== 'number' || typeof headDim !== 'number') {
        throw new GenerationError(`past input ${n}: need a rank-4 [batch, heads, past, head_dim] shape with fixed heads and head_dim, got [${shape.join(', ')}]`);
      }
      plan.past.push({ name: n, heads, headDim, type: ioType(m, ['float32', 'float16'] as const, 'float32', n) });
    } else if (n === 'use_cache_branch') {
      throw new GenerationError('merged decoder (use_cache_branch input): use the plain decoder_model.onnx instead');
    } else unknown.push(n);
  }
  if (unknown.length) throw new GenerationError(`inputs not understood: ${unknown.join(', ')}. Known: ${IDS[0]}, attention_mask, position_ids, token_type_ids, past_key_values.*`);
  return plan;
}

function resolveContext(given: number | undefined, plan: InputPlan, proto: ModelProto | undefined): number {
  if (given !== undefined) {
    if (!Number.isInteger(given) || given < 1) throw new GenerationError(`contextLength must be a positive integer, got ${given}`);
    if (plan.fixedT !== undefined && given > plan.fixedT) throw new GenerationError(`contextLength ${given} exceeds the fixed sequence length ${plan.fixedT} of the model's input`);
    return given;
  }
  const meta = proto?.metadataProps?.find((p) => p.key === 'context_length')?.value;
  if (meta !== undefined && meta !== null) {
    const n = Number(meta);
    if (!Number.isInteger(n) || n < 1) throw new GenerationError(`the model's context_length metadata ${JSON.stringify(meta)} is not a positive integer; pass contextLength`);
    return plan.fixedT !== undefined ? Math.min(n, plan.fixedT) : n;
  }
  if (plan.fixedT !== undefined) return plan.fixedT;
  for (const t of proto?.graph?.initializer ?? []) {
    if (/(^|[./_])(wpe|position_embeddings?|pos_emb(edding)?)([./_]|$)/i.test(t.name ?? '') && t.dims?.length === 2) return dimsOf(t)[0];
  }
  throw new GenerationError('the context window of this model is unknown (no context_length metadata, no fixed sequence dimension, no position-embedding table): pass contextLength');
}
