// Builds the augmented model: forward graph + loss head + backward nodes, whose outputs are the per-example
// loss and, for every tapped linear layer, its input activations x and output gradient dy ("taps"), optionally
// with the per-example weight gradient sum_t x_t dy_t^T in the layout of the weight initializer.
import { Long, type ModelProto } from '../onnx/codec.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType } from '../onnx/tensor.ts';
import { buildBackward } from './builder.ts';
import { Emitter } from './emit.ts';
import { ModelStructureError } from './errors.ts';
import { describeInputs, LOSS_MASK, type ModelInputs, type Task } from './inputs.ts';
import { findLayers, untappedWeights, type LayerInfo } from './layers.ts';
import { unfold } from './rules/conv.ts';
import { inferTask, lossHeadFor, type Reduction } from './loss.ts';
import type { ShapeMap } from './shapes.ts';
import type { ExternalFiles } from '../onnx/external.ts';

export interface AugmentOptions {
  /** default: causal-lm when the model takes input_ids and returns [B, T, V] logits, else classification */
  task?: Task;
  /** which layers to tap, tested against the layer (node) name; default all */
  layers?: RegExp;
  /** causal LM loss reduction over tokens (default 'sum') */
  reduction?: Reduction;
  /** output x and dy of every tapped layer (default true) */
  taps?: boolean;
  /** also output the per-example weight gradient of every tapped layer */
  weightGrads?: boolean;
  /**
   * LoGra in the graph: add inputs logra_pin.i [k_in, d_in] and logra_pout.i [k_out, d_out] per layer and output the
   * per-example projected gradient logra_g.i [B, k_out, k_in] = sum_t (P_out dy_t)(P_in x_t)^T.
   */
  project?: boolean;
  /** with project: also output the per-token projections logra_xp.i [B, T, k_in] and logra_dp.i [B, T, k_out] */
  tokenProjections?: boolean;
  /** KFAC statistics summed over the batch's real tokens: logra_a.i = X^T X [d_in, d_in], logra_s.i = DY^T DY */
  kfacStats?: boolean;
  /** with project: the projected KFAC statistics, logra_ap.i = X~^T X~ [k_in, k_in] over real tokens and
   *  logra_sp.i = DY~^T DY~ [k_out, k_out] (X~ = X P_in^T, DY~ = DY P_out^T) */
  projectedKfac?: boolean;
  /** name of the logits output (default: the output named "logits", else the first output) */
  logits?: string;
  /** files of the model's external initializers (so constant shapes, axes, ... stored there can be read) */
  externalFiles?: ExternalFiles;
}

export interface TapOutputs {
  loss: string;
  x?: string[];
  dy?: string[];
  grad?: string[];
  /** per layer: projection inputs and the projected-gradient output */
  pin?: string[];
  pout?: string[];
  g?: string[];
  xp?: string[];
  dp?: string[];
  a?: string[];
  s?: string[];
  ap?: string[];
  sp?: string[];
}

export interface Augmented {
  model: ModelProto;
  task: Task;
  inputs: ModelInputs;
  layers: LayerInfo[];
  outputs: TapOutputs;
  opset: number;
  stats: { forwardNodes: number; addedNodes: number; differentiatedNodes: number };
  /** lines for the user: weights dequantised at load, weight-bearing ops left untapped */
  notes: string[];
}

export const MIN_OPSET = 13;

