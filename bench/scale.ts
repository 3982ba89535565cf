// A real model end to end, in Node, Deno and Chromium (issue 11): GPT-2-small's shape (bench/models/gpt2-small.onnx,
// `/usr/bin/python3 bench/make_models.py gpt2-small`; 124M parameters, 49 linear layers, vocab 50,257, context 1,024;
// random weights) logged at k 64 x 64 over every linear layer, fitted raw and EKFAC, queried; times and memory.
// Memory: Node, the process's peak resident set (getrusage); Deno, VmHWM of /proc/self/status; Chromium, the page's
// memory by performance.measureUserAgentSpecificMemory() (JS heaps and wasm memories; the page is cross-origin
// isolated) sampled after each step, the highest kept.
//   Node:     npx tsx bench/scale.ts [--model bench/models/gpt2-small.onnx | DIR] [--examples 32] [--tokens 128] [--k 64]
//             [--queries 4] [--ep auto|native|wasm] [--vocab 50257] [--name text] [--json out.json]
//   the 0.5B Llama-style folder (`bench/make_models.py llama-0.5b`): --model bench/models/llama-0.5b --vocab 32000 --k 16
//   Deno:     node scripts/deno.js run -A bench/scale.ts ...        (-A: onnxruntime-node needs --allow-ffi)
//   Chromium: SCALE_BENCH=1 npx playwright test test/e2e/scale-bench.spec.ts
import { createEngine, type Engine, type HessianKind, type LoadedModel } from '../src/logra/mod.ts';
import type { LogStore } from '../src/store/store.ts';
import { MemoryStore } from '../src/store/memory.ts';
import type { ExecutionProviderChoice } from '../src/runtime/ort.ts';
import { randomSequences, table } from './support/common.ts';

export interface ScaleBenchOptions {
  /** loads the model (the engine keeps no copy of its files: give it a way to read them again) */
  load: (engine: Engine) => Promise<LoadedModel>;
  /** what the model is, for the report */
  name?: string;
  examples?: number;
  tokens?: number;
  queries?: number;
  k?: number;
  vocab?: number;
  ep?: ExecutionProviderChoice;
  store?: () => LogStore;
  /** peak memory so far in bytes, and what it measures */
  memory: () => Promise<{ bytes: number; what: string }>;
  log?: (line: string) => void;
  runtime: string;
}

