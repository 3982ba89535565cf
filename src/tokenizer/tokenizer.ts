/**
 * Byte-level BPE tokenizer (GPT-2 style): text -> UTF-8 bytes per GPT-2 pre-token -> merges applied in priority order.
 * Any well-formed string round-trips exactly: `decode(encode(s)) === s` (a lone UTF-16 surrogate, which has no UTF-8
 * form, comes back as U+FFFD like everywhere else UTF-8 is used). No dependencies; runs in browsers, Node and Deno.
 */
import { bytesToVisible } from './bytes.ts';
import { MAX_VOCAB, TOKENIZER_FORMAT, TOKENIZER_VERSION, TokenizerFormatError, validateTokenizerJSON, type TokenizerJSON } from './format.ts';
import { GPT2_PATTERN, GPT2_PRETOKENIZER, pretokenize } from './pretokenize.ts';

export const END_OF_TEXT = '<|endoftext|>';

export interface EncodeOptions {
  /** Map occurrences of special-token text (e.g. "<|endoftext|>") to their ids. Default false: such text is encoded
   * as ordinary bytes, so user input can never forge a special token. */
  allowSpecial?: boolean;
}

/** Cached words are dropped all at once when the cache reaches this size. */
const CACHE_LIMIT = 100_000;
/** Heap priorities pack (rank, position) as rank * POS_SPAN + position. */
const POS_SPAN = 2 ** 31;

const utf8 = new TextEncoder();

