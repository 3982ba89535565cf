// The pipeline against float64 references from the torch fixtures (exact mode, LoGra with given projections,
// raw / KFAC / EKFAC preconditioning), on the CPU backend, with model runs and GEMMs on onnxruntime-web's wasm and on
// the native onnxruntime (onnxruntime-node, a devDependency here: its absence fails this test).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import { checkPipeline, PIPELINE_CASES } from '../support/pipeline-check.ts';
import { checksOf, loadCheck } from '../support/fixtures.ts';

const dir = new URL('../fixtures/', import.meta.url);
const load = (name: string) => ({
  name,
  model: new Uint8Array(readFileSync(new URL(`${name}/model.onnx`, dir))),
  data: readFileSync(new URL(`${name}/data.jsonl`, dir), 'utf8'),
  ref: new Uint8Array(readFileSync(new URL(`${name}/ref.safetensors`, dir))),
});

for (const runtime of ['wasm', 'native'] as const) {
  describe(`pipeline vs float64 torch references (cpu backend, ${runtime})`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await createEngine({ backend: 'cpu', ep: runtime, kernels: { cpuRuntime: runtime } });
      expect(engine.ep).toBe(runtime);
      expect(engine.backend.description).toMatch(runtime === 'native' ? /onnxruntime-node \(native/ : /onnxruntime-web wasm/);
    });
    afterAll(() => engine.dispose());
    for (const name of ['mlp_classifier', 'gpt2_linear_erf_op17_mask_pos_tied', 'gpt2_conv1d_tanh_op14_mask_tied']) {
      it(name, async () => {
        const res = await checkPipeline(load(name), engine);
        for (const r of res) console.log(`[${runtime}] ${name} ${r.name}: ${r.err.toExponential(2)} (${r.layer})`);
        for (const r of res) expect(r.err, `${r.name} worst at ${r.layer}`).toBeLessThanOrEqual(1e-4);
      });
    }
  });
}

// KFAC/EKFAC on layers whose rows are not tokens: BERT's pooler and classifier see one row per example, so their A
// factor averages over examples, not tokens (the float64 reference averages over each layer's own rows)
describe('pipeline vs float64 references on a BERT-style classifier (pooled layers)', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ backend: 'cpu' });
  });
  afterAll(() => engine.dispose());
  it('bert_folder: kfac and ekfac with the pooled head', async () => {
    const meta = JSON.parse(readFileSync(new URL('bert_folder/meta.json', dir), 'utf8'));
    const input = await loadCheck(checksOf('bert_folder', meta)[0], async (p) => new Uint8Array(readFileSync(new URL(p, dir))));
    const res = await checkPipeline(input, engine, PIPELINE_CASES.filter((c) => c.hessian === 'kfac' || c.hessian === 'ekfac'));
    for (const r of res) console.log(`bert_folder ${r.name}: ${r.err.toExponential(2)} (${r.layer})`);
    expect(res.length).toBe(2);
    for (const r of res) expect(r.err, `${r.name} worst at ${r.layer}`).toBeLessThanOrEqual(1e-4);
  });
});
