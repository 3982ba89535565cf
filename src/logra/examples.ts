// Examples as log and query meet them: where each came from (file and line, for messages), a hash of its content
// (stored beside its id, so a known id with other content is an error instead of a silent skip), checks against the
// model's input limits before anything runs (token ids against the vocabulary, lengths against the context, labels
// against the classes), and model runs that name the example that failed or gave non-finite gradients.
import { Long, type ModelProto } from '../onnx/codec.ts';
import { Graph, valueInfoShape } from '../onnx/graph.ts';
import { describeInputs } from '../autograd/inputs.ts';
import { originOf } from '../io/jsonl.ts';
import { isLmExample, type Example } from '../runtime/batch.ts';
import type { TapBatch, TapModel } from '../runtime/taps.ts';
import type { LoadedModel } from './model.ts';

/** An example the model cannot run (or whose gradient is not finite), named with its id and line. */
export class ExampleError extends Error {
  constructor(message: string, readonly examples: { id: string; where?: string }[] = []) {
    super(message);
    this.name = 'ExampleError';
  }
}

/** `"id" (file:line)`, or `"id"` for examples that did not come from a file. */
export function describeExample(e: Example): string {
  const o = originOf(e);
  return `${JSON.stringify(e.id)}${o ? ` (${o.source}:${o.line})` : ''}`;
}

// ---- content hashes

/** 48-bit hash of a string (two multiply-xorshift lanes), as 12 hex digits. */
function hash48(s: string): string {
  let a = 0x9e3779b9 ^ s.length, b = 0x85ebca6b;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  a ^= a >>> 16;
  b = Math.imul(b ^ (b >>> 16), 0x2c1b3c6d);
  b = Math.imul(b ^ (b >>> 12), 0x297a2d39);
  b ^= b >>> 15;
  return (a >>> 0).toString(16).padStart(8, '0') + ((b >>> 0) & 0xffff).toString(16).padStart(4, '0');
}

/** What the model sees of an example (token ids; float32 features and the label), hashed. */
export function contentHash(e: Example): string {
  if (isLmExample(e)) return hash48(`t:${e.input_ids.join(',')}`);
  return hash48(`c:${e.label}:${Array.from(Float32Array.from(e.input)).join(',')}`);
}

// ---- model limits

export interface ModelLimits {
  /** rows of the token embedding (valid ids are 0 .. vocab - 1) */
  vocab?: number;
  /** positions the model has (position-embedding rows, a fixed sequence length, or context_length metadata) */
  context?: number;
  /** classifier: classes of the logits */
  classes?: number;
  /** classifier: values per example of the feature input */
  features?: number;
}

const PASS = new Set(['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Identity', 'Flatten']);

/**
 * Reads the limits from the graph: Gathers on float tables fed by the ids (vocabulary) or by positions. LoadedModel
 * reads them once at load (model.limits), from the graph it decodes anyway.
 */
