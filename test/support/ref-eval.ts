// An independent float64 reference evaluator for small ONNX graphs (tests only). Every float is computed in
// float64 whatever its declared type; int64 values are BigInt64Array, bools Uint8Array (0/1). It implements the
// ai.onnx semantics of opsets 13-20 for the ops the autograd rules emit and the tests build, and throws for
// anything else. Written for clarity, not speed: tensors in tests have tens of elements.
import type { ModelProto, NodeProto } from '../../src/onnx/codec.ts';
import { Graph } from '../../src/onnx/graph.ts';
import { DataType, attrFloat, attrInt, attrInts, attrString, attrTensor, tensorToHost, type HostTensor } from '../../src/onnx/tensor.ts';
import { runConvFamily } from './ref-eval-conv.ts';

export type RefType = 'float' | 'int64' | 'bool';

export interface RefTensor {
  dims: number[];
  data: Float64Array | BigInt64Array | Uint8Array;
  type: RefType;
}

type Scalar = number | bigint;

// ---------------------------------------------------------------- tensor helpers

export function numel(dims: number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function stridesOf(dims: number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

export function floatTensor(dims: number[], data: ArrayLike<number>): RefTensor {
  if (data.length !== numel(dims)) throw new Error(`ref-eval: ${data.length} values for dims [${dims}]`);
  return { dims: [...dims], data: Float64Array.from(data), type: 'float' };
}

export function intTensor(dims: number[], data: ArrayLike<number | bigint>): RefTensor {
  if (data.length !== numel(dims)) throw new Error(`ref-eval: ${data.length} values for dims [${dims}]`);
  return { dims: [...dims], data: BigInt64Array.from(Array.from(data, (v) => BigInt(v))), type: 'int64' };
}

export function boolTensor(dims: number[], data: ArrayLike<number | boolean>): RefTensor {
  if (data.length !== numel(dims)) throw new Error(`ref-eval: ${data.length} values for dims [${dims}]`);
  return { dims: [...dims], data: Uint8Array.from(Array.from(data, (v) => (v ? 1 : 0))), type: 'bool' };
}

function alloc(type: RefType, n: number): Float64Array | BigInt64Array | Uint8Array {
  return type === 'float' ? new Float64Array(n) : type === 'int64' ? new BigInt64Array(n) : new Uint8Array(n);
}

function make(type: RefType, dims: number[], data: Float64Array | BigInt64Array | Uint8Array): RefTensor {
  if (data.length !== numel(dims)) throw new Error(`internal ref-eval: ${data.length} values for dims [${dims}]`);
  return { dims, data, type };
}

/** ONNX element type of a reference tensor (floats are reported as FLOAT). */
export function elemTypeOf(t: RefTensor): number {
  return t.type === 'float' ? DataType.FLOAT : t.type === 'int64' ? DataType.INT64 : DataType.BOOL;
}

/** Values as plain numbers. */
export function toNumbers(t: RefTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function fromHost(h: HostTensor): RefTensor {
  switch (h.dataType) {
    case DataType.FLOAT:
    case DataType.DOUBLE:
      return make('float', h.dims, Float64Array.from(h.data as ArrayLike<number>));
    case DataType.INT64:
      return make('int64', h.dims, BigInt64Array.from(h.data as BigInt64Array));
    case DataType.INT32:
    case DataType.INT8:
    case DataType.UINT8:
      return make('int64', h.dims, BigInt64Array.from(Array.from(h.data as ArrayLike<number>, (v) => BigInt(v))));
    case DataType.BOOL:
      return make('bool', h.dims, Uint8Array.from(h.data as Uint8Array, (v) => (v ? 1 : 0)));
    default:
      throw new Error(`ref-eval: tensors of data type ${h.dataType} are not supported`);
  }
}

function typeOfDataType(dt: number): RefType {
  switch (dt) {
    case DataType.FLOAT:
    case DataType.DOUBLE:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 'float';
    case DataType.INT64:
    case DataType.INT32:
    case DataType.INT16:
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.UINT16:
    case DataType.UINT32:
    case DataType.UINT64:
      return 'int64';
    case DataType.BOOL:
      return 'bool';
    default:
      throw new Error(`ref-eval: data type ${dt} is not supported`);
  }
}

function castTo(x: RefTensor, to: RefType): RefTensor {
  if (x.type === to) return make(to, [...x.dims], x.data.slice());
  const n = x.data.length;
  const out = alloc(to, n);
  for (let i = 0; i < n; i++) {
    const v = x.data[i];
    if (to === 'float') (out as Float64Array)[i] = Number(v);
    else if (to === 'bool') (out as Uint8Array)[i] = Number(v) !== 0 ? 1 : 0;
    else {
      const f = Number(v);
      if (!Number.isFinite(f)) throw new Error(`ref-eval: Cast of ${f} to int64`);
      (out as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(f));
    }
  }
  return make(to, [...x.dims], out);
}

// ---------------------------------------------------------------- broadcasting and strided copies

export function broadcastShape(...shapes: number[][]): number[] {
  const r = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - r + i] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) throw new Error(`ref-eval: shapes ${shapes.map((x) => `[${x}]`).join(' ')} do not broadcast`);
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** For each flat index of `out`, the flat index of the broadcast operand with dims `inp`. */
function bcastMap(out: number[], inp: number[]): Int32Array {
  const r = out.length, off = r - inp.length;
  const st = new Array<number>(r).fill(0);
  let s = 1;
  for (let i = inp.length - 1; i >= 0; i--) {
    if (inp[i] !== 1 && inp[i] !== out[i + off]) throw new Error(`ref-eval: [${inp}] does not broadcast to [${out}]`);
    st[i + off] = inp[i] === 1 ? 0 : s;
    s *= inp[i];
  }
  return strideMap(out, st, 0);
}

/** Flat source index for every flat index of an array of dims `out`, visiting source `offset + sum idx[k] * st[k]`. */
function strideMap(out: number[], st: number[], offset: number): Int32Array {
  const n = numel(out), r = out.length;
  const map = new Int32Array(n);
  const idx = new Array<number>(r).fill(0);
  let cur = offset;
  for (let k = 0; k < n; k++) {
    map[k] = cur;
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      cur += st[d];
      if (idx[d] < out[d]) break;
      cur -= st[d] * out[d];
      idx[d] = 0;
    }
  }
  return map;
}

function pick(x: RefTensor, dims: number[], map: Int32Array): RefTensor {
  const out = alloc(x.type, map.length);
  for (let i = 0; i < map.length; i++) (out as Float64Array)[i] = (x.data as Float64Array)[map[i]];
  return make(x.type, dims, out);
}

/** Elementwise op over broadcast operands. */
function elementwise(ins: RefTensor[], outType: RefType, f: (v: Scalar[]) => Scalar | boolean): RefTensor {
  const dims = broadcastShape(...ins.map((t) => t.dims));
  const maps = ins.map((t) => bcastMap(dims, t.dims));
  const n = numel(dims);
  const out = alloc(outType, n);
  const v: Scalar[] = new Array(ins.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < ins.length; j++) v[j] = ins[j].data[maps[j][i]];
    const r = f(v);
    if (outType === 'float') (out as Float64Array)[i] = Number(r);
    else if (outType === 'bool') (out as Uint8Array)[i] = r ? 1 : 0;
    else (out as BigInt64Array)[i] = typeof r === 'bigint' ? r : BigInt(r as number);
  }
  return make(outType, dims, out);
}

