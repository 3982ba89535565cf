// Quantised models (transformers.js `model_quantized.onnx` / `model_int8.onnx` / `model_uint8.onnx` / `model_q4.onnx`,
// ORT quantize_dynamic, MatMul4BitsQuantizer, QDQ exports) made float32 at load time: every quantised weight is
// dequantised once, (q - zero_point) * scale, exactly as the runtime would, and the op that consumed it becomes its
// float counterpart on that weight:
//   DequantizeLinear(const)                          -> a float32 initializer (per-tensor, per-axis, blocked; int4..int32)
//   Gather(const q) -> DequantizeLinear              -> Gather on the dequantised table
//   DynamicQuantizeLinear + MatMulInteger + Cast + Mul(scales) -> MatMul(x, W)        (ConvInteger likewise -> Conv)
//   com.microsoft MatMulNBits (2/4/8 bits, packed or float zero points, bias)         -> MatMul(A, W) [+ Add]
//   com.microsoft GatherBlockQuantized (uint8 packed, int4, uint4)                    -> Gather
//   com.microsoft DynamicQuantizeMatMul / MatMulIntegerToFloat                        -> MatMul [+ Add]
//   QuantizeLinear -> DequantizeLinear on activations (fake quantisation)              -> the float activation
// The model then computes in float32 on the dequantised weights (activation quantisation is dropped): the gradients
// are those of the dequantised model. Node names lose the quantiser's suffix (`/q_proj/MatMul_Q4` -> `/q_proj/MatMul`),
// so a layer has the same name in the float32, float16 and quantised files of one model. A quantised op that is still
// in use afterwards raises QuantizedModelError naming the op, the node and the file.
import { Long, onnx, type ModelProto, type NodeProto, type TensorProto } from './codec.ts';
import { DataType, attrInt, copyBytes, dataTypeName, dimsOf, makeTensor, rawBytes } from './tensor.ts';
import { halfValues } from './float32.ts';
import { isExternal, storeExternal, type ExternalFiles } from './external.ts';
import { floatToHalfBits, halfBitsToFloat } from '../kernels/reference/f16.ts';

export class QuantizedModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantizedModelError';
  }
}

export interface DequantizeReport {
  /** op type -> how many nodes were rewritten */
  ops: Record<string, number>;
  /** dequantised weights (initializer names) */
  weights: string[];
  /** QuantizeLinear -> DequantizeLinear pairs on activations that were removed */
  fakeQuant: number;
}

const INT4 = 22, UINT4 = 21;

/** Ops whose presence (in use) after the rewrite means a quantised computation we cannot make float32. */
const QUANT_OPS = new Set([
  'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QuantizeLinear', 'DequantizeLinear', 'QLinearMatMul', 'QLinearConv',
]);
const isMsQuant = (n: NodeProto) =>
  (n.domain ?? '') === 'com.microsoft' && /^(Q[A-Z]|.*Quantiz|MatMulNBits|MatMulBnb4|MatMulFpQ4|GatherBlockQuantized|DynamicQuantize|MatMulIntegerToFloat|MatMulBlockQuantized)/.test(n.opType ?? '');

// ------------------------------------------------------------------ tensor values

function floats(t: TensorProto, files: ExternalFiles | undefined, source: string): Float32Array {
  const dt = t.dataType ?? 0;
  if (dt === DataType.FLOAT16 || dt === DataType.BFLOAT16) return halfValues(t, files, source);
  const raw = rawBytes(t, files, source);
  if (dt === DataType.FLOAT) return raw ? new Float32Array(copyBytes(raw)) : Float32Array.from(t.floatData ?? []);
  if (dt === DataType.DOUBLE) return Float32Array.from(raw ? new Float64Array(copyBytes(raw)) : (t.doubleData ?? []));
  throw new QuantizedModelError(`${source}: tensor ${JSON.stringify(t.name)} has type ${dataTypeName(dt)} where a float scale or zero point was expected`);
}

