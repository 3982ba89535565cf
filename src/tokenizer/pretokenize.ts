/**
 * GPT-2's pre-tokenisation: text is split into "words" (a letter run with its leading space, a digit run, a
 * punctuation run, whitespace, or one of the English contractions 's 't 're 've 'm 'll 'd) and BPE merges never
 * cross a word boundary. The alternatives cover every code point, so the pieces always concatenate back to the input.
 */
export const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** Name stored in the tokenizer JSON for {@link GPT2_PATTERN}. */
export const GPT2_PRETOKENIZER = 'gpt2';

const GPT2_RE = new RegExp(GPT2_PATTERN, 'gu');

/** Splits text into GPT-2 pre-tokens; `pretokenize(s).join('') === s` for every string s. */
export function pretokenize(text: string): string[] {
  return text.match(GPT2_RE) ?? [];
}
