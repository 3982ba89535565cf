// Every fixture in test/fixtures through TapModel in Chromium, on ORT's wasm EP and on its WebGPU EP
// (SwiftShader): loss, layer inputs x, output gradients dy and per-example weight gradients against torch float64.
import { readdirSync, readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect } from './guard.ts';
import { REL_TOL, failures, summary, type FixtureResult } from '../support/fixture-check.ts';
import { checkName, checksOf } from '../support/fixtures.ts';
import type { ExecutionProvider } from '../../src/runtime/ort.ts';
import type { GpuInfo } from './harness.ts';

const FIX = new URL('../fixtures/', import.meta.url);
const metas = new Map(
  readdirSync(FIX, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => [d.name, JSON.parse(readFileSync(new URL(`${d.name}/meta.json`, FIX), 'utf8'))] as const),
);
/** every model file of every fixture folder (float32, float16 and quantised variants each with their reference) */
const fixtures = [...metas.keys()].sort().flatMap((d) => checksOf(d, metas.get(d)).map(checkName));
/**
 * SwiftShader's WebGPU computes Cos and Sin to ~2e-4 relative (measured against ORT wasm; WGSL allows 2^-11 absolute),
 * so models that compute rotary embeddings in the graph (Cos/Sin of positions, forward) can only match torch to about
 * 1e-3 on Chromium's WebGPU EP. The same checks pass at 1e-5 on ORT wasm here and on Deno's WebGPU adapter.
 */
const TRIG_TOL = 2e-3;
const tolFor = (name: string, ep: string) => (ep === 'webgpu' && (metas.get(name.split(':')[0])?.op_types ?? []).some((o: string) => o === 'Cos' || o === 'Sin') ? TRIG_TOL : REL_TOL);

/** a fixture run (build + session + one batch) takes a few seconds here; the test timeout is the outer watchdog */
const RUN_MS = 180_000; // a watchdog: a WGSL hang on SwiftShader never returns; a loaded 2-core machine can take minutes

async function openHarness(page: Page): Promise<void> {
  await page.goto('/test/e2e/harness.html');
  await page.waitForFunction(() => window.harness !== undefined, undefined, { timeout: 90_000 });
}

async function runFixture(page: Page, name: string, ep: ExecutionProvider): Promise<FixtureResult> {
  const run = page.evaluate(([n, e]) => window.harness!.runFixture(n, e as 'wasm' | 'webgpu'), [name, ep] as const);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} [${ep}]: no result after ${RUN_MS} ms (watchdog)`)), RUN_MS);
  });
  try {
    return await Promise.race([run, watchdog]);
  } finally {
    clearTimeout(timer);
  }
}

test('the harness page is cross-origin isolated and has a WebGPU adapter', async ({ page }) => {
  await openHarness(page);
  expect(await page.evaluate(() => window.harness!.crossOriginIsolated)).toBe(true);
  const gpu: GpuInfo | null = await page.evaluate(() => window.harness!.gpuInfo());
  expect(gpu, 'navigator.gpu.requestAdapter()').not.toBeNull();
  console.log(`WebGPU adapter: ${JSON.stringify(gpu)}`);
  test.info().annotations.push({ type: 'adapter', description: JSON.stringify(gpu) });
});

/**
 * On SwiftShader's WebGPU (30-50 s a check here) Chromium runs the fewest fixtures that together use every forward op
 * type of all fixtures (a greedy set cover of meta.json's op_types; the backward nodes follow from the forward ops),
 * each folder's first (float32) check only: the float16 and quantised files become the same float32 graph at load,
 * so they add no op the EP has not run. ORT wasm here, and Deno's WebGPU adapter (test/deno), run every fixture and
 * variant; E2E_WEBGPU_EP_ALL=1 runs every folder here too.
 */
function coverOps(): string[] {
  const left = new Set([...metas.values()].flatMap((m) => (m.op_types ?? []) as string[]));
  const pick: string[] = [];
  const dirs = [...metas.keys()].sort();
  while (left.size) {
    const gain = (d: string) => ((metas.get(d).op_types ?? []) as string[]).filter((o) => left.has(o)).length;
    const best = dirs.reduce((a, b) => (gain(b) > gain(a) ? b : a));
    if (!gain(best)) break;
    pick.push(best);
    for (const o of metas.get(best).op_types as string[]) left.delete(o);
  }
  return pick;
}
const webgpuDirs = process.env.E2E_WEBGPU_EP_ALL ? [...metas.keys()] : coverOps();
const firstChecks = new Set(webgpuDirs.map((d) => checkName(checksOf(d, metas.get(d))[0])));

for (const ep of ['wasm', 'webgpu'] as const) {
  test.describe(`ORT ${ep}`, () => {
    for (const name of fixtures.filter((f) => ep === 'wasm' || firstChecks.has(f))) {
      test(`${name}: loss, x, dy and per-example weight grads match torch to ${tolFor(name, ep)}`, async ({ page }) => {
        await openHarness(page);
        const res = await runFixture(page, name, ep);
        console.log(summary(res));
        test.info().annotations.push({ type: 'errors', description: summary(res) });
        expect(res.layers.length).toBeGreaterThan(0);
        expect(failures(res, tolFor(name, ep)), `${name} [${ep}] errors above ${tolFor(name, ep)}`).toEqual([]);
      });
    }
  });
}
