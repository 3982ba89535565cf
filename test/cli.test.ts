import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { decodeModel, encodeModel } from '../src/onnx/codec.ts';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'logra-cli-'));

function logra(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/logra.js', ...args], { cwd: root, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('logra grads (Node CLI)', () => {
  it.each(['mlp_classifier', 'gpt2_conv1d_tanh_op14_mask_tied'])('writes per-example weight gradients equal to torch for %s', async (fx) => {
    const out = join(tmp, `${fx}.json`);
    const dir = `test/fixtures/${fx}`;
    const r = await logra(['grads', '--model', `${dir}/model.onnx`, '--data', `${dir}/data.jsonl`, '--out', out, '--batch', '3', '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    const meta = JSON.parse(readFileSync(join(root, dir, 'meta.json'), 'utf8'));
    const ref = readSafetensors(readFileSync(join(root, dir, 'ref.safetensors'))).tensors;
    expect(res.layers.map((l: { name: string }) => l.name)).toEqual(meta.layers.map((l: { node: string }) => l.node));
    expect(res.examples.map((e: { id: string }) => e.id)).toEqual(meta.examples);
    let worst = 0;
    res.examples.forEach((ex: { loss: number; grads: Record<string, number[][]> }, i: number) => {
      const refLoss = (ref.get(`loss/${i}`)!.data as Float64Array)[0];
      expect(Math.abs(ex.loss - refLoss) / Math.max(1, Math.abs(refLoss))).toBeLessThan(1e-5);
      for (const l of meta.layers) {
        const g = ref.get(`grad/${l.node}/${i}`)!;
        const flat = ex.grads[l.node].flat();
        expect(flat.length).toBe(g.data.length);
        expect(ex.grads[l.node].length).toBe(g.shape[0]);
        let mx = 0, me = 0;
        g.data.forEach((v, k) => {
          mx = Math.max(mx, Math.abs(Number(v)));
          me = Math.max(me, Math.abs(Number(v) - flat[k]));
        });
        worst = Math.max(worst, me / mx);
      }
    });
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  it('names the file when the model bytes are malformed', async () => {
    const bad = join(tmp, 'bad.onnx');
    writeFileSync(bad, readFileSync(join(root, 'test/fixtures/mlp_classifier/model.onnx')).subarray(0, 500));
    const r = await logra(['grads', '--model', bad, '--data', 'test/fixtures/mlp_classifier/data.jsonl', '--out', join(tmp, 'x.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('OnnxDecodeError');
    expect(r.stderr).toContain(bad);
  });

  it('fails at build time naming the op, node and opset when a differentiated op has no backward rule', async () => {
    const m = decodeModel(new Uint8Array(readFileSync(join(root, 'test/fixtures/mlp_classifier/model.onnx'))));
    const tanh = m.graph!.node!.find((n) => n.opType === 'Tanh')!;
    tanh.opType = 'Cos';
    const p = join(tmp, 'cos.onnx');
    writeFileSync(p, encodeModel(m));
    const r = await logra(['grads', '--model', p, '--data', 'test/fixtures/mlp_classifier/data.jsonl', '--out', join(tmp, 'y.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('UnsupportedOpError');
    expect(r.stderr).toContain('op Cos');
    expect(r.stderr).toContain(JSON.stringify(tanh.name));
    expect(r.stderr).toContain('opset 14');
    expect(r.stderr).toMatch(/Supported ops: .*Gemm.*MatMul/);
  });

  it('rejects unknown options and bad data lines with the line number', async () => {
    let r = await logra(['grads', '--model', 'x', '--bogus', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option --bogus');
    const data = join(tmp, 'bad.jsonl');
    writeFileSync(data, '{"id":"a","input":[1,2],"label":0}\n{"id":"b","input":[1,2]}\n');
    r = await logra(['grads', '--model', 'test/fixtures/mlp_classifier/model.onnx', '--data', data, '--out', join(tmp, 'z.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${data}:2`);
  });
});
