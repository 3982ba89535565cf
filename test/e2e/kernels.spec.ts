// The WGSL kernel oracle cases (test/kernels/suite.ts) in Chromium on its WebGPU adapter (SwiftShader here), each
// behind a watchdog (a WGSL hang stalls SwiftShader silently). One page load for all cases.
import type { Page } from '@playwright/test';
import { test, expect } from './guard.ts';
import { failures, formatMetrics, type Metrics } from '../kernels/suite.ts';

const CASE_MS = 60_000;

async function race<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms (watchdog)`)), ms);
  });
  try {
    return await Promise.race([p, watchdog]);
  } finally {
    clearTimeout(timer);
  }
}

test('WGSL kernels match the float64 references in Chromium', async ({ page }: { page: Page }) => {
  test.setTimeout(6 * 60_000);
  await page.goto('/test/e2e/kernels/index.html');
  await page.waitForFunction(() => window.kernelTests !== undefined, undefined, { timeout: 90_000 });
  const init = await race('init', 30_000, page.evaluate(() => window.kernelTests!.init()));
  expect(init.ok, init.error).toBe(true);
  console.log(`adapter: ${JSON.stringify(init.adapter)} shader-f16: ${init.f16}`);
  const names = await page.evaluate(() => window.kernelTests!.names());
  expect(names.length).toBeGreaterThan(5);
  const bad: string[] = [];
  for (const name of names) {
    const m: Metrics = await race(name, CASE_MS, page.evaluate((n) => window.kernelTests!.run(n), name));
    console.log(`${name}\n  ${formatMetrics(m)}`);
    for (const f of failures(m)) bad.push(`${name}: ${f}`);
  }
  expect(bad).toEqual([]);
});

for (const kind of ['cpu', 'webgpu'] as const) {
  test(`KernelBackend '${kind}' matches the float64 references in Chromium`, async ({ page }: { page: Page }) => {
    test.setTimeout(3 * 60_000);
    await page.goto('/test/e2e/kernels/index.html');
    await page.waitForFunction(() => window.kernelTests !== undefined, undefined, { timeout: 90_000 });
    console.log(`${kind}: ${await race('create backend', 60_000, page.evaluate((k) => window.kernelTests!.backendDescription(k), kind))}`);
    const names = await page.evaluate(() => window.kernelTests!.backendNames());
    const bad: string[] = [];
    for (const name of names) {
      const m: Metrics = await race(name, CASE_MS, page.evaluate(([k, n]) => window.kernelTests!.runBackend(k, n), [kind, name] as const));
      console.log(`[${kind}] ${name}\n  ${formatMetrics(m)}`);
      for (const f of failures(m)) bad.push(`${name}: ${f}`);
    }
    expect(bad).toEqual([]);
  });
}
