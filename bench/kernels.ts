// Kernel benchmark, one run per runtime: GEMM GFLOP/s of our WGSL kernel vs onnxruntime-web's own MatMul on the
// same adapter and device (WebGPU EP) vs the CPU backend (ORT wasm MatMul graphs); the fused LoGra projection vs the
// dense TRAK-style baseline at GPT-2-small MLP widths (d_in 768 -> d_out 3072, k_in = k_out = 64, T = 128) as a
// throughput ratio; eigendecomposition time for n = 256, 1024, 4096 for each placement: the CPU backend's blocked
// Householder + divide and conquer with ORT-wasm GEMMs (the 'host' placement of the WebGPU backend too), the
// WebGPU 'hybrid' placement (same algorithm, our WGSL GEMMs), WGSL parallel Jacobi, and the old float64
// Householder + QL reference, with accuracy (||AV - VW||/||A||, ||V^T V - I||_F, checked with float64 ORT GEMMs up
// to n = 1024, or always with --check-all); blocked Cholesky + solve (the damped preconditioner) for n = 1024, 4096.
// A measurement whose time predicted from the previous size (n^3) exceeds the budget is skipped with a note
// (software adapters: Jacobi and hybrid stop before 4096); the CPU backend's eigh runs every size.
//   Node (Dawn):      npx tsx bench/kernels.ts [--quick] [--budget 90] [--check-all] [--json out.json]
//   Deno (wgpu):      node scripts/deno.js run --allow-read --allow-env --allow-write=/tmp bench/kernels.ts
//   Chromium:         KERNELS_BENCH=1 npx playwright test test/e2e/kernels-bench.spec.ts
// Dense baseline scaling: its dense projection R [k, d_in d_out] (4096 x 2.4M) is regenerated on the fly (TRAK's
// fast_jl approach; it cannot be stored); the run times k' rows of R and extrapolates linearly to k = 4096 (rows
// are independent, so the cost is exactly proportional). The per-example gradient is timed at full size.
import { GpuContext } from '../src/gpu/device.ts';
import { fromHost, type GpuTensor } from '../src/gpu/tensor.ts';
import { jsRuntime } from '../src/gpu/runtime.ts';
import { prepareNodeForOrtWebGpu, webGpuEp } from '../src/gpu/ort-share.ts';
import { gemm } from '../src/kernels/gemm.ts';
import { loGraProject, perExampleGrad, denseProject } from '../src/kernels/logra.ts';
import { eigh, eighHybrid } from '../src/kernels/eigh.ts';
import { whitener } from '../src/kernels/cholesky.ts';
import { CpuBackend, CpuTensor } from '../src/kernels/cpu-backend.ts';
import { refEigh } from '../src/kernels/reference/eigh.ts';
import { blockedEigh } from '../src/kernels/eigh-blocked.ts';
import { OrtLinalg } from '../src/kernels/eigh-host.ts';
import { OrtGraphs } from '../src/kernels/ort-graphs.ts';
import { normalRows } from '../src/kernels/reference/rng.ts';
import { loadOrt } from '../src/runtime/ort.ts';
import { onnx, Long, encodeModel } from '../src/onnx/codec.ts';
import { Graph } from '../src/onnx/graph.ts';
import { DataType } from '../src/onnx/tensor.ts';

export interface BenchOptions {
  quick?: boolean;
  /** seconds: skip a measurement whose predicted time exceeds this (default 90; not applied to the CPU backend's eigh) */
  budgetS?: number;
  /** check eigh accuracy at every size (float64 GEMMs; ~1 min extra at n = 4096) */
  checkAll?: boolean;
  log?: (line: string) => void;
}

export interface BenchRow {
  section: 'gemm' | 'logra' | 'eigh' | 'cholesky';
  what: string;
  impl: string;
  ms: number | null;
  value: number | null;
  unit: string;
  note?: string;
}

const now = () => performance.now();

