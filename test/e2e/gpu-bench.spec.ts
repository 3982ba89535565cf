// The real-GPU benchmark (bench/gpu.ts) in Chromium, opt-in (bench/gpu.sh runs it with E2E_WEBGPU_ADAPTER=default):
//   GPU_BENCH=1 E2E_WEBGPU_ADAPTER=default npx playwright test test/e2e/gpu-bench.spec.ts
//   (GPU_BENCH_JSON=path writes the numbers; GPU_BENCH_SOFTWARE=1 GPU_BENCH_ROWS=20000 for a trial on SwiftShader)
// It fails when the page finds no hardware adapter (unless GPU_BENCH_SOFTWARE is set).
import { writeFileSync } from 'node:fs';
import { test, expect } from './guard.ts';

test('GPU benchmark (bench/gpu.ts) in Chromium', async ({ page }) => {
  test.skip(!process.env.GPU_BENCH, 'set GPU_BENCH=1 to run the GPU benchmark');
  test.setTimeout(20 * 60_000);
  page.on('console', (m) => console.log(`  page: ${m.text()}`));
  await page.goto('/test/e2e/bench/index.html');
  await page.waitForFunction(() => window.gpuBench !== undefined, undefined, { timeout: 30_000 });
  const o = { software: !!process.env.GPU_BENCH_SOFTWARE, rows: process.env.GPU_BENCH_ROWS ? Number(process.env.GPU_BENCH_ROWS) : undefined };
  const res = await page.evaluate((x) => window.gpuBench!.run(x), o);
  console.log(`\n${res.markdown}`);
  expect(res.code, res.header).not.toBe(3);
  if (process.env.GPU_BENCH_JSON) writeFileSync(process.env.GPU_BENCH_JSON, JSON.stringify({ runtime: `Chromium (${res.header})`, ...res.json }, null, 1) + '\n');
  expect(res.code).toBe(0);
});
