// A small MLP classifier for the accuracy study: ReLU MLP of Gemm layers (transB = 1, as torch's nn.Linear
// exports), built as ONNX in code, with a seeded teacher-student synthetic task and a plain minibatch-SGD trainer
// (hand-written forward/backward in float64 TypeScript: small enough that no framework is needed).
import { onnx, Long, encodeModel } from '../../src/onnx/codec.ts';
import { Graph } from '../../src/onnx/graph.ts';
import { DataType } from '../../src/onnx/tensor.ts';
import { rng } from '../../src/train/rng.ts';
import type { ClassExample } from '../../src/runtime/batch.ts';

export interface MlpWeights {
  /** widths, e.g. [32, 64, 64, 4] */
  sizes: number[];
  /** W_l [d_out, d_in] row-major, b_l [d_out] */
  w: Float64Array[];
  b: Float64Array[];
}

/** torch.nn.Linear's default init: U(-1/sqrt(d_in), 1/sqrt(d_in)) for weights and biases. */
export function initMlp(sizes: number[], seed: number): MlpWeights {
  const r = rng(seed);
  const w: Float64Array[] = [], b: Float64Array[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const bound = 1 / Math.sqrt(sizes[l]);
    w.push(Float64Array.from({ length: sizes[l + 1] * sizes[l] }, () => (2 * r.uniform() - 1) * bound));
    b.push(Float64Array.from({ length: sizes[l + 1] }, () => (2 * r.uniform() - 1) * bound));
  }
  return { sizes, w, b };
}

/** ONNX (opset 17): input [batch, d0] -> (Gemm transB=1 -> Relu)* -> Gemm -> logits [batch, classes]. */
export function mlpOnnx(m: MlpWeights): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'logra-web bench',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: Long.fromNumber(17) })],
    graph: onnx.GraphProto.create({ name: 'mlp', node: [], initializer: [], input: [], output: [] }),
  });
  const g = new Graph(model);
  g.addInput('input', DataType.FLOAT, ['batch', m.sizes[0]]);
  let h = 'input';
  const L = m.w.length;
  for (let l = 0; l < L; l++) {
    const w = g.addInitializer(`net.${2 * l}.weight`, DataType.FLOAT, [m.sizes[l + 1], m.sizes[l]], Float32Array.from(m.w[l]));
    const b = g.addInitializer(`net.${2 * l}.bias`, DataType.FLOAT, [m.sizes[l + 1]], Float32Array.from(m.b[l]));
    const last = l === L - 1;
    const [y] = g.add('Gemm', [h, w, b], { transB: 1 }, { outputs: last ? ['logits'] : 1, name: `/net.${2 * l}/Gemm` });
    h = last ? y : g.op('Relu', [y], {}, `/net.${2 * l + 1}/Relu`);
  }
  g.addOutput('logits', DataType.FLOAT);
  return encodeModel(model);
}

/** Forward pass; returns the activations of every layer (post-ReLU for hidden layers; logits last). */
function forward(m: MlpWeights, x: Float64Array): Float64Array[] {
  const acts = [x];
  let h = x;
  for (let l = 0; l < m.w.length; l++) {
    const dIn = m.sizes[l], dOut = m.sizes[l + 1];
    const y = new Float64Array(dOut);
    for (let o = 0; o < dOut; o++) {
      let s = m.b[l][o];
      for (let i = 0; i < dIn; i++) s += m.w[l][o * dIn + i] * h[i];
      y[o] = l < m.w.length - 1 ? Math.max(0, s) : s;
    }
    acts.push(y);
    h = y;
  }
  return acts;
}

export function predict(m: MlpWeights, x: ArrayLike<number>): number {
  const z = forward(m, Float64Array.from(x)).at(-1)!;
  let best = 0;
  for (let c = 1; c < z.length; c++) if (z[c] > z[best]) best = c;
  return best;
}

