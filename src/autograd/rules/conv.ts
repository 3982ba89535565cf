// Conv and ConvTranspose (1-D, 2-D, 3-D; groups, depthwise, strides, explicit pads, dilations). The two helpers here are shared with
// the pooling rules and the tapped Conv layers:
//  - unfold(x): the sliding-window patches of x, one strided Slice of the (zero-)padded x per kernel position, so
//    patch values are copied exactly: [B, C * K, *out] with channel-major (c, kernel position) order,
//    K = prod(kernel) (a Conv with a one-hot kernel and group = channels would be one op, but onnxruntime's WebGPU EP
//    computes such grouped Convs wrongly from 4 channels on);
//  - foldBack(patches grad): the adjoint of unfold (col2im) from the same slices: zeros interleaved for the stride,
//    shifted to each kernel position, added, cropped or zero-extended to the input's spatial size.
// Conv's backward is then dX = fold of ConvTranspose(dY, W) (the adjoint of the convolution) and
// dW = sum over examples and positions of dY (x) unfold(x) per group; dB = dY summed over all axes but 1.
import { attrInt, attrInts, attrString } from '../../onnx/tensor.ts';
import type { NodeProto } from '../../onnx/codec.ts';
import type { Emitter } from '../emit.ts';
import type { RuleTable, VjpContext } from '../rule.ts';

export interface ConvGeometry {
  /** spatial rank */
  n: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** begin pads then end pads, per spatial axis */
  pads: number[];
  group: number;
}

/** Conv / pooling attributes with defaults; auto_pad SAME is resolved for stride 1 (any input size). */
export function convGeometry(node: NodeProto, kernel: number[], fail: (why: string) => never): ConvGeometry {
  const n = kernel.length;
  const strides = attrInts(node, 'strides') ?? new Array<number>(n).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array<number>(n).fill(1);
  let pads = attrInts(node, 'pads') ?? new Array<number>(2 * n).fill(0);
  const auto = attrString(node, 'auto_pad', 'NOTSET');
  if (auto === 'VALID') pads = new Array<number>(2 * n).fill(0);
  else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    if (strides.some((s) => s !== 1)) fail(`auto_pad ${auto} with strides ${JSON.stringify(strides)} depends on the input size; export with explicit pads`);
    const total = kernel.map((k, i) => (k - 1) * dilations[i]);
    const lo = total.map((t) => (auto === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    pads = [...lo, ...total.map((t, i) => t - lo[i])];
  } else if (auto !== 'NOTSET') fail(`auto_pad ${JSON.stringify(auto)} is not supported`);
  return { n, kernel, strides, dilations, pads, group: attrInt(node, 'group', 1) };
}

const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);

const geomAttrs = (g: ConvGeometry) => ({ kernel_shape: g.kernel, strides: g.strides, dilations: g.dilations });

const INT64_MAX = 9223372036854775807n;

/** Patches of x [B, C, *spatial]: [B, C * K, *out] (exact copies; `pads` zero-padded). */
export function unfold(e: Emitter, x: string, channels: number, g: ConvGeometry): string {
  const axes = Array.from({ length: g.n }, (_, i) => i + 2);
  const xp = g.pads.some((p) => p !== 0) ? e.op('Pad', [x, e.ints([0, 0, ...g.pads.slice(0, g.n), 0, 0, ...g.pads.slice(g.n)])]) : x;
  // kernel position kk reads x_pad[kk * d + o * s] for every output o: a slice from kk * d that stops
  // (k - 1 - kk) * d before the end, with step s
  const slices: string[] = [];
  const kk = new Array<number>(g.n).fill(0);
  for (let j = 0; j < prod(g.kernel); j++) {
    const starts = kk.map((v, i) => v * g.dilations[i]);
    const ends = kk.map((v, i) => ((g.kernel[i] - 1 - v) * g.dilations[i] === 0 ? INT64_MAX : -(g.kernel[i] - 1 - v) * g.dilations[i]));
    slices.push(e.unsqueeze(e.op('Slice', [xp, e.ints(starts), e.ints(ends), e.ints(axes), e.ints(g.strides)]), [2]));
    for (let i = g.n - 1; i >= 0; i--) {
      if (++kk[i] < g.kernel[i]) break;
      kk[i] = 0;
    }
  }
  const stacked = slices.length === 1 ? slices[0] : e.op('Concat', slices, { axis: 2 }); // [B, C, K, *out]
  return e.reshape(stacked, e.op('Concat', [e.ints([0, channels * prod(g.kernel)]), e.slice(e.shapeOf(stacked), [3], [Infinity], [0])], { axis: 0 }));
}

