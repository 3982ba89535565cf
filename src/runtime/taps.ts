// One API over onnxruntime-web: build the augmented model once per model, then run batches and get per-example
// losses, layer inputs x and output gradients dy (and optionally per-example weight gradients).
import { decodeModel, encodeModel } from '../onnx/codec.ts';
import { augmentModel, type AugmentOptions, type Augmented } from '../autograd/augment.ts';
import type { LayerInfo } from '../autograd/layers.ts';
import type { Task } from '../autograd/inputs.ts';
import { classBatch, isLmExample, lmBatch, probeBatch, tokenClassBatch, type Batch, type ClassExample, type Example, type TokenExample } from './batch.ts';
import { describeInputs } from '../autograd/inputs.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType } from '../onnx/tensor.ts';
import { probeShapes } from './probe.ts';
import { createSession, type ExecutionProvider, type Ort } from './ort.ts';
import { sessionBytes, type SessionBytes } from './session-bytes.ts';
import { toOrtFeeds } from './feeds.ts';
import { prepareModel } from '../onnx/prepare.ts';
import { sessionExternalData, type ExternalFiles } from '../onnx/external.ts';
import type * as OrtNs from 'onnxruntime-web';

export interface TapModelOptions extends AugmentOptions {
  ep?: ExecutionProvider;
  device?: GPUDevice;
  /** a name for error messages (e.g. the file path) */
  source?: string;
  /** the model's external data files by location (e.g. "model.onnx_data"), when its weights live outside the .onnx */
  externalData?: ExternalFiles;
  /** token id used to right-pad sequences (default 0; padded positions are masked either way) */
  padId?: number;
}

export interface LayerTaps {
  layer: LayerInfo;
  /** rows per example of x and dy: T for layers applied per token, 1 after pooling, positions x groups for Conv */
  rows: number;
  /** [B, T, d_in] for sequence models, [B, d_in] otherwise (unless taps: false) */
  x?: Float32Array;
  dy?: Float32Array;
  xDims: number[];
  dyDims: number[];
  /** per-example weight gradient [B, ...weight layout] when weightGrads was asked for */
  grad?: Float32Array;
  /** per-example projected gradient [B, k_out, k_in] (project: true) */
  g?: Float32Array;
  /** per-token projections [B, T, k_in] and [B, T, k_out] (tokenProjections: true) */
  xp?: Float32Array;
  dp?: Float32Array;
  /** KFAC statistics summed over the batch's real tokens: [d_in, d_in] and [d_out, d_out] (kfacStats: true) */
  a?: Float32Array;
  s?: Float32Array;
  /** projected KFAC statistics over the batch's real tokens: [k_in, k_in] and [k_out, k_out] (projectedKfac: true) */
  ap?: Float32Array;
  sp?: Float32Array;
}

/** LoGra projection matrices of one layer: P_in [k_in, d_in] and P_out [k_out, d_out], row-major. */
export interface LayerProjection {
  kIn: number;
  kOut: number;
  pin: Float32Array;
  pout: Float32Array;
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

/** What a TapModel keeps of the augmented model once its session exists (not the ModelProto: its initializers are
 *  views of the caller's model bytes, which the session has copied). */
export type AugmentedInfo = Omit<Augmented, 'model'>;

/**
 * Rows each layer's KFAC statistics summed over in a batch (what its A factor is an average over): the real tokens
 * times the rows per token for layers applied along the tokens, else every row of every example (one per example
 * after pooling, positions x groups for an image Conv).
 */
export function statsRows(r: TapBatch): number[] {
  const tokens = r.lengths.reduce((a, c) => a + c, 0);
  return r.layers.map((lt) => (lt.layer.perToken ? tokens * lt.layer.perToken : r.B * lt.rows));
}

export class TapModel {
  private constructor(
    readonly augmented: AugmentedInfo,
    readonly bytes: Uint8Array,
    private readonly ort: Ort,
    private readonly session: OrtNs.InferenceSession,
    readonly ep: ExecutionProvider,
    /** milliseconds spent probing shapes and building the backward graph */
    readonly buildMs: number,
    /** estimated bytes a run needs per position (token, or example for classifiers): the forward graph's float
     *  values at the shape probe, per position (an upper bound of what a run of the augmented graph keeps: measured
     *  1.85 MB against 2.9 MB estimated for GPT-2-small) */
    readonly bytesPerToken: number,
    private readonly padId = 0,
  ) {}

