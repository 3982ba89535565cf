// A minimal trainer on the project's own autograd: the backward graph yields the gradient of the summed loss with
// respect to every parameter; parameters are fed as graph inputs so one onnxruntime-web session serves every step;
// AdamW with warmup + cosine decay and global-norm clipping runs in TypeScript. Causal LMs (an input_ids input;
// loss per predicted token) and classifiers (one float feature input, logits [B, C]; loss per example).
import { decodeModel, encodeModel, onnx, type ModelProto } from '../onnx/codec.ts';
import { Graph } from '../onnx/graph.ts';
import { dimsOf, tensorToHost, makeTensor, DataType } from '../onnx/tensor.ts';
import { Emitter } from '../autograd/emit.ts';
import { buildBackward } from '../autograd/builder.ts';
import { inferTask, lossHeadFor, type LossHead } from '../autograd/loss.ts';
import { describeInputs, type ModelInputs, type Task } from '../autograd/inputs.ts';
import { probeShapes } from '../runtime/probe.ts';
import type { ShapeMap } from '../autograd/shapes.ts';
import { createSession, type ExecutionProvider, type Ort } from '../runtime/ort.ts';
import { classBatch, isLmExample, lmBatch, type Batch, type ClassExample, type Example, type LmExample } from '../runtime/batch.ts';
import { toOrtFeeds } from '../runtime/feeds.ts';
import type * as OrtNs from 'onnxruntime-web';

export interface AdamWOptions {
  lr: number;
  /** final learning rate of the cosine decay (default lr / 10) */
  minLr?: number;
  warmup: number;
  totalSteps: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** clip the global gradient norm (default 1; 0 = off) */
  clip?: number;
}

export interface StepResult {
  step: number;
  /** mean loss per predicted token (causal LM) or per example (classifier) of the batch */
  loss: number;
  gradNorm: number;
  lr: number;
  /** what the loss is averaged over: predicted tokens (causal LM) or examples (classifier) */
  tokens: number;
}

/** The loss head the model calls for (the task as augment.ts infers it): causal LM (summed) or classification. */
function lossHead(e: Emitter, g: Graph, inputs: ModelInputs, shapes: ShapeMap): { head: LossHead; logits: string; task: Task } {
  const logits = g.outputs.find((o) => o.name === 'logits')?.name ?? g.outputs[0].name!;
  const task = inferTask(inputs, shapes.get(logits)?.dims.length ?? 0);
  if (task === 'classification' && !inputs.features) throw new Error('the trainer trains causal LMs (an input_ids input) and classifiers (one float feature input)');
  return { head: lossHeadFor(e, task, logits, inputs, 'sum'), logits, task };
}

/** Feeds of a batch and what its loss is averaged over (predicted tokens, or examples). */
function trainBatch(inputs: ModelInputs, task: Task, batch: Example[]): { b: Batch; counts: number[] } {
  if (batch.length === 0) throw new Error('empty batch');
  if (task === 'causal-lm') {
    if (!batch.every(isLmExample)) throw new Error('this is a causal LM: examples need input_ids');
    const b = lmBatch(inputs, batch as LmExample[], { withLossMask: true });
    return { b, counts: b.lengths.map((l) => Math.max(0, l - 1)) };
  }
  if (batch.some(isLmExample)) throw new Error('this is a classifier: examples need input and label');
  return { b: classBatch(inputs, batch as ClassExample[], { withLabels: true }), counts: batch.map(() => 1) };
}

export interface TrainerState {
  step: number;
  momentSteps: number;
  values: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
}

export class Trainer {
  private m: Float32Array[];
  private v: Float32Array[];
  private t = 0;
  /** steps the moments have seen (their bias correction): t, unless a warm restart reset them */
  private tm = 0;
  private evalSession: Promise<OrtNs.InferenceSession> | null = null;

  private constructor(
    private readonly base: ModelProto,
    readonly params: string[],
    readonly values: Float32Array[],
    readonly dims: number[][],
    private readonly inputs: ModelInputs,
    /** what the loss head was built for */
    readonly task: Task,
    private readonly ort: Ort,
    private readonly session: OrtNs.InferenceSession,
    private readonly gradNames: string[],
    readonly opt: Required<AdamWOptions>,
    private readonly evalModel: Uint8Array,
    private readonly ep: ExecutionProvider,
  ) {
    this.m = values.map((v) => new Float32Array(v.length));
    this.v = values.map((v) => new Float32Array(v.length));
  }

