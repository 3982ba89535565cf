// How fast the demo page starts and attributes, as a first-time visitor meets it (opt-in: needs the full prebuilt
// index public/index/ of the bundled model; minutes):
//   DEMO_BENCH=1 npx playwright test test/e2e/demo-start-bench.spec.ts   (DEMO_BENCH_JSON=path writes the numbers)
// Per backend (auto: WebGPU on a hardware adapter, else the CPU backend, as here; then cpu): a first visit (empty IndexedDB: the index is served over HTTP,
// read into memory and saved in the background) and a second visit (IndexedDB): page load -> ready, -> index in
// memory, an attribution clicked the moment the page is ready, and one clicked once the index is in memory.
// DEMO_SCREENSHOTS=1 then writes docs/screenshots/demo-{1280,390}.png: the served demo (all training texts), the
// first prompt generated and attributed, its top result selected.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { test, expect } from './guard.ts';

const ROOT = new URL('../../', import.meta.url);
const PROMPTS = ['The LORD is my shepherd', 'For God so loved the world'];

interface Visit {
  /** ms from navigation start */
  ready: number;
  warm: number;
  /** ms from the click to the result event */
  attributeAtReady: number;
  attributeWarm: number;
  indexSource: string;
  backend: string;
  saved?: number;
}

async function visit(page: Page, url: string, first: boolean): Promise<Visit> {
  await page.addInitScript(() => {
    const w = window as unknown as { __t: Record<string, number> };
    w.__t = {};
    const on = (name: string, fn: (d: Record<string, unknown>) => void) => document.addEventListener(name, (e) => fn((e as CustomEvent).detail as Record<string, unknown>), true);
    on('ready', (d) => Object.assign(w.__t, { ready: performance.now(), source: d.indexSource, backend: d.backend }));
    on('progress', (d) => {
      if (d.done === d.total && (d.total as number) > 0 && (d.stage === 'warm' || d.stage === 'save')) w.__t[d.stage as string] ??= performance.now();
    });
    on('result', () => (w.__t.result = performance.now()));
  });
  await page.goto(url);
  const el = page.locator('influence-explorer');
  // the ready event, seen on the next animation frame (expect().toHaveAttribute polls with back-off, up to a second
  // late, which would flatter the click at ready)
  await page.waitForFunction(() => (window as unknown as { __t: Record<string, number> }).__t.ready !== undefined, undefined, { timeout: 600_000, polling: 'raf' });
  /** fills the prompt (unless it is undefined: the completion just generated is attributed), clicks Attribute, ms to the result */
  const attribute = async (prompt: string | undefined) => {
    if (prompt !== undefined) await el.locator('textarea.prompt').fill(prompt);
    await page.evaluate(() => delete (window as unknown as { __t: Record<string, number> }).__t.result);
    const t0 = await page.evaluate(() => performance.now());
    await el.locator('button.attribute').click();
    await page.waitForFunction(() => (window as unknown as { __t: Record<string, number> }).__t.result !== undefined, undefined, { timeout: 600_000 });
    return (await page.evaluate(() => (window as unknown as { __t: Record<string, number> }).__t.result)) - t0;
  };
  const atReady = await attribute(PROMPTS[0]);
  await page.waitForFunction(() => (window as unknown as { __t: Record<string, number> }).__t.warm !== undefined, undefined, { timeout: 600_000 });
  const warm = await attribute(PROMPTS[1]);
  if (process.env.DEMO_SCREENSHOTS && !first) {
    const shots = fileURLToPath(new URL('docs/screenshots/', ROOT));
    mkdirSync(shots, { recursive: true });
    // as a visitor does it: Generate, then Attribute the completion
    await el.locator('textarea.prompt').fill(PROMPTS[0]);
    await el.locator('button.generate').click();
    await expect(el.locator('.step[data-stage="generate"]')).toHaveAttribute('data-state', 'done', { timeout: 600_000 });
    await attribute(undefined);
    await el.locator('li.result').first().click();
    for (const [w, hgt] of [[1280, 900], [390, 844]] as const) {
      await page.setViewportSize({ width: w, height: hgt });
      await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
      await page.screenshot({ path: `${shots}demo-${w}.png`, fullPage: true });
    }
  }
  if (first) await page.waitForFunction(() => (window as unknown as { __t: Record<string, number> }).__t.save !== undefined, undefined, { timeout: 600_000 });
  const t = await page.evaluate(() => (window as unknown as { __t: Record<string, number | string> }).__t);
  return {
    ready: Math.round(t.ready as number), warm: Math.round(t.warm as number), attributeAtReady: Math.round(atReady), attributeWarm: Math.round(warm),
    indexSource: String(t.source), backend: String(t.backend), ...(first ? { saved: Math.round(t.save as number) } : {}),
  };
}

test('demo page: load -> ready -> first attribution, first and second visit', async ({ browser }) => {
  test.skip(!process.env.DEMO_BENCH, 'set DEMO_BENCH=1 to time the demo page');
  test.skip(!existsSync(new URL('public/index/manifest.json', ROOT)), 'needs the prebuilt index public/index/ (npm run index:demo)');
  test.setTimeout(40 * 60_000);
  const rows: Record<string, unknown>[] = [];
  const backends = ['auto', 'cpu'];
  for (const backend of backends) {
    const context = await browser.newContext(); // an empty profile: a first-time visitor
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && console.log(`  page: ${m.text()}`));
    const url = `/?backend=${backend}&db=demo-bench-${backend}`;
    const first = await visit(page, url, true);
    expect(first.indexSource).toBe('served');
    const second = await visit(page, url, false); // a reload: IndexedDB now holds the index
    expect(second.indexSource).toBe('indexeddb');
    await context.close();
    if (backend === 'auto' && first.backend === 'cpu') backends.pop(); // auto took the CPU (no hardware adapter): done
    for (const [name, v] of [['first visit', first], ['second visit', second]] as const) {
      rows.push({ visit: name, ...v });
      console.log(`${v.backend.padEnd(6)} ${name.padEnd(12)} ready ${(v.ready / 1000).toFixed(1)} s (${v.indexSource}), in memory ${(v.warm / 1000).toFixed(1)} s, attribution clicked at ready ${(v.attributeAtReady / 1000).toFixed(2)} s, once in memory ${(v.attributeWarm / 1000).toFixed(2)} s${v.saved ? `, saved in IndexedDB ${(v.saved / 1000).toFixed(1)} s` : ''}`);
    }
  }
  if (process.env.DEMO_BENCH_JSON) writeFileSync(process.env.DEMO_BENCH_JSON, JSON.stringify({ date: new Date().toISOString(), prompts: PROMPTS, rows }, null, 1) + '\n');
});
