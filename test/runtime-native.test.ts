// The native onnxruntime (onnxruntime-node) runs the augmented graphs of every torch fixture to the same tolerance
// as onnxruntime-web: loss, layer inputs x, output gradients dy and per-example weight gradients against torch's
// float64 references. onnxruntime-node is a devDependency here, so its absence fails this test.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { checkFixture, failures, summary } from './support/fixture-check.ts';
import { nativeAvailable, resolveEp } from '../src/runtime/ort.ts';

const dir = new URL('./fixtures/', import.meta.url);
const fixtures = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

describe('native onnxruntime (onnxruntime-node)', () => {
  it('loads, and is what "auto" picks in Node', async () => {
    expect(await nativeAvailable()).toBe(true);
    expect(await resolveEp('auto')).toBe('native');
    expect(await resolveEp('wasm')).toBe('wasm');
  });
  for (const name of fixtures) {
    it(`${name}: taps and per-example gradients equal torch's`, async () => {
      const r = await checkFixture(
        {
          name,
          model: new Uint8Array(readFileSync(new URL(`${name}/model.onnx`, dir))),
          data: readFileSync(new URL(`${name}/data.jsonl`, dir), 'utf8'),
          ref: new Uint8Array(readFileSync(new URL(`${name}/ref.safetensors`, dir))),
        },
        'native',
      );
      console.log(summary(r));
      expect(failures(r)).toEqual([]);
    });
  }
});
