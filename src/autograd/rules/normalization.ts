// LayerNormalization (opset 17): statistics are recomputed in the backward graph. BatchNormalization in inference
// mode: an affine map per channel (axis 1) with the running statistics as constants.
import { attrFloat, attrInt } from '../../onnx/tensor.ts';
import { normAxis, type RuleTable, type VjpContext } from '../rule.ts';

function layerNorm(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const x = c.input(0), scale = c.input(1), bias = c.inputCount > 2 ? c.input(2) : '';
  const y = c.output(0), dy = c.dy()!;
  if (attrInt(c.node, 'stash_type', 1) !== 1) c.fail('only stash_type = 1 (float32 statistics) is supported');
  const rank = e.rank(x);
  const axis = normAxis(attrInt(c.node, 'axis', -1), rank);
  const eps = attrFloat(c.node, 'epsilon', 1e-5);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const mean = e.reduce('ReduceMean', x, axes, true);
  const xc = e.sub(x, mean);
  const variance = e.reduce('ReduceMean', e.mul(xc, xc), axes, true);
  const rstd = e.op('Reciprocal', [e.op('Sqrt', [e.add(variance, e.scalar(eps))])]);
  const xh = e.known(e.mul(xc, rstd), e.dims(x));
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (c.needs(0)) {
    // dx = rstd (dxh - mean(dxh) - xh mean(dxh xh)), dxh = dy * scale
    const dxh = e.mul(dy, scale);
    const m1 = e.reduce('ReduceMean', dxh, axes, true);
    const m2 = e.reduce('ReduceMean', e.mul(dxh, xh), axes, true);
    out[0] = e.known(e.mul(rstd, e.sub(e.sub(dxh, m1), e.mul(xh, m2))), e.dims(x));
  }
  if (c.needs(1)) out[1] = e.unbroadcast(e.known(e.mul(dy, xh), e.dims(y)), y, scale);
  if (bias && c.needs(2)) out[2] = e.unbroadcast(dy, y, bias);
  return out;
}

function batchNorm(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  if (attrInt(c.node, 'training_mode', 0) !== 0) c.fail('training_mode = 1 (batch statistics) is not supported; export the model in eval mode');
  if (c.needs(3) || c.needs(4)) c.fail('gradients w.r.t. the running mean or variance are not supported');
  const x = c.input(0), scale = c.input(1), mean = c.input(3), variance = c.input(4), dy = c.dy()!;
  const r = e.rank(x);
  const eps = attrFloat(c.node, 'epsilon', 1e-5);
  // [C] -> [C, 1, ...] so it broadcasts along axis 1
  const col = (v: string) => e.unsqueeze(v, Array.from({ length: r - 2 }, (_, i) => i + 1));
  const rstd = col(e.op('Reciprocal', [e.op('Sqrt', [e.add(variance, e.scalar(eps))])]));
  const others = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
  const out: (string | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  if (c.needs(0)) out[0] = e.known(e.mul(dy, e.mul(col(scale), rstd)), e.dims(x), e.shape(x).elemType);
  if (c.needs(1)) {
    const xh = e.mul(e.sub(x, col(mean)), rstd);
    out[1] = e.known(e.reduce('ReduceSum', e.mul(dy, xh), others, false), e.dims(scale), e.shape(scale).elemType);
  }
  if (c.needs(2)) out[2] = e.known(e.reduce('ReduceSum', dy, others, false), e.dims(c.input(2)), e.shape(c.input(2)).elemType);
  return out;
}

export const normalizationRules: RuleTable = { LayerNormalization: layerNorm, BatchNormalization: batchNorm };
