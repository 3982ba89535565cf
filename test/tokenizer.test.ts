import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ByteBPETokenizer, END_OF_TEXT, TokenizerFormatError, trainBPE, countPretokens, learnMerges, pretokenize,
  BYTE_CHARS, bytesToVisible, visibleToBytes, type TokenizerJSON,
} from '../src/tokenizer/index.ts';
import { loadTokenizerFile, KJV_TOKENIZER_PATH } from '../src/tokenizer/node.ts';

const root = new URL('..', import.meta.url);
const readJsonl = (rel: string) =>
  readFileSync(new URL(rel, root), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; text: string });
const kjv = readJsonl('public/corpus/kjv.jsonl');
const devil = readJsonl('public/corpus/devil.jsonl');
const tok = loadTokenizerFile();
const committedText = readFileSync(KJV_TOKENIZER_PATH, 'utf8');
const committed = () => JSON.parse(committedText) as TokenizerJSON & Record<string, unknown>;

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random well-formed string mixing ASCII, whitespace, Latin-1, combining marks, CJK, emoji (incl. ZWJ), astral. */
function randomUnicode(r: () => number, maxLen: number): string {
  const ranges: [number, number][] = [
    [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0x00, 0x1f], [0x80, 0xff], [0x300, 0x36f], [0x391, 0x3c9],
    [0x400, 0x44f], [0x5d0, 0x5ea], [0x600, 0x6ff], [0x900, 0x97f], [0x3040, 0x30ff], [0x4e00, 0x9fff],
    [0xac00, 0xd7a3], [0xe000, 0xf8ff], [0xfe00, 0xfe0f], [0xfeff, 0xfeff], [0xfff0, 0xffff], [0x1f300, 0x1faff],
    [0x1f1e6, 0x1f1ff], [0x200b, 0x200d], [0x2000, 0x206f], [0x10000, 0x10ffff],
  ];
  const specials = [' ', '  ', '\n', '\r\n', '\t', "'s", "'ll", END_OF_TEXT, '\u00a0', '\u3000', '👨‍👩‍👧', '🏳️‍🌈', 'é', 'e\u0301'];
  let s = '';
  const n = Math.floor(r() * maxLen);
  for (let i = 0; i < n; i++) {
    if (r() < 0.1) { s += specials[Math.floor(r() * specials.length)]; continue; }
    const [lo, hi] = ranges[Math.floor(r() * ranges.length)];
    const cp = lo + Math.floor(r() * (hi - lo + 1));
    s += String.fromCodePoint(cp >= 0xd800 && cp <= 0xdfff ? 0x41 : cp);
  }
  return s;
}

/** GPT-2's reference loop: merge every occurrence of the lowest-rank pair, repeat. */
const rankMaps = new WeakMap<ByteBPETokenizer, Map<string, number>>();
function naiveEncodeWord(t: ByteBPETokenizer, bytes: Uint8Array): number[] {
  let rank = rankMaps.get(t);
  if (!rank) {
    rank = new Map<string, number>();
    for (let i = 0; i < t.numMerges; i++) rank.set(t.merge(i).join(','), i);
    rankMaps.set(t, rank);
  }
  let s = Array.from(bytes);
  for (;;) {
    let best = Infinity;
    for (let i = 0; i + 1 < s.length; i++) best = Math.min(best, rank.get(`${s[i]},${s[i + 1]}`) ?? Infinity);
    if (best === Infinity) return s;
    const [a, b] = t.merge(best);
    const out: number[] = [];
    for (let i = 0; i < s.length; ) {
      if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { out.push(256 + best); i += 2; } else out.push(s[i++]);
    }
    s = out;
  }
}

