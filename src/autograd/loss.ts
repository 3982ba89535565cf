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

/** softmax(logits) - onehot(target) without a one-hot tensor: the target entries of p replaced by p_target - 1. */
function minusTarget(e: Emitter, p: string, idx: string, axis: number, scale?: string): string {
  const ps = scale ? e.mul(p, scale) : p;
  const at = e.sub(e.op('GatherElements', [ps, idx], { axis }), scale ?? e.scalar(1));
  return e.op('ScatterElements', [ps, idx, at], { axis });
}

/**
 * Causal LM: loss_b = sum_{t < T-1} w_{b,t} CE(logits[b,t], ids[b,t+1]), w_{b,t} = m_{b,t} c_{b,t+1} with m the
 * loss-mask input (1 for real tokens, 0 for right padding) and c the target-mask input (1 where token t+1 is a
 * target: every real token for plain text, the completion's tokens for prompt/completion data, the assistant's for
 * chats). reduction 'mean' divides by sum_t w_{b,t}.
 * Memory: the [B, T, V] logits are the largest values of a language model's graph (50k-token vocabularies), so the
 * head works on them in place of a shifted copy (the last position gets a dummy target and weight 0) and builds the
 * seed without a one-hot: d = softmax * w, then the target entries replaced by (p_target - 1) w (ScatterElements):
 * three full-size tensors (logits, softmax, seed) where slice + one-hot + pad made about seven.
 */
export function causalLmHead(e: Emitter, logits: string, ids: string, reduction: Reduction): LossHead {
  e.g.addInput(LOSS_MASK, DataType.FLOAT, ['batch', 'sequence']);
  e.g.addInput(TARGET_MASK, DataType.FLOAT, ['batch', 'sequence']);
  // view the logits as [B, T, V] whatever the exporter did ([B*T, V] also occurs)
  const l3 = e.reshape(logits, e.op('Concat', [e.shapeOf(ids), e.ints([-1])], { axis: 0 }));
  const ids64 = e.cast(ids, DataType.INT64);
  const first = e.slice(ids64, [0], [1], [1]); // [B, 1]
  // targets ids[t+1], the last position a dummy 0 (weight 0)
  const tgt = e.op('Concat', [e.slice(ids64, [1], [Infinity], [1]), e.sub(first, first)], { axis: 1 }); // [B, T]
  const m = LOSS_MASK;
  const w = e.op('Concat', [e.mul(e.slice(m, [0], [-1], [1]), e.slice(TARGET_MASK, [1], [Infinity], [1])), e.mul(e.slice(m, [0], [1], [1]), e.scalar(0))], { axis: 1 }); // [B, T]
  const idx = e.unsqueeze(tgt, [2]); // [B, T, 1]
  const lse = e.reduce('ReduceLogSumExp', l3, [2], true); // [B, T, 1]
  const picked = e.op('GatherElements', [l3, idx], { axis: 2 }); // [B, T, 1]
  const nll = e.squeeze(e.sub(lse, picked), [2]); // [B, T]
  let loss = e.reduce('ReduceSum', e.mul(nll, w), [1], false); // [B]
  let wScale = w;
  if (reduction === 'mean') {
    const count = e.op('Max', [e.reduce('ReduceSum', w, [1], true), e.scalar(1)]); // [B, 1]
    loss = e.div(loss, e.squeeze(count, [1]));
    wScale = e.div(w, count);
  }
  // d loss / d logits = (softmax - onehot(target)) * w
  const d = minusTarget(e, e.op('Softmax', [l3], { axis: 2 }), idx, 2, e.unsqueeze(wScale, [2])); // [B, T, V]
  const dlogits = e.reshapeLike(d, logits);
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
  const dlogits = e.known(minusTarget(e, e.op('Softmax', [logits], { axis: 1 }), e.unsqueeze(LABELS, [1]), 1), e.dims(logits), e.shape(logits).elemType);
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
