// The kernel benchmark in Chromium (opt-in: it takes minutes):
//   KERNELS_BENCH=1 npx playwright test test/e2e/kernels-bench.spec.ts   (KERNELS_BENCH_QUICK=1 for fewer sizes;
//   KERNELS_BENCH_JSON=path writes the rows)
import { writeFileSync } from 'node:fs';
import { test, expect } from './guard.ts';

test('kernel benchmark (bench/kernels.ts) in Chromium', async ({ page }) => {
  test.skip(!process.env.KERNELS_BENCH, 'set KERNELS_BENCH=1 to run the kernel benchmark');
  test.setTimeout(20 * 60_000);
  page.on('console', (m) => console.log(`  page: ${m.text()}`));
  await page.goto('/test/e2e/bench/index.html');
  await page.waitForFunction(() => window.kernelBench !== undefined, undefined, { timeout: 30_000 });
  const budget = Number(process.env.KERNELS_BENCH_BUDGET ?? 90);
  const res = await page.evaluate(([q, b]) => window.kernelBench!.run(q, b), [!!process.env.KERNELS_BENCH_QUICK, budget] as const);
  console.log(`\n${res.header}\n\n${res.markdown}`);
  if (process.env.KERNELS_BENCH_JSON) writeFileSync(process.env.KERNELS_BENCH_JSON, JSON.stringify({ header: `Chromium: ${res.header}`, rows: res.rows }, null, 2) + '\n');
  expect(res.rows.length).toBeGreaterThan(0);
});
