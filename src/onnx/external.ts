// Initializers stored outside the .onnx protobuf (ONNX "external data": TensorProto.data_location = EXTERNAL with
// location / offset / length entries), as exporters write them for models over protobuf's 2 GB limit
// (`model.onnx` + `model.onnx_data`). The files are held as bytes by the caller (read from disk or fetched); this
// module validates every reference against them before anything is allocated from a header, resolves a tensor's
// bytes as a view, and lists the files a session needs (onnxruntime-web's `externalData` option), so a model is
// never re-encoded into one protobuf with its weights inside.
import { onnx, Long, type ModelProto, type TensorProto, type GraphProto } from './codec.ts';

/** External data files by the location the model names them with (e.g. "model.onnx_data"). */
export type ExternalFiles = Map<string, Uint8Array>;

/** A reference the model makes to an external file that is missing, unsafe or out of bounds. */
export class ExternalDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExternalDataError';
  }
}

const BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

/** Normalises a location ("./a.bin" -> "a.bin"); refuses absolute paths and ".." (a model must not reach outside its folder). */
export function normalizeLocation(loc: string, where: string): string {
  const parts = loc.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (loc.startsWith('/') || /^[A-Za-z]:/.test(loc) || parts.includes('..') || parts.length === 0) {
    throw new ExternalDataError(`${where}: external data location ${JSON.stringify(loc)} must be a relative path inside the model's folder`);
  }
  return parts.join('/');
}

/** The location/offset/length entries of an external tensor (offset defaults to 0, length to the whole rest). */
export function externalRef(t: TensorProto, source = 'model'): ExternalRef {
  const where = `${source}: tensor ${JSON.stringify(t.name ?? '')}`;
  const kv = new Map<string, string>();
  for (const e of t.externalData ?? []) if (e.key) kv.set(e.key, e.value ?? '');
  const location = kv.get('location');
  if (!location) throw new ExternalDataError(`${where} is stored externally but names no location`);
  const num = (key: string): number | undefined => {
    const v = kv.get(key);
    if (v === undefined || v === '') return undefined;
    if (!/^\d+$/.test(v)) throw new ExternalDataError(`${where}: external data ${key} ${JSON.stringify(v)} is not a non-negative integer`);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new ExternalDataError(`${where}: external data ${key} ${v} is too large`);
    return n;
  };
  return { location: normalizeLocation(location, where), offset: num('offset') ?? 0, length: num('length') ?? -1 };
}

function tensorBytes(t: TensorProto): number | undefined {
  const per = BYTES[t.dataType ?? 0];
  if (per === undefined) return undefined;
  let n = 1;
  for (const d of t.dims ?? []) n *= Long.fromValue(d).toNumber();
  return n * per;
}

/**
 * The bytes of an external tensor, as a view into its file: checks that the file is there, that offset + length lie
 * inside it and that length agrees with the tensor's dims and type. Errors name the model, the tensor and the file.
 */
export function externalBytes(t: TensorProto, files: ExternalFiles | undefined, source = 'model'): Uint8Array {
  const ref = externalRef(t, source);
  const where = `${source}: tensor ${JSON.stringify(t.name ?? '')} (external file ${JSON.stringify(ref.location)})`;
  const file = files?.get(ref.location);
  if (!file) {
    const have = files && files.size ? `; have ${[...files.keys()].map((k) => JSON.stringify(k)).join(', ')}` : '';
    throw new ExternalDataError(`${where}: the file is missing (load the model with its external data files${have})`);
  }
  const want = tensorBytes(t);
  const length = ref.length >= 0 ? ref.length : file.length - ref.offset;
  if (want !== undefined && length !== want) {
    throw new ExternalDataError(`${where}: length ${length} does not match the tensor's dims and type (${want} bytes)`);
  }
  if (ref.offset > file.length || length < 0 || ref.offset + length > file.length) {
    throw new ExternalDataError(`${where}: bytes ${ref.offset}..${ref.offset + length} lie outside the file (${file.length} bytes)`);
  }
  return file.subarray(ref.offset, ref.offset + length);
}

function* graphTensors(g: GraphProto): Generator<TensorProto> {
  for (const t of g.initializer ?? []) yield t;
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t) yield a.t;
      for (const t of a.tensors ?? []) yield t;
      if (a.g) yield* graphTensors(a.g);
      for (const sg of a.graphs ?? []) yield* graphTensors(sg);
    }
  }
}

/** Every tensor of the model (initializers and Constant attributes, subgraphs included). */
export function modelTensors(model: ModelProto): Generator<TensorProto> {
  return graphTensors(model.graph ?? {});
}

/** The distinct external files the model refers to (normalised locations), in first-use order. */
export function externalLocations(model: ModelProto, source = 'model'): string[] {
  const seen = new Set<string>();
  for (const t of modelTensors(model)) if (isExternal(t)) seen.add(externalRef(t, source).location);
  return [...seen];
}

/** Validates every external reference of the model against the files (before a session or a conversion reads them). */
export function checkExternalData(model: ModelProto, files: ExternalFiles | undefined, source = 'model'): void {
  for (const t of modelTensors(model)) if (isExternal(t)) externalBytes(t, files, source);
}

/** The files onnxruntime-web needs for the model, in its `externalData` session option form. */
export function sessionExternalData(model: ModelProto, files: ExternalFiles | undefined, source = 'model'): { path: string; data: Uint8Array }[] | undefined {
  const locs = externalLocations(model, source);
  if (locs.length === 0) return undefined;
  return locs.map((path) => {
    const data = files?.get(path);
    if (!data) throw new ExternalDataError(`${source}: external data file ${JSON.stringify(path)} is missing`);
    return { path, data };
  });
}

/**
 * Rewrites a tensor to hold `bytes` in a new in-memory external file (used for weights converted at load time from
 * an external original, so the model stays small enough to encode). Returns the file name it added to `files`.
 */
export function storeExternal(t: TensorProto, bytes: Uint8Array, files: ExternalFiles): string {
  let i = files.size;
  let location = `logra-converted-${i}.bin`;
  while (files.has(location)) location = `logra-converted-${++i}.bin`;
  files.set(location, bytes);
  t.rawData = new Uint8Array(0);
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.externalData = [
    onnx.StringStringEntryProto.create({ key: 'location', value: location }),
    onnx.StringStringEntryProto.create({ key: 'offset', value: '0' }),
    onnx.StringStringEntryProto.create({ key: 'length', value: String(bytes.length) }),
  ];
  return location;
}
