// What the explorer specs (explorer.spec.ts, explorer-ux.spec.ts) share: the model the page loads (the trained demo
// model when public/model has it, else a tiny random-weight GPT-2 written once), the held-out ids, and the SUBSET
// training rows the page indexes.
import { existsSync, readFileSync } from 'node:fs';
import { TINY_MODEL, writeTinyModel } from './make-tiny-model.ts';

export const ROOT = new URL('../../../', import.meta.url);
export const TRAINED = existsSync(new URL('public/model/model.onnx', ROOT));
export const MODEL = TRAINED ? '/model/model.onnx' : '/test/e2e/explorer/tiny/model.onnx';
export const HELDOUT = TRAINED && existsSync(new URL('public/model/heldout.json', ROOT)) ? '/model/heldout.json' : '';
export const SUBSET = 48;

/** for test.beforeAll: the tiny model when the trained one is absent */
export async function ensureModel(): Promise<void> {
  if (!TRAINED && !existsSync(TINY_MODEL)) await writeTinyModel();
}

/** the first SUBSET training rows, as the page selects them (corpus order minus held-out ids) */
export function trainingRows(): { id: string; text: string }[] {
  const held = new Set<string>(HELDOUT ? (JSON.parse(readFileSync(new URL('public/model/heldout.json', ROOT), 'utf8')) as { ids: string[] }).ids : []);
  return readFileSync(new URL('public/corpus/kjv.jsonl', ROOT), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; text: string })
    .filter((r) => !held.has(r.id))
    .slice(0, SUBSET);
}