export function augmentModel(model: ModelProto, shapes: ShapeMap, opts: AugmentOptions = {}): Augmented {
  const g = new Graph(model, opts.externalFiles);
  const opset = g.opset('') ?? 0;
  if (opset < MIN_OPSET) {
    throw new ModelStructureError(`the model imports ai.onnx opset ${opset}; opset ${MIN_OPSET} or newer is required (re-export with opset_version >= ${MIN_OPSET})`);
  }
  const inputs = describeInputs(g);
  const forwardNodes = g.nodes.length;
  const logits = opts.logits ?? g.outputs.find((o) => o.name === 'logits')?.name ?? g.outputs[0]?.name;
  if (!logits || !shapes.has(logits)) throw new ModelStructureError(`no logits output ${JSON.stringify(opts.logits ?? 'logits')} in the model`);
  const logitRank = shapes.get(logits)!.dims.length;
  if (shapes.get(logits)!.elemType !== DataType.FLOAT) {
    throw new ModelStructureError(`the logits ${JSON.stringify(logits)} are not float32 (element type ${shapes.get(logits)!.elemType}) after the float32 conversion`);
  }
  const task: Task = opts.task ?? inferTask(inputs, logitRank, shapes.get(logits)!.dims);
  if (task === 'causal-lm' && !inputs.ids) throw new ModelStructureError('task causal-lm needs an integer input named input_ids');

  const layers = findLayers(g, shapes, opts.layers);
  if (layers.length === 0) {
    const all = findLayers(g, shapes).map((l) => l.name);
    throw new ModelStructureError(
      all.length
        ? `no layer matches ${String(opts.layers)}; the model's linear layers are: ${all.join(', ')}`
        : 'the model has no linear layer (MatMul or Gemm with an initializer weight) to tap',
    );
  }

  const notes: string[] = [];
  const untapped = untappedWeights(g, shapes);
  if (untapped.length) {
    notes.push(
      `warning: ${untapped.length} weight-bearing op${untapped.length === 1 ? ' is' : 's are'} not tapped, so ${untapped.length === 1 ? 'its weights are' : 'their weights are'} not attributed: ` +
        untapped.map((u) => `${u.node} (${u.op}: ${u.why})`).join('; '),
    );
  }

  const e = new Emitter(g, shapes, opset, 'logra/loss');
  const head = lossHeadFor(e, task, logits, inputs, opts.reduction ?? 'sum');
  // token-id classifiers are fed the real-token mask too (it masks their per-token statistics)
  if (task !== 'causal-lm' && inputs.ids) g.addInput(LOSS_MASK, DataType.FLOAT, ['batch', 'sequence']);
  const before = g.nodes.length;
  const { grads, differentiated } = buildBackward(g, { seeds: new Map([[logits, head.dlogits]]), wrt: layers.map((l) => l.y), shapes, emitter: e });

  e.scope = 'logra/taps';
  const want = (on: boolean | undefined) => (on ? ([] as string[]) : undefined);
  const outputs: TapOutputs = {
    loss: 'logra_loss',
    x: want(opts.taps ?? true),
    dy: want(opts.taps ?? true),
    grad: want(opts.weightGrads),
    pin: want(opts.project),
    pout: want(opts.project),
    g: want(opts.project),
    xp: want(opts.project && opts.tokenProjections),
    dp: want(opts.project && opts.tokenProjections),
    a: want(opts.kfacStats),
    s: want(opts.kfacStats),
    ap: want(opts.project && opts.projectedKfac),
    sp: want(opts.project && opts.projectedKfac),
  };
  const newOutputs: string[] = [];
  const named = (v: string, name: string) => {
    g.add('Identity', [v], {}, { outputs: [name], name: `logra/taps/${name}` });
    newOutputs.push(name);
    return name;
  };
  named(head.loss, outputs.loss);
  const batchInput = inputs.ids ?? inputs.features!.name;
  const B = e.dimOf(batchInput, 0);
  // [B, rows, d] view of a per-token (or per-example) value
  const perExample = (v: string, d: number) => e.reshape(v, e.op('Concat', [B, e.ints([-1, d])], { axis: 0 }));
  // probe sizes: a layer is applied per token when its rows per example equal the sequence length
  const probeB = shapes.get(batchInput)!.dims[0];
  const probeT = inputs.ids ? shapes.get(inputs.ids)!.dims[1] : undefined;
  /** x and dy of a layer as rows [B, R, d]: tokens (or the flattened rows an exporter made), or a Conv's patches */
  const rowsOf = (l: LayerInfo, dy: string): { xr: string; dr: string; perToken: number } => {
    if (!l.conv) {
      const rows = e.dims(l.x).reduce((a, b) => a * b, 1) / (probeB * l.dIn);
      return { xr: perExample(l.x, l.dIn), dr: perExample(dy, l.dOut), perToken: rows === probeT ? 1 : 0 };
    }
    const { channels, group } = l.conv;
    // patches [B, C_in*K, *out] -> [B, P, C_in*K] -> a row per (position, group): [B, P*groups, C_in/groups*K]
    const cols = e.reshape(unfold(e, l.x, channels, l.conv), e.op('Concat', [B, e.ints([l.dIn * group, -1])], { axis: 0 }));
    const xr = e.reshape(e.transpose(cols, [0, 2, 1]), e.op('Concat', [B, e.ints([-1, l.dIn])], { axis: 0 }));
    let dr = e.transpose(e.reshape(dy, e.op('Concat', [B, e.ints([l.dOut, -1])], { axis: 0 })), [0, 2, 1]); // [B, P, C_out]
    if (group > 1) {
      // each row's output gradient keeps only its group's channels: sum over (position, group) of dy_g x_g^T = dW
      const mask = new Float32Array(group * l.dOut);
      for (let gi = 0; gi < group; gi++) mask.fill(1, gi * l.dOut + (gi * l.dOut) / group, gi * l.dOut + ((gi + 1) * l.dOut) / group);
      const m = e.g.addInitializer('logra/taps/group_mask', e.floatType, [group, l.dOut], mask);
      dr = e.reshape(e.mul(e.unsqueeze(dr, [2]), m), e.op('Concat', [B, e.ints([-1, l.dOut])], { axis: 0 }));
    }
    const positions = e.dims(l.y).slice(2).reduce((a, b) => a * b, 1);
    return { xr, dr, perToken: e.dims(l.y).length === 3 && positions === probeT ? group : 0 };
  };
  // real-token mask as a column [B*rows, 1] for per-token layers (all rows count for the others)
  const tokenMask = (perToken: number): string | undefined => {
    if (!perToken || !inputs.ids) return undefined;
    const m = e.unsqueeze(LOSS_MASK, [2]); // [B, T, 1]
    return e.reshape(perToken > 1 ? e.op('Expand', [m, e.ints([1, 1, perToken])]) : m, e.ints([-1, 1]));
  };
  layers.forEach((l, i) => {
    const dy = grads.get(l.y) ?? e.zerosLike(l.y);
    const { xr, dr, perToken } = rowsOf(l, dy);
    l.perToken = perToken;
    if (outputs.x) outputs.x.push(named(xr, `logra_x.${i}`));
    if (outputs.dy) outputs.dy.push(named(dr, `logra_dy.${i}`));
    if (outputs.grad) {
      const gw = l.layout === 'in_out' ? e.op('MatMul', [e.transpose(xr, [0, 2, 1]), dr]) : e.op('MatMul', [e.transpose(dr, [0, 2, 1]), xr]);
      outputs.grad.push(named(gw, `logra_grad.${i}`));
    }
    if (outputs.g) {
      // dy is zero at padded positions (the loss mask), so sum_t needs no mask
      const pin = `logra_pin.${i}`, pout = `logra_pout.${i}`;
      g.addInput(pin, DataType.FLOAT, [`k_in_${i}`, l.dIn]);
      g.addInput(pout, DataType.FLOAT, [`k_out_${i}`, l.dOut]);
      outputs.pin!.push(pin);
      outputs.pout!.push(pout);
      const xp = e.op('MatMul', [xr, e.transpose(pin, [1, 0])]); // [B, N, k_in]
      const dp = e.op('MatMul', [dr, e.transpose(pout, [1, 0])]); // [B, N, k_out]
      outputs.g.push(named(e.op('MatMul', [e.transpose(dp, [0, 2, 1]), xp]), `logra_g.${i}`));
      if (outputs.xp) outputs.xp.push(named(xp, `logra_xp.${i}`));
      if (outputs.dp) outputs.dp.push(named(dp, `logra_dp.${i}`));
      if (outputs.ap) {
        let xf = e.reshape(xp, e.op('Concat', [e.ints([-1]), e.dimOf(pin, 0)], { axis: 0 }));
        const tm = tokenMask(perToken);
        if (tm) xf = e.mul(xf, tm);
        const df = e.reshape(dp, e.op('Concat', [e.ints([-1]), e.dimOf(pout, 0)], { axis: 0 }));
        outputs.ap.push(named(e.op('Gemm', [xf, xf], { transA: 1 }), `logra_ap.${i}`));
        outputs.sp!.push(named(e.op('Gemm', [df, df], { transA: 1 }), `logra_sp.${i}`));
      }
    }
    if (outputs.a) {
      let xf = e.reshape(xr, e.ints([-1, l.dIn]));
      const tm = tokenMask(perToken);
      if (tm) xf = e.mul(xf, tm);
      const df = e.reshape(dr, e.ints([-1, l.dOut]));
      outputs.a.push(named(e.op('Gemm', [xf, xf], { transA: 1 }), `logra_a.${i}`));
      outputs.s!.push(named(e.op('Gemm', [df, df], { transA: 1 }), `logra_s.${i}`));
    }
  });
  g.proto.output!.length = 0;
  for (const o of newOutputs) g.addOutput(o, DataType.FLOAT);

  let finalOpset = opset;
  if (e.minOpset > opset) {
    if (opset < 18 && e.minOpset <= 17) {
      g.setOpset(e.minOpset);
      finalOpset = e.minOpset;
      if (Long.fromValue(model.irVersion ?? 0).lt(8)) model.irVersion = Long.fromNumber(8);
    } else {
      throw new ModelStructureError(`the backward graph needs opset ${e.minOpset}, the model has ${opset}`);
    }
  }
  return {
    model,
    task,
    inputs,
    layers,
    outputs,
    opset: finalOpset,
    stats: { forwardNodes, addedNodes: g.nodes.length - forwardNodes, differentiatedNodes: differentiated + 0 * before },
    notes,
  };
}