/** Integer values of a quantised tensor (int4/uint4 unpacked from their two-per-byte storage). */
function ints(t: TensorProto, files: ExternalFiles | undefined, source: string): Int32Array {
  const dt = t.dataType ?? 0;
  const raw = rawBytes(t, files, source);
  const n = dimsOf(t).reduce((a, b) => a * b, 1);
  const typed = () => Int32Array.from(t.int32Data ?? []);
  switch (dt) {
    case DataType.INT8: return raw ? Int32Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.length)) : typed();
    case DataType.UINT8: return raw ? Int32Array.from(raw) : typed();
    case DataType.INT16: return raw ? Int32Array.from(new Int16Array(copyBytes(raw))) : typed();
    case DataType.UINT16: return raw ? Int32Array.from(new Uint16Array(copyBytes(raw))) : typed();
    case DataType.INT32: return raw ? new Int32Array(copyBytes(raw)) : typed();
    case INT4:
    case UINT4: {
      const bytes = raw ?? Uint8Array.from(t.int32Data ?? []);
      if (bytes.length < Math.ceil(n / 2)) throw new QuantizedModelError(`${source}: tensor ${JSON.stringify(t.name)} holds ${bytes.length} bytes for ${n} 4-bit values`);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = (bytes[i >> 1] >> ((i & 1) * 4)) & 15;
        out[i] = dt === INT4 && v >= 8 ? v - 16 : v;
      }
      return out;
    }
    default:
      throw new QuantizedModelError(`${source}: tensor ${JSON.stringify(t.name)} has type ${dataTypeName(dt)}, not an integer quantised type`);
  }
}

const isHalf = (t: TensorProto) => t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16;
/** float32 product (q - z) s, rounded to half when the scale is half (as the runtime computes it in that type). */
const deq = (q: number, z: number, s: number, half: boolean) => {
  const v = Math.fround((q - z) * s);
  return half ? halfBitsToFloat(floatToHalfBits(v)) : v;
};

/**
 * DequantizeLinear semantics on constant tensors: per-tensor (scalar scale), per-axis (scale [dims[axis]]) or blocked
 * (scale of x's rank with dims[axis] = ceil(d / block)).
 */
function dequantizeLinear(q: Int32Array, dims: number[], s: Float32Array, sDims: number[], z: ArrayLike<number> | undefined, axisAttr: number, block: number, half: boolean, where: string): Float32Array {
  const out = new Float32Array(q.length);
  if (s.length === 1) {
    const z0 = z ? z[0] : 0;
    for (let i = 0; i < q.length; i++) out[i] = deq(q[i], z0, s[0], half);
    return out;
  }
  const r = dims.length;
  const axis = axisAttr < 0 ? axisAttr + r : axisAttr;
  if (axis < 0 || axis >= r) throw new QuantizedModelError(`${where}: axis ${axisAttr} is out of range for a rank-${r} tensor`);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const d = dims[axis];
  if (block > 0) {
    const nb = Math.ceil(d / block);
    if (sDims.length !== r || sDims[axis] !== nb) throw new QuantizedModelError(`${where}: blocked scale dims [${sDims}] do not fit data [${dims}] with block ${block}`);
    for (let i = 0; i < q.length; i++) {
      const a = Math.floor(i / inner) % d, outer = Math.floor(i / (inner * d));
      const j = (outer * nb + Math.floor(a / block)) * inner + (i % inner);
      out[i] = deq(q[i], z ? (z.length === 1 ? z[0] : z[j]) : 0, s[j], half);
    }
    return out;
  }
  if (s.length !== d) throw new QuantizedModelError(`${where}: ${s.length} scales for axis ${axis} of size ${d}`);
  for (let i = 0; i < q.length; i++) {
    const a = Math.floor(i / inner) % d;
    out[i] = deq(q[i], z ? (z.length === 1 ? z[0] : z[a]) : 0, s[a], half);
  }
  return out;
}

/** Unpacked `bits`-bit codes from bytes, low bits first (bits 2, 4 or 8: no code straddles a byte). */
function code(bytes: Uint8Array, start: number, j: number, bits: number): number {
  const bit = j * bits;
  return (bytes[start + (bit >> 3)] >> (bit & 7)) & ((1 << bits) - 1);
}

// ------------------------------------------------------------------ the rewrite

class Rewriter {
  private producer = new Map<string, NodeProto>();
  private users = new Map<string, NodeProto[]>();
  private inits = new Map<string, TensorProto>();
  private replace = new Map<NodeProto, NodeProto[]>();
  private removed = new Set<NodeProto>();
  private added: TensorProto[] = [];
  private names = new Set<string>();
  readonly report: DequantizeReport = { ops: {}, weights: [], fakeQuant: 0 };

