// Where onnxruntime-web finds its WebAssembly files, and how many threads it runs: one setting for every
// onnxruntime-web module this package loads (the wasm build and the WebGPU build), as transformers.js does with
// env.backends.onnx.wasm.wasmPaths.
//
// Default (nothing configured): onnxruntime-web's own resolution, i.e. the files next to its module
// (node_modules/onnxruntime-web/dist/ in Node and Deno; in a page, wherever the bundler put them: Vite and webpack 5
// copy the `new URL('ort-wasm-*.wasm', import.meta.url)` assets beside the bundle). Set `wasmPaths` when the page
// serves them elsewhere (a CDN, a static folder), before the first model is loaded.
import type { Ort } from './ort.ts';

/** An absolute URL prefix (ending in '/') of the folder holding onnxruntime-web's ort-wasm-*.wasm / .mjs files, or
 *  explicit URLs of one build's .wasm and .mjs files. */
export type WasmPaths = string | { wasm?: string | URL; mjs?: string | URL };

export interface OnnxRuntimeConfig {
  /** where onnxruntime-web's .wasm/.mjs files are fetched from (default: next to onnxruntime-web's own module) */
  wasmPaths?: WasmPaths;
  /** wasm threads (default: every core in Node and Deno; in a page every core only when cross-origin isolated, else 1) */
  numThreads?: number;
}

let config: OnnxRuntimeConfig = {};
const modules = new Set<Ort>();

export class OnnxRuntimeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxRuntimeConfigError';
  }
}

function validate(c: OnnxRuntimeConfig): void {
  const n = c.numThreads;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new OnnxRuntimeConfigError(`numThreads must be an integer >= 1, got ${String(n)}`);
  const p = c.wasmPaths;
  if (p === undefined) return;
  if (typeof p === 'string') {
    if (!p.endsWith('/')) throw new OnnxRuntimeConfigError(`wasmPaths must be a folder URL ending in "/", got ${JSON.stringify(p)}`);
  } else if (typeof p !== 'object' || p === null || (p.wasm === undefined && p.mjs === undefined)) {
    throw new OnnxRuntimeConfigError('wasmPaths must be a URL prefix string or { wasm?, mjs? } with at least one URL');
  }
}

/**
 * Configures every onnxruntime-web module this package loads (already loaded ones too). Call it before the first
 * engine or model: onnxruntime-web reads these settings when it initialises its WebAssembly.
 *
 *   configureOnnxRuntime({ wasmPaths: 'https://cdn.jsdelivr.net/npm/onnxruntime-web@1.30.0/dist/' });
 */
export function configureOnnxRuntime(c: OnnxRuntimeConfig): void {
  validate(c);
  // an undefined field leaves that setting as it is
  config = { ...config, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) };
  for (const ort of modules) applyOnnxRuntimeConfig(ort);
}

/** The settings given to configureOnnxRuntime so far. */
export function onnxRuntimeConfig(): Readonly<OnnxRuntimeConfig> {
  return config;
}

/** Applies the configuration to a freshly loaded onnxruntime-web module (called by loadOrt). */
export function applyOnnxRuntimeConfig(ort: Ort): void {
  modules.add(ort);
  if (config.wasmPaths !== undefined) ort.env.wasm.wasmPaths = config.wasmPaths;
  if (config.numThreads !== undefined) ort.env.wasm.numThreads = config.numThreads;
}
