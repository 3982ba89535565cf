// Hugging Face tokenizers through @huggingface/tokenizers and the data formats built on them: the fixtures' ids were
// made by independent Python encoders (test/fixtures/make_user_models.py); prompt/completion and chat rows mark
// only the completion / assistant tokens as targets; the project's byte-level BPE written as tokenizer.json gives
// the same ids through the library.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseTokenizer, byteBpeToTokenizerJson, HfTokenizer } from '../src/tokenizer/hf.ts';
import { parseJsonl, DataFormatError } from '../src/io/jsonl.ts';
import { loadTokenizerFile } from '../src/tokenizer/node.ts';
import type { TokenExample } from '../src/runtime/batch.ts';

const FIX = new URL('./fixtures/', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, FIX), 'utf8');
const rows = (p: string) => read(p).trim().split('\n').map((l) => JSON.parse(l));

describe('tokenizer.json (SentencePiece-style BPE, Llama-2 layout) and prompt/completion data', () => {
  const tok = parseTokenizer(read('llama_folder/tokenizer.json'), read('llama_folder/tokenizer_config.json'), 'llama_folder/tokenizer.json');

  it('prompt + completion rows give the Python encoder\'s ids, with the completion\'s tokens as the only targets', () => {
    expect(tok.kind).toBe('tokenizer.json (BPE)');
    const got = parseJsonl(read('llama_folder/data.jsonl'), 'data.jsonl', { tokenizer: tok }) as TokenExample[];
    const want = rows('llama_folder/ids.jsonl');
    expect(got.map((e) => ({ id: e.id, input_ids: e.input_ids, target_mask: e.target_mask }))).toEqual(want);
    expect(got[0].input_ids[0]).toBe(1); // <s> from the TemplateProcessing post-processor
  });

  it('chat rows render the template (@huggingface/jinja) and target the assistant turn with its end-of-turn text', () => {
    expect(tok.hasChatTemplate).toBe(true);
    const got = parseJsonl(read('llama_folder/chat.jsonl'), 'chat.jsonl', { tokenizer: tok }) as TokenExample[];
    expect(got.map((e) => ({ id: e.id, input_ids: e.input_ids, target_mask: e.target_mask }))).toEqual(rows('llama_folder/chat_ids.jsonl'));
    const t = got[0];
    const targets = t.input_ids.filter((_, i) => t.target_mask![i] === 1);
    expect(tok.decode(targets)).toContain('bread is food.</s>');
  });

  it('truncation that leaves no completion token is an error, not a silent zero gradient', () => {
    const line = '{"id":"x","prompt":"q: what is bread? a:","completion":"bread is food."}';
    expect(() => parseJsonl(line, 'd.jsonl', { tokenizer: tok, maxLength: 5 })).toThrow(/d\.jsonl:1: no target token is left after truncating to 5 tokens/);
    expect(() => parseJsonl('{"id":"x","messages":[{"role":"user","content":"hi"}]}', 'd.jsonl', { tokenizer: tok })).toThrow(/no assistant turn/);
  });
});