/** Spatial axes 2.. of `y` cropped from `begin` and zero-extended at the end to the spatial size of `like`. */
function fitSpatial(e: Emitter, y: string, like: string, n: number, begin: number[]): string {
  const axes = Array.from({ length: n }, (_, i) => 2 + i);
  const likeSp = e.slice(e.shapeOf(like), [2], [Infinity], [0]); // [n]
  const s = e.op('Slice', [y, e.ints(begin), e.add(likeSp, e.ints(begin)), e.ints(axes)]);
  const extra = e.sub(likeSp, e.slice(e.shapeOf(s), [2], [Infinity], [0]));
  const pads = e.op('Concat', [e.ints(new Array<number>(n + 2).fill(0)), e.ints([0, 0]), extra], { axis: 0 });
  return e.op('Pad', [s, pads]);
}

/** The adjoint of a (grouped) convolution w.r.t. its input: ConvTranspose(dY, W) fitted to x's spatial size. */
export function convInputGrad(e: Emitter, dy: string, w: string, x: string, g: ConvGeometry): string {
  const t = e.op('ConvTranspose', [dy, w], { ...geomAttrs(g), group: g.group });
  return e.known(fitSpatial(e, t, x, g.n, g.pads.slice(0, g.n)), e.dims(x), e.shape(x).elemType);
}

/** v with (s - 1) zeros after every element along `axis` (the adjoint of a step-s slice, before placing it). */
function interleaveZeros(e: Emitter, v: string, axis: number, s: number): string {
  if (s === 1) return v;
  const u = e.unsqueeze(v, [axis + 1]);
  const r = e.rank(v) + 1;
  const pads = new Array<number>(2 * r).fill(0);
  pads[r + axis + 1] = s - 1;
  const shp = e.shapeOf(v);
  const merged = e.op('Concat', [e.slice(shp, [0], [axis], [0]), e.mul(e.slice(shp, [axis], [axis + 1], [0]), e.ints([s])), e.slice(shp, [axis + 1], [Infinity], [0])], { axis: 0 });
  // sizes are read at run time; the probe map only needs the rank
  return e.known(e.reshape(e.op('Pad', [u, e.ints(pads)]), merged), new Array<number>(e.rank(v)).fill(1), e.shape(v).elemType);
}

/**
 * The adjoint of unfold: patch gradients [B, C * K, *out] summed back onto x's positions. Each kernel position's
 * slice is spread with zeros (stride), shifted to its offset, and the K of them added; then x's padding is dropped.
 */
export function foldBack(e: Emitter, dPatches: string, x: string, channels: number, g: ConvGeometry): string {
  const K = prod(g.kernel);
  const outShape = e.slice(e.shapeOf(dPatches), [2], [Infinity], [0]);
  const d4 = e.reshape(dPatches, e.op('Concat', [e.ints([0, channels, K]), outShape], { axis: 0 })); // [B, C, K, *out]
  const rank = g.n + 2;
  const parts: string[] = [];
  const kk = new Array<number>(g.n).fill(0);
  for (let j = 0; j < K; j++) {
    // [B, C, *out]; the probe map only needs its rank (interleaveZeros reads it)
    let v = e.known(e.op('Gather', [d4, e.int(j)], { axis: 2 }), new Array<number>(rank).fill(1), e.shape(x).elemType);
    for (let i = 0; i < g.n; i++) v = interleaveZeros(e, v, 2 + i, g.strides[i]);
    // kernel position kk lands at kk * d + o * s; every part gets the same length (k - 1) * d + out * s
    const pads = new Array<number>(2 * rank).fill(0);
    for (let i = 0; i < g.n; i++) {
      pads[2 + i] = kk[i] * g.dilations[i];
      pads[rank + 2 + i] = (g.kernel[i] - 1 - kk[i]) * g.dilations[i];
    }
    parts.push(pads.some((p) => p !== 0) ? e.op('Pad', [v, e.ints(pads)]) : v);
    for (let i = g.n - 1; i >= 0; i--) {
      if (++kk[i] < g.kernel[i]) break;
      kk[i] = 0;
    }
  }
  const sum = e.sum(parts);
  return e.known(fitSpatial(e, sum, x, g.n, g.pads.slice(0, g.n)), e.dims(x), e.shape(x).elemType);
}

