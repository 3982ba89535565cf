import { describe, it, expect } from 'vitest';
import { buildGpt2 } from '../../src/train/gpt2.ts';
import { rng } from '../../src/train/rng.ts';
import { Trainer } from '../../src/train/trainer.ts';
import type { LmExample } from '../../src/runtime/batch.ts';

const cfg = { vocab: 24, nEmbd: 16, nHead: 2, nLayer: 2, nPositions: 16, seed: 3 };

function data(n: number, seed: number): LmExample[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({ id: `e${i}`, input_ids: Array.from({ length: 2 + Math.floor(r.uniform() * 12) }, () => Math.floor(r.uniform() * cfg.vocab)) }));
}

describe('trainer evaluation', () => {
  it('forward-only per-example losses equal the training graph losses, in the order given', async () => {
    const m = buildGpt2(cfg);
    const tr = await Trainer.create(m.model, m.params, { lr: 1e-3, warmup: 1, totalSteps: 1 });
    const ex = data(11, 1);
    const { loss, tokens } = await tr.exampleLosses(ex, 4);
    for (let i = 0; i < ex.length; i++) {
      const one = await tr.gradients([ex[i]]);
      expect(loss[i]).toBeCloseTo(one.loss, 4);
      expect(tokens[i]).toBe(ex[i].input_ids.length - 1);
    }
    const mean = await tr.evaluate(ex, 3);
    expect(mean).toBeCloseTo(loss.reduce((a, v) => a + v, 0) / tokens.reduce((a, v) => a + v, 0), 5);
    // evaluation follows the parameters as they change
    await tr.step(ex.slice(0, 6));
    expect(tr.stepCount).toBe(1);
    expect(Math.abs((await tr.evaluate(ex)) - mean)).toBeGreaterThan(1e-6);
    await tr.release();
  });

  it('the learning rate warms up linearly and decays by a cosine to minLr', async () => {
    const m = buildGpt2(cfg);
    const tr = await Trainer.create(m.model, m.params, { lr: 1e-2, minLr: 1e-3, warmup: 10, totalSteps: 110 });
    expect(tr.lrAt(0)).toBeCloseTo(1e-3, 12);
    expect(tr.lrAt(9)).toBeCloseTo(1e-2, 12);
    expect(tr.lrAt(60)).toBeCloseTo(5.5e-3, 12);
    expect(tr.lrAt(110)).toBeCloseTo(1e-3, 12);
    expect(tr.lrAt(500)).toBeCloseTo(1e-3, 12);
    await tr.release();
  });
});
