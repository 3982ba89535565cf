// The end-to-end check of a model folder as users have one (Node, Deno and Chromium run it): load the folder
// (config.json, tokenizer.json, onnx/model.onnx + model.onnx_data) from a directory or URL, turn prompt/completion
// text into examples with its tokenizer, log, fit and query; the scores must equal float64 references built from
// torch's per-example gradients of the completion-only loss (exact mode, raw Hessian, LoGra with given projections),
// and with LoGra's random projections each example's most influential training example must be itself (cosine).
import type { Engine } from '../../src/logra/engine.ts';
import type { LogStore } from '../../src/store/store.ts';
import { parseJsonl } from '../../src/io/jsonl.ts';
import { checkPipeline, PIPELINE_CASES, type PipelineCheck } from './pipeline-check.ts';

/** the cases whose references need only the per-example gradients (the folder's reference stores x/dy for two) */
export const FOLDER_CASES = PIPELINE_CASES.filter((c) => c.hessian === 'none' || c.hessian === 'raw');

export interface FolderE2E {
  checks: PipelineCheck[];
  /** loading notes (file used, external data) */
  notes: string[];
  tokenizer: string;
  /** per example: its own rank among the training examples under cosine scores (1 = most influential) */
  selfRank: number[];
  targets: number;
}

export async function runFolderE2E(engine: Engine, location: string | URL, data: string, ref: Uint8Array, store: (name: string) => LogStore): Promise<FolderE2E> {
  const model = await engine.loadModelFrom(location);
  const examples = parseJsonl(data, 'data.jsonl', { tokenizer: model.tokenizer });
  const targets = examples.reduce((n, e) => n + ((e as { target_mask?: number[] }).target_mask ?? []).reduce((a, b) => a + b, 0), 0);
  const notes = model.notes, tokenizer = model.tokenizer?.kind ?? 'none';
  // LoGra with seeded random projections, raw Hessian, cosine: the prompt/completion pipeline a user runs
  const index = await engine.log(model, examples, { store: store('llama-e2e'), kIn: 8, kOut: 8, hessian: 'raw', batchSize: 3 });
  await index.fit({ damping: 0.1 });
  const r = await index.query(examples, { mode: 'cosine', topK: examples.length });
  const selfRank = r.top.map((items, q) => items.findIndex((t) => t.id === examples[q].id) + 1);
  // the float64 references (checkPipeline releases the model)
  const checks = await checkPipeline({ name: 'llama_folder', model: new Uint8Array(0), data: '', ref }, engine, FOLDER_CASES, { model, examples }); // the loaded model is used
  return { checks, notes, tokenizer, selfRank, targets };
}
