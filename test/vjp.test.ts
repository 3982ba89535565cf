// Finite-difference tests of every backward (VJP) rule. For each case a tiny forward graph y = f(inputs) is built,
// L = sum(y * R) for a fixed random R, and buildBackward appends the backward graph seeded with dy = R. The
// gradients are evaluated in float64 by an independent reference evaluator (test/support/ref-eval.ts) and
// compared with central differences of L; the same augmented model then runs in onnxruntime-web (wasm, float32)
// and its gradients are compared with the float64 ones, which proves the emitted ops really run in ORT.
import { describe, it, expect } from 'vitest';
import { decodeModel, encodeModel } from '../src/onnx/codec.ts';
import { Graph } from '../src/onnx/graph.ts';
import { DataType } from '../src/onnx/tensor.ts';
import { buildBackward, SUPPORTED_OPS, VJP_RULES } from '../src/autograd/builder.ts';
import { UnsupportedOpError } from '../src/autograd/errors.ts';
import type { ShapeMap } from '../src/autograd/shapes.ts';
import { createSession } from '../src/runtime/ort.ts';
import { compile, elemTypeOf, erf, evaluate, floatTensor, numel, type Feeds, type RefTensor } from './support/ref-eval.ts';
import { Builder, hashString, INT64_MAX, newModel, prng } from './support/graphs.ts';

const FLOAT = DataType.FLOAT;

type Dist = 'normal' | 'positive' | 'nonzero';

interface InputSpec {
  name: string;
  dims: number[];
  /** differentiate w.r.t. this input (default true) */
  wrt?: boolean;
  /** normal (default), positive in [0.5, 2], or nonzero with |x| in [0.3, 1.3] (away from kinks/poles) */
  dist?: Dist;
}

interface GradCase {
  name: string;
  opset?: number;
  inputs: InputSpec[];
  /** builds the forward graph from the inputs; returns the output y */
  build(b: Builder): string;
  /** set to a reason when ORT cannot run the model (no case needs it at present) */
  skipOrt?: string;
  /** a rule bug this case exposes: the case runs under it.fails until the rule is fixed */
  knownBug?: string;
}

const inp = (name: string, dims: number[], more: Partial<InputSpec> = {}): InputSpec => ({ name, dims, ...more });

