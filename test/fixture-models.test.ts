// Every model file of every fixture folder through TapModel in Node (ORT wasm): loss, layer inputs x, output
// gradients dy and per-example weight gradients against the torch references — float32, float16 and quantised
// variants (each against torch on its own dequantised weights), external data, Conv, token-id classifiers.
// Deno (test/deno/fixtures.test.ts) and Chromium (test/e2e/fixtures.spec.ts) run the same checks.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { checkFixture, failures, summary, REL_TOL } from './support/fixture-check.ts';
import { checkName, checksOf, loadCheck } from './support/fixtures.ts';

const FIX = new URL('./fixtures/', import.meta.url);
const checks = readdirSync(FIX)
  .filter((d) => !d.includes('.'))
  .sort()
  .flatMap((d) => checksOf(d, JSON.parse(readFileSync(new URL(`${d}/meta.json`, FIX), 'utf8'))));

describe('fixture models vs torch (Node, ORT wasm)', () => {
  for (const c of checks) {
    it(`${checkName(c)}: loss, x, dy and per-example weight grads match torch to ${REL_TOL}`, async () => {
      const res = await checkFixture(await loadCheck(c, async (p) => new Uint8Array(readFileSync(new URL(p, FIX)))), 'wasm');
      console.log(summary(res));
      expect(res.layers.length).toBeGreaterThan(0);
      expect(failures(res)).toEqual([]);
    });
  }
});
