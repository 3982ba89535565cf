// Token-id classifiers and Conv models through `logra grads` and `logra log/fit/query`: the task comes from the
// logits' shape (BERT [B, 3] -> classification, [B, 1] -> regression), text + text_pair rows use the folder's
// WordPiece tokenizer, Conv gradients come out nested in the [C_out, C_in/groups, kh, kw] layout, and weight-bearing
// ops that cannot be tapped are named in one line.
import { describe, it, expect, afterAll } from 'vitest';
import { logra } from './support/cli.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { parseJsonl } from '../src/io/jsonl.ts';
import { parseTokenizer } from '../src/tokenizer/hf.ts';
import { TapModel } from '../src/runtime/taps.ts';
import type { TokenExample } from '../src/runtime/batch.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import { Graph } from '../src/onnx/graph.ts';
import { DataType } from '../src/onnx/tensor.ts';
import { newModel } from './support/graphs.ts';

const root = new URL('..', import.meta.url).pathname;
const FIX = join(root, 'test/fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'logra-cls-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** worst relative error of a grads.json against a fixture's reference (every example the reference has) */
function gradsError(out: string, refPath: string): { worst: number; task: string; shapes: number[][] } {
  const res = JSON.parse(readFileSync(out, 'utf8'));
  const refs = readSafetensors(readFileSync(refPath)).tensors;
  let worst = 0;
  res.examples.forEach((ex: { loss: number; grads: Record<string, unknown[]> }, i: number) => {
    const want = refs.get(`loss/${i}`)!.data[0] as number;
    worst = Math.max(worst, Math.abs(ex.loss - want) / Math.max(Math.abs(want), 1e-3));
    for (const l of res.layers) {
      const g = refs.get(`grad/${l.name}/${i}`)!;
      const flat = ex.grads[l.name].flat(Infinity) as number[];
      let mx = 0, me = 0;
      g.data.forEach((v, k) => {
        mx = Math.max(mx, Math.abs(Number(v)));
        me = Math.max(me, Math.abs(Number(v) - flat[k]));
      });
      worst = Math.max(worst, me / mx);
    }
  });
  return { worst, task: res.task, shapes: res.layers.map((l: { shape: number[] }) => l.shape) };
}

describe('token-id classifiers (BERT-style)', () => {
  it('text + text_pair rows through the folder tokenizer give the reference ids, token types and labels', () => {
    const tok = parseTokenizer(readFileSync(join(FIX, 'bert_folder/tokenizer.json'), 'utf8'), readFileSync(join(FIX, 'bert_folder/tokenizer_config.json'), 'utf8'));
    const got = parseJsonl(readFileSync(join(FIX, 'bert_folder/data.jsonl'), 'utf8'), 'data.jsonl', { tokenizer: tok });
    const want = readFileSync(join(FIX, 'bert_folder/ids.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // single texts carry no token_type_ids (all 0); pairs carry theirs
    expect(got.map((e) => ({ ...e, token_type_ids: (e as TokenExample).token_type_ids ?? (e as TokenExample).input_ids.map(() => 0) }))).toEqual(want);
  });

  it('logra grads --model DIR: classification inferred from logits [B, 3], padded batches, against torch', async () => {
    const out = join(tmp, 'bert.json');
    const r = await logra(['grads', '--model', join(FIX, 'bert_folder'), '--data', join(FIX, 'bert_folder/data.jsonl'), '--out', out, '--batch', '3', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const e = gradsError(out, join(FIX, 'bert_folder/ref.safetensors'));
    console.log(`bert_folder: worst per-example gradient error ${e.worst.toExponential(2)}`);
    expect(e.task).toBe('classification');
    expect(e.worst).toBeLessThanOrEqual(1e-5);
  });

  it('regression (1 output, MSE) inferred from logits [B, 1], with input_ids + token_type_ids rows and float labels', async () => {
    const out = join(tmp, 'reg.json');
    const r = await logra(['grads', '--model', join(FIX, 'bert_regression/model.onnx'), '--data', join(FIX, 'bert_regression/data.jsonl'), '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const e = gradsError(out, join(FIX, 'bert_regression/ref.safetensors'));
    expect(e.task).toBe('regression');
    expect(e.worst).toBeLessThanOrEqual(1e-5);
  });

  it('log, fit and query a token-id classifier with --task inferred; labels with --task causal-lm are refused', async () => {
    const ix = join(tmp, 'bert-ix');
    const dir = join(FIX, 'bert_folder');
    let r = await logra(['log', '--model', dir, '--data', join(dir, 'data.jsonl'), '--index', ix, '--k-in', '4', '--k-out', '3', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ examples: 5, layers: 8 });
    r = await logra(['fit', '--index', ix, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    r = await logra(['query', '--index', ix, '--data', join(dir, 'data.jsonl'), '--out', join(tmp, 'q.json'), '--top', '2', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const q = JSON.parse(readFileSync(join(tmp, 'q.json'), 'utf8'));
    expect(q.scores.length).toBe(5);
    expect(q.scores[0].every(Number.isFinite)).toBe(true);
    r = await logra(['grads', '--model', dir, '--task', 'causal-lm', '--data', join(dir, 'data.jsonl'), '--out', join(tmp, 'x.json')]);
    expect(r.code).toBe(1);
  });
});

describe('Conv models', () => {
  it('a CNN: Conv gradients nested as [C_out, C_in/groups, kh, kw] (depthwise and grouped included), against torch', async () => {
    const out = join(tmp, 'cnn.json');
    const r = await logra(['grads', '--model', join(FIX, 'cnn_classifier/model.onnx'), '--data', join(FIX, 'cnn_classifier/data.jsonl'), '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const e = gradsError(out, join(FIX, 'cnn_classifier/ref.safetensors'));
    expect(e.shapes).toEqual([[8, 3, 3, 3], [8, 1, 3, 3], [12, 8, 1, 1], [16, 3, 3, 3], [3, 16]]);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    expect(res.layers[1]).toMatchObject({ name: '/dw/Conv', op: 'Conv', layout: 'out_in', d_in: 9, d_out: 8 });
    expect(res.examples[0].grads['/dw/Conv'][7][0][2].length).toBe(3);
    console.log(`cnn_classifier: worst per-example gradient error ${e.worst.toExponential(2)}`);
    expect(e.worst).toBeLessThanOrEqual(1e-5);
  });

  it('one line names the weight-bearing ops that are not tapped (ConvTranspose, a weight as the first operand)', async () => {
    const m = newModel(17);
    const g = new Graph(m);
    g.addInput('x', DataType.FLOAT, [2, 3, 4]);
    const h = g.op('Relu', [g.op('MatMul', ['x', g.addInitializer('w', DataType.FLOAT, [4, 4], new Array(16).fill(0.1))], {}, '/fc/MatMul')], {}, 'relu');
    const t = g.op('MatMul', [g.addInitializer('left', DataType.FLOAT, [5, 2], new Array(10).fill(0.2)), g.op('Reshape', [h, g.addInitializer('s', DataType.INT64, [2], [2, -1])], {}, 'r')], {}, '/mix/MatMul');
    const u = g.op('ConvTranspose', [g.op('Reshape', [t, g.addInitializer('s2', DataType.INT64, [3], [1, 5, -1])], {}, 'r2'), g.addInitializer('k', DataType.FLOAT, [5, 2, 3], new Array(30).fill(0.05))], {}, '/up/ConvTranspose');
    g.addOutput(g.op('ReduceMean', [u], { axes: [2], keepdims: 0 }, 'logits'), DataType.FLOAT);
    m.graph!.output![0].name = 'logits';
    m.graph!.node![m.graph!.node!.length - 1].output![0] = 'logits';
    const tm = await TapModel.create(encodeModel(m), { task: 'classification' });
    expect(tm.layers.map((l) => l.name)).toEqual(['/fc/MatMul']);
    expect(tm.notes).toHaveLength(1);
    expect(tm.notes[0]).toMatch(/^warning: 2 weight-bearing ops are not tapped.*\/mix\/MatMul \(MatMul: the weight is not the second operand\); \/up\/ConvTranspose \(ConvTranspose: ConvTranspose layers are not tapped\)/);
    await tm.release();
  });
});
