// GPT-2-small end to end in Chromium (opt-in: minutes, and bench/models/gpt2-small.onnx must exist):
//   SCALE_BENCH=1 npx playwright test test/e2e/scale-bench.spec.ts   (SCALE_BENCH_JSON=path writes the numbers;
//   SCALE_BENCH_EXAMPLES / _TOKENS / _K change the sizes)
import { writeFileSync } from 'node:fs';
import { test, expect } from './guard.ts';

test('GPT-2-small log / fit / query in Chromium (bench/scale.ts)', async ({ page }) => {
  test.skip(!process.env.SCALE_BENCH, 'set SCALE_BENCH=1 to run the GPT-2-small benchmark');
  test.setTimeout(60 * 60_000);
  page.on('console', (m) => console.log(`  page: ${m.text()}`));
  await page.goto('/test/e2e/bench/index.html');
  await page.waitForFunction(() => window.scaleBench !== undefined, undefined, { timeout: 30_000 });
  const o = { examples: Number(process.env.SCALE_BENCH_EXAMPLES ?? 16), tokens: Number(process.env.SCALE_BENCH_TOKENS ?? 128), k: Number(process.env.SCALE_BENCH_K ?? 64), queries: 4 };
  const res = await page.evaluate((opts) => window.scaleBench!.run(opts), o);
  console.log(`\n${res.markdown}`);
  if (process.env.SCALE_BENCH_JSON) writeFileSync(process.env.SCALE_BENCH_JSON, JSON.stringify(res.json, null, 1) + '\n');
  expect(res.markdown).toContain('fit ekfac');
});
