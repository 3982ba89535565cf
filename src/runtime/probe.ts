// Shape probe: runs the forward model once on a tiny batch with every intermediate value exposed as an output,
// and records each value's dims and element type. The backward builder reads ranks and broadcast axes from it.
import { decodeModel, encodeModel, type ModelProto } from '../onnx/codec.ts';
import { Graph } from '../onnx/graph.ts';
import { dimsOf } from '../onnx/tensor.ts';
import { describeInputs } from '../autograd/inputs.ts';
import { elemTypeOf, type ShapeMap } from '../autograd/shapes.ts';
import { probeBatch, type Batch } from './batch.ts';
import { createSession } from './ort.ts';
import { sessionBytes } from './session-bytes.ts';
import { toOrtFeeds } from './feeds.ts';
import type { ExternalFiles } from '../onnx/external.ts';

/**
 * ep: the CPU runtime to probe on ('native' where the model will run natively, else onnxruntime-web's wasm);
 * externalFiles: the files the model's external initializers live in.
 */
export async function probeShapes(model: ModelProto, batch?: Batch, ep: 'wasm' | 'native' = 'wasm', externalFiles?: ExternalFiles): Promise<ShapeMap> {
  // a copy of the graph that shares the weights: they travel as external data, never re-encoded
  const { bytes, external } = sessionBytes(model, externalFiles);
  const copy = decodeModel(bytes);
  const g = new Graph(copy);
  const existing = new Set(g.outputs.map((o) => o.name));
  const names: string[] = [];
  for (const n of g.nodes) for (const o of n.output ?? []) if (o && !existing.has(o)) names.push(o);
  for (const o of names) g.addOutput(o);
  const b = batch ?? probeBatch(describeInputs(g));
  // no graph optimisation: with every value an output, ORT's constant folding can otherwise hand back
  // folded values that are no longer readable tensors
  const { ort, session } = await createSession(encodeModel(copy), { ep, optimization: 'disabled', externalData: external });
  const shapes: ShapeMap = new Map();
  try {
    const out = await session.run(toOrtFeeds(ort, b.feeds));
    for (const [name, t] of Object.entries(out)) shapes.set(name, { dims: [...t.dims], elemType: elemTypeOf(t.type) });
  } finally {
    await session.release();
  }
  for (const [name, f] of Object.entries(b.feeds)) shapes.set(name, { dims: f.dims, elemType: elemTypeOf(f.type) });
  for (const t of g.proto.initializer ?? []) if (t.name) shapes.set(t.name, { dims: dimsOf(t), elemType: t.dataType ?? 0 });
  return shapes;
}
