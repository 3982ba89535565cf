// End to end in Chromium: the Llama-style model folder loaded by URL (engine.loadModelFrom fetches config.json,
// tokenizer.json, onnx/model.onnx and onnx/model.onnx_data relative to the page), prompt/completion text through its
// tokenizer, log -> fit -> query with the index in IndexedDB; scores against the float64 torch references
// (test/support/folder-e2e.ts; Node and Deno run the same check).
import { test, expect } from './guard.ts';
import type { FolderE2E } from '../support/folder-e2e.ts';

test('llama_folder by URL (tokenizer.json, prompt/completion, external data): log, fit, query equal the float64 references', async ({ page }) => {
  await page.goto('/test/e2e/harness.html');
  await page.waitForFunction(() => window.harness !== undefined, undefined, { timeout: 90_000 });
  const res: FolderE2E = await page.evaluate(() => window.harness!.runFolderE2E(`folder-${Date.now()}`));
  for (const c of res.checks) console.log(`llama_folder [chromium] ${c.name}: ${c.err.toExponential(2)} (${c.layer})`);
  expect(res.tokenizer).toBe('tokenizer.json (BPE)');
  expect(res.notes.join('\n')).toContain('onnx/model.onnx_data');
  expect(res.selfRank).toEqual([1, 1, 1, 1]);
  for (const c of res.checks) expect(c.err, c.name).toBeLessThanOrEqual(1e-4);
});
