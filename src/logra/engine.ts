// The entry point of the pipeline API:
//   const engine = await createEngine({ backend: 'auto' });
//   const model = await engine.loadModel(onnxBytes, { task: 'causal-lm' });
//   const index = await engine.log(model, trainExamples, { store, kIn: 16, kOut: 16, hessian: 'raw' });
//   await index.fit({ damping: 0.1 });
//   const r = await index.query(queries, { topK: 10, mode: 'dot', perLayer: true, perToken: true });
//   const reopened = await engine.openIndex(store, model);
// Model runs (taps, in-graph projection) go through onnxruntime-web (wasm by default, or its WebGPU EP); the linear
// algebra after them (covariances, eigensolvers, Cholesky, scoring) runs on the kernel backend (WGSL or CPU).
import { createBackend, type BackendChoice, type KernelBackend, type CreateBackendOptions } from '../kernels/backend.ts';
import { resolveEp, runtimeKind, type ExecutionProvider, type ExecutionProviderChoice } from '../runtime/ort.ts';
import { configureOnnxRuntime } from '../runtime/ort-config.ts';
import { openModelFolder, taskFromConfig, urlSource, type ModelDtype, type ModelFolder } from '../io/model-folder.ts';
import { openModelPath } from '../io/model-folder-fs.ts';
import type { LogStore } from '../store/store.ts';
import type { Example } from '../runtime/batch.ts';
import { LoadedModel, type LoadModelOptions } from './model.ts';
import { logExamples } from './log.ts';
import { LograIndex } from './index.ts';
import type { LogOptions } from './types.ts';

export interface EngineOptions {
  /** where the linear algebra runs (default 'auto': WebGPU when an adapter exists, else CPU) */
  backend?: BackendChoice;
  /** execution provider for model runs: 'wasm' / 'webgpu' (onnxruntime-web), 'native' (onnxruntime-node, Node and
   *  Deno, an optional dependency) or 'auto' (default: 'native' where it loads, else 'wasm') */
  ep?: ExecutionProviderChoice;
  /** a GPUDevice to share (WebGPU backend and the webgpu EP) */
  device?: GPUDevice;
  /** further kernel-backend options */
  kernels?: Omit<CreateBackendOptions, 'backend' | 'device'>;
  /** onnxruntime threads (default: all cores; in a page only when cross-origin isolated). Applies to wasm when
   *  onnxruntime-web first loads in this process or page, to native sessions when they are created. */
  threads?: number;
}

export class Engine {
  constructor(
    readonly backend: KernelBackend,
    readonly ep: ExecutionProvider,
    private readonly device?: GPUDevice,
  ) {}

  /** Decodes the model, finds its linear layers, builds the augmented graph and its session. */
  loadModel(onnxBytes: Uint8Array, opts: LoadModelOptions = {}): Promise<LoadedModel> {
    return LoadedModel.load(onnxBytes, { ...opts, ep: this.ep, device: this.ep === 'webgpu' ? this.device : undefined });
  }

  /**
   * Loads a model folder as transformers.js / Optimum publish them (config.json, tokenizer.json, onnx/model*.onnx and
   * external data): from a URL (fetched; relative URLs resolve against the page in a browser) or, in Node and Deno,
   * a directory path. A path or URL ending in .onnx loads that file (its external data and tokenizer are found
   * beside it). The float32 file is used when present, else float16, else 8-bit, else 4-bit (`dtype` picks one);
   * `model.notes` says which, `model.tokenizer` turns text into examples.
   */
  async loadModelFrom(location: string | URL, opts: LoadModelOptions & { dtype?: ModelDtype } = {}): Promise<LoadedModel> {
    const s = String(location);
    const isUrl = location instanceof URL || /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || runtimeKind() === 'browser';
    let folder: ModelFolder;
    if (isUrl) {
      const m = /^(.*?)((?:onnx\/)?[^/]+\.onnx)$/.exec(s);
      folder = await openModelFolder(urlSource(m ? m[1] : s), { dtype: opts.dtype, file: m?.[2] });
    } else {
      folder = await openModelPath(s, { dtype: opts.dtype });
      // a folder on disk is read again when a further session is needed: the model keeps no copy of its files
      opts = { reload: async () => openModelPath(s, { dtype: opts.dtype }).then((f) => ({ bytes: f.onnx, externalData: f.externalData })), ...opts };
    }
    return this.loadModelFolder(folder, opts);
  }

  /** Loads an opened model folder (see loadModelFrom); the folder's tokenizer and config come with the model. */
  async loadModelFolder(folder: ModelFolder, opts: LoadModelOptions = {}): Promise<LoadedModel> {
    const model = await this.loadModel(folder.onnx, {
      task: taskFromConfig(folder.config),
      padId: folder.padId,
      ...opts,
      externalData: folder.externalData,
      source: opts.source ?? `${folder.location}/${folder.file}`,
    });
    model.notes = [...folder.notes, ...model.notes];
    model.tokenizer = folder.tokenizer;
    model.config = folder.config;
    return model;
  }

  /** Logs projected per-example gradients of `examples` into opts.store (resuming what it already holds). */
  async log(model: LoadedModel, examples: Example[], opts: LogOptions): Promise<LograIndex> {
    const m = await logExamples(this.backend, model, examples, opts);
    return new LograIndex(this.backend, opts.store, m, model);
  }

  /** Reopens an index; pass the model to run queries (its hash must match the one logged). */
  openIndex(store: LogStore, model?: LoadedModel): Promise<LograIndex> {
    return LograIndex.open(this.backend, store, model);
  }

  dispose(): void {
    this.backend.dispose();
  }
}

export async function createEngine(opts: EngineOptions = {}): Promise<Engine> {
  if (opts.threads !== undefined) configureOnnxRuntime({ numThreads: opts.threads });
  const backend = await createBackend({ backend: opts.backend ?? 'auto', device: opts.device, ...opts.kernels });
  return new Engine(backend, await resolveEp(opts.ep ?? 'auto'), opts.device);
}