export async function runScaleBench(o: ScaleBenchOptions): Promise<{ markdown: string; json: Record<string, unknown> }> {
  const log = o.log ?? ((s: string) => console.log(s));
  const N = o.examples ?? 32, T = o.tokens ?? 128, Q = o.queries ?? 4, K = o.k ?? 64;
  const now = () => performance.now();
  const engine = await createEngine({ backend: 'cpu', ep: o.ep ?? 'auto' });
  const steps: { step: string; s: number; memMiB: number; note?: string }[] = [];
  let peak = 0, what = '';
  const step = async <R>(name: string, fn: () => Promise<R>, note?: (r: R) => string): Promise<R> => {
    const t = now();
    const r = await fn();
    const s = (now() - t) / 1000;
    const m = await o.memory();
    peak = Math.max(peak, m.bytes);
    what = m.what;
    steps.push({ step: name, s, memMiB: m.bytes / 2 ** 20, note: note?.(r) });
    log(`${name}: ${s.toFixed(1)} s, ${(m.bytes / 2 ** 20).toFixed(0)} MiB (${m.what})${note ? `; ${note(r)}` : ''}`);
    return r;
  };
  const vocab = o.vocab ?? 50257;
  const train = randomSequences(N, vocab, T, T, 21, 't');
  const queries = randomSequences(Q, vocab, T, T, 22, 'q');
  const model = await step('load model', () => o.load(engine), (m) => `${m.layers.length} layers tapped (${m.layers.reduce((a, l) => a + l.dIn * l.dOut, 0).toLocaleString('en-US')} weights), model runs on ${engine.ep}`);
  const store = o.store?.() ?? new MemoryStore('scale');
  const index = await step(`log ${N} x ${T} tokens, k ${K}x${K}`, () => engine.log(model, train, { store, kIn: K, kOut: K, hessian: 'raw', dtype: 'f16' }), (ix) => `rows of ${ix.manifest.cols.toLocaleString('en-US')} values`);
  steps[steps.length - 1].note = `${((N * T) / steps[steps.length - 1].s).toFixed(1)} tokens/s; ${steps[steps.length - 1].note}`;
  const out: Record<string, unknown> = {};
  for (const hessian of ['raw', 'ekfac'] as HessianKind[]) {
    const st = await step(`fit ${hessian} + self-influence`, () => index.fit({ hessian }), (s) => `forms ${[...new Set(s.forms)].join('/')}`);
    const r = await step(`query ${Q} x ${T} tokens (${hessian})`, () => index.query(queries, { topK: 5, mode: 'cosine' }), (r) => `top-1 of query 0: ${r.top[0][0].id}`);
    out[hessian] = { forms: st.forms, top: r.top.map((t) => t.map((i) => i.id)) };
  }
  await model.release();
  engine.dispose();
  const md = table(['step', 'seconds', `memory after (MiB, ${what})`, 'note'], steps.map((s) => [s.step, s.s.toFixed(1), s.memMiB.toFixed(0), s.note ?? '']));
  const header = `${o.runtime}: ${o.name ?? 'GPT-2-small shape'}, ${N} train x ${T} tokens, ${Q} queries, k ${K}x${K} on every linear layer, ep ${engine.ep}, kernel backend ${engine.backend.description}; peak ${(peak / 2 ** 20).toFixed(0)} MiB (${what})`;
  log(`\n${header}\n${md}`);
  return { markdown: `${header}\n\n${md}`, json: { runtime: o.runtime, model: o.name ?? 'GPT-2-small shape', ep: engine.ep, backend: engine.backend.description, examples: N, tokens: T, queries: Q, k: K, steps, peakMiB: peak / 2 ** 20, memory: what, results: out } };
}

// ---- CLI (Node via tsx, Deno); Chromium: test/e2e/scale-bench.spec.ts ----
const g = globalThis as { Deno?: { args: string[]; readTextFile(p: string): Promise<string>; readFile(p: string): Promise<Uint8Array>; version: { deno: string } }; process?: { argv: string[]; versions?: { node?: string }; resourceUsage?: () => { maxRSS: number } } };
const isMain = (import.meta as { main?: boolean }).main === true || (!!g.process?.argv?.[1] && /bench[\\/]scale\.ts$/.test(g.process.argv[1]) && !g.Deno);
if (isMain) {
  const { exit, opt, writeJson } = await import('./support/common.ts');
  const path = opt('--model') ?? 'bench/models/gpt2-small.onnx';
  const read = async () => {
    if (g.Deno) return g.Deno.readFile(path);
    const { readFile } = await import('node:fs/promises');
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
  // a model folder (config.json, onnx/model.onnx + external data) or one .onnx file
  const load = async (engine: Engine) => (path.endsWith('.onnx') ? engine.loadModel(await read(), { source: path, reload: async () => ({ bytes: await read() }) }) : engine.loadModelFrom(path));
  const memory = async () => {
    if (g.Deno) {
      const m = /VmHWM:\s+(\d+) kB/.exec(await g.Deno.readTextFile('/proc/self/status'));
      return { bytes: Number(m?.[1] ?? 0) * 1024, what: 'peak RSS (VmHWM)' };
    }
    return { bytes: g.process!.resourceUsage!().maxRSS * 1024, what: 'peak RSS' };
  };
  const res = await runScaleBench({
    load,
    name: opt('--name'),
    vocab: opt('--vocab') ? Number(opt('--vocab')) : undefined,
    examples: Number(opt('--examples') ?? 32),
    tokens: Number(opt('--tokens') ?? 128),
    queries: Number(opt('--queries') ?? 4),
    k: Number(opt('--k') ?? 64),
    ep: (opt('--ep') ?? 'auto') as ExecutionProviderChoice,
    memory,
    runtime: g.Deno ? `Deno ${g.Deno.version.deno}` : `Node ${g.process?.versions?.node}`,
  });
  const jsonPath = opt('--json');
  if (jsonPath) await writeJson(jsonPath, res.json);
  exit(0);
}
