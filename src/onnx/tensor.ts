// Conversions between ONNX TensorProto and typed arrays, and attribute helpers.
import { onnx, Long, type TensorProto, type AttributeProto, type NodeProto } from './codec.ts';
import { externalBytes, isExternal, type ExternalFiles } from './external.ts';
import { halfBitsToFloat } from '../kernels/reference/f16.ts';

export const DataType = onnx.TensorProto.DataType;

export type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface HostTensor {
  dims: number[];
  dataType: number;
  /** float tensors: Float32Array / Float64Array; int64: BigInt64Array; int32: Int32Array; bool/uint8: Uint8Array */
  data: NumericArray;
}

export function dataTypeName(t: number): string {
  return (onnx.TensorProto.DataType as unknown as Record<number, string>)[t] ?? `dtype#${t}`;
}

export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => Long.fromValue(d).toNumber());
}

function numel(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** An own, aligned copy of bytes (raw_data may be a view into a shared pool, e.g. a Node Buffer slice). */
export function copyBytes(raw: Uint8Array): ArrayBuffer {
  // raw_data is a view into the model buffer, possibly unaligned: copy it.
  const buf = new ArrayBuffer(raw.length);
  new Uint8Array(buf).set(raw);
  return buf;
}

/** The tensor's raw little-endian bytes: raw_data, or its external file's bytes (a view), else undefined. */
export function rawBytes(t: TensorProto, files?: ExternalFiles, source?: string): Uint8Array | undefined {
  if (isExternal(t)) return externalBytes(t, files, source);
  return t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
}

/**
 * Reads a tensor's values (raw_data, the typed repeated fields, or external data when `files` holds them).
 * float16 tensors are decoded to Float32Array values (dataType stays FLOAT16).
 */
export function tensorToHost(t: TensorProto, files?: ExternalFiles, source?: string): HostTensor {
  const dims = dimsOf(t);
  const n = numel(dims);
  const dt = t.dataType ?? 0;
  if (isExternal(t) && !files) {
    throw new Error(`tensor ${JSON.stringify(t.name)} keeps its data in an external file: load the model together with its external data files`);
  }
  const raw = rawBytes(t, files, source);
  switch (dt) {
    case DataType.FLOAT16: {
      // raw_data holds the half bits; the typed form keeps them in int32_data
      const bits = raw ? new Uint16Array(copyBytes(raw)) : Uint16Array.from(t.int32Data ?? []);
      const data = new Float32Array(bits.length);
      for (let i = 0; i < bits.length; i++) data[i] = halfBitsToFloat(bits[i]);
      return { dims, dataType: dt, data: checkLen(t, data, n) };
    }
    case DataType.FLOAT: {
      const data = raw ? new Float32Array(copyBytes(raw)) : Float32Array.from(t.floatData ?? []);
      return { dims, dataType: dt, data: checkLen(t, data, n) };
    }
    case DataType.DOUBLE: {
      const data = raw ? new Float64Array(copyBytes(raw)) : Float64Array.from(t.doubleData ?? []);
      return { dims, dataType: dt, data: checkLen(t, data, n) };
    }
    case DataType.INT64: {
      const data = raw
        ? new BigInt64Array(copyBytes(raw))
        : BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(Long.fromValue(v).toString())));
      return { dims, dataType: dt, data: checkLen(t, data, n) };
    }
    case DataType.INT32: {
      const data = raw ? new Int32Array(copyBytes(raw)) : Int32Array.from(t.int32Data ?? []);
      return { dims, dataType: dt, data: checkLen(t, data, n) };
    }
    case DataType.BOOL:
    case DataType.UINT8: {
      const data = raw ? new Uint8Array(copyBytes(raw)) : Uint8Array.from(t.int32Data ?? []);
      return { dims, dataType: dt, data: checkLen(t, data, n) };
    }
    case DataType.INT8: {
      const data = raw ? new Int8Array(copyBytes(raw)) : Int8Array.from(t.int32Data ?? []);
      return { dims, dataType: dt, data: checkLen(t, data, n) };
    }
    default:
      throw new Error(`tensor ${JSON.stringify(t.name)} has data type ${dataTypeName(dt)}, which this reader does not handle`);
  }
}

