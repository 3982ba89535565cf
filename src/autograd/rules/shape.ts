// Shape ops on the differentiable data path: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Split,
// Concat, Slice, Gather, Cast, Dropout (inference).
import { DataType, attrInt, attrInts } from '../../onnx/tensor.ts';
import { normAxis, type RuleTable, type VjpContext } from '../rule.ts';

const reshapeBack = (c: VjpContext): (string | undefined)[] => [c.e.known(c.e.reshapeLike(c.dy()!, c.input(0)), c.e.dims(c.input(0)))];

function transpose(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const r = e.rank(c.input(0));
  const perm = attrInts(c.node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  const inv = new Array<number>(r);
  perm.forEach((p, i) => (inv[p] = i));
  return [e.known(e.transpose(c.dy()!, inv), e.dims(c.input(0)))];
}

const expand = (c: VjpContext): (string | undefined)[] => [c.e.unbroadcast(c.dy()!, c.output(0), c.input(0)), undefined];

function cast(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const from = e.shape(c.input(0)).elemType;
  return [from === e.shape(c.output(0)).elemType ? c.dy()! : e.cast(c.dy()!, from)];
}

function dropout(c: VjpContext): (string | undefined)[] {
  if (c.inputCount > 2 && c.input(2)) {
    const t = c.constInts(2);
    if (!t || t.some((v) => v !== 0)) c.fail('Dropout with training_mode = true (or computed) is not supported; export the model in eval mode');
  }
  return [c.dy()!, undefined, undefined];
}

function split(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const x = c.input(0);
  const axis = normAxis(attrInt(c.node, 'axis', 0), e.rank(x));
  const n = c.node.output!.length;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(c.dy(i) ?? e.zerosLike(c.output(i)));
  return [e.known(e.op('Concat', parts, { axis }), e.dims(x)), undefined];
}

function concat(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  if (c.opset < 13) c.fail('Concat backward needs Split with sizes as input (opset >= 13)');
  const y = c.output(0);
  const axis = normAxis(attrInt(c.node, 'axis', 0), e.rank(y));
  const ins = Array.from({ length: c.inputCount }, (_, i) => c.input(i));
  const sizes = e.op('Concat', ins.map((x) => e.dimOf(x, axis)), { axis: 0 });
  const parts = e.ops('Split', [c.dy()!, sizes], ins.length, { axis });
  return ins.map((x, i) => (c.needs(i) ? e.known(parts[i], e.dims(x)) : undefined));
}

const BIG = 2 ** 31;

function slice(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  if (c.opset < 10) c.fail('Slice before opset 10 is not supported');
  const x = c.input(0);
  const r = e.rank(x);
  const starts = c.constInts(1), ends = c.constInts(2);
  const axesIn = c.inputCount > 3 && c.input(3) ? c.constInts(3) : Array.from({ length: (starts ?? ends ?? []).length }, (_, i) => i);
  if (!axesIn) c.fail('Slice axes must be constant');
  const steps = c.inputCount > 4 && c.input(4) ? c.constInts(4) : undefined;
  if (c.inputCount > 4 && c.input(4) && (!steps || steps.some((s) => s !== 1))) c.fail('only Slice with step 1 is differentiable here');
  const axes = axesIn.map((a) => normAxis(a, r));
  const zero = e.ints([0]);
  const begin: string[] = Array.from({ length: r }, () => zero);
  const end: string[] = Array.from({ length: r }, () => zero);
  axes.forEach((a, j) => {
    const s = starts?.[j], t = ends?.[j];
    if (s !== undefined && s >= 0 && t !== undefined && t >= BIG) {
      // the common x[a:] form: padding is known without reading sizes
      begin[a] = e.ints([s]);
      return;
    }
    // general form: clamp start/end against the runtime size of the axis, as Slice does
    const dim = e.dimOf(x, a);
    const pick = (i: number) => {
      const v = e.shape(c.input(i)).elemType === DataType.INT64 ? c.input(i) : e.cast(c.input(i), DataType.INT64);
      return e.slice(v, [j], [j + 1], [0]);
    };
    const clamp = (v: string) => {
      const wrapped = e.op('Where', [e.op('Less', [v, e.ints([0])]), e.add(v, dim), v]);
      return e.op('Min', [e.op('Max', [wrapped, e.ints([0])]), dim]);
    };
    const s0 = clamp(pick(1));
    const t0 = e.op('Max', [clamp(pick(2)), s0]);
    begin[a] = s0;
    end[a] = e.sub(dim, t0);
  });
  const pads = e.op('Concat', [...begin, ...end], { axis: 0 });
  return [e.known(e.op('Pad', [c.dy()!, pads]), e.dims(x)), undefined, undefined, undefined, undefined];
}

function gather(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const x = c.input(0), idx = c.input(1);
  const r = e.rank(x), q = e.rank(idx);
  const a = normAxis(attrInt(c.node, 'axis', 0), r);
  e.requireOpset(16, 'Gather backward uses ScatterND with reduction="add"');
  // move the gathered axis of x first: xT = [x[a], x[:a], x[a+1:]]
  const permX = [a, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== a)];
  const invX = new Array<number>(r);
  permX.forEach((p, i) => (invX[p] = i));
  // dy = [x[:a], idx..., x[a+1:]] -> [idx..., x[:a], x[a+1:]]
  const ry = r - 1 + q;
  const permY = [
    ...Array.from({ length: q }, (_, i) => a + i),
    ...Array.from({ length: a }, (_, i) => i),
    ...Array.from({ length: ry - a - q }, (_, i) => a + q + i),
  ];
  const dyT = e.transpose(c.dy()!, permY);
  const zshape = e.op('Gather', [e.shapeOf(x), e.ints(permX)], { axis: 0 });
  const zeros = e.zerosOfShape(zshape);
  let ind = e.shape(idx).elemType === DataType.INT64 ? idx : e.cast(idx, DataType.INT64);
  // the axis size as a scalar, so that the Where keeps the shape of the indices (also of a scalar index)
  const dim = e.op('Gather', [e.shapeOf(x), e.int(a)], { axis: 0 });
  ind = e.op('Where', [e.op('Less', [ind, e.int(0)]), e.add(ind, dim), ind]);
  const scattered = e.op('ScatterND', [zeros, e.unsqueeze(ind, [q]), dyT], { reduction: 'add' });
  return [e.known(e.transpose(scattered, invX), e.dims(x)), undefined];
}

export const shapeRules: RuleTable = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: transpose,
  Expand: expand,
  Cast: cast,
  Dropout: dropout,
  Split: split,
  Concat: concat,
  Slice: slice,
  Gather: gather,
};
