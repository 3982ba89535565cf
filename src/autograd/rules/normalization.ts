// LayerNormalization (opset 17): statistics are recomputed in the backward graph.
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

export const normalizationRules: RuleTable = { LayerNormalization: layerNorm };
