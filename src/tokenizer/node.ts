/** Node/Deno file helpers for the tokenizer (kept out of index.ts so browser bundles never import node:fs). */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ByteBPETokenizer } from './tokenizer.ts';

/** public/tokenizer/kjv-bpe.json in this checkout. */
export const KJV_TOKENIZER_PATH = fileURLToPath(new URL('../../public/tokenizer/kjv-bpe.json', import.meta.url));

/** Reads and validates a tokenizer file; errors name the file and the bad field. */
export function loadTokenizerFile(path: string = KJV_TOKENIZER_PATH): ByteBPETokenizer {
  return ByteBPETokenizer.fromJSONString(readFileSync(path, 'utf8'), path);
}

export function saveTokenizerFile(tok: ByteBPETokenizer, path: string): void {
  writeFileSync(path, tok.toJSONString());
}
