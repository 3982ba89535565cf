// Side by side with what a user would pick instead, in one run (issue 11):
//  (i)  logging throughput on GPT-2-small (bench/models/gpt2-small.onnx; `/usr/bin/python3 bench/make_models.py
//       gpt2-small` makes it): PyTorch's plain forward + backward (bench/torch_fwd_bwd.py, Debian's python3-torch,
//       the same seeded weights and examples, batch 8, the same threads) against our `log` at k 16 and k 64 on the
//       native onnxruntime (onnxruntime-node) and on onnxruntime-web's wasm. Every run is its own process (so its
//       peak resident set is its own), interleaved round by round; medians of the rounds; ratios ours / torch.
//  (ii) influence pairs/s from the store against recomputing the train gradients (the seed's Table 1 shape: N train
//       rows x Q queries, bench/support/influence-child.ts) at k 64 x 64, on models of growing size, to show how the
//       ratio grows with the model.
// PyTorch needs python3-torch and, for a fair comparison, an optimised BLAS: `apt-get install libopenblas0-pthread`
// (Debian's default libblas3 is the unoptimised reference BLAS; the bench prints which one torch loaded).
//   npx tsx bench/vs-torch.ts [--quick] [--rounds 3] [--examples 32] [--tokens 128] [--threads 2]
//                             [--skip-logging] [--skip-influence] [--json bench/results/vs-torch.json]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exit, flag, opt, randomSequences, runtimeName, table, writeJson } from './support/common.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const quick = flag('--quick');
const ROUNDS = Number(opt('--rounds') ?? (quick ? 1 : 3));
const EXAMPLES = Number(opt('--examples') ?? (quick ? 8 : 32));
const TOKENS = Number(opt('--tokens') ?? 128);
const THREADS = Number(opt('--threads') ?? 2);
const MODEL = opt('--model') ?? join(root, 'bench/models/gpt2-small.onnx');
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const fmt = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** Runs a command, returns the JSON objects it printed (one per line). */
function run(cmd: string, args: string[], cwd = root): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: String(THREADS) } });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      resolve(out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>));
    });
  });
}
const tsx = (script: string, args: string[]) => run(process.execPath, ['--import', 'tsx', script, ...args]);

const header = `runtime: ${runtimeName()}; ${THREADS} threads for every method; ${new Date().toISOString()}`;
console.log(header);
const json: Record<string, unknown> = { header, rounds: ROUNDS, examples: EXAMPLES, tokens: TOKENS, threads: THREADS };
const md: string[] = [header];

