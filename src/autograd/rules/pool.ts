// Pooling: MaxPool (the gradient goes to the first maximum of each window, as torch's max_pool does), AveragePool
// (count_include_pad 0 or 1), GlobalAveragePool, GlobalMaxPool. Windows are unfolded with conv.ts's one-hot Conv and
// gradients folded back with its adjoint, so no Indices output (which fails on WebGPU) is needed.
import { attrInt, attrInts, makeTensor } from '../../onnx/tensor.ts';
import type { RuleTable, VjpContext } from '../rule.ts';
import { convGeometry, foldBack, unfold, type ConvGeometry } from './conv.ts';

const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);

function poolGeometry(c: VjpContext): ConvGeometry {
  const kernel = attrInts(c.node, 'kernel_shape');
  if (!kernel) c.fail('kernel_shape is required');
  const g = convGeometry(c.node, kernel, c.fail);
  // ceil_mode: the windows past the end need extra end padding, known from the probe's spatial sizes
  if (attrInt(c.node, 'ceil_mode', 0) === 1) {
    const xin = c.e.dims(c.input(0)).slice(2), yout = c.e.dims(c.output(0)).slice(2);
    const pads = [...g.pads];
    yout.forEach((o, i) => {
      const need = (o - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1 - (xin[i] + g.pads[i] + g.pads[g.n + i]);
      if (need > 0) pads[g.n + i] += need;
    });
    return { ...g, pads };
  }
  return g;
}

/** The pooled tensor's windows as [B, C, K, P] (x padded with `padValue` where the geometry pads). */
function windows(c: VjpContext, g: ConvGeometry, padValue: number): { win: string; xp: string; begin: number[] } {
  const { e } = c;
  const x = c.input(0);
  const C = e.dims(x)[1];
  let xp = x;
  if (g.pads.some((p) => p !== 0)) {
    const pads = [0, 0, ...g.pads.slice(0, g.n), 0, 0, ...g.pads.slice(g.n)];
    xp = e.op('Pad', [x, e.ints(pads), e.scalar(padValue)], { mode: 'constant' });
    e.known(xp, e.dims(x).map((d, i) => (i < 2 ? d : d + g.pads[i - 2] + g.pads[g.n + i - 2])), e.shape(x).elemType);
  }
  const cols = unfold(e, xp, C, { ...g, pads: new Array<number>(2 * g.n).fill(0) });
  const win = e.reshape(cols, e.op('Concat', [e.dimOf(x, 0), e.ints([C, prod(g.kernel), -1])], { axis: 0 }));
  return { win, xp, begin: g.pads.slice(0, g.n) };
}

/** window-gradient [B, C, K, P] folded back onto x (through the padded x when there is padding) */
function foldWindows(c: VjpContext, g: ConvGeometry, dwin: string, xp: string): string {
  const { e } = c;
  const x = c.input(0), y = c.output(0);
  const C = e.dims(x)[1];
  const dcols = e.reshape(dwin, e.op('Concat', [e.dimOf(y, 0), e.ints([C * prod(g.kernel)]), e.slice(e.shapeOf(y), [2], [Infinity], [0])], { axis: 0 }));
  const dxp = foldBack(e, dcols, xp, C, { ...g, pads: new Array<number>(2 * g.n).fill(0) });
  if (xp === x) return dxp;
  // the adjoint of Pad: drop the padded border
  const axes = Array.from({ length: g.n }, (_, i) => i + 2);
  const r = e.op('Slice', [dxp, e.ints(g.pads.slice(0, g.n)), e.add(e.ints(g.pads.slice(0, g.n)), e.slice(e.shapeOf(x), [2], [Infinity], [0])), e.ints(axes)]);
  return e.known(r, e.dims(x), e.shape(x).elemType);
}

function maxPool(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  if (c.node.output!.length > 1 && c.node.output![1] && c.dy(1)) c.fail('gradients through the Indices output are not supported');
  if (attrInt(c.node, 'storage_order', 0) !== 0) c.fail('storage_order = 1 is not supported');
  const g = poolGeometry(c);
  const K = prod(g.kernel);
  const { win, xp } = windows(c, g, -3.4028234663852886e38);
  // the first maximum of each window gets the gradient
  const am = e.op('ArgMax', [win], { axis: 2, keepdims: 1, select_last_index: 0 }); // [B, C, 1, P]
  const range = e.reshape(e.op('Range', [e.int(0), e.int(K), e.int(1)]), e.ints([1, 1, K, 1]));
  const onehot = e.cast(e.op('Equal', [range, am]), e.floatType);
  const dyw = e.reshape(c.dy()!, e.op('Concat', [e.slice(e.shapeOf(win), [0], [2], [0]), e.ints([1, -1])], { axis: 0 })); // [B, C, 1, P]
  return [foldWindows(c, g, e.mul(onehot, dyw), xp)];
}

function averagePool(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const g = poolGeometry(c);
  const K = prod(g.kernel);
  const x = c.input(0), y = c.output(0);
  const includePad = attrInt(c.node, 'count_include_pad', 0) === 1;
  // elements per window: K with count_include_pad (over the explicit padding), else the real elements only
  let dyc = c.dy()!;
  if (!includePad && g.pads.some((p) => p !== 0)) {
    const ones = e.op('ConstantOfShape', [e.op('Concat', [e.ints([1, 1]), e.slice(e.shapeOf(x), [2], [Infinity], [0])], { axis: 0 })], {
      value: makeTensor('value', e.floatType, [1], [1]),
    });
    const kern = e.g.addInitializer(`${e.scope}/ones`, e.floatType, [1, 1, ...g.kernel], new Array<number>(K).fill(1));
    const counts = e.op('Conv', [ones, kern], { kernel_shape: g.kernel, strides: g.strides, dilations: g.dilations, pads: g.pads });
    dyc = e.div(dyc, counts);
  } else dyc = e.scale(dyc, 1 / K);
  const win = e.op('Unsqueeze', [dyc, e.ints([2])]); // [B, C, 1, *out]
  const dwin = e.op('Expand', [e.reshape(win, e.op('Concat', [e.slice(e.shapeOf(y), [0], [2], [0]), e.ints([1, -1])], { axis: 0 })), e.op('Concat', [e.slice(e.shapeOf(y), [0], [2], [0]), e.ints([K, 1])], { axis: 0 })]);
  // padded positions receive nothing: fold onto the padded input, then drop its border
  if (g.pads.some((p) => p !== 0)) {
    const pads = [0, 0, ...g.pads.slice(0, g.n), 0, 0, ...g.pads.slice(g.n)];
    const xp = e.known(e.op('Pad', [x, e.ints(pads)]), e.dims(x).map((d, i) => (i < 2 ? d : d + g.pads[i - 2] + g.pads[g.n + i - 2])), e.shape(x).elemType);
    return [foldWindows(c, g, dwin, xp)];
  }
  return [foldWindows(c, g, dwin, x)];
}

function globalAveragePool(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const x = c.input(0);
  const count = e.div(e.cast(e.op('Size', [x]), e.floatType), e.cast(e.op('Size', [c.output(0)]), e.floatType));
  return [e.known(e.div(e.op('Expand', [c.dy()!, e.shapeOf(x)]), count), e.dims(x), e.shape(x).elemType)];
}

function globalMaxPool(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const x = c.input(0);
  // the first maximum per channel (as torch's adaptive_max_pool to 1)
  const flat = e.reshape(x, e.op('Concat', [e.slice(e.shapeOf(x), [0], [2], [0]), e.ints([-1])], { axis: 0 })); // [B, C, S]
  const am = e.op('ArgMax', [flat], { axis: 2, keepdims: 1, select_last_index: 0 });
  const S = e.op('Gather', [e.shapeOf(flat), e.int(2)], { axis: 0 });
  const range = e.reshape(e.op('Range', [e.int(0), S, e.int(1)]), e.ints([1, 1, -1]));
  const onehot = e.cast(e.op('Equal', [range, am]), e.floatType);
  const dyf = e.reshape(c.dy()!, e.op('Concat', [e.slice(e.shapeOf(x), [0], [2], [0]), e.ints([1])], { axis: 0 }));
  return [e.known(e.reshapeLike(e.mul(onehot, dyf), x), e.dims(x), e.shape(x).elemType)];
}

export const poolRules: RuleTable = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  GlobalMaxPool: globalMaxPool,
};
