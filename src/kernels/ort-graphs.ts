// Tiny ONNX graphs run on onnxruntime-web's wasm EP: the CPU backend's GEMM-shaped kernels. ORT's MatMul is
// multi-threaded and SIMD (26-52 GFLOP/s here vs ~1.5 for JS loops). One session per graph signature (dims are
// symbolic), cached; inputs and outputs are plain Float32Arrays.
import { onnx, Long, encodeModel } from '../onnx/codec.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType } from '../onnx/tensor.ts';
import { cpuSessionOptions, createOrtSession, loadOrt, resolveEp, type Ort } from '../runtime/ort.ts';
import type * as OrtNs from 'onnxruntime-web';

export interface Feed {
  data: Float32Array;
  dims: readonly number[];
}

export class OrtGraphs {
  private sessions = new Map<string, Promise<OrtNs.InferenceSession>>();

  private constructor(readonly ort: Ort) {}

  /** on the native onnxruntime where it loads (Node, Deno; 'auto'), else onnxruntime-web's wasm */
  static async create(runtime: 'auto' | 'wasm' | 'native' = 'auto'): Promise<OrtGraphs> {
    const ort = await loadOrt(await resolveEp(runtime));
    return new OrtGraphs(ort);
  }

  /** Builds (once per key) and runs a graph: `build` declares inputs with g.addInput and returns the output name. */
  async run(key: string, build: (g: Graph) => string, feeds: Record<string, Feed>): Promise<Float32Array> {
    let s = this.sessions.get(key);
    if (!s) {
      const model = onnx.ModelProto.create({
        irVersion: Long.fromNumber(8),
        producerName: 'logra-web kernels',
        opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: Long.fromNumber(17) })],
        graph: onnx.GraphProto.create({ name: key, node: [], initializer: [], input: [], output: [] }),
      });
      const g = new Graph(model);
      const out = build(g);
      g.addOutput(out, DataType.FLOAT);
      s = createOrtSession(this.ort, encodeModel(model), { ...cpuSessionOptions(this.ort), graphOptimizationLevel: 'all' });
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    const session = await s;
    const inputs: Record<string, OrtNs.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) inputs[name] = new this.ort.Tensor('float32', f.data, f.dims as number[]);
    const res = await session.run(inputs);
    const out = res[session.outputNames[0]];
    const data = out.data as Float32Array;
    // copy out of ORT's (possibly shared, wasm-heap-backed) memory
    const copy = new Float32Array(data.length);
    copy.set(data);
    out.dispose?.();
    return copy;
  }

  async dispose(): Promise<void> {
    await releaseSessions(this.sessions);
  }
}

/** Releases every (pending) session of a cache and empties it; sessions already gone are skipped. */
export async function releaseSessions(sessions: Map<string, Promise<{ release(): Promise<void> }>>): Promise<void> {
  for (const s of sessions.values()) {
    try {
      await (await s).release();
    } catch {
      /* already gone */
    }
  }
  sessions.clear();
}

const sym = (prefix: string, rank: number): string[] => Array.from({ length: rank }, (_, i) => `${prefix}${i}`);

/** perm swapping the last two axes of a rank-r tensor */
const swapLast = (r: number): number[] => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];

/**
 * Y = alpha op(A) diag(W) op(B) + beta C as an ONNX graph (MatMul with Transpose nodes, which ORT fuses).
 * Inputs: A, B, alpha [1], and W (hasW), beta [1] and C (hasC). Masked terms (W = 0) are zeroed with Where, so
 * NaN in masked tokens does not leak.
 */
export function gemmGraph(ra: number, rb: number, transA: boolean, transB: boolean, hasW: boolean, rw: number, hasC: boolean) {
  return (g: Graph): string => {
    g.addInput('A', DataType.FLOAT, sym('a', ra));
    g.addInput('B', DataType.FLOAT, sym('b', rb));
    g.addInput('alpha', DataType.FLOAT, [1]);
    let a = transA ? g.op('Transpose', ['A'], { perm: swapLast(ra) }) : 'A';
    if (hasW) {
      g.addInput('W', DataType.FLOAT, sym('w', rw));
      const axes = g.addInitializer('axes', DataType.INT64, [1], [-2]);
      const zero = g.addInitializer('zero', DataType.FLOAT, [], [0]);
      const w = g.op('Unsqueeze', ['W', axes]);
      const prod = g.op('Mul', [a, w]);
      a = g.op('Where', [g.op('Equal', [w, zero]), zero, prod]);
    }
    const b = transB ? g.op('Transpose', ['B'], { perm: swapLast(rb) }) : 'B';
    let y = g.op('Mul', [g.op('MatMul', [a, b]), 'alpha']);
    if (hasC) {
      g.addInput('beta', DataType.FLOAT, [1]);
      g.addInput('C', DataType.FLOAT, sym('c', Math.max(ra, rb)));
      y = g.op('Add', [y, g.op('Mul', ['C', 'beta'])]);
    }
    return y;
  };
}

/** G [B, kOut, kIn] = (DY P_out^T * mask)^T (X P_in^T) per example, in one graph. */
export function loGraGraph(hasMask: boolean) {
  return (g: Graph): string => {
    g.addInput('X', DataType.FLOAT, ['B', 'T', 'dIn']);
    g.addInput('DY', DataType.FLOAT, ['B', 'T', 'dOut']);
    g.addInput('PIN', DataType.FLOAT, ['kIn', 'dIn']);
    g.addInput('POUT', DataType.FLOAT, ['kOut', 'dOut']);
    const u = g.op('MatMul', ['X', g.op('Transpose', ['PIN'], { perm: [1, 0] })]);
    let v = g.op('MatMul', ['DY', g.op('Transpose', ['POUT'], { perm: [1, 0] })]);
    if (hasMask) {
      g.addInput('M', DataType.FLOAT, ['B', 'T']);
      const axes = g.addInitializer('axes', DataType.INT64, [1], [-1]);
      const zero = g.addInitializer('zero', DataType.FLOAT, [], [0]);
      const m = g.op('Unsqueeze', ['M', axes]);
      v = g.op('Where', [g.op('Equal', [m, zero]), zero, g.op('Mul', [v, m])]);
    }
    return g.op('MatMul', [g.op('Transpose', [v], { perm: [0, 2, 1] }), u]);
  };
}
