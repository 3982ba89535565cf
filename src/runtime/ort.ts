// Loads onnxruntime for the current runtime and creates sessions: onnxruntime-web on its wasm or WebGPU execution
// provider (browser, Deno, Node), or, in Node and Deno when the optional package onnxruntime-node is installed, the
// native build of the same runtime ('native': MLAS with AVX2/AVX-512 and its own thread pool, several times faster
// than wasm's 128-bit SIMD on the same cores). All share onnxruntime-common's API.
import type * as OrtNs from 'onnxruntime-web';
import { applyOnnxRuntimeConfig, onnxRuntimeConfig } from './ort-config.ts';

export type Ort = typeof OrtNs;
export type ExecutionProvider = 'wasm' | 'webgpu' | 'native';
/** 'auto': 'native' where onnxruntime-node loads (Node, Deno), else 'wasm' */
export type ExecutionProviderChoice = ExecutionProvider | 'auto';

/** onnxruntime-node is not installed (or cannot load here). */
export class NativeRuntimeUnavailableError extends Error {
  constructor(cause: string) {
    super(`the native onnxruntime (npm package onnxruntime-node, Node and Deno only) cannot be loaded: ${cause}. Install it (npm install onnxruntime-node) or use --ep wasm`);
    this.name = 'NativeRuntimeUnavailableError';
  }
}

// which runtime this is: one test for the whole package (src/gpu/runtime.ts)
export { jsRuntime as runtimeKind, type JsRuntime as RuntimeKind } from '../gpu/runtime.ts';
import { jsRuntime as runtimeKind } from '../gpu/runtime.ts';

export function hardwareThreads(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency;
  if (n && n > 0) return n;
  // Node 20 has no navigator: ask node:os (loaded lazily so browser bundles never see it)
  const os = (globalThis as { process?: { getBuiltinModule?: (m: string) => { availableParallelism?: () => number } } }).process?.getBuiltinModule?.('node:os');
  return os?.availableParallelism?.() ?? 1;
}

const loaded = new Map<ExecutionProvider, Promise<Ort>>();
/** The wasm thread count onnxruntime-web runs with (or will): configureOnnxRuntime's numThreads, else every core. */
export function ortThreads(): number {
  return onnxRuntimeConfig().numThreads ?? hardwareThreads();
}

/**
 * The onnxruntime-web module for an execution provider: the package's default build runs wasm everywhere (its
 * Node build in Node and Deno); WebGPU needs the `onnxruntime-web/webgpu` build (browser and Deno).
 */
export function loadOrt(ep: ExecutionProvider = 'wasm'): Promise<Ort> {
  let p = loaded.get(ep);
  if (!p) {
    p = (async () => {
      if (ep === 'native') return loadNative();
      const ort: Ort = ep === 'webgpu' ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web');
      const kind = runtimeKind();
      // threads: all cores in Node/Deno; in a page only when cross-origin isolated (SharedArrayBuffer).
      // Deno runs the browser build behind onnxruntime-web/webgpu without a page origin, so its multi-threaded
      // loader fetches the wasm glue into a blob: URL and import()s it, which Deno refuses for npm modules
      // (ERR_UNSUPPORTED_ESM_URL_SCHEME); single-threaded, it imports the glue from its file: URL.
      const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
      // (Node runs the same browser build for the webgpu EP, with the same limitation.)
      const oneThread = (kind === 'browser' && !isolated) || (kind !== 'browser' && ep === 'webgpu');
      ort.env.wasm.numThreads = oneThread ? 1 : hardwareThreads();
      ort.env.logLevel = 'error';
      applyOnnxRuntimeConfig(ort); // wasmPaths, numThreads from configureOnnxRuntime()
      return ort;
    })();
    loaded.set(ep, p);
  }
  return p;
}

async function loadNative(): Promise<Ort> {
  if (runtimeKind() === 'browser') throw new NativeRuntimeUnavailableError('a page has no native modules');
  const spec = 'onnxruntime-node'; // computed: bundlers must not follow it into a page build
  try {
    const m = (await import(/* @vite-ignore */ spec)) as Ort & { default?: Ort };
    const ort = (m.InferenceSession ? m : m.default) as Ort;
    if (!ort?.InferenceSession) throw new Error('the module has no InferenceSession');
    ort.env.logLevel = 'error';
    nativeModules.add(ort);
    return ort;
  } catch (e) {
    loaded.delete('native');
    throw e instanceof NativeRuntimeUnavailableError ? e : new NativeRuntimeUnavailableError((e as Error).message);
  }
}

/** the modules loadOrt returned for 'native' (their sessions take the 'cpu' provider) */
const nativeModules = new WeakSet<object>();

