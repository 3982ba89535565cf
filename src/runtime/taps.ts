// One API over onnxruntime-web: build the augmented model once per model, then run batches and get per-example
// losses, layer inputs x and output gradients dy (and optionally per-example weight gradients).
import { decodeModel, encodeModel } from '../onnx/codec.ts';
import { augmentModel, type AugmentOptions, type Augmented } from '../autograd/augment.ts';
import type { LayerInfo } from '../autograd/layers.ts';
import type { Task } from '../autograd/inputs.ts';
import { classBatch, isLmExample, lmBatch, type Batch, type ClassExample, type Example, type LmExample } from './batch.ts';
import { probeShapes } from './probe.ts';
import { createSession, type ExecutionProvider, type Ort } from './ort.ts';
import { toOrtFeeds } from './feeds.ts';
import type * as OrtNs from 'onnxruntime-web';

export interface TapModelOptions extends AugmentOptions {
  ep?: ExecutionProvider;
  device?: GPUDevice;
  /** a name for error messages (e.g. the file path) */
  source?: string;
}

export interface LayerTaps {
  layer: LayerInfo;
  /** [B, T, d_in] for sequence models, [B, d_in] otherwise */
  x: Float32Array;
  dy: Float32Array;
  /** per-example weight gradient [B, ...weight layout] when weightGrads was asked for */
  grad?: Float32Array;
  xDims: number[];
  dyDims: number[];
}

export interface TapBatch {
  ids: string[];
  B: number;
  T: number;
  /** real tokens per example (1 for classifiers) */
  lengths: number[];
  /** token mask [B, T]: 1 for real tokens */
  mask: Float32Array;
  loss: Float32Array;
  layers: LayerTaps[];
}

export class TapModel {
  private constructor(
    readonly augmented: Augmented,
    readonly bytes: Uint8Array,
    private readonly ort: Ort,
    private readonly session: OrtNs.InferenceSession,
    readonly ep: ExecutionProvider,
    /** milliseconds spent probing shapes and building the backward graph */
    readonly buildMs: number,
  ) {}

  static async create(onnxBytes: Uint8Array, opts: TapModelOptions = {}): Promise<TapModel> {
    const t0 = performance.now();
    const { model, bytes } = await buildAugmented(onnxBytes, opts);
    const buildMs = performance.now() - t0;
    const ep = opts.ep ?? 'wasm';
    const { ort, session } = await createSession(bytes, { ep, device: opts.device });
    return new TapModel(model, bytes, ort, session, ep, buildMs);
  }

  get layers(): LayerInfo[] {
    return this.augmented.layers;
  }
  get task(): Task {
    return this.augmented.task;
  }

  batch(examples: Example[]): Batch {
    const inputs = this.augmented.inputs;
    if (this.task === 'causal-lm') {
      if (!examples.every(isLmExample)) throw new Error('causal-lm examples need an input_ids array');
      return lmBatch(inputs, examples as LmExample[], { withLossMask: true });
    }
    return classBatch(inputs, examples as ClassExample[], { withLabels: true });
  }

  async run(examples: Example[]): Promise<TapBatch> {
    const b = this.batch(examples);
    const out = await this.session.run(toOrtFeeds(this.ort, b.feeds));
    const o = this.augmented.outputs;
    const f32 = (name: string) => {
      const t = out[name];
      if (!t) throw new Error(`internal: output ${name} missing`);
      return { data: t.data as Float32Array, dims: [...t.dims] };
    };
    const seq = this.task === 'causal-lm';
    const perEx = (name: string, d: number) => {
      const { data } = f32(name);
      const dims = seq ? [b.B, b.T, d] : [b.B, d];
      const n = dims.reduce((a, c) => a * c, 1);
      if (data.length !== n) throw new Error(`tap ${name} has ${data.length} values, expected ${dims.join('x')} = ${n}`);
      return { data, dims };
    };
    const layers = this.layers.map((layer, i) => {
      const x = perEx(o.x[i], layer.dIn), dy = perEx(o.dy[i], layer.dOut);
      return { layer, x: x.data, dy: dy.data, xDims: x.dims, dyDims: dy.dims, grad: o.grad ? f32(o.grad[i]).data : undefined };
    });
    const mask = new Float32Array(b.B * b.T);
    b.lengths.forEach((len, i) => mask.fill(1, i * b.T, i * b.T + len));
    return { ids: examples.map((e) => e.id), B: b.B, T: b.T, lengths: b.lengths, mask, loss: f32(o.loss).data, layers };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Decode, probe shapes, differentiate: the augmented model and its bytes (no session). */
export async function buildAugmented(onnxBytes: Uint8Array, opts: AugmentOptions & { source?: string } = {}): Promise<{ model: Augmented; bytes: Uint8Array }> {
  const proto = decodeModel(onnxBytes, opts.source);
  const shapes = await probeShapes(proto);
  const model = augmentModel(proto, shapes, opts);
  return { model, bytes: encodeModel(model.model) };
}
