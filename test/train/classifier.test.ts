// The trainer on a classifier (the MLP torch fixture): parameter gradients of the linear weights equal the summed
// per-example weight gradients from the taps (themselves checked against torch), training lowers the loss, and the
// per-example losses are cross-entropies in the order given.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Trainer } from '../../src/train/trainer.ts';
import { TapModel } from '../../src/runtime/taps.ts';
import { decodeModel } from '../../src/onnx/codec.ts';
import { parseJsonl } from '../../src/io/jsonl.ts';
import type { ClassExample } from '../../src/runtime/batch.ts';

const fx = new URL('../fixtures/mlp_classifier/', import.meta.url);
const bytes = new Uint8Array(readFileSync(new URL('model.onnx', fx)));
const data = parseJsonl(readFileSync(new URL('data.jsonl', fx), 'utf8')) as ClassExample[];
const model = decodeModel(bytes);
const params = (model.graph!.initializer ?? []).filter((t) => t.dataType === 1 && (t.dims ?? []).length >= 1).map((t) => t.name!);

describe('trainer on a classifier', () => {
  it('weight gradients equal the summed per-example gradients of the taps', async () => {
    const tr = await Trainer.create(model, params, { lr: 1e-3, warmup: 1, totalSteps: 1 });
    const { grads, loss } = await tr.gradients(data);
    expect(Number.isFinite(loss)).toBe(true);
    const taps = await TapModel.create(bytes, { task: 'classification', weightGrads: true });
    const r = await taps.run(data);
    expect(r.layers.length).toBeGreaterThan(1);
    for (const lt of r.layers) {
      const k = params.indexOf(lt.layer.weight);
      expect(k, lt.layer.weight).toBeGreaterThanOrEqual(0);
      const per = lt.layer.dIn * lt.layer.dOut;
      const sum = new Float64Array(per);
      for (let b = 0; b < r.B; b++) for (let i = 0; i < per; i++) sum[i] += lt.grad![b * per + i];
      // the taps give dW in [d_out, d_in] order, the initializer may be stored transposed (Gemm transB = 0)
      const g = grads[k];
      let mx = 0, err = 0, errT = 0;
      for (let o = 0; o < lt.layer.dOut; o++)
        for (let i = 0; i < lt.layer.dIn; i++) {
          const v = sum[o * lt.layer.dIn + i];
          mx = Math.max(mx, Math.abs(v));
          err = Math.max(err, Math.abs(v - g[o * lt.layer.dIn + i]));
          errT = Math.max(errT, Math.abs(v - g[i * lt.layer.dOut + o]));
        }
      expect(mx).toBeGreaterThan(0);
      expect(Math.min(err, errT) / mx).toBeLessThan(1e-4);
    }
    await taps.release();
    await tr.release();
  });

  it('training lowers the loss; per-example losses are cross-entropies in the order given', async () => {
    const tr = await Trainer.create(model, params, { lr: 1e-2, warmup: 1, totalSteps: 60, weightDecay: 0 });
    const before = await tr.evaluate(data);
    for (let s = 0; s < 60; s++) await tr.step(data);
    const after = await tr.evaluate(data);
    expect(after).toBeLessThan(before * 0.8);
    const { loss, tokens } = await tr.exampleLosses(data, 3);
    expect(Array.from(tokens)).toEqual(data.map(() => 1));
    expect(Math.abs(loss.reduce((a, v) => a + v, 0) / data.length - after)).toBeLessThan(1e-5);
    for (const l of loss) expect(l).toBeGreaterThanOrEqual(0);
    await expect(tr.step([{ id: 'x', input_ids: [1, 2, 3] }])).rejects.toThrow(/classifier/);
    await tr.release();
  });
});
