// Builds a GPT-2-style causal LM directly as an ONNX graph (opset 17), with seeded random weights. Node names
// follow torch.onnx's scoping (/h.0/attn/c_attn/MatMul), so taps and layer filters read the same as for exports.
// Input: input_ids [B, T] (int64). Output: logits [B, T, vocab]. Right padding needs no attention mask: attention is
// causal, so padded positions never influence real ones, and the loss mask ignores them.
import { onnx, Long, type ModelProto } from '../onnx/codec.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType } from '../onnx/tensor.ts';
import { Emitter } from '../autograd/emit.ts';
import { rng } from './rng.ts';

export { rng };

export interface Gpt2Config {
  vocab: number;
  nEmbd: number;
  nHead: number;
  nLayer: number;
  nPositions: number;
  seed: number;
}

export interface Gpt2Model {
  model: ModelProto;
  /** trainable parameters (initializer names), in a stable order */
  params: string[];
  config: Gpt2Config;
}

export function buildGpt2(cfg: Gpt2Config): Gpt2Model {
  const { vocab, nEmbd: d, nHead: H, nLayer: L, nPositions } = cfg;
  if (d % H !== 0) throw new Error(`nEmbd ${d} is not divisible by nHead ${H}`);
  const hd = d / H;
  const model = onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'logra-web',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: Long.fromNumber(17) })],
    graph: onnx.GraphProto.create({ name: 'gpt2', node: [], initializer: [], input: [], output: [] }),
    // readers (generation, the explorer) take the context window from here: positions beyond it have no embedding
    metadataProps: [
      onnx.StringStringEntryProto.create({ key: 'context_length', value: String(nPositions) }),
      onnx.StringStringEntryProto.create({ key: 'gpt2_config', value: JSON.stringify({ vocab, nEmbd: d, nHead: H, nLayer: L, nPositions }) }),
    ],
  });
  const g = new Graph(model);
  const e = new Emitter(g, new Map(), 17, '');
  const r = rng(cfg.seed);
  const params: string[] = [];
  const param = (name: string, dims: number[], init: () => number) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = init();
    params.push(g.addInitializer(name, DataType.FLOAT, dims, v));
    return params[params.length - 1];
  };
  const normal = (std: number) => () => std * r.normal();
  const at = (scope: string) => (e.scope = scope);
  const op = (type: string, ins: string[], attrs: Record<string, number | number[] | { float: number }> = {}) => e.op(type, ins, attrs);
  // residual projections scaled as in GPT-2
  const projStd = 0.02 / Math.sqrt(2 * L);

  g.addInput('input_ids', DataType.INT64, ['batch', 'sequence']);
  const wte = param('wte.weight', [vocab, d], normal(0.02));
  const wpe = param('wpe.weight', [nPositions, d], normal(0.01));
  at('/wte');
  let h = op('Gather', [wte, 'input_ids']);
  at('/wpe');
  const T = e.dimOf('input_ids', 1);
  const pos = op('Range', [e.int(0), op('Squeeze', [T, e.ints([0])]), e.int(1)]);
  h = e.add(h, op('Gather', [wpe, pos]));

  const layerNorm = (x: string, name: string) => {
    const gamma = param(`${name}.weight`, [d], () => 1);
    const beta = param(`${name}.bias`, [d], () => 0);
    at(`/${name}`);
    return op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: { float: 1e-5 } });
  };
  const linear = (x: string, name: string, dIn: number, dOut: number, std: number) => {
    const w = param(`${name}.weight`, [dIn, dOut], normal(std));
    const b = param(`${name}.bias`, [dOut], () => 0);
    at(`/${name.replace(/\.(?=[a-z_])/g, '/')}`);
    return e.add(op('MatMul', [x, w]), b);
  };
  const heads = (x: string) => op('Transpose', [op('Reshape', [x, e.ints([0, 0, H, hd])])], { perm: [0, 2, 1, 3] });

  // causal mask [T, T]: key j > query i is masked with a large finite negative (never -inf: no NaN anywhere)
  at('/mask');
  const idx = op('Range', [e.int(0), op('Squeeze', [T, e.ints([0])]), e.int(1)]);
  const future = op('Greater', [e.unsqueeze(idx, [0]), e.unsqueeze(idx, [1])]);
  const negBig = e.scalar(-1e9);

  for (let l = 0; l < L; l++) {
    const p = `h.${l}`;
    const a = layerNorm(h, `${p}.ln_1`);
    const qkv = linear(a, `${p}.attn.c_attn`, d, 3 * d, 0.02);
    at(`/${p}/attn`);
    const [q, k, v] = e.ops('Split', [qkv, e.ints([d, d, d])], 3, { axis: 2 });
    const scores = e.scale(op('MatMul', [heads(q), op('Transpose', [heads(k)], { perm: [0, 1, 3, 2] })]), 1 / Math.sqrt(hd));
    const probs = op('Softmax', [op('Where', [future, negBig, scores])], { axis: -1 });
    const ctx = op('Reshape', [op('Transpose', [op('MatMul', [probs, heads(v)])], { perm: [0, 2, 1, 3] }), e.ints([0, 0, d])]);
    h = e.add(h, linear(ctx, `${p}.attn.c_proj`, d, d, projStd));
    const m = layerNorm(h, `${p}.ln_2`);
    const f = linear(m, `${p}.mlp.c_fc`, d, 4 * d, 0.02);
    at(`/${p}/mlp/act`);
    // gelu, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const inner = e.scale(e.add(f, e.scale(e.mul(e.mul(f, f), f), 0.044715)), Math.sqrt(2 / Math.PI));
    const act = e.mul(e.scale(f, 0.5), e.add(e.scalar(1), op('Tanh', [inner])));
    h = e.add(h, linear(act, `${p}.mlp.c_proj`, 4 * d, d, projStd));
  }
  h = layerNorm(h, 'ln_f');
  const head = param('lm_head.weight', [d, vocab], normal(0.02));
  at('/lm_head');
  const logits = op('MatMul', [h, head]);
  g.add('Identity', [logits], {}, { outputs: ['logits'], name: '/logits' });
  g.addOutput('logits', DataType.FLOAT);
  return { model, params, config: cfg };
}
