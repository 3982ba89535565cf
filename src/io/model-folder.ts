// Model folders as Hugging Face Optimum and transformers.js publish them:
//   config.json, tokenizer.json (+ tokenizer_config.json), onnx/model.onnx and its variants model_fp16.onnx,
//   model_quantized.onnx / model_int8.onnx / model_uint8.onnx, model_q4.onnx / model_q4f16.onnx, their external weight
//   files (model.onnx_data, ...), or the same files at the folder's top level (Optimum's export), or decoder_model*.onnx.
// The float32 file wins when present, else float16, else 8-bit, else 4-bit (those are dequantised at load); the notes
// say which file was used. Files come from a FileSource: a directory (model-folder-fs.ts, Node/Deno) or a base URL
// (fetch, any runtime; relative to the page in a browser). Browser-safe.
import { decodeModel } from '../onnx/codec.ts';
import { externalLocations, normalizeLocation, type ExternalFiles } from '../onnx/external.ts';
import { parseTokenizer } from '../tokenizer/hf.ts';
import type { TextTokenizer } from '../tokenizer/text.ts';

export interface FileSource {
  /** the folder, for messages (a path or a URL) */
  readonly location: string;
  /** a file's bytes by its path relative to the folder ("onnx/model.onnx"), or undefined when it does not exist */
  read(path: string): Promise<Uint8Array | undefined>;
  /** the folder's files (relative paths), when the source can list them (directories; not URLs) */
  list?(): Promise<string[]>;
}

export class ModelFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFolderError';
  }
}

/** transformers.js `dtype` names and the file suffixes that hold them, in the order a folder is searched. */
export const MODEL_DTYPES = {
  fp32: [''],
  fp16: ['_fp16'],
  q8: ['_quantized', '_int8', '_uint8'],
  int8: ['_int8'],
  uint8: ['_uint8'],
  q4: ['_q4'],
  q4f16: ['_q4f16'],
  bnb4: ['_bnb4'],
} as const;
export type ModelDtype = keyof typeof MODEL_DTYPES;
const SEARCH: ModelDtype[] = ['fp32', 'fp16', 'q8', 'q4', 'q4f16', 'bnb4'];
const STEMS = ['model', 'decoder_model', 'decoder_model_merged'];
const DIRS = ['onnx/', ''];

export type Json = Record<string, unknown>;

export interface ModelFolder {
  /** the folder (path or URL) */
  location: string;
  /** the .onnx file used, relative to the folder */
  file: string;
  /** which variant it is */
  dtype: ModelDtype;
  onnx: Uint8Array;
  /** its external data files, by the location the model names them with */
  externalData: ExternalFiles;
  config?: Json;
  tokenizer?: TextTokenizer;
  /** the pad token id (tokenizer_config.json / tokenizer.json, else config.json pad_token_id) */
  padId?: number;
  /** lines for the user: the file used and why */
  notes: string[];
}

const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '');

