// Assembles bench/results/: reads the suites' JSON files that are present (lds.json, accuracy.json,
// pipeline.json, kernels.json, efficiency.json), writes one SVG chart per suite and RESULTS.md with the tables, the
// charts and the issue's goals (met or not, with the measured value). Missing suites are listed, not invented.
import { readFile, writeFile } from 'node:fs/promises';
import { barChart, lineChart, type Series } from './svg.ts';
import { table } from './common.ts';
import type { LdsResult } from './lds-run.ts';

const HCOLOR: Record<string, string> = { none: '#1f77b4', raw: '#d62728', kfac: '#2ca02c', ekfac: '#9467bd' };

async function readJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null; // not produced (the suite was not run)
  }
  return JSON.parse(text) as T;
}

interface PipelineJson {
  header: string;
  model: string;
  logging: { name: string; ms: number; tokensPerS: number; ratio: number; ratioWithoutSetup: number }[];
  influence: { k: number; hessian: string; N: number; Q: number; storePairs: number; recomputePairs: number; ratio: number; at1M: { ratio: number } }[];
  storage: { k: number; dtype: string; cols: number; rowBytes: number; allBytes: number }[];
}
interface KernelsJson { header: string; rows: { section: string; what: string; impl: string; ms: number | null; value: number | null; unit: string; note?: string }[] }
interface AccuracyJson {
  runtime: string;
  ks: number[];
  rows: { setting: string; init: string; k: number; noneVsDot: number; rawVsDot: number; rawVsRaw: number; rawSource: string }[];
  markdown: string;
  storage?: { setting: string; k: number; dtype: string; vsF32: number; vsExactRaw: number; bytesPerExample: number }[];
  storageMarkdown?: string;
}
interface FitScaleJson {
  header: string;
  markdown: string;
  runs: { ep: string; k: number; hessian: string; forms: string[]; logMs: number; fitMs: number; fitOverLog: number; scorePairsPerS: number; e2ePairsPerS: number; fitCalls: { factorisations: Record<string, number> } }[];
}
interface VsTorchJson {
  header: string;
  logging?: { torch: unknown; methods: { name: string; tokensPerS: number; tokensPerCpuS: number; ratioVsTorch: number; peakRssMiB: number }[] };
  influence?: { name: string; params: number; rows: number; queries: number; storePairs: number; recomputePairs: number; ratio: number; e2e: { ratio: number } }[];
}
interface ScaleJson { runtime: string; ep: string; backend: string; examples: number; tokens: number; k: number; peakMiB: number; memory: string; steps: { step: string; s: number; memMiB: number; note?: string }[] }

/** LogIX on the same CPU, one thread (issue 11's report): the comparison the issue asks the scoring to beat */
const LOGIX = { k64PairsPerS: [14_000, 17_000], k16PairsPerS: [380_000, 650_000], gpt2SmallTokensPerS: 64, gpt2SmallPeakRssMiB: 1.9 * 1024 };
interface EfficiencyJson {
  header: string;
  quick: boolean;
  configs: { config: string; desc: string; tappedWeights: number; storedFloats: number; rows: { method: string; ms: number; tokensPerS: number; vsPlain: number; peakRssMB: number; peakHeapMB: number }[]; denseProjectionMs: number; fitMs: Record<string, number>; storeBytesPerExample: number; fullGradientBytes: number; ratios: { lograVsPlain: number; lograVsDense: number } }[];
  markdown: string;
}

export interface ReportOutput {
  files: string[];
  missing: string[];
  goals: { goal: string; value: string; met: boolean | null }[];
}

const f3 = (v: number) => v.toFixed(3);
const fx = (v: number) => (v >= 100 ? v.toLocaleString('en-US', { maximumFractionDigits: 0 }) : v.toFixed(2));