  /** Positions per run that keep its working memory within `bytes` (at least 1). */
  tokensWithin(bytes: number): number {
    return Math.max(1, Math.floor(bytes / Math.max(this.bytesPerToken, 1)));
  }

  static async create(onnxBytes: Uint8Array, opts: TapModelOptions = {}): Promise<TapModel> {
    const t0 = performance.now();
    const { model, bytes, external, bytesPerToken } = await buildAugmented(onnxBytes, opts);
    const buildMs = performance.now() - t0;
    const ep = opts.ep ?? 'wasm';
    const { ort, session } = await createSession(bytes, { ep, device: opts.device, externalData: external });
    const { model: _proto, ...info } = model;
    return new TapModel(info, bytes, ort, session, ep, buildMs, bytesPerToken, opts.padId ?? 0);
  }

  private projections?: LayerProjection[];

  /** Sets the projection matrices (one per tapped layer, in layer order) fed to a model built with project: true. */
  setProjections(p: LayerProjection[]): void {
    if (!this.augmented.outputs.g) throw new Error('this TapModel was built without project: true');
    if (p.length !== this.layers.length) throw new Error(`${p.length} projections for ${this.layers.length} tapped layers`);
    p.forEach((q, i) => {
      const l = this.layers[i];
      if (q.pin.length !== q.kIn * l.dIn || q.pout.length !== q.kOut * l.dOut) {
        throw new Error(`projection of layer ${l.name}: P_in must be [${q.kIn}, ${l.dIn}] and P_out [${q.kOut}, ${l.dOut}]`);
      }
    });
    this.projections = p;
  }

  get layers(): LayerInfo[] {
    return this.augmented.layers;
  }
  /** warning lines from loading: dequantised weights, half precision computed in float32, untapped weight-bearing ops */
  get notes(): string[] {
    return this.augmented.notes;
  }
  get task(): Task {
    return this.augmented.task;
  }

  batch(examples: Example[]): Batch {
    const inputs = this.augmented.inputs;
    const labels = this.task === 'regression' ? 'value' : 'class';
    if (this.task === 'causal-lm') {
      if (!examples.every(isLmExample)) throw new Error('causal-lm examples need an input_ids array');
      const labelled = examples.find((e) => (e as TokenExample).label !== undefined);
      if (labelled) {
        throw new Error(`example ${JSON.stringify(labelled.id)} has a "label", but the task is causal-lm (the loss is next-token prediction and would ignore it): this model's logits are per token; for a classifier pass task "classification"`);
      }
      return lmBatch(inputs, examples as TokenExample[], { withLossMask: true, padId: this.padId });
    }
    if (inputs.ids) {
      if (!examples.every(isLmExample)) throw new Error(`this ${this.task} model reads token ids: examples need input_ids (or text with a tokenizer) and a label`);
      return tokenClassBatch(inputs, examples as TokenExample[], { padId: this.padId, withLabels: labels });
    }
    if (examples.some(isLmExample)) throw new Error(`this ${this.task} model reads one float input (${inputs.features?.name}): examples need "input" and "label"`);
    return classBatch(inputs, examples as ClassExample[], { withLabels: labels });
  }

