// Hugging Face tokenizers (tokenizer.json + tokenizer_config.json, as model folders ship them) through the maintained
// `@huggingface/tokenizers` library: byte-level BPE (GPT-2, Llama-3, Qwen), SentencePiece-style BPE and Unigram
// (Llama-2, T5), WordPiece (BERT). Chat templates (tokenizer_config.json `chat_template`) render with
// `@huggingface/jinja`. Browser-safe.
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { TokenizerFormatError } from './format.ts';
import { ByteBPETokenizer } from './tokenizer.ts';
import { byteBpeTextTokenizer, type ChatMessage, type Encoded, type TextTokenizer } from './text.ts';
import { bytesToVisible } from './bytes.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const MODELS = ['BPE', 'WordPiece', 'Unigram', 'WordLevel'];

/** A special token of tokenizer_config.json: a string or an AddedToken object {content, ...}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

export class HfTokenizer implements TextTokenizer {
  readonly kind: string;
  readonly padId?: number;
  readonly eosId?: number;
  private readonly tok: Tokenizer;
  private readonly template?: Template;
  private readonly specials: Record<string, string>;

  constructor(json: unknown, config: unknown = {}, readonly source = 'tokenizer.json') {
    if (!isObject(json)) throw new TokenizerFormatError('(root)', 'must be a JSON object', source);
    const model = json.model;
    if (!isObject(model)) throw new TokenizerFormatError('model', 'must be an object (is this a Hugging Face tokenizer.json?)', source);
    const type = typeof model.type === 'string' ? model.type : isObject(model.vocab) && Array.isArray(model.merges) ? 'BPE' : undefined;
    if (!type || !MODELS.includes(type)) throw new TokenizerFormatError('model.type', `must be one of ${MODELS.join(', ')}, got ${JSON.stringify(model.type)}`, source);
    const cfg = isObject(config) ? config : {};
    try {
      this.tok = new Tokenizer(json, cfg);
    } catch (e) {
      throw new TokenizerFormatError('(root)', `could not be loaded by @huggingface/tokenizers: ${(e as Error).message}`, source);
    }
    this.kind = `tokenizer.json (${type})`;
    const id = (key: string) => {
      const t = tokenText(cfg[key]);
      return t === undefined ? undefined : this.tok.token_to_id(t);
    };
    const padding = isObject(json.padding) ? json.padding : undefined;
    this.padId = id('pad_token') ?? (typeof padding?.pad_id === 'number' ? padding.pad_id : undefined);
    this.eosId = id('eos_token');
    this.specials = {};
    for (const k of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
      const t = tokenText(cfg[k]);
      if (t !== undefined) this.specials[k] = t;
    }
    let tpl = cfg.chat_template;
    if (Array.isArray(tpl)) tpl = (tpl.find((t) => isObject(t) && t.name === 'default') as Json | undefined)?.template;
    if (typeof tpl === 'string') {
      try {
        this.template = new Template(tpl);
      } catch (e) {
        throw new TokenizerFormatError('chat_template', `is not a valid Jinja template: ${(e as Error).message}`, source);
      }
    }
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  encode(text: string, opts: { addSpecialTokens?: boolean; pair?: string } = {}): Encoded {
    const e = this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true, text_pair: opts.pair ?? null, return_token_type_ids: true });
    return { ids: e.ids, typeIds: e.token_type_ids };
  }

  decode(ids: number[]): string {
    return this.tok.decode(ids, { skip_special_tokens: false });
  }

  private render(messages: ChatMessage[], addGenerationPrompt: boolean): string {
    return this.template!.render({ messages, add_generation_prompt: addGenerationPrompt, ...this.specials });
  }

  /**
   * Renders the conversation with the chat template and tokenizes it in segments: the text before each assistant
   * turn (rendered with add_generation_prompt) is context, the rest of that turn's rendering (its content and the
   * template's end-of-turn text) is target. Each segment is tokenized without adding special tokens (templates write
   * them as text, e.g. {{ bos_token }}), so special-token text maps to its id.
   */
  chat(messages: ChatMessage[]): { ids: number[]; targetMask: number[] } {
    if (!this.template) throw new TokenizerFormatError('chat_template', 'is not defined in tokenizer_config.json: this tokenizer cannot render "messages" rows', this.source);
    const segments: { text: string; target: boolean }[] = [];
    let done = '';
    const cut = (text: string, what: string) => {
      if (!text.startsWith(done)) {
        throw new TokenizerFormatError('chat_template', `renders ${what} in a way that does not extend the earlier turns' text, so the assistant's tokens cannot be located`, this.source);
      }
      return text.slice(done.length);
    };
    messages.forEach((m, i) => {
      if (m.role !== 'assistant') return;
      const before = this.render(messages.slice(0, i), true);
      segments.push({ text: cut(before, `the conversation up to message ${i}`), target: false });
      done = before;
      const after = this.render(messages.slice(0, i + 1), false);
      segments.push({ text: cut(after, `assistant message ${i}`), target: true });
      done = after;
    });
    segments.push({ text: cut(this.render(messages, false), 'the whole conversation'), target: false });
    const ids: number[] = [], targetMask: number[] = [];
    for (const s of segments) {
      if (!s.text) continue;
      const seg = this.encode(s.text, { addSpecialTokens: false }).ids;
      ids.push(...seg);
      for (let k = 0; k < seg.length; k++) targetMask.push(s.target ? 1 : 0);
    }
    return { ids, targetMask };
  }
}

/**
 * A tokenizer from its JSON text: a Hugging Face tokenizer.json (with its tokenizer_config.json text when there is
 * one) or the project's own byte-level BPE format.
 */
export function parseTokenizer(jsonText: string, configText?: string, source = 'tokenizer.json'): TextTokenizer {
  let json: unknown, config: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch (e) {
    throw new TokenizerFormatError('(root)', `is not valid JSON (${(e as Error).message})`, source);
  }
  if (isObject(json) && json.format === 'logra-byte-bpe') return byteBpeTextTokenizer(ByteBPETokenizer.fromJSON(json, source));
  if (configText !== undefined) {
    try {
      config = JSON.parse(configText);
    } catch (e) {
      throw new TokenizerFormatError('(root)', `is not valid JSON (${(e as Error).message})`, source.replace(/tokenizer\.json$/, 'tokenizer_config.json'));
    }
  }
  return new HfTokenizer(json, config, source);
}

/**
 * The project's byte-level BPE written as a Hugging Face tokenizer.json (ByteLevel pre-tokenizer with GPT-2's regex,
 * BPE merges in rank order, <|endoftext|> as an added special token): the same ids through @huggingface/tokenizers.
 */
export function byteBpeToTokenizerJson(tok: ByteBPETokenizer): Json {
  const vocab: Record<string, number> = {};
  const piece = (id: number) => bytesToVisible(tok.tokenBytes(id));
  for (let id = 0; id < 256 + tok.numMerges; id++) vocab[piece(id)] = id;
  const merges: string[] = [];
  for (let i = 0; i < tok.numMerges; i++) {
    const [a, b] = tok.merge(i);
    merges.push(`${piece(a)} ${piece(b)}`);
  }
  const added = [...tok.special].map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  for (const a of added) vocab[a.content] = a.id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}
