// Efficiency in the shape of the seed's Table 1, on the demo model (public/model/model.onnx: 4 blocks, width 256,
// vocab 4096) and a GPT-2-small-width configuration scaled down to fit this machine (1 block of width 768, 12 heads,
// vocab 512, context 64; random weights). Synthetic uniform token data. Per configuration, each method timed over the
// same examples (median of interleaved rounds after a warm-up) with peak memory sampled every 5 ms:
//  (a) plain fwd+bwd: the trainer's gradient pass (Trainer.gradients: forward, summed loss, backward to every
//      parameter);
//  (b) LoGra logging: engine.log, k_in = k_out = 16, random init (store in memory);
//  (c) TRAK-style: full per-example weight gradients of the same tapped layers (TapModel weightGrads) + a dense
//      Gaussian projection of the flattened gradient to the same number of floats per example as (b) stores; the
//      projection matrix R [k, D] is regenerated on the fly (it cannot be stored: D = every tapped weight): k' rows
//      are timed and the time scaled by k / k' (rows are independent, so the cost is exactly proportional);
//  (d) EKFAC fitting on the logged index (KFAC eigenbases + eigenvalue correction from the stored rows), and KFAC
//      for reference; timed once.
// Memory: the resident set's growth during a method's first (warm-up) run, when its buffers and onnxruntime-web's
// wasm memory are first allocated (wasm memory only grows, so this depends on the order: methods run in the order
// above), and the peak JS heap (heapUsed, absolute, sampled every 5 ms) over all its runs. GPU buffer bytes: the CPU
// backend has no GPU buffers (no WebGPU adapter here except software ones, where the CPU backend is the fast path).
// Influence throughput (store vs recompute) is bench/pipeline.ts's section (ii).
//   Node:  npx tsx bench/efficiency.ts [--quick] [--json bench/results/efficiency.json]
//   Deno:  node scripts/deno.js run --allow-read --allow-env --allow-net=127.0.0.1 --allow-write=/tmp,bench/results bench/efficiency.ts
import { readFile } from 'node:fs/promises';
import { createEngine, type LograIndex } from '../src/logra/mod.ts';
import { MemoryStore } from '../src/store/memory.ts';
import { buildGpt2, type Gpt2Config } from '../src/train/gpt2.ts';
import { Trainer } from '../src/train/trainer.ts';
import { decodeModel, encodeModel } from '../src/onnx/codec.ts';
import { TapModel } from '../src/runtime/taps.ts';
import { hardwareThreads } from '../src/runtime/ort.ts';
import type { LmExample } from '../src/runtime/batch.ts';
import { CpuBackend, CpuTensor } from '../src/kernels/cpu-backend.ts';
import { normalRows } from '../src/kernels/reference/rng.ts';
import type { ModelProto } from '../src/onnx/codec.ts';
import { exit, flag, opt, randomSequences, runtimeName, table, writeJson } from './support/common.ts';

const quick = flag('--quick');
const jsonPath = opt('--json');
const B = 4;
const N = quick ? 8 : 16;
const ROUNDS = quick ? 1 : 3;
const K = 16;
const K_PRIME = 2;

const now = () => performance.now();
const log = (s: string) => console.log(s);
const sig = (v: number) => (v >= 100 ? v.toFixed(0) : v.toPrecision(3));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const G = globalThis as { Deno?: { memoryUsage(): { rss: number; heapUsed: number } }; process?: { memoryUsage(): { rss: number; heapUsed: number } } };
const mem = () => (G.Deno ? G.Deno.memoryUsage() : G.process!.memoryUsage());

/** Runs fn while sampling memory; returns ms and the peak rss / heap above the level before. */
async function sampled(fn: () => Promise<void>): Promise<{ ms: number; rssMB: number; heapMB: number; heapAbsMB: number }> {
  const base = mem();
  let rss = base.rss, heap = base.heapUsed;
  const timer = setInterval(() => {
    const m = mem();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }, 5);
  const t = now();
  await fn();
  const ms = now() - t;
  clearInterval(timer);
  const m = mem();
  rss = Math.max(rss, m.rss);
  heap = Math.max(heap, m.heapUsed);
  return { ms, rssMB: (rss - base.rss) / 2 ** 20, heapMB: (heap - base.heapUsed) / 2 ** 20, heapAbsMB: heap / 2 ** 20 };
}