  async run(examples: Example[]): Promise<TapBatch> {
    const b = this.batch(examples);
    const feeds = toOrtFeeds(this.ort, b.feeds);
    const o = this.augmented.outputs;
    if (o.pin) {
      if (!this.projections) throw new Error('call setProjections() before run() on a model built with project: true');
      this.projections.forEach((q, i) => {
        feeds[o.pin![i]] = new this.ort.Tensor('float32', q.pin, [q.kIn, this.layers[i].dIn]);
        feeds[o.pout![i]] = new this.ort.Tensor('float32', q.pout, [q.kOut, this.layers[i].dOut]);
      });
    }
    const out = await this.session.run(feeds);
    const f32 = (name: string) => {
      const t = out[name];
      if (!t) throw new Error(`internal: output ${name} missing`);
      return { data: t.data as Float32Array, dims: [...t.dims] };
    };
    const seq = this.task === 'causal-lm';
    // rows per example: the taps are [B, rows, d] whatever the layer sees (tokens, positions x groups, one row)
    const rowsOf = (name: string, d: number) => {
      const n = f32(name).data.length;
      const rows = n / (b.B * d);
      if (!Number.isInteger(rows) || rows < 1) throw new Error(`tap ${name} has ${n} values, not a multiple of ${b.B} examples x ${d}`);
      return rows;
    };
    const opt = (names: string[] | undefined, i: number) => (names ? f32(names[i]).data : undefined);
    const layers: LayerTaps[] = this.layers.map((layer, i) => {
      const rows = o.x ? rowsOf(o.x[i], layer.dIn) : o.xp ? rowsOf(o.xp[i], this.projections![i].kIn) : seq ? b.T : 1;
      const dims = (d: number) => (seq || rows > 1 ? [b.B, rows, d] : [b.B, d]);
      return {
        layer,
        rows,
        x: o.x ? f32(o.x[i]).data : undefined,
        dy: o.dy ? f32(o.dy[i]).data : undefined,
        xDims: dims(layer.dIn),
        dyDims: dims(layer.dOut),
        grad: opt(o.grad, i),
        g: opt(o.g, i),
        xp: opt(o.xp, i),
        dp: opt(o.dp, i),
        a: opt(o.a, i),
        s: opt(o.s, i),
        ap: opt(o.ap, i),
        sp: opt(o.sp, i),
      };
    });
    const mask = new Float32Array(b.B * b.T);
    b.lengths.forEach((len, i) => mask.fill(1, i * b.T, i * b.T + len));
    return { ids: examples.map((e) => e.id), B: b.B, T: b.T, lengths: b.lengths, mask, loss: f32(o.loss).data, layers };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Decode, make float32 (dequantise / upcast), probe shapes, differentiate: the augmented model and its bytes (no
 * session). The weights are not copied: `bytes` is the graph with its large initializers as `external` data (views
 * of onnxBytes, of the caller's external files, or of weights converted at load).
 */
export async function buildAugmented(
  onnxBytes: Uint8Array,
  opts: AugmentOptions & { source?: string; ep?: ExecutionProvider; externalData?: ExternalFiles } = {},
): Promise<{ model: Augmented; bytesPerToken: number } & SessionBytes> {
  const source = opts.source ?? 'model.onnx';
  const proto = decodeModel(onnxBytes, opts.source);
  // converted external weights go to new in-memory files: a copy of the caller's map, never the caller's
  const files: ExternalFiles = new Map(opts.externalData ?? []);
  const prep = prepareModel(proto, files, source);
  const shapes = await probeShapes(proto, undefined, opts.ep === 'native' ? 'native' : 'wasm', files);
  // forward float values per probe position (initializers and inputs excluded)
  const fixed = new Set([...(proto.graph?.initializer ?? []).map((t) => t.name), ...(proto.graph?.input ?? []).map((i) => i.name)]);
  let valueBytes = 0;
  for (const [name, v] of shapes) if (!fixed.has(name) && v.elemType === DataType.FLOAT) valueBytes += 4 * v.dims.reduce((a, d) => a * d, 1);
  const probe = probeBatch(describeInputs(new Graph(proto)));
  const positions = probe.lengths.reduce((a, l) => a + Math.max(l, 1), 0);
  const model = augmentModel(proto, shapes, { ...opts, externalFiles: files });
  model.notes.unshift(...prep.notes);
  return { model, bytesPerToken: valueBytes / Math.max(positions, 1), ...sessionBytes(model.model, files, undefined, source) };
}
