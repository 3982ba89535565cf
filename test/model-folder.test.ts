// Model folders as transformers.js publishes them: which file is used (float32 first, then float16, 8-bit, 4-bit, or
// --model-dtype), external data next to the model, the folder's tokenizer for text data, and `logra grads --model DIR`
// on prompt/completion text against the torch references of each variant.
import { describe, it, expect, afterAll } from 'vitest';
import { logra } from './support/cli.ts';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModelPath } from '../src/io/model-folder-fs.ts';
import { ModelFolderError } from '../src/io/model-folder.ts';
import { createEngine } from '../src/logra/engine.ts';
import { readSafetensors } from '../src/io/safetensors.ts';

const root = new URL('..', import.meta.url).pathname;
const FOLDER = join(root, 'test/fixtures/llama_folder');
const tmp = mkdtempSync(join(tmpdir(), 'logra-folder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('opening model folders', () => {
  it('prefers float32 (weights in onnx/model.onnx_data), then float16, then 8-bit, then 4-bit, and says which', async () => {
    const dir = join(tmp, 'pick');
    cpSync(FOLDER, dir, { recursive: true });
    const f32 = await openModelPath(dir);
    expect([f32.file, f32.dtype]).toEqual(['onnx/model.onnx', 'fp32']);
    expect([...f32.externalData.keys()]).toEqual(['model.onnx_data']);
    expect(f32.notes.join('\n')).toMatch(/using .*onnx\/model\.onnx \(fp32\)[\s\S]*external data: onnx\/model\.onnx_data/);
    expect(f32.tokenizer?.kind).toBe('tokenizer.json (BPE)');
    expect(f32.config?.model_type).toBe('llama');
    for (const [drop, file, dtype] of [['model.onnx', 'onnx/model_fp16.onnx', 'fp16'], ['model_fp16.onnx', 'onnx/model_quantized.onnx', 'q8'], ['model_quantized.onnx', 'onnx/model_q4.onnx', 'q4']] as const) {
      unlinkSync(join(dir, 'onnx', drop));
      const f = await openModelPath(dir);
      expect([f.file, f.dtype]).toEqual([file, dtype]);
      expect(f.notes[0]).toContain('the folder has no float32 model file');
    }
    expect((await openModelPath(FOLDER, { dtype: 'q4' })).file).toBe('onnx/model_q4.onnx');
    // a file path finds its external data beside it and the tokenizer in the folder above onnx/
    const one = await openModelPath(join(FOLDER, 'onnx/model.onnx'));
    expect([one.file, one.externalData.size, !!one.tokenizer]).toEqual(['onnx/model.onnx', 1, true]);
  });

  it('names what is missing: the model file (with the .onnx files it has), an external data file', async () => {
    const empty = join(tmp, 'empty');
    cpSync(join(FOLDER, 'config.json'), join(empty, 'config.json'));
    cpSync(join(FOLDER, 'onnx/model_q4.onnx'), join(empty, 'weird/name.onnx'));
    await expect(openModelPath(empty)).rejects.toThrow(ModelFolderError);
    await expect(openModelPath(empty, { dtype: 'fp16' })).rejects.toThrow(/no fp16 ONNX model found \(looked for onnx\/model_fp16\.onnx/);
    const noData = join(tmp, 'nodata');
    cpSync(FOLDER, noData, { recursive: true });
    unlinkSync(join(noData, 'onnx/model.onnx_data'));
    await expect(openModelPath(noData)).rejects.toThrow(/onnx\/model\.onnx: its external data file onnx\/model\.onnx_data is missing/);
  });

  it('engine.loadModelFrom(dir) loads the folder with its tokenizer and notes', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    try {
      const m = await engine.loadModelFrom(FOLDER, { dtype: 'q4' });
      expect(m.task).toBe('causal-lm');
      expect(m.tokenizer?.encode('say:').ids[0]).toBe(1);
      expect(m.notes.join('\n')).toMatch(/using .*model_q4\.onnx \(q4\)[\s\S]*warning: .*dequantised 16 quantised weights to float32 \(GatherBlockQuantized x1, MatMulNBits x15\)/);
      expect(m.layers.length).toBe(15);
      await m.release();
    } finally {
      engine.dispose();
    }
  });
});

describe('logra grads --model DIR on prompt/completion text (the folder tokenizer; the loss covers the completions)', () => {
  // (the int8 and 4-bit files go through the same path; test/fixture-models.test.ts checks every variant's gradients
  // and engine.loadModelFrom above the q4 notes)
  for (const [dtype, ref, warn] of [['fp32', 'ref.safetensors', ''], ['fp16', 'ref_fp16.safetensors', 'float16 model computed in float32']] as const) {
    it(`${dtype}: gradients equal torch's on that file's dequantised weights, nested in each initializer's layout`, async () => {
      const out = join(tmp, `grads-${dtype}.json`);
      const r = await logra(['grads', '--model', FOLDER, '--model-dtype', dtype, '--data', join(FOLDER, 'data.jsonl'), '--out', out, '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`(${dtype})`);
      if (warn) expect(r.stderr).toMatch(new RegExp(`warning: .*${warn}.*gradients and scores are those of the dequantised`));
      const res = JSON.parse(readFileSync(out, 'utf8'));
      const refs = readSafetensors(readFileSync(join(FOLDER, ref))).tensors;
      const n = [...refs.keys()].filter((k) => k.startsWith('loss/')).length;
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const ex = res.examples[i];
        expect(Math.abs(ex.loss - (refs.get(`loss/${i}`)!.data[0] as number))).toBeLessThan(1e-4);
        for (const l of res.layers) {
          const g = refs.get(`grad/${l.name}/${i}`)!;
          expect(l.shape).toEqual(g.shape);
          const flat = (ex.grads[l.name] as unknown[]).flat(Infinity) as number[];
          let mx = 0, me = 0;
          g.data.forEach((v, k) => {
            mx = Math.max(mx, Math.abs(Number(v)));
            me = Math.max(me, Math.abs(Number(v) - flat[k]));
          });
          worst = Math.max(worst, me / mx);
        }
      }
      console.log(`llama_folder ${dtype}: worst per-example gradient error ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-5);
    });
  }

  it('text data without a tokenizer, or with another model\'s, is an error naming the file and line / the token', async () => {
    const data = join(tmp, 'p.jsonl');
    writeFileSync(data, '{"id":"a","prompt":"say:","completion":"yes."}\n');
    const r = await logra(['grads', '--model', join(FOLDER, 'onnx/model_q4.onnx'), '--data', data, '--out', join(tmp, 'x.json'), '--tokenizer', join(root, 'public/tokenizer/kjv-bpe.json')]);
    // the KJV tokenizer gives ids beyond this model's vocabulary
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/input_ids\[\d+\] = \d+ is outside the model's vocabulary \(63 tokens\): is the tokenizer the model's\?/);
    const none = join(tmp, 'alone');
    cpSync(join(FOLDER, 'onnx/model_q4.onnx'), join(none, 'model.onnx'));
    const r2 = await logra(['grads', '--model', join(none, 'model.onnx'), '--data', data, '--out', join(tmp, 'y.json')]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`${data}:1: a "prompt"/"completion" row needs a tokenizer`);
  });
});
