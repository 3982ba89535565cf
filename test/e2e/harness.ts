// Test page logic: exposes window.harness for the Playwright specs (fixture checks on ORT's wasm / WebGPU EPs).
import { checkFixture, summary, type FixtureResult } from '../support/fixture-check.ts';
import { checkName, checksOf, loadCheck } from '../support/fixtures.ts';
import { runFolderE2E, type FolderE2E } from '../support/folder-e2e.ts';
import type { ExecutionProvider } from '../../src/runtime/ort.ts';
import { checkPipeline, type PipelineCheck } from '../support/pipeline-check.ts';
import { randomSequences } from '../support/data.ts';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { IndexedDbStore } from '../../src/store/indexeddb.ts';
import { MemoryStore } from '../../src/store/memory.ts';

export interface GpuInfo {
  description: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
}

export interface Harness {
  /** runs test/fixtures/<name> (or <folder>:<check>) on an EP and returns the error report (plain JSON data) */
  runFixture(name: string, ep: ExecutionProvider): Promise<FixtureResult>;
  /** the Llama-style model folder loaded from its URL, prompt/completion text, log -> fit -> query (IndexedDB `db`) */
  runFolderE2E(db: string): Promise<FolderE2E>;
  /** the pipeline's float64-reference checks (test/support/pipeline-check.ts) on one fixture */
  runPipeline(name: string, backend: 'cpu' | 'webgpu'): Promise<PipelineCheck[]>;
  /** logs n random sequences for the kv fixture model into IndexedDB `db` (a commit per batch); resolves when done */
  idbLog(db: string, n: number): Promise<{ stored: number; skipped: number }>;
  /** examples committed so far in IndexedDB `db` */
  idbCount(db: string): Promise<number>;
  /**
   * logs examples lo..hi of the same n random sequences into IndexedDB `db`, taking its lock (waitMs 0: fail at
   * once); resolves with what happened, errors included (their name and message)
   */
  idbLogPart(db: string, n: number, lo: number, hi: number, waitMs?: number): Promise<{ stored: number; logged: number; waited: boolean; error?: string }>;
  /** whether an idbLogPart on `db` in this page is waiting for another writer's lock */
  idbWaiting(db: string): boolean;
  /** takes `db`'s writer lock (Web Locks) and holds it until idbRelease */
  idbHold(db: string): Promise<void>;
  idbRelease(db: string): Promise<void>;
  /** relative max difference between scores from IndexedDB `db` and from one uninterrupted in-memory run; ids unique */
  idbCompare(db: string, n: number): Promise<{ err: number; unique: number; total: number }>;
  /**
   * concurrent users of one CPU backend (GEMMs of one shape in Promise.all, i.e. one cached ORT session) and of one
   * model (two query batches at once): max relative difference to the same work run one after the other
   */
  concurrentRuns(): Promise<{ gemm: number; query: number }>;
  /** the WebGPU adapter the page gets, or null */
  gpuInfo(): Promise<GpuInfo | null>;
  crossOriginIsolated: boolean;
}

declare global {
  interface Window {
    harness?: Harness;
  }
}