function sameType(op: string, ins: RefTensor[]): RefType {
  const t = ins[0].type;
  for (const x of ins) if (x.type !== t) throw new Error(`ref-eval: ${op} of mixed element types ${ins.map((y) => y.type).join(', ')}`);
  return t;
}

function arith(op: string, ins: RefTensor[], ff: (a: number, b: number) => number, fi?: (a: bigint, b: bigint) => bigint): RefTensor {
  const t = sameType(op, ins);
  if (t === 'float') return elementwise(ins, 'float', (v) => ff(v[0] as number, v[1] as number));
  if (t === 'int64' && fi) return elementwise(ins, 'int64', (v) => fi(v[0] as bigint, v[1] as bigint));
  throw new Error(`ref-eval: ${op} on ${t} tensors is not supported`);
}

function variadic(op: string, ins: RefTensor[], ff: (a: number, b: number) => number, fi: (a: bigint, b: bigint) => bigint): RefTensor {
  let acc = ins[0];
  for (let i = 1; i < ins.length; i++) acc = arith(op, [acc, ins[i]], ff, fi);
  return ins.length === 1 ? make(acc.type, [...acc.dims], acc.data.slice()) : acc;
}

function unaryFloat(op: string, x: RefTensor, f: (a: number) => number): RefTensor {
  if (x.type !== 'float') throw new Error(`ref-eval: ${op} needs a float input, got ${x.type}`);
  return make('float', [...x.dims], (x.data as Float64Array).map(f));
}

// ---------------------------------------------------------------- maths

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf(x) to ~1e-15 relative: for |x| < 6 the all-positive series
 *   erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
 * (no cancellation); beyond, erf(x) = sign(x) to double precision (erfc(6) ~ 2e-17).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const x2 = ax * ax;
  let term = ax, sum = ax;
  for (let n = 0; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 3);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  return x < 0 ? -r : r;
}

function normAxis(a: number, r: number, what = 'axis'): number {
  const v = a < 0 ? a + r : a;
  if (v < 0 || v >= r) throw new Error(`ref-eval: ${what} ${a} out of range for rank ${r}`);
  return v;
}

/** Reduces float x over `axes` (normalised) to kept dims; returns per-output groups combined with `f`. */
function reduceFloat(x: RefTensor, axes: number[], init: number, f: (acc: number, v: number) => number): { dims: number[]; data: Float64Array; count: number } {
  if (x.type !== 'float') throw new Error(`ref-eval: reductions need float inputs, got ${x.type}`);
  const kept = x.dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const map = bcastMap(x.dims, kept);
  const out = new Float64Array(numel(kept)).fill(init);
  const xd = x.data as Float64Array;
  for (let i = 0; i < xd.length; i++) out[map[i]] = f(out[map[i]], xd[i]);
  const count = numel(axes.map((a) => x.dims[a]));
  return { dims: kept, data: out, count };
}

