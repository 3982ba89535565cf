// JSONL example files: {"id", "input_ids": [...]} for causal LMs, {"id", "input": [...], "label": n} for classifiers.
import type { Example } from '../runtime/batch.ts';

export class DataFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataFormatError';
  }
}

/** Where each parsed example came from (file and 1-based line), for messages about it. */
const ORIGIN = new WeakMap<object, { source: string; line: number }>();

export function originOf(e: object): { source: string; line: number } | undefined {
  return ORIGIN.get(e);
}

/** The largest finite float32: models compute in float32, so larger inputs become infinite. */
const F32_MAX = 3.4028234663852886e38;

export interface JsonlOptions {
  /** turns {"id", "text"} rows into input_ids (without it such rows are an error) */
  tokenize?: (text: string) => number[];
  /** truncate input_ids to this many tokens (e.g. the model's context length) */
  maxLength?: number;
}

export function parseJsonl(text: string, source = 'data', opts: JsonlOptions = {}): Example[] {
  const out: Example[] = [];
  const ids = new Set<string>();
  text.split('\n').forEach((line, i) => {
    const s = line.trim();
    if (!s) return;
    const where = `${source}:${i + 1}`;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw new DataFormatError(`${where}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DataFormatError(`${where}: each line must be a JSON object`);
    if (v.id === undefined || v.id === null) throw new DataFormatError(`${where}: no "id": every row needs a unique "id" (a string or number), which names the example in the index and in scores and lets a rerun skip what is stored`);
    if ((typeof v.id !== 'string' && typeof v.id !== 'number') || v.id === '' || (typeof v.id === 'number' && !Number.isFinite(v.id))) throw new DataFormatError(`${where}: "id" must be a non-empty string or a finite number, got ${JSON.stringify(v.id)}`);
    const id = String(v.id);
    if (ids.has(id)) throw new DataFormatError(`${where}: duplicate id ${JSON.stringify(id)}`);
    ids.add(id);
    const before = out.length;
    if (typeof v.text === 'string' && !Array.isArray(v.input_ids) && !Array.isArray(v.input)) {
      if (!opts.tokenize) throw new DataFormatError(`${where}: a "text" row needs a tokenizer (--tokenizer FILE)`);
      const ids = opts.tokenize(v.text);
      if (ids.length === 0) throw new DataFormatError(`${where}: "text" is empty after tokenization`);
      out.push({ id, input_ids: opts.maxLength ? ids.slice(0, opts.maxLength) : ids });
    } else if (Array.isArray(v.input_ids)) {
      if (!v.input_ids.every((t) => Number.isInteger(t) && (t as number) >= 0)) throw new DataFormatError(`${where}: input_ids must be non-negative integers`);
      if (v.input_ids.length === 0) throw new DataFormatError(`${where}: input_ids is empty`);
      const ids = v.input_ids as number[];
      out.push({ id, input_ids: opts.maxLength ? ids.slice(0, opts.maxLength) : ids });
    } else if (Array.isArray(v.input)) {
      const bad = v.input.findIndex((t) => typeof t !== 'number' || !(Math.abs(t) <= F32_MAX));
      if (bad >= 0) throw new DataFormatError(`${where}: input[${bad}] = ${JSON.stringify(v.input[bad])}: input must be numbers that are finite in float32 (|x| <= 3.4e38), which the model computes in`);
      if (!Number.isInteger(v.label) || (v.label as number) < 0) throw new DataFormatError(`${where}: label must be a non-negative integer`);
      out.push({ id, input: v.input as number[], label: v.label as number });
    } else {
      throw new DataFormatError(`${where}: expected "input_ids" (causal LM), "input" + "label" (classifier) or "text" (with a tokenizer)`);
    }
    if (out.length > before) ORIGIN.set(out[out.length - 1], { source, line: i + 1 });
  });
  return out;
}
