// A tiny random-weight GPT-2 (2 layers, width 64, context 64) over the KJV tokenizer, for the explorer tests while
// (or where) the trained demo model does not exist:  npx tsx test/e2e/explorer/make-tiny-model.ts [out.onnx]
// (explorer.spec.ts also makes it on demand).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGpt2 } from '../../../src/train/gpt2.ts';
import { encodeModel } from '../../../src/onnx/codec.ts';
import { loadTokenizerFile } from '../../../src/tokenizer/node.ts';

export const TINY_MODEL = fileURLToPath(new URL('./tiny/model.onnx', import.meta.url));

export async function writeTinyModel(out = TINY_MODEL): Promise<string> {
  const tok = await loadTokenizerFile(fileURLToPath(new URL('../../../public/tokenizer/kjv-bpe.json', import.meta.url)));
  const m = buildGpt2({ vocab: tok.vocabSize, nEmbd: 64, nHead: 2, nLayer: 2, nPositions: 64, seed: 7 });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, encodeModel(m.model));
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`wrote ${await writeTinyModel(process.argv[2])}`);
}