export function ldsChart(r: LdsResult, d0 = r.dampings[0]): string {
  const series: Series[] = [];
  const hs = [...new Set(r.rows.map((x) => x.hessian))];
  for (const init of ['pca', 'random'] as const)
    for (const h of hs) {
      const pts = r.rows.filter((x) => x.init === init && x.hessian === h && (h === 'none' || x.damping === d0)).map((x) => [x.k, x.lds] as [number, number]);
      if (pts.length) series.push({ name: `${init} ${h}`, points: pts, dashed: init === 'random', color: HCOLOR[h] });
    }
  const refs = r.rows.filter((x) => x.init === 'identity' && (x.hessian === 'none' || x.damping === d0)).map((x) => ({ y: x.lds, label: `exact ${x.hessian}`, color: HCOLOR[x.hessian] }));
  return lineChart({
    title: `LDS vs k (KJV book classification, M = ${r.retrains.M}, damping ${d0})`,
    xLabel: 'k (k_in = k_out, log scale)', yLabel: 'LDS (mean Spearman over queries)', series, refs, log2x: true, yMin: Math.min(0, ...r.rows.map((x) => x.lds)), yMax: 1,
  });
}

interface DemoStartJson {
  date: string;
  cores: number;
  freshClone: { cloneSeconds: number; setupSeconds: number; demoUntilServedSeconds: number; totalSeconds: number };
  page: { rows: { backend: string; visit: string; indexSource: string; ready: number; warm: number; attributeAtReady: number; attributeWarm: number; saved?: number }[] };
}

interface DemoEvalJson {
  exact: number;
  /** per score mode (scripts/eval_demo.ts EVAL_MODES) */
  found: Record<string, number>;
  top: number;
}

