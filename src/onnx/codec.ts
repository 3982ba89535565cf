// Decoding and encoding of ONNX ModelProto bytes with the protobufjs code generated from onnx.proto.
// int64 fields are always Long objects (configured here, whatever the runtime), so nothing is rounded.
import $protobuf from 'protobufjs/minimal.js';
import Long from 'long';
import { onnx } from './proto/onnx.js';

$protobuf.util.Long = Long as unknown as typeof $protobuf.util.Long;
$protobuf.configure();

export { onnx, Long };
export type ModelProto = onnx.ModelProto;
export type GraphProto = onnx.IGraphProto;
export type NodeProto = onnx.INodeProto;
export type TensorProto = onnx.ITensorProto;
export type AttributeProto = onnx.IAttributeProto;
export type ValueInfoProto = onnx.IValueInfoProto;

/** Raised for bytes that are not a well-formed ONNX model. */
export class OnnxDecodeError extends Error {
  constructor(
    message: string,
    readonly source?: string,
  ) {
    super(source ? `${source}: ${message}` : message);
    this.name = 'OnnxDecodeError';
  }
}

/** A hard cap on what a model's own bytes may claim; real limits come from the byte length itself. */
const MAX_NESTING = 64;

/**
 * Decodes ONNX bytes. Malformed or truncated input throws OnnxDecodeError (never a hang: protobufjs reads
 * each length-delimited field only after checking it lies inside the buffer, so every claimed size is bounded
 * by the input itself).
 */
export function decodeModel(bytes: Uint8Array, source?: string): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new OnnxDecodeError('expected a Uint8Array of ONNX bytes', source);
  if (bytes.length === 0) throw new OnnxDecodeError('empty input (0 bytes)', source);
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxDecodeError(`not a valid ONNX protobuf (${(e as Error).message})`, source);
  }
  if (!model.graph) throw new OnnxDecodeError('the model has no graph (field ModelProto.graph is missing)', source);
  if (!model.irVersion || Long.fromValue(model.irVersion).lte(0)) {
    throw new OnnxDecodeError('ModelProto.ir_version is missing or not positive: this is probably not an ONNX file', source);
  }
  checkGraph(model.graph, source, 0);
  return model;
}

function checkGraph(g: GraphProto, source: string | undefined, depth: number): void {
  if (depth > MAX_NESTING) throw new OnnxDecodeError(`subgraphs nested deeper than ${MAX_NESTING}`, source);
  for (const n of g.node ?? []) {
    if (!n.opType) throw new OnnxDecodeError(`node ${JSON.stringify(n.name ?? '')} has no op_type`, source);
    for (const a of n.attribute ?? []) {
      if (a.g) checkGraph(a.g, source, depth + 1);
      for (const sg of a.graphs ?? []) checkGraph(sg, source, depth + 1);
    }
  }
  for (const t of g.initializer ?? []) checkTensor(t, source);
}

const ELEMENT_BYTES: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 16: 2,
  17: 1, 18: 1, 19: 1, 20: 1,
};

/** Checks that a tensor's declared dims agree with the data it carries, before anyone allocates from dims. */
export function checkTensor(t: TensorProto, source?: string): void {
  const dims = (t.dims ?? []).map((d) => Long.fromValue(d));
  let count = Long.ONE;
  for (const d of dims) {
    if (d.isNegative()) throw new OnnxDecodeError(`tensor ${JSON.stringify(t.name)} has a negative dim`, source);
    count = count.mul(d);
    if (count.gt(Long.fromNumber(2 ** 40))) {
      throw new OnnxDecodeError(`tensor ${JSON.stringify(t.name)} claims more than 2^40 elements`, source);
    }
  }
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return; // sizes checked when loaded
  const n = count.toNumber();
  const raw = t.rawData;
  const bytesPer = ELEMENT_BYTES[t.dataType ?? 0];
  if (raw && raw.length > 0 && bytesPer !== undefined && raw.length !== n * bytesPer) {
    throw new OnnxDecodeError(
      `tensor ${JSON.stringify(t.name)}: raw_data has ${raw.length} bytes, dims ${JSON.stringify(dims.map(String))} need ${n * bytesPer}`,
      source,
    );
  }
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
