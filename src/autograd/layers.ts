// Finding the layers to tap: MatMul or Gemm nodes whose weight operand is an initializer (or Constant), and Conv
// nodes with an initializer kernel (LoGra's factorisation on unfolded patches, as LogIX does for Conv2d: a row per
// output position and group, d_in = C_in/groups * prod(kernel), d_out = C_out). Weight-bearing ops that cannot be
// tapped are listed, so that a user is told which weights are not attributed.
import type { Graph } from '../onnx/graph.ts';
import type { NodeProto } from '../onnx/codec.ts';
import { attrInt, attrInts } from '../onnx/tensor.ts';
import type { ShapeMap } from './shapes.ts';
import { isFloat } from './shapes.ts';
import { convGeometry, type ConvGeometry } from './rules/conv.ts';

export interface LayerInfo {
  /** the ONNX node name (e.g. /h.0/attn/c_attn/Gemm), or "<op>(<weight>)" for unnamed nodes */
  name: string;
  op: 'MatMul' | 'Gemm' | 'Conv';
  /** the weight initializer */
  weight: string;
  dIn: number;
  dOut: number;
  /**
   * layout of the weight initializer: [d_in, d_out] (MatMul, Gemm transB=0) or [d_out, d_in] (Gemm transB=1; Conv's
   * [C_out, C_in/groups, *kernel], whose trailing axes flatten to d_in)
   */
  layout: 'in_out' | 'out_in';
  /** dims of the weight initializer (its gradient has the same) */
  shape: number[];
  /** forward value holding the layer input x ([..., d_in]; Conv: [B, C_in, *spatial]) */
  x: string;
  /** forward value holding the layer output y ([..., d_out]; Conv: [B, C_out, *spatial]) */
  y: string;
  /** Gemm's or Conv's bias operand, if any */
  bias?: string;
  /** Conv: geometry and input channels (taps are unfolded patches) */
  conv?: ConvGeometry & { channels: number };
  /**
   * rows of x / dy per token when the layer is applied along the token sequence (1 for per-token linear layers,
   * groups for a 1-D Conv over the tokens), 0 when its rows are not tokens (after pooling, images); set by augment
   */
  perToken?: number;
}

export interface Untapped {
  node: string;
  op: string;
  weight: string;
  why: string;
}

const WEIGHT_OPS = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose']);

/** The tappable layer of a node, or why a weight-bearing node is not one (undefined: not weight-bearing). */
function classify(g: Graph, shapes: ShapeMap, n: NodeProto): LayerInfo | Untapped | undefined {
  if ((n.domain ?? '') !== '' || !WEIGHT_OPS.has(n.opType ?? '')) return undefined;
  const [a, w, bias] = n.input ?? [];
  const isConst = (v: string | undefined) => !!v && (!!g.initializer(v) || g.producer(v)?.node.opType === 'Constant');
  const constIn = (n.input ?? []).slice(0, 2).find((v) => isConst(v) && isFloat(shapes.get(v!)) && (shapes.get(v!)?.dims.length ?? 0) >= 2);
  if (!constIn) return undefined;
  const name = n.name || `${n.opType}(${constIn})`;
  const untapped = (why: string): Untapped => ({ node: name, op: n.opType!, weight: constIn, why });
  if (n.opType === 'ConvTranspose') return untapped('ConvTranspose layers are not tapped');
  if (!isConst(w) || !a || isConst(a)) return untapped('the weight is not the second operand');
  const ws = shapes.get(w)!;
  if (!isFloat(shapes.get(a))) return untapped('the input is not float');
  const y = n.output![0];
  if (n.opType === 'Conv') {
    try {
      const geo = convGeometry(n, attrInts(n, 'kernel_shape') ?? ws.dims.slice(2), (why) => {
        throw new Error(why);
      });
      const [cout, cg, ...k] = ws.dims;
      const channels = shapes.get(a)!.dims[1];
      return {
        name, op: 'Conv', weight: w, dIn: cg * k.reduce((p, q) => p * q, 1), dOut: cout, layout: 'out_in', shape: [...ws.dims],
        x: a, y, bias: bias || undefined, conv: { ...geo, channels },
      };
    } catch (e) {
      return untapped((e as Error).message);
    }
  }
  if (ws.dims.length !== 2) return untapped(`the weight has rank ${ws.dims.length}`);
  let layout: 'in_out' | 'out_in' = 'in_out';
  if (n.opType === 'Gemm') {
    if (attrInt(n, 'transA', 0) !== 0) return untapped('Gemm with transA = 1'); // x stored transposed: not a per-row linear layer
    if (attrInt(n, 'transB', 0) === 1) layout = 'out_in';
  }
  const [r, c] = ws.dims;
  const dIn = layout === 'in_out' ? r : c;
  const dOut = layout === 'in_out' ? c : r;
  return { name, op: n.opType as 'MatMul' | 'Gemm', weight: w, dIn, dOut, layout, shape: [...ws.dims], x: a, y, bias: n.opType === 'Gemm' && bias ? bias : undefined };
}

const isLayer = (v: LayerInfo | Untapped): v is LayerInfo => 'dIn' in v;

export function findLayers(g: Graph, shapes: ShapeMap, filter?: RegExp): LayerInfo[] {
  const layers: LayerInfo[] = [];
  for (const n of g.nodes) {
    const v = classify(g, shapes, n);
    if (!v || !isLayer(v)) continue;
    if (filter && !filter.test(v.name)) continue;
    layers.push(v);
  }
  const seen = new Set<string>();
  for (const l of layers) {
    if (seen.has(l.name)) l.name = `${l.name}#${l.weight}`;
    seen.add(l.name);
  }
  return layers;
}

/** Weight-bearing ops (MatMul / Gemm / Conv / ConvTranspose with a constant float weight) that cannot be tapped. */
export function untappedWeights(g: Graph, shapes: ShapeMap): Untapped[] {
  const out: Untapped[] = [];
  for (const n of g.nodes) {
    const v = classify(g, shapes, n);
    if (v && !isLayer(v)) out.push(v);
  }
  return out;
}
