// What data loading needs from a tokenizer, whichever kind it is: Hugging Face tokenizer.json (hf.ts) or the
// project's own byte-level BPE (the KJV tokenizer). Browser-safe.
import { ByteBPETokenizer } from './tokenizer.ts';
import { TokenizerFormatError } from './format.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface Encoded {
  ids: number[];
  /** segment ids (BERT-style pairs), when the tokenizer's template assigns them */
  typeIds?: number[];
}

export interface TextTokenizer {
  /** e.g. "tokenizer.json (BPE)" */
  readonly kind: string;
  /**
   * Ids of `text`. addSpecialTokens (default true): the tokenizer's own template (BOS for Llama, [CLS] .. [SEP] for
   * BERT; none for byte-level GPT-2-style tokenizers); `pair`: a second text (BERT-style sentence pairs).
   */
  encode(text: string, opts?: { addSpecialTokens?: boolean; pair?: string }): Encoded;
  decode(ids: number[]): string;
  /** the pad token's id, when the tokenizer defines one */
  readonly padId?: number;
  readonly eosId?: number;
  /** whether chat() can render messages (tokenizer_config.json has a chat_template) */
  readonly hasChatTemplate: boolean;
  /**
   * A conversation rendered with the chat template and tokenized; targetMask is 1 on the assistant turns' tokens
   * (their content and the template's end-of-turn text), 0 on everything else.
   */
  chat(messages: ChatMessage[]): { ids: number[]; targetMask: number[] };
}

/** The project's byte-level BPE (public/tokenizer/kjv-bpe.json) as a TextTokenizer: no template, no chat. */
export function byteBpeTextTokenizer(tok: ByteBPETokenizer): TextTokenizer {
  return {
    kind: 'logra-byte-bpe',
    encode: (text) => ({ ids: tok.encode(text) }),
    decode: (ids) => tok.decode(ids),
    eosId: tok.special.get('<|endoftext|>'),
    hasChatTemplate: false,
    chat: () => {
      throw new TokenizerFormatError('chat_template', 'is not defined: this tokenizer has no chat template; use {"id","text"} or {"id","prompt","completion"} rows');
    },
  };
}
