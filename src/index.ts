/// <reference types="@webgpu/types" preserve="true" />
/**
 * logra-web: training-data attribution (LoGra influence functions) over ONNX models, in the browser (WebGPU or
 * wasm), Deno and Node.
 *
 * ```ts
 * import { createEngine, MemoryStore } from 'logra-web';
 * const engine = await createEngine({ backend: 'auto' });
 * const model = await engine.loadModel(onnxBytes);
 * const index = await engine.log(model, trainExamples, { store: new MemoryStore(), kIn: 16, kOut: 16 });
 * await index.fit({ damping: 0.1 });
 * const result = await index.query(queries, { topK: 10 });
 * ```
 *
 * This entry is runtime-neutral (no Node built-ins): the file-system store is `logra-web/store/fs` (Node, Deno),
 * the IndexedDB store `logra-web/store/indexeddb` (browsers), the `<influence-explorer>` element
 * `logra-web/explorer`, the command line `logra-web/cli`.
 * @module
 */

// the pipeline: engine, model, index, options and results
export * from './logra/mod.ts';
// stores: the interface, in memory, read-only over HTTP (and copyStore between stores)
export { MemoryStore } from './store/memory.ts';
export { HttpStore, copyStore } from './store/http.ts';
export { StoreError, StoreQuotaError, StoreMismatchError, StoreLinkError, MANIFEST_VERSION, type LogStore, type Manifest, type IndexSettings, type ChunkRef, type Blob } from './store/store.ts';
export { ChunkError, type ChunkDtype } from './store/chunk.ts';
// where onnxruntime-web's .wasm files come from, wasm threads
export { configureOnnxRuntime, onnxRuntimeConfig, OnnxRuntimeConfigError, type OnnxRuntimeConfig, type WasmPaths } from './runtime/ort-config.ts';
export { NativeRuntimeUnavailableError, type ExecutionProvider, type ExecutionProviderChoice } from './runtime/ort.ts';
// kernel backends (what `backend` chooses)
export { createBackend, type BackendChoice, type BackendKind, type KernelBackend, type CreateBackendOptions } from './kernels/backend.ts';
export type { AcquireOptions, AdapterSummary } from './gpu/device.ts';
// data: examples, JSONL, tokenizer, safetensors
export type { LmExample, ClassExample } from './runtime/batch.ts';
export { parseJsonl, DataFormatError, type JsonlOptions } from './io/jsonl.ts';
export { ByteBPETokenizer, fetchTokenizer, TokenizerFormatError, END_OF_TEXT, GPT2_PATTERN, type TokenizerJSON, type EncodeOptions } from './tokenizer/index.ts';
export { readSafetensors, writeSafetensors, SafetensorsError, type SafeTensor, type SafeDtype } from './io/safetensors.ts';
// lower level: per-layer taps of a model, text generation
export { TapModel, type TapModelOptions, type TapBatch, type LayerTaps } from './runtime/taps.ts';
export { CausalLm, GenerationError, type CausalLmOptions, type GenerateOptions, type GenerateResult } from './runtime/generate.ts';
export type { Task } from './autograd/inputs.ts';
// errors a caller may want to tell apart
export { UnsupportedOpError, ModelStructureError } from './autograd/errors.ts';
export { OnnxDecodeError } from './onnx/codec.ts';
export { GpuUnavailableError, GpuDeviceLostError, GpuLimitError, GpuValidationError, GpuTimeoutError, ShapeError, NotPositiveDefiniteError } from './gpu/errors.ts';
