// Runtime-neutral fixture check (Node, Deno, browser): runs TapModel on a fixture's examples as one right-padded
// batch and measures the worst relative error of loss, x, dy and per-example weight gradients against the torch
// float64 references in ref.safetensors. No file or network access here: callers read the bytes themselves.
import { TapModel } from '../../src/runtime/taps.ts';
import type { ExecutionProvider } from '../../src/runtime/ort.ts';
import { parseJsonl } from '../../src/io/jsonl.ts';
import { readSafetensors, type SafeTensor } from '../../src/io/safetensors.ts';
import type { ExternalFiles } from '../../src/onnx/external.ts';

export interface FixtureInput {
  /** fixture folder name (or folder:check), for messages */
  name: string;
  /** the .onnx bytes */
  model: Uint8Array;
  /** data JSONL text (token ids / features; no tokenizer) */
  data: string;
  /** the torch reference (safetensors, F64 or F32) */
  ref: Uint8Array;
  /** the model's external data files, by the location the model names them with */
  externalData?: ExternalFiles;
}

/** Worst over examples of max|ours - ref| / max|ref| (per example); loss: max over examples of |err| / |ref|. */
export interface LayerErrors {
  layer: string;
  grad: number;
  x: number;
  dy: number;
}

export interface FixtureResult {
  fixture: string;
  ep: ExecutionProvider;
  examples: number;
  /** padded batch length (1 for classifiers) */
  T: number;
  loss: number;
  layers: LayerErrors[];
  /** the worst of each kind over all layers (and the loss) */
  worst: { grad: number; x: number; dy: number; loss: number };
  ms: { create: number; run: number };
}

/** Relative error bound the suites assert for every kind (loss, x, dy, grad). */
export const REL_TOL = 1e-5;

export class FixtureMismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FixtureMismatch';
  }
}

/** A reference tensor as float64 (references are F64, or F32 where a folder holds several variants). */
function f64(ref: Map<string, SafeTensor>, key: string, fixture: string): { data: Float64Array; shape: number[] } {
  const t = ref.get(key);
  if (!t) throw new FixtureMismatch(`${fixture}: the reference has no tensor ${key}`);
  if (t.dtype !== 'F64' && t.dtype !== 'F32') throw new FixtureMismatch(`${fixture}: ${key} is ${t.dtype}, expected F64 or F32`);
  return { data: t.dtype === 'F64' ? (t.data as Float64Array) : Float64Array.from(t.data as Float32Array), shape: t.shape };
}

/** max|a - r| / max|r| over the n values a[aOff + k], r[k]; the absolute error when r is all zeros. */
function relErr(a: Float32Array, aOff: number, r: Float64Array, n: number): number {
  let mr = 0, me = 0;
  for (let k = 0; k < n; k++) {
    const d = Math.abs(a[aOff + k] - r[k]);
    if (!(d <= me)) me = Number.isNaN(d) ? Infinity : d; // NaN counts as an infinite error
    mr = Math.max(mr, Math.abs(r[k]));
  }
  return mr > 0 ? me / mr : me;
}

