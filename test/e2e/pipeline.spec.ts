// The pipeline in Chromium: float64 torch-reference checks on the CPU backend and on WebGPU (SwiftShader), and an
// IndexedDB index whose logging page is reloaded mid-run, then resumed.
import type { Page } from '@playwright/test';
import { test, expect } from './guard.ts';
import type { PipelineCheck } from '../support/pipeline-check.ts';

async function openHarness(page: Page): Promise<void> {
  await page.goto('/test/e2e/harness.html');
  await page.waitForFunction(() => window.harness !== undefined, undefined, { timeout: 90_000 });
}

for (const backend of ['cpu', 'webgpu'] as const) {
  test(`pipeline [${backend}]: exact, LoGra, raw/KFAC/EKFAC scores equal float64 references (mlp, gpt2)`, async ({ page }) => {
    await openHarness(page);
    for (const name of ['mlp_classifier', 'gpt2_linear_tanh_op17_kvcache_untied']) {
      const res: PipelineCheck[] = await page.evaluate(([n, b]) => window.harness!.runPipeline(n, b as 'cpu' | 'webgpu'), [name, backend] as const);
      for (const r of res) console.log(`${name} [${backend}] ${r.name}: ${r.err.toExponential(2)} (${r.layer})`);
      expect(res.length).toBe(6);
      for (const r of res) expect(r.err, `${name} ${r.name} at ${r.layer}`).toBeLessThanOrEqual(1e-4);
    }
  });
}

test('IndexedDB: a page reloaded mid-logging resumes; each example stored once; scores equal one run', async ({ page }) => {
  const db = `reload-${Date.now()}`;
  const n = 120;
  await openHarness(page);
  void page.evaluate(([d, k]) => window.harness!.idbLog(d, k).catch(() => undefined), [db, n] as const).catch(() => undefined);
  await expect.poll(() => page.evaluate((d) => window.harness!.idbCount(d), db), { timeout: 60_000, intervals: [100] }).toBeGreaterThanOrEqual(6);
  await page.reload();
  await page.waitForFunction(() => window.harness !== undefined, undefined, { timeout: 90_000 });
  const before = await page.evaluate((d) => window.harness!.idbCount(d), db);
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThan(n);
  const r = await page.evaluate(([d, k]) => window.harness!.idbLog(d, k), [db, n] as const);
  expect(r.skipped).toBe(before);
  expect(r.stored).toBe(n);
  const cmp = await page.evaluate(([d, k]) => window.harness!.idbCompare(d, k), [db, n] as const);
  expect(cmp.unique).toBe(n);
  expect(cmp.total).toBe(n);
  expect(cmp.err).toBeLessThanOrEqual(1e-5);
});

test('concurrent runs on one CPU backend and one model take turns and give the same numbers', async ({ page }) => {
  await page.goto('/test/e2e/harness.html');
  const r = await page.evaluate(() => window.harness!.concurrentRuns());
  console.log(`concurrent vs sequential: gemm ${r.gemm.toExponential(2)}, query ${r.query.toExponential(2)}`);
  expect(r.gemm).toBeLessThanOrEqual(1e-6);
  expect(r.query).toBeLessThanOrEqual(1e-5);
});