export function graphLimits(proto: ModelProto): ModelLimits {
  const lim: ModelLimits = {};
  try {
    const g = new Graph(proto);
    const inputs = describeInputs(g);
    const min = (a: number | undefined, b: number) => (a === undefined ? b : Math.min(a, b));
    /** the graph input `name` reaches through pass-through ops only, or undefined */
    const directInput = (name: string): string | undefined => {
      for (let i = 0; i < 16; i++) {
        const p = g.producer(name);
        if (!p) return g.isGraphInput(name) ? name : undefined;
        if (!PASS.has(p.node.opType ?? '')) return undefined;
        name = p.node.input?.[0] ?? '';
      }
      return undefined;
    };
    /** whether a Range (computed positions) or the position_ids input is among the ancestors of `name` */
    const positional = (name: string): boolean => {
      const seen = new Set<string>();
      const stack = [name];
      while (stack.length && seen.size < 256) {
        const v = stack.pop()!;
        if (seen.has(v)) continue;
        seen.add(v);
        if (v === inputs.positionIds) return true;
        const p = g.producer(v);
        if (!p) continue;
        if (p.node.opType === 'Range') return true;
        for (const i of p.node.input ?? []) if (i) stack.push(i);
      }
      return false;
    };
    for (const n of g.nodes) {
      if (n.opType !== 'Gather' || !n.input || n.input.length < 2) continue;
      const table = g.initializer(n.input[0]);
      const dims = table?.dims?.map((d) => Long.fromValue(d).toNumber());
      if (!dims || dims.length !== 2 || !(dims[0] > 0)) continue;
      const from = directInput(n.input[1]);
      if (from !== undefined && from === inputs.ids) lim.vocab = min(lim.vocab, dims[0]);
      else if (from === undefined && positional(n.input[1])) lim.context = min(lim.context, dims[0]);
      else if (from !== undefined && from === inputs.positionIds) lim.context = min(lim.context, dims[0]);
    }
    const T = inputs.idsDims?.[1];
    if (typeof T === 'number') lim.context = min(lim.context, T);
    const meta = Number(proto.metadataProps?.find((p) => p.key === 'context_length')?.value);
    if (Number.isInteger(meta) && meta > 0) lim.context = min(lim.context, meta);
    if (inputs.features) {
      const rest = inputs.features.dims.slice(1);
      if (rest.every((d) => typeof d === 'number')) lim.features = (rest as number[]).reduce((a, d) => a * d, 1);
      const out = g.outputs[0] ? valueInfoShape(g.outputs[0]).dims : undefined;
      const c = out?.[out.length - 1];
      if (out?.length === 2 && typeof c === 'number') lim.classes = c;
    }
  } catch {
    // a graph this reader does not follow: the model run's own errors (named by runExamples) still apply
  }
  return lim;
}

/** What is wrong with an example for this model, or undefined. */
/** What is wrong with a token sequence for this model, or undefined. */
function tokenProblem(ids: number[], lim: ModelLimits): string | undefined {
  if (ids.length === 0) return 'has no tokens';
  for (let t = 0; t < ids.length; t++) {
    const v = ids[t];
    if (!Number.isInteger(v) || v < 0) return `input_ids[${t}] = ${v} is not a token id (a non-negative integer)`;
    if (lim.vocab !== undefined && v >= lim.vocab) return `token id ${v} at position ${t} is outside the model's vocabulary of ${lim.vocab} (ids 0-${lim.vocab - 1}): tokenize with the model's own tokenizer`;
  }
  if (lim.context !== undefined && ids.length > lim.context) return `has ${ids.length} tokens, the model's context holds ${lim.context}: pass --max-len ${lim.context} (the API: truncate input_ids) or shorten the example`;
  return undefined;
}

/** What is wrong with a classification / regression target, or undefined. */
function labelProblem(label: unknown, task: string, lim: ModelLimits): string | undefined {
  if (task === 'regression') return typeof label === 'number' && Number.isFinite(Math.fround(label)) ? undefined : `label ${JSON.stringify(label)} is not a finite number (this model is a regressor)`;
  if (!Number.isInteger(label) || (label as number) < 0) return `label ${JSON.stringify(label)} is not a class index (a non-negative integer)`;
  if (lim.classes !== undefined && (label as number) >= lim.classes) return `label ${label} is outside the model's ${lim.classes} classes (labels 0-${lim.classes - 1})`;
  return undefined;
}

/** What is wrong with an example for this model, or undefined. */
function problemOf(e: Example, task: string, lim: ModelLimits): string | undefined {
  if (task === 'causal-lm') return isLmExample(e) ? tokenProblem(e.input_ids, lim) : 'has no input_ids (this model is a causal LM)';
  // classifiers and regressors: token ids (BERT-style) or one float input (MLPs, CNNs)
  const label = (e as { label?: unknown }).label;
  if (isLmExample(e)) {
    if (lim.features !== undefined) return 'has input_ids, but this model takes one float input (it needs "input" and "label")';
    return tokenProblem(e.input_ids, lim) ?? labelProblem(label, task, lim);
  }
  if (!Array.isArray(e.input)) return 'has no "input" array';
  if (lim.features !== undefined && e.input.length !== lim.features) return `has ${e.input.length} input values, the model takes ${lim.features}`;
  const bad = e.input.findIndex((x) => !Number.isFinite(Math.fround(x)));
  if (bad >= 0) return `input[${bad}] = ${e.input[bad]} is not finite in float32 (|x| <= 3.4e38), which the model computes in`;
  return labelProblem(label, task, lim);
}