const log = document.getElementById('log')!;
const say = (s: string) => {
  log.textContent += `${s}\n`;
};

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function fetchText(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${r.statusText}`);
  return r.text();
}

const harness = {
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  async runFixture(name, ep) {
    if (!/^[\w.-]+(:[\w.-]+)?$/.test(name)) throw new Error(`bad fixture name ${JSON.stringify(name)}`);
    const folder = name.split(':')[0];
    const c = checksOf(folder, JSON.parse(await fetchText(`/test/fixtures/${folder}/meta.json`))).find((k) => checkName(k) === name);
    if (!c) throw new Error(`no fixture check ${name}`);
    const res = await checkFixture(await loadCheck(c, (p) => fetchBytes(`/test/fixtures/${p}`)), ep);
    say(summary(res));
    return res;
  },
  async gpuInfo() {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return null;
    const i = a.info;
    return { description: i.description, vendor: i.vendor, architecture: i.architecture, isFallbackAdapter: (i as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false };
  },
} as Harness;

const PIPE_MODEL = '/test/fixtures/gpt2_linear_erf_op17_mask_pos_tied/model.onnx';
let pipe: Promise<{ engine: Engine; model: LoadedModel }> | undefined;
const pipeline = () =>
  (pipe ??= (async () => {
    const engine = await createEngine({ backend: 'cpu' });
    return { engine, model: await engine.loadModel(await fetchBytes(PIPE_MODEL)) };
  })());
const idbOpts = { kIn: 4, kOut: 4, hessian: 'raw' as const, batchSize: 2, flushMs: 0 };
const PIPE_QUERIES = randomSequences(2, 8, 'q');

harness.runFolderE2E = async (db) => {
  const engine = await createEngine({ backend: 'cpu' });
  try {
    const dir = '/test/fixtures/llama_folder';
    const [data, ref] = await Promise.all([fetchText(`${dir}/data.jsonl`), fetchBytes(`${dir}/ref.safetensors`)]);
    const res = await runFolderE2E(engine, dir, data, ref, (n) => new IndexedDbStore(`${db}-${n}`));
    for (const c of res.checks) say(`llama_folder ${c.name}: ${c.err.toExponential(2)}`);
    return res;
  } finally {
    engine.dispose();
  }
};

harness.runPipeline = async (name, backend) => {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`bad fixture name ${JSON.stringify(name)}`);
  const dir = `/test/fixtures/${name}`;
  const [model, data, ref] = await Promise.all([fetchBytes(`${dir}/model.onnx`), fetchText(`${dir}/data.jsonl`), fetchBytes(`${dir}/ref.safetensors`)]);
  const engine = await createEngine({ backend });
  try {
    const res = await checkPipeline({ name, model, data, ref }, engine);
    for (const r of res) say(`${name} [${backend}] ${r.name}: ${r.err.toExponential(2)}`);
    return res;
  } finally {
    engine.dispose();
  }
};
harness.idbLog = async (db, n) => {
  const { engine, model } = await pipeline();
  let skipped = 0;
  const ix = await engine.log(model, randomSequences(n, 3), { ...idbOpts, store: new IndexedDbStore(db), onProgress: (e) => (skipped = e.skipped ?? 0) });
  return { stored: ix.size, skipped };
};
const waiting = new Set<string>();
const holds = new Map<string, { release(): Promise<void> }>();
harness.idbLogPart = async (db, n, lo, hi, waitMs) => {
  const { engine, model } = await pipeline();
  let logged = 0, waited = false;
  try {
    const ix = await engine.log(model, randomSequences(n, 3).slice(lo, hi), {
      ...idbOpts, store: new IndexedDbStore(db), lockWaitMs: waitMs,
      onLockWait: () => ((waited = true), waiting.add(db)),
      onProgress: (e) => (waiting.delete(db), (logged = e.done - (e.skipped ?? 0))),
    });
    return { stored: ix.size, logged, waited };
  } catch (e) {
    return { stored: -1, logged, waited, error: `${(e as Error).name}: ${(e as Error).message}` };
  } finally {
    waiting.delete(db);
  }
};
harness.idbWaiting = (db) => waiting.has(db);
harness.idbHold = async (db) => {
  holds.set(db, await new IndexedDbStore(db).lock({ op: 'test' }));
};
harness.idbRelease = async (db) => {
  await holds.get(db)?.release();
  holds.delete(db);
};
harness.idbCount = async (db) => ((await new IndexedDbStore(db).readManifest())?.chunks ?? []).reduce((a, c) => a + c.rows, 0);
harness.idbCompare = async (db, n) => {
  const { engine, model } = await pipeline();
  const a = await (await engine.openIndex(new IndexedDbStore(db), model)).query(PIPE_QUERIES, { topK: 0 });
  const mem = await engine.log(model, randomSequences(n, 3), { ...idbOpts, flushMs: 60_000, store: new MemoryStore() });
  const b = await mem.query(PIPE_QUERIES, { topK: 0 });
  const col = new Map(b.trainIds.map((id, j) => [id, j]));
  let err = 0, scale = 0;
  a.trainIds.forEach((id, j) => {
    const k = col.get(id);
    if (k === undefined) throw new Error(`IndexedDB holds ${id}, which the data does not`);
    for (let i = 0; i < PIPE_QUERIES.length; i++) {
      err = Math.max(err, Math.abs(a.scores![i][j] - b.scores![i][k]));
      scale = Math.max(scale, Math.abs(b.scores![i][k]));
    }
  });
  return { err: err / scale, unique: new Set(a.trainIds).size, total: a.trainIds.length };
};

harness.concurrentRuns = async () => {
  const { engine, model } = await pipeline();
  const b = engine.backend;
  const rel = (x: Float32Array, y: Float32Array) => {
    let e = 0, m = 0;
    for (let i = 0; i < x.length; i++) {
      e = Math.max(e, Math.abs(x[i] - y[i]));
      m = Math.max(m, Math.abs(y[i]));
    }
    return e / m;
  };
  const mats = Array.from({ length: 6 }, (_, i) => b.tensor(Float32Array.from({ length: 64 * 48 }, (_, j) => Math.sin(i * 7 + j)), [64, 48]));
  const one = async (t: (typeof mats)[number]) => b.read(await b.gemm(t, t, { transB: true }));
  const seq: Float32Array[] = [];
  for (const t of mats) seq.push(await one(t));
  const par = await Promise.all(mats.map(one));
  const gemm = Math.max(...par.map((p, i) => rel(p, seq[i])));
  const ix = await engine.log(model, randomSequences(12, 5), { ...idbOpts, store: new MemoryStore() });
  const qa = PIPE_QUERIES.slice(0, 1), qb = PIPE_QUERIES.slice(1, 2);
  const [ra, rb] = await Promise.all([ix.query(qa, { topK: 0 }), ix.query(qb, { topK: 0 })]);
  const sa = await ix.query(qa, { topK: 0 }), sb = await ix.query(qb, { topK: 0 });
  const query = Math.max(...[[ra, sa], [rb, sb]].flatMap(([p, s]) => p.scores!.map((row, i) => rel(row, s.scores![i]))));
  return { gemm, query };
};

window.harness = harness;
say(`ready (crossOriginIsolated: ${harness.crossOriginIsolated})`);
