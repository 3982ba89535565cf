// A small graph IR over a decoded ModelProto: value lookup (producer, consumers, initializers, constants),
// opset imports, topological order, and appending nodes with fresh names. It edits the protobuf objects in
// place, so encoding the model afterwards writes exactly what was read plus what was added.
import { onnx, Long, type ModelProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from './codec.ts';
import { makeAttributes, makeTensor, tensorToHost, attrTensor, type AttrValue, type HostTensor } from './tensor.ts';
import type { ExternalFiles } from './external.ts';

export interface Producer {
  node: NodeProto;
  index: number;
}

export class Graph {
  readonly proto: GraphProto;
  private producers = new Map<string, Producer>();
  private users = new Map<string, NodeProto[]>();
  private inits = new Map<string, TensorProto>();
  private names = new Set<string>();
  private counter = 0;
  /** files holding the model's external initializers (so constant() can read them) */
  externalFiles?: ExternalFiles;

  constructor(readonly model: ModelProto, externalFiles?: ExternalFiles) {
    this.externalFiles = externalFiles;
    if (!model.graph) throw new Error('model has no graph');
    this.proto = model.graph;
    this.proto.node ??= [];
    this.proto.initializer ??= [];
    this.proto.input ??= [];
    this.proto.output ??= [];
    for (const t of this.proto.initializer) {
      if (t.name) this.inits.set(t.name, t);
      if (t.name) this.names.add(t.name);
    }
    for (const v of this.proto.input) if (v.name) this.names.add(v.name);
    for (const n of this.proto.node) this.index(n);
  }

  private index(n: NodeProto): void {
    (n.output ?? []).forEach((o, i) => {
      if (!o) return;
      this.producers.set(o, { node: n, index: i });
      this.names.add(o);
    });
    for (const i of n.input ?? []) {
      if (!i) continue;
      let u = this.users.get(i);
      if (!u) this.users.set(i, (u = []));
      u.push(n);
    }
    if (n.name) this.names.add(n.name);
  }

  get nodes(): NodeProto[] {
    return this.proto.node!;
  }
  get inputs(): ValueInfoProto[] {
    return this.proto.input!.filter((v) => !this.inits.has(v.name ?? ''));
  }
  get outputs(): ValueInfoProto[] {
    return this.proto.output!;
  }

  /** Opset version imported for a domain ('' = ai.onnx), or undefined. */
  opset(domain = ''): number | undefined {
    for (const o of this.model.opsetImport ?? []) {
      const d = o.domain ?? '';
      if (d === domain || (domain === '' && d === 'ai.onnx')) return Long.fromValue(o.version ?? 0).toNumber();
    }
    return undefined;
  }

  setOpset(version: number, domain = ''): void {
    const imp = (this.model.opsetImport ?? []).find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
    if (imp) imp.version = Long.fromNumber(version);
    else (this.model.opsetImport ??= []).push(onnx.OperatorSetIdProto.create({ domain, version: Long.fromNumber(version) }));
  }

  producer(name: string): Producer | undefined {
    return this.producers.get(name);
  }
  consumers(name: string): NodeProto[] {
    return this.users.get(name) ?? [];
  }
  initializer(name: string): TensorProto | undefined {
    return this.inits.get(name);
  }
  isGraphInput(name: string): boolean {
    return this.inputs.some((v) => v.name === name);
  }

  /** The value of an initializer or a Constant node's output (value attribute), else undefined. */
  constant(name: string): HostTensor | undefined {
    const init = this.inits.get(name);
    if (init) return tensorToHost(init, this.externalFiles);
    const p = this.producers.get(name);
    if (p && p.node.opType === 'Constant' && (p.node.domain ?? '') === '') {
      const t = attrTensor(p.node, 'value');
      if (t) return tensorToHost(t);
    }
    return undefined;
  }

  /** Nodes in an order where every node follows the producers of its inputs. Throws on cycles. */
  topoOrder(): NodeProto[] {
    const nodes = this.nodes;
    const indeg = new Map<NodeProto, number>();
    const ready: NodeProto[] = [];
    for (const n of nodes) {
      let d = 0;
      for (const i of n.input ?? []) if (i && this.producers.has(i)) d++;
      indeg.set(n, d);
      if (d === 0) ready.push(n);
    }
    const order: NodeProto[] = [];
    while (ready.length) {
      const n = ready.shift()!;
      order.push(n);
      for (const o of n.output ?? []) {
        if (!o) continue;
        for (const u of this.consumers(o)) {
          // a node may consume the same value twice: decrement once per occurrence
          const d = indeg.get(u)! - 1;
          indeg.set(u, d);
          if (d === 0) ready.push(u);
        }
      }
    }
    if (order.length !== nodes.length) throw new Error('the graph has a cycle (or a node consumes its own output)');
    return order;
  }

  /** A value/node name not used anywhere in the graph, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.names.has(name)) name = `${base}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  /** Appends a node; returns its output names (fresh names derived from `outBase` unless given). */
  add(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, opts: { outputs?: number | string[]; name?: string; domain?: string } = {}): string[] {
    const base = opts.name ?? `grad/${opType}`;
    const outs = Array.isArray(opts.outputs)
      ? opts.outputs
      : Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.fresh(`${base}:${i}`));
    for (const o of outs) this.names.add(o);
    const node = onnx.NodeProto.create({
      opType,
      domain: opts.domain ?? '',
      name: this.fresh(base),
      input: inputs,
      output: outs,
      attribute: makeAttributes(attrs),
    });
    this.nodes.push(node);
    this.index(node);
    return outs;
  }

  /** Shorthand for single-output nodes. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, name?: string): string {
    return this.add(opType, inputs, attrs, { name })[0];
  }

  addInitializer(name: string, dataType: number, dims: number[], values: ArrayLike<number> | BigInt64Array): string {
    const n = this.fresh(name);
    const t = makeTensor(n, dataType, dims, values);
    this.proto.initializer!.push(t);
    this.inits.set(n, t);
    return n;
  }

  addOutput(name: string, elemType?: number): void {
    this.proto.output!.push(
      onnx.ValueInfoProto.create({
        name,
        type: elemType === undefined ? undefined : onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType }) }),
      }),
    );
  }

  addInput(name: string, elemType: number, dims: (number | string)[]): void {
    this.names.add(name);
    this.proto.input!.push(
      onnx.ValueInfoProto.create({
        name,
        type: onnx.TypeProto.create({
          tensorType: onnx.TypeProto.Tensor.create({
            elemType,
            shape: onnx.TensorShapeProto.create({
              dim: dims.map((d) =>
                typeof d === 'number'
                  ? onnx.TensorShapeProto.Dimension.create({ dimValue: Long.fromNumber(d) })
                  : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
              ),
            }),
          }),
        }),
      }),
    );
  }
}

/** Declared element type and dims (number, symbolic string, or undefined) of a graph input/output. */
export function valueInfoShape(v: ValueInfoProto): { elemType: number; dims: (number | string | undefined)[] | undefined } {
  const tt = v.type?.tensorType;
  const dims = tt?.shape?.dim?.map((d) => {
    const which = (d as onnx.TensorShapeProto.Dimension).value;
    if (which === 'dimValue') {
      const n = Long.fromValue(d.dimValue!).toNumber();
      return n > 0 ? n : undefined;
    }
    return which === 'dimParam' && d.dimParam ? d.dimParam : undefined;
  });
  return { elemType: tt?.elemType ?? 0, dims: tt?.shape ? dims : undefined };
}
