// What the backward builder knows about each value: its dims and element type at a probe batch size.
// A probe at B >= 2, T >= 2 tells broadcast axes and ranks apart from the dynamic sizes; every size the
// emitted graph depends on is read at run time with Shape, so the backward graph works for any B and T.
import { DataType } from '../onnx/tensor.ts';

export interface ValueShape {
  dims: number[];
  elemType: number;
}

export type ShapeMap = Map<string, ValueShape>;

export const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

export function isFloat(s: ValueShape | undefined): boolean {
  return !!s && FLOAT_TYPES.has(s.elemType);
}

/** ORT tensor type strings to ONNX element types. */
export function elemTypeOf(ortType: string): number {
  switch (ortType) {
    case 'float32': return DataType.FLOAT;
    case 'float64': return DataType.DOUBLE;
    case 'float16': return DataType.FLOAT16;
    case 'int64': return DataType.INT64;
    case 'int32': return DataType.INT32;
    case 'int8': return DataType.INT8;
    case 'uint8': return DataType.UINT8;
    case 'bool': return DataType.BOOL;
    default: return 0;
  }
}