describe('byte-level pieces', () => {
  it("maps the 256 bytes to 256 distinct printable characters, GPT-2's way", () => {
    expect(new Set(BYTE_CHARS).size).toBe(256);
    expect(BYTE_CHARS[32]).toBe('Ġ');
    expect(BYTE_CHARS[10]).toBe('Ċ');
    expect(BYTE_CHARS[65]).toBe('A');
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(visibleToBytes(bytesToVisible(all))).toEqual(all);
    expect(visibleToBytes('€')).toBeNull();
  });

  it('pre-tokenises like GPT-2 and always covers the input', () => {
    expect(pretokenize("And he said, I'll go:  123 times\n\nAmen.")).toEqual(
      ['And', ' he', ' said', ',', ' I', "'ll", ' go', ':', ' ', ' 123', ' times', '\n', '\n', 'Amen', '.'], // GPT-2's "\s+(?!\S)" leaves the last newline on its own
    );
    const r = rng(7);
    for (let i = 0; i < 300; i++) {
      const s = randomUnicode(r, 60);
      expect(pretokenize(s).join('')).toBe(s);
    }
    expect(pretokenize('\ud800x\udc00').join('')).toBe('\ud800x\udc00');
  });
});

describe('merges', () => {
  it('are applied in priority order (hand-checked)', () => {
    const [a, b, c] = [97, 98, 99];
    // "ab" before "bc": abc -> [ab][c]; the reverse order gives [a][bc].
    expect(new ByteBPETokenizer([a, b, b, c]).encode('abc')).toEqual([256, c]);
    expect(new ByteBPETokenizer([b, c, a, b]).encode('abc')).toEqual([a, 256]);
    // A later merge that needs an earlier one: (a,b)=256, (256,c)=257, (b,c)=258 (never reached inside "abc").
    const t = new ByteBPETokenizer([a, b, 256, c, b, c]);
    expect(t.encode('abc')).toEqual([257]);
    expect(t.encode('bcabc')).toEqual([258, 257]);
    expect(t.decode([258, 257])).toBe('bcabc');
    // Equal ranks go left to right: aaa -> [aa][a]; aaaaa with (aa,aa) next -> [aaaa][a].
    const aa = new ByteBPETokenizer([a, a, 256, 256]);
    expect(aa.encode('aaa')).toEqual([256, a]);
    expect(aa.encode('aaaa')).toEqual([257]);
    expect(aa.encode('aaaaa')).toEqual([257, a]);
    // Merges never cross pre-token boundaries: " a" and "a" differ, "b a" stays apart.
    const sp = new ByteBPETokenizer([a, 32]); // "a " never happens: the space belongs to the next word
    expect(sp.encode('a a')).toEqual([a, 32, a]);
  });

  it('the heap encoder equals the reference loop on the KJV tokenizer', () => {
    const r = rng(11);
    const enc = new TextEncoder();
    const words = ['Ġ', ' the', ' beginning', ' Jerusalem', ' Nebuchadnezzar', ' thee', ' aaaaaaaaaaaaaaaa', '        ', ' lovingkindnesses'];
    for (let i = 0; i < 200; i++) words.push(randomUnicode(r, 12));
    for (const v of kjv.slice(0, 200)) words.push(...pretokenize(v.text));
    for (const w of words) {
      const bytes = enc.encode(w);
      expect(tok.encodeWord(bytes)).toEqual(naiveEncodeWord(tok, bytes));
    }
  });

  it('training matches a from-scratch recount per merge', () => {
    const texts = devil.slice(0, 150).map((d) => d.text);
    const counts = countPretokens(texts);
    const n = 150;
    const enc = new TextEncoder();
    let words = [...counts].map(([p, c]) => ({ s: Array.from(enc.encode(p)), c }));
    const naive: number[] = [];
    for (let r = 0; r < n; r++) {
      const pc = new Map<string, number>();
      for (const w of words) for (let i = 0; i + 1 < w.s.length; i++) {
        const k = `${w.s[i]},${w.s[i + 1]}`;
        pc.set(k, (pc.get(k) ?? 0) + w.c);
      }
      let best: number[] = [], bc = 0;
      for (const [k, c] of pc) {
        const p = k.split(',').map(Number);
        if (c > bc || (c === bc && (p[0] < best[0] || (p[0] === best[0] && p[1] < best[1])))) { best = p; bc = c; }
      }
      if (bc < 2) break;
      const [a, b] = best;
      naive.push(a, b);
      words = words.map((w) => {
        const t: number[] = [];
        for (let i = 0; i < w.s.length; ) {
          if (i + 1 < w.s.length && w.s[i] === a && w.s[i + 1] === b) { t.push(256 + r); i += 2; } else t.push(w.s[i++]);
        }
        return { s: t, c: w.c };
      });
    }
    expect(learnMerges(counts, n)).toEqual(naive);
  });
});

