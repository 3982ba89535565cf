// logra grads: per-example full weight gradients of every tapped layer, for small models and verification.
import { readFile, writeFile } from 'node:fs/promises';
import { TapModel } from '../../runtime/taps.ts';
import { parseJsonl } from '../../io/jsonl.ts';
import { intFlag, parseArgs, UsageError, type FlagSpec } from '../args.ts';
import { Progress } from '../progress.ts';
import type { Task } from '../../autograd/inputs.ts';
import type { ExecutionProvider } from '../../runtime/ort.ts';

export const gradsSpec: Record<string, FlagSpec> = {
  model: { required: true, help: 'the .onnx model' },
  data: { required: true, help: 'JSONL examples: {"id","input_ids"} (causal LM) or {"id","input","label"} (classifier)' },
  out: { required: true, help: 'output JSON file' },
  task: { help: 'causal-lm | classification (default: inferred from the model inputs and logits)' },
  layers: { help: 'RegExp over layer (node) names, e.g. "mlp"; default: every linear layer' },
  batch: { help: 'examples per batch (default 8)' },
  ep: { help: 'wasm | webgpu (default wasm)' },
  reduction: { help: 'causal LM loss over tokens: sum | mean (default sum)' },
  quiet: { boolean: true, help: 'no progress bar' },
};

export interface GradsOutput {
  model: string;
  task: Task;
  layers: { name: string; op: string; weight: string; d_in: number; d_out: number; layout: 'in_out' | 'out_in'; shape: [number, number] }[];
  examples: { id: string; loss: number; grads: Record<string, number[][]> }[];
}

export async function gradsCommand(argv: string[]): Promise<GradsOutput> {
  const a = parseArgs(argv, gradsSpec, 'grads');
  const task = a.task as Task | undefined;
  if (task && task !== 'causal-lm' && task !== 'classification') throw new UsageError(`--task must be causal-lm or classification, got ${task}`);
  const ep = (a.ep ?? 'wasm') as ExecutionProvider;
  if (ep !== 'wasm' && ep !== 'webgpu') throw new UsageError(`--ep must be wasm or webgpu, got ${ep}`);
  const reduction = (a.reduction ?? 'sum') as 'sum' | 'mean';
  if (reduction !== 'sum' && reduction !== 'mean') throw new UsageError(`--reduction must be sum or mean`);
  let layers: RegExp | undefined;
  try {
    layers = a.layers ? new RegExp(a.layers as string) : undefined;
  } catch (e) {
    throw new UsageError(`--layers is not a valid RegExp: ${(e as Error).message}`);
  }
  const batchSize = intFlag(a.batch, 'batch', 8);
  const modelPath = a.model as string;
  const bytes = new Uint8Array(await readFile(modelPath));
  const examples = parseJsonl(await readFile(a.data as string, 'utf8'), a.data as string);
  if (examples.length === 0) throw new UsageError(`${a.data}: no examples`);
  const tm = await TapModel.create(bytes, { task, layers, ep, weightGrads: true, reduction, source: modelPath });
  const out: GradsOutput = {
    model: modelPath,
    task: tm.task,
    layers: tm.layers.map((l) => ({
      name: l.name, op: l.op, weight: l.weight, d_in: l.dIn, d_out: l.dOut, layout: l.layout,
      shape: l.layout === 'in_out' ? [l.dIn, l.dOut] : [l.dOut, l.dIn],
    })),
    examples: [],
  };
  const bar = new Progress('grads', examples.length, !!a.quiet);
  try {
    for (let s = 0; s < examples.length; s += batchSize) {
      const chunk = examples.slice(s, s + batchSize);
      const r = await tm.run(chunk);
      chunk.forEach((ex, b) => {
        const grads: Record<string, number[][]> = {};
        r.layers.forEach((lt, li) => {
          const [rows, cols] = out.layers[li].shape;
          const base = b * rows * cols;
          grads[lt.layer.name] = Array.from({ length: rows }, (_, i) => Array.from(lt.grad!.subarray(base + i * cols, base + (i + 1) * cols)));
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