/** Geometry of a Conv node from its weight's probe dims. */
export function convNodeGeometry(c: VjpContext): ConvGeometry {
  const wd = c.e.dims(c.input(1));
  return convGeometry(c.node, attrInts(c.node, 'kernel_shape') ?? wd.slice(2), c.fail);
}

function conv(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const x = c.input(0), w = c.input(1), y = c.output(0), dy = c.dy()!;
  const g = convNodeGeometry(c);
  const [, Cin] = e.dims(x);
  const [Cout] = e.dims(w);
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (c.needs(0)) out[0] = convInputGrad(e, dy, w, x, g);
  if (c.needs(1)) {
    const K = prod(g.kernel), Kg = (Cin / g.group) * K;
    // per group: dW_g = sum_{b, p} dY_g[b, :, p] patches_g[b, :, p]^T
    const cols = e.reshape(unfold(e, x, Cin, g), e.op('Concat', [e.dimOf(x, 0), e.ints([g.group, Kg, -1])], { axis: 0 })); // [B, g, Kg, P]
    const d = e.reshape(dy, e.op('Concat', [e.dimOf(x, 0), e.ints([g.group, Cout / g.group, -1])], { axis: 0 })); // [B, g, Co/g, P]
    const per = e.op('MatMul', [d, e.transpose(cols, [0, 1, 3, 2])]); // [B, g, Co/g, Kg]
    out[1] = e.known(e.reshape(e.reduce('ReduceSum', per, [0], false), e.shapeOf(w)), e.dims(w), e.shape(w).elemType);
  }
  if (c.inputCount > 2 && c.input(2) && c.needs(2)) {
    const axes = [0, ...Array.from({ length: e.rank(y) - 2 }, (_, i) => i + 2)];
    out[2] = e.known(e.reduce('ReduceSum', dy, axes, false), e.dims(c.input(2)), e.shape(c.input(2)).elemType);
  }
  return out;
}

/**
 * ConvTranspose is Conv's adjoint: dX = Conv(dY, W) with the same geometry (its output has x's size whatever the
 * output_padding), dW[c, m, k] = sum over examples and positions of x[c] unfold(dY)[m, k] per group.
 */
function convTranspose(c: VjpContext): (string | undefined)[] {
  const { e, node } = c;
  if (attrInts(node, 'output_shape')) c.fail('output_shape is not supported; export with explicit pads and output_padding');
  const x = c.input(0), w = c.input(1), y = c.output(0), dy = c.dy()!;
  const g = convNodeGeometry(c);
  if (attrString(node, 'auto_pad', 'NOTSET') !== 'NOTSET') c.fail('auto_pad is not supported for ConvTranspose');
  const [, Cin] = e.dims(x);
  const [, Mg] = e.dims(w);
  const Cout = Mg * g.group;
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (c.needs(0)) out[0] = e.known(e.op('Conv', [dy, w], { ...geomAttrs(g), pads: g.pads, group: g.group }), e.dims(x), e.shape(x).elemType);
  if (c.needs(1)) {
    const K = prod(g.kernel);
    const cols = e.reshape(unfold(e, dy, Cout, g), e.op('Concat', [e.dimOf(x, 0), e.ints([g.group, Mg * K, -1])], { axis: 0 })); // [B, g, Mg*K, P]
    const xs = e.reshape(x, e.op('Concat', [e.dimOf(x, 0), e.ints([g.group, Cin / g.group, -1])], { axis: 0 })); // [B, g, Cin/g, P]
    const per = e.op('MatMul', [xs, e.transpose(cols, [0, 1, 3, 2])]); // [B, g, Cin/g, Mg*K]
    out[1] = e.known(e.reshape(e.reduce('ReduceSum', per, [0], false), e.shapeOf(w)), e.dims(w), e.shape(w).elemType);
  }
  if (c.inputCount > 2 && c.input(2) && c.needs(2)) {
    const axes = [0, ...Array.from({ length: e.rank(y) - 2 }, (_, i) => i + 2)];
    out[2] = e.known(e.reduce('ReduceSum', dy, axes, false), e.dims(c.input(2)), e.shape(c.input(2)).elemType);
  }
  return out;
}

export const convRules: RuleTable = { Conv: conv, ConvTranspose: convTranspose };
