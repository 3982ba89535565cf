// ReduceSum and ReduceMean (axes as attribute before opset 13/18, as input after), Softmax, LogSoftmax.
import { attrInt, attrInts } from '../../onnx/tensor.ts';
import { normAxis, type RuleTable, type VjpContext } from '../rule.ts';

/** Reduced axes of a Reduce* node, normalised; all axes when none are given (and noop_with_empty_axes = 0). */
function reducedAxes(c: VjpContext): number[] | 'noop' {
  const rank = c.e.rank(c.input(0));
  const axesAsInput = c.node.opType === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
  let axes: number[] | undefined;
  if (axesAsInput) {
    if (c.inputCount > 1 && c.input(1)) {
      axes = c.constInts(1);
      if (!axes) c.fail('the axes input must be a constant (initializer or Constant node)');
    }
  } else {
    axes = attrInts(c.node, 'axes');
  }
  if (!axes || axes.length === 0) {
    if (attrInt(c.node, 'noop_with_empty_axes', 0) === 1) return 'noop';
    return Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => normAxis(a, rank)).sort((a, b) => a - b);
}

function reduce(mean: boolean) {
  return (c: VjpContext): (string | undefined)[] => {
    const { e } = c;
    const x = c.input(0), dy = c.dy()!;
    const axes = reducedAxes(c);
    if (axes === 'noop') return [dy, undefined];
    const keep = attrInt(c.node, 'keepdims', 1) === 1;
    const dk = keep ? dy : e.unsqueeze(dy, axes);
    let g = e.op('Expand', [dk, e.shapeOf(x)]);
    if (mean) {
      // divide by the number of reduced elements = Size(x) / Size(y), read at run time
      const ft = e.floatType;
      const count = e.div(e.cast(e.op('Size', [x]), ft), e.cast(e.op('Size', [c.output(0)]), ft));
      g = e.div(g, count);
    }
    return [e.known(g, e.dims(x)), undefined];
  };
}

function softmaxAxis(c: VjpContext): number {
  if (c.opset < 13) c.fail('Softmax/LogSoftmax before opset 13 flatten to 2-D; re-export the model with opset >= 13');
  return normAxis(attrInt(c.node, 'axis', -1), c.e.rank(c.input(0)));
}

function softmax(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const y = c.output(0), dy = c.dy()!;
  const axis = softmaxAxis(c);
  // dx = y (dy - sum(dy y, axis))
  const s = e.reduce('ReduceSum', e.mul(dy, y), [axis], true);
  return [e.known(e.mul(y, e.sub(dy, s)), e.dims(y))];
}

function logSoftmax(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const y = c.output(0), dy = c.dy()!;
  const axis = softmaxAxis(c);
  // dx = dy - exp(y) sum(dy, axis)
  const s = e.reduce('ReduceSum', dy, [axis], true);
  return [e.known(e.sub(dy, e.mul(e.op('Exp', [y]), s)), e.dims(y))];
}

export const reduceRules: RuleTable = {
  ReduceSum: reduce(false),
  ReduceMean: reduce(true),
  Softmax: softmax,
  LogSoftmax: logSoftmax,
};
