// float16 / bfloat16 models (transformers.js `model_fp16.onnx`, q4f16) made float32: every half-precision initializer,
// Constant and ConstantOfShape value becomes float32 (exactly: every half value is a float32 value), every Cast to
// half becomes a Cast to float32, and half graph inputs/outputs become float32. The model then computes in float32
// on the same weights, so its gradients are those of the dequantised model — what the engine differentiates.
import { Long, type ModelProto, type GraphProto, type TensorProto, type AttributeProto, type ValueInfoProto } from './codec.ts';
import { DataType, copyBytes, rawBytes, tensorToHost } from './tensor.ts';
import { isExternal, storeExternal, type ExternalFiles } from './external.ts';

const HALF = new Set<number>([DataType.FLOAT16, DataType.BFLOAT16]);

export interface UpcastReport {
  /** half-precision tensors (initializers and constants) converted */
  tensors: number;
  /** elements converted */
  elements: number;
  /** Cast nodes retargeted from half to float32 */
  casts: number;
  /** graph inputs/outputs retyped */
  io: string[];
}

/** Float32 values of a half tensor (bfloat16 is the upper half of a float32). */
export function halfValues(t: TensorProto, files: ExternalFiles | undefined, source: string): Float32Array {
  if (t.dataType === DataType.FLOAT16) return tensorToHost(t, files, source).data as Float32Array;
  const raw = rawBytes(t, files, source);
  const bits = raw ? new Uint16Array(copyBytes(raw)) : Uint16Array.from(t.int32Data ?? []);
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** Rewrites tensor t in place as float32 (inline, or in a new in-memory external file when t was external). */
function toFloat32(t: TensorProto, files: ExternalFiles, source: string): number {
  const values = halfValues(t, files, source);
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const external = isExternal(t);
  t.dataType = DataType.FLOAT;
  t.int32Data = [];
  t.floatData = [];
  if (external) storeExternal(t, bytes, files);
  else t.rawData = bytes;
  return values.length;
}

/** Cast's `to` (and `dtype` of the *Like / Random ops) naming a half type. */
function typeAttrIsHalf(a: AttributeProto): boolean {
  return (a.name === 'to' || a.name === 'dtype') && a.i !== undefined && a.i !== null && HALF.has(Long.fromValue(a.i).toNumber());
}

function retype(v: ValueInfoProto): boolean {
  const tt = v.type?.tensorType;
  if (tt && HALF.has(tt.elemType ?? 0)) {
    tt.elemType = DataType.FLOAT;
    return true;
  }
  return false;
}

function upcastGraph(g: GraphProto, files: ExternalFiles, source: string, r: UpcastReport, top: boolean): void {
  for (const t of g.initializer ?? []) {
    if (HALF.has(t.dataType ?? 0)) {
      r.elements += toFloat32(t, files, source);
      r.tensors++;
    }
  }
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t && HALF.has(a.t.dataType ?? 0)) {
        r.elements += toFloat32(a.t, files, source);
        r.tensors++;
      }
      for (const t of a.tensors ?? []) {
        if (HALF.has(t.dataType ?? 0)) {
          r.elements += toFloat32(t, files, source);
          r.tensors++;
        }
      }
      // Cast / RandomNormal-like ops name their output type in an int attribute
      if (typeAttrIsHalf(a)) {
        a.i = Long.fromNumber(DataType.FLOAT);
        if (n.opType === 'Cast') r.casts++;
      }
      if (a.g) upcastGraph(a.g, files, source, r, false);
      for (const sg of a.graphs ?? []) upcastGraph(sg, files, source, r, false);
    }
  }
  for (const v of g.valueInfo ?? []) retype(v);
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) if (retype(v) && top) r.io.push(v.name ?? '');
}

/** Whether the model holds or computes any half-precision value. */
export function hasHalfPrecision(model: ModelProto): boolean {
  const g = model.graph ?? {};
  const inGraph = (gr: GraphProto): boolean =>
    (gr.initializer ?? []).some((t) => HALF.has(t.dataType ?? 0)) ||
    [...(gr.input ?? []), ...(gr.output ?? []), ...(gr.valueInfo ?? [])].some((v) => HALF.has(v.type?.tensorType?.elemType ?? 0)) ||
    (gr.node ?? []).some((n) =>
      (n.attribute ?? []).some(
        (a) =>
          (a.t && HALF.has(a.t.dataType ?? 0)) ||
          typeAttrIsHalf(a) ||
          (a.g ? inGraph(a.g) : false) ||
          (a.graphs ?? []).some(inGraph),
      ),
    );
  return inGraph(g);
}

/** Makes a float16 / bfloat16 model compute in float32 (in place). Converted external weights go to new files in `files`. */
export function upcastToFloat32(model: ModelProto, files: ExternalFiles, source = 'model'): UpcastReport {
  const r: UpcastReport = { tensors: 0, elements: 0, casts: 0, io: [] };
  if (model.graph) upcastGraph(model.graph, files, source, r, true);
  return r;
}
