// ref-eval's convolution family, in float64, written directly from the ONNX operator definitions (tests only):
// Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, BatchNormalization (inference),
// Resize (nearest), ArgMax, Clip, And. N-d spatial (1-D, 2-D, 3-D), groups, strides, pads, dilations.
import type { NodeProto } from '../../src/onnx/codec.ts';
import { attrFloat, attrInt, attrInts, attrString } from '../../src/onnx/tensor.ts';
import { floatTensor, intTensor, numel, toNumbers, type RefTensor } from './ref-eval.ts';

const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);

/** calls f(index) for every multi-index of dims, in row-major order */
function each(dims: number[], f: (idx: number[], flat: number) => void): void {
  const n = prod(dims);
  const idx = new Array<number>(dims.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(idx, k);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

function flatIndex(dims: number[], idx: number[]): number {
  let f = 0;
  for (let i = 0; i < dims.length; i++) f = f * dims[i] + idx[i];
  return f;
}

interface Geo {
  k: number[];
  s: number[];
  d: number[];
  pb: number[];
  pe: number[];
}

function geometry(node: NodeProto, k: number[], inSp: number[]): Geo {
  const n = k.length;
  const s = attrInts(node, 'strides') ?? new Array<number>(n).fill(1);
  const d = attrInts(node, 'dilations') ?? new Array<number>(n).fill(1);
  let pads = attrInts(node, 'pads') ?? new Array<number>(2 * n).fill(0);
  const auto = attrString(node, 'auto_pad', 'NOTSET');
  if (auto === 'VALID') pads = new Array<number>(2 * n).fill(0);
  else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    pads = new Array<number>(2 * n).fill(0);
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inSp[i] / s[i]);
      const total = Math.max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - inSp[i]);
      pads[i] = auto === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      pads[n + i] = total - pads[i];
    }
  }
  return { k, s, d, pb: pads.slice(0, n), pe: pads.slice(n) };
}

function outSize(g: Geo, inSp: number[], ceil: boolean): number[] {
  return inSp.map((len, i) => {
    const span = len + g.pb[i] + g.pe[i] - ((g.k[i] - 1) * g.d[i] + 1);
    let o = (ceil ? Math.ceil(span / g.s[i]) : Math.floor(span / g.s[i])) + 1;
    // ceil mode: the last window must start inside the input or the begin padding
    if (ceil && (o - 1) * g.s[i] >= len + g.pb[i]) o--;
    return o;
  });
}

function conv(node: NodeProto, X: RefTensor, W: RefTensor, Bias?: RefTensor): RefTensor {
  const [B, C, ...sp] = X.dims;
  const [M, Cg, ...k] = W.dims;
  const group = attrInt(node, 'group', 1);
  if (Cg * group !== C) throw new Error(`Conv: weight [${W.dims}] and group ${group} do not fit ${C} input channels`);
  const g = geometry(node, k, sp);
  const os = outSize(g, sp, false);
  const Mg = M / group;
  const out = new Float64Array(B * M * prod(os));
  const x = X.data as Float64Array, w = W.data as Float64Array;
  each([B, M, ...os], (idx, flat) => {
    const [b, m, ...o] = idx;
    const gi = Math.floor(m / Mg);
    let acc = Bias ? (Bias.data as Float64Array)[m] : 0;
    for (let c = 0; c < Cg; c++) {
      each(k, (kk) => {
        const pos = o.map((oi, i) => oi * g.s[i] + kk[i] * g.d[i] - g.pb[i]);
        if (pos.some((p, i) => p < 0 || p >= sp[i])) return;
        acc += x[flatIndex([B, C, ...sp], [b, gi * Cg + c, ...pos])] * w[flatIndex(W.dims, [m, c, ...kk])];
      });
    }
    out[flat] = acc;
  });
  return floatTensor([B, M, ...os], out);
}