/** Best of `reps` after one warm-up (GPU work is awaited inside fn). */
async function best(fn: () => Promise<void>, reps: number): Promise<number> {
  const t0 = now();
  await fn();
  if (reps === 0) return now() - t0;
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = now();
    await fn();
    b = Math.min(b, now() - t);
  }
  return b;
}

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  });
}

function matmulModel(): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: Long.fromNumber(17) })],
    graph: onnx.GraphProto.create({ name: 'matmul', node: [], initializer: [], input: [], output: [] }),
  });
  const g = new Graph(model);
  g.addInput('A', DataType.FLOAT, ['m', 'k']);
  g.addInput('B', DataType.FLOAT, ['k', 'n']);
  g.addOutput(g.op('MatMul', ['A', 'B']), DataType.FLOAT);
  return encodeModel(model);
}

export async function runKernelBench(opts: BenchOptions = {}): Promise<{ rows: BenchRow[]; markdown: string; header: string }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const budget = (opts.budgetS ?? 90) * 1000;
  const reps = opts.quick ? 1 : 3;
  const rows: BenchRow[] = [];
  const add = (r: BenchRow) => {
    rows.push(r);
    log(`  ${r.section} | ${r.what} | ${r.impl} | ${r.ms === null ? '-' : r.ms.toFixed(1) + ' ms'} | ${r.value === null ? '-' : r.value.toPrecision(4)} ${r.unit}${r.note ? ` | ${r.note}` : ''}`);
  };
  const ctx = await GpuContext.acquire();
  const restoreNav = await prepareNodeForOrtWebGpu(ctx.device);
  const cpu = await CpuBackend.create();
  const header = `runtime: ${jsRuntime()}; adapter: ${JSON.stringify(ctx.adapter)}; shader-f16: ${ctx.f16}; cpu: ${cpu.description}`;
  log(header);
  try {
    // ---------------- GEMM ----------------
    let ortGpu: Awaited<ReturnType<typeof loadOrt>> | null = null;
    let ortGpuErr = '';
    try {
      ortGpu = await loadOrt('webgpu');
    } catch (e) {
      ortGpuErr = (e as Error).message;
    }
    const sizes = opts.quick ? [256, 512] : [256, 512, 1024];
    for (const n of sizes) {
      const flops = 2 * n ** 3;
      const A = rand(n * n, 1), B = rand(n * n, 2);
      const a = fromHost(ctx, A, [n, n]), b = fromHost(ctx, B, [n, n]);
      const c = fromHost(ctx, new Float32Array(n * n), [n, n]);
      const tOurs = await best(async () => {
        await gemm(ctx, a, b, { c });
        await ctx.sync();
      }, reps);
      add({ section: 'gemm', what: `${n}^3 f32`, impl: 'ours (WGSL)', ms: tOurs, value: flops / tOurs / 1e6, unit: 'GFLOP/s' });
      if (ortGpu) {
        try {
          const ort = ortGpu;
          const session = await ort.InferenceSession.create(matmulModel(), {
            executionProviders: [webGpuEp(ctx) as unknown as string],
            preferredOutputLocation: 'gpu-buffer',
          });
          const ta = ort.Tensor.fromGpuBuffer(a.buffer, { dataType: 'float32', dims: [n, n] });
          const tb = ort.Tensor.fromGpuBuffer(b.buffer, { dataType: 'float32', dims: [n, n] });
          const tOrt = await best(async () => {
            const r = await session.run({ A: ta, B: tb });
            await ctx.device.queue.onSubmittedWorkDone();
            for (const v of Object.values(r)) v.dispose();
          }, reps);
          add({ section: 'gemm', what: `${n}^3 f32`, impl: 'ORT-web MatMul, WebGPU EP (same device)', ms: tOrt, value: flops / tOrt / 1e6, unit: 'GFLOP/s', note: `ours / ORT = ${(tOrt / tOurs).toFixed(2)}x` });
          await session.release();
        } catch (e) {
          add({ section: 'gemm', what: `${n}^3 f32`, impl: 'ORT-web MatMul, WebGPU EP', ms: null, value: null, unit: 'GFLOP/s', note: `failed: ${(e as Error).message.slice(0, 120)}` });
        }
      } else add({ section: 'gemm', what: `${n}^3 f32`, impl: 'ORT-web MatMul, WebGPU EP', ms: null, value: null, unit: 'GFLOP/s', note: `unavailable: ${ortGpuErr.slice(0, 120)}` });
      const ca = new CpuTensor(A, [n, n]), cb = new CpuTensor(B, [n, n]);
      const tCpu = await best(async () => {
        await cpu.gemm(ca, cb);
      }, reps);
      add({ section: 'gemm', what: `${n}^3 f32`, impl: 'CPU backend (ORT wasm MatMul)', ms: tCpu, value: flops / tCpu / 1e6, unit: 'GFLOP/s', note: `ours / CPU = ${(tCpu / tOurs).toFixed(2)}x` });
      for (const t of [a, b, c]) t.dispose();
    }

    // ---------------- LoGra vs dense ----------------
    const Bsz = 4, T = 128, dIn = 768, dOut = 3072, kIn = 64, kOut = 64;
    const k = kIn * kOut, D = dIn * dOut;
    const x = rand(Bsz * T * dIn, 3), dy = rand(Bsz * T * dOut, 4);
    const pIn = rand(kIn * dIn, 5), pOut = rand(kOut * dOut, 6);
    const what = `B=${Bsz} T=${T} ${dIn}->${dOut} k=${kIn}x${kOut}`;
    {
      const taps = { x: fromHost(ctx, x, [Bsz, T, dIn]), dy: fromHost(ctx, dy, [Bsz, T, dOut]) };
      const pi = fromHost(ctx, pIn, [kIn, dIn]), po = fromHost(ctx, pOut, [kOut, dOut]);
      let g: GpuTensor | undefined;
      const tLogra = await best(async () => {
        g?.dispose();
        g = (await loGraProject(ctx, taps, pi, po)).g;
        await ctx.sync();
      }, reps);
      add({ section: 'logra', what, impl: 'WebGPU: LoGra fused', ms: tLogra, value: (Bsz / tLogra) * 1000, unit: 'examples/s' });
      let dw: GpuTensor | undefined;
      const tGrad = await best(async () => {
        dw?.dispose();
        dw = await perExampleGrad(ctx, taps);
        await ctx.sync();
      }, opts.quick ? 0 : 1);
      const kPrime = 4;
      const t0 = now();
      (await denseProject(ctx, dw!, { seed: 1, layer: 0, kIn: 1, kOut: kPrime, mode: 'onthefly' })).dispose();
      await ctx.sync();
      const tProj = ((now() - t0) * k) / kPrime;
      const tDense = tGrad + tProj;
      add({
        section: 'logra',
        what,
        impl: 'WebGPU: dense baseline',
        ms: tDense,
        value: (Bsz / tDense) * 1000,
        unit: 'examples/s',
        note: `grad ${tGrad.toFixed(0)} ms + R on the fly ${kPrime} of ${k} rows timed, x${k / kPrime}; LoGra / dense = ${(tDense / tLogra).toFixed(0)}x`,
      });
      for (const t of [taps.x, taps.dy, pi, po, g, dw]) t?.dispose();
    }
    {
      const taps = { x: new CpuTensor(x, [Bsz, T, dIn]), dy: new CpuTensor(dy, [Bsz, T, dOut]) };
      const pi = new CpuTensor(pIn, [kIn, dIn]), po = new CpuTensor(pOut, [kOut, dOut]);
      const tLogra = await best(async () => {
        await cpu.loGraProject(taps, pi, po);
      }, reps);
      add({ section: 'logra', what, impl: 'CPU: LoGra (one ORT graph)', ms: tLogra, value: (Bsz / tLogra) * 1000, unit: 'examples/s' });
      let t0 = now();
      const dw = await cpu.gemm(taps.dy, taps.x, { transA: true });
      const tGrad = now() - t0;
      const kPrime = 2;
      t0 = now();
      const r = new CpuTensor(normalRows({ seed: 1, layer: 0, role: 'dense', rows: k, cols: D }, 0, kPrime), [kPrime, D]);
      await cpu.gemm(new CpuTensor(dw.data, [Bsz, D]), r, { transB: true });
      const tProj = ((now() - t0) * k) / kPrime;
      const tDense = tGrad + tProj;
      add({
        section: 'logra',
        what,
        impl: 'CPU: dense baseline',
        ms: tDense,
        value: (Bsz / tDense) * 1000,
        unit: 'examples/s',
        note: `grad ${tGrad.toFixed(0)} ms + R ${kPrime} of ${k} rows timed, x${k / kPrime}; LoGra / dense = ${(tDense / tLogra).toFixed(0)}x`,
      });
    }

    // ---------------- eigendecomposition ----------------
    const eigSizes = opts.quick ? [256, 1024] : [256, 1024, 4096];
    const graphs = await OrtGraphs.create();
    const la32 = new OrtLinalg(graphs.ort, 'f32'), la64 = new OrtLinalg(graphs.ort, 'f64');
    const spd = async (n: number) => {
      // A = G G^T / n + 1e-3 I (float32; timing depends little on the spectrum)
      const g = rand(n * n, n);
      const a = Float32Array.from(await la32.matmul(g, g, n, n, n, false, true));
      for (let i = 0; i < n * n; i++) a[i] /= n;
      for (let i = 0; i < n; i++) a[i * n + i] += 1e-3;
      return a;
    };
    /** ||A V - V diag(w)||_F / ||A||_F and ||V^T V - I||_F with float64 ORT GEMMs */
    const accuracy = async (a: Float32Array, n: number, w: ArrayLike<number>, v: Float32Array) => {
      const av = await la64.matmul(a, v, n, n, n, false, false);
      const vtv = await la64.matmul(v, v, n, n, n, true, false);
      let num = 0, den = 0, orth = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          num += (av[i * n + j] - v[i * n + j] * w[j]) ** 2;
          den += a[i * n + j] ** 2;
          orth += (vtv[i * n + j] - (i === j ? 1 : 0)) ** 2;
        }
      return `residual ${Math.sqrt(num / den).toExponential(1)}, orthogonality ${Math.sqrt(orth).toExponential(1)}`;
    };
    const impls = ['CPU backend: blocked Householder + D&C (ORT f32 GEMMs)', 'WebGPU hybrid: blocked + D&C (WGSL GEMMs)', 'WebGPU Jacobi (f32)', 'float64 Householder + QL (JS reference)'] as const;
    for (const impl of impls) {
      let prev: { n: number; ms: number } | null = null;
      // the CPU backend's solver always runs every size (n = 4096 takes minutes on 2 busy cores, not hours)
      const cpuImpl = impl.startsWith('CPU backend');
      for (const n of eigSizes) {
        const predicted = prev ? prev.ms * (n / prev.n) ** 3 : 0;
        const implBudget = budget;
        if (!cpuImpl && predicted > implBudget) {
          add({ section: 'eigh', what: `n=${n}`, impl, ms: null, value: null, unit: 's', note: `skipped: predicted ${(predicted / 1000).toFixed(0)} s > budget ${implBudget / 1000} s${impl.startsWith('WebGPU') && ctx.adapter.isFallbackAdapter ? ' (software adapter: use the host placement)' : ''}` });
          continue;
        }
        const a = await spd(n);
        const t0 = now();
        const phases: string[] = [];
        let w: ArrayLike<number> = [], v: Float32Array | null = null;
        if (impl.startsWith('CPU backend')) {
          const r = await blockedEigh(a, n, la32, { onPhase: (p, ms) => phases.push(`${p} ${(ms / 1000).toFixed(1)} s`) });
          w = r.values;
          v = Float32Array.from(r.vectors);
        } else if (impl.startsWith('WebGPU hybrid')) {
          const t = fromHost(ctx, a, [n, n]);
          const r = await eighHybrid(ctx, t, { onPhase: (p, ms) => phases.push(`${p} ${(ms / 1000).toFixed(1)} s`) });
          w = r.values;
          v = await r.vectors.read();
          r.vectors.dispose();
          t.dispose();
        } else if (impl.startsWith('WebGPU Jacobi')) {
          const t = fromHost(ctx, a, [n, n]);
          const r = await eigh(ctx, t);
          w = r.values;
          v = await r.vectors.read();
          phases.push(`${r.sweeps} sweeps`);
          r.vectors.dispose();
          t.dispose();
        } else {
          const r = refEigh(a, n);
          w = r.values;
          v = Float32Array.from(r.vectors);
        }
        const ms = now() - t0;
        if (v && (n <= 1024 || opts.checkAll)) phases.push(await accuracy(a, n, w, v));
        add({ section: 'eigh', what: `n=${n}`, impl, ms, value: ms / 1000, unit: 's', note: phases.join('; ') });
        prev = { n, ms };
      }
    }

    // ---------------- damped preconditioner: whitener L^{-T} (blocked Cholesky + triangular inverse) ----------------
    for (const n of opts.quick ? [1024] : [1024, 4096]) {
      const a = await spd(n);
      const lambda = 0.1;
      {
        const t0 = now();
        await cpu.whitener(new CpuTensor(a, [n, n]), lambda);
        const ms = now() - t0;
        add({ section: 'cholesky', what: `n=${n}, whitener`, impl: 'CPU backend: blocked Cholesky + triangular inverse (f64, ORT f64 GEMMs)', ms, value: ms / 1000, unit: 's' });
      }
      if (n <= 1024 || !ctx.adapter.isFallbackAdapter) {
        const t = fromHost(ctx, a, [n, n]);
        const t0 = now();
        const x = await whitener(ctx, t, lambda);
        await ctx.sync();
        const ms = now() - t0;
        add({ section: 'cholesky', what: `n=${n}, whitener`, impl: 'WebGPU: blocked Cholesky + forward solves of I (f32)', ms, value: ms / 1000, unit: 's' });
        for (const z of [t, x]) z.dispose();
      } else add({ section: 'cholesky', what: `n=${n}, whitener`, impl: 'WebGPU: blocked Cholesky + forward solves of I (f32)', ms: null, value: null, unit: 's', note: 'skipped on the software adapter' });
    }
    await la32.dispose();
    await la64.dispose();
    await graphs.dispose();
  } finally {
    cpu.dispose();
    ctx.destroy();
    restoreNav();
  }
  const markdown = [
    '| section | problem | implementation | time | throughput | note |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.section} | ${r.what} | ${r.impl} | ${r.ms === null ? '-' : r.ms.toFixed(1) + ' ms'} | ${r.value === null ? '-' : `${r.value.toPrecision(4)} ${r.unit}`} | ${r.note ?? ''} |`),
  ].join('\n');
  return { rows, markdown, header };
}