function dropAxes(dims: number[], axes: number[]): number[] {
  return dims.filter((_, i) => !axes.includes(i));
}

function logSumExp(x: RefTensor, axes: number[]): { dims: number[]; data: Float64Array } {
  const mx = reduceFloat(x, axes, -Infinity, Math.max);
  const kept = mx.dims;
  const map = bcastMap(x.dims, kept);
  const s = new Float64Array(mx.data.length);
  const xd = x.data as Float64Array;
  for (let i = 0; i < xd.length; i++) {
    const m = mx.data[map[i]];
    s[map[i]] += m === -Infinity ? 0 : Math.exp(xd[i] - m);
  }
  const out = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = mx.data[i] === -Infinity ? -Infinity : Math.log(s[i]) + mx.data[i];
  return { dims: kept, data: out };
}

function softmax(x: RefTensor, axes: number[], log: boolean): RefTensor {
  const lse = logSumExp(x, axes);
  const map = bcastMap(x.dims, lse.dims);
  const xd = x.data as Float64Array;
  const out = new Float64Array(xd.length);
  for (let i = 0; i < xd.length; i++) {
    const l = xd[i] - lse.data[map[i]];
    out[i] = log ? l : Math.exp(l);
  }
  return make('float', [...x.dims], out);
}

function matmul(a: RefTensor, b: RefTensor): RefTensor {
  if (a.type !== 'float' || b.type !== 'float') throw new Error('ref-eval: MatMul needs float operands');
  if (a.dims.length < 1 || b.dims.length < 1) throw new Error('ref-eval: MatMul operands must have rank >= 1');
  const ad = a.dims.length === 1 ? [1, a.dims[0]] : a.dims;
  const bd = b.dims.length === 1 ? [b.dims[0], 1] : b.dims;
  const M = ad[ad.length - 2], K = ad[ad.length - 1], K2 = bd[bd.length - 2], N = bd[bd.length - 1];
  if (K !== K2) throw new Error(`ref-eval: MatMul [${a.dims}] x [${b.dims}]: inner dims differ`);
  const batch = broadcastShape(ad.slice(0, -2), bd.slice(0, -2));
  const nb = numel(batch);
  const ma = bcastMap(batch, ad.slice(0, -2)), mb = bcastMap(batch, bd.slice(0, -2));
  const A = a.data as Float64Array, B = b.data as Float64Array;
  const out = new Float64Array(nb * M * N);
  for (let p = 0; p < nb; p++) {
    const oa = ma[p] * M * K, ob = mb[p] * K * N, oo = p * M * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[oa + i * K + k] * B[ob + k * N + j];
        out[oo + i * N + j] = s;
      }
  }
  const dims = [...batch];
  if (a.dims.length > 1) dims.push(M);
  if (b.dims.length > 1) dims.push(N);
  return make('float', dims, out);
}

function transpose(x: RefTensor, perm: number[]): RefTensor {
  const st = stridesOf(x.dims);
  const dims = perm.map((p) => x.dims[p]);
  return pick(x, dims, strideMap(dims, perm.map((p) => st[p]), 0));
}

// ---------------------------------------------------------------- the evaluator

export type Feeds = Map<string, RefTensor>;
export type Values = Map<string, RefTensor>;

/** Evaluates every node of the model; returns every value (inputs, initializers, node outputs) by name. */
export function evaluate(model: ModelProto, feeds: Feeds): Values {
  return compile(model)(feeds);
}

/** Prepares a model once (order, initializers) for repeated evaluation, e.g. finite differences. */
export function compile(model: ModelProto): (feeds: Feeds) => Values {
  const g = new Graph(model);
  const opset = g.opset('') ?? 0;
  const order = g.topoOrder();
  const inits = new Map<string, RefTensor>();
  for (const t of g.proto.initializer ?? []) if (t.name) inits.set(t.name, fromHost(tensorToHost(t)));
  const inputs = g.inputs.map((v) => v.name ?? '');
  return (feeds) => {
    const env: Values = new Map(inits);
    for (const name of inputs) {
      const f = feeds.get(name);
      if (!f) throw new Error(`ref-eval: no feed for graph input ${JSON.stringify(name)}`);
      env.set(name, f);
    }
    for (const [k, v] of feeds) if (!env.has(k)) env.set(k, v);
    for (const node of order) {
      const ins = (node.input ?? []).map((i) => {
        if (!i) return undefined;
        const v = env.get(i);
        if (!v) throw new Error(`ref-eval: node ${JSON.stringify(node.name)} (${node.opType}) reads ${JSON.stringify(i)}, which has no value`);
        return v;
      });
      let outs: (RefTensor | undefined)[];
      try {
        outs = run(node, ins, opset);
      } catch (err) {
        throw new Error(`ref-eval: node ${JSON.stringify(node.name)} (${node.opType}): ${(err as Error).message}`, { cause: err });
      }
      (node.output ?? []).forEach((o, i) => {
        if (!o) return;
        const t = outs[i];
        if (!t) throw new Error(`ref-eval: node ${JSON.stringify(node.name)} (${node.opType}) does not produce output ${i}`);
        env.set(o, t);
      });
    }
    return env;
  };
}