async function readJson(src: FileSource, path: string): Promise<{ json?: Json; text?: string }> {
  const b = await src.read(path);
  if (!b) return {};
  const text = new TextDecoder().decode(b);
  try {
    return { json: JSON.parse(text) as Json, text };
  } catch (e) {
    throw new ModelFolderError(`${src.location}/${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Candidate .onnx paths for a dtype (or every dtype in preference order). */
export function candidates(dtype?: ModelDtype): { path: string; dtype: ModelDtype }[] {
  const out: { path: string; dtype: ModelDtype }[] = [];
  for (const d of dtype ? [dtype] : SEARCH) {
    for (const stem of STEMS) for (const dir of DIRS) for (const suffix of MODEL_DTYPES[d]) out.push({ path: `${dir}${stem}${suffix}.onnx`, dtype: d });
  }
  return out;
}

/** The dtype a file name says (model_q4.onnx -> q4), for files given directly. */
export function dtypeOfFile(file: string): ModelDtype {
  const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.onnx$/, '');
  for (const d of ['q4f16', 'q4', 'bnb4', 'fp16', 'int8', 'uint8'] as ModelDtype[]) if (base.endsWith(`_${d}`)) return d;
  if (base.endsWith('_quantized')) return 'q8';
  return 'fp32';
}

/**
 * Opens a model folder: picks the .onnx file (`file` when given, else the best variant of `dtype`, else float32 >
 * float16 > 8-bit > 4-bit), reads it and its external data files, config.json and the tokenizer.
 */
export async function openModelFolder(src: FileSource, opts: { dtype?: ModelDtype; file?: string } = {}): Promise<ModelFolder> {
  const notes: string[] = [];
  let file: string | undefined, dtype: ModelDtype = 'fp32', onnx: Uint8Array | undefined;
  if (opts.file) {
    file = normalizeLocation(opts.file, src.location);
    onnx = await src.read(file);
    if (!onnx) throw new ModelFolderError(`${src.location}: no file ${file}`);
    dtype = dtypeOfFile(file);
  } else {
    const listed = src.list ? new Set(await src.list()) : undefined;
    const tried: string[] = [];
    for (const c of candidates(opts.dtype)) {
      if (listed && !listed.has(c.path)) continue;
      tried.push(c.path);
      const b = await src.read(c.path);
      if (b) {
        file = c.path;
        dtype = c.dtype;
        onnx = b;
        break;
      }
    }
    if (!file || !onnx) {
      const have = listed ? [...listed].filter((f) => f.endsWith('.onnx')) : [];
      throw new ModelFolderError(
        `${src.location}: no ${opts.dtype ? `${opts.dtype} ` : ''}ONNX model found (looked for ${candidates(opts.dtype).slice(0, 8).map((c) => c.path).join(', ')}, ...)` +
          (have.length ? `; the folder has ${have.join(', ')}: pass one of them as the model file` : ''),
      );
    }
    notes.push(`using ${src.location}/${file} (${dtype})${dtype !== 'fp32' && !opts.dtype ? '; the folder has no float32 model file' : ''}`);
  }
  // external data, relative to the .onnx file's directory
  const model = decodeModel(onnx, `${src.location}/${file}`);
  const externalData: ExternalFiles = new Map();
  for (const loc of externalLocations(model, `${src.location}/${file}`)) {
    const b = await src.read(dirOf(file) + loc);
    if (!b) throw new ModelFolderError(`${src.location}/${file}: its external data file ${dirOf(file) + loc} is missing`);
    externalData.set(loc, b);
  }
  if (externalData.size) notes.push(`weights in external data: ${[...externalData.keys()].map((k) => `${dirOf(file)}${k} (${externalData.get(k)!.length} bytes)`).join(', ')}`);
  // config and tokenizer: beside the model, or in the folder above onnx/
  const roots = [...new Set([dirOf(file), dirOf(file).replace(/[^/]+\/$/, ''), ''])];
  let config: Json | undefined, tokenizer: TextTokenizer | undefined;
  for (const r of roots) {
    config ??= (await readJson(src, `${r}config.json`)).json;
    if (!tokenizer) {
      const tj = await src.read(`${r}tokenizer.json`);
      if (tj) {
        const cfg = await readJson(src, `${r}tokenizer_config.json`);
        tokenizer = parseTokenizer(new TextDecoder().decode(tj), cfg.text, `${src.location}/${r}tokenizer.json`);
      }
    }
  }
  const padId = tokenizer?.padId ?? (typeof config?.pad_token_id === 'number' ? config.pad_token_id : undefined);
  return { location: src.location, file, dtype, onnx, externalData, config, tokenizer, padId, notes };
}

/** Files under a base URL, fetched (relative URLs resolve against the page in a browser). 404 -> undefined. */
export function urlSource(base: string | URL, init?: RequestInit): FileSource {
  const root = String(base).endsWith('/') ? String(base) : `${String(base)}/`;
  const abs = (p: string) => {
    const loc = (globalThis as { location?: { href: string } }).location;
    return loc ? new URL(p, new URL(root, loc.href)) : new URL(p, root);
  };
  return {
    location: root.replace(/\/$/, ''),
    async read(path: string) {
      const res = await fetch(abs(path), init);
      if (res.status === 404) return undefined;
      if (!res.ok) throw new ModelFolderError(`GET ${abs(path)}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/** The training-task settings a config.json implies (problem_type / num_labels as transformers uses them). */
export function taskFromConfig(config: Json | undefined): 'regression' | 'classification' | undefined {
  if (!config) return undefined;
  if (config.problem_type === 'regression') return 'regression';
  if (config.problem_type === 'single_label_classification') return 'classification';
  return undefined;
}