/** Mean cross-entropy and accuracy. */
export function evaluate(m: MlpWeights, data: ClassExample[]): { loss: number; acc: number } {
  let loss = 0, hit = 0;
  for (const e of data) {
    const z = forward(m, Float64Array.from(e.input)).at(-1)!;
    const mx = Math.max(...z);
    const lse = mx + Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0));
    loss += lse - z[e.label];
    if (predict(m, e.input) === e.label) hit++;
  }
  return { loss: loss / data.length, acc: hit / data.length };
}

/** Minibatch SGD (momentum 0.9) on the mean cross-entropy; seeded batch order. Returns the weights in place. */
export function trainMlp(m: MlpWeights, data: ClassExample[], o: { steps: number; batch: number; lr: number; seed: number }): void {
  const r = rng(o.seed);
  const L = m.w.length;
  const vw = m.w.map((w) => new Float64Array(w.length)), vb = m.b.map((b) => new Float64Array(b.length));
  for (let step = 0; step < o.steps; step++) {
    const gw = m.w.map((w) => new Float64Array(w.length)), gb = m.b.map((b) => new Float64Array(b.length));
    for (let s = 0; s < o.batch; s++) {
      const e = data[Math.floor(r.uniform() * data.length)];
      const acts = forward(m, Float64Array.from(e.input));
      const z = acts[L];
      const mx = Math.max(...z);
      const p = z.map((v) => Math.exp(v - mx));
      const sum = p.reduce((a, v) => a + v, 0);
      let dy = p.map((v, c) => v / sum - (c === e.label ? 1 : 0));
      for (let l = L - 1; l >= 0; l--) {
        const dIn = m.sizes[l], dOut = m.sizes[l + 1], x = acts[l];
        for (let oo = 0; oo < dOut; oo++) {
          gb[l][oo] += dy[oo];
          for (let i = 0; i < dIn; i++) gw[l][oo * dIn + i] += dy[oo] * x[i];
        }
        if (l > 0) {
          const dx = new Float64Array(dIn);
          for (let oo = 0; oo < dOut; oo++) for (let i = 0; i < dIn; i++) dx[i] += m.w[l][oo * dIn + i] * dy[oo];
          for (let i = 0; i < dIn; i++) if (x[i] <= 0) dx[i] = 0; // ReLU
          dy = dx;
        }
      }
    }
    for (let l = 0; l < L; l++) {
      for (let j = 0; j < m.w[l].length; j++) {
        vw[l][j] = 0.9 * vw[l][j] + gw[l][j] / o.batch;
        m.w[l][j] -= o.lr * vw[l][j];
      }
      for (let j = 0; j < m.b[l].length; j++) {
        vb[l][j] = 0.9 * vb[l][j] + gb[l][j] / o.batch;
        m.b[l][j] -= o.lr * vb[l][j];
      }
    }
  }
}

/**
 * Teacher-student task: x ~ N(0, I_d), label = argmax of a random teacher MLP d -> 16 (tanh) -> classes, with 10%
 * of the labels replaced by a uniformly random class (so that some training points are genuinely atypical).
 */
export function teacherData(n: number, d: number, classes: number, seed: number, prefix: string): ClassExample[] {
  const r = rng(seed);
  const H = 16;
  const w1 = Float64Array.from({ length: H * d }, () => r.normal() / Math.sqrt(d));
  const w2 = Float64Array.from({ length: classes * H }, () => r.normal() / Math.sqrt(H));
  const out: ClassExample[] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: d }, () => Math.fround(r.normal()));
    const h = Array.from({ length: H }, (_, j) => Math.tanh(x.reduce((a, v, k) => a + w1[j * d + k] * v, 0)));
    let label = 0, best = -Infinity;
    for (let c = 0; c < classes; c++) {
      const z = h.reduce((a, v, j) => a + w2[c * H + j] * v, 0);
      if (z > best) {
        best = z;
        label = c;
      }
    }
    if (r.uniform() < 0.1) label = Math.floor(r.uniform() * classes);
    out.push({ id: `${prefix}${i}`, input: x, label });
  }
  return out;
}