  constructor(private readonly model: ModelProto, private readonly files: ExternalFiles, private readonly source: string) {
    const g = model.graph!;
    for (const t of g.initializer ?? []) if (t.name) this.inits.set(t.name, t);
    for (const n of g.node ?? []) {
      for (const o of n.output ?? []) if (o) this.producer.set(o, n);
      for (const i of n.input ?? []) {
        if (!i) continue;
        const u = this.users.get(i) ?? [];
        u.push(n);
        this.users.set(i, u);
      }
    }
    for (const t of g.initializer ?? []) this.names.add(t.name ?? '');
    for (const n of g.node ?? []) for (const o of n.output ?? []) this.names.add(o);
  }

  private where(n: NodeProto): string {
    return `${this.source}: node ${JSON.stringify(n.name ?? '')} (${n.domain ? `${n.domain}.` : ''}${n.opType})`;
  }

  /** initializer or Constant value of a name */
  constant(name: string | undefined): TensorProto | undefined {
    if (!name) return undefined;
    const init = this.inits.get(name);
    if (init) return init;
    const p = this.producer.get(name);
    if (p && p.opType === 'Constant' && !p.domain) return (p.attribute ?? []).find((a) => a.name === 'value')?.t ?? undefined;
    return undefined;
  }

  private fresh(base: string): string {
    let n = base, i = 0;
    while (this.names.has(n)) n = `${base}_${++i}`;
    this.names.add(n);
    return n;
  }

  /** a new float32 initializer (kept external when the quantised source was external); `exact` keeps the name as given */
  private weight(base: string, dims: number[], values: Float32Array, external: boolean, exact = false): string {
    const name = exact ? base : this.fresh(base);
    const t = makeTensor(name, DataType.FLOAT, dims, values);
    if (external) storeExternal(t, new Uint8Array(values.buffer, values.byteOffset, values.byteLength), this.files);
    this.added.push(t);
    this.inits.set(name, t);
    this.report.weights.push(name);
    return name;
  }

  private count(op: string): void {
    this.report.ops[op] = (this.report.ops[op] ?? 0) + 1;
  }

  private only(value: string, op: string): NodeProto | undefined {
    const u = this.users.get(value) ?? [];
    return u.length === 1 && u[0].opType === op && !u[0].domain ? u[0] : undefined;
  }