function sample(spec: InputSpec, r: { uniform(): number; normal(): number }): number[] {
  return Array.from({ length: numel(spec.dims) }, () => {
    const d = spec.dist ?? 'normal';
    const v = d === 'normal' ? r.normal() : d === 'positive' ? 0.5 + 1.5 * r.uniform() : (r.uniform() < 0.5 ? -1 : 1) * (0.3 + r.uniform());
    return Math.fround(v);
  });
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

interface Built {
  model: ReturnType<typeof newModel>;
  y: string;
  forwardOps: string[];
}

function buildForward(c: GradCase): Built & { g: Graph; rand: ReturnType<typeof prng> } {
  const model = newModel(c.opset ?? 17);
  const g = new Graph(model);
  const rand = prng(hashString(c.name));
  for (const i of c.inputs) g.addInput(i.name, FLOAT, i.dims);
  const y = c.build(new Builder(g, rand));
  g.addOutput(y, FLOAT);
  return { model, g, rand, y, forwardOps: g.nodes.map((n) => n.opType ?? '') };
}

const EPS = 1e-6;

/** Runs one case: f64 gradients vs central differences, then ORT (float32) vs f64. */
async function checkCase(c: GradCase): Promise<{ grads: Map<string, Float64Array> }> {
  const { model, g, rand, y } = buildForward(c);
  const opset = c.opset ?? 17;
  const feeds: Feeds = new Map(c.inputs.map((i) => [i.name, floatTensor(i.dims, sample(i, rand))]));
  // an independent copy of the forward model for the finite differences
  const forward = compile(decodeModel(encodeModel(model)));
  const values = forward(feeds);
  const yv = values.get(y)!;
  const R = floatTensor(yv.dims, Array.from({ length: numel(yv.dims) }, () => Math.fround(rand.normal())));
  const loss = (f: Feeds): number => {
    const out = forward(f).get(y)!.data as Float64Array;
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i] * (R.data as Float64Array)[i];
    return s;
  };

  const shapes: ShapeMap = new Map();
  for (const [k, t] of values) shapes.set(k, { dims: [...t.dims], elemType: elemTypeOf(t) });
  g.addInput('dy', FLOAT, yv.dims);
  shapes.set('dy', { dims: [...yv.dims], elemType: FLOAT });
  const wrt = c.inputs.filter((i) => i.wrt !== false).map((i) => i.name);
  const res = buildBackward(g, { seeds: new Map([[y, 'dy']]), wrt, shapes });
  if (res.emitter.minOpset > opset) g.setOpset(res.emitter.minOpset);
  const gradOut = new Map<string, string>();
  for (const w of wrt) {
    const gw = res.grads.get(w);
    expect(gw, `no gradient for ${w}`).toBeDefined();
    // an Identity per gradient: outputs with their own names even when a gradient is dy itself or shared
    const o = g.op('Identity', [gw!], {}, `grad_out/${w}`);
    g.addOutput(o, FLOAT);
    gradOut.set(w, o);
  }

  // ---- float64: analytic vs central differences
  const all = evaluate(model, new Map([...feeds, ['dy', R]]));
  const grads = new Map<string, Float64Array>();
  for (const w of wrt) {
    const gt = all.get(gradOut.get(w)!)!;
    const x = feeds.get(w)!;
    expect(gt.dims, `gradient dims of ${w}`).toEqual(x.dims);
    const got = gt.data as Float64Array;
    expect(got.every(Number.isFinite), `non-finite gradient for ${w}`).toBe(true);
    const fd = new Float64Array(got.length);
    for (let i = 0; i < fd.length; i++) {
      const at = (d: number): number => {
        const data = Float64Array.from(x.data as Float64Array);
        data[i] += d;
        return loss(new Map([...feeds, [w, { dims: x.dims, data, type: 'float' } as RefTensor]]));
      };
      fd[i] = (at(EPS) - at(-EPS)) / (2 * EPS);
    }
    const err = maxAbsDiff(got, fd) / Math.max(1, maxAbs(fd));
    expect(err, `${c.name}: d/d${w} vs finite differences\n got ${Array.from(got).map((v) => v.toPrecision(6))}\n fd  ${Array.from(fd).map((v) => v.toPrecision(6))}`).toBeLessThanOrEqual(1e-6);
    grads.set(w, got);
  }

  // ---- float32 in onnxruntime-web
  if (!c.skipOrt) {
    const { ort, session } = await createSession(encodeModel(model));
    try {
      const of: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (const [k, t] of [...feeds, ['dy', R] as const]) of[k] = new ort.Tensor('float32', Float32Array.from(t.data as Float64Array), t.dims);
      const out = await session.run(of);
      const yo = out[y].data as Float32Array;
      const yref = yv.data as Float64Array;
      expect(maxAbsDiff(yo, yref) / Math.max(1e-3, maxAbs(yref)), `${c.name}: ORT forward vs ref-eval`).toBeLessThanOrEqual(1e-5);
      for (const w of wrt) {
        const t = out[gradOut.get(w)!];
        expect([...t.dims]).toEqual(feeds.get(w)!.dims);
        const ref = grads.get(w)!;
        const err = maxAbsDiff(t.data as Float32Array, ref) / Math.max(1e-3, maxAbs(ref));
        expect(err, `${c.name}: ORT d/d${w} vs float64`).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      await session.release();
    }
  }
  return { grads };
}

// ------------------------------------------------------------------ cases

const unary = (op: string, dist: Dist = 'normal', attrs: Record<string, string> = {}, opset?: number): GradCase => ({
  name: `${op}${Object.keys(attrs).length ? ` ${JSON.stringify(attrs)}` : ''}`,
  opset,
  inputs: [inp('x', [3, 5], { dist })],
  build: (b) => b.op(op, ['x'], attrs),
});

const binary = (op: string, da: number[], db: number[], distB: Dist = 'normal'): GradCase => ({
  name: `${op} [${da}] . [${db}]`,
  inputs: [inp('a', da), inp('b', db, { dist: distB })],
  build: (b) => b.op(op, ['a', 'b']),
});

const gemm = (tA: number, tB: number, alpha: number, beta: number, cDims: number[] | null, cWrt = true): GradCase => {
  const M = 3, K = 4, N = 5;
  return {
    name: `Gemm transA=${tA} transB=${tB} alpha=${alpha} beta=${beta} C=${cDims ? `[${cDims}]${cWrt ? '' : ' const'}` : 'none'}`,
    inputs: [
      inp('A', tA ? [K, M] : [M, K]),
      inp('B', tB ? [N, K] : [K, N]),
      ...(cDims && cWrt ? [inp('C', cDims)] : []),
    ],
    build: (b) => {
      const C = cDims ? (cWrt ? 'C' : b.randn(cDims)) : undefined;
      const attrs = {
        transA: tA || undefined,
        transB: tB || undefined,
        alpha: alpha === 1 ? undefined : { float: alpha },
        beta: beta === 1 ? undefined : { float: beta },
      };
      return b.op('Gemm', C ? ['A', 'B', C] : ['A', 'B'], attrs);
    },
  };
};

const slice = (name: string, starts: (number | bigint)[], ends: (number | bigint)[], axes?: number[], steps?: number[]): GradCase => ({
  name: `Slice ${name}`,
  inputs: [inp('x', [5, 6, 4])],
  build: (b) => {
    const ins = ['x', b.ints(starts), b.ints(ends)];
    if (axes || steps) ins.push(axes ? b.ints(axes) : '');
    if (steps) ins.push(b.ints(steps));
    return b.op('Tanh', [b.op('Slice', ins)]);
  },
});

const gather = (name: string, dims: number[], axis: number, idx: number[], idxDims: number[], knownBug?: string): GradCase => ({
  name: `Gather ${name}`,
  knownBug,
  inputs: [inp('x', dims)],
  build: (b) => b.op('Mul', [b.op('Gather', ['x', b.ints(idx, idxDims)], { axis }), b.scalar(1.5)]),
});

const CASES: GradCase[] = [
  // ---- MatMul
  { name: 'MatMul 2-D [3,4]x[4,5]', inputs: [inp('a', [3, 4]), inp('b', [4, 5])], build: (b) => b.op('MatMul', ['a', 'b']) },
  { name: 'MatMul batched 3-D x 2-D weight [2,3,4]x[4,5]', inputs: [inp('a', [2, 3, 4]), inp('w', [4, 5])], build: (b) => b.op('MatMul', ['a', 'w']) },
  { name: 'MatMul batched 3-D x 3-D [2,3,4]x[2,4,5]', inputs: [inp('a', [2, 3, 4]), inp('b', [2, 4, 5])], build: (b) => b.op('MatMul', ['a', 'b']) },
  { name: 'MatMul broadcast [2,1,4,5]x[3,5,6]', inputs: [inp('a', [2, 1, 4, 5]), inp('b', [3, 5, 6])], build: (b) => b.op('MatMul', ['a', 'b']) },
  { name: 'MatMul 1-D x 2-D [4]x[4,3]', inputs: [inp('a', [4]), inp('b', [4, 3])], build: (b) => b.op('MatMul', ['a', 'b']) },
  { name: 'MatMul 2-D x 1-D [3,4]x[4]', inputs: [inp('a', [3, 4]), inp('b', [4])], build: (b) => b.op('MatMul', ['a', 'b']) },
  { name: 'MatMul 3-D x 1-D [2,3,4]x[4]', inputs: [inp('a', [2, 3, 4]), inp('b', [4])], build: (b) => b.op('MatMul', ['a', 'b']) },
  { name: 'MatMul 1-D x 3-D [4]x[2,4,3]', inputs: [inp('a', [4]), inp('b', [2, 4, 3])], build: (b) => b.op('MatMul', ['a', 'b']) },
  { name: 'MatMul only the weight needs grad', inputs: [inp('a', [2, 3, 4], { wrt: false }), inp('w', [4, 5])], build: (b) => b.op('MatMul', ['a', 'w']) },

  // ---- Gemm
  gemm(0, 0, 1, 1, [5]),
  gemm(0, 1, 0.7, 1.3, [5]),
  gemm(1, 0, 1.5, 0.5, [1, 5]),
  gemm(1, 1, -0.8, 2, [3, 5]),
  gemm(0, 0, 1, 1.7, []),
  gemm(1, 1, 1, 1, [3, 1]),
  gemm(0, 1, 1.2, 1, [5], false),
  gemm(1, 0, 1, 1, null),

  // ---- Add / Sub / Mul / Div with broadcasting both ways and rank differences
  binary('Add', [3, 4], [3, 4]),
  binary('Add', [3, 4], [4]),
  binary('Add', [4], [2, 3, 4]),
  binary('Add', [2, 1, 4], [3, 1]),
  binary('Sub', [3, 1, 5], [4, 5]),
  binary('Sub', [], [2, 3]),
  binary('Mul', [2, 3, 4], [1, 3, 1]),
  binary('Mul', [3, 1], [1, 4]),
  binary('Mul', [2, 3], []),
  binary('Div', [3, 4], [2, 1, 4], 'positive'),
  binary('Div', [3, 1], [3, 5], 'positive'),
  { name: 'Mul x*x (same value twice)', inputs: [inp('x', [3, 4])], build: (b) => b.op('Mul', ['x', 'x']) },

  // ---- Pow with constant exponents
  ...[2, 3, 0.5, 1, 0, -1.5].map((p): GradCase => ({
    name: `Pow x^${p}`,
    inputs: [inp('x', [3, 4], { dist: 'positive' })],
    build: (b) => b.op('Pow', ['x', b.scalar(p)]),
  })),
  { name: 'Pow non-scalar constant exponent [4]', inputs: [inp('x', [3, 4], { dist: 'positive' })], build: (b) => b.op('Pow', ['x', b.floats([4], [1.5, 2, 0.5, 3])]) },
  { name: 'Pow x [4] ^ constant [3,4] (x broadcast)', inputs: [inp('x', [4], { dist: 'positive' })], build: (b) => b.op('Pow', ['x', b.floats([3, 4], [1.5, 2, 0.5, 3, 1, 2.5, -1, 0.25, 3, 2, 1, 0.5])]) },

  // ---- unary maths and activations
  unary('Sqrt', 'positive'),
  unary('Exp'),
  unary('Log', 'positive'),
  unary('Neg'),
  unary('Tanh'),
  unary('Erf'),
  unary('Sigmoid'),
  unary('Relu', 'nonzero'),
  unary('Reciprocal', 'nonzero'),
  unary('Identity'),
  unary('Gelu', 'normal', {}, 20),
  unary('Gelu', 'normal', { approximate: 'tanh' }, 20),
  unary('Gelu', 'normal', { approximate: 'none' }, 20),

  // ---- Softmax / LogSoftmax
  { name: 'Softmax axis -1', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('Softmax', ['x'], { axis: -1 }) },
  { name: 'Softmax axis 1 (middle)', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('Softmax', ['x'], { axis: 1 }) },
  { name: 'Softmax default axis', inputs: [inp('x', [3, 5])], build: (b) => b.op('Softmax', ['x']) },
  { name: 'LogSoftmax axis -1', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('LogSoftmax', ['x'], { axis: -1 }) },
  { name: 'LogSoftmax axis 1 (middle)', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('LogSoftmax', ['x'], { axis: 1 }) },

  // ---- ReduceSum (axes as input) and ReduceMean (attribute at 17, input at 18)
  { name: 'ReduceSum axes [1] keepdims 1', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceSum', ['x', b.ints([1])], { keepdims: 1 }) },
  { name: 'ReduceSum axes [0,2] keepdims 0', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceSum', ['x', b.ints([0, 2])], { keepdims: 0 }) },
  { name: 'ReduceSum axes [-1] keepdims 0', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceSum', ['x', b.ints([-1])], { keepdims: 0 }) },
  { name: 'ReduceSum no axes (all) keepdims 0', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceSum', ['x'], { keepdims: 0 }) },
  { name: 'ReduceSum empty axes input (all) keepdims 1', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceSum', ['x', b.ints([])], { keepdims: 1 }) },
  { name: 'ReduceSum no axes, noop_with_empty_axes=1', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceSum', ['x'], { noop_with_empty_axes: 1 }) },
  { name: 'ReduceMean opset 17 axes attr [1] keepdims 0', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceMean', ['x'], { axes: [1], keepdims: 0 }) },
  { name: 'ReduceMean opset 17 axes attr [-1,0] keepdims 1', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceMean', ['x'], { axes: [-1, 0], keepdims: 1 }) },
  { name: 'ReduceMean opset 17 no axes (all)', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceMean', ['x'], { keepdims: 0 }) },
  { name: 'ReduceMean opset 18 axes input [-1,0] keepdims 1', opset: 18, inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceMean', ['x', b.ints([-1, 0])], { keepdims: 1 }) },
  { name: 'ReduceMean opset 18 axes input [1] keepdims 0', opset: 18, inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceMean', ['x', b.ints([1])], { keepdims: 0 }) },
  { name: 'ReduceMean opset 18 no axes (all)', opset: 18, inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('ReduceMean', ['x'], { keepdims: 1 }) },

  // ---- LayerNormalization
  {
    name: 'LayerNormalization axis -1 (X, scale, bias)',
    inputs: [inp('x', [2, 3, 5]), inp('s', [5]), inp('bias', [5])],
    build: (b) => b.op('LayerNormalization', ['x', 's', 'bias'], { axis: -1, epsilon: { float: 1e-5 } }),
  },
  {
    name: 'LayerNormalization axis -2 (X, scale, bias), epsilon 1e-3',
    inputs: [inp('x', [2, 3, 5]), inp('s', [3, 5]), inp('bias', [3, 5])],
    build: (b) => b.op('LayerNormalization', ['x', 's', 'bias'], { axis: -2, epsilon: { float: 1e-3 } }),
  },
  {
    name: 'LayerNormalization axis 1 of 2-D, no bias, opset 18',
    opset: 18,
    inputs: [inp('x', [4, 6]), inp('s', [6])],
    build: (b) => b.op('LayerNormalization', ['x', 's'], { axis: 1 }),
  },

  // ---- shape ops
  { name: 'Reshape [2,3,4] -> [0,-1]', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('Tanh', [b.op('Reshape', ['x', b.ints([0, -1])])]) },
  { name: 'Reshape [2,3,4] -> [4,-1,3]', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('Tanh', [b.op('Reshape', ['x', b.ints([4, -1, 3])])]) },
  { name: 'Flatten default axis', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('Tanh', [b.op('Flatten', ['x'])]) },
  { name: 'Flatten axis 2', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('Tanh', [b.op('Flatten', ['x'], { axis: 2 })]) },
  { name: 'Squeeze axes [1]', inputs: [inp('x', [3, 1, 4])], build: (b) => b.op('Tanh', [b.op('Squeeze', ['x', b.ints([1])])]) },
  { name: 'Squeeze no axes', inputs: [inp('x', [1, 3, 1, 4])], build: (b) => b.op('Tanh', [b.op('Squeeze', ['x'])]) },
  { name: 'Unsqueeze axes [0,-1]', inputs: [inp('x', [3, 4])], build: (b) => b.op('Tanh', [b.op('Unsqueeze', ['x', b.ints([0, -1])])]) },
  { name: 'Transpose perm [1,2,0]', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('Mul', [b.op('Transpose', ['x'], { perm: [1, 2, 0] }), b.randn([3, 4, 2])]) },
  { name: 'Transpose default perm (reverse)', inputs: [inp('x', [2, 3, 4])], build: (b) => b.op('Mul', [b.op('Transpose', ['x']), b.randn([4, 3, 2])]) },
  {
    name: 'Split sizes [2,3,2] axis 1, output 1 unused',
    inputs: [inp('x', [3, 7])],
    build: (b) => {
      const [s0, , s2] = b.ops('Split', ['x', b.ints([2, 3, 2])], 3, { axis: 1 });
      return b.op('Mul', [s0, b.op('Tanh', [s2])]);
    },
  },
  {
    name: 'Split equal (no sizes) axis 0, only output 1 used',
    inputs: [inp('x', [4, 3])],
    build: (b) => {
      const [, s1] = b.ops('Split', ['x'], 2, { axis: 0 });
      return b.op('Exp', [s1]);
    },
  },
  {
    name: 'Split all outputs used, axis -1',
    inputs: [inp('x', [2, 6])],
    build: (b) => {
      const [s0, s1, s2] = b.ops('Split', ['x', b.ints([1, 2, 3])], 3, { axis: -1 });
      return b.op('Concat', [b.op('Tanh', [s2]), s0, b.op('Exp', [s1])], { axis: 1 });
    },
  },
  {
    name: 'Split opset 18 num_outputs=3 uneven (7 -> 3,3,1)',
    opset: 18,
    inputs: [inp('x', [2, 7])],
    build: (b) => {
      const [s0, s1, s2] = b.ops('Split', ['x'], 3, { axis: 1, num_outputs: 3 });
      return b.op('Concat', [b.op('Mul', [s0, s1]), b.op('Exp', [s2])], { axis: 1 });
    },
  },
  {
    name: 'Concat 3 inputs axis 1, middle one not needing grad',
    inputs: [inp('a', [2, 3]), inp('m', [2, 1], { wrt: false }), inp('c', [2, 4])],
    build: (b) => b.op('Tanh', [b.op('Concat', ['a', 'm', 'c'], { axis: 1 })]),
  },
  {
    name: 'Concat 3 inputs axis -3 (0), one a constant',
    inputs: [inp('a', [1, 2, 3]), inp('c', [3, 2, 3])],
    build: (b) => b.op('Tanh', [b.op('Concat', ['a', b.randn([2, 2, 3]), 'c'], { axis: -3 })]),
  },
  slice('positive starts [1] ends [4] axes [0]', [1], [4], [0]),
  slice('negative starts [-4] ends [-1] axes [1]', [-4], [-1], [1]),
  slice('INT64_MAX end [2:] axes [2]', [2], [INT64_MAX], [2]),
  slice('negative start with INT64_MAX end [-2:] axes [-1]', [-2], [INT64_MAX], [-1]),
  slice('two axes via axes input [2,0]', [0, 1], [3, 5], [2, 0]),
  slice('clamped end [1:100] axes [1]', [1], [100], [1]),
  slice('clamped negative start [-100:3] axes [0]', [-100], [3], [0]),
  slice('no axes input (leading axes)', [1, 0], [3, 2]),
  slice('explicit steps [1]', [1], [5], [1], [1]),
  {
    name: 'Slice with ends computed at run time (Shape(x)[1] - 1)',
    inputs: [inp('x', [3, 5])],
    build: (b) => {
      const end = b.op('Sub', [b.op('Gather', [b.op('Shape', ['x']), b.ints([1])], { axis: 0 }), b.ints([1])]);
      return b.op('Tanh', [b.op('Slice', ['x', b.ints([1]), end, b.ints([1])])]);
    },
  },
  gather('axis 0 repeated indices [3,0,3,1]', [5, 3], 0, [3, 0, 3, 1], [4]),
  gather('axis 1 2-D indices with negatives [[1,-1],[4,1]]', [3, 5], 1, [1, -1, 4, 1], [2, 2]),
  gather('axis 1 of 3-D, repeated [2,2,0]', [2, 4, 3], 1, [2, 2, 0], [3]),
  gather('axis -1 indices [0,-3,2]', [2, 3, 4], -1, [0, -3, 2], [3]),
  // rank-0 indices (x[:, -1] exports as a scalar Gather): the negative-index fix-up must keep the index's rank
  gather('scalar index 2 axis 0', [5, 3], 0, [2], []),
  gather('scalar negative index -1 axis 1', [3, 5], 1, [-1], []),
  {
    name: 'Where broadcast condition [1,4], X [3,4], Y [4]',
    inputs: [inp('x', [3, 4]), inp('yy', [4])],
    build: (b) => b.op('Where', [b.bools([1, 4], [1, 0, 0, 1]), 'x', 'yy']),
  },
  {
    name: 'Where condition [3,1], X scalar, Y [3,4]',
    inputs: [inp('x', []), inp('yy', [3, 4])],
    build: (b) => b.op('Where', [b.bools([3, 1], [0, 1, 1]), 'x', 'yy']),
  },
  {
    name: 'Where with a condition computed from the data (leaky relu)',
    inputs: [inp('x', [3, 4], { dist: 'nonzero' })],
    build: (b) => b.op('Where', [b.op('Greater', ['x', b.scalar(0)]), 'x', b.op('Mul', ['x', b.scalar(0.1)])]),
  },
  { name: 'Expand [3,1] -> [2,3,4]', inputs: [inp('x', [3, 1])], build: (b) => b.op('Mul', [b.op('Expand', ['x', b.ints([2, 3, 4])]), b.randn([2, 3, 4])]) },
  { name: 'Expand [4] -> [3,1] (bidirectional)', inputs: [inp('x', [4])], build: (b) => b.op('Mul', [b.op('Expand', ['x', b.ints([3, 1])]), b.randn([3, 4])]) },
  { name: 'Cast float -> float', inputs: [inp('x', [3, 4])], build: (b) => b.op('Tanh', [b.op('Cast', ['x'], { to: FLOAT })]) },
  { name: 'Dropout (inference, one output)', inputs: [inp('x', [3, 4])], build: (b) => b.op('Tanh', [b.op('Dropout', ['x'])]) },
  {
    name: 'Dropout with ratio and training_mode=false, mask output unused',
    inputs: [inp('x', [3, 4])],
    build: (b) => {
      const [d] = b.ops('Dropout', ['x', b.scalar(0.3), b.bools([], [0])], 2);
      return b.op('Tanh', [d]);
    },
  },

  // ---- Conv (input, weight and bias), pooling, BatchNormalization, Resize, Clip
  ...([
    ['2-D 3x3 pads 1', [2, 3, 5, 5], [4, 3, 3, 3], {}],
    ['2-D stride 2, asymmetric pads, dilation 2', [1, 2, 7, 6], [3, 2, 2, 3], { strides: [2, 2], pads: [1, 0, 2, 1], dilations: [2, 1] }],
    ['2-D groups 2', [2, 4, 4, 4], [6, 2, 3, 3], { group: 2, pads: [1, 1, 1, 1] }],
    ['2-D depthwise (groups = channels) stride 2', [1, 3, 6, 6], [3, 1, 3, 3], { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] }],
    ['1-D k3 pads 1', [2, 3, 7], [5, 3, 3], { pads: [1, 1] }],
    ['1-D stride 2 dilation 2 groups 3', [1, 6, 9], [3, 2, 2], { strides: [2], dilations: [2], group: 3, pads: [0, 1] }],
    ['2-D auto_pad SAME_UPPER', [1, 2, 5, 4], [2, 2, 2, 3], { auto_pad: 'SAME_UPPER' }],
  ] as const).map(([name, xd, wd, attrs]): GradCase => ({
    name: `Conv ${name}`,
    inputs: [inp('x', [...xd]), inp('w', [...wd]), inp('b', [wd[0]])],
    build: (b) => b.op('Tanh', [b.op('Conv', ['x', 'w', 'b'], { ...(attrs as Record<string, number[] | string | number>), kernel_shape: [...wd.slice(2)] })]),
  })),
  { name: 'ConvTranspose 2-D stride 2, pads, output_padding, bias', inputs: [inp('x', [2, 4, 3, 3]), inp('w', [4, 3, 3, 3]), inp('b', [3])], build: (b) => b.op('Tanh', [b.op('ConvTranspose', ['x', 'w', 'b'], { strides: [2, 2], pads: [1, 0, 1, 1], output_padding: [1, 0], kernel_shape: [3, 3] })]) },
  { name: 'ConvTranspose 1-D groups 2 dilation 2', inputs: [inp('x', [1, 4, 5]), inp('w', [4, 3, 2])], build: (b) => b.op('ConvTranspose', ['x', 'w'], { group: 2, dilations: [2], pads: [1, 0] }) },
  { name: 'Conv after a MatMul (a Conv whose input is differentiated)', inputs: [inp('x', [2, 5, 3]), inp('w', [3, 4])], build: (b) => b.op('Conv', [b.op('Transpose', [b.op('MatMul', ['x', 'w'])], { perm: [0, 2, 1] }), b.randn([2, 4, 3])], { pads: [1, 1] }) },
  ...([
    ['2-D 2x2 stride 2', [2, 3, 4, 4], { kernel_shape: [2, 2], strides: [2, 2] }],
    ['2-D 3x3 stride 1 pads 1', [1, 2, 4, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }],
    ['2-D 3x3 stride 2 ceil_mode', [1, 2, 6, 6], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }],
    ['2-D dilation 2', [1, 1, 6, 6], { kernel_shape: [2, 2], dilations: [2, 2] }],
    ['1-D 3 stride 2 pads 1', [2, 3, 8], { kernel_shape: [3], strides: [2], pads: [1, 1] }],
  ] as const).map(([name, xd, attrs]): GradCase => ({ name: `MaxPool ${name}`, inputs: [inp('x', [...xd])], build: (b) => b.op('MaxPool', ['x'], attrs as unknown as Record<string, number[] | number>) })),
  ...([
    ['2-D 2x2 stride 2', [2, 3, 4, 4], { kernel_shape: [2, 2], strides: [2, 2] }],
    ['2-D 3x3 pads 1 count_include_pad 0', [1, 2, 4, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }],
    ['2-D 3x3 pads 1 count_include_pad 1', [1, 2, 4, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }],
    ['1-D 2 stride 1', [2, 3, 5], { kernel_shape: [2] }],
  ] as const).map(([name, xd, attrs]): GradCase => ({ name: `AveragePool ${name}`, inputs: [inp('x', [...xd])], build: (b) => b.op('AveragePool', ['x'], attrs as unknown as Record<string, number[] | number>) })),
  { name: 'GlobalAveragePool 2-D', inputs: [inp('x', [2, 3, 4, 5])], build: (b) => b.op('GlobalAveragePool', ['x']) },
  { name: 'GlobalMaxPool 1-D', inputs: [inp('x', [2, 3, 6])], build: (b) => b.op('GlobalMaxPool', ['x']) },
  {
    name: 'BatchNormalization inference (x, scale, bias)',
    inputs: [inp('x', [2, 3, 4, 2]), inp('s', [3]), inp('bias', [3])],
    build: (b) => b.op('BatchNormalization', ['x', 's', 'bias', b.floats([3], [0.1, -0.2, 0.3]), b.floats([3], [1.5, 0.5, 2])], { epsilon: { float: 1e-3 } }),
  },
  { name: 'BatchNormalization 1-D input [B, C, L]', inputs: [inp('x', [2, 4, 3])], build: (b) => b.op('Tanh', [b.op('BatchNormalization', ['x', b.randn([4]), b.randn([4]), b.randn([4]), b.floats([4], [1, 2, 0.5, 3])])]) },
  { name: 'Resize nearest x2 (asymmetric, floor: torch interpolate)', inputs: [inp('x', [1, 2, 3, 2])], build: (b) => b.op('Mul', [b.op('Resize', ['x', '', b.floats([4], [1, 1, 2, 2])], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }), b.randn([1, 2, 6, 4])]) },
  { name: 'Resize nearest x(1,1,3,2) by sizes (half_pixel, round_prefer_floor)', inputs: [inp('x', [1, 1, 2, 3])], build: (b) => b.op('Mul', [b.op('Resize', ['x', '', '', b.ints([1, 1, 6, 6])], { mode: 'nearest' }), b.randn([1, 1, 6, 6])]) },
  { name: 'Clip min and max (ReLU6-like)', inputs: [inp('x', [3, 5], { dist: 'nonzero' })], build: (b) => b.op('Clip', [b.op('Mul', ['x', b.scalar(4)]), b.scalar(-1), b.scalar(3)]) },
  { name: 'Clip max only', inputs: [inp('x', [4, 3], { dist: 'nonzero' })], build: (b) => b.op('Clip', ['x', '', b.scalar(0.5)]) },

  // ---- composites: gradient accumulation across several consumers
  {
    name: 'composite: x*x + exp(x) - tanh(x) (one value, four uses)',
    inputs: [inp('x', [3, 4])],
    build: (b) => b.op('Sub', [b.op('Add', [b.op('Mul', ['x', 'x']), b.op('Exp', ['x'])]), b.op('Tanh', ['x'])]),
  },
  {
    name: 'composite: causal attention block',
    inputs: [inp('x', [2, 4, 6]), inp('wq', [6, 5]), inp('wk', [6, 5]), inp('wv', [6, 5])],
    build: (b) => {
      const T = 4;
      const q = b.op('MatMul', ['x', 'wq']);
      const k = b.op('MatMul', ['x', 'wk']);
      const v = b.op('MatMul', ['x', 'wv']);
      const s = b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 2, 1] })]), b.scalar(1 / Math.sqrt(5))]);
      const causal = b.bools([T, T], Array.from({ length: T * T }, (_, i) => Math.floor(i / T) >= i % T));
      const masked = b.op('Where', [causal, s, b.scalar(-1e9)]);
      const p = b.op('Softmax', [masked], { axis: -1 });
      return b.op('Add', [b.op('MatMul', [p, v]), b.op('Slice', ['x', b.ints([0]), b.ints([5]), b.ints([2])])]);
    },
  },
  {
    name: 'composite: pre-LN MLP block with Gemm-free MatMul + bias, Gelu-free (opset 17)',
    inputs: [inp('x', [2, 3, 4]), inp('s', [4]), inp('w1', [4, 6]), inp('b1', [6]), inp('w2', [6, 4])],
    build: (b) => {
      const h = b.op('LayerNormalization', ['x', 's', b.randn([4])], { axis: -1 });
      const u = b.op('Add', [b.op('MatMul', [h, 'w1']), 'b1']);
      const a = b.op('Mul', [u, b.op('Sigmoid', [b.op('Mul', [u, b.scalar(1.702)])])]);
      return b.op('Add', ['x', b.op('MatMul', [a, 'w2'])]);
    },
  },
  {
    name: 'needs-grad analysis skips integer plumbing: Shape -> Gather -> Concat -> Reshape',
    inputs: [inp('x', [2, 3, 4]), inp('w', [4])],
    build: (b) => {
      const h = b.op('Mul', ['x', 'w']);
      const n = b.op('Gather', [b.op('Shape', [h]), b.ints([0])], { axis: 0 });
      const shp = b.op('Concat', [n, b.ints([-1])], { axis: 0 });
      const r = b.op('Reshape', [h, shp]);
      // a value-dependent integer path too: Size and a Cast to float of a shape-derived count
      const cnt = b.op('Cast', [b.op('Size', [h])], { to: FLOAT });
      return b.op('Div', [b.op('Tanh', [r]), cnt]);
    },
  },
  {
    name: 'Where with a -inf constant branch, then Softmax',
    inputs: [inp('x', [3, 5])],
    build: (b) => {
      const mask = b.bools([3, 5], [1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1]);
      return b.op('Softmax', [b.op('Where', [mask, 'x', b.scalar(-Infinity)])], { axis: -1 });
    },
  },
];

// ------------------------------------------------------------------ tests

describe('ref-eval sanity', () => {
  it('erf is accurate to ~1e-15', () => {
    const known: [number, number][] = [
      [0, 0],
      [1e-3, 0.0011283787909692363],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [4.5, 0.9999999998033839],
    ];
    for (const [x, v] of known) {
      expect(Math.abs(erf(x) - v)).toBeLessThanOrEqual(2e-16 + 1e-15 * v);
      expect(Math.abs(erf(-x) + v)).toBeLessThanOrEqual(2e-16 + 1e-15 * v);
    }
  });

  it('throws a clear error for ops it does not implement', () => {
    const model = newModel(17);
    const g = new Graph(model);
    g.addInput('x', FLOAT, [2]);
    g.addOutput(g.op('Cos', ['x'], {}, 'c'), FLOAT);
    expect(() => evaluate(model, new Map([['x', floatTensor([2], [1, 2])]]))).toThrow(/does not implement op Cos/);
  });
});

describe('VJP rules vs finite differences (float64) and onnxruntime-web (float32)', () => {
  it('the cases cover every rule in VJP_RULES', () => {
    const covered = new Set(CASES.flatMap((c) => buildForward(c).forwardOps));
    const missing = Object.keys(VJP_RULES).filter((op) => !covered.has(op));
    expect(missing).toEqual([]);
  });

  for (const c of CASES) {
    // a case with a known rule bug must fail until the rule is fixed; then drop its knownBug
    (c.knownBug ? it.fails : it)(c.knownBug ? `${c.name} [known bug: ${c.knownBug}]` : c.name, async () => {
      await checkCase(c);
    });
  }

  it('accumulates gradients over repeated Gather indices', async () => {
    const c = CASES.find((k) => k.name.startsWith('Gather axis 0 repeated'))!;
    const { grads } = await checkCase(c);
    const gx = grads.get('x')!; // x [5,3], indices [3,0,3,1]: row 3 twice, rows 2 and 4 never
    expect(Array.from(gx.subarray(6, 9))).toEqual([0, 0, 0]);
    expect(Array.from(gx.subarray(12, 15))).toEqual([0, 0, 0]);
    expect(maxAbs(gx.subarray(9, 12))).toBeGreaterThan(0);
  });

  it('Where with a -inf constant branch gives finite gradients, zero where masked', async () => {
    const c = CASES.find((k) => k.name.startsWith('Where with a -inf'))!;
    const { grads } = await checkCase(c);
    const gx = grads.get('x')!;
    const mask = [1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1];
    expect(gx.every(Number.isFinite)).toBe(true);
    mask.forEach((m, i) => {
      if (!m) expect(gx[i]).toBe(0);
    });
  });
});

describe('unsupported ops', () => {
  function cosModel(): { g: Graph; shapes: ShapeMap } {
    const model = newModel(17);
    const g = new Graph(model);
    g.addInput('x', FLOAT, [2, 3]);
    const h = g.op('Mul', ['x', g.addInitializer('w', FLOAT, [3], [1, 2, 3])], {}, 'scale');
    const y = g.op('Cos', [h], {}, 'my_cos');
    g.addOutput(y, FLOAT);
    const f = { dims: [2, 3], elemType: FLOAT };
    const shapes: ShapeMap = new Map([['x', f], ['w', { dims: [3], elemType: FLOAT }], [h, f], [y, f], ['dy', f]]);
    return { g, shapes };
  }

  it('Cos on the differentiated path throws UnsupportedOpError naming op, node, opset and the supported ops', () => {
    const { g, shapes } = cosModel();
    const y = g.outputs[0].name!;
    let err: unknown;
    try {
      buildBackward(g, { seeds: new Map([[y, 'dy']]), wrt: ['x'], shapes });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedOpError);
    const msg = (err as Error).message;
    expect(msg).toContain('Cos');
    expect(msg).toContain('my_cos');
    expect(msg).toContain('opset 17');
    expect(msg).toContain('Supported ops:');
    for (const op of SUPPORTED_OPS) expect(msg).toContain(op);
    expect((err as UnsupportedOpError).opType).toBe('Cos');
    expect((err as UnsupportedOpError).nodeName).toBe('my_cos');
  });

  it('an unsupported op off the differentiated path does not throw', () => {
    const { g, shapes } = cosModel();
    // seed the Mul output directly: Cos lies downstream of the seed and needs no backward rule
    const h = g.nodes[0].output![0];
    const r = buildBackward(g, { seeds: new Map([[h, 'dy']]), wrt: ['x'], shapes });
    expect(r.grads.get('x')).toBeDefined();
  });

  it('com.microsoft.FastGelu throws UnsupportedOpError with the domain, node, opset and export advice', () => {
    const model = newModel(17, [{ domain: 'com.microsoft', version: 1 }]);
    const g = new Graph(model);
    g.addInput('x', FLOAT, [2, 3]);
    const y = g.add('FastGelu', ['x'], {}, { domain: 'com.microsoft', name: 'fused_gelu' })[0];
    g.addOutput(y, FLOAT);
    const f = { dims: [2, 3], elemType: FLOAT };
    let err: unknown;
    try {
      buildBackward(g, { seeds: new Map([[y, 'dy']]), wrt: ['x'], shapes: new Map([['x', f], [y, f], ['dy', f]]) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedOpError);
    const msg = (err as Error).message;
    expect(msg).toContain('com.microsoft.FastGelu');
    expect(msg).toContain('fused_gelu');
    expect(msg).toContain('opset 1');
    expect(msg).toContain('Supported ops: ' + SUPPORTED_OPS.join(', '));
  });

  it('Pow with an exponent that needs a gradient, and Slice with step 2, are refused with a reason', () => {
    for (const [build, re] of [
      [(b: Builder) => b.op('Pow', ['x', 'x']), /exponent of Pow/],
      [(b: Builder) => b.op('Slice', ['x', b.ints([0]), b.ints([3]), b.ints([0]), b.ints([2])]), /step 1/],
    ] as const) {
      const c: GradCase = { name: `refused ${re}`, inputs: [inp('x', [3, 2], { dist: 'positive' })], build };
      const { model, g, y } = buildForward(c);
      const vals = evaluate(model, new Map([['x', floatTensor([3, 2], [1, 2, 3, 4, 5, 6])]]));
      const shapes: ShapeMap = new Map([...vals].map(([k, t]) => [k, { dims: [...t.dims], elemType: elemTypeOf(t) }]));
      shapes.set('dy', shapes.get(y)!);
      expect(() => buildBackward(g, { seeds: new Map([[y, 'dy']]), wrt: ['x'], shapes })).toThrow(re);
      expect(() => buildBackward(g, { seeds: new Map([[y, 'dy']]), wrt: ['x'], shapes })).toThrow(UnsupportedOpError);
    }
  });
});
