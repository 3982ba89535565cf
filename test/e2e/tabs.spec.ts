// Two tabs on one IndexedDB index (Chromium): writers take the index's Web Lock, so a second tab's log waits for the
// first (or fails at once with IndexLockedError naming the holder), and every id is stored once with the scores of
// one undisturbed run.
import type { Page } from '@playwright/test';
import { test, expect } from './guard.ts';

async function openHarness(page: Page): Promise<void> {
  await page.goto('/test/e2e/harness.html');
  await page.waitForFunction(() => window.harness !== undefined, undefined, { timeout: 90_000 });
}

test('two tabs logging into one IndexedDB index take turns: each id stored once, scores equal one run', async ({ page, context }) => {
  const db = `tabs-${Date.now()}`;
  const n = 16;
  const other = await context.newPage();
  await Promise.all([openHarness(page), openHarness(other)]);
  await page.evaluate((d) => window.harness!.idbHold(d), db);
  // the lock is held in the first tab: the second fails at once when told not to wait
  const refused = await other.evaluate(([d, k]) => window.harness!.idbLogPart(d, k, 0, 8, 0), [db, n] as const);
  expect(refused.error).toMatch(/^IndexLockedError: .*being written by another tab or worker \(.*harness\.html.*\): test, since/);
  // both tabs start logging overlapping parts while the lock is held: both wait
  const a = page.evaluate(([d, k]) => window.harness!.idbLogPart(d, k, 0, 10), [db, n] as const);
  const b = other.evaluate(([d, k]) => window.harness!.idbLogPart(d, k, 6, 16), [db, n] as const);
  await expect.poll(() => Promise.all([page, other].map((p) => p.evaluate((d) => window.harness!.idbWaiting(d), db))), { timeout: 180_000 }).toEqual([true, true]);
  await page.evaluate((d) => window.harness!.idbRelease(d), db);
  const [ra, rb] = await Promise.all([a, b]);
  expect(ra.error).toBeUndefined();
  expect(rb.error).toBeUndefined();
  expect(ra.waited && rb.waited).toBe(true);
  expect(ra.logged + rb.logged).toBe(n);
  const cmp = await other.evaluate(([d, k]) => window.harness!.idbCompare(d, k), [db, n] as const);
  expect(cmp.unique).toBe(n);
  expect(cmp.total).toBe(n);
  expect(cmp.err).toBeLessThanOrEqual(1e-5);
});