interface Config { name: string; desc: string; model: ModelProto; params: string[]; T: number; vocab: number }

async function configs(): Promise<Config[]> {
  const demoCfg: Gpt2Config = { vocab: 4096, nEmbd: 256, nHead: 8, nLayer: 4, nPositions: 64, seed: 1 }; // parameter names only (public/model/README.md)
  const demo = decodeModel(await readFile(new URL('../public/model/model.onnx', import.meta.url)), 'public/model/model.onnx');
  const wideCfg: Gpt2Config = { vocab: 512, nEmbd: 768, nHead: 12, nLayer: 1, nPositions: 64, seed: 0 };
  const wide = buildGpt2(wideCfg);
  return [
    { name: 'demo', desc: 'public/model/model.onnx (4 blocks, width 256, vocab 4096, trained)', model: demo, params: buildGpt2(demoCfg).params, T: 64, vocab: 4096 },
    { name: 'gpt2-small-width', desc: 'buildGpt2 1 block, width 768, 12 heads, vocab 512 (GPT-2-small width, 1 of 12 blocks; random weights)', model: wide.model, params: wide.params, T: quick ? 32 : 64, vocab: 512 },
  ];
}

const engine = await createEngine({ backend: 'cpu' });
const cpu = await CpuBackend.create();
const header = `runtime: ${runtimeName()}; ORT wasm (${hardwareThreads()} threads); kernel backend: ${engine.backend.description}; ${N} examples per pass, batches of ${B}, median of ${ROUNDS} round(s) after a warm-up`;
log(header);
const results: Record<string, unknown>[] = [];
const mdRows: string[][] = [];
for (const c of await configs()) {
  const bytes = encodeModel(c.model);
  const data = randomSequences(N, c.vocab, c.T, c.T, 1, 'e');
  const tokens = N * c.T;
  const batches = Array.from({ length: N / B }, (_, i) => data.slice(i * B, (i + 1) * B)) as LmExample[][];
  const tr = await Trainer.create(c.model, c.params, { lr: 1e-3, warmup: 1, totalSteps: 1 });
  const model = await engine.loadModel(bytes, { task: 'causal-lm' });
  const grads = await TapModel.create(bytes, { task: 'causal-lm', taps: false, weightGrads: true });
  const D = model.layers.reduce((a, l) => a + l.dIn * l.dOut, 0);
  const kTot = model.layers.reduce((a, l) => a + Math.min(K, l.dIn) * Math.min(K, l.dOut), 0);
  log(`\n## ${c.name}: ${c.desc}; ${model.layers.length} tapped layers, ${D.toLocaleString('en-US')} tapped weights; ${N} x ${c.T} tokens`);
  let ix: LograIndex | null = null;
  let denseProjMs = 0;
  const methods: { name: string; run: () => Promise<void> }[] = [
    { name: '(a) plain fwd+bwd (trainer gradient pass)', run: async () => { for (const b of batches) await tr.gradients(b); } },
    { name: `(b) LoGra logging, k=${K} (engine.log)`, run: async () => { ix = await engine.log(model, data, { store: new MemoryStore('eff'), init: 'random', kIn: K, kOut: K, hessian: 'ekfac', batchSize: B, seed: 0 }); } },
    {
      name: `(c) per-example full gradient + dense projection to ${kTot} (TRAK-style)`,
      run: async () => {
        denseProjMs = 0;
        for (const b of batches) {
          const o = await grads.run(b);
          const flat = new Float32Array(B * D);
          for (let e = 0; e < o.B; e++) {
            let off = e * D;
            for (const l of o.layers) {
              const per = l.layer.dIn * l.layer.dOut;
              flat.set(l.grad!.subarray(e * per, (e + 1) * per), off);
              off += per;
            }
          }
          const t = now();
          const r = new CpuTensor(normalRows({ seed: 1, layer: 0, role: 'dense', rows: kTot, cols: D }, 0, K_PRIME), [K_PRIME, D]);
          await cpu.gemm(new CpuTensor(flat, [B, D]), r, { transB: true });
          denseProjMs += ((now() - t) * kTot) / K_PRIME;
        }
      },
    },
  ];
  const meas = new Map<string, { ms: number[]; rssMB: number; heapMB: number }>(methods.map((m) => [m.name, { ms: [], rssMB: 0, heapMB: 0 }]));
  const denseMs: number[] = [];
  for (const m of methods) {
    const s = await sampled(m.run); // warm-up: first allocations
    const e = meas.get(m.name)!;
    e.rssMB = s.rssMB;
    e.heapMB = s.heapAbsMB;
  }
  for (let r = 0; r < ROUNDS; r++)
    for (const m of methods) {
      const s = await sampled(m.run);
      const e = meas.get(m.name)!;
      // (c): the timed run includes k' rows of R; its full cost is the gradient pass + the scaled projection
      e.ms.push(m.name.startsWith('(c)') ? s.ms - denseProjMs * (K_PRIME / kTot) + denseProjMs : s.ms);
      if (m.name.startsWith('(c)')) denseMs.push(denseProjMs);
      e.heapMB = Math.max(e.heapMB, s.heapAbsMB);
    }
  const plainMs = median(meas.get(methods[0].name)!.ms);
  const rows: Record<string, unknown>[] = [];
  for (const m of methods) {
    const e = meas.get(m.name)!;
    const ms = median(e.ms), tps = tokens / (ms / 1000);
    rows.push({ method: m.name, ms, tokensPerS: tps, vsPlain: plainMs / ms, peakRssMB: e.rssMB, peakHeapMB: e.heapMB });
    mdRows.push([c.name, m.name, ms.toFixed(0), sig(tps), `${sig(plainMs / ms)}x`, e.rssMB.toFixed(0), e.heapMB.toFixed(0)]);
    if (m.name.startsWith('(c)')) {
      const g = ms - median(denseMs);
      rows.push({ method: '(c0) of which the per-example full gradients alone', ms: g, tokensPerS: tokens / (g / 1000), vsPlain: plainMs / g, peakRssMB: e.rssMB, peakHeapMB: e.heapMB });
      mdRows.push([c.name, '(c0) of which the per-example full gradients alone', g.toFixed(0), sig(tokens / (g / 1000)), `${sig(plainMs / g)}x`, '', '']);
    }
  }
  const loMs = median(meas.get(methods[1].name)!.ms), denseTot = median(meas.get(methods[2].name)!.ms);
  // (d) fits on the logged index
  const fit: Record<string, number> = {};
  for (const h of ['kfac', 'ekfac'] as const) {
    const s = await sampled(async () => void (await ix!.fit({ hessian: h, damping: 0.1 })));
    fit[h] = s.ms;
    mdRows.push([c.name, `(d) ${h.toUpperCase()} fit over the ${N} logged rows`, s.ms.toFixed(0), '-', '-', s.rssMB.toFixed(0), s.heapAbsMB.toFixed(0)]);
  }
  const m = await ix!.store.readManifest();
  const rowBytes = m!.chunks.reduce((a, ch) => a + ch.bytes, 0) / N;
  results.push({
    config: c.name, desc: c.desc, layers: model.layers.length, tappedWeights: D, storedFloats: kTot, tokens, rows,
    denseProjectionMs: median(denseMs), fitMs: fit, storeBytesPerExample: rowBytes, fullGradientBytes: D * 4,
    ratios: { lograVsPlain: plainMs / loMs, lograVsDense: denseTot / loMs },
  });
  log(table(['config', 'method', 'ms', 'tokens/s', 'throughput vs plain', 'rss growth, first run (MB)', 'peak JS heap (MB)'], mdRows.filter((r) => r[0] === c.name)));
  log(`  LoGra / plain throughput ${(plainMs / loMs).toFixed(3)}x; LoGra / dense ${(denseTot / loMs).toFixed(1)}x (dense projection alone ${median(denseMs).toFixed(0)} ms per pass, extrapolated from ${K_PRIME} of ${kTot} rows); stored ${rowBytes.toFixed(0)} bytes per example (full f32 gradient ${(D * 4).toLocaleString('en-US')})`);
  await tr.release();
  await grads.release();
  await model.release();
}
engine.dispose();
const markdown = table(['config', 'method', 'ms per pass', 'tokens/s', 'throughput vs plain', 'rss growth, first run (MB)', 'peak JS heap (MB)'], mdRows);
log(`\n${header}\n\n${markdown}`);
if (jsonPath) await writeJson(jsonPath, { suite: 'efficiency', runtime: runtimeName(), date: new Date().toISOString(), quick, header, configs: results, gpuBufferBytes: null, gpuNote: 'CPU backend: no GPU buffers', markdown });
exit(0);