// ---- CLI (Node via tsx, Deno) ----
const g = globalThis as { Deno?: { args: string[]; writeTextFile(p: string, s: string): Promise<void>; exit(c: number): never }; process?: { argv: string[]; exit(c: number): never } };
const isMain = (import.meta as { main?: boolean }).main === true || (!!g.process?.argv?.[1] && /bench[\\/]kernels\.ts$/.test(g.process.argv[1]) && !g.Deno);
if (isMain) {
  const args = g.Deno?.args ?? g.process!.argv.slice(2);
  const val = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const res = await runKernelBench({ quick: args.includes('--quick'), budgetS: val('--budget') ? Number(val('--budget')) : undefined, checkAll: args.includes('--check-all') });
  console.log(`\n${res.header}\n\n${res.markdown}`);
  const json = val('--json');
  if (json) {
    const text = JSON.stringify({ header: res.header, rows: res.rows }, null, 2);
    if (g.Deno) await g.Deno.writeTextFile(json, text);
    else {
      const fsSpec = 'node:fs/promises';
      await ((await import(/* @vite-ignore */ fsSpec)) as typeof import('node:fs/promises')).writeFile(json, text);
    }
  }
  // ORT's wasm threads keep Node alive
  if (g.process && !g.Deno) g.process.exit(0);
}
