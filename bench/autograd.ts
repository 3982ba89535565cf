// Autograd benchmark: backward-graph build time per model, and per-batch run time of the augmented model
// (forward + loss + backward + taps) against the plain forward model, in one run, on the same runtime and EP.
//   Node (wasm):            npm run bench:autograd
//   Deno (wasm + WebGPU):   npm run bench:autograd:deno
// Options: --quick (fewer repetitions), --ep wasm|webgpu (default: every EP this runtime has).
import { readFile, readdir } from 'node:fs/promises';
import { buildAugmented } from '../src/runtime/taps.ts';
import { createSession, runtimeKind, type ExecutionProvider } from '../src/runtime/ort.ts';
import { lmBatch, classBatch, type Batch } from '../src/runtime/batch.ts';
import { toOrtFeeds } from '../src/runtime/feeds.ts';
import { decodeModel } from '../src/onnx/codec.ts';
import { Graph } from '../src/onnx/graph.ts';
import { describeInputs } from '../src/autograd/inputs.ts';

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2);
const quick = args.includes('--quick');
const epArg = args.includes('--ep') ? (args[args.indexOf('--ep') + 1] as ExecutionProvider) : undefined;
const root = new URL('..', import.meta.url);

interface Case { name: string; path: URL; B: number; T: number }

async function cases(): Promise<Case[]> {
  const out: Case[] = [];
  for (const d of (await readdir(new URL('test/fixtures/', root))).sort()) {
    if (d.includes('.')) continue;
    out.push({ name: d, path: new URL(`test/fixtures/${d}/model.onnx`, root), B: 8, T: 24 });
  }
  for (const f of (await readdir(new URL('bench/models/', root))).sort()) {
    if (f.endsWith('.onnx')) out.push({ name: f.replace('.onnx', ''), path: new URL(`bench/models/${f}`, root), B: 8, T: 64 });
  }
  return out;
}

function makeBatch(bytes: Uint8Array, B: number, T: number, withLoss: boolean): Batch {
  const g = new Graph(decodeModel(bytes));
  const inputs = describeInputs(g);
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  if (inputs.ids) {
    const ex = Array.from({ length: B }, (_, i) => ({ id: String(i), input_ids: Array.from({ length: T - (i % 3) }, () => Math.floor(rnd() * 40)) }));
    return lmBatch(inputs, ex, { withLossMask: withLoss });
  }
  const per = Number(inputs.features!.dims[1]);
  const ex = Array.from({ length: B * 8 }, (_, i) => ({ id: String(i), input: Array.from({ length: per }, () => rnd() - 0.5), label: i % 3 }));
  return classBatch(inputs, ex, { withLabels: withLoss });
}

async function timeRuns(bytes: Uint8Array, batch: Batch, ep: ExecutionProvider, reps: number, extra: Record<string, { data: Float32Array; dims: number[] }> = {}, externalData?: { path: string; data: Uint8Array }[]): Promise<number> {
  const { ort, session } = await createSession(bytes, { ep, externalData });
  try {
    const feeds = toOrtFeeds(ort, batch.feeds);
    for (const [k, v] of Object.entries(extra)) feeds[k] = new ort.Tensor('float32', v.data, v.dims);
    for (let i = 0; i < 2; i++) await session.run(feeds);
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      t.push(performance.now() - t0);
    }
    t.sort((a, b) => a - b);
    return t[Math.floor(t.length / 2)];
  } finally {
    await session.release();
  }
}

const eps: ExecutionProvider[] = epArg ? [epArg] : ['wasm', ...((globalThis.navigator as { gpu?: unknown } | undefined)?.gpu ? (['webgpu'] as const) : [])];
const reps = quick ? 3 : 10;
const K = 16;
const rows: string[] = [];
console.log(`runtime: ${runtimeKind()}  EPs: ${eps.join(', ')}  reps: ${reps} (median)`);
for (const c of await cases()) {
  const bytes = new Uint8Array(await readFile(c.path));
  const builds: number[] = [];
  let aug!: Awaited<ReturnType<typeof buildAugmented>>;
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    const t0 = performance.now();
    aug = await buildAugmented(bytes);
    builds.push(performance.now() - t0);
  }
  builds.sort((a, b) => a - b);
  const build = builds[Math.floor(builds.length / 2)];
  // LoGra in the graph: projected gradients (k_in = k_out = K) are the only large output
  // K: projection size per side
  const projected = await buildAugmented(bytes, { project: true, taps: false });
  const projFeeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  projected.model.layers.forEach((l, i) => {
    projFeeds[projected.model.outputs.pin![i]] = { data: Float32Array.from({ length: K * l.dIn }, (_, j) => Math.sin(j)), dims: [K, l.dIn] };
    projFeeds[projected.model.outputs.pout![i]] = { data: Float32Array.from({ length: K * l.dOut }, (_, j) => Math.cos(j)), dims: [K, l.dOut] };
  });
  for (const ep of eps) {
    const plainBatch = makeBatch(bytes, c.B, c.T, false);
    const plain = await timeRuns(bytes, plainBatch, ep, reps);
    const augmented = await timeRuns(aug.bytes, makeBatch(bytes, c.B, c.T, true), ep, reps, {}, aug.external);
    const logra = await timeRuns(projected.bytes, makeBatch(bytes, c.B, c.T, true), ep, reps, projFeeds, projected.external);
    rows.push(
      `| ${c.name} | ${ep} | ${aug.model.layers.length} | ${aug.model.stats.forwardNodes} -> ${aug.model.stats.forwardNodes + aug.model.stats.addedNodes} | ${build.toFixed(0)} | ${plainBatch.B}x${plainBatch.T} | ${plain.toFixed(2)} | ${augmented.toFixed(2)} | ${(augmented / plain).toFixed(2)}x | ${logra.toFixed(2)} | ${(logra / plain).toFixed(2)}x |`,
    );
    console.log(rows[rows.length - 1]);
  }
}
console.log(`\n| model | EP | taps | nodes fwd -> augmented | build ms | batch (BxT) | forward ms | fwd+bwd+taps ms | ratio | fwd+bwd+LoGra k=${K}x${K} ms | ratio |`);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
if (runtimeKind() !== 'browser') (globalThis as { process?: { exit(c: number): void } }).process?.exit(0);