describe('KJV tokenizer', () => {
  it('has a 4096-token vocabulary with <|endoftext|> last', () => {
    expect(tok.vocabSize).toBe(4096);
    expect(tok.numMerges).toBe(3839);
    expect(tok.endOfTextId).toBe(4095);
    expect(tok.special.get(END_OF_TEXT)).toBe(4095);
    expect(tok.tokenText(4095)).toBe(END_OF_TEXT);
    expect(tok.encode(' the')).toHaveLength(1);
    expect(tok.encode('In the beginning God created the heaven and the earth.').map((i) => tok.tokenText(i))).toEqual(
      ['In', ' the', ' beginning', ' God', ' created', ' the', ' heaven', ' and', ' the', ' earth', '.'],
    );
  });

  it('round-trips random Unicode strings exactly', () => {
    const r = rng(1);
    for (let i = 0; i < 400; i++) {
      const s = randomUnicode(r, 80);
      const ids = tok.encode(s);
      for (const id of ids) expect(id).toBeLessThan(4095); // no special token from plain text
      expect(tok.decode(ids)).toBe(s);
    }
    for (const s of ['', ' ', '\uFEFFBOM first', '🎉', 'naïve café', '日本語のテキスト', '\u0000\u0001', 'x'.repeat(5000), ' '.repeat(20000)]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    // A lone surrogate has no UTF-8 form: it comes back as U+FFFD, as with TextEncoder.
    expect(tok.decode(tok.encode('a\ud800b'))).toBe('a\ufffdb');
  });

  it('round-trips corpus samples and compresses the KJV', () => {
    let bytes = 0, tokens = 0;
    const enc = new TextEncoder();
    for (let i = 0; i < kjv.length; i += 37) {
      const ids = tok.encode(kjv[i].text);
      expect(tok.decode(ids)).toBe(kjv[i].text);
      bytes += enc.encode(kjv[i].text).length;
      tokens += ids.length;
    }
    expect(bytes / tokens).toBeGreaterThan(3.8);
    for (const d of devil.slice(0, 100)) expect(tok.decode(tok.encode(d.text))).toBe(d.text);
  });

  it('encodes deterministically', () => {
    const texts = kjv.slice(1000, 1100).map((v) => v.text).concat(devil.slice(0, 20).map((d) => d.text));
    const first = texts.map((t) => tok.encode(t));
    expect(texts.map((t) => tok.encode(t))).toEqual(first); // cached path
    const fresh = ByteBPETokenizer.fromJSONString(committedText);
    expect(texts.map((t) => fresh.encode(t))).toEqual(first); // uncached path
    expect(tok.encode(texts.join(' '))).toEqual(fresh.encode(texts.join(' ')));
  });

  it('keeps special-token text literal unless allowSpecial is set', () => {
    const s = `Amen.${END_OF_TEXT}In the beginning`;
    const plain = tok.encode(s);
    expect(plain).not.toContain(4095);
    expect(tok.decode(plain)).toBe(s);
    const withSpecial = tok.encode(s, { allowSpecial: true });
    expect(withSpecial.filter((i) => i === 4095)).toHaveLength(1);
    expect(withSpecial).toEqual([...tok.encode('Amen.'), 4095, ...tok.encode('In the beginning')]);
    expect(tok.decode(withSpecial)).toBe(s);
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => tok.decode([1, 4096])).toThrow(/4096 is outside the vocabulary/);
    expect(() => tok.decode([-1])).toThrow(RangeError);
    expect(() => tok.decode([1.5])).toThrow(RangeError);
  });

  it('the committed file is what training on the committed corpus produces', () => {
    const t0 = performance.now();
    const merges = learnMerges(countPretokens(kjv.map((v) => v.text)), 3839);
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(merges).toEqual(committed().merges.flat());
  });
});