describe('other tokenizer families', () => {
  it('Unigram (T5-style: Metaspace, Viterbi over log-probabilities, </s> appended)', () => {
    const vocab: [string, number][] = [['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['▁', -2], ['▁hello', -5], ['▁he', -3], ['llo', -3.5], ['h', -4], ['e', -4], ['l', -4], ['o', -4], ['▁wor', -4], ['ld', -4], ['w', -6], ['r', -6], ['d', -6]];
    const json = {
      version: '1.0', truncation: null, padding: null,
      added_tokens: ['<pad>', '</s>', '<unk>'].map((c, id) => ({ id, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
      post_processor: { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }], pair: [], special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } } },
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
      model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
    };
    const tok = parseTokenizer(JSON.stringify(json), JSON.stringify({ eos_token: '</s>', pad_token: '<pad>' }), 't5.json');
    // "▁hello" (-5) beats "▁he" + "llo" (-6.5); "▁world" = "▁wor" + "ld"
    expect(tok.encode('hello world').ids).toEqual([4, 11, 12, 1]);
    expect(tok.padId).toBe(0);
    expect(tok.eosId).toBe(1);
  });

  it('WordPiece (BERT: lowercasing, ## continuations, [CLS] A [SEP] B [SEP] with token types)', () => {
    const words = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'the', 'cat', 'sat', 'play', '##ing', '##s', '.'];
    const json = {
      version: '1.0', truncation: null, padding: null,
      added_tokens: words.slice(0, 4).map((c, id) => ({ id, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
        special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
      },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(words.map((w, i) => [w, i])) },
    };
    const tok = parseTokenizer(JSON.stringify(json), JSON.stringify({ pad_token: '[PAD]' }), 'bert.json');
    const [ex] = parseJsonl('{"id":"p","text":"The cat sat.","text_pair":"Playing cats","label":2}', 'd', { tokenizer: tok }) as TokenExample[];
    expect(ex.input_ids).toEqual([2, 4, 5, 6, 10, 3, 7, 8, 5, 9, 3]);
    expect(ex.token_type_ids).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(ex.label).toBe(2);
    expect(tok.padId).toBe(0);
  });

  it("byte-level BPE: the project's KJV tokenizer written as tokenizer.json gives the same ids through @huggingface/tokenizers", () => {
    const kjv = loadTokenizerFile();
    const hf = new HfTokenizer(byteBpeToTokenizerJson(kjv), {}, 'kjv as tokenizer.json');
    const lines = (f: string, n: number) => readFileSync(new URL(`../public/corpus/${f}`, import.meta.url), 'utf8').split('\n').filter(Boolean).slice(0, n).map((l) => JSON.parse(l).text as string);
    const corpus = [...lines('kjv.jsonl', 300), ...lines('devil.jsonl', 100)];
    const extra = ["In the beginning God created the heaven and the earth.", "  two  spaces\tand\ttabs\n", "naïve café — ünïcødé ✓ 😀", "it's they'll we've I'm 1234 56"];
    for (const s of [...corpus, ...extra]) expect(hf.encode(s, { addSpecialTokens: false }).ids, s).toEqual(kjv.encode(s));
    // tokenizer.json always maps special-token text to its id (the project's encoder does only when asked)
    expect(hf.encode('<|endoftext|> as text', { addSpecialTokens: false }).ids).toEqual(kjv.encode('<|endoftext|> as text', { allowSpecial: true }));
    expect(hf.decode(kjv.encode(extra[2]))).toBe(extra[2]);
    expect(corpus.length).toBeGreaterThan(100);
  });
});

describe('JSONL rows', () => {
  it('one kind per row, errors with file and line; labels are numbers; the KJV tokenizer reads text rows', () => {
    const tok = parseTokenizer(readFileSync(new URL('../public/tokenizer/kjv-bpe.json', import.meta.url), 'utf8'), undefined, 'kjv-bpe.json');
    const [a] = parseJsonl('{"id":"a","text":"And God said"}', 'd', { tokenizer: tok }) as TokenExample[];
    expect(a.input_ids).toEqual(loadTokenizerFile().encode('And God said'));
    expect(() => parseJsonl('{"id":"a","text":"x","input_ids":[1]}', 'd.jsonl')).toThrow(/d\.jsonl:1: the row has "input_ids" and "text"/);
    expect(() => parseJsonl('{"id":"a","prompt":"x","completion":"y"}', 'd.jsonl')).toThrow(/needs a tokenizer/);
    expect(() => parseJsonl('\n{"id":"a","input_ids":[1,2],"target_mask":[0]}', 'd.jsonl')).toThrow(/d\.jsonl:2: target_mask has 1 entries for 2 input_ids/);
    expect(() => parseJsonl('{"id":"a","input_ids":[1,2],"label":"x"}', 'd.jsonl')).toThrow(DataFormatError);
    expect(() => parseJsonl('{"id":"a","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}', 'd.jsonl', { tokenizer: tok })).toThrow(/chat template/);
    const [r] = parseJsonl('{"id":"r","input_ids":[3,4,5],"token_type_ids":[0,0,1],"label":0.25}', 'd') as TokenExample[];
    expect(r).toEqual({ id: 'r', input_ids: [3, 4, 5], token_type_ids: [0, 0, 1], label: 0.25 });
  });
});
