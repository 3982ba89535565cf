// safetensors: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then data.
// The reader validates every size against the buffer before it allocates anything.

export type SafeDtype = 'F32' | 'F64' | 'F16' | 'I64' | 'I32' | 'U8';

export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  /** F32 -> Float32Array, F64 -> Float64Array, I64 -> BigInt64Array, I32 -> Int32Array, F16/U8 -> Uint8Array/Uint16Array */
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint16Array | Uint8Array;
}

const BYTES: Record<SafeDtype, number> = { F32: 4, F64: 8, F16: 2, I64: 8, I32: 4, U8: 1 };

export class SafetensorsError extends Error {
  constructor(message: string, source?: string) {
    super(source ? `${source}: ${message}` : message);
    this.name = 'SafetensorsError';
  }
}

export function readSafetensors(bytes: Uint8Array, source?: string): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new SafetensorsError(`file too short (${bytes.length} bytes) to be safetensors`, source);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getBigUint64(0, true);
  if (hlen > BigInt(bytes.length - 8)) throw new SafetensorsError(`header length ${hlen} exceeds the file (${bytes.length} bytes)`, source);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(hlen))));
  } catch (e) {
    throw new SafetensorsError(`header is not JSON (${(e as Error).message})`, source);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError('header is not a JSON object', source);
  const base = 8 + Number(hlen);
  const dataLen = bytes.length - base;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const info = v as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const dtype = info.dtype as SafeDtype;
    if (!(dtype in BYTES)) throw new SafetensorsError(`tensor ${JSON.stringify(name)}: unsupported dtype ${JSON.stringify(info.dtype)}`, source);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(`tensor ${JSON.stringify(name)}: bad shape ${JSON.stringify(shape)}`, source);
    }
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1] || off[1] > dataLen) {
      throw new SafetensorsError(`tensor ${JSON.stringify(name)}: data_offsets ${JSON.stringify(off)} outside the data (${dataLen} bytes)`, source);
    }
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (n * BYTES[dtype] !== off[1] - off[0]) {
      throw new SafetensorsError(`tensor ${JSON.stringify(name)}: shape [${shape.join(', ')}] needs ${n * BYTES[dtype]} bytes, offsets give ${off[1] - off[0]}`, source);
    }
    // copy (also makes the data aligned; Node Buffers share one pool, so never use .buffer of a view)
    const raw = new Uint8Array(bytes.subarray(base + off[0], base + off[1])).buffer;
    const data =
      dtype === 'F32' ? new Float32Array(raw)
      : dtype === 'F64' ? new Float64Array(raw)
      : dtype === 'I64' ? new BigInt64Array(raw)
      : dtype === 'I32' ? new Int32Array(raw)
      : dtype === 'F16' ? new Uint16Array(raw)
      : new Uint8Array(raw);
    tensors.set(name, { dtype, shape: shape as number[], data });
  }
  return { tensors, metadata };
}

export function writeSafetensors(tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of entries) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new SafetensorsError(`tensor ${JSON.stringify(name)}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    const len = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + len] };
    off += len;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}