describe('saving and loading', () => {
  it('round-trips through JSON, with or without the redundant vocab', () => {
    const t = trainBPE(devil.map((d) => d.text), { vocabSize: 300, specialTokens: [END_OF_TEXT, '<|pad|>'] });
    expect(t.vocabSize).toBe(300);
    expect(t.special.get('<|pad|>')).toBe(299);
    const json = t.toJSONString();
    const back = ByteBPETokenizer.fromJSONString(json);
    expect(back.toJSONString()).toBe(json);
    const { vocab: _vocab, pattern: _pattern, ...lean } = JSON.parse(json) as TokenizerJSON;
    const fromLean = ByteBPETokenizer.fromJSON(lean);
    const s = devil[3].text + END_OF_TEXT;
    expect(fromLean.encode(s, { allowSpecial: true })).toEqual(t.encode(s, { allowSpecial: true }));
  });

  it('fails on corrupted files with an error naming the field', () => {
    const cases: [string, (j: Record<string, any>) => unknown, RegExp][] = [
      ['not an object', () => [1, 2], /field "\(root\)" must be a JSON object/],
      ['wrong format', (j) => ({ ...j, format: 'hf-tokenizers' }), /field "format" must be "logra-byte-bpe"/],
      ['wrong version', (j) => ({ ...j, version: 2 }), /field "version" must be 1, got 2/],
      ['other pretokenizer', (j) => ({ ...j, pretokenizer: 'whitespace' }), /field "pretokenizer"/],
      ['edited pattern', (j) => ({ ...j, pattern: '\\w+' }), /field "pattern"/],
      ['merges missing', (j) => ({ ...j, merges: undefined }), /field "merges" must be an array/],
      ['bad merge', (j) => { j.merges[5] = [1]; return j; }, /field "merges\[5\]" must be a pair/],
      ['string ids', (j) => { j.merges[7] = ['a', 'b']; return j; }, /field "merges\[7\]"/],
      ['forward reference', (j) => { j.merges[3] = [300, 32]; return j; }, /field "merges\[3\]" refers to id 300, but only ids below 259 exist/],
      ['repeated merge', (j) => { j.merges[9] = j.merges[2]; return j; }, /field "merges\[9\]" repeats merges\[2\]/],
      ['special missing', (j) => ({ ...j, special: null }), /field "special" must be an object/],
      ['special id', (j) => ({ ...j, special: { [END_OF_TEXT]: 5000 } }), /field "special\["<\|endoftext\|>"\]" must be id 4095/],
      ['vocabSize', (j) => ({ ...j, vocabSize: 4000 }), /field "vocabSize" must be 4096 \(256 bytes \+ 3839 merges \+ 1 special\), got 4000/],
      ['vocab entry', (j) => { j.vocab[300] = 'Ġtheee'; return j; }, /field "vocab\[300\]" is "Ġtheee" but merges\[44\] gives/],
      ['vocab length', (j) => { j.vocab.pop(); return j; }, /field "vocab" must have 4095 entries/],
      ['truncated merges', (j) => { j.merges.pop(); return j; }, /field "special\["<\|endoftext\|>"\]" must be id 4094/],
    ];
    for (const [name, corrupt, message] of cases) {
      const bad = corrupt(committed());
      let error: unknown;
      try {
        ByteBPETokenizer.fromJSON(bad, 'kjv-bpe.json');
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(TokenizerFormatError);
      expect((error as Error).message, name).toMatch(message);
      expect((error as Error).message, name).toMatch(/^kjv-bpe\.json: /);
    }
  });

  it('names the file when loading a broken one from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tok-'));
    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, committedText.slice(0, 5000));
    expect(() => loadTokenizerFile(truncated)).toThrow(new RegExp(`^${truncated.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: field "\\(root\\)" is not valid JSON`));
    const edited = join(dir, 'edited.json');
    writeFileSync(edited, committedText.replace('"version": 1', '"version": "1"'));
    expect(() => loadTokenizerFile(edited)).toThrow(/edited\.json: field "version" must be 1, got "1"/);
  });
});