export async function checkFixture(input: FixtureInput, ep: ExecutionProvider): Promise<FixtureResult> {
  const { name } = input;
  const ref = readSafetensors(input.ref, `${name}/ref.safetensors`).tensors;
  // the reference may cover the first n examples only
  const nRef = [...ref.keys()].filter((k) => k.startsWith('loss/')).length;
  const examples = parseJsonl(input.data, `${name}/data.jsonl`).slice(0, nRef);

  const t0 = performance.now();
  const model = await TapModel.create(input.model, { ep, weightGrads: true, source: `${name}/model.onnx`, externalData: input.externalData });
  const t1 = performance.now();
  try {
    const refLayers = new Set<string>();
    for (const k of ref.keys()) if (k.startsWith('grad/')) refLayers.add(k.slice(5, k.lastIndexOf('/')));
    const ours = model.layers.map((l) => l.name);
    const missing = [...refLayers].filter((l) => !ours.includes(l));
    const extra = ours.filter((l) => !refLayers.has(l));
    if (missing.length || extra.length) {
      throw new FixtureMismatch(`${name}: tapped layers differ from the reference (missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)})`);
    }

    const r = await model.run(examples);
    const t2 = performance.now();

    let loss = 0;
    for (let i = 0; i < r.B; i++) {
      const want = f64(ref, `loss/${i}`, name).data[0];
      const got = r.loss[i];
      const e = Number.isFinite(got) ? Math.abs(got - want) / Math.max(Math.abs(want), 1e-30) : Infinity;
      loss = Math.max(loss, e);
    }

    const layers: LayerErrors[] = r.layers.map((lt) => {
      const L = lt.layer.name;
      const { dIn, dOut } = lt.layer;
      if (!lt.grad || !lt.x || !lt.dy) throw new FixtureMismatch(`${name}: layer ${L} returned no grad/x/dy`);
      const per = dIn * dOut;
      if (lt.grad.length !== r.B * per) throw new FixtureMismatch(`${name}: grad of ${L} has ${lt.grad.length} values, expected ${r.B}x${per}`);
      let grad = 0, x = 0, dy = 0;
      for (let i = 0; i < r.B; i++) {
        const g = f64(ref, `grad/${L}/${i}`, name);
        if (g.data.length !== per) throw new FixtureMismatch(`${name}: ref grad/${L}/${i} has shape [${g.shape}], expected ${dIn}x${dOut}`);
        grad = Math.max(grad, relErr(lt.grad, i * per, g.data, per));
        // x/dy (when the reference has them): ours [B, rows, d], rows = T (padded) for per-token layers; the
        // reference holds the example's real rows only
        if (!ref.has(`x/${L}/${i}`)) continue;
        const rows = lt.rows;
        const perTok = lt.layer.perToken ?? 0;
        const len = perTok && rows === r.T * perTok ? r.lengths[i] * perTok : rows;
        const rx = f64(ref, `x/${L}/${i}`, name), rdy = f64(ref, `dy/${L}/${i}`, name);
        if (rx.data.length !== len * dIn || rdy.data.length !== len * dOut) {
          throw new FixtureMismatch(`${name}: ref x/dy of ${L}/${i} have shapes [${rx.shape}] / [${rdy.shape}], expected ${len} rows`);
        }
        x = Math.max(x, relErr(lt.x, i * rows * dIn, rx.data, len * dIn));
        dy = Math.max(dy, relErr(lt.dy, i * rows * dOut, rdy.data, len * dOut));
      }
      return { layer: L, grad, x, dy };
    });

    const worst = {
      grad: Math.max(...layers.map((l) => l.grad)),
      x: Math.max(...layers.map((l) => l.x)),
      dy: Math.max(...layers.map((l) => l.dy)),
      loss,
    };
    return { fixture: name, ep, examples: r.B, T: r.T, loss, layers, worst, ms: { create: t1 - t0, run: t2 - t1 } };
  } finally {
    await model.release();
  }
}

/** Human-readable failures (empty when every error is within tol). */
export function failures(res: FixtureResult, tol = REL_TOL): string[] {
  const out: string[] = [];
  if (!(res.loss <= tol)) out.push(`loss: ${res.loss.toExponential(2)}`);
  for (const l of res.layers) {
    for (const k of ['grad', 'x', 'dy'] as const) if (!(l[k] <= tol)) out.push(`${l.layer} ${k}: ${l[k].toExponential(2)}`);
  }
  return out;
}

/** One line per fixture run, for logs. */
export function summary(res: FixtureResult): string {
  const e = (v: number) => v.toExponential(2);
  const w = res.worst;
  return `${res.fixture} [${res.ep}] B=${res.examples} T=${res.T}: loss ${e(w.loss)} grad ${e(w.grad)} x ${e(w.x)} dy ${e(w.dy)} ` +
    `(create ${res.ms.create.toFixed(0)} ms, run ${res.ms.run.toFixed(0)} ms)`;
}
