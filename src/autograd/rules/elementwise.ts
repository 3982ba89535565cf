// Elementwise binary ops (with broadcasting), unary maths and activations, Where.
import { attrString } from '../../onnx/tensor.ts';
import type { RuleTable, VjpContext } from '../rule.ts';

function binary(c: VjpContext, da: (dy: string) => string, db: (dy: string) => string): (string | undefined)[] {
  const { e } = c;
  const y = c.output(0), dy = c.dy()!;
  return [
    c.needs(0) ? e.unbroadcast(da(dy), y, c.input(0)) : undefined,
    c.needs(1) ? e.unbroadcast(db(dy), y, c.input(1)) : undefined,
  ];
}

const add = (c: VjpContext) => binary(c, (dy) => dy, (dy) => dy);
const sub = (c: VjpContext) => binary(c, (dy) => dy, (dy) => c.e.neg(dy));
const mul = (c: VjpContext) => binary(c, (dy) => c.e.mul(dy, c.input(1)), (dy) => c.e.mul(dy, c.input(0)));
// d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2 = -(a/b)/b
const div = (c: VjpContext) =>
  binary(c, (dy) => c.e.div(dy, c.input(1)), (dy) => c.e.neg(c.e.div(c.e.mul(dy, c.output(0)), c.input(1))));

function pow(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  if (c.needs(1)) c.fail('the exponent of Pow depends on a tapped layer; only constant exponents are supported');
  const ex = c.constFloats(1);
  const x = c.input(0), dy = c.dy()!;
  let g: string;
  if (ex && ex.length === 1) {
    const p = ex[0];
    if (p === 0) g = e.mul(dy, e.scalar(0));
    else if (p === 1) g = dy;
    else if (p === 2) g = e.mul(dy, e.scale(x, 2));
    else g = e.mul(dy, e.scale(e.op('Pow', [x, e.scalar(p - 1)]), p));
  } else {
    // exponent is a non-scalar constant or computed from non-differentiable values: dy * e * x^(e-1)
    const ep = c.input(1);
    const em1 = e.sub(ep, e.op('CastLike', [e.scalar(1), ep]));
    g = e.mul(dy, e.mul(ep, e.op('Pow', [x, em1])));
  }
  return [e.unbroadcast(g, c.output(0), x), undefined];
}

type Unary = (c: VjpContext, dy: string) => string;

function unary(f: Unary) {
  return (c: VjpContext) => [f(c, c.dy()!)];
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const unaryRules: Record<string, Unary> = {
  Neg: (c, dy) => c.e.neg(dy),
  Identity: (_c, dy) => dy,
  Exp: (c, dy) => c.e.mul(dy, c.output(0)),
  Log: (c, dy) => c.e.div(dy, c.input(0)),
  Sqrt: (c, dy) => c.e.div(c.e.scale(dy, 0.5), c.output(0)),
  Reciprocal: (c, dy) => c.e.neg(c.e.mul(dy, c.e.mul(c.output(0), c.output(0)))),
  Tanh: (c, dy) => {
    const y = c.output(0);
    return c.e.mul(dy, c.e.sub(c.e.scalar(1), c.e.mul(y, y)));
  },
  Sigmoid: (c, dy) => {
    const y = c.output(0);
    return c.e.mul(dy, c.e.mul(y, c.e.sub(c.e.scalar(1), y)));
  },
  Erf: (c, dy) => {
    const x = c.input(0);
    return c.e.mul(dy, c.e.scale(c.e.op('Exp', [c.e.neg(c.e.mul(x, x))]), TWO_OVER_SQRT_PI));
  },
  Relu: (c, dy) => c.e.op('Where', [c.e.op('Greater', [c.input(0), c.e.scalar(0)]), dy, c.e.scalar(0)]),
  Gelu: (c, dy) => {
    const { e } = c;
    const x = c.input(0);
    const approx = attrString(c.node, 'approximate', 'none');
    if (approx === 'tanh') {
      // u = sqrt(2/pi)(x + 0.044715 x^3), t = tanh(u): d/dx = 0.5(1+t) + 0.5 x (1-t^2) sqrt(2/pi)(1 + 3*0.044715 x^2)
      const x2 = e.mul(x, x);
      const u = e.scale(e.add(x, e.scale(e.mul(x2, x), 0.044715)), SQRT_2_OVER_PI);
      const t = e.op('Tanh', [u]);
      const du = e.scale(e.add(e.scalar(1), e.scale(x2, 3 * 0.044715)), SQRT_2_OVER_PI);
      const left = e.scale(e.add(e.scalar(1), t), 0.5);
      const right = e.mul(e.scale(x, 0.5), e.mul(e.sub(e.scalar(1), e.mul(t, t)), du));
      return e.mul(dy, e.add(left, right));
    }
    if (approx !== 'none') c.fail(`Gelu approximate=${JSON.stringify(approx)} is not defined by ONNX`);
    // d/dx x Phi(x) = Phi(x) + x phi(x)
    const phiCdf = e.scale(e.add(e.scalar(1), e.op('Erf', [e.scale(x, Math.SQRT1_2)])), 0.5);
    const pdf = e.scale(e.op('Exp', [e.scale(e.mul(x, x), -0.5)]), INV_SQRT_2PI);
    return e.mul(dy, e.add(phiCdf, e.mul(x, pdf)));
  },
};

function where(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const cond = c.input(0), y = c.output(0), dy = c.dy()!;
  const zero = e.scalar(0);
  return [
    undefined,
    c.needs(1) ? e.unbroadcast(e.op('Where', [cond, dy, zero]), y, c.input(1)) : undefined,
    c.needs(2) ? e.unbroadcast(e.op('Where', [cond, zero, dy]), y, c.input(2)) : undefined,
  ];
}

/** Clip (ReLU6, hardtanh): the gradient passes where min <= x <= max (as torch.clamp), bounds as inputs or attributes. */
function clip(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  if (c.needs(1) || c.needs(2)) c.fail('gradients w.r.t. the Clip bounds are not supported');
  const x = c.input(0);
  let keep: string | undefined;
  const bound = (i: number, attr: string, op: 'GreaterOrEqual' | 'LessOrEqual') => {
    const v = c.opset >= 11 ? (c.inputCount > i && c.input(i) ? c.input(i) : undefined) : c.node.attribute?.some((a) => a.name === attr) ? e.scalar(attrFloatOf(c, attr)) : undefined;
    if (!v) return;
    const m = e.op(op, [x, v]);
    keep = keep ? e.op('And', [keep, m]) : m;
  };
  bound(1, 'min', 'GreaterOrEqual');
  bound(2, 'max', 'LessOrEqual');
  return [keep ? e.op('Where', [keep, c.dy()!, e.scalar(0)]) : c.dy()!, undefined, undefined];
}

function attrFloatOf(c: VjpContext, name: string): number {
  return c.node.attribute!.find((a) => a.name === name)!.f ?? 0;
}

export const elementwiseRules: RuleTable = {
  Clip: clip,
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Pow: pow,
  Where: where,
  ...Object.fromEntries(Object.entries(unaryRules).map(([k, f]) => [k, unary(f)])),
};
