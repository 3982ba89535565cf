// Small helpers to build test ModelProtos with the project's Graph IR, and a seeded PRNG.
import { onnx, Long, type ModelProto } from '../../src/onnx/codec.ts';
import { Graph } from '../../src/onnx/graph.ts';
import { DataType, type AttrValue } from '../../src/onnx/tensor.ts';

export const INT64_MAX = 9223372036854775807n;

/** mulberry32 with a Box-Muller normal: the trainer's generator. */
export { rng as prng } from '../../src/train/gpt2.ts';

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function newModel(opset: number, extra: { domain: string; version: number }[] = []): ModelProto {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(opset >= 21 ? 10 : 9),
    producerName: 'vjp-test',
    opsetImport: [{ domain: '', version: opset }, ...extra].map((o) =>
      onnx.OperatorSetIdProto.create({ domain: o.domain, version: Long.fromNumber(o.version) }),
    ),
    graph: onnx.GraphProto.create({ name: 'test', node: [], initializer: [], input: [], output: [] }),
  });
}

/** Thin sugar over Graph for building forward test graphs; constants become initializers. */
export class Builder {
  constructor(
    readonly g: Graph,
    readonly rand: { uniform(): number; normal(): number },
  ) {}

  op(type: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, name?: string): string {
    return this.g.op(type, inputs, attrs, name ?? type.toLowerCase());
  }
  ops(type: string, inputs: string[], n: number, attrs: Record<string, AttrValue | undefined> = {}): string[] {
    return this.g.add(type, inputs, attrs, { outputs: n, name: type.toLowerCase() });
  }
  /** A float32 initializer. */
  floats(dims: number[], values: number[]): string {
    return this.g.addInitializer('c', DataType.FLOAT, dims, values);
  }
  /** A float32 scalar initializer. */
  scalar(v: number): string {
    return this.floats([], [v]);
  }
  /** A random (normal) float32 initializer. */
  randn(dims: number[]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    return this.floats(dims, Array.from({ length: n }, () => Math.fround(this.rand.normal())));
  }
  /** An int64 1-D initializer (or with explicit dims, e.g. [] for a scalar). */
  ints(values: (number | bigint)[], dims: number[] = [values.length]): string {
    return this.g.addInitializer('i', DataType.INT64, dims, BigInt64Array.from(values, (v) => BigInt(v)));
  }
  bools(dims: number[], values: (number | boolean)[]): string {
    return this.g.addInitializer('b', DataType.BOOL, dims, values.map((v) => (v ? 1 : 0)));
  }
}
