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
}

export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<{ ort: Ort; session: OrtNs.InferenceSession }> {
  const ep = opts.ep ?? 'wasm';
  const ort = await loadOrt(ep);
  const executionProviders: OrtNs.InferenceSession.ExecutionProviderConfig[] =
    ep === 'webgpu' ? [opts.device ? ({ name: 'webgpu', device: opts.device } as OrtNs.InferenceSession.ExecutionProviderConfig) : 'webgpu'] : ['wasm'];
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders,
    graphOptimizationLevel: opts.optimization ?? 'all',
    preferredOutputLocation: opts.outputsOnGpu && ep === 'webgpu' ? 'gpu-buffer' : 'cpu',
  });
  return { ort, session };
}
