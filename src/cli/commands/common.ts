// Flags and helpers shared by the pipeline commands (log, fit, query, self, info).
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { createEngine, type Engine } from '../../logra/engine.ts';
import type { LoadedModel } from '../../logra/model.ts';
import type { LograIndex } from '../../logra/index.ts';
import type { ProgressEvent } from '../../logra/types.ts';
import { FsStore } from '../../store/fs.ts';
import { parseJsonl } from '../../io/jsonl.ts';
import { loadTokenizerFile } from '../../tokenizer/node.ts';
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
  tokenizer: { help: 'tokenizer JSON for {"id","text"} rows (e.g. public/tokenizer/kjv-bpe.json)' },
  'max-len': { help: 'truncate every example to this many tokens (e.g. the model context length)' },
};

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

export async function readExamples(path: string, a: Flags): Promise<Example[]> {
  const tok = a.tokenizer ? loadTokenizerFile(a.tokenizer as string) : undefined;
  const maxLength = a['max-len'] !== undefined ? intFlag(a['max-len'], 'max-len', 0) : undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const ex = parseJsonl(text, path, { tokenize: tok ? (s) => tok.encode(s) : undefined, maxLength });
  if (ex.length === 0) throw new UsageError(`${path}: no examples`);
  return ex;
}

export async function loadModelFile(engine: Engine, path: string, a: Flags): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    const b = await readFile(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // a view: no second copy of the weights
  } catch (e) {
    throw new UsageError(`cannot read the model ${path}: ${(e as Error).message}`);
  }
  let layers: RegExp | undefined;
  try {
    layers = a.layers ? new RegExp(a.layers as string) : undefined;
  } catch (e) {
    throw new UsageError(`--layers is not a valid RegExp: ${(e as Error).message}`);
  }
  const task = a.task === undefined ? undefined : oneOf<Task>(a.task, 'task', ['causal-lm', 'classification'], 'causal-lm');
  const reduction = oneOf(a.reduction, 'reduction', ['sum', 'mean'] as const, 'sum');
  const reload = async () => {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
  return engine.loadModel(bytes, { task, layers, reduction, source: isAbsolute(path) ? path : resolve(path), reload });
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
  });
  index.attach(model);
  return { index, model };
}

/** A progress bar per stage on stderr. */
export function progressBars(quiet: boolean): (e: ProgressEvent) => void {
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
