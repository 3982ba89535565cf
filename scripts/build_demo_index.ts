// Builds the explorer's prebuilt training-set index: projected gradients of every training text of the demo split
// (public/corpus/kjv.jsonl minus public/model/heldout.json, in corpus order), formatted exactly as the explorer and
// the trainer format them ([EOT] + text + [EOT], cut to the model's context), logged with the explorer's settings
// (k_in = k_out = 8, random projections seed 0, raw Hessian, damping 0.1; rows stored as int8 with a scale per 64
// values: 3.5x smaller than f16 at a Spearman of 1.000 with f32 scores, bench/results/RESULTS.md) and fitted, into
// public/index/ (committed with the model it belongs to; served by Vite at /index/, where the explorer queries it at
// once and saves a copy in IndexedDB in the background). Resumable: rerun after an interruption and it continues.
// `npm run demo` runs this first only when public/index/ is missing, incomplete or made for another model.
//
//   npm run index:demo                      # public/index/ over all 29,563 training texts (progress with ETA)
//   npm run index:demo -- --subset 1000     # the first 1,000 only (the explorer then wants ?subset=1000)
//   flags: --out DIR, --k-in 8, --k-out 8, --damping 0.1, --dtype int8|f16|f32, --batch 16, --backend auto|cpu|webgpu
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { createEngine } from '../src/logra/engine.ts';
import { FsStore } from '../src/store/fs.ts';
import type { Manifest } from '../src/store/store.ts';
import { fitIsCurrent, trainIds } from '../src/logra/layout.ts';
import { decodeModel } from '../src/onnx/codec.ts';
import { modelSha256 } from '../src/logra/model.ts';
import { loadTokenizerFile } from '../src/tokenizer/node.ts';
import { formatExample } from '../src/train/data.ts';
import { parseCorpus, parseHeldOut } from '../src/explorer/fetch.ts';
import { progressBars, withInterrupt } from '../src/cli/commands/common.ts';
import type { BackendChoice } from '../src/kernels/backend.ts';

export const root = new URL('..', import.meta.url).pathname;

export interface DemoIndexOptions {
  out?: string;
  kIn?: number;
  kOut?: number;
  damping?: number;
  dtype?: 'int8' | 'f16' | 'f32';
  batchSize?: number;
  /** first n training texts only (0: all) */
  subset?: number;
  backend?: BackendChoice;
}

/** The demo's training rows (corpus order, held-out ids removed), as the explorer selects them. */
export async function demoTrainingRows(subset = 0): Promise<{ id: string; text: string }[]> {
  const corpusPath = `${root}public/corpus/kjv.jsonl`;
  const heldPath = `${root}public/model/heldout.json`;
  const held = parseHeldOut(JSON.parse(await readFile(heldPath, 'utf8')), heldPath);
  const rows = parseCorpus(await readFile(corpusPath, 'utf8'), corpusPath).filter((r) => !held.has(r.id));
  return subset > 0 ? rows.slice(0, subset) : rows;
}

/** SHA-256 of the demo model's file (the index records the model it was logged with). */
export async function demoModelSha256(): Promise<string> {
  return modelSha256(new Uint8Array(await readFile(`${root}public/model/model.onnx`)));
}

/** Whether `m` is a complete, fitted index of the model `sha256` over exactly `ids` (what the explorer uses as is). */
export function completeIndex(m: Manifest | undefined, ids: string[], sha256: string): boolean {
  if (!m || m.state.copying || m.settings.modelSha256 !== sha256) return false;
  const stored = trainIds(m);
  return stored.length === ids.length && stored.every((id, i) => id === ids[i]) && fitIsCurrent(m);
}

export async function buildDemoIndex(o: DemoIndexOptions = {}): Promise<Record<string, unknown>> {
  const out = o.out ?? `${root}public/index`;
  const kIn = o.kIn ?? 8, kOut = o.kOut ?? 8;
  const t0 = performance.now();
  const rows = await demoTrainingRows(o.subset ?? 0);
  const tok = loadTokenizerFile(`${root}public/tokenizer/kjv-bpe.json`);
  const engine = await createEngine({ backend: o.backend ?? 'auto' });
  try {
    const bytes = new Uint8Array(await readFile(`${root}public/model/model.onnx`));
    const model = await engine.loadModel(bytes, { task: 'causal-lm', source: 'public/model/model.onnx' });
    // the explorer's generator reads the same metadata (src/runtime/generate.ts)
    const ctx = Number(decodeModel(bytes).metadataProps?.find((p) => p.key === 'context_length')?.value ?? NaN);
    if (!Number.isInteger(ctx) || ctx < 2) throw new Error('public/model/model.onnx has no context_length metadata');
    const examples = rows.map((r) => ({ id: r.id, input_ids: formatExample(tok.encode(r.text), { eot: tok.endOfTextId, maxLen: ctx }) }));
    const tokens = examples.reduce((s, e) => s + e.input_ids.length, 0);
    console.error(`index:demo: ${examples.length} training texts (${tokens} tokens) -> ${out}; ${engine.backend.description}; k ${kIn}x${kOut}, ${o.dtype ?? 'int8'}`);
    const bars = progressBars(false);
    const store = new FsStore(out);
    const index = await withInterrupt((signal) =>
      engine.log(model, examples, { store, kIn, kOut, hessian: 'raw', dtype: o.dtype ?? 'int8', batchSize: o.batchSize ?? 16, signal, onProgress: bars,
        // chunks of up to 4 MiB (a dozen HTTP requests for the page), committed at least every minute (an interrupted
        // build loses at most that)
        chunkBytes: 4 * 2 ** 20, flushMs: 60_000 }),
    );
    const tLog = performance.now();
    if (index.size !== examples.length) throw new Error(`interrupted: ${index.size} of ${examples.length} texts stored; rerun to continue`);
    await index.fit({ damping: o.damping ?? 0.1, onProgress: bars });
    // the fit of a full-size index decodes in worker threads (LograIndex.scanThreads 'auto'): end them
    await index.dispose();
    await model.release();
    return {
      index: out, examples: index.size, tokens, seconds: +((performance.now() - t0) / 1000).toFixed(1),
      logSeconds: +((tLog - t0) / 1000).toFixed(1), backend: engine.backend.description, bytesPerExample: index.info().bytesPerExample, layers: index.layerNames.length,
    };
  } finally {
    engine.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const flag = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const num = (name: string): number | undefined => (flag(name) === undefined ? undefined : Number(flag(name)));
  const r = await buildDemoIndex({
    out: flag('out'), kIn: num('k-in'), kOut: num('k-out'), damping: num('damping'), dtype: flag('dtype') as 'int8' | 'f16' | 'f32' | undefined,
    batchSize: num('batch'), subset: num('subset'), backend: flag('backend') as BackendChoice | undefined,
  });
  console.log(JSON.stringify(r, null, 2));
}
