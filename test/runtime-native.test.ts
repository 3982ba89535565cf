// The native onnxruntime (onnxruntime-node) runs the augmented graphs of every fixture model file (float32, float16,
// quantised, external data, Conv, token classifiers) to the same tolerance as onnxruntime-web: loss, layer inputs x,
// output gradients dy and per-example weight gradients against torch's float64 references. onnxruntime-node is a
// devDependency here, so its absence fails this test.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { checkFixture, failures, summary } from './support/fixture-check.ts';
import { checkName, checksOf, loadCheck } from './support/fixtures.ts';
import { nativeAvailable, resolveEp } from '../src/runtime/ort.ts';

const FIX = new URL('./fixtures/', import.meta.url);
const checks = readdirSync(FIX)
  .filter((d) => !d.includes('.'))
  .sort()
  .flatMap((d) => checksOf(d, JSON.parse(readFileSync(new URL(`${d}/meta.json`, FIX), 'utf8'))));

describe('native onnxruntime (onnxruntime-node)', () => {
  it('loads, and is what "auto" picks in Node', async () => {
    expect(await nativeAvailable()).toBe(true);
    expect(await resolveEp('auto')).toBe('native');
    expect(await resolveEp('wasm')).toBe('wasm');
  });
  for (const c of checks) {
    it(`${checkName(c)}: taps and per-example gradients equal torch's`, async () => {
      const r = await checkFixture(await loadCheck(c, async (p) => new Uint8Array(readFileSync(new URL(p, FIX)))), 'native');
      console.log(summary(r));
      expect(r.layers.length).toBeGreaterThan(0);
      expect(failures(r)).toEqual([]);
    });
  }
});