  /** Builds the training graph (loss head + backward to every parameter) for a causal LM or a classifier. */
  static async create(model: ModelProto, params: string[], opt: AdamWOptions, ep: ExecutionProvider = 'wasm'): Promise<Trainer> {
    const work = decodeModel(encodeModel(model));
    const shapes = await probeShapes(work);
    const evalModel = buildEvalModel(model, params, new Map(shapes));
    const g = new Graph(work);
    const inputs = describeInputs(g);
    const e = new Emitter(g, shapes, g.opset('') ?? 17, 'train/loss');
    const { head, logits, task } = lossHead(e, g, inputs, shapes);
    const { grads } = buildBackward(g, { seeds: new Map([[logits, head.dlogits]]), wrt: params, shapes, emitter: e });
    const values: Float32Array[] = [];
    const dims: number[][] = [];
    const gradNames: string[] = [];
    g.proto.output!.length = 0;
    g.add('Identity', [head.loss], {}, { outputs: ['train_loss'], name: 'train/loss_out' });
    g.addOutput('train_loss', DataType.FLOAT);
    params.forEach((p, i) => {
      const init = g.initializer(p);
      if (!init) throw new Error(`parameter ${p} is not an initializer of the model`);
      const h = tensorToHost(init);
      if (!(h.data instanceof Float32Array)) throw new Error(`parameter ${p} is not float32`);
      values.push(h.data.slice());
      dims.push(dimsOf(init));
      const gr = grads.get(p) ?? e.zerosLike(p);
      const name = `train_grad.${i}`;
      g.add('Identity', [gr], {}, { outputs: [name], name: `train/grad_out/${i}` });
      g.addOutput(name, DataType.FLOAT);
      gradNames.push(name);
    });
    // parameters become graph inputs: one session serves every step
    const keep = new Set(params);
    g.proto.initializer = g.proto.initializer!.filter((t) => !keep.has(t.name ?? ''));
    params.forEach((p, i) => g.addInput(p, DataType.FLOAT, dims[i]));
    if (e.minOpset > (g.opset('') ?? 0)) g.setOpset(e.minOpset);
    const { ort, session } = await createSession(encodeModel(work), { ep });
    const full: Required<AdamWOptions> = {
      minLr: opt.lr / 10, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clip: 1, ...opt,
    };
    return new Trainer(model, params, values, dims, inputs, task, ort, session, gradNames, full, evalModel, ep);
  }

