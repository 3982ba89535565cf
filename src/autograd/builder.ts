// Reverse-mode differentiation of an ONNX graph into extra nodes made of standard inference ops.
import type { Graph } from '../onnx/graph.ts';
import type { NodeProto } from '../onnx/codec.ts';
import { hostToNumbers } from '../onnx/tensor.ts';
import { Emitter } from './emit.ts';
import { UnsupportedOpError } from './errors.ts';
import { isFloat, type ShapeMap } from './shapes.ts';
import type { RuleTable, VjpContext } from './rule.ts';
import { matmulRules } from './rules/matmul.ts';
import { elementwiseRules } from './rules/elementwise.ts';
import { reduceRules } from './rules/reduce.ts';
import { normalizationRules } from './rules/normalization.ts';
import { shapeRules } from './rules/shape.ts';
import { convRules } from './rules/conv.ts';
import { poolRules } from './rules/pool.ts';
import { resizeRules } from './rules/resize.ts';

/** The one table of backward rules, keyed by op type (ai.onnx domain). */
export const VJP_RULES: RuleTable = {
  ...matmulRules,
  ...elementwiseRules,
  ...reduceRules,
  ...normalizationRules,
  ...shapeRules,
  ...convRules,
  ...poolRules,
  ...resizeRules,
};

export const SUPPORTED_OPS: string[] = Object.keys(VJP_RULES).sort();

export interface BackwardOptions {
  /** forward value -> name of the gradient flowing into it (e.g. logits -> dlogits from a loss head) */
  seeds: Map<string, string>;
  /** values whose gradients are wanted (tapped layer outputs, or parameters) */
  wrt: string[];
  shapes: ShapeMap;
  emitter?: Emitter;
}

export interface BackwardResult {
  /** gradient value per wrt value; undefined when the value does not influence any seed */
  grads: Map<string, string | undefined>;
  /** number of forward nodes that were differentiated */
  differentiated: number;
  emitter: Emitter;
}

/** Values reachable forward from `wrt` through float-typed outputs: exactly those that can carry a gradient. */
export function forwardClosure(g: Graph, wrt: string[], shapes: ShapeMap, order: NodeProto[] = g.topoOrder()): Set<string> {
  const F = new Set(wrt);
  for (const n of order) {
    if (!(n.input ?? []).some((i) => i && F.has(i))) continue;
    for (const o of n.output ?? []) if (o && isFloat(shapes.get(o))) F.add(o);
  }
  return F;
}

export function buildBackward(g: Graph, opts: BackwardOptions): BackwardResult {
  const opset = g.opset('') ?? 0;
  const e = opts.emitter ?? new Emitter(g, opts.shapes, opset);
  const order = g.topoOrder();
  const F = forwardClosure(g, opts.wrt, opts.shapes, order);
  const partial = new Map<string, string[]>();
  const total = new Map<string, string>();
  const push = (v: string, grad: string) => {
    if (total.has(v)) throw new Error(`internal: gradient of ${v} read before all contributions arrived`);
    let p = partial.get(v);
    if (!p) partial.set(v, (p = []));
    p.push(grad);
  };
  const gradOf = (v: string): string | undefined => {
    const t = total.get(v);
    if (t) return t;
    const p = partial.get(v);
    if (!p || p.length === 0) return undefined;
    const s = e.sum(p);
    if (p.length > 1) e.known(s, e.dims(v), e.shape(v).elemType);
    total.set(v, s);
    return s;
  };
  for (const [v, grad] of opts.seeds) if (F.has(v)) push(v, grad);

  let differentiated = 0;
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const outs = node.output ?? [];
    if (!outs.some((o) => o && F.has(o) && partial.has(o))) continue;
    const ins = node.input ?? [];
    const needs = ins.map((i) => !!i && F.has(i) && i !== '');
    if (!needs.some(Boolean)) continue;
    const domain = node.domain ?? '';
    const rule = domain === '' || domain === 'ai.onnx' ? VJP_RULES[node.opType ?? ''] : undefined;
    if (!rule) {
      throw new UnsupportedOpError(node.opType ?? '', node.name ?? '', domain === '' || domain === 'ai.onnx' ? opset : (g.opset(domain) ?? 0), domain, SUPPORTED_OPS);
    }
    const ctx: VjpContext = {
      e,
      node,
      opset,
      inputCount: ins.length,
      input: (i) => ins[i] ?? '',
      output: (i) => outs[i] ?? '',
      dy: (i = 0) => (outs[i] ? gradOf(outs[i]) : undefined),
      needs: (i) => needs[i] ?? false,
      constInts: (i) => {
        const t = ins[i] ? g.constant(ins[i]) : undefined;
        return t ? hostToNumbers(t) : undefined;
      },
      constFloats: (i) => {
        const t = ins[i] ? g.constant(ins[i]) : undefined;
        return t ? hostToNumbers(t) : undefined;
      },
      fail: (detail) => {
        throw new UnsupportedOpError(node.opType ?? '', node.name ?? '', opset, domain, SUPPORTED_OPS, detail);
      },
    };
    if (node.opType === 'LayerNormalization' && outs.slice(1).some((o) => o && partial.has(o))) {
      ctx.fail('gradients through the Mean / InvStdDev outputs are not supported');
    }
    e.scope = `grad${node.name ? `/${node.name}` : ''}`;
    const grads = rule(ctx);
    differentiated++;
    ins.forEach((i, j) => {
      if (!needs[j]) return;
      const gi = grads[j];
      if (!gi) return;
      if (!e.shapes.has(gi)) e.known(gi, e.dims(i), e.shape(i).elemType);
      push(i, gi);
    });
  }
  e.scope = 'grad';
  const out = new Map<string, string | undefined>();
  for (const w of opts.wrt) out.set(w, gradOf(w));
  return { grads: out, differentiated, emitter: e };
}