export async function assembleReport(dir: string, o: { commands?: Record<string, string>; machine?: string } = {}): Promise<ReportOutput> {
  const files: string[] = [], missing: string[] = [];
  const goals: ReportOutput['goals'] = [];
  const md: string[] = [];
  const write = async (name: string, text: string) => {
    await writeFile(`${dir}/${name}`, text);
    files.push(name);
  };
  md.push('# Benchmark results', '');
  md.push(`Assembled by \`bench/report.ts\` on ${new Date().toISOString()} from the JSON files in this folder; how each was produced and what each figure means: ../README.md.`);
  if (o.machine) md.push('', `Machine: ${o.machine}`);
  md.push('');

  // ---------------- LDS
  const lds = await readJson<LdsResult>(`${dir}/lds.json`);
  if (lds) {
    await write('lds.svg', ldsChart(lds));
    for (const d of lds.dampings.slice(1)) await write(`lds-damping-${d}.svg`, ldsChart(lds, d));
    md.push('## Accuracy: linear datamodeling score (bench/lds.ts)', '');
    md.push(`${lds.runtime}, ${lds.date}${lds.quick ? ' (--quick)' : ''}; ${lds.seconds.toFixed(0)} s.`, '');
    md.push(`Task: ${lds.task.description}. Model: ${lds.task.model}. Pool N = ${lds.task.pool}, ${lds.task.queries} held-out queries, M = ${lds.retrains.M} retrains on random 50% subsets (${lds.retrains.subsetSize} verses each; all from the same init, seeded batch order).`);
    md.push(`Full-pool model: train acc ${f3(lds.fullModel.trainAcc)}, test acc ${f3(lds.fullModel.testAcc)} (chance ${f3(1 / Number(lds.task.classes))}), test loss ${f3(lds.fullModel.testLoss)}; retrains: mean test acc ${f3(lds.retrains.meanTestAcc)}, query loss sd across subsets ${f3(lds.retrains.queryLossSdAcrossSubsets)} nats; ${lds.retrains.seconds.toFixed(0)} s for all retrains.`, '');
    md.push('LDS = mean over queries of Spearman(-sum_{n in S_j} score(q, n), loss_q(model trained on S_j)) across the M subsets; ± = standard error over queries. Exact = init identity (full per-example gradients); its raw column is float64 Woodbury from the engine\'s exact gradients.', '');
    md.push(lds.markdown, '', '![LDS vs k](lds.svg)', '', ...lds.dampings.slice(1).map((d) => `![LDS vs k, damping ${d}](lds-damping-${d}.svg)`), '');
    const best = [...lds.rows].filter((x) => x.init !== 'identity').sort((a, b) => b.lds - a.lds)[0];
    const ex = lds.rows.filter((x) => x.init === 'identity').sort((a, b) => b.lds - a.lds)[0];
    goals.push({ goal: `LDS with M >= 50 retrains, hessian none/raw/kfac/ekfac x random/PCA x k`, value: `M = ${lds.retrains.M}; best LoGra ${f3(best.lds)} (${best.init} k=${best.k} ${best.hessian}${best.hessian === 'none' ? '' : ` damping ${best.damping}`}); best exact ${ex ? `${f3(ex.lds)} (${ex.hessian})` : 'not run'}`, met: lds.retrains.M >= 50 });
  } else missing.push('lds.json (npx tsx bench/lds.ts --json bench/results/lds.json)');

  // ---------------- LDS --quick in each runtime (same code, seeds and sizes)
  const quickRuns: LdsResult[] = [];
  for (const rt of ['node', 'deno', 'chromium']) {
    const q = await readJson<LdsResult>(`${dir}/lds-quick-${rt}.json`);
    if (q) quickRuns.push(q);
  }
  if (quickRuns.length) {
    const d0 = quickRuns[0].dampings[0];
    const keys = quickRuns[0].rows.filter((x) => x.hessian === 'none' || x.damping === d0).map((x) => `${x.init}|${x.k}|${x.hessian}`);
    const cell = (q: LdsResult, key: string) => {
      const x = q.rows.find((y) => `${y.init}|${y.k}|${y.hessian}` === key && (y.hessian === 'none' || y.damping === d0));
      return x ? f3(x.lds) : '-';
    };
    md.push('## LDS --quick in Node, Deno and Chromium', '', `Files lds-quick-<runtime>.json: the same --quick run (pool ${quickRuns[0].task.pool}, M = ${quickRuns[0].retrains.M}, damping ${d0}) in each runtime; seconds: ${quickRuns.map((q) => `${q.runtime} ${q.seconds.toFixed(0)} s`).join(', ')}.`, '');
    md.push(table(['init', 'k', 'hessian', ...quickRuns.map((q) => q.runtime)], keys.map((key) => { const [init, k, h] = key.split('|'); return [init, k === '0' ? 'full' : k, h, ...quickRuns.map((q) => cell(q, key))]; })), '');
    const maxDiff = Math.max(0, ...keys.flatMap((key) => quickRuns.slice(1).map((q) => Math.abs(Number(cell(q, key)) - Number(cell(quickRuns[0], key))) || 0)));
    goals.push({ goal: 'LDS suite runs in Node, Deno and Chromium', value: `${quickRuns.map((q) => q.runtime).join(', ')}; max LDS difference between runtimes ${maxDiff.toFixed(3)}`, met: quickRuns.length === 3 });
  }

  // ---------------- accuracy (tiny GPT Spearman vs exact)
  const acc = await readJson<AccuracyJson>(`${dir}/accuracy.json`);
  if (acc) {
    const series: Series[] = [];
    for (const s of [...new Set(acc.rows.map((r) => r.setting))])
      for (const init of ['pca', 'random'])
        series.push({ name: `${s} ${init}`, dashed: init === 'random', points: acc.rows.filter((r) => r.setting === s && r.init === init).map((r) => [r.k, r.rawVsRaw]) });
    await write('accuracy.svg', lineChart({ title: 'LoGra raw vs exact raw influence: mean Spearman over queries', xLabel: 'k (log scale)', yLabel: 'Spearman', series: series.filter((s) => s.points.length), log2x: true, yMin: 0, yMax: 1 }));
    md.push('## Accuracy: Spearman vs exact influence (bench/accuracy.ts)', '', `${acc.runtime}; k in {${acc.ks.join(', ')}}. Method: docs/ACCURACY.md.`, '', acc.markdown, '', '![Spearman vs k](accuracy.svg)', '');
    if (acc.storage?.length && acc.storageMarkdown) {
      md.push('### Stored row dtypes', '', 'The same projections (random, seed 0), raw Hessian; rows stored as f32, f16, int8 (a scale per 64 values) or 1-bit signs (a scale per 64 values). Spearman of the scores with those of f32 rows and with exact raw influence; bytes per example of the stored rows.', '', acc.storageMarkdown, '');
      for (const dt of ['int8', 'sign']) {
        const rs = acc.storage.filter((r) => r.dtype === dt);
        goals.push({ goal: `${dt} rows: accuracy cost vs f32 (accuracy bench), bytes per example`, value: rs.map((r) => `${r.setting} k=${r.k}: Spearman vs f32 ${f3(r.vsF32)}, ${r.bytesPerExample.toFixed(0)} B`).join('; '), met: null });
      }
    }
    const g = acc.rows.filter((r) => r.setting.startsWith('gpt2'));
    const kmax = Math.max(...g.map((r) => r.k));
    goals.push({ goal: 'tiny-GPT Spearman vs exact influence as k grows', value: g.filter((r) => r.k === kmax).map((r) => `${r.setting} ${r.init} k=${kmax}: raw/exact-raw ${f3(r.rawVsRaw)}`).join('; '), met: g.length > 0 });
  } else missing.push('accuracy.json (npx tsx bench/accuracy.ts --json bench/results/accuracy.json)');

  // ---------------- pipeline
  const pipe = await readJson<PipelineJson>(`${dir}/pipeline.json`);
  if (pipe) {
    const bars = pipe.logging.map((l) => ({ label: l.name, value: l.ratio, color: l.name.startsWith('engine.log') ? '#d62728' : '#1f77b4' }));
    await write('pipeline.svg', barChart({ title: 'Logging throughput relative to plain fwd+bwd (bench/pipeline.ts)', xLabel: 'tokens/s relative to the trainer gradient pass', bars, refs: [{ x: 0.8, label: 'goal 0.8' }] }));
    await write('pipeline-influence.svg', barChart({ title: 'Influence pairs/s: store vs recompute (bench/pipeline.ts)', xLabel: 'train-query pairs per second (log scale)', log10: true, bars: pipe.influence.flatMap((r) => [{ label: `k=${r.k} ${r.hessian}: store (N=${r.N})`, value: r.storePairs, color: '#d62728' }, { label: `k=${r.k} ${r.hessian}: recompute`, value: r.recomputePairs, color: '#1f77b4' }]) }));
    md.push('## Efficiency: pipeline (bench/pipeline.ts)', '', pipe.header, '', `Model: ${pipe.model}.`, '');
    md.push(table(['pass', 'ms', 'tokens/s', 'vs plain fwd+bwd', 'vs plain, projection setup amortised'], pipe.logging.map((l) => [l.name, l.ms.toFixed(0), l.tokensPerS.toFixed(0), `${l.ratio.toFixed(2)}x`, `${l.ratioWithoutSetup.toFixed(2)}x`])), '');
    md.push(table(['index', 'N', 'queries', 'store pairs/s', 'recompute pairs/s', 'store / recompute'], pipe.influence.map((r) => [`k=${r.k} ${r.hessian}`, r.N, r.Q, r.storePairs.toFixed(0), r.recomputePairs.toFixed(0), `${fx(r.ratio)}x`])), '');
    md.push(table(['k', 'dtype', 'floats / example', 'bytes / example (rows)', 'bytes / example (whole index)'], pipe.storage.map((s) => [s.k, s.dtype, s.cols, s.rowBytes.toFixed(0), s.allBytes.toFixed(0)])), '');
    md.push('![logging ratios](pipeline.svg)', '', '![influence throughput](pipeline-influence.svg)', '');
    for (const l of pipe.logging.filter((x) => x.name.startsWith('engine.log'))) goals.push({ goal: `LoGra logging / plain fwd+bwd >= 0.8 (${l.name})`, value: `${l.ratio.toFixed(2)}x (${l.ratioWithoutSetup.toFixed(2)}x with the projection setup amortised)`, met: l.ratio >= 0.8 });
    for (const r of pipe.influence) goals.push({ goal: `influence LoGra store / recompute (k=${r.k} ${r.hessian}; seed: ~6,500x on Llama3-8B)`, value: `${fx(r.ratio)}x at N = ${r.N} x ${r.Q} queries (scaled down from 10k x 256)`, met: null });
  } else missing.push('pipeline.json (npx tsx bench/pipeline.ts --json bench/results/pipeline.json)');

  // ---------------- efficiency
  const eff = await readJson<EfficiencyJson>(`${dir}/efficiency.json`);
  if (eff) {
    await write('efficiency.svg', barChart({
      title: 'Logging throughput per method (bench/efficiency.ts)', xLabel: 'tokens/s (log scale)', log10: true,
      bars: eff.configs.flatMap((c) => c.rows.map((r) => ({ label: `${c.config}: ${r.method.replace(/ \(.*\)$/, '')}`, value: r.tokensPerS, color: r.method.startsWith('(b)') ? '#d62728' : r.method.startsWith('(c)') ? '#7f7f7f' : '#1f77b4' }))),
    }));
    md.push('## Efficiency: Table 1 shape (bench/efficiency.ts)', '', eff.header + (eff.quick ? ' (--quick)' : ''), '', eff.markdown, '');
    md.push(table(['config', 'tapped weights', 'stored floats / example', 'bytes / example stored', 'full f32 gradient bytes', 'LoGra / plain', 'LoGra / dense (TRAK-style)', 'EKFAC fit ms', 'KFAC fit ms'], eff.configs.map((c) => [c.config, c.tappedWeights, c.storedFloats, c.storeBytesPerExample.toFixed(0), c.fullGradientBytes, `${c.ratios.lograVsPlain.toFixed(2)}x`, `${fx(c.ratios.lograVsDense)}x`, (c.fitMs.ekfac ?? 0).toFixed(0), (c.fitMs.kfac ?? 0).toFixed(0)])), '', '![efficiency](efficiency.svg)', '');
    for (const c of eff.configs) {
      goals.push({ goal: `LoGra logging / plain fwd+bwd >= 0.8 (${c.config}, efficiency suite)`, value: `${c.ratios.lograVsPlain.toFixed(2)}x`, met: c.ratios.lograVsPlain >= 0.8 });
      goals.push({ goal: `LoGra / dense projection (${c.config})`, value: `${fx(c.ratios.lograVsDense)}x faster`, met: c.ratios.lograVsDense > 1 });
    }
  } else missing.push('efficiency.json (npx tsx bench/efficiency.ts --json bench/results/efficiency.json)');

  // ---------------- kernels
  const ker = await readJson<KernelsJson>(`${dir}/kernels.json`);
  if (ker) {
    const gemm = ker.rows.filter((r) => r.section === 'gemm' && r.value !== null);
    await write('kernels.svg', barChart({ title: 'GEMM GFLOP/s (bench/kernels.ts)', xLabel: 'GFLOP/s', bars: gemm.map((r) => ({ label: `${r.what}: ${r.impl}`, value: r.value!, color: r.impl.startsWith('ours') ? '#d62728' : r.impl.startsWith('CPU') ? '#2ca02c' : '#1f77b4' })) }));
    md.push('## Kernels (bench/kernels.ts)', '', ker.header, '', table(['section', 'what', 'impl', 'ms', 'value', 'unit', 'note'], ker.rows.map((r) => [r.section, r.what, r.impl, r.ms === null ? '-' : r.ms.toFixed(1), r.value === null ? '-' : r.value.toPrecision(4), r.unit, r.note ?? ''])), '', '![GEMM](kernels.svg)', '');
    const ours = gemm.filter((r) => r.impl.startsWith('ours')), ort = gemm.filter((r) => r.impl.startsWith('ORT-web'));
    goals.push({ goal: 'kernel benchmark: our GEMM vs ORT-web MatMul (same adapter) vs CPU backend', value: ours.map((r) => `${r.what}: ours ${r.value!.toFixed(2)}${ort.find((x) => x.what === r.what) ? ` vs ORT ${ort.find((x) => x.what === r.what)!.value!.toFixed(2)}` : ''} GFLOP/s`).join('; '), met: ours.length > 0 });
  } else missing.push('kernels.json (npx tsx bench/kernels.ts --json bench/results/kernels.json)');

  // ---------------- scale (issue 11)
  const fs = await readJson<FitScaleJson>(`${dir}/fit-scale.json`);
  if (fs) {
    md.push('## Scale: fit and queries at any N vs k (bench/fit-scale.ts)', '', fs.header, '', fs.markdown, '');
    for (const r of fs.runs.filter((x) => x.hessian === 'raw')) {
      goals.push({ goal: `fit + self-influence <= the log time (2,002 examples, k ${r.k}x${r.k} raw, ${r.ep})`, value: `${(r.fitMs / 1000).toFixed(1)} s vs ${(r.logMs / 1000).toFixed(1)} s: ${r.fitOverLog.toFixed(2)}x (${[...new Set(r.forms)].join('/')} form; factorisations ${JSON.stringify(r.fitCalls.factorisations)})`, met: r.fitOverLog <= 1 });
      const lx = r.k === 64 ? LOGIX.k64PairsPerS : r.k === 16 ? LOGIX.k16PairsPerS : null;
      if (lx) goals.push({ goal: `scoring pairs/s beats LogIX (k ${r.k}x${r.k} raw, ${r.ep}; LogIX ${lx[0].toLocaleString('en-US')}-${lx[1].toLocaleString('en-US')} on this CPU, 1 thread, per issue 11)`, value: `${Math.round(r.scorePairsPerS).toLocaleString('en-US')} pairs/s scoring, ${Math.round(r.e2ePairsPerS).toLocaleString('en-US')} end to end`, met: r.scorePairsPerS > lx[1] });
    }
  } else missing.push('fit-scale.json (npm run bench:fit-scale)');
  const vt = await readJson<VsTorchJson>(`${dir}/vs-torch.json`);
  if (vt) {
    md.push('## Scale: side by side with PyTorch (bench/vs-torch.ts)', '', vt.header, '');
    if (vt.logging) {
      md.push(`Torch: ${JSON.stringify(vt.logging.torch)}`, '', table(['method', 'tokens/s', 'tokens per CPU-second', 'ours / torch', 'peak RSS MiB'], vt.logging.methods.map((m) => [m.name, m.tokensPerS.toFixed(1), m.tokensPerCpuS.toFixed(1), `${m.ratioVsTorch.toFixed(2)}x`, m.peakRssMiB.toFixed(0)])), '');
      for (const m of vt.logging.methods.filter((x) => x.name.startsWith('logra'))) {
        goals.push({ goal: `GPT-2-small logging >= 0.8x PyTorch plain fwd+bwd (${m.name})`, value: `${m.ratioVsTorch.toFixed(2)}x (${m.tokensPerS.toFixed(1)} tokens/s; LogIX per issue 11: ${LOGIX.gpt2SmallTokensPerS} at 1 thread)`, met: m.ratioVsTorch >= 0.8 });
        goals.push({ goal: `GPT-2-small logging peak RSS <= LogIX's ~1.9 GB (${m.name})`, value: `${m.peakRssMiB.toFixed(0)} MiB`, met: m.peakRssMiB <= LOGIX.gpt2SmallPeakRssMiB });
      }
    }
    if (vt.influence) {
      md.push(table(['model', 'tapped weights', 'N', 'Q', 'store pairs/s', 'recompute pairs/s', 'store / recompute', 'end to end'], vt.influence.map((r) => [r.name, r.params.toLocaleString('en-US'), r.rows, r.queries, Math.round(r.storePairs).toLocaleString('en-US'), r.recomputePairs.toFixed(1), `${fx(r.ratio)}x`, `${fx(r.e2e.ratio)}x`])), '');
      for (const r of vt.influence) goals.push({ goal: `influence pairs/s from the store >= 1,000x recomputing (k 64x64, ${r.name})`, value: `${fx(r.ratio)}x at N = ${r.rows} x ${r.queries} queries (${fx(r.e2e.ratio)}x counting the query gradients on both sides)`, met: r.ratio >= 1000 });
    }
  } else missing.push('vs-torch.json (npm run bench:vs-torch)');
  const scales = (await Promise.all(['node', 'deno', 'chromium'].map((r) => readJson<ScaleJson>(`${dir}/scale-${r}.json`)))).filter((x): x is ScaleJson => !!x);
  if (scales.length) {
    md.push('## Scale: GPT-2-small end to end (bench/scale.ts)', '');
    for (const sc of scales) md.push(`${sc.runtime}: ${sc.examples} x ${sc.tokens} tokens, k ${sc.k}x${sc.k}, ep ${sc.ep}, ${sc.backend}; peak ${sc.peakMiB.toFixed(0)} MiB (${sc.memory})`, '', table(['step', 's', 'memory MiB', 'note'], sc.steps.map((x) => [x.step, x.s.toFixed(1), x.memMiB.toFixed(0), x.note ?? ''])), '');
    goals.push({ goal: 'GPT-2-small logged at k 64x64 on every linear layer, fitted raw and EKFAC, queried in Node, Deno and Chromium', value: scales.map((x) => `${x.runtime}: peak ${x.peakMiB.toFixed(0)} MiB`).join('; '), met: scales.length === 3 });
  } else missing.push('scale-<runtime>.json (npm run bench:scale, bench:scale:deno, SCALE_BENCH=1 playwright)');

  const ds = await readJson<DemoStartJson>(`${dir}/demo-start.json`);
  if (ds) {
    const c = ds.freshClone;
    md.push('## The demo as a first-time visitor meets it (bench/demo-start.sh)', '',
      `${ds.date.slice(0, 10)}, ${ds.cores} cores: a fresh clone ${c.cloneSeconds} s, \`bash scripts/setup.sh\` ${c.setupSeconds} s, \`npm run demo\` until it serves ${c.demoUntilServedSeconds} s: **${c.totalSeconds} s** in all. The page (headless Chromium; times from navigation start, an attribution from its click to its result):`, '',
      table(['backend', 'visit', 'index from', 'ready s', 'index in memory s', 'attribution clicked at ready s', 'attribution once in memory s', 'saved in IndexedDB s'], ds.page.rows.map((r) => [r.backend, r.visit, r.indexSource, (r.ready / 1000).toFixed(1), (r.warm / 1000).toFixed(1), (r.attributeAtReady / 1000).toFixed(2), (r.attributeWarm / 1000).toFixed(2), r.saved ? (r.saved / 1000).toFixed(1) : ''])), '');
    goals.push({ goal: 'demo: a fresh clone serves a working explorer in <= 3 min (`bash scripts/setup.sh && npm run demo`)', value: `${c.totalSeconds} s`, met: c.totalSeconds <= 180 });
    // the first attribution a visitor asks for once the page says ready (it waits for the index to be in memory)
    const atReady = ds.page.rows.map((r) => `${r.visit} ${(r.attributeAtReady / 1000).toFixed(2)} s`).join(', ');
    const worstAtReady = Math.max(...ds.page.rows.map((r) => r.attributeAtReady));
    const worstWarm = Math.max(...ds.page.rows.map((r) => r.attributeWarm));
    goals.push({ goal: 'demo: first attribution after a page load <= 3 s (clicked the moment the page is ready)', value: `${atReady}; once the index is in memory at most ${(worstWarm / 1000).toFixed(2)} s`, met: worstAtReady <= 3000 });
  } else missing.push('demo-start.json (bash bench/demo-start.sh)');
  const ev = await readJson<DemoEvalJson>(new URL('../../public/model/eval.json', import.meta.url).pathname);
  if (ev) {
    const bestFound = Math.max(...Object.values(ev.found));
    goals.push({ goal: 'demo model: 50 well-known verse openings completed exactly >= 60 %, source verse in the top 3 >= 80 % (npm run eval:demo; the better of the explorer\'s score modes)', value: `${Math.round(ev.exact * 100)} % exact; in the top ${ev.top}: ${Object.entries(ev.found).map(([m, f]) => `${Math.round(f * 100)} % (${m})`).join(', ')}`, met: ev.exact >= 0.6 && bestFound >= 0.8 });
  }

  md.push('## Goals', '', table(['goal', 'measured', 'met'], goals.map((g) => [g.goal, g.value, g.met === null ? 'reported (no threshold)' : g.met ? 'yes' : 'no'])), '');
  if (missing.length) md.push('Not in this folder (not run): ' + missing.join('; '), '');
  if (o.commands) md.push('## Commands', '', ...Object.entries(o.commands).map(([k, v]) => `- ${k}: \`${v}\``), '');
  await write('RESULTS.md', md.join('\n'));
  await write('report.json', JSON.stringify({ files, missing, goals }, null, 1) + '\n');
  return { files, missing, goals };
}
