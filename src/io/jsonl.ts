// JSONL example files, one JSON object per line, each with an "id" and one of:
//   {"input_ids": [...], "target_mask"?: [...], "token_type_ids"?: [...], "label"?: n}   token ids as given
//   {"text": "...", "text_pair"?: "...", "label"?: n}                                    tokenized (with the tokenizer's
//                                                                                          special tokens: BOS, [CLS] .. [SEP])
//   {"prompt": "...", "completion": "..."}    prompt (with special tokens) + completion (without); only the
//                                              completion's tokens are targets of the causal-LM loss
//   {"messages": [{"role", "content"}, ...]}   rendered with the tokenizer's chat template; the assistant turns are
//                                              the targets
//   {"input": [floats], "label": n}            one float feature input (MLPs, CNNs)
// "label" is a class index (classification) or a number (regression). Errors name the file and line.
import type { Example, TokenExample } from '../runtime/batch.ts';
import type { TextTokenizer, ChatMessage } from '../tokenizer/text.ts';

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
  /** turns "text", "prompt"/"completion" and "messages" rows into token ids (without it such rows are an error) */
  tokenizer?: TextTokenizer;
  /** truncate every token sequence to this many tokens (e.g. the model's context length) */
  maxLength?: number;
}

const KINDS = ['input_ids', 'text', 'prompt', 'messages', 'input'] as const;

function intArray(v: unknown, where: string, key: string): number[] {
  if (!Array.isArray(v) || !v.every((t) => Number.isInteger(t) && (t as number) >= 0)) throw new DataFormatError(`${where}: ${key} must be an array of non-negative integers`);
  return v as number[];
}

function label(v: Record<string, unknown>, where: string, required: boolean): number | undefined {
  if (v.label === undefined) {
    if (required) throw new DataFormatError(`${where}: "input" rows need a "label" (a class index, or a number for regression)`);
    return undefined;
  }
  if (typeof v.label !== 'number' || !Number.isFinite(v.label)) throw new DataFormatError(`${where}: label must be a number (a class index, or a regression target)`);
  return v.label;
}

function needTokenizer(where: string, what: string, opts: JsonlOptions): TextTokenizer {
  if (!opts.tokenizer) throw new DataFormatError(`${where}: a ${what} row needs a tokenizer (--tokenizer FILE, or a model folder with tokenizer.json)`);
  return opts.tokenizer;
}

function messages(v: unknown, where: string): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw new DataFormatError(`${where}: "messages" must be a non-empty array of {"role", "content"}`);
  return v.map((m, i) => {
    if (typeof m !== 'object' || m === null || typeof (m as ChatMessage).role !== 'string' || typeof (m as ChatMessage).content !== 'string') {
      throw new DataFormatError(`${where}: messages[${i}] must be {"role": string, "content": string}`);
    }
    return { role: (m as ChatMessage).role, content: (m as ChatMessage).content };
  });
}

