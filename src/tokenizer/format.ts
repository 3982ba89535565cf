/**
 * The saved tokenizer (public/tokenizer/*.json) and its validation.
 *
 * Ids: 0..255 are the raw bytes (id = byte value); merge i (0-based, in priority order) creates id 256 + i from the
 * pair `merges[i] = [left, right]` of earlier ids; the special tokens take the ids after the merges. `vocab[id]` is the
 * token's bytes written with GPT-2's byte characters ("Ġthe" = " the"); it is redundant (rebuilt from the merges) and,
 * when present, checked against them, so a hand-edited or truncated file fails on load instead of encoding wrongly.
 */
import { BYTE_CHARS } from './bytes.ts';
import { GPT2_PATTERN, GPT2_PRETOKENIZER } from './pretokenize.ts';

export const TOKENIZER_FORMAT = 'logra-byte-bpe';
export const TOKENIZER_VERSION = 1;
/** Ids must stay below this (pair keys are packed as left * MAX_VOCAB + right in a double). */
export const MAX_VOCAB = 1 << 21;

export interface TokenizerJSON {
  format: typeof TOKENIZER_FORMAT;
  version: typeof TOKENIZER_VERSION;
  /** Pre-tokenisation regex name; only "gpt2" ({@link GPT2_PATTERN}) is defined. */
  pretokenizer: typeof GPT2_PRETOKENIZER;
  /** The regex itself, for readers of the file; must equal GPT2_PATTERN. */
  pattern?: string;
  /** 256 + merges.length + number of special tokens. */
  vocabSize: number;
  merges: [number, number][];
  /** Byte-level strings of ids 0 .. 255 + merges.length (specials excluded). Optional; checked when present. */
  vocab?: string[];
  /** Special token text -> id; ids are 256 + merges.length, 256 + merges.length + 1, ... */
  special: Record<string, number>;
  /** Free-form provenance (corpus, hash, settings). Not interpreted. */
  training?: Record<string, unknown>;
}

/** A tokenizer file is malformed; `field` names the offending JSON field (e.g. "merges[12]"). */
export class TokenizerFormatError extends Error {
  override name = 'TokenizerFormatError';
  constructor(readonly field: string, detail: string, source = 'tokenizer JSON') {
    super(`${source}: field "${field}" ${detail}`);
  }
}

export interface ValidatedTokenizer {
  /** merges[2i], merges[2i+1] = left and right id of merge i. */
  merges: Int32Array;
  /** [text, id] in id order. */
  special: [string, number][];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
};

/** Checks a parsed tokenizer JSON value; throws {@link TokenizerFormatError} naming the first bad field. */
export function validateTokenizerJSON(value: unknown, source?: string): ValidatedTokenizer {
  const err = (field: string, detail: string) => new TokenizerFormatError(field, detail, source);
  if (!isObject(value)) throw err('(root)', `must be a JSON object, got ${show(value)}`);
  if (value.format !== TOKENIZER_FORMAT) throw err('format', `must be "${TOKENIZER_FORMAT}", got ${show(value.format)}`);
  if (value.version !== TOKENIZER_VERSION) throw err('version', `must be ${TOKENIZER_VERSION}, got ${show(value.version)}`);
  if (value.pretokenizer !== GPT2_PRETOKENIZER) throw err('pretokenizer', `must be "${GPT2_PRETOKENIZER}", got ${show(value.pretokenizer)}`);
  if (value.pattern !== undefined && value.pattern !== GPT2_PATTERN) throw err('pattern', 'must be the GPT-2 pre-tokenisation regex when present');

  const rawMerges = value.merges;
  if (!Array.isArray(rawMerges)) throw err('merges', `must be an array of [left, right] id pairs, got ${show(rawMerges)}`);
  const nMerges = rawMerges.length;
  const merges = new Int32Array(2 * nMerges);
  const seen = new Map<number, number>();
  for (let i = 0; i < nMerges; i++) {
    const m: unknown = rawMerges[i];
    if (!Array.isArray(m) || m.length !== 2 || !isId(m[0]) || !isId(m[1])) {
      throw err(`merges[${i}]`, `must be a pair [left, right] of non-negative integer ids, got ${show(m)}`);
    }
    const defined = 256 + i;
    if (m[0] >= defined || m[1] >= defined) {
      throw err(`merges[${i}]`, `refers to id ${Math.max(m[0], m[1])}, but only ids below ${defined} exist before merge ${i}`);
    }
    const first = seen.get(m[0] * MAX_VOCAB + m[1]);
    if (first !== undefined) throw err(`merges[${i}]`, `repeats merges[${first}] ${show(m)}`);
    seen.set(m[0] * MAX_VOCAB + m[1], i);
    merges[2 * i] = m[0];
    merges[2 * i + 1] = m[1];
  }

  if (!isObject(value.special)) throw err('special', `must be an object mapping token text to id, got ${show(value.special)}`);
  const special: [string, number][] = [];
  for (const [text, id] of Object.entries(value.special)) {
    if (text.length === 0) throw err('special', 'has an empty token text');
    if (!isId(id)) throw err(`special[${show(text)}]`, `must be a non-negative integer id, got ${show(id)}`);
    special.push([text, id]);
  }
  special.sort((a, b) => a[1] - b[1]);
  special.forEach(([text, id], k) => {
    if (id !== 256 + nMerges + k) {
      throw err(`special[${show(text)}]`, `must be id ${256 + nMerges + k} (special ids follow the ${256 + nMerges} byte and merge ids without gaps), got ${id}`);
    }
  });

  const vocabSize = 256 + nMerges + special.length;
  if (value.vocabSize !== vocabSize) {
    throw err('vocabSize', `must be ${vocabSize} (256 bytes + ${nMerges} merges + ${special.length} special), got ${show(value.vocabSize)}`);
  }
  if (vocabSize > MAX_VOCAB) throw err('vocabSize', `must not exceed ${MAX_VOCAB}, got ${vocabSize}`);

  if (value.vocab !== undefined) {
    const vocab = value.vocab;
    if (!Array.isArray(vocab)) throw err('vocab', `must be an array of strings when present, got ${show(vocab)}`);
    if (vocab.length !== 256 + nMerges) throw err('vocab', `must have ${256 + nMerges} entries (bytes + merges), got ${vocab.length}`);
    for (let id = 0; id < vocab.length; id++) {
      const expected = id < 256 ? BYTE_CHARS[id] : vocab[merges[2 * (id - 256)]] + vocab[merges[2 * (id - 256) + 1]];
      if (typeof vocab[id] !== 'string') throw err(`vocab[${id}]`, `must be a string, got ${show(vocab[id])}`);
      if (vocab[id] !== expected) {
        throw err(`vocab[${id}]`, `is ${show(vocab[id])} but ${id < 256 ? `byte ${id}` : `merges[${id - 256}]`} gives ${show(expected)}`);
      }
    }
  }
  if (value.training !== undefined && !isObject(value.training)) throw err('training', `must be an object when present, got ${show(value.training)}`);
  return { merges, special };
}
