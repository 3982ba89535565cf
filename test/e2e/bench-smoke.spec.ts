// The LDS suite in Chromium (opt-in: ~20 s reduced, ~1 min with LDS_BENCH_QUICK=1):
//   LDS_BENCH=1 npx playwright test test/e2e/bench-smoke.spec.ts
//   (LDS_BENCH_QUICK=1: bench/lds.ts --quick sizes instead of the reduced smoke sizes; LDS_BENCH_JSON=path writes
//   the result, which bench/report.ts reads like the Node one)
// The page runs the suite; this process checks the result is well-formed and renders it with the report assembly
// in a temporary folder. Speed is never asserted.
import { writeFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from './guard.ts';
import { assembleReport } from '../../bench/support/report-lib.ts';

test('LDS benchmark (bench/lds.ts) in Chromium + report assembly', async ({ page }) => {
  test.skip(!process.env.LDS_BENCH, 'set LDS_BENCH=1 to run the LDS benchmark in Chromium');
  test.setTimeout(10 * 60_000);
  page.on('console', (m) => console.log(`  page: ${m.text()}`));
  await page.goto('/test/e2e/bench/index.html');
  await page.waitForFunction(() => window.ldsBench !== undefined, undefined, { timeout: 30_000 });
  const opts = process.env.LDS_BENCH_QUICK ? { quick: true } : { quick: true, pool: 160, models: 50, queries: 8, ks: [4], dampings: [0.1] };
  const res = await page.evaluate((o) => window.ldsBench!.run(o), opts);
  const ua = await page.evaluate(() => navigator.userAgent);
  res.runtime = `Chromium (${/Chrome\/[\d.]+/.exec(ua)?.[0] ?? ua})`;
  console.log(`\n${res.markdown}`);
  expect(res.retrains.M).toBeGreaterThanOrEqual(50);
  expect(new Set(res.rows.map((r) => r.hessian))).toEqual(new Set(['none', 'raw', 'kfac', 'ekfac']));
  for (const r of res.rows) {
    expect(Number.isFinite(r.lds)).toBe(true);
    expect(Math.abs(r.lds)).toBeLessThanOrEqual(1);
  }
  if (process.env.LDS_BENCH_JSON) writeFileSync(process.env.LDS_BENCH_JSON, JSON.stringify(res, null, 1) + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-e2e-'));
  try {
    writeFileSync(join(dir, 'lds.json'), JSON.stringify(res));
    const rep = await assembleReport(dir);
    expect(rep.files).toEqual(expect.arrayContaining(['lds.svg', 'RESULTS.md']));
    expect(readFileSync(join(dir, 'lds.svg'), 'utf8').startsWith('<svg')).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