/** One token row: input_ids with its optional per-token fields, truncated to maxLength. */
function tokenRow(id: string, ids: number[], extra: { target_mask?: number[]; token_type_ids?: number[]; label?: number }, where: string, opts: JsonlOptions): TokenExample {
  if (ids.length === 0) throw new DataFormatError(`${where}: the row has no tokens`);
  const n = opts.maxLength ? Math.min(ids.length, opts.maxLength) : ids.length;
  const ex: TokenExample = { id, input_ids: ids.slice(0, n) };
  for (const k of ['target_mask', 'token_type_ids'] as const) {
    const a = extra[k];
    if (a === undefined) continue;
    if (a.length !== ids.length) throw new DataFormatError(`${where}: ${k} has ${a.length} entries for ${ids.length} input_ids`);
    ex[k] = a.slice(0, n);
  }
  if (ex.target_mask && !ex.target_mask.slice(1).some((m) => m > 0)) {
    throw new DataFormatError(
      `${where}: no target token is left${n < ids.length ? ` after truncating to ${n} tokens (--max-len)` : ''}: the loss would be zero` +
        ' (the first token is never predicted; a completion or assistant turn needs at least one token after it)',
    );
  }
  if (extra.label !== undefined) ex.label = extra.label;
  return ex;
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
    const push = (e: Example) => {
      out.push(e);
      ORIGIN.set(e, { source, line: i + 1 });
    };
    const kinds = KINDS.filter((k) => v[k] !== undefined);
    if (kinds.length !== 1) {
      throw new DataFormatError(
        kinds.length
          ? `${where}: the row has ${kinds.map((k) => `"${k}"`).join(' and ')}; give exactly one of them`
          : `${where}: expected "input_ids", "text", "prompt" + "completion", "messages" (token models) or "input" + "label" (float-feature classifiers)`,
      );
    }
    const kind = kinds[0];
    if (kind === 'input') {
      if (!Array.isArray(v.input)) throw new DataFormatError(`${where}: input must be an array of numbers`);
      const bad = v.input.findIndex((t) => typeof t !== 'number' || !(Math.abs(t) <= F32_MAX));
      if (bad >= 0) throw new DataFormatError(`${where}: input[${bad}] = ${JSON.stringify(v.input[bad])}: input must be numbers that are finite in float32 (|x| <= 3.4e38), which the model computes in`);
      push({ id, input: v.input as number[], label: label(v, where, true)! });
      return;
    }
    if (kind === 'input_ids') {
      const extra = {
        target_mask: v.target_mask === undefined ? undefined : intArray(v.target_mask, where, 'target_mask'),
        token_type_ids: v.token_type_ids === undefined ? undefined : intArray(v.token_type_ids, where, 'token_type_ids'),
        label: label(v, where, false),
      };
      push(tokenRow(id, intArray(v.input_ids, where, 'input_ids'), extra, where, opts));
      return;
    }
    if (kind === 'text') {
      if (typeof v.text !== 'string') throw new DataFormatError(`${where}: "text" must be a string`);
      if (v.text_pair !== undefined && typeof v.text_pair !== 'string') throw new DataFormatError(`${where}: "text_pair" must be a string`);
      const e = needTokenizer(where, '"text"', opts).encode(v.text, { pair: v.text_pair as string | undefined });
      if (e.ids.length === 0) throw new DataFormatError(`${where}: "text" is empty after tokenization`);
      const typed = e.typeIds && e.typeIds.some((t) => t !== 0) ? e.typeIds : undefined;
      push(tokenRow(id, e.ids, { token_type_ids: typed, label: label(v, where, false) }, where, opts));
      return;
    }
    if (kind === 'prompt') {
      if (typeof v.prompt !== 'string' || typeof v.completion !== 'string') throw new DataFormatError(`${where}: "prompt" and "completion" must both be strings`);
      const tok = needTokenizer(where, '"prompt"/"completion"', opts);
      const p = tok.encode(v.prompt).ids;
      const c = tok.encode(v.completion, { addSpecialTokens: false }).ids;
      if (c.length === 0) throw new DataFormatError(`${where}: "completion" is empty after tokenization`);
      push(tokenRow(id, [...p, ...c], { target_mask: [...p.map(() => 0), ...c.map(() => 1)] }, where, opts));
      return;
    }
    const tok = needTokenizer(where, '"messages"', opts);
    if (!tok.hasChatTemplate) throw new DataFormatError(`${where}: "messages" rows need a tokenizer with a chat template (tokenizer_config.json "chat_template")`);
    const msgs = messages(v.messages, where);
    if (!msgs.some((m) => m.role === 'assistant')) throw new DataFormatError(`${where}: "messages" has no assistant turn, so nothing is a target of the loss`);
    const c = tok.chat(msgs);
    push(tokenRow(id, c.ids, { target_mask: c.targetMask }, where, opts));
  });
  return out;
}
