// Finding the linear layers to tap: MatMul or Gemm nodes whose weight operand is an initializer (or Constant).
import type { Graph } from '../onnx/graph.ts';
import { attrInt } from '../onnx/tensor.ts';
import type { ShapeMap } from './shapes.ts';
import { isFloat } from './shapes.ts';

export interface LayerInfo {
  /** the ONNX node name (e.g. /h.0/attn/c_attn/Gemm), or "<op>(<weight>)" for unnamed nodes */
  name: string;
  op: 'MatMul' | 'Gemm';
  /** the weight initializer */
  weight: string;
  dIn: number;
  dOut: number;
  /** layout of the weight initializer: [d_in, d_out] (MatMul, Gemm transB=0) or [d_out, d_in] (Gemm transB=1) */
  layout: 'in_out' | 'out_in';
  /** dims of the weight initializer (its gradient has the same) */
  shape: number[];
  /** forward value holding the layer input x ([..., d_in]) */
  x: string;
  /** forward value holding the layer output y ([..., d_out]) */
  y: string;
  /** Gemm's bias operand, if any */
  bias?: string;
}

export function findLayers(g: Graph, shapes: ShapeMap, filter?: RegExp): LayerInfo[] {
  const layers: LayerInfo[] = [];
  for (const n of g.nodes) {
    if ((n.domain ?? '') !== '' || (n.opType !== 'MatMul' && n.opType !== 'Gemm')) continue;
    const [a, w, bias] = n.input ?? [];
    const wt = w ? g.initializer(w) ?? (g.constant(w) ? w : undefined) : undefined;
    if (!wt || !a || g.constant(a)) continue;
    const ws = shapes.get(w);
    if (!ws || ws.dims.length !== 2 || !isFloat(ws) || !isFloat(shapes.get(a))) continue;
    const y = n.output![0];
    let layout: 'in_out' | 'out_in' = 'in_out';
    if (n.opType === 'Gemm') {
      if (attrInt(n, 'transA', 0) !== 0) continue; // x stored transposed: not a per-row linear layer
      if (attrInt(n, 'transB', 0) === 1) layout = 'out_in';
    }
    const [r, c] = ws.dims;
    const dIn = layout === 'in_out' ? r : c;
    const dOut = layout === 'in_out' ? c : r;
    const name = n.name || `${n.opType}(${w})`;
    if (filter && !filter.test(name)) continue;
    layers.push({ name, op: n.opType, weight: w, dIn, dOut, layout, shape: [...ws.dims], x: a, y, bias: n.opType === 'Gemm' && bias ? bias : undefined });
  }
  const seen = new Set<string>();
  for (const l of layers) {
    if (seen.has(l.name)) l.name = `${l.name}#${l.weight}`;
    seen.add(l.name);
  }
  return layers;
}