// ------------------------------------------------------------------ (i) logging throughput vs PyTorch
if (!flag('--skip-logging')) {
  if (!existsSync(MODEL)) {
    console.error(`${MODEL} is missing: /usr/bin/python3 bench/make_models.py gpt2-small (python3-torch, python3-onnx)`);
    exit(2);
  }
  const blas = await run('/usr/bin/python3', ['-c', 'import torch,json; print(json.dumps({"torch": torch.__version__, "blas": [l for l in torch.__config__.show().splitlines() if "BLAS" in l]}))']).catch(() => [{ torch: 'unavailable' }]);
  const tmp = await mkdtemp(join(tmpdir(), 'vs-torch-'));
  const data = join(tmp, 'data.jsonl');
  await writeFile(data, randomSequences(EXAMPLES, 50257, TOKENS, TOKENS, 7, 'x').map((e) => JSON.stringify(e)).join('\n') + '\n');
  const methods: { name: string; run: () => Promise<Record<string, unknown>> }[] = [
    { name: 'PyTorch plain fwd+bwd (batch 8)', run: async () => (await run('/usr/bin/python3', ['bench/torch_fwd_bwd.py', '--data', data, '--threads', String(THREADS), '--batch', '8'], root))[0] },
  ];
  for (const ep of ['native', 'wasm'] as const)
    for (const k of [16, 64])
      methods.push({ name: `logra log k=${k}x${k}, ${ep}`, run: async () => (await tsx('bench/support/log-child.ts', ['--model', MODEL, '--data', data, '--k', String(k), '--ep', ep, '--threads', String(THREADS), '--batch', '8']))[0] });
  const results = new Map<string, Record<string, unknown>[]>(methods.map((m) => [m.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const m of methods) {
      const res = await m.run();
      results.get(m.name)!.push(res);
      console.log(`round ${r + 1} ${m.name}: ${fmt(Number(res.tokensPerS), 1)} tokens/s, ${fmt(Number(res.tokensPerCpuS), 1)} tokens per CPU-s, peak RSS ${fmt(Number(res.peakRssMiB))} MiB`);
    }
  }
  await rm(tmp, { recursive: true, force: true });
  const torchName = methods[0].name;
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown>[] = [];
  for (const m of methods) {
    const rs = results.get(m.name)!;
    const tps = median(rs.map((x) => Number(x.tokensPerS)));
    const cps = median(rs.map((x) => Number(x.tokensPerCpuS)));
    const rss = median(rs.map((x) => Number(x.peakRssMiB)));
    // ratio per round (same conditions), then the median
    const ratio = median(rs.map((x, i) => Number(x.tokensPerS) / Number(results.get(torchName)![i].tokensPerS)));
    rows.push([m.name, fmt(tps, 1), fmt(cps, 1), m.name === torchName ? '1.00x' : `**${ratio.toFixed(2)}x**`, fmt(rss), m.name === torchName ? '-' : fmt(median(rs.map((x) => Number(x.loadS))), 1)]);
    out.push({ name: m.name, tokensPerS: tps, tokensPerCpuS: cps, ratioVsTorch: ratio, peakRssMiB: rss, runs: rs });
  }
  const t1 = table(['method', 'tokens/s', 'tokens per CPU-second', 'ours / torch (per round, median)', 'peak RSS MiB (whole process)', 'model load s'], rows);
  const line = `(i) logging GPT-2-small (124M, 49 linear layers tapped), ${EXAMPLES} examples x ${TOKENS} tokens, ${ROUNDS} interleaved rounds; torch ${JSON.stringify(blas[0])}`;
  console.log(`\n${line}\n${t1}`);
  md.push(line, t1);
  json.logging = { torch: blas[0], methods: out };
}

// ------------------------------------------------------------------ (ii) influence pairs/s: store vs recompute
if (!flag('--skip-influence')) {
  const N = Number(opt('--n') ?? (quick ? 2000 : 10_000)), Qn = Number(opt('--queries') ?? (quick ? 32 : 256));
  const configs: { name: string; args: string[] }[] = [
    { name: '3 blocks, width 48, vocab 4,096', args: ['--gpt2', '4096,48,3,4'] },
    { name: '4 blocks, width 128, vocab 512', args: ['--gpt2', '512,128,4,4'] },
    ...(existsSync(MODEL) && !quick ? [{ name: 'GPT-2-small (124M)', args: ['--model', MODEL] }] : []),
  ];
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown>[] = [];
  for (const c of configs) {
    const r = (await tsx('bench/support/influence-child.ts', [...c.args, '--k', '64', '--n', String(N), '--queries', String(Qn), '--tokens', String(TOKENS), '--threads', String(THREADS), '--ep', 'native']))[0];
    const e2e = r.e2e as { storePairs: number; recomputePairs: number; ratio: number };
    console.log(`${c.name}: store ${fmt(Number(r.storePairs))} pairs/s, recompute ${fmt(Number(r.recomputePairs))} pairs/s, ratio ${fmt(Number(r.ratio))}x (end to end ${fmt(e2e.ratio, 1)}x)`);
    rows.push([c.name, fmt(Number(r.params)), fmt(Number(r.rows)), Qn, fmt(Number(r.storePairs)), fmt(Number(r.recomputePairs), 1), `**${fmt(Number(r.ratio))}x**`, `${fmt(e2e.ratio, 1)}x`, fmt(Number(r.trainS) * 1000, 1), fmt(Number(r.scoreS), 1), fmt(Number(r.queryGradS), 1), fmt(Number(r.fitS), 1)]);
    out.push({ name: c.name, ...r });
  }
  const t2 = table(['model', 'tapped weights', 'train rows N', 'queries Q', 'store pairs/s (scoring)', 'recompute pairs/s', 'store / recompute', 'end to end (query gradients on both sides)', 'train gradient ms / example', 'scoring s', 'query gradients s', 'fit s (real rows)'], rows);
  const line = `(ii) influence at k 64 x 64, raw Hessian (covariance form), native onnxruntime, ${TOKENS} tokens per example: scoring Q preconditioned query gradients against N stored rows, vs recomputing the N train gradients per query batch (Table 1: query gradients are the same on both sides; end to end includes them)`;
  console.log(`\n${line}\n${t2}`);
  md.push(line, t2);
  json.influence = out;
}

const jsonPath = opt('--json');
if (jsonPath) await writeJson(jsonPath, json);
await writeFile(jsonPath ? jsonPath.replace(/\.json$/, '.md') : join(tmpdir(), 'vs-torch.md'), md.join('\n\n') + '\n');
exit(0);