function need(ins: (RefTensor | undefined)[], i: number, op: string): RefTensor {
  const t = ins[i];
  if (!t) throw new Error(`${op}: input ${i} is required`);
  return t;
}

function ints(t: RefTensor | undefined): number[] | undefined {
  if (!t) return undefined;
  if (t.type !== 'int64') throw new Error(`expected an int64 tensor, got ${t.type}`);
  return toNumbers(t);
}

function scalarOf(t: RefTensor): Scalar {
  if (t.data.length !== 1) throw new Error(`expected a single value, got dims [${t.dims}]`);
  return t.data[0];
}

function constantValue(node: NodeProto): RefTensor {
  const t = attrTensor(node, 'value');
  if (t) return fromHost(tensorToHost(t));
  const a = (node.attribute ?? [])[0];
  if (a?.name === 'value_float') return floatTensor([], [a.f ?? 0]);
  if (a?.name === 'value_floats') return floatTensor([(a.floats ?? []).length], a.floats ?? []);
  if (a?.name === 'value_int') return intTensor([], [attrInt(node, 'value_int', 0)]);
  if (a?.name === 'value_ints') { const v = attrInts(node, 'value_ints')!; return intTensor([v.length], v); }
  throw new Error(`Constant with attribute ${a?.name ?? '(none)'} is not supported`);
}

/** Axes of a Reduce* node for the opset: input 1 (ReduceSum >= 13, others >= 18) or the axes attribute. */
function reduceAxes(node: NodeProto, ins: (RefTensor | undefined)[], opset: number, rank: number): number[] | 'noop' {
  const asInput = node.opType === 'ReduceSum' ? opset >= 13 : opset >= 18;
  const axes = asInput ? ints(ins[1]) : attrInts(node, 'axes');
  if (!asInput && ins[1]) throw new Error(`${node.opType} at opset ${opset} takes axes as an attribute, not an input`);
  if (!axes || axes.length === 0) {
    if (attrInt(node, 'noop_with_empty_axes', 0) === 1) return 'noop';
    return Array.from({ length: rank }, (_, i) => i);
  }
  const n = axes.map((a) => normAxis(a, rank));
  if (new Set(n).size !== n.length) throw new Error(`repeated axes [${axes}]`);
  return n.sort((a, b) => a - b);
}