export class ByteBPETokenizer {
  /** Total number of ids: 256 bytes + merges + specials. */
  readonly vocabSize: number;
  readonly numMerges: number;
  /** Special token text -> id. */
  readonly special: ReadonlyMap<string, number>;
  private readonly merges: Int32Array;
  /** (left * MAX_VOCAB + right) -> merge rank. */
  private readonly ranks = new Map<number, number>();
  private readonly bytesOf: Uint8Array[] = [];
  private readonly specialText = new Map<number, string>();
  private readonly specialRe: RegExp | null;
  private readonly cache = new Map<string, readonly number[]>();
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  /** @param merges flat [left0, right0, left1, right1, ...]: merge i creates id 256 + i. */
  constructor(merges: ArrayLike<number>, specialTokens: readonly string[] = [END_OF_TEXT], readonly training?: Record<string, unknown>) {
    if (merges.length % 2 !== 0) throw new RangeError('merges must hold an even number of ids');
    this.merges = Int32Array.from(merges);
    this.numMerges = this.merges.length / 2;
    this.vocabSize = 256 + this.numMerges + specialTokens.length;
    if (this.vocabSize > MAX_VOCAB) throw new RangeError(`vocab size ${this.vocabSize} exceeds ${MAX_VOCAB}`);
    for (let b = 0; b < 256; b++) this.bytesOf.push(Uint8Array.of(b));
    for (let i = 0; i < this.numMerges; i++) {
      const a = this.merges[2 * i], b = this.merges[2 * i + 1];
      if (!(a >= 0 && b >= 0 && a < 256 + i && b < 256 + i)) throw new RangeError(`merge ${i} refers to an id not defined before it`);
      const left = this.bytesOf[a], right = this.bytesOf[b];
      const joined = new Uint8Array(left.length + right.length);
      joined.set(left);
      joined.set(right, left.length);
      this.bytesOf.push(joined);
      const key = a * MAX_VOCAB + b;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    }
    const special = new Map<string, number>();
    specialTokens.forEach((t, k) => {
      if (!t || special.has(t)) throw new RangeError(`special token ${JSON.stringify(t)} is empty or repeated`);
      const id = 256 + this.numMerges + k;
      special.set(t, id);
      this.specialText.set(id, t);
      this.bytesOf.push(utf8.encode(t));
    });
    this.special = special;
    this.specialRe = specialTokens.length
      ? new RegExp([...specialTokens].sort((x, y) => y.length - x.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
      : null;
  }

  /** Id of "<|endoftext|>". */
  get endOfTextId(): number {
    const id = this.special.get(END_OF_TEXT);
    if (id === undefined) throw new Error(`this tokenizer has no ${END_OF_TEXT} token`);
    return id;
  }

  /** The pair of ids merge `rank` joins. */
  merge(rank: number): [number, number] {
    if (!(rank >= 0 && rank < this.numMerges)) throw new RangeError(`no merge ${rank}`);
    return [this.merges[2 * rank], this.merges[2 * rank + 1]];
  }

  /** Text -> ids. Deterministic; `decode(encode(s)) === s` for every well-formed string. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.allowSpecial && this.specialRe) {
      let last = 0;
      for (const m of text.matchAll(this.specialRe)) {
        this.encodeOrdinary(text.slice(last, m.index), out);
        out.push(this.special.get(m[0])!);
        last = m.index + m[0].length;
      }
      this.encodeOrdinary(text.slice(last), out);
    } else {
      this.encodeOrdinary(text, out);
    }
    return out;
  }

  private encodeOrdinary(text: string, out: number[]): void {
    if (!text) return;
    for (const piece of pretokenize(text)) {
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = this.encodeWord(utf8.encode(piece));
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /**
   * BPE on one pre-token: repeatedly merge the adjacent pair with the lowest merge rank (leftmost first among equal
   * ranks). Uses a linked list and a heap, so long pre-tokens (e.g. a megabyte of spaces) stay O(n log n); this gives
   * the same result as GPT-2's "merge all occurrences of the best pair, repeat" loop because every pair containing
   * the id made by merge r has a rank above r.
   */
  encodeWord(bytes: Uint8Array): number[] {
    const n = bytes.length;
    if (n < 2) return Array.from(bytes);
    if (n >= POS_SPAN) throw new RangeError('pre-token too long');
    const sym = Int32Array.from(bytes);
    const next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new MinHeap();
    for (let i = 0; i + 1 < n; i++) {
      const r = this.ranks.get(sym[i] * MAX_VOCAB + sym[i + 1]);
      if (r !== undefined) heap.push(r * POS_SPAN + i);
    }
    while (heap.size > 0) {
      const top = heap.pop();
      const r = Math.floor(top / POS_SPAN), i = top - r * POS_SPAN;
      const j = next[i];
      if (sym[i] < 0 || j < 0 || this.ranks.get(sym[i] * MAX_VOCAB + sym[j]) !== r) continue; // stale entry
      sym[i] = 256 + r;
      sym[j] = -1;
      const k = next[j];
      next[i] = k;
      if (k >= 0) prev[k] = i;
      const p = prev[i];
      if (p >= 0) {
        const rp = this.ranks.get(sym[p] * MAX_VOCAB + sym[i]);
        if (rp !== undefined) heap.push(rp * POS_SPAN + p);
      }
      if (k >= 0) {
        const rk = this.ranks.get(sym[i] * MAX_VOCAB + sym[k]);
        if (rk !== undefined) heap.push(rk * POS_SPAN + i);
      }
    }
    const ids: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) ids.push(sym[i]);
    return ids;
  }

  /** The UTF-8 bytes of a token sequence (special tokens give their text). Throws on an unknown id. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let len = 0;
    for (let i = 0; i < ids.length; i++) len += this.tokenBytes(ids[i]).length;
    const out = new Uint8Array(len);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf[ids[i]];
      out.set(b, o);
      o += b.length;
    }
    return out;
  }

  /** Ids -> text. Byte sequences that are not valid UTF-8 (a cut multi-byte character) decode to U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    return this.decoder.decode(this.decodeBytes(ids));
  }

  /** The bytes one id stands for. */
  tokenBytes(id: number): Uint8Array {
    const b = Number.isInteger(id) ? this.bytesOf[id] : undefined;
    if (b === undefined) throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    return b;
  }

  /** One token as text for display (a partial UTF-8 character shows as U+FFFD). */
  tokenText(id: number): string {
    return this.specialText.get(id) ?? this.decoder.decode(this.tokenBytes(id));
  }

  /** One token in GPT-2's byte-level spelling ("Ġthe"); special tokens as their text. */
  tokenVisible(id: number): string {
    return this.specialText.get(id) ?? bytesToVisible(this.tokenBytes(id));
  }

  toJSON(): TokenizerJSON {
    const merges: [number, number][] = [];
    for (let i = 0; i < this.numMerges; i++) merges.push([this.merges[2 * i], this.merges[2 * i + 1]]);
    const vocab: string[] = [];
    for (let id = 0; id < 256 + this.numMerges; id++) vocab.push(bytesToVisible(this.bytesOf[id]));
    const json: TokenizerJSON = {
      format: TOKENIZER_FORMAT,
      version: TOKENIZER_VERSION,
      pretokenizer: GPT2_PRETOKENIZER,
      pattern: GPT2_PATTERN,
      vocabSize: this.vocabSize,
      special: Object.fromEntries(this.special),
      merges,
      vocab,
    };
    if (this.training) json.training = this.training;
    return json;
  }

  /** Serialises with one merge / vocab entry per line (diff-friendly, ~100 KB for 4k merges). */
  toJSONString(): string {
    const j = this.toJSON();
    const lines = ['{'];
    const scalar = (k: string, v: unknown) => lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
    scalar('format', j.format);
    scalar('version', j.version);
    scalar('pretokenizer', j.pretokenizer);
    scalar('pattern', j.pattern);
    scalar('vocabSize', j.vocabSize);
    scalar('special', j.special);
    if (j.training) lines.push(`  "training": ${JSON.stringify(j.training, null, 2).replace(/\n/g, '\n  ')},`);
    lines.push('  "merges": [');
    j.merges.forEach((m, i) => lines.push(`    ${JSON.stringify(m)}${i + 1 < j.merges.length ? ',' : ''}`));
    lines.push('  ],');
    lines.push('  "vocab": [');
    j.vocab!.forEach((v, i) => lines.push(`    ${JSON.stringify(v)}${i + 1 < j.vocab!.length ? ',' : ''}`));
    lines.push('  ]');
    lines.push('}');
    return lines.join('\n') + '\n';
  }

  /** Builds a tokenizer from a parsed JSON value, validating every field (throws TokenizerFormatError). */
  static fromJSON(value: unknown, source?: string): ByteBPETokenizer {
    const { merges, special } = validateTokenizerJSON(value, source);
    const training = (value as { training?: Record<string, unknown> }).training;
    return new ByteBPETokenizer(merges, special.map(([t]) => t), training);
  }

  /** Parses and validates JSON text; a syntax error is reported as a TokenizerFormatError on "(root)". */
  static fromJSONString(text: string, source?: string): ByteBPETokenizer {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new TokenizerFormatError('(root)', `is not valid JSON (${e instanceof Error ? e.message : String(e)})`, source);
    }
    return ByteBPETokenizer.fromJSON(value, source);
  }
}

/** Minimal binary min-heap of numbers. */
class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= v) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && a[c + 1] < a[c]) c++;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
