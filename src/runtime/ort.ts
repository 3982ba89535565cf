// Loads onnxruntime-web for the current runtime and creates sessions on the wasm or WebGPU execution provider.
import type * as OrtNs from 'onnxruntime-web';

export type Ort = typeof OrtNs;
export type ExecutionProvider = 'wasm' | 'webgpu';

export type RuntimeKind = 'node' | 'deno' | 'browser';

export function runtimeKind(): RuntimeKind {
  const g = globalThis as { Deno?: unknown; process?: { versions?: { node?: string } }; window?: unknown };
  if (g.Deno) return 'deno';
  if (g.process?.versions?.node && typeof g.window === 'undefined') return 'node';
  return 'browser';
}

export function hardwareThreads(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency;
  if (n && n > 0) return n;
  // Node 20 has no navigator: ask node:os (loaded lazily so browser bundles never see it)
  const os = (globalThis as { process?: { getBuiltinModule?: (m: string) => { availableParallelism?: () => number } } }).process?.getBuiltinModule?.('node:os');
  return os?.availableParallelism?.() ?? 1;
}

const loaded = new Map<ExecutionProvider, Promise<Ort>>();

/**
 * The onnxruntime-web module for an execution provider: the package's default build runs wasm everywhere (its
 * Node build in Node and Deno); WebGPU needs the `onnxruntime-web/webgpu` build (browser and Deno).
 */
export function loadOrt(ep: ExecutionProvider = 'wasm'): Promise<Ort> {
  let p = loaded.get(ep);
  if (!p) {
    p = (async () => {
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
      return ort;
    })();
    loaded.set(ep, p);
  }
  return p;
}

export interface SessionOptions {
  ep?: ExecutionProvider;
  /** a GPUDevice to share with our own kernels (WebGPU EP only) */
  device?: GPUDevice;
  /** keep outputs on the GPU (WebGPU EP only) */
  outputsOnGpu?: boolean;
  /** graph optimisation level (default 'all') */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** files holding the model's external initializers (ORT's `externalData`: the model is never re-encoded with them) */
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
    ep === 'webgpu' ? [opts.device ? ({ name: 'webgpu', device: opts.device } as OrtNs.InferenceSession.ExecutionProviderConfig) : 'webgpu'] : ['wasm'];
  const session = await createOrtSession(ort, bytes, {
    executionProviders,
    graphOptimizationLevel: opts.optimization ?? 'all',
    preferredOutputLocation: opts.outputsOnGpu && ep === 'webgpu' ? 'gpu-buffer' : 'cpu',
    ...(opts.externalData ? { externalData: opts.externalData } : {}),
  });
  return { ort, session };
}