  private node(opType: string, inputs: string[], outputs: string[], name: string, attribute: onnx.IAttributeProto[] = []): NodeProto {
    return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name, domain: '', attribute });
  }

  private intAttr(name: string, v: number): onnx.IAttributeProto {
    return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: Long.fromNumber(v) });
  }

  /** the dequantised values of a constant DequantizeLinear node */
  private dqValues(n: NodeProto, q: TensorProto): Float32Array {
    const s = this.constant(n.input![1]);
    const z = this.constant(n.input![2]);
    if (!s) throw new QuantizedModelError(`${this.where(n)}: the scale is not a constant`);
    if (n.input![2] && !z) throw new QuantizedModelError(`${this.where(n)}: the zero point is not a constant`);
    return dequantizeLinear(
      ints(q, this.files, this.source), dimsOf(q), floats(s, this.files, this.source), dimsOf(s),
      z ? ints(z, this.files, this.source) : undefined, attrInt(n, 'axis', 1), attrInt(n, 'block_size', 0), isHalf(s), this.where(n),
    );
  }

  /** weight = (q - zp) * scale for a MatMulInteger / ConvInteger / DynamicQuantizeMatMul B operand (zp, scale scalar or per output channel) */
  private weightDeq(n: NodeProto, q: TensorProto, scale: TensorProto, zp: TensorProto | undefined, channelAxis: number): Float32Array {
    const dims = dimsOf(q);
    const s = floats(scale, this.files, this.source);
    const z = zp ? ints(zp, this.files, this.source) : undefined;
    if (z && z.length !== 1 && z.length !== s.length && s.length !== 1) throw new QuantizedModelError(`${this.where(n)}: zero point and scale sizes differ`);
    if (s.length === 1 && z && z.length > 1) {
      return dequantizeLinear(ints(q, this.files, this.source), dims, Float32Array.from(z, () => s[0]), [z.length], z, channelAxis, 0, isHalf(scale), this.where(n));
    }
    return dequantizeLinear(ints(q, this.files, this.source), dims, s, dimsOf(scale), z, channelAxis, 0, isHalf(scale), this.where(n));
  }

  run(): DequantizeReport {
    const nodes = this.model.graph!.node ?? [];
    for (const n of nodes) {
      if (this.removed.has(n) || this.replace.has(n)) continue;
      const d = n.domain ?? '';
      if (!d || d === 'ai.onnx') {
        if (n.opType === 'DequantizeLinear') this.dequantizeLinearNode(n);
        else if (n.opType === 'MatMulInteger' || n.opType === 'ConvInteger') this.integerChain(n);
      } else if (d === 'com.microsoft') {
        if (n.opType === 'MatMulNBits') this.matMulNBits(n);
        else if (n.opType === 'GatherBlockQuantized') this.gatherBlockQuantized(n);
        else if (n.opType === 'DynamicQuantizeMatMul' || n.opType === 'MatMulIntegerToFloat') this.fusedIntegerMatMul(n);
      }
    }
    const out: NodeProto[] = [];
    for (const n of nodes) {
      if (this.removed.has(n)) continue;
      out.push(...(this.replace.get(n) ?? [n]));
    }
    this.model.graph!.node = out;
    this.model.graph!.initializer = [...(this.model.graph!.initializer ?? []), ...this.added];
    pruneDead(this.model);
    this.checkNoneLeft();
    return this.report;
  }

  private dequantizeLinearNode(n: NodeProto): void {
    const x = n.input![0];
    const q = this.constant(x);
    const y = n.output![0];
    if (q) {
      // a constant weight: the output becomes an initializer (so a MatMul reading it is a tappable layer)
      this.weight(y, dimsOf(q), this.dqValues(n, q), isExternal(q), true);
      this.removed.add(n);
      this.count('DequantizeLinear');
      return;
    }
    const p = this.producer.get(x);
    if (p && p.opType === 'Gather' && !p.domain && this.constant(p.input![0])) {
      // Gather of a quantised table, then DequantizeLinear: gather from the dequantised table (per-tensor only, or
      // per-axis along the table's last axis when the gather is on axis 0)
      const table = this.constant(p.input![0])!;
      const s = this.constant(n.input![1]);
      if (!s) throw new QuantizedModelError(`${this.where(n)}: the scale is not a constant`);
      const ga = attrInt(p, 'axis', 0);
      const sN = floats(s, this.files, this.source).length;
      const tdims = dimsOf(table);
      if (sN !== 1 && !(ga === 0 && sN === tdims[tdims.length - 1])) {
        throw new QuantizedModelError(`${this.where(n)}: a per-axis DequantizeLinear after Gather is only supported along the table's last axis`);
      }
      const dq = onnx.NodeProto.create({ ...n, attribute: sN === 1 ? [] : [this.intAttr('axis', tdims.length - 1)] });
      const values = this.dqValues(dq, table);
      const w = this.weight(`${p.input![0]}_dequantized`, tdims, values, isExternal(table));
      this.replace.set(n, [this.node('Gather', [w, p.input![1]], [y], p.name ?? `${y}_gather`, [this.intAttr('axis', ga)])]);
      this.count('Gather+DequantizeLinear');
      return;
    }
    if (p && p.opType === 'QuantizeLinear' && !p.domain) {
      // fake quantisation of an activation: computing in float32 drops it
      this.replace.set(n, [this.node('Identity', [p.input![0]], [y], n.name ?? `${y}_identity`)]);
      this.report.fakeQuant++;
      this.count('QuantizeLinear+DequantizeLinear');
    }
    // anything else stays and is reported by checkNoneLeft if still in use
  }

  /** DynamicQuantizeLinear(x) -> MatMulInteger / ConvInteger -> Cast -> Mul(s) [-> Mul(s')] */
  private integerChain(n: NodeProto): void {
    const [aq, bq, , bz] = n.input ?? [];
    const dql = this.producer.get(aq);
    const W = this.constant(bq);
    if (!dql || dql.opType !== 'DynamicQuantizeLinear' || !W) return; // left for checkNoneLeft
    const x = dql.input![0], xScale = dql.output![1];
    const cast = this.only(n.output![0], 'Cast');
    if (!cast) return;
    // collect the Mul chain after the Cast: every factor other than the running value must be x's scale or a constant
    let cur = cast.output![0];
    let last: NodeProto | undefined;
    let wScale: TensorProto | undefined;
    let sawX = false;
    const factors = (other: string) => {
      const pm = this.producer.get(other);
      if (other === xScale) sawX = true;
      else if (this.constant(other)) wScale = this.constant(other);
      else if (pm && pm.opType === 'Mul' && !pm.domain) {
        for (const f of pm.input ?? []) {
          if (f === xScale) sawX = true;
          else if (this.constant(f)) wScale = this.constant(f);
          else return false;
        }
      } else return false;
      return true;
    };
    for (let k = 0; k < 2 && !(sawX && wScale); k++) {
      const m = this.only(cur, 'Mul');
      if (!m) break;
      const other = m.input![0] === cur ? m.input![1] : m.input![0];
      if (!factors(other)) return;
      last = m;
      cur = m.output![0];
    }
    if (!last || !sawX || !wScale) return;
    const conv = n.opType === 'ConvInteger';
    if (conv && floats(wScale, this.files, this.source).length !== 1) {
      throw new QuantizedModelError(`${this.where(n)}: a per-channel weight scale after ConvInteger is not supported`);
    }
    const values = this.weightDeq(n, W, wScale, this.constant(bz), conv ? 0 : dimsOf(W).length - 1);
    const w = this.weight(`${bq.replace(/_quantized$/, '')}_dequantized`, dimsOf(W), values, isExternal(W));
    const name = (n.name ?? '').replace(/_quant$/, '') || `${last.output![0]}_${conv ? 'Conv' : 'MatMul'}`;
    const attrs = conv ? (n.attribute ?? []) : [];
    this.replace.set(last, [this.node(conv ? 'Conv' : 'MatMul', [x, w], [last.output![0]], name, attrs)]);
    this.count(n.opType!);
  }

  private matMulNBits(n: NodeProto): void {
    const [a, b, sc, zpName, gIdx, bias] = n.input ?? [];
    const B = this.constant(b), S = this.constant(sc), Z = this.constant(zpName);
    if (!B || !S || (zpName && !Z)) throw new QuantizedModelError(`${this.where(n)}: B, scales and zero_points must be constants`);
    if (gIdx) throw new QuantizedModelError(`${this.where(n)}: the deprecated g_idx input is not supported`);
    const K = attrInt(n, 'K', 0), N = attrInt(n, 'N', 0), bits = attrInt(n, 'bits', 4), block = attrInt(n, 'block_size', 0);
    if (![2, 4, 8].includes(bits)) throw new QuantizedModelError(`${this.where(n)}: bits = ${bits} is not supported (2, 4 or 8)`);
    if (!(K > 0 && N > 0 && block > 0)) throw new QuantizedModelError(`${this.where(n)}: K, N and block_size must be positive`);
    const nb = Math.ceil(K / block), blob = (block * bits) / 8;
    const bytes = rawBytes(B, this.files, this.source) ?? Uint8Array.from(B.int32Data ?? []);
    if (B.dataType !== DataType.UINT8 || bytes.length !== N * nb * blob) {
      throw new QuantizedModelError(`${this.where(n)}: B must be uint8 [${N}, ${nb}, ${blob}] (${N * nb * blob} bytes), got ${dataTypeName(B.dataType ?? 0)} with ${bytes.length} bytes`);
    }
    const s = floats(S, this.files, this.source);
    if (s.length !== N * nb) throw new QuantizedModelError(`${this.where(n)}: ${s.length} scales, expected ${N}x${nb}`);
    // zero points: packed uint8 [N, ceil(nb*bits/8)], or float [N, nb]; default 2^(bits-1)
    let zp: (r: number, blk: number) => number = () => 1 << (bits - 1);
    if (Z && Z.dataType === DataType.UINT8) {
      const zb = rawBytes(Z, this.files, this.source) ?? Uint8Array.from(Z.int32Data ?? []);
      const row = Math.ceil((nb * bits) / 8);
      if (zb.length !== N * row) throw new QuantizedModelError(`${this.where(n)}: packed zero_points hold ${zb.length} bytes, expected ${N * row}`);
      zp = (r, blk) => code(zb, r * row, blk, bits);
    } else if (Z) {
      const zf = floats(Z, this.files, this.source);
      if (zf.length !== N * nb) throw new QuantizedModelError(`${this.where(n)}: ${zf.length} zero points, expected ${N}x${nb}`);
      zp = (r, blk) => zf[r * nb + blk];
    }
    const half = isHalf(S);
    const W = new Float32Array(K * N); // [K, N]: MatMul's weight layout
    for (let r = 0; r < N; r++) {
      for (let blk = 0; blk < nb; blk++) {
        const start = (r * nb + blk) * blob, sv = s[r * nb + blk], z = zp(r, blk);
        for (let j = 0; j < block; j++) {
          const k = blk * block + j;
          if (k >= K) break;
          W[k * N + r] = deq(code(bytes, start, j, bits), z, sv, half);
        }
      }
    }
    const w = this.weight(`${b.replace(/_Q\d+$/, '')}_dequantized`, [K, N], W, isExternal(B));
    const name = (n.name ?? '').replace(/_Q\d+$/, '') || `${n.output![0]}_MatMul`;
    const y = n.output![0];
    if (bias) {
      const mm = this.fresh(`${y}_matmul`);
      this.replace.set(n, [this.node('MatMul', [a, w], [mm], name), this.node('Add', [mm, bias], [y], `${name}_bias`)]);
    } else this.replace.set(n, [this.node('MatMul', [a, w], [y], name)]);
    this.count('MatMulNBits');
  }

  private gatherBlockQuantized(n: NodeProto): void {
    const [data, idx, sc, zpName] = n.input ?? [];
    const D = this.constant(data), S = this.constant(sc), Z = this.constant(zpName);
    if (!D || !S || (zpName && !Z)) throw new QuantizedModelError(`${this.where(n)}: data, scales and zero_points must be constants`);
    const bits = attrInt(n, 'bits', 4), block = attrInt(n, 'block_size', 128);
    const dt = D.dataType ?? 0;
    let dims = dimsOf(D);
    let q: Int32Array;
    const unpackRows = (t: TensorProto, tdims: number[]): Int32Array => {
      // uint8 with bits < 8: packed along the last axis, low bits first
      const raw = rawBytes(t, this.files, this.source) ?? Uint8Array.from(t.int32Data ?? []);
      const per = 8 / bits, last = tdims[tdims.length - 1], rows = raw.length / last;
      const out = new Int32Array(raw.length * per);
      for (let r = 0; r < rows; r++) for (let j = 0; j < last * per; j++) out[r * last * per + j] = code(raw, r * last, j, bits);
      return out;
    };
    if (dt === DataType.UINT8 && bits < 8) {
      if (![2, 4].includes(bits)) throw new QuantizedModelError(`${this.where(n)}: bits = ${bits} is not supported`);
      q = unpackRows(D, dims);
      dims = [...dims.slice(0, -1), dims[dims.length - 1] * (8 / bits)];
    } else if (dt === DataType.UINT8 || dt === INT4 || dt === UINT4 || dt === DataType.INT8) {
      q = ints(D, this.files, this.source);
    } else throw new QuantizedModelError(`${this.where(n)}: data of type ${dataTypeName(dt)} is not supported`);
    const r = dims.length;
    let qa = attrInt(n, 'quantize_axis', 1);
    if (qa < 0) qa += r;
    const sDims = dimsOf(S);
    const s = floats(S, this.files, this.source);
    let z: ArrayLike<number> | undefined;
    if (Z) z = Z.dataType === DataType.UINT8 && bits < 8 ? unpackRows(Z, dimsOf(Z)) : ints(Z, this.files, this.source);
    else if (dt === DataType.UINT8) z = new Int32Array(s.length).fill(1 << (bits - 1));
    const values = dequantizeLinear(q, dims, s, sDims, z, qa, block, isHalf(S), this.where(n));
    const w = this.weight(`${data.replace(/_Q\d+$/, '')}_dequantized`, dims, values, isExternal(D));
    const name = (n.name ?? '').replace(/_Q\d+$/, '') || `${n.output![0]}_Gather`;
    this.replace.set(n, [this.node('Gather', [w, idx], [n.output![0]], name, [this.intAttr('axis', attrInt(n, 'gather_axis', 0))])]);
    this.count('GatherBlockQuantized');
  }

  /** com.microsoft DynamicQuantizeMatMul(A, B, b_scale, b_zp?, bias?) / MatMulIntegerToFloat(A_q, B, a_s, b_s, a_zp?, b_zp?, bias?) */
  private fusedIntegerMatMul(n: NodeProto): void {
    const ins = n.input ?? [];
    const dyn = n.opType === 'DynamicQuantizeMatMul';
    let a = ins[0];
    if (!dyn) {
      const dql = this.producer.get(a);
      if (!dql || dql.opType !== 'DynamicQuantizeLinear') throw new QuantizedModelError(`${this.where(n)}: A must come from DynamicQuantizeLinear`);
      a = dql.input![0];
    }
    const B = this.constant(ins[1]), S = this.constant(dyn ? ins[2] : ins[3]), Z = this.constant(dyn ? ins[3] : ins[5]);
    const bias = dyn ? ins[4] : ins[6];
    if (!B || !S) throw new QuantizedModelError(`${this.where(n)}: B and its scale must be constants`);
    const values = this.weightDeq(n, B, S, Z, dimsOf(B).length - 1);
    const w = this.weight(`${ins[1].replace(/_quantized$/, '')}_dequantized`, dimsOf(B), values, isExternal(B));
    const y = n.output![0];
    const name = (n.name ?? '').replace(/_quant$/, '') || `${y}_MatMul`;
    if (bias) {
      const mm = this.fresh(`${y}_matmul`);
      this.replace.set(n, [this.node('MatMul', [a, w], [mm], name), this.node('Add', [mm, bias], [y], `${name}_bias`)]);
    } else this.replace.set(n, [this.node('MatMul', [a, w], [y], name)]);
    this.count(n.opType!);
  }

  private checkNoneLeft(): void {
    for (const n of this.model.graph!.node ?? []) {
      if ((!n.domain && QUANT_OPS.has(n.opType ?? '')) || isMsQuant(n)) {
        throw new QuantizedModelError(
          `${this.where(n)}: this quantised op (or this use of it) cannot be turned into float32 here. ` +
            'Supported: DequantizeLinear on constant weights or after Gather, DynamicQuantizeLinear + MatMulInteger/ConvInteger + Cast + Mul, ' +
            'com.microsoft MatMulNBits / GatherBlockQuantized / DynamicQuantizeMatMul / MatMulIntegerToFloat, QuantizeLinear -> DequantizeLinear pairs. ' +
            "Use the model's float32 (model.onnx) or float16 (model_fp16.onnx) file instead.",
        );
      }
    }
  }
}

