// The pipeline benchmark in Chromium (opt-in: it takes minutes):
//   PIPELINE_BENCH=1 npx playwright test test/e2e/pipeline-bench.spec.ts
//   (PIPELINE_BENCH_QUICK=1 for the quick sizes; PIPELINE_BENCH_BACKEND=webgpu for the kernels on WebGPU;
//   PIPELINE_BENCH_JSON=path writes the numbers)
import { writeFileSync } from 'node:fs';
import { test, expect } from './guard.ts';

test('pipeline benchmark (bench/pipeline.ts) in Chromium', async ({ page }) => {
  test.skip(!process.env.PIPELINE_BENCH, 'set PIPELINE_BENCH=1 to run the pipeline benchmark');
  test.setTimeout(20 * 60_000);
  page.on('console', (m) => console.log(`  page: ${m.text()}`));
  await page.goto('/test/e2e/bench/index.html');
  await page.waitForFunction(() => window.pipelineBench !== undefined, undefined, { timeout: 30_000 });
  const opts = { quick: !!process.env.PIPELINE_BENCH_QUICK, backend: (process.env.PIPELINE_BENCH_BACKEND ?? 'cpu') as 'cpu' | 'webgpu' };
  const res = await page.evaluate((o) => window.pipelineBench!.run(o), opts);
  console.log(`\n${res.markdown}`);
  if (process.env.PIPELINE_BENCH_JSON) writeFileSync(process.env.PIPELINE_BENCH_JSON, JSON.stringify({ ...res.json, runtime: `Chromium (${res.header})` }, null, 1) + '\n');
  expect(res.markdown).toContain('store / recompute');
});
