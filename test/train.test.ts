import { describe, it, expect } from 'vitest';
import { buildGpt2, rng } from '../src/train/gpt2.ts';
import { Trainer } from '../src/train/trainer.ts';
import { TapModel } from '../src/runtime/taps.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import type { LmExample } from '../src/runtime/batch.ts';

const cfg = { vocab: 24, nEmbd: 16, nHead: 2, nLayer: 2, nPositions: 16, seed: 3 };

function toyData(n: number, seed: number): LmExample[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = Math.floor(r.uniform() * 6), s = 1 + (i % 3), len = 6 + (i % 5);
    return { id: `t${i}`, input_ids: Array.from({ length: len }, (_, t) => (a + s * t) % cfg.vocab) };
  });
}

describe('trainer', () => {
  it('parameter gradients of linear weights equal the sum of per-example weight gradients from the taps', async () => {
    const m = buildGpt2(cfg);
    const batch = toyData(5, 1);
    const tr = await Trainer.create(m.model, m.params, { lr: 1e-3, warmup: 1, totalSteps: 1 });
    const { grads } = await tr.gradients(batch);
    const taps = await TapModel.create(encodeModel(m.model), { weightGrads: true });
    const r = await taps.run(batch);
    expect(taps.layers.length).toBe(2 * 4 + 1);
    for (const lt of r.layers) {
      const k = m.params.indexOf(lt.layer.weight);
      expect(k).toBeGreaterThanOrEqual(0);
      const per = lt.layer.dIn * lt.layer.dOut;
      const sum = new Float64Array(per);
      for (let b = 0; b < r.B; b++) for (let i = 0; i < per; i++) sum[i] += lt.grad![b * per + i];
      let mx = 0, err = 0;
      for (let i = 0; i < per; i++) {
        mx = Math.max(mx, Math.abs(sum[i]));
        err = Math.max(err, Math.abs(sum[i] - grads[k][i]));
      }
      expect(mx).toBeGreaterThan(0);
      expect(err / mx).toBeLessThan(1e-4);
    }
    await taps.release();
    await tr.release();
  });

  it('embedding, LayerNorm and bias gradients agree with central finite differences', async () => {
    const m = buildGpt2(cfg);
    const batch = toyData(3, 2);
    const tr = await Trainer.create(m.model, m.params, { lr: 1e-3, warmup: 1, totalSteps: 1 });
    const { grads } = await tr.gradients(batch);
    const names = ['wte.weight', 'wpe.weight', 'h.0.ln_1.weight', 'h.1.ln_2.bias', 'h.0.attn.c_attn.bias', 'ln_f.weight'];
    for (const name of names) {
      const k = m.params.indexOf(name);
      // the three coordinates with the largest gradient
      const idx = [...grads[k].keys()].sort((a, b) => Math.abs(grads[k][b]) - Math.abs(grads[k][a])).slice(0, 3);
      for (const i of idx) {
        const p = tr.values[k], h = 3e-3, orig = p[i];
        p[i] = orig + h;
        const up = (await tr.gradients(batch)).loss;
        p[i] = orig - h;
        const down = (await tr.gradients(batch)).loss;
        p[i] = orig;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(fd - grads[k][i])).toBeLessThan(2e-2 * Math.max(1, Math.abs(grads[k][i])));
      }
    }
    await tr.release();
  });

  it('trains a tiny GPT to fit a patterned corpus and exports a model that reproduces the trained loss', async () => {
    const m = buildGpt2(cfg);
    const data = toyData(120, 4);
    const steps = 120;
    const tr = await Trainer.create(m.model, m.params, { lr: 5e-3, warmup: 10, totalSteps: steps });
    const before = await tr.evaluate(data.slice(0, 24));
    expect(Math.abs(before - Math.log(cfg.vocab))).toBeLessThan(0.3);
    const r = rng(9);
    for (let s = 0; s < steps; s++) await tr.step(Array.from({ length: 12 }, () => data[Math.floor(r.uniform() * data.length)]));
    const after = await tr.evaluate(data.slice(0, 24));
    expect(after).toBeLessThan(before * 0.35);
    // the exported model carries the trained weights: its per-example losses give the same mean
    const taps = await TapModel.create(encodeModel(tr.exportModel()), { layers: /lm_head/ });
    const res = await taps.run(data.slice(0, 24));
    const tokens = res.lengths.reduce((a, l) => a + l - 1, 0);
    const mean = res.loss.reduce((a, v) => a + v, 0) / tokens;
    expect(Math.abs(mean - after)).toBeLessThan(1e-4 * Math.max(1, after));
    await taps.release();
    await tr.release();
  });

  it('restore(state()) resumes exactly (same parameters after further steps); without moments it is a warm restart', async () => {
    const m = buildGpt2(cfg);
    const data = toyData(40, 6);
    const batches = Array.from({ length: 6 }, (_, i) => data.slice(i * 6, i * 6 + 6));
    const opt = { lr: 5e-3, warmup: 2, totalSteps: 6 };
    const a = await Trainer.create(m.model, m.params, opt);
    for (const b of batches) await a.step(b);
    // another trainer: 3 steps, a checkpoint (copies, as checkpoint.bin holds), restored into a third, 3 more steps
    const b = await Trainer.create(m.model, m.params, opt);
    for (const x of batches.slice(0, 3)) await b.step(x);
    const st = b.state();
    const ckpt = { step: st.step, momentSteps: st.momentSteps, values: st.values.map((v) => v.slice()), m: st.m.map((v) => v.slice()), v: st.v.map((v) => v.slice()) };
    await b.release();
    const c = await Trainer.create(m.model, m.params, opt);
    c.restore(ckpt);
    expect(c.stepCount).toBe(3);
    for (const x of batches.slice(3)) await c.step(x);
    a.values.forEach((v, i) => expect(Array.from(c.values[i])).toEqual(Array.from(v)));
    // a warm restart (weights only): the step count carries on, the moments start afresh (and differ from exact)
    const w = await Trainer.create(m.model, m.params, opt);
    w.restore({ step: ckpt.step, values: ckpt.values });
    expect(w.state().momentSteps).toBe(0);
    expect(w.state().m.every((x) => x.every((y) => y === 0))).toBe(true);
    const r = await w.step(batches[3]);
    expect(r.step).toBe(4);
    expect(w.state().momentSteps).toBe(1);
    // shapes are checked
    expect(() => w.restore({ step: 1, values: ckpt.values.slice(1) })).toThrow(/tensors/);
    for (const t of [a, c, w]) await t.release();
  });
});