  lrAt(step: number): number {
    const { lr, minLr, warmup, totalSteps } = this.opt;
    if (step < warmup) return (lr * (step + 1)) / warmup;
    const p = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * p));
  }

  private async forwardBackward(batch: Example[]): Promise<{ loss: number; grads: Float32Array[]; tokens: number }> {
    const { b, counts } = trainBatch(this.inputs, this.task, batch);
    const feeds = toOrtFeeds(this.ort, b.feeds);
    this.params.forEach((p, i) => (feeds[p] = new this.ort.Tensor('float32', this.values[i], this.dims[i])));
    const out = await this.session.run(feeds);
    const tokens = counts.reduce((a, c) => a + c, 0);
    const lossSum = (out.train_loss.data as Float32Array).reduce((a, v) => a + v, 0);
    return { loss: lossSum / Math.max(1, tokens), grads: this.gradNames.map((n) => out[n].data as Float32Array), tokens };
  }

  /** One AdamW step on a batch; gradients are of the mean loss per predicted token (LM) or per example. */
  async step(batch: Example[]): Promise<StepResult> {
    const { loss, grads, tokens } = await this.forwardBackward(batch);
    const scale = 1 / Math.max(1, tokens);
    let sq = 0;
    for (const gr of grads) {
      let s = 0;
      for (let i = 0; i < gr.length; i++) s += gr[i] * gr[i];
      sq += s;
    }
    const gradNorm = Math.sqrt(sq) * scale;
    const clip = this.opt.clip > 0 && gradNorm > this.opt.clip ? this.opt.clip / gradNorm : 1;
    const lr = this.lrAt(this.t);
    this.t++;
    this.tm++;
    const { beta1: b1, beta2: b2, eps, weightDecay } = this.opt;
    const c1 = 1 - b1 ** this.tm, c2 = 1 - b2 ** this.tm;
    const gs = scale * clip, a1 = 1 - b1, a2 = 1 - b2, stepSize = lr / c1, rc2 = 1 / Math.sqrt(c2);
    grads.forEach((gr, k) => {
      const p = this.values[k], m = this.m[k], v = this.v[k];
      // no weight decay on biases, LayerNorm parameters (1-D)
      const decay = 1 - lr * (this.dims[k].length >= 2 ? weightDecay : 0);
      for (let i = 0; i < p.length; i++) {
        const gi = gr[i] * gs;
        const mi = b1 * m[i] + a1 * gi;
        const vi = b2 * v[i] + a2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        // decoupled weight decay: p <- p - lr (m^ / (sqrt(v^) + eps) + wd p)
        p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * rc2 + eps);
      }
    });
    return { step: this.t, loss, gradNorm, lr, tokens };
  }

  /** Number of AdamW steps taken. */
  get stepCount(): number {
    return this.t;
  }

  /**
   * The optimizer's state (step count, first and second moments, parameter values; views, not copies), for a
   * checkpoint that `restore` resumes exactly.
   */
  state(): TrainerState {
    return { step: this.t, momentSteps: this.tm, values: this.values, m: this.m, v: this.v };
  }

  /**
   * Resumes from a checkpoint: the parameter values and step count, and the moments when given (without them
   * AdamW starts its moments afresh at this step: a warm restart). Shapes are checked against the parameters.
   */
  restore(s: { step: number; momentSteps?: number; values: Float32Array[]; m?: Float32Array[]; v?: Float32Array[] }): void {
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`restore: step must be a non-negative integer, got ${s.step}`);
    const check = (what: string, a: Float32Array[]) => {
      if (a.length !== this.values.length) throw new Error(`restore: ${what} has ${a.length} tensors, the model has ${this.values.length} parameters`);
      a.forEach((x, i) => {
        if (x.length !== this.values[i].length) throw new Error(`restore: ${what}[${i}] (${this.params[i]}) has ${x.length} values, expected ${this.values[i].length}`);
      });
    };
    check('values', s.values);
    if (s.m) check('m', s.m);
    if (s.v) check('v', s.v);
    s.values.forEach((x, i) => this.values[i].set(x));
    const moments = s.m && s.v;
    this.m.forEach((x, i) => (moments ? x.set(s.m![i]) : x.fill(0)));
    this.v.forEach((x, i) => (moments ? x.set(s.v![i]) : x.fill(0)));
    this.t = s.step;
    this.tm = s.m && s.v ? s.momentSteps ?? s.step : 0;
  }

  /**
   * Per-example loss (nats; forward only, current parameters): summed next-token loss for a causal LM (`tokens` =
   * predicted tokens), cross-entropy for a classifier (`tokens` = 1). LM examples are batched by length (less
   * padding); the result is in the order of `examples`.
   */
  async exampleLosses(examples: Example[], batchSize = 32): Promise<{ loss: Float64Array; tokens: Int32Array }> {
    this.evalSession ??= createSession(this.evalModel, { ep: this.ep }).then((r) => r.session);
    const session = await this.evalSession;
    const len = (e: Example) => (isLmExample(e) ? e.input_ids.length : 0);
    const order = [...examples.keys()].sort((a, b) => len(examples[a]) - len(examples[b]));
    const loss = new Float64Array(examples.length), tokens = new Int32Array(examples.length);
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize);
      const { b, counts } = trainBatch(this.inputs, this.task, idx.map((i) => examples[i]));
      const feeds = toOrtFeeds(this.ort, b.feeds);
      this.params.forEach((p, i) => (feeds[p] = new this.ort.Tensor('float32', this.values[i], this.dims[i])));
      const out = (await session.run(feeds)).eval_loss.data as Float32Array;
      idx.forEach((i, k) => {
        loss[i] = out[k];
        tokens[i] = counts[k];
      });
    }
    return { loss, tokens };
  }

  /** Mean loss per predicted token (LM) or per example (classifier), forward only, no update. */
  async evaluate(examples: Example[], batchSize = 32): Promise<number> {
    const { loss, tokens } = await this.exampleLosses(examples, batchSize);
    let total = 0, n = 0;
    for (let i = 0; i < loss.length; i++) {
      total += loss[i];
      n += tokens[i];
    }
    return total / Math.max(1, n);
  }

  /** Gradient of the summed loss of a batch w.r.t. every parameter (for checks). */
  async gradients(batch: Example[]): Promise<{ loss: number; grads: Float32Array[] }> {
    const r = await this.forwardBackward(batch);
    return { loss: r.loss * r.tokens, grads: r.grads };
  }

  /** The original model with the current parameter values as its initializers. */
  exportModel(): ModelProto {
    const out = decodeModel(encodeModel(this.base));
    const byName = new Map(this.params.map((p, i) => [p, i]));
    out.graph!.initializer = out.graph!.initializer!.map((t) => {
      const i = byName.get(t.name ?? '');
      return i === undefined ? t : (makeTensor(t.name!, DataType.FLOAT, this.dims[i], this.values[i]) as onnx.TensorProto);
    });
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.evalSession) await (await this.evalSession).release();
    this.evalSession = null;
  }
}

/** The forward model plus its loss head, parameters as inputs, per-example (summed) loss as the output. */
function buildEvalModel(model: ModelProto, params: string[], shapes: ShapeMap): Uint8Array {
  const copy = decodeModel(encodeModel(model));
  const g = new Graph(copy);
  const e = new Emitter(g, shapes, g.opset('') ?? 17, 'eval/loss');
  const { head } = lossHead(e, g, describeInputs(g), shapes);
  g.proto.output!.length = 0;
  g.add('Identity', [head.loss], {}, { outputs: ['eval_loss'], name: 'eval/loss_out' });
  g.addOutput('eval_loss', DataType.FLOAT);
  const keep = new Set(params);
  const dims = new Map<string, number[]>();
  for (const t of g.proto.initializer ?? []) if (keep.has(t.name ?? '')) dims.set(t.name!, dimsOf(t));
  g.proto.initializer = g.proto.initializer!.filter((t) => !keep.has(t.name ?? ''));
  for (const p of params) g.addInput(p, DataType.FLOAT, dims.get(p)!);
  if (e.minOpset > (g.opset('') ?? 0)) g.setOpset(e.minOpset);
  return encodeModel(copy);
}
