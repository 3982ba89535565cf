// Flags and helpers shared by the pipeline commands (log, fit, query, self, info).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createEngine, type Engine } from '../../logra/engine.ts';
import type { LoadedModel } from '../../logra/model.ts';
import type { LograIndex } from '../../logra/index.ts';
import type { ProgressEvent } from '../../logra/types.ts';
import { FsStore } from '../../store/fs.ts';
import { parseJsonl } from '../../io/jsonl.ts';
import { parseTokenizer } from '../../tokenizer/hf.ts';
import type { TextTokenizer } from '../../tokenizer/text.ts';
import { openModelPath } from '../../io/model-folder-fs.ts';
import { MODEL_DTYPES, type ModelDtype } from '../../io/model-folder.ts';
import type { Example } from '../../runtime/batch.ts';
import type { Task } from '../../autograd/inputs.ts';
import type { BackendChoice } from '../../kernels/backend.ts';
import type { ExecutionProviderChoice } from '../../runtime/ort.ts';
import { describeHolder, type LockHolder } from '../../store/store.ts';
import { UsageError, intFlag, type FlagSpec } from '../args.ts';
import { Progress } from '../progress.ts';

export type Flags = Record<string, string | boolean | undefined>;

export const engineFlags: Record<string, FlagSpec> = {
  backend: { help: 'where the linear algebra runs: auto | webgpu | cpu (default auto: WebGPU when an adapter exists)' },
  ep: { help: 'execution provider for model runs: auto | native | wasm | webgpu (default auto: native, i.e. onnxruntime-node, when installed, else wasm)' },
  threads: { help: 'onnxruntime-web wasm threads (default: all cores)' },
  quiet: { boolean: true, help: 'no progress bar' },
};

export const dataFlags: Record<string, FlagSpec> = {
  tokenizer: {
    help: 'tokenizer for "text", "prompt"/"completion" and "messages" rows: a Hugging Face tokenizer.json (its tokenizer_config.json beside it is read too) or public/tokenizer/kjv-bpe.json; default: the model folder\'s',
  },
  'max-len': { help: 'truncate every example to this many tokens (e.g. the model context length)' },
};

/** Commands that scan an index's rows (query, self): chunks decoded in worker threads. */
export const scanFlags: Record<string, FlagSpec> = {
  'scan-threads': { help: 'worker threads that verify and decode chunks while the rows are scored: auto | N | 0 (default auto: one per core, at most 4, for an index of 16 MiB of rows or more; Node only)' },
};

export function scanThreadsFlag(a: Flags): number | 'auto' {
  return a['scan-threads'] === undefined || a['scan-threads'] === 'auto' ? 'auto' : intFlag(a['scan-threads'], 'scan-threads', 0, 0);
}

/** Commands that write an index take its lock: one writer at a time. */
export const writerFlags: Record<string, FlagSpec> = {
  wait: { help: 'seconds to wait while another process writes the index (default: as long as it takes; 0 = fail at once with IndexLockedError)' },
};

/** Lock options of a writer command: --wait, and a line on stderr while it waits. */
export function lockOptions(a: Flags, cmd: string): { lockWaitMs?: number; onLockWait: (h: LockHolder) => void } {
  const wait = a.wait === undefined ? undefined : numFlag(a.wait, 'wait', 0) * 1000;
  return {
    lockWaitMs: wait,
    onLockWait: (h) => stderrLine(`logra ${cmd}: waiting for the index lock, held by ${describeHolder(h)} (Ctrl-C stops; --wait 0 fails at once instead)`),
  };
}

export function stderrLine(s: string): void {
  (globalThis as { process?: { stderr: { write(s: string): void } } }).process!.stderr.write(s + '\n');
}

/** --model and its variant choice, shared by the commands that load a model. */
export const modelFlags: Record<string, FlagSpec> = {
  model: { required: true, help: 'a model folder (config.json, tokenizer.json, onnx/model*.onnx as transformers.js publishes them) or one .onnx file' },
  'model-dtype': { help: `which file of a model folder: ${Object.keys(MODEL_DTYPES).join(' | ')} (default: float32 when present, else float16, else 8-bit, else 4-bit)` },
};