function convTranspose(node: NodeProto, X: RefTensor, W: RefTensor, Bias?: RefTensor): RefTensor {
  const [B, C, ...sp] = X.dims;
  const [Cw, Mg, ...k] = W.dims;
  const group = attrInt(node, 'group', 1);
  if (Cw !== C) throw new Error(`ConvTranspose: weight [${W.dims}] does not fit ${C} input channels`);
  const n = k.length;
  const s = attrInts(node, 'strides') ?? new Array<number>(n).fill(1);
  const d = attrInts(node, 'dilations') ?? new Array<number>(n).fill(1);
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * n).fill(0);
  const op = attrInts(node, 'output_padding') ?? new Array<number>(n).fill(0);
  if (attrString(node, 'auto_pad', 'NOTSET') !== 'NOTSET' || attrInts(node, 'output_shape')) throw new Error('ConvTranspose: only explicit pads are implemented');
  const os = sp.map((len, i) => s[i] * (len - 1) + op[i] + (k[i] - 1) * d[i] + 1 - pads[i] - pads[n + i]);
  const M = Mg * group, Cg = C / group;
  const out = new Float64Array(B * M * prod(os));
  if (Bias) each([B, M, ...os], ([, m], flat) => (out[flat] = (Bias.data as Float64Array)[m]));
  const x = X.data as Float64Array, w = W.data as Float64Array;
  each([B, C, ...sp], ([b, c, ...i], flat) => {
    const gi = Math.floor(c / Cg);
    for (let m = 0; m < Mg; m++) {
      each(k, (kk) => {
        const o = i.map((ii, a) => ii * s[a] + kk[a] * d[a] - pads[a]);
        if (o.some((v, a) => v < 0 || v >= os[a])) return;
        out[flatIndex([B, M, ...os], [b, gi * Mg + m, ...o])] += x[flat] * w[flatIndex(W.dims, [c, m, ...kk])];
      });
    }
  });
  return floatTensor([B, M, ...os], out);
}

function pool(node: NodeProto, X: RefTensor, kind: 'max' | 'avg'): RefTensor {
  const [B, C, ...sp] = X.dims;
  const k = attrInts(node, 'kernel_shape')!;
  const g = geometry(node, k, sp);
  const os = outSize(g, sp, attrInt(node, 'ceil_mode', 0) === 1);
  const includePad = attrInt(node, 'count_include_pad', 0) === 1;
  const x = X.data as Float64Array;
  const out = new Float64Array(B * C * prod(os));
  each([B, C, ...os], ([b, c, ...o], flat) => {
    let acc = kind === 'max' ? -Infinity : 0, count = 0;
    each(k, (kk) => {
      const pos = o.map((oi, i) => oi * g.s[i] + kk[i] * g.d[i] - g.pb[i]);
      const inside = pos.every((p, i) => p >= 0 && p < sp[i]);
      const inPadded = pos.every((p, i) => p >= -g.pb[i] && p < sp[i] + g.pe[i]);
      if (inside) {
        const v = x[flatIndex([B, C, ...sp], [b, c, ...pos])];
        acc = kind === 'max' ? Math.max(acc, v) : acc + v;
        count++;
      } else if (includePad && inPadded) count++;
    });
    out[flat] = kind === 'max' ? acc : acc / count;
  });
  return floatTensor([B, C, ...os], out);
}

function globalPool(X: RefTensor, kind: 'max' | 'avg'): RefTensor {
  const [B, C, ...sp] = X.dims;
  const S = prod(sp);
  const x = X.data as Float64Array;
  const out = new Float64Array(B * C);
  for (let bc = 0; bc < B * C; bc++) {
    let acc = kind === 'max' ? -Infinity : 0;
    for (let i = 0; i < S; i++) acc = kind === 'max' ? Math.max(acc, x[bc * S + i]) : acc + x[bc * S + i];
    out[bc] = kind === 'max' ? acc : acc / S;
  }
  return floatTensor([B, C, ...sp.map(() => 1)], out);
}

function batchNorm(node: NodeProto, ins: RefTensor[]): RefTensor {
  const [X, scale, bias, mean, variance] = ins;
  if (attrInt(node, 'training_mode', 0) !== 0) throw new Error('BatchNormalization: training mode is not implemented');
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const [B, C, ...sp] = X.dims;
  const S = prod(sp);
  const x = X.data as Float64Array;
  const [sc, bi, mu, va] = [scale, bias, mean, variance].map((t) => t.data as Float64Array);
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < S; i++) {
        const f = (b * C + c) * S + i;
        out[f] = (sc[c] * (x[f] - mu[c])) / Math.sqrt(va[c] + eps) + bi[c];
      }
  return floatTensor(X.dims, out);
}