function run(node: NodeProto, ins: (RefTensor | undefined)[], opset: number): (RefTensor | undefined)[] {
  const op = node.opType ?? '';
  const domain = node.domain ?? '';
  if (domain !== '' && domain !== 'ai.onnx') throw new Error(`ref-eval does not implement ${domain}.${op}`);
  const x = () => need(ins, 0, op);
  switch (op) {
    // ---- elementwise arithmetic
    case 'Add': return [arith(op, [x(), need(ins, 1, op)], (a, b) => a + b, (a, b) => a + b)];
    case 'Sub': return [arith(op, [x(), need(ins, 1, op)], (a, b) => a - b, (a, b) => a - b)];
    case 'Mul': return [arith(op, [x(), need(ins, 1, op)], (a, b) => a * b, (a, b) => a * b)];
    case 'Div':
      return [arith(op, [x(), need(ins, 1, op)], (a, b) => a / b, (a, b) => {
        if (b === 0n) throw new Error('integer division by zero');
        return a / b; // truncates toward zero, as C does
      })];
    case 'Pow': {
      const a = x(), b = need(ins, 1, op);
      if (a.type !== 'float') throw new Error('Pow of a non-float base is not supported');
      return [elementwise([a, b], 'float', (v) => Math.pow(v[0] as number, Number(v[1])))];
    }
    case 'Max': return [variadic(op, ins.map((t, i) => need(ins, i, op)), Math.max, (a, b) => (a > b ? a : b))];
    case 'Min': return [variadic(op, ins.map((t, i) => need(ins, i, op)), Math.min, (a, b) => (a < b ? a : b))];
    case 'Sum': return [variadic(op, ins.map((t, i) => need(ins, i, op)), (a, b) => a + b, (a, b) => a + b)];
    case 'Neg': {
      const t = x();
      if (t.type === 'int64') return [make('int64', [...t.dims], (t.data as BigInt64Array).map((v) => -v))];
      return [unaryFloat(op, t, (v) => -v)];
    }
    case 'Abs': {
      const t = x();
      if (t.type === 'int64') return [make('int64', [...t.dims], (t.data as BigInt64Array).map((v) => (v < 0n ? -v : v)))];
      return [unaryFloat(op, t, Math.abs)];
    }
    case 'Sqrt': return [unaryFloat(op, x(), Math.sqrt)];
    case 'Exp': return [unaryFloat(op, x(), Math.exp)];
    case 'Log': return [unaryFloat(op, x(), Math.log)];
    case 'Tanh': return [unaryFloat(op, x(), Math.tanh)];
    case 'Erf': return [unaryFloat(op, x(), erf)];
    case 'Reciprocal': return [unaryFloat(op, x(), (v) => 1 / v)];
    case 'Sigmoid': return [unaryFloat(op, x(), (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))))];
    case 'Relu': return [unaryFloat(op, x(), (v) => (v > 0 ? v : 0))];
    case 'Gelu': {
      if (opset < 20) throw new Error(`Gelu needs opset 20, the model has ${opset}`);
      const approx = attrString(node, 'approximate', 'none');
      if (approx === 'none') return [unaryFloat(op, x(), (v) => 0.5 * v * (1 + erf(v * Math.SQRT1_2)))];
      if (approx === 'tanh') {
        const c = Math.sqrt(2 / Math.PI);
        return [unaryFloat(op, x(), (v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v))))];
      }
      throw new Error(`Gelu approximate=${approx} is not defined`);
    }
    case 'Identity': { const t = x(); return [make(t.type, [...t.dims], t.data.slice())]; }
    case 'Dropout': {
      const t = x();
      const training = ins[2] ? Number(scalarOf(ins[2])) !== 0 : false;
      if (training) throw new Error('Dropout with training_mode = true is random: not supported');
      return [make(t.type, [...t.dims], t.data.slice()), make('bool', [...t.dims], new Uint8Array(t.data.length).fill(1))];
    }

    // ---- comparisons and logic
    case 'Greater': return [elementwise([x(), need(ins, 1, op)], 'bool', (v) => v[0] > v[1])];
    case 'Less': return [elementwise([x(), need(ins, 1, op)], 'bool', (v) => v[0] < v[1])];
    case 'GreaterOrEqual': return [elementwise([x(), need(ins, 1, op)], 'bool', (v) => v[0] >= v[1])];
    case 'LessOrEqual': return [elementwise([x(), need(ins, 1, op)], 'bool', (v) => v[0] <= v[1])];
    case 'Equal': {
      sameType(op, [x(), need(ins, 1, op)]);
      return [elementwise([x(), need(ins, 1, op)], 'bool', (v) => v[0] === v[1])];
    }
    case 'Not': {
      const t = x();
      if (t.type !== 'bool') throw new Error('Not needs a bool input');
      return [make('bool', [...t.dims], (t.data as Uint8Array).map((v) => (v ? 0 : 1)))];
    }
    case 'Where': {
      const c = x(), a = need(ins, 1, op), b = need(ins, 2, op);
      if (c.type !== 'bool') throw new Error('Where needs a bool condition');
      const t = sameType(op, [a, b]);
      return [elementwise([c, a, b], t, (v) => (v[0] ? v[1] : v[2]))];
    }
    case 'Cast': {
      const to = attrInt(node, 'to');
      if (to === undefined) throw new Error('Cast without a "to" attribute');
      return [castTo(x(), typeOfDataType(to))];
    }
    case 'CastLike': return [castTo(x(), need(ins, 1, op).type)];

    // ---- softmax and reductions
    case 'Softmax':
    case 'LogSoftmax': {
      const t = x();
      const r = t.dims.length;
      let axes: number[];
      if (opset >= 13) axes = [normAxis(attrInt(node, 'axis', -1), r)];
      else {
        // before 13: coerced to 2-D at axis, normalised over everything from axis on
        const a = normAxis(attrInt(node, 'axis', 1), r);
        axes = Array.from({ length: r - a }, (_, i) => a + i);
      }
      return [softmax(t, axes, op === 'LogSoftmax')];
    }
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax':
    case 'ReduceLogSumExp': {
      const t = x();
      const axes = reduceAxes(node, ins, opset, t.dims.length);
      if (axes === 'noop') return [make(t.type, [...t.dims], t.data.slice())];
      const keep = attrInt(node, 'keepdims', 1) === 1;
      let dims: number[], data: Float64Array;
      if (op === 'ReduceLogSumExp') ({ dims, data } = logSumExp(t, axes));
      else if (op === 'ReduceMax') ({ dims, data } = reduceFloat(t, axes, -Infinity, Math.max));
      else {
        const r = reduceFloat(t, axes, 0, (a, b) => a + b);
        dims = r.dims;
        data = op === 'ReduceMean' ? r.data.map((v) => v / r.count) : r.data;
      }
      return [make('float', keep ? dims : dropAxes(t.dims, axes), data)];
    }
    case 'LayerNormalization': {
      const t = x(), scale = need(ins, 1, op), bias = ins[2];
      const r = t.dims.length;
      const axis = normAxis(attrInt(node, 'axis', -1), r);
      const eps = attrFloat(node, 'epsilon', 1e-5);
      const axes = Array.from({ length: r - axis }, (_, i) => axis + i);
      const mean = reduceFloat(t, axes, 0, (a, b) => a + b);
      const mu = mean.data.map((v) => v / mean.count);
      const map = bcastMap(t.dims, mean.dims);
      const xd = t.data as Float64Array;
      const varSum = new Float64Array(mu.length);
      for (let i = 0; i < xd.length; i++) varSum[map[i]] += (xd[i] - mu[map[i]]) ** 2;
      const inv = varSum.map((v) => 1 / Math.sqrt(v / mean.count + eps));
      const xh = new Float64Array(xd.length);
      for (let i = 0; i < xd.length; i++) xh[i] = (xd[i] - mu[map[i]]) * inv[map[i]];
      let y = elementwise([make('float', [...t.dims], xh), scale], 'float', (v) => (v[0] as number) * (v[1] as number));
      if (bias) y = elementwise([y, bias], 'float', (v) => (v[0] as number) + (v[1] as number));
      if (y.dims.length !== r || y.dims.some((d, i) => d !== t.dims[i])) throw new Error('Scale/B do not broadcast to X');
      return [y, make('float', [...mean.dims], mu), make('float', [...mean.dims], inv)];
    }

    // ---- shapes
    case 'Reshape': {
      const t = x();
      const shape = ints(need(ins, 1, op))!;
      const allowzero = attrInt(node, 'allowzero', 0) === 1;
      const dims = shape.map((d, i) => (d === 0 && !allowzero ? t.dims[i] : d));
      if (dims.filter((d) => d === -1).length > 1) throw new Error(`Reshape to [${shape}]: more than one -1`);
      const known = numel(dims.filter((d) => d !== -1));
      const n = numel(t.dims);
      const out = dims.map((d) => (d === -1 ? n / known : d));
      if (numel(out) !== n || out.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`cannot reshape [${t.dims}] to [${shape}]`);
      return [make(t.type, out, t.data.slice())];
    }
    case 'Flatten': {
      const t = x();
      const r = t.dims.length;
      const a0 = attrInt(node, 'axis', 1);
      const a = a0 < 0 ? a0 + r : a0;
      if (a < 0 || a > r) throw new Error(`Flatten axis ${a0} out of range for rank ${r}`);
      return [make(t.type, [numel(t.dims.slice(0, a)), numel(t.dims.slice(a))], t.data.slice())];
    }
    case 'Squeeze': {
      const t = x();
      const r = t.dims.length;
      const raw = opset >= 13 ? ints(ins[1]) : attrInts(node, 'axes');
      const axes = raw && raw.length ? raw.map((a) => normAxis(a, r)) : t.dims.flatMap((d, i) => (d === 1 ? [i] : []));
      for (const a of axes) if (t.dims[a] !== 1) throw new Error(`Squeeze axis ${a} has size ${t.dims[a]}`);
      return [make(t.type, dropAxes(t.dims, axes), t.data.slice())];
    }
    case 'Unsqueeze': {
      const t = x();
      const raw = opset >= 13 ? ints(need(ins, 1, op)) : attrInts(node, 'axes');
      if (!raw) throw new Error('Unsqueeze without axes');
      const ro = t.dims.length + raw.length;
      const axes = raw.map((a) => normAxis(a, ro));
      if (new Set(axes).size !== axes.length) throw new Error(`repeated axes [${raw}]`);
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < ro; i++) dims.push(axes.includes(i) ? 1 : t.dims[k++]);
      return [make(t.type, dims, t.data.slice())];
    }
    case 'Transpose': {
      const t = x();
      const r = t.dims.length;
      const perm = attrInts(node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new Error(`bad perm [${perm}] for rank ${r}`);
      return [transpose(t, perm)];
    }
    case 'Expand': {
      const t = x();
      const dims = broadcastShape(t.dims, ints(need(ins, 1, op))!);
      return [pick(t, dims, bcastMap(dims, t.dims))];
    }
    case 'Shape': {
      const t = x();
      const r = t.dims.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const s = clamp(attrInt(node, 'start', 0)), e = clamp(attrInt(node, 'end', r));
      const dims = t.dims.slice(s, Math.max(e, s));
      return [intTensor([dims.length], dims)];
    }
    case 'Size': return [intTensor([], [numel(x().dims)])];
    case 'ConstantOfShape': {
      const dims = ints(x())!;
      const vt = attrTensor(node, 'value');
      const v = vt ? fromHost(tensorToHost(vt)) : floatTensor([1], [0]);
      const n = numel(dims);
      const out = alloc(v.type, n);
      for (let i = 0; i < n; i++) (out as Float64Array)[i] = (v.data as Float64Array)[0];
      return [make(v.type, dims, out)];
    }
    case 'Range': {
      const s = x(), l = need(ins, 1, op), d = need(ins, 2, op);
      const t = sameType(op, [s, l, d]);
      const start = Number(scalarOf(s)), limit = Number(scalarOf(l)), delta = Number(scalarOf(d));
      if (delta === 0) throw new Error('Range with delta 0');
      const n = Math.max(Math.ceil((limit - start) / delta), 0);
      const vals = Array.from({ length: n }, (_, i) => start + i * delta);
      return [t === 'float' ? floatTensor([n], vals) : intTensor([n], vals)];
    }
    case 'Concat': {
      const ts = ins.map((_, i) => need(ins, i, op));
      const t = sameType(op, ts);
      const r = ts[0].dims.length;
      const axis = normAxis(attrInt(node, 'axis', 0), r);
      for (const u of ts) {
        if (u.dims.length !== r || u.dims.some((d, i) => i !== axis && d !== ts[0].dims[i])) {
          throw new Error(`Concat of [${ts.map((v) => `[${v.dims}]`).join(', ')}] along ${axis}`);
        }
      }
      const dims = [...ts[0].dims];
      dims[axis] = ts.reduce((a, u) => a + u.dims[axis], 0);
      const outer = numel(dims.slice(0, axis)), inner = numel(dims.slice(axis + 1));
      const out = alloc(t, numel(dims));
      let k = 0;
      for (let o = 0; o < outer; o++)
        for (const u of ts) {
          const blk = u.dims[axis] * inner;
          for (let j = 0; j < blk; j++) (out as Float64Array)[k++] = (u.data as Float64Array)[o * blk + j];
        }
      return [make(t, dims, out)];
    }
    case 'Split': {
      const t = x();
      const r = t.dims.length;
      const axis = normAxis(attrInt(node, 'axis', 0), r);
      const nOut = (node.output ?? []).length;
      const D = t.dims[axis];
      let sizes = opset >= 13 ? ints(ins[1]) : attrInts(node, 'split');
      if (!sizes || sizes.length === 0) {
        const n = attrInt(node, 'num_outputs') ?? nOut;
        const chunk = Math.ceil(D / n);
        if (attrInt(node, 'num_outputs') === undefined && D % n !== 0) throw new Error(`cannot split ${D} into ${n} equal parts`);
        sizes = Array.from({ length: n }, (_, i) => Math.min(chunk, D - chunk * i));
      }
      if (sizes.length !== nOut || sizes.reduce((a, b) => a + b, 0) !== D) throw new Error(`split sizes [${sizes}] for ${nOut} outputs of a dim of ${D}`);
      const st = stridesOf(t.dims);
      let at = 0;
      return sizes.map((sz) => {
        const dims = [...t.dims];
        dims[axis] = sz;
        const res = pick(t, dims, strideMap(dims, st, at * st[axis]));
        at += sz;
        return res;
      });
    }
    case 'Slice': {
      const t = x();
      const r = t.dims.length;
      let starts: number[], ends: number[], axesRaw: number[] | undefined, steps: number[] | undefined;
      if (opset >= 10) {
        starts = ints(need(ins, 1, op))!;
        ends = ints(need(ins, 2, op))!;
        axesRaw = ints(ins[3]);
        steps = ints(ins[4]);
      } else {
        starts = attrInts(node, 'starts')!;
        ends = attrInts(node, 'ends')!;
        axesRaw = attrInts(node, 'axes');
      }
      const axes = (axesRaw ?? starts.map((_, i) => i)).map((a) => normAxis(a, r));
      if (starts.length !== axes.length || ends.length !== axes.length) throw new Error('starts/ends/axes lengths differ');
      const st = stridesOf(t.dims);
      const dims = [...t.dims];
      const step = st.slice();
      let offset = 0;
      axes.forEach((a, j) => {
        const D = t.dims[a];
        const sp = steps?.[j] ?? 1;
        if (sp === 0) throw new Error('Slice step 0');
        let s = starts[j], e = ends[j];
        if (s < 0) s += D;
        if (e < 0) e += D;
        if (sp > 0) {
          s = Math.min(Math.max(s, 0), D);
          e = Math.min(Math.max(e, 0), D);
        } else {
          s = Math.min(Math.max(s, 0), D - 1);
          e = Math.min(Math.max(e, -1), D - 1);
        }
        dims[a] = Math.max(0, Math.ceil((e - s) / sp));
        offset += s * st[a];
        step[a] = st[a] * sp;
      });
      return [pick(t, dims, strideMap(dims, step, offset))];
    }
    case 'Gather': {
      const t = x(), idx = need(ins, 1, op);
      const r = t.dims.length;
      const a = normAxis(attrInt(node, 'axis', 0), r);
      const D = t.dims[a];
      const iv = ints(idx)!.map((v) => {
        const w = v < 0 ? v + D : v;
        if (w < 0 || w >= D) throw new Error(`Gather index ${v} out of range for a dim of ${D}`);
        return w;
      });
      const outer = numel(t.dims.slice(0, a)), inner = numel(t.dims.slice(a + 1));
      const dims = [...t.dims.slice(0, a), ...idx.dims, ...t.dims.slice(a + 1)];
      const out = alloc(t.type, numel(dims));
      let k = 0;
      for (let o = 0; o < outer; o++)
        for (const w of iv) for (let j = 0; j < inner; j++) (out as Float64Array)[k++] = (t.data as Float64Array)[(o * D + w) * inner + j];
      return [make(t.type, dims, out)];
    }
    case 'GatherElements': {
      const t = x(), idx = need(ins, 1, op);
      const r = t.dims.length;
      const a = normAxis(attrInt(node, 'axis', 0), r);
      if (idx.dims.length !== r) throw new Error('GatherElements: indices rank differs from data rank');
      const st = stridesOf(t.dims);
      const iv = ints(idx)!;
      // source index without the axis term, then add idx * stride of the axis
      const stNoAxis = st.map((s, i) => (i === a ? 0 : s));
      const base = strideMap(idx.dims, stNoAxis, 0);
      const out = alloc(t.type, iv.length);
      for (let k = 0; k < iv.length; k++) {
        const w = iv[k] < 0 ? iv[k] + t.dims[a] : iv[k];
        if (w < 0 || w >= t.dims[a]) throw new Error(`GatherElements index ${iv[k]} out of range`);
        (out as Float64Array)[k] = (t.data as Float64Array)[base[k] + w * st[a]];
      }
      return [make(t.type, [...idx.dims], out)];
    }
    case 'ScatterND': {
      const t = x(), idx = need(ins, 1, op), upd = need(ins, 2, op);
      const reduction = attrString(node, 'reduction', 'none');
      const q = idx.dims.length, k = idx.dims[q - 1];
      const r = t.dims.length;
      if (k > r) throw new Error('ScatterND: index tuples longer than the data rank');
      const want = [...idx.dims.slice(0, -1), ...t.dims.slice(k)];
      if (want.length !== upd.dims.length || want.some((d, i) => d !== upd.dims[i])) throw new Error(`ScatterND updates [${upd.dims}], expected [${want}]`);
      if (!['none', 'add', 'mul', 'max', 'min'].includes(reduction)) throw new Error(`ScatterND reduction ${reduction}`);
      if (t.type !== 'float' && reduction !== 'none') throw new Error('ScatterND reduction on non-float data is not supported');
      const out = t.data.slice();
      const st = stridesOf(t.dims);
      const blk = numel(t.dims.slice(k));
      const iv = ints(idx)!;
      const tuples = numel(idx.dims.slice(0, -1));
      for (let p = 0; p < tuples; p++) {
        let off = 0;
        for (let j = 0; j < k; j++) {
          let v = iv[p * k + j];
          if (v < 0) v += t.dims[j];
          if (v < 0 || v >= t.dims[j]) throw new Error(`ScatterND index ${iv[p * k + j]} out of range`);
          off += v * st[j];
        }
        for (let j = 0; j < blk; j++) {
          const u = upd.data[p * blk + j];
          const o = off + j;
          if (reduction === 'none') (out as Float64Array)[o] = u as number;
          else {
            const a = (out as Float64Array)[o], b = u as number;
            (out as Float64Array)[o] = reduction === 'add' ? a + b : reduction === 'mul' ? a * b : reduction === 'max' ? Math.max(a, b) : Math.min(a, b);
          }
        }
      }
      return [make(t.type, [...t.dims], out)];
    }
    case 'Pad': {
      const t = x();
      const r = t.dims.length;
      const mode = attrString(node, 'mode', 'constant');
      if (mode !== 'constant') throw new Error(`Pad mode ${mode} is not supported`);
      let pads: number[], cval: number;
      if (opset >= 11) {
        pads = ints(need(ins, 1, op))!;
        cval = ins[2] && ins[2].data.length ? Number(ins[2].data[0]) : 0;
        const axes = ints(ins[3]);
        if (axes) {
          const full = new Array<number>(2 * r).fill(0);
          axes.forEach((a0, j) => {
            const a = normAxis(a0, r);
            full[a] = pads[j];
            full[a + r] = pads[j + axes.length];
          });
          pads = full;
        }
      } else {
        pads = attrInts(node, 'pads')!;
        cval = attrFloat(node, 'value', 0);
      }
      if (pads.length !== 2 * r) throw new Error(`Pad: ${pads.length} pads for rank ${r}`);
      const dims = t.dims.map((d, i) => d + pads[i] + pads[i + r]);
      if (dims.some((d) => d < 0)) throw new Error(`Pad [${pads}] of [${t.dims}] gives a negative size`);
      const n = numel(dims);
      const out = alloc(t.type, n);
      const st = stridesOf(t.dims);
      const idx = new Array<number>(r).fill(0);
      for (let k = 0; k < n; k++) {
        let src = 0, inside = true;
        for (let d = 0; d < r; d++) {
          const c = idx[d] - pads[d];
          if (c < 0 || c >= t.dims[d]) { inside = false; break; }
          src += c * st[d];
        }
        const v: Scalar = inside ? t.data[src] : t.type === 'int64' ? BigInt(cval) : cval;
        (out as Float64Array)[k] = v as number;
        for (let d = r - 1; d >= 0; d--) {
          if (++idx[d] < dims[d]) break;
          idx[d] = 0;
        }
      }
      return [make(t.type, dims, out)];
    }

    // ---- linear algebra
    case 'MatMul': return [matmul(x(), need(ins, 1, op))];
    case 'Gemm': {
      let A = x(), B = need(ins, 1, op);
      const C = ins[2];
      if (A.dims.length !== 2 || B.dims.length !== 2) throw new Error('Gemm operands must be 2-D');
      if (attrInt(node, 'transA', 0)) A = transpose(A, [1, 0]);
      if (attrInt(node, 'transB', 0)) B = transpose(B, [1, 0]);
      const alpha = attrFloat(node, 'alpha', 1), beta = attrFloat(node, 'beta', 1);
      const ab = matmul(A, B);
      const y = ab.data as Float64Array;
      for (let i = 0; i < y.length; i++) y[i] *= alpha;
      if (!C) return [ab];
      if (broadcastShape(ab.dims, C.dims).some((d, i) => d !== ab.dims[i]) || C.dims.length > 2) throw new Error(`Gemm C [${C.dims}] does not broadcast to [${ab.dims}]`);
      return [elementwise([ab, C], 'float', (v) => (v[0] as number) + beta * (v[1] as number))];
    }

    case 'Constant': return [constantValue(node)];
    default: {
      const conv = runConvFamily(node, ins);
      if (conv) return conv;
      throw new Error(`ref-eval does not implement op ${op}`);
    }
  }
}
