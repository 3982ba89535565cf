/** Byte-level BPE tokenizer: training, encode/decode, JSON save/load. Browser-safe (no Node imports here). */
export { ByteBPETokenizer, END_OF_TEXT, type EncodeOptions } from './tokenizer.ts';
export { trainBPE, learnMerges, countPretokens, type TrainOptions } from './train.ts';
export { TokenizerFormatError, validateTokenizerJSON, TOKENIZER_FORMAT, TOKENIZER_VERSION, type TokenizerJSON } from './format.ts';
export { pretokenize, GPT2_PATTERN } from './pretokenize.ts';
export { BYTE_CHARS, bytesToVisible, visibleToBytes } from './bytes.ts';

import { ByteBPETokenizer } from './tokenizer.ts';

/** Default location of the KJV tokenizer, relative to the site root (public/ is served at /). */
export const KJV_TOKENIZER_URL = 'tokenizer/kjv-bpe.json';

/** Fetches and validates a tokenizer JSON (browser, Deno, Node 18+). */
export async function fetchTokenizer(url: string | URL, init?: RequestInit): Promise<ByteBPETokenizer> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`fetching tokenizer ${String(url)} failed: HTTP ${res.status}`);
  return ByteBPETokenizer.fromJSONString(await res.text(), String(url));
}