/** Removes nodes none of whose outputs is used (iteratively), then initializers and initializer-inputs nobody reads. */
export function pruneDead(model: ModelProto): number {
  const g = model.graph!;
  const outer = (gr: onnx.IGraphProto, used: Set<string>) => {
    for (const n of gr.node ?? []) {
      for (const i of n.input ?? []) if (i) used.add(i);
      for (const a of n.attribute ?? []) {
        if (a.g) outer(a.g, used);
        for (const sg of a.graphs ?? []) outer(sg, used);
      }
    }
    for (const o of gr.output ?? []) if (o.name) used.add(o.name);
  };
  let removed = 0;
  for (;;) {
    const used = new Set<string>();
    outer(g, used);
    const keep = (g.node ?? []).filter((n) => (n.output ?? []).some((o) => o && used.has(o)));
    if (keep.length === (g.node ?? []).length) break;
    removed += (g.node ?? []).length - keep.length;
    g.node = keep;
  }
  const used = new Set<string>();
  outer(g, used);
  const deadInit = new Set((g.initializer ?? []).filter((t) => !used.has(t.name ?? '')).map((t) => t.name ?? ''));
  if (deadInit.size) {
    g.initializer = (g.initializer ?? []).filter((t) => !deadInit.has(t.name ?? ''));
    g.input = (g.input ?? []).filter((v) => !deadInit.has(v.name ?? ''));
  }
  return removed;
}

/** Whether the model has any quantised op or quantised-type initializer feeding a DequantizeLinear-like op. */
export function isQuantized(model: ModelProto): boolean {
  return (model.graph?.node ?? []).some((n) => (!n.domain && QUANT_OPS.has(n.opType ?? '')) || isMsQuant(n));
}

/** Dequantises the model's quantised weights in place (see the file comment). */
export function dequantizeModel(model: ModelProto, files: ExternalFiles, source = 'model'): DequantizeReport {
  return new Rewriter(model, files, source).run();
}
