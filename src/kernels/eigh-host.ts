// HostLinalg on onnxruntime-web's wasm EP: the matrix products of the blocked eigensolver and of the blocked
// Cholesky / triangular solves (eigh-blocked.ts, cholesky-blocked.ts) as one-node MatMul graphs, float32 (default,
// ~30-50 GFLOP/s on 2 threads here) or float64 (~6 GFLOP/s), and the tridiagonalisation's matrix-vector products
// against a fixed trailing matrix through a session that holds the matrix as an initializer (copied into wasm once
// per panel instead of once per product: ~2 GFLOP/s vs ~0.7 for a JS loop).
import { onnx, Long, encodeModel } from '../onnx/codec.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType } from '../onnx/tensor.ts';
import { cpuSessionOptions, createOrtSession, type Ort } from '../runtime/ort.ts';
import type * as OrtNs from 'onnxruntime-web';
import type { FixedMatvec, HostLinalg } from './eigh-blocked.ts';
import { releaseSessions } from './ort-graphs.ts';
import type { FloatArray } from './reference/tridiag.ts';

export type HostPrecision = 'f32' | 'f64';

function emptyModel(name: string): onnx.ModelProto {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'logra-web kernels',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: Long.fromNumber(17) })],
    graph: onnx.GraphProto.create({ name, node: [], initializer: [], input: [], output: [] }),
  });
}

export class OrtLinalg implements HostLinalg {
  private sessions = new Map<string, Promise<OrtNs.InferenceSession>>();
  /** below this the JS loop wins (session set-up; ORT threads under CPU contention) */
  readonly fixedMatvecMin = 1536;

  constructor(
    readonly ort: Ort,
    readonly precision: HostPrecision = 'f32',
  ) {}

  private session(tA: boolean, tB: boolean): Promise<OrtNs.InferenceSession> {
    const key = `${tA}:${tB}`;
    let s = this.sessions.get(key);
    if (!s) {
      const dt = this.precision === 'f64' ? DataType.DOUBLE : DataType.FLOAT;
      const model = emptyModel(`mm-${key}`);
      const g = new Graph(model);
      g.addInput('A', dt, ['a0', 'a1']);
      g.addInput('B', dt, ['b0', 'b1']);
      const a = tA ? g.op('Transpose', ['A'], { perm: [1, 0] }) : 'A';
      const b = tB ? g.op('Transpose', ['B'], { perm: [1, 0] }) : 'B';
      g.addOutput(g.op('MatMul', [a, b]), dt);
      s = createOrtSession(this.ort, encodeModel(model), { ...cpuSessionOptions(this.ort), graphOptimizationLevel: 'all' });
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  private tensor(x: FloatArray, dims: number[]): OrtNs.Tensor {
    if (this.precision === 'f64') return new this.ort.Tensor('float64', x instanceof Float64Array ? x : Float64Array.from(x), dims);
    return new this.ort.Tensor('float32', x instanceof Float32Array ? x : Float32Array.from(x), dims);
  }

  /** a copy out of ORT's (possibly wasm-heap-backed) output */
  private static take(out: OrtNs.Tensor): FloatArray {
    const d = out.data as Float32Array | Float64Array;
    const y = d.slice();
    out.dispose?.();
    return y;
  }

  matmul = async (a: FloatArray, b: FloatArray, m: number, n: number, k: number, transA: boolean, transB: boolean): Promise<FloatArray> => {
    if (m === 0 || n === 0 || k === 0) return this.precision === 'f64' ? new Float64Array(m * n) : new Float32Array(m * n);
    const s = await this.session(transA, transB);
    const res = await s.run({ A: this.tensor(a, transA ? [k, m] : [m, k]), B: this.tensor(b, transB ? [n, k] : [k, n]) });
    return OrtLinalg.take(res[s.outputNames[0]]);
  };

  fixedMatvec = async (a: FloatArray, n: number): Promise<FixedMatvec> => {
    const model = emptyModel('matvec');
    const dt = this.precision === 'f64' ? DataType.DOUBLE : DataType.FLOAT;
    const data = this.precision === 'f64' ? (a instanceof Float64Array ? a : Float64Array.from(a)) : a instanceof Float32Array ? a : Float32Array.from(a);
    model.graph!.initializer!.push(onnx.TensorProto.create({ name: 'A', dims: [Long.fromNumber(n), Long.fromNumber(n)], dataType: dt, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }));
    const g = new Graph(model);
    g.addInput('X', dt, [n, 1]);
    g.addOutput(g.op('MatMul', ['A', 'X']), dt);
    const s = await createOrtSession(this.ort, encodeModel(model), cpuSessionOptions(this.ort));
    return {
      mul: async (x: FloatArray) => {
        const res = await s.run({ X: this.tensor(x, [n, 1]) });
        return OrtLinalg.take(res[s.outputNames[0]]);
      },
      dispose: () => s.release(),
    };
  };

  async dispose(): Promise<void> {
    await releaseSessions(this.sessions);
  }
}