/** Session options for plain CPU work on a loaded module (the kernel backend's graphs): its provider and threads. */
export function cpuSessionOptions(ort: Ort): Pick<OrtNs.InferenceSession.SessionOptions, 'executionProviders' | 'intraOpNumThreads' | 'interOpNumThreads'> {
  return nativeModules.has(ort) ? { executionProviders: ['cpu'], intraOpNumThreads: ortThreads(), interOpNumThreads: 1 } : { executionProviders: ['wasm'] };
}

/** e.g. "onnxruntime-node (native, 2 threads)" */
export function describeOrt(ort: Ort): string {
  return nativeModules.has(ort) ? `onnxruntime-node (native, ${ortThreads()} threads)` : `onnxruntime-web wasm (${ort.env.wasm.numThreads || hardwareThreads()} threads)`;
}

let nativeProbe: Promise<boolean> | undefined;

/** Whether the native runtime loads here (cached). */
export function nativeAvailable(): Promise<boolean> {
  nativeProbe ??= runtimeKind() === 'browser' ? Promise.resolve(false) : loadOrt('native').then(() => true, () => false);
  return nativeProbe;
}

/** The execution provider 'auto' stands for here: 'native' where onnxruntime-node loads, else 'wasm'. */
export async function resolveEp(ep: ExecutionProviderChoice = 'auto'): Promise<ExecutionProvider> {
  if (ep !== 'auto') return ep;
  return (await nativeAvailable()) ? 'native' : 'wasm';
}

export interface SessionOptions {
  ep?: ExecutionProvider;
  /** a GPUDevice to share with our own kernels (WebGPU EP only) */
  device?: GPUDevice;
  /** keep outputs on the GPU (WebGPU EP only) */
  outputsOnGpu?: boolean;
  /** graph optimisation level (default 'all') */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** files holding the model's external initializers (session-bytes.ts: the model is never re-encoded with them) */
  externalData?: { path: string; data: Uint8Array }[];
}

/** per onnxruntime-web module: the tail of its queue of runs */
const runQueues = new WeakMap<object, { tail: Promise<unknown> }>();

/**
 * Makes the runs of every session of one onnxruntime-web module take turns. Its wasm build runs one session at a
 * time: a run started while any other run of the module is in flight fails with "Session already started" (seen
 * in Chromium), and callers sharing a module (several components on a page, per-layer work in Promise.all, a
 * kernel GEMM during a model run) cannot know of each other. Returns the same session with `run` queued.
 */
export function serialRuns<S extends OrtNs.InferenceSession>(ort: Ort, session: S): S {
  let q = runQueues.get(ort);
  if (!q) runQueues.set(ort, (q = { tail: Promise.resolve() }));
  const queue = q;
  const run = session.run.bind(session) as (...a: unknown[]) => Promise<OrtNs.InferenceSession.ReturnType>;
  (session as { run: unknown }).run = (...a: unknown[]) => {
    const p = queue.tail.then(() => run(...a));
    queue.tail = p.catch(() => undefined);
    return p;
  };
  return session;
}

/** InferenceSession.create, with serialRuns applied. */
export async function createOrtSession(ort: Ort, model: Uint8Array, options: OrtNs.InferenceSession.SessionOptions): Promise<OrtNs.InferenceSession> {
  return serialRuns(ort, await ort.InferenceSession.create(model, options));
}

export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<{ ort: Ort; session: OrtNs.InferenceSession }> {
  const ep = opts.ep ?? 'wasm';
  const ort = await loadOrt(ep);
  const executionProviders: OrtNs.InferenceSession.ExecutionProviderConfig[] =
    ep === 'webgpu' ? [opts.device ? ({ name: 'webgpu', device: opts.device } as OrtNs.InferenceSession.ExecutionProviderConfig) : 'webgpu'] : ep === 'native' ? ['cpu'] : ['wasm'];
  const session = await createOrtSession(ort, bytes, {
    executionProviders,
    // the native build's thread pool (onnxruntime-web's wasm threads are set on its env instead)
    ...(ep === 'native' ? { intraOpNumThreads: ortThreads(), interOpNumThreads: 1 } : {}),
    graphOptimizationLevel: opts.optimization ?? 'all',
    preferredOutputLocation: opts.outputsOnGpu && ep === 'webgpu' ? 'gpu-buffer' : 'cpu',
    ...(opts.externalData?.length ? { externalData: opts.externalData } : {}),
    // MLAS would keep a packed copy of every MatMul weight beside the original: for GPT-2-small 500 MB more wasm
    // memory, for ~nothing in speed at the batch sizes logging runs (the packing is O(K N) per product of O(M K N))
    extra: { session: { disable_prepacking: '1' } },
  });
  return { ort, session };
}
