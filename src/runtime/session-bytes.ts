// A model's bytes for an onnxruntime session without copying its weights into a protobuf: every initializer of at
// least `minBytes` travels beside the graph as ONNX external data (onnxruntime's `externalData` session option, one
// entry per tensor, each a view of the tensor's existing bytes), and initializers the model already keeps in
// external files (a model folder's `model.onnx_data`, weights converted at load: onnx/external.ts) take their files
// along. The protobuf stays small (no 2 GB protobuf limit, no second copy of the weights in JS memory: a
// 124M-parameter model loads with one copy in JS and one in the session), and the ModelProto is left as it was.
import { encodeModel, onnx, type ModelProto } from '../onnx/codec.ts';
import { externalRef, isExternal, modelTensors, type ExternalFiles } from '../onnx/external.ts';

export interface ExternalFile {
  path: string;
  data: Uint8Array;
}

export interface SessionBytes {
  /** the protobuf, large initializers referring to external files */
  bytes: Uint8Array;
  /** what onnxruntime-web's `externalData` session option takes */
  external: ExternalFile[];
}

/** Initializers of at least this many bytes are passed as external data (default). */
export const EXTERNAL_MIN_BYTES = 1 << 20;

const LOCATION_EXTERNAL = 1;

export function sessionBytes(model: ModelProto, files?: ExternalFiles, minBytes = EXTERNAL_MIN_BYTES, source = 'model'): SessionBytes {
  const external: ExternalFile[] = [];
  // the files the model's external tensors already name (validated by onnx/external.ts when the model was prepared)
  const named = new Set<string>();
  for (const t of modelTensors(model)) {
    if (!isExternal(t)) continue;
    const { location } = externalRef(t, source);
    if (named.has(location)) continue;
    const data = files?.get(location);
    if (!data) throw new Error(`${source}: external data file ${JSON.stringify(location)} is missing (load the model with its external data files)`);
    named.add(location);
    external.push({ path: location, data });
  }
  const restore: (() => void)[] = [];
  const inits = model.graph?.initializer ?? [];
  try {
    inits.forEach((t, i) => {
      const raw = t.rawData;
      if (!raw || raw.length < minBytes || t.dataLocation === LOCATION_EXTERNAL) return;
      const path = `logra-external-${i}.bin`;
      external.push({ path, data: raw });
      const prev = { rawData: t.rawData, dataLocation: t.dataLocation, externalData: t.externalData };
      t.rawData = new Uint8Array(0);
      t.dataLocation = LOCATION_EXTERNAL;
      t.externalData = [
        onnx.StringStringEntryProto.create({ key: 'location', value: path }),
        onnx.StringStringEntryProto.create({ key: 'offset', value: '0' }),
        onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
      ];
      restore.push(() => Object.assign(t, prev));
    });
    return { bytes: encodeModel(model), external };
  } finally {
    for (const r of restore) r();
  }
}