function checkLen<T extends NumericArray>(t: TensorProto, data: T, n: number): T {
  if (data.length !== n) {
    throw new Error(`tensor ${JSON.stringify(t.name)}: ${data.length} values for dims [${dimsOf(t).join(', ')}] (${n} expected)`);
  }
  return data;
}

/** Values of an integer tensor as plain numbers (for axes, shapes, indices known at build time). */
export function hostToNumbers(h: HostTensor): number[] {
  return Array.from(h.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function makeTensor(name: string, dataType: number, dims: number[], values: ArrayLike<number> | BigInt64Array): TensorProto {
  const n = numel(dims);
  if (values.length !== n) throw new Error(`makeTensor ${name}: ${values.length} values for dims [${dims.join(', ')}]`);
  let raw: Uint8Array;
  switch (dataType) {
    case DataType.FLOAT: raw = new Uint8Array(Float32Array.from(values as ArrayLike<number>).buffer); break;
    case DataType.DOUBLE: raw = new Uint8Array(Float64Array.from(values as ArrayLike<number>).buffer); break;
    case DataType.INT64:
      raw = new Uint8Array(
        (values instanceof BigInt64Array ? values : BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(v))).slice().buffer,
      );
      break;
    case DataType.INT32: raw = new Uint8Array(Int32Array.from(values as ArrayLike<number>).buffer); break;
    case DataType.BOOL: raw = Uint8Array.from(values as ArrayLike<number>); break;
    default: throw new Error(`makeTensor ${name}: unsupported data type ${dataTypeName(dataType)}`);
  }
  return onnx.TensorProto.create({ name, dataType, dims: dims.map((d) => Long.fromNumber(d)), rawData: raw });
}

// ---- attributes ----

export type AttrValue = number | string | number[] | TensorProto | { float: number } | { floats: number[] };

export function getAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, dflt: number): number;
export function attrInt(node: NodeProto, name: string): number | undefined;
export function attrInt(node: NodeProto, name: string, dflt?: number): number | undefined {
  const a = getAttr(node, name);
  if (!a) return dflt;
  return Long.fromValue(a.i ?? 0).toNumber();
}

export function attrFloat(node: NodeProto, name: string, dflt: number): number {
  const a = getAttr(node, name);
  return a ? (a.f ?? 0) : dflt;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = getAttr(node, name);
  if (!a) return undefined;
  return (a.ints ?? []).map((v) => Long.fromValue(v).toNumber());
}

export function attrString(node: NodeProto, name: string, dflt: string): string {
  const a = getAttr(node, name);
  if (!a || !a.s) return dflt;
  return new TextDecoder().decode(a.s);
}

export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return getAttr(node, name)?.t ?? undefined;
}

const AT = onnx.AttributeProto.AttributeType;

/** Builds AttributeProtos from a plain object: integers -> INT, {float: x} -> FLOAT, strings -> STRING, number[] -> INTS. */
export function makeAttributes(attrs: Record<string, AttrValue | undefined>): AttributeProto[] {
  const out: AttributeProto[] = [];
  for (const [name, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use {float: ${v}} for float attributes`);
      out.push(onnx.AttributeProto.create({ name, type: AT.INT, i: Long.fromNumber(v) }));
    } else if (typeof v === 'string') {
      out.push(onnx.AttributeProto.create({ name, type: AT.STRING, s: new TextEncoder().encode(v) }));
    } else if (Array.isArray(v)) {
      out.push(onnx.AttributeProto.create({ name, type: AT.INTS, ints: v.map((x) => Long.fromNumber(x)) }));
    } else if ('float' in v) {
      out.push(onnx.AttributeProto.create({ name, type: AT.FLOAT, f: v.float }));
    } else if ('floats' in v) {
      out.push(onnx.AttributeProto.create({ name, type: AT.FLOATS, floats: v.floats }));
    } else {
      out.push(onnx.AttributeProto.create({ name, type: AT.TENSOR, t: v }));
    }
  }
  return out;
}
