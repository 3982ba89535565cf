// Emits standard ONNX inference ops into a graph, in the form the graph's opset wants (axes as attribute or
// input), and records the probe shape of what it emits when that is known, so later rules can rely on it.
import { Graph } from '../onnx/graph.ts';
import { DataType, makeTensor } from '../onnx/tensor.ts';
import type { AttrValue } from '../onnx/tensor.ts';
import type { ShapeMap, ValueShape } from './shapes.ts';

const INT64_MAX = 9223372036854775807n;

export class Emitter {
  private consts = new Map<string, string>();

  constructor(
    readonly g: Graph,
    readonly shapes: ShapeMap,
    readonly opset: number,
    /** prefix for emitted node names, e.g. "grad" */
    public scope = 'grad',
    /** element type of the differentiated values (float32 for models, float64 in reference tests) */
    readonly floatType: number = DataType.FLOAT,
  ) {}

  shape(name: string): ValueShape {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`internal: no probe shape for value ${JSON.stringify(name)}`);
    return s;
  }
  dims(name: string): number[] {
    return this.shape(name).dims;
  }
  rank(name: string): number {
    return this.shape(name).dims.length;
  }
  /** Records a known probe shape for an emitted value. */
  known(name: string, dims: number[], elemType: number = this.floatType): string {
    this.shapes.set(name, { dims, elemType });
    return name;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}): string {
    return this.g.op(opType, inputs, attrs, `${this.scope}/${opType}`);
  }
  ops(opType: string, inputs: string[], n: number, attrs: Record<string, AttrValue | undefined> = {}): string[] {
    return this.g.add(opType, inputs, attrs, { outputs: n, name: `${this.scope}/${opType}` });
  }

  // ---- constants (deduplicated) ----
  private constant(key: string, make: () => string): string {
    let c = this.consts.get(key);
    if (!c) this.consts.set(key, (c = make()));
    return c;
  }
  /** A float32 scalar (rank 0) constant. */
  scalar(v: number, elemType: number = this.floatType): string {
    return this.constant(`s:${elemType}:${v}`, () => this.known(this.g.addInitializer(`${this.scope}/const`, elemType, [], [v]), [], elemType));
  }
  /** An int64 1-D constant. */
  ints(v: (number | bigint)[]): string {
    return this.constant(`i:${v.join(',')}`, () =>
      this.known(this.g.addInitializer(`${this.scope}/ints`, DataType.INT64, [v.length], BigInt64Array.from(v, (x) => BigInt(x))), [v.length], DataType.INT64),
    );
  }
  /** An int64 scalar constant. */
  int(v: number): string {
    return this.constant(`i0:${v}`, () => this.known(this.g.addInitializer(`${this.scope}/int`, DataType.INT64, [], BigInt64Array.of(BigInt(v))), [], DataType.INT64));
  }

  // ---- arithmetic ----
  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  div(a: string, b: string): string { return this.op('Div', [a, b]); }
  neg(a: string): string { return this.op('Neg', [a]); }
  scale(a: string, s: number): string { return s === 1 ? a : this.mul(a, this.scalar(s)); }

  /** Sum of several gradient contributions. */
  sum(parts: string[]): string {
    if (parts.length === 1) return parts[0];
    if (parts.length === 2) return this.add(parts[0], parts[1]);
    return this.op('Sum', parts);
  }

  // ---- shape plumbing ----
  shapeOf(x: string): string { return this.op('Shape', [x]); }
  reshape(x: string, shape: string): string { return this.op('Reshape', [x, shape]); }
  /** Reshape x to the runtime shape of `like`. */
  reshapeLike(x: string, like: string): string { return this.reshape(x, this.shapeOf(like)); }
  transpose(x: string, perm: number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    return this.op('Transpose', [x], { perm });
  }
  /** Swap of the last two axes of a rank-r tensor. */
  swapLast(x: string, rank: number): string {
    const perm = Array.from({ length: rank }, (_, i) => i);
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
    return this.transpose(x, perm);
  }
  unsqueeze(x: string, axes: number[]): string {
    if (axes.length === 0) return x;
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.ints(axes)]) : this.op('Unsqueeze', [x], { axes });
  }
  squeeze(x: string, axes: number[]): string {
    if (axes.length === 0) return x;
    return this.opset >= 13 ? this.op('Squeeze', [x, this.ints(axes)]) : this.op('Squeeze', [x], { axes });
  }
  /** ReduceSum / ReduceMean / ReduceMax / ReduceLogSumExp with axes in the form the opset requires. */
  reduce(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceLogSumExp', x: string, axes: number[], keepdims: boolean): string {
    const axesAsInput = op === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    const kd = keepdims ? 1 : 0;
    return axesAsInput ? this.op(op, [x, this.ints(axes)], { keepdims: kd }) : this.op(op, [x], { axes, keepdims: kd });
  }
  /** Zeros with the runtime shape of x. */
  zerosLike(x: string): string {
    return this.zerosOfShape(this.shapeOf(x));
  }
  /** Zeros of the float type with a runtime shape given as an int64 1-D tensor. */
  zerosOfShape(shape: string): string {
    return this.op('ConstantOfShape', [shape], { value: makeTensor('value', this.floatType, [1], [0]) });
  }

  /** The lowest opset the emitted ops need (raised by rules such as Gather's, which emits ScatterND with reduction). */
  minOpset = 0;
  requireOpset(v: number, _why: string): void {
    this.minOpset = Math.max(this.minOpset, v);
  }
  /** Slice with constant starts/ends along axes (step 1). */
  slice(x: string, starts: number[], ends: (number | bigint)[], axes: number[]): string {
    return this.op('Slice', [x, this.ints(starts), this.ints(ends.map((e) => (e === Infinity ? INT64_MAX : e))), this.ints(axes)]);
  }
  /** Runtime size of axis `axis` of x, as an int64 1-D tensor of length 1. */
  dimOf(x: string, axis: number): string {
    return this.slice(this.shapeOf(x), [axis], [axis + 1], [0]);
  }
  cast(x: string, to: number): string { return this.op('Cast', [x], { to }); }

  /**
   * Sums a gradient g, shaped like the forward value `like` (a broadcast result), back to the shape of operand x:
   * reduces the leading axes x lacks and the axes where x has size 1 but `like` does not, then reshapes to Shape(x).
   */
  unbroadcast(g: string, like: string, x: string): string {
    const gd = this.dims(like);
    const xd = this.dims(x);
    const lead = gd.length - xd.length;
    const axes: number[] = [];
    for (let i = 0; i < gd.length; i++) {
      if (i < lead) axes.push(i);
      else if (xd[i - lead] === 1 && gd[i] !== 1) axes.push(i);
    }
    if (axes.length === 0 && lead === 0) return g;
    let r = axes.length ? this.reduce('ReduceSum', g, axes, true) : g;
    r = this.reshapeLike(r, x);
    return this.known(r, xd, this.shape(x).elemType);
  }
}

