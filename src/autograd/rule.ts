// The interface every backward (VJP) rule implements.
import type { NodeProto } from '../onnx/codec.ts';
import type { Emitter } from './emit.ts';
import { UnsupportedOpError } from './errors.ts';

export interface VjpContext {
  readonly e: Emitter;
  readonly node: NodeProto;
  readonly opset: number;
  /** Name of forward input i ('' if absent). */
  input(i: number): string;
  /** Name of forward output i. */
  output(i: number): string;
  /** Number of (possibly empty) inputs the node was given. */
  readonly inputCount: number;
  /** Incoming gradient of output i, or undefined when nothing downstream needs it. */
  dy(i?: number): string | undefined;
  /** Whether input i needs a gradient. */
  needs(i: number): boolean;
  /** Values of constant input i (initializer or Constant) as numbers, or undefined if it is computed. */
  constInts(i: number): number[] | undefined;
  constFloats(i: number): number[] | undefined;
  /** Throws UnsupportedOpError for this node with a reason. */
  fail(detail: string): never;
}

/** Returns one gradient per forward input (undefined where not needed or not differentiable). */
export type VjpRule = (c: VjpContext) => (string | undefined)[];

export type RuleTable = Record<string, VjpRule>;

export function failFor(node: NodeProto, opset: number, supported: string[], detail: string): never {
  throw new UnsupportedOpError(node.opType ?? '', node.name ?? '', opset, node.domain ?? '', supported, detail);
}

/** Normalises a possibly negative axis. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
