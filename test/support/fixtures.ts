// Which model runs each fixture folder holds, runtime-neutral (Node, Deno and the browser read the files themselves).
// A folder's meta.json may list "checks" ({name, model, external?, ref, data?}: one model file of the folder each, with
// its own torch reference); folders without it are one check of model.onnx / data.jsonl / ref.safetensors.
import type { FixtureInput } from './fixture-check.ts';

export interface FixtureCheckSpec {
  fixture: string;
  /** "fp32", "fp16", ... ("model" for single-check folders) */
  check: string;
  /** paths relative to the fixture folder */
  model: string;
  external: string[];
  ref: string;
  data: string;
}

interface MetaCheck {
  name: string;
  model: string;
  external?: string[];
  ref: string;
  data?: string;
}

export function checksOf(fixture: string, meta: { checks?: MetaCheck[]; data?: string }): FixtureCheckSpec[] {
  if (!meta.checks) return [{ fixture, check: 'model', model: 'model.onnx', external: [], ref: 'ref.safetensors', data: meta.data ?? 'data.jsonl' }];
  return meta.checks.map((c) => ({ fixture, check: c.name, model: c.model, external: c.external ?? [], ref: c.ref, data: c.data ?? meta.data ?? 'data.jsonl' }));
}

/** "<fixture>" for single-check folders, "<fixture>:<check>" otherwise. */
export function checkName(c: FixtureCheckSpec): string {
  return c.check === 'model' ? c.fixture : `${c.fixture}:${c.check}`;
}

/** Reads a check's files with `read(pathInsideFixturesDir)`. */
export async function loadCheck(c: FixtureCheckSpec, read: (path: string) => Promise<Uint8Array>): Promise<FixtureInput> {
  const at = (p: string) => `${c.fixture}/${p}`;
  const [model, data, ref, ...ext] = await Promise.all([read(at(c.model)), read(at(c.data)), read(at(c.ref)), ...c.external.map((p) => read(at(p)))]);
  const modelDir = c.model.includes('/') ? c.model.slice(0, c.model.lastIndexOf('/') + 1) : '';
  const externalData = c.external.length ? new Map(c.external.map((p, i) => [p.startsWith(modelDir) ? p.slice(modelDir.length) : p, ext[i]])) : undefined;
  return { name: checkName(c), model, data: new TextDecoder().decode(data), ref, externalData };
}
