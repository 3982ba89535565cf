// Page-wide singletons shared by every <influence-explorer> on a page: one engine (one kernel backend, so one GPU
// device) per backend choice, one loaded model / generator / tokenizer per URL, and one index acquisition per
// IndexedDB name (two instances never build the same index twice). Everything here is cached as promises so
// concurrent callers wait on the same work.
import { createEngine, Engine, type LoadedModel } from '../logra/mod.ts';
import type { BackendChoice } from '../kernels/backend.ts';
import { loadOrt, type ExecutionProvider } from '../runtime/ort.ts';
import { CausalLm } from '../runtime/generate.ts';
import { fetchTokenizer } from '../tokenizer/index.ts';
import type { ByteBPETokenizer } from '../tokenizer/tokenizer.ts';
import { fetchBytes, type ByteProgress } from './fetch.ts';

export interface SharedEngine {
  engine: Engine;
  /** the backend actually in use */
  kind: 'webgpu' | 'cpu';
  /** a line for the UI: the adapter, or why WebGPU is not used */
  description: string;
  /** why the CPU backend is used when WebGPU was not ruled out by the caller (undefined: WebGPU in use, or 'cpu' asked) */
  fallbackReason?: string;
}

/** Why this page cannot (or should not) run the kernels on WebGPU; undefined when a hardware adapter exists. */
export async function webGpuProblem(): Promise<string | undefined> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return 'this browser has no WebGPU (navigator.gpu is missing; it needs a secure context and a browser that ships WebGPU)';
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return `the WebGPU adapter request failed (${(e as Error).message})`;
  }
  if (!adapter) return 'WebGPU is present but no adapter is available (GPU blocklisted or disabled)';
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  const fallback = info?.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  if (fallback) return 'the only WebGPU adapter is a software fallback (e.g. SwiftShader), which is slower here than the CPU path';
  return undefined;
}

const engines = new Map<string, Promise<SharedEngine>>();

let oneWasmThread = false;
/**
 * Runs onnxruntime-web's wasm single-threaded. The one-module build (lib.ts) needs it: ORT starts its wasm threads
 * as workers of its own module URL, which in that build is the whole component, where ORT's worker code is not
 * reachable. Call before the first element starts.
 */
export function useOneWasmThread(): void {
  oneWasmThread = true;
}

/** The page's engine for a backend choice (created once; later callers share it and its GPU device). */
export function sharedEngine(choice: BackendChoice, ep: ExecutionProvider = 'wasm'): Promise<SharedEngine> {
  const key = `${choice}|${ep}`;
  let p = engines.get(key);
  if (!p) {
    p = (async (): Promise<SharedEngine> => {
      if (oneWasmThread) {
        (await loadOrt('wasm')).env.wasm.numThreads = 1;
        if (ep === 'webgpu') (await loadOrt('webgpu')).env.wasm.numThreads = 1;
      }
      const problem = choice === 'cpu' ? undefined : await webGpuProblem();
      let engine = await createEngine({ backend: choice, ep: 'wasm' });
      const backend = engine.backend as typeof engine.backend & { description?: string; ctx?: { device: GPUDevice } };
      if (ep === 'webgpu' && backend.kind === 'webgpu' && backend.ctx) {
        // model runs on ORT's WebGPU EP on the same device as our kernels
        engine = new Engine(engine.backend, 'webgpu', backend.ctx.device);
      }
      const kind = engine.backend.kind;
      return {
        engine,
        kind,
        description: backend.description ?? (kind === 'cpu' ? 'CPU (onnxruntime-web wasm)' : 'WebGPU'),
        fallbackReason: kind === 'cpu' && choice !== 'cpu' ? problem ?? 'WebGPU could not be initialised' : undefined,
      };
    })();
    p.catch(() => engines.delete(key));
    engines.set(key, p);
  }
  return p;
}

export interface SharedModel {
  bytes: Uint8Array;
  /** the model loaded for attribution (augmented graph, in-graph projections) */
  model: LoadedModel;
  /** the generator (a plain forward session) */
  lm: CausalLm;
  /** context window in tokens */
  contextLength: number;
}

const models = new Map<string, Promise<SharedModel>>();

/** Fetches and loads a model once per (engine, URL). `onProgress` sees only the first caller's download. */
export function sharedModel(se: SharedEngine, engineKey: string, url: string, onBytes?: ByteProgress, onStage?: (s: 'building') => void): Promise<SharedModel> {
  const key = `${engineKey}|${url}`;
  let p = models.get(key);
  if (!p) {
    p = (async () => {
      const bytes = await fetchBytes(url, 'model', onBytes);
      onStage?.('building');
      const model = await se.engine.loadModel(bytes, { task: 'causal-lm', source: url });
      const lm = await CausalLm.create(bytes, { ep: 'wasm' });
      return { bytes, model, lm, contextLength: lm.contextLength };
    })();
    p.catch(() => models.delete(key));
    models.set(key, p);
  }
  return p;
}

const tokenizers = new Map<string, Promise<ByteBPETokenizer>>();

export function sharedTokenizer(url: string): Promise<ByteBPETokenizer> {
  const abs = new URL(url, globalThis.location?.href).href;
  let p = tokenizers.get(abs);
  if (!p) {
    p = fetchTokenizer(abs);
    p.catch(() => tokenizers.delete(abs));
    tokenizers.set(abs, p);
  }
  return p;
}

/** One in-flight job per key (index acquisition per IndexedDB name): later callers join the first one. */
const jobs = new Map<string, Promise<unknown>>();
export function once<T>(key: string, make: () => Promise<T>): Promise<T> {
  let p = jobs.get(key) as Promise<T> | undefined;
  if (!p) {
    p = make();
    jobs.set(key, p);
    p.catch(() => jobs.delete(key));
  }
  return p;
}
/** Forgets a finished job (e.g. after the index it produced was deleted). */
export function forget(key: string): void {
  jobs.delete(key);
}
