// Assembles bench/results/RESULTS.md, report.json and the SVG charts from the suites' JSON results in a folder.
//   npx tsx bench/report.ts [--dir bench/results]
//   node scripts/deno.js run --allow-read --allow-write=bench/results bench/report.ts
import { assembleReport } from './support/report-lib.ts';
import { exit, opt } from './support/common.ts';

const dir = opt('--dir') ?? 'bench/results';
const r = await assembleReport(dir, {
  machine: 'Debian 12, 2 cores (shared), no GPU; Node 20.20; onnxruntime-web 1.30 wasm and onnxruntime-node 1.30 (2 threads); CPU kernel backend',
  commands: {
    LDS: 'npx tsx bench/lds.ts --json bench/results/lds.json',
    'LDS --quick, Node': 'npx tsx bench/lds.ts --quick --json bench/results/lds-quick-node.json',
    'LDS --quick, Deno': 'node scripts/deno.js run --allow-read --allow-env --allow-net=127.0.0.1 --allow-write=/tmp,bench/results bench/lds.ts --quick --json bench/results/lds-quick-deno.json',
    'LDS --quick, Chromium': 'LDS_BENCH=1 LDS_BENCH_QUICK=1 LDS_BENCH_JSON=bench/results/lds-quick-chromium.json npx playwright test test/e2e/bench-smoke.spec.ts',
    accuracy: 'npx tsx bench/accuracy.ts --json bench/results/accuracy.json',
    pipeline: 'npx tsx bench/pipeline.ts --json bench/results/pipeline.json',
    efficiency: 'npx tsx bench/efficiency.ts --json bench/results/efficiency.json',
    kernels: 'npx tsx bench/kernels.ts --json bench/results/kernels.json',
    'fit-scale': 'npm run bench:fit-scale',
    'vs-torch': 'npm run bench:vs-torch (after /usr/bin/python3 bench/make_models.py gpt2-small)',
    'scale, Node / Deno / Chromium': 'npm run bench:scale; npm run bench:scale:deno; SCALE_BENCH=1 SCALE_BENCH_JSON=bench/results/scale-chromium.json npx playwright test test/e2e/scale-bench.spec.ts',
    'demo start': 'DEMO_SCREENSHOTS=1 bash bench/demo-start.sh',
    'demo model verse evaluation': 'npm run eval:demo (public/model/eval.json)',
    report: 'npx tsx bench/report.ts --dir bench/results',
  },
});
console.log(`wrote ${r.files.map((f) => `${dir}/${f}`).join(', ')}`);
for (const g of r.goals) console.log(`  [${g.met === null ? ' ' : g.met ? 'x' : '!'}] ${g.goal}: ${g.value}`);
if (r.missing.length) console.log(`missing: ${r.missing.join('; ')}`);
exit(0);
