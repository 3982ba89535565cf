// logra grads: per-example full weight gradients of every tapped layer (Linear and Conv), for small models and
// verification: {"layers": [{"name", "weight", "layout", "shape", ...}], "examples": [{"id", "loss", "grads":
// {layer: nested array in the weight initializer's layout}}]}.
import { writeFile } from 'node:fs/promises';
import { TapModel } from '../../runtime/taps.ts';
import { intFlag, parseArgs, UsageError, type FlagSpec } from '../args.ts';
import { Progress } from '../progress.ts';
import type { Task } from '../../autograd/inputs.ts';
import type { ExecutionProvider } from '../../runtime/ort.ts';
import { openModelPath } from '../../io/model-folder-fs.ts';
import { MODEL_DTYPES, taskFromConfig, type ModelDtype } from '../../io/model-folder.ts';
import { dataFlags, layersFlag, modelFlags, oneOf, printNotes, readExamples, TASKS } from './common.ts';

export const gradsSpec: Record<string, FlagSpec> = {
  ...modelFlags,
  data: { required: true, help: 'JSONL examples (the formats of logra log)' },
  out: { required: true, help: 'output JSON file' },
  task: { help: 'causal-lm | classification | regression (default: inferred from the logits)' },
  layers: { help: 'RegExp over layer (node) names, e.g. "mlp"; default: every linear and conv layer' },
  batch: { help: 'examples per batch (default 8)' },
  ep: { help: 'wasm | webgpu (default wasm)' },
  reduction: { help: 'causal LM loss over tokens: sum | mean (default sum)' },
  ...dataFlags,
  quiet: { boolean: true, help: 'no progress bar' },
};

type Nested = number | Nested[];

/** A flat row-major array as nested arrays of the given dims. */
export function nest(flat: ArrayLike<number>, dims: number[], at = 0): Nested[] {
  if (dims.length === 1) return Array.from({ length: dims[0] }, (_, i) => flat[at + i]);
  const inner = dims.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: dims[0] }, (_, i) => nest(flat, dims.slice(1), at + i * inner));
}

export interface GradsOutput {
  model: string;
  task: Task;
  /** lines about loading: file used, weights dequantised, layers left untapped */
  notes: string[];
  layers: { name: string; op: string; weight: string; layout: 'in_out' | 'out_in'; shape: number[]; d_in: number; d_out: number }[];
  examples: { id: string; loss: number; grads: Record<string, Nested[]> }[];
}

export async function gradsCommand(argv: string[]): Promise<GradsOutput> {
  const a = parseArgs(argv, gradsSpec, 'grads');
  const task = a.task === undefined ? undefined : oneOf<Task>(a.task, 'task', TASKS, 'causal-lm');
  const ep = oneOf<ExecutionProvider>(a.ep, 'ep', ['wasm', 'webgpu'], 'wasm');
  const reduction = oneOf(a.reduction, 'reduction', ['sum', 'mean'] as const, 'sum');
  const dtype = a['model-dtype'] === undefined ? undefined : oneOf<ModelDtype>(a['model-dtype'], 'model-dtype', Object.keys(MODEL_DTYPES) as ModelDtype[], 'fp32');
  const batchSize = intFlag(a.batch, 'batch', 8);
  const folder = await openModelPath(a.model as string, { dtype });
  const source = `${folder.location}/${folder.file}`;
  const tm = await TapModel.create(folder.onnx, {
    task: task ?? taskFromConfig(folder.config), layers: layersFlag(a), ep, weightGrads: true, reduction, source,
    externalData: folder.externalData, padId: folder.padId,
  });
  const notes = [...folder.notes, ...tm.notes];
  printNotes(notes);
  const out: GradsOutput = {
    model: source,
    task: tm.task,
    notes,
    layers: tm.layers.map((l) => ({ name: l.name, op: l.op, weight: l.weight, layout: l.layout, shape: l.shape, d_in: l.dIn, d_out: l.dOut })),
    examples: [],
  };
  try {
    const examples = await readExamples(a.data as string, a, folder.tokenizer);
    if (examples.length === 0) throw new UsageError(`${a.data}: no examples`);
    const bar = new Progress('grads', examples.length, !!a.quiet);
    for (let s = 0; s < examples.length; s += batchSize) {
      const chunk = examples.slice(s, s + batchSize);
      const r = await tm.run(chunk);
      chunk.forEach((ex, b) => {
        const grads: Record<string, Nested[]> = {};
        r.layers.forEach((lt) => {
          const per = lt.layer.dIn * lt.layer.dOut;
          grads[lt.layer.name] = nest(lt.grad!.subarray(b * per, (b + 1) * per), lt.layer.shape);
        });
        out.examples.push({ id: ex.id, loss: r.loss[b], grads });
      });
      bar.update(Math.min(examples.length, s + batchSize));
    }
  } finally {
    await tm.release();
  }
  await writeFile(a.out as string, JSON.stringify(out));
  return out;
}
