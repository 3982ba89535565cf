// Loss heads appended to the forward graph. Each yields the per-example loss [B] and, analytically, the
// gradient of the summed loss with respect to the logits (softmax - onehot, masked), which seeds the backward
// pass. Only ops that onnxruntime-web runs on WebGPU are used (ReduceLogSumExp rather than LogSoftmax).
import { DataType } from '../onnx/tensor.ts';
import type { Emitter } from './emit.ts';
import { LOSS_MASK, LABELS, TARGET_MASK, type ModelInputs, type Task } from './inputs.ts';

export type Reduction = 'sum' | 'mean';

export interface LossHead {
  /** per-example loss [B] */
  loss: string;
  /** gradient of sum_b loss_b w.r.t. the logits value, shaped like the logits */
  dlogits: string;
}

/** one-hot [.., V] of integer targets [..] against the class axis of size taken from `logits` (last axis). */
function oneHot(e: Emitter, targets: string, logits: string, rank: number): string {
  const V = e.op('Squeeze', [e.dimOf(logits, rank - 1), e.ints([0])]);
  const range = e.op('Range', [e.int(0), V, e.int(1)]);
  return e.cast(e.op('Equal', [e.unsqueeze(targets, [rank - 1]), range]), e.floatType);
}

/**
 * Causal LM: loss_b = sum_{t < T-1} w_{b,t} CE(logits[b,t], ids[b,t+1]), w_{b,t} = m_{b,t} c_{b,t+1} with m the
 * loss-mask input (1 for real tokens, 0 for right padding) and c the target-mask input (1 where token t+1 is a
 * target: every real token for plain text, the completion's tokens for prompt/completion data, the assistant's for
 * chats). reduction 'mean' divides by sum_t w_{b,t}.
 */
export function causalLmHead(e: Emitter, logits: string, ids: string, reduction: Reduction): LossHead {
  e.g.addInput(LOSS_MASK, DataType.FLOAT, ['batch', 'sequence']);
  e.g.addInput(TARGET_MASK, DataType.FLOAT, ['batch', 'sequence']);
  // view the logits as [B, T, V] whatever the exporter did ([B*T, V] also occurs)
  const l3 = e.reshape(logits, e.op('Concat', [e.shapeOf(ids), e.ints([-1])], { axis: 0 }));
  const ls = e.slice(l3, [0], [-1], [1]); // [B, T-1, V]
  const tgt = e.slice(ids, [1], [Infinity], [1]); // [B, T-1]
  const tgt64 = e.cast(tgt, DataType.INT64);
  const m = LOSS_MASK;
  const w = e.mul(e.slice(m, [0], [-1], [1]), e.slice(TARGET_MASK, [1], [Infinity], [1])); // [B, T-1]
  const lse = e.reduce('ReduceLogSumExp', ls, [2], true); // [B, T-1, 1]
  const picked = e.op('GatherElements', [ls, e.unsqueeze(tgt64, [2])], { axis: 2 }); // [B, T-1, 1]
  const nll = e.squeeze(e.sub(lse, picked), [2]); // [B, T-1]
  let loss = e.reduce('ReduceSum', e.mul(nll, w), [1], false); // [B]
  let wScale = w;
  if (reduction === 'mean') {
    const count = e.op('Max', [e.reduce('ReduceSum', w, [1], true), e.scalar(1)]); // [B, 1]
    loss = e.div(loss, e.squeeze(count, [1]));
    wScale = e.div(w, count);
  }
  // d loss / d ls = (softmax(ls) - onehot(tgt)) * w
  const p = e.op('Softmax', [ls], { axis: 2 });
  const d = e.mul(e.sub(p, oneHot(e, tgt64, ls, 3)), e.unsqueeze(wScale, [2])); // [B, T-1, V]
  // the last position predicts nothing: pad a zero row at the end of the time axis
  const d3 = e.op('Pad', [d, e.ints([0, 0, 0, 0, 1, 0])]);
  const dlogits = e.reshapeLike(d3, logits);
  e.known(dlogits, e.dims(logits), e.shape(logits).elemType);
  return { loss, dlogits };
}

/** Classification: loss_b = CE(logits[b], label_b), logits [B, C]. */
export function classificationHead(e: Emitter, logits: string): LossHead {
  e.g.addInput(LABELS, DataType.INT64, ['batch']);
  if (e.rank(logits) !== 2) throw new Error(`classification expects logits [batch, classes]; ${logits} has rank ${e.rank(logits)}`);
  const lse = e.reduce('ReduceLogSumExp', logits, [1], true); // [B, 1]
  const picked = e.op('GatherElements', [logits, e.unsqueeze(LABELS, [1])], { axis: 1 }); // [B, 1]
  const loss = e.squeeze(e.sub(lse, picked), [1]);
  const p = e.op('Softmax', [logits], { axis: 1 });
  const dlogits = e.known(e.sub(p, oneHot(e, LABELS, logits, 2)), e.dims(logits), e.shape(logits).elemType);
  return { loss, dlogits };
}

/** Regression (a 1-output head, as transformers with num_labels = 1): loss_b = (y_b - label_b)^2, logits [B, 1] or [B]. */
export function regressionHead(e: Emitter, logits: string): LossHead {
  e.g.addInput(LABELS, DataType.FLOAT, ['batch']);
  const d = e.dims(logits);
  if (!(d.length === 1 || (d.length === 2 && d[1] === 1))) throw new Error(`regression expects logits [batch, 1]; ${logits} has dims [${d}]`);
  const diff = e.sub(e.reshape(logits, e.ints([-1])), LABELS); // [B]
  const loss = e.mul(diff, diff);
  const dlogits = e.known(e.reshapeLike(e.scale(diff, 2), logits), d, e.shape(logits).elemType);
  return { loss, dlogits };
}

/**
 * The task a model's inputs and logits call for: token ids with logits [B, T, V] (or wider) -> causal LM; logits
 * [B, 1] -> regression; other [B, C] -> classification (token-id classifiers such as BERT included).
 */
export function inferTask(inputs: ModelInputs, logitRank: number, logitDims?: number[]): Task {
  if (inputs.ids && logitRank >= 3) return 'causal-lm';
  if (logitDims && logitRank === 2 && logitDims[1] === 1) return 'regression';
  return 'classification';
}

/** The loss head of a task (causal LM needs the ids input). */
export function lossHeadFor(e: Emitter, task: Task, logits: string, inputs: ModelInputs, reduction: Reduction = 'sum'): LossHead {
  if (task === 'causal-lm') {
    if (!inputs.ids) throw new Error('task causal-lm needs an integer input named input_ids');
    return causalLmHead(e, logits, inputs.ids, reduction);
  }
  return task === 'regression' ? regressionHead(e, logits) : classificationHead(e, logits);
}