export function oneOf<T extends string>(v: string | boolean | undefined, name: string, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

export function numFlag(v: string | boolean | undefined, name: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export async function engineFrom(a: Flags): Promise<Engine> {
  const backend = oneOf<BackendChoice>(a.backend, 'backend', ['auto', 'webgpu', 'cpu'], 'auto');
  const ep = oneOf<ExecutionProviderChoice>(a.ep, 'ep', ['auto', 'native', 'wasm', 'webgpu'], 'auto');
  const threads = a.threads === undefined ? undefined : intFlag(a.threads, 'threads', 1);
  return createEngine({ backend, ep, threads });
}

/** --tokenizer FILE: a tokenizer.json (with the tokenizer_config.json beside it) or the project's BPE JSON. */
export async function loadTokenizerFlag(path: string): Promise<TextTokenizer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the tokenizer ${path}: ${(e as Error).message}`);
  }
  const config = await readFile(join(dirname(path), 'tokenizer_config.json'), 'utf8').catch(() => undefined);
  return parseTokenizer(text, config, path);
}

/** Examples of a JSONL file; text rows use --tokenizer, else the model folder's tokenizer. */
export async function readExamples(path: string, a: Flags, modelTokenizer?: TextTokenizer): Promise<Example[]> {
  const tok = a.tokenizer ? await loadTokenizerFlag(a.tokenizer as string) : modelTokenizer;
  const maxLength = a['max-len'] !== undefined ? intFlag(a['max-len'], 'max-len', 0) : undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const ex = parseJsonl(text, path, { tokenizer: tok, maxLength });
  if (ex.length === 0) throw new UsageError(`${path}: no examples`);
  return ex;
}

export const TASKS: readonly Task[] = ['causal-lm', 'classification', 'regression'];

export function layersFlag(a: Flags): RegExp | undefined {
  try {
    return a.layers ? new RegExp(a.layers as string) : undefined;
  } catch (e) {
    throw new UsageError(`--layers is not a valid RegExp: ${(e as Error).message}`);
  }
}

/** Writes the loading notes (file used, dequantised weights, untapped layers) to stderr, one line each. */
export function printNotes(notes: string[]): void {
  for (const n of notes) (globalThis as { process?: { stderr: { write(s: string): void } } }).process!.stderr.write(`${n}\n`);
}

/** --model PATH (a folder or an .onnx file) loaded for the pipeline; prints its notes. */
export async function loadModelFile(engine: Engine, path: string, a: Flags): Promise<LoadedModel> {
  const dtype = a['model-dtype'] === undefined ? undefined : oneOf<ModelDtype>(a['model-dtype'], 'model-dtype', Object.keys(MODEL_DTYPES) as ModelDtype[], 'fp32');
  const folder = await openModelPath(path, { dtype });
  const task = a.task === undefined ? undefined : oneOf<Task>(a.task, 'task', TASKS, 'causal-lm');
  const reduction = oneOf(a.reduction, 'reduction', ['sum', 'mean'] as const, 'sum');
  // the model keeps no copy of its files: a further session (the PCA pass) reads them again
  const reload = () => openModelPath(path, { dtype }).then((f) => ({ bytes: f.onnx, externalData: f.externalData }));
  const model = await engine.loadModelFolder(folder, { task, layers: layersFlag(a), reduction, reload });
  printNotes(model.notes);
  return model;
}

/** Opens DIR as an index; with needModel, loads the model it was logged with (or --model) and attaches it. */
export async function openIndexDir(engine: Engine, a: Flags, needModel: boolean): Promise<{ index: LograIndex; model?: LoadedModel }> {
  const store = new FsStore(a.index as string);
  const index = await engine.openIndex(store);
  if (!a.quiet) index.onNote = (m) => stderrLine(`logra: note: ${m}`);
  if (!needModel) return { index };
  const s = index.manifest.settings;
  const source = (a.model as string | undefined) ?? (index.manifest.state.model as { source?: string } | undefined)?.source;
  if (!source) throw new UsageError('the index does not record its model path: pass --model');
  const model = await loadModelFile(engine, source, {
    layers: `^(?:${s.layers.map((l) => l.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`,
    task: s.task,
    reduction: s.reduction,
    'model-dtype': a['model-dtype'],
  });
  index.attach(model);
  return { index, model };
}

/** A progress bar per stage on stderr. */
export function progressBars(quiet: boolean): (e: Pick<ProgressEvent, 'done' | 'total' | 'skipped'> & { stage: string }) => void {
  const bars = new Map<string, Progress>();
  return (e) => {
    let b = bars.get(e.stage);
    if (!b) bars.set(e.stage, (b = new Progress(e.stage.padEnd(5), e.total, quiet)));
    b.update(e.done, e.skipped ? `(${e.skipped} already stored)` : '');
  };
}

/** Runs fn with an AbortSignal that fires on SIGINT/SIGTERM (so logging commits what it has before exiting). */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  const proc = (globalThis as { process?: { on(e: string, f: () => void): void; off(e: string, f: () => void): void } }).process;
  proc?.on('SIGINT', stop);
  proc?.on('SIGTERM', stop);
  try {
    return await fn(ac.signal);
  } finally {
    proc?.off('SIGINT', stop);
    proc?.off('SIGTERM', stop);
  }
}

export function printJson(v: unknown): void {
  (globalThis as { process?: { stdout: { write(s: string): void } } }).process!.stdout.write(JSON.stringify(v, null, 2) + '\n');
}