/** nearest Resize with 'asymmetric' + 'floor' or 'half_pixel' + 'round_prefer_floor' (what the tests build) */
function resize(node: NodeProto, X: RefTensor, scales?: RefTensor, sizes?: RefTensor): RefTensor {
  if (attrString(node, 'mode', 'nearest') !== 'nearest') throw new Error('Resize: only nearest is implemented');
  const coord = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  const rounding = attrString(node, 'nearest_mode', 'round_prefer_floor');
  const sc = scales && scales.data.length ? Array.from(scales.data as Float64Array) : undefined;
  const dims = sizes && sizes.data.length ? toNumbers(sizes) : X.dims.map((d, i) => Math.floor(d * sc![i]));
  const scl = dims.map((o, i) => (sc ? sc[i] : o / X.dims[i]));
  const src = (o: number, i: number): number => {
    let v: number;
    if (coord === 'asymmetric') v = o / scl[i];
    else if (coord === 'half_pixel') v = (o + 0.5) / scl[i] - 0.5;
    else throw new Error(`Resize: coordinate_transformation_mode ${coord} is not implemented`);
    let r: number;
    if (rounding === 'floor') r = Math.floor(v);
    else if (rounding === 'round_prefer_floor') r = v - Math.floor(v) === 0.5 ? Math.floor(v) : Math.round(v);
    else throw new Error(`Resize: nearest_mode ${rounding} is not implemented`);
    return Math.min(Math.max(r, 0), X.dims[i] - 1);
  };
  const x = X.data as Float64Array;
  const out = new Float64Array(prod(dims));
  each(dims, (o, flat) => (out[flat] = x[flatIndex(X.dims, o.map(src))]));
  return floatTensor(dims, out);
}

function argMax(node: NodeProto, X: RefTensor): RefTensor {
  const r = X.dims.length;
  let axis = attrInt(node, 'axis', 0);
  if (axis < 0) axis += r;
  const keep = attrInt(node, 'keepdims', 1) === 1, last = attrInt(node, 'select_last_index', 0) === 1;
  const outDims = X.dims.map((d, i) => (i === axis ? 1 : d));
  const x = X.data as Float64Array;
  const inner = prod(X.dims.slice(axis + 1)), A = X.dims[axis];
  const out: number[] = [];
  each(outDims, (idx) => {
    const base = flatIndex(X.dims, idx);
    let best = 0;
    for (let a = 1; a < A; a++) {
      const v = x[base + a * inner], bv = x[base + best * inner];
      if (v > bv || (last && v === bv)) best = a;
    }
    out.push(best);
  });
  return intTensor(keep ? outDims : X.dims.filter((_, i) => i !== axis), out);
}

/** The convolution family; undefined for other ops. */
export function runConvFamily(node: NodeProto, ins: (RefTensor | undefined)[]): RefTensor[] | undefined {
  const x = () => {
    if (!ins[0]) throw new Error(`${node.opType}: input 0 is required`);
    return ins[0];
  };
  switch (node.opType) {
    case 'Conv': return [conv(node, x(), ins[1]!, ins[2])];
    case 'ConvTranspose': return [convTranspose(node, x(), ins[1]!, ins[2])];
    case 'MaxPool': return [pool(node, x(), 'max')];
    case 'AveragePool': return [pool(node, x(), 'avg')];
    case 'GlobalAveragePool': return [globalPool(x(), 'avg')];
    case 'GlobalMaxPool': return [globalPool(x(), 'max')];
    case 'BatchNormalization': return [batchNorm(node, ins as RefTensor[])];
    case 'Resize': return [resize(node, x(), ins[2], ins[3])];
    case 'ArgMax': return [argMax(node, x())];
    case 'Clip': {
      const t = x();
      const lo = ins[1] && ins[1].data.length ? Number(ins[1].data[0]) : -Infinity;
      const hi = ins[2] && ins[2].data.length ? Number(ins[2].data[0]) : Infinity;
      return [floatTensor(t.dims, Array.from(t.data as Float64Array, (v) => Math.min(Math.max(v, lo), hi)))];
    }
    case 'And': {
      const [a, b] = [x(), ins[1]!];
      if (a.dims.join() !== b.dims.join() || numel(a.dims) !== a.data.length) throw new Error('And: only equal shapes are implemented');
      return [{ dims: [...a.dims], data: Uint8Array.from(a.data as Uint8Array, (v, i) => (v && (b.data as Uint8Array)[i] ? 1 : 0)), type: 'bool' }];
    }
    default:
      return undefined;
  }
}