/** Checks every example against the model before anything runs; names up to 10 that fail (id, line, what to do). */
export function checkExamples(model: LoadedModel, examples: Example[], what: string): void {
  const lim = model.limits;
  const bad: { e: Example; p: string }[] = [];
  let count = 0;
  for (const e of examples) {
    const p = problemOf(e, model.task, lim);
    if (!p) continue;
    count++;
    if (bad.length < 10) bad.push({ e, p });
  }
  if (!count) return;
  const lines = bad.map(({ e, p }) => `example ${describeExample(e)} ${p}`);
  const head = count === 1 ? `${what}: ` : `${what}: ${count} examples cannot be run by this model${count > bad.length ? ` (the first ${bad.length})` : ''}:\n  `;
  throw new ExampleError(head + lines.join('\n  '), bad.map(({ e }) => ({ id: e.id, where: originOf(e) ? `${originOf(e)!.source}:${originOf(e)!.line}` : undefined })));
}

// ---- model runs

/** Runs a batch; when the model fails, finds the example it failed on (each alone) and names it. */
export async function runExamples(tm: TapModel, batch: Example[]): Promise<TapBatch> {
  try {
    return await tm.run(batch);
  } catch (e) {
    let culprit: Example | undefined = batch.length === 1 ? batch[0] : undefined;
    let cause = e;
    for (const x of batch.length > 1 ? batch : []) {
      try {
        await tm.run([x]);
      } catch (e1) {
        culprit = x;
        cause = e1;
        break;
      }
    }
    const msg = String((cause as Error)?.message ?? cause).split('\n')[0];
    const who = culprit ? `example ${describeExample(culprit)}` : `the batch ${batch.map(describeExample).join(', ')}`;
    throw new ExampleError(`the model failed on ${who}: ${msg}. Check its token ids against the model's vocabulary, its length against the context (--max-len) and its label against the classes`, culprit ? [{ id: culprit.id }] : []);
  }
}

function finite(a: Float32Array | undefined): boolean {
  if (!a) return true;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

function batchFinite(r: TapBatch): boolean {
  return r.layers.every((l) => finite(l.g) && finite(l.ap) && finite(l.sp));
}

/**
 * Runs a batch and keeps only examples whose projected gradients and statistics are finite: when some are not,
 * each example is run alone to find them, and the batch runs again without them.
 */
export async function runFinite(tm: TapModel, batch: Example[]): Promise<{ r?: TapBatch; rejected: Example[] }> {
  const r = await runExamples(tm, batch);
  if (batchFinite(r)) return { r, rejected: [] };
  const kept: Example[] = [], rejected: Example[] = [];
  for (const e of batch) (batchFinite(await runExamples(tm, [e])) ? kept : rejected).push(e);
  if (!kept.length) return { rejected };
  const again = await runExamples(tm, kept);
  if (!batchFinite(again)) throw new ExampleError(`examples ${kept.map(describeExample).join(', ')} give finite gradients alone but not together`, kept.map((e) => ({ id: e.id })));
  return { r: again, rejected };
}

/** Examples rejected for non-finite gradients (thrown by log after everything else was stored). */
export class NonFiniteGradientError extends ExampleError {
  constructor(rejected: Example[]) {
    const list = rejected.slice(0, 10).map(describeExample).join(', ') + (rejected.length > 10 ? `, ... (${rejected.length} in all)` : '');
    super(`${rejected.length === 1 ? '1 example gives' : `${rejected.length} examples give`} a non-finite gradient (its values overflow float32 in the model) and ${rejected.length === 1 ? 'was' : 'were'} not stored: ${list}. Everything else was stored; fix or drop ${rejected.length === 1 ? 'it' : 'them'} and rerun (only ${rejected.length === 1 ? 'it is' : 'they are'} logged then)`, rejected.map((e) => ({ id: e.id })));
    this.name = 'NonFiniteGradientError';
  }
}
