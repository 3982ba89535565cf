// MatMul and Gemm.
import { attrFloat, attrInt } from '../../onnx/tensor.ts';
import type { RuleTable, VjpContext } from '../rule.ts';

function broadcastDims(x: number[], y: number[]): number[] {
  const n = Math.max(x.length, y.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = x[x.length - n + i] ?? 1, b = y[y.length - n + i] ?? 1;
    out.push(a === 1 ? b : a);
  }
  return out;
}

function matmul(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const a = c.input(0), b = c.input(1);
  const ra = e.rank(a), rb = e.rank(b);
  if (ra < 1 || rb < 1) c.fail('MatMul operands must have rank >= 1');
  // Promote 1-D operands as numpy does (a [K] -> [1, K], b [K] -> [K, 1]) and unsqueeze dy to match.
  const a2 = ra === 1 ? e.known(e.unsqueeze(a, [0]), [1, ...e.dims(a)]) : a;
  const b2 = rb === 1 ? e.known(e.unsqueeze(b, [1]), [...e.dims(b), 1]) : b;
  const ad = e.dims(a2), bd = e.dims(b2);
  const rA = ad.length, rB = bd.length;
  const batch = broadcastDims(ad.slice(0, -2), bd.slice(0, -2));
  const M = ad[rA - 2], K = ad[rA - 1], N = bd[rB - 1];
  const rp = batch.length + 2;
  const dyAxes = [...(ra === 1 ? [rp - 2] : []), ...(rb === 1 ? [rp - 1] : [])];
  const dy = e.known(e.unsqueeze(c.dy()!, dyAxes), [...batch, M, N]);
  const out: (string | undefined)[] = [undefined, undefined];
  if (c.needs(0)) {
    let gA: string;
    if (rB === 2) {
      // a weight-like b: dA = dy b^T as one Gemm over the rows (transB), not MatMul(dy, Transpose(b)), whose
      // constant transpose onnxruntime folds into a second copy of the weight
      const df = e.reshape(dy, e.ints([-1, N]));
      gA = e.known(e.reshapeLike(e.op('Gemm', [df, b2], { transB: 1 }), a2), ad);
    } else {
      const ga = e.known(e.op('MatMul', [dy, e.swapLast(b2, rB)]), [...batch, M, K]);
      gA = e.unbroadcast(ga, ga, a2);
    }
    out[0] = ra === 1 ? e.reshapeLike(gA, a) : gA;
  }
  if (c.needs(1)) {
    let gB: string;
    if (rB === 2 && rA > 2) {
      // a weight-like b: fold the batch axes of a and dy into rows and do one GEMM [K, rows] x [rows, N]
      const af = e.reshape(a2, e.ints([-1, K]));
      const df = e.reshape(dy, e.ints([-1, N]));
      gB = e.known(e.op('Gemm', [af, df], { transA: 1 }), [K, N]);
    } else {
      const gb = e.known(e.op('MatMul', [e.swapLast(a2, rA), dy]), [...batch, K, N]);
      gB = e.unbroadcast(gb, gb, b2);
    }
    out[1] = rb === 1 ? e.reshapeLike(gB, b) : gB;
  }
  return out;
}

function gemm(c: VjpContext): (string | undefined)[] {
  const { e, node } = c;
  const A = c.input(0), B = c.input(1), C = c.inputCount > 2 ? c.input(2) : '';
  const dy = c.dy()!;
  const alpha = attrFloat(node, 'alpha', 1), beta = attrFloat(node, 'beta', 1);
  const tA = attrInt(node, 'transA', 0), tB = attrInt(node, 'transB', 0);
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  const al = alpha === 1 ? undefined : { float: alpha };
  if (c.needs(0)) {
    // d op(A) = alpha dy op(B)^T ; dA = that, or its transpose when transA
    out[0] = tA === 0
      ? e.op('Gemm', [dy, B], { alpha: al, transB: tB === 0 ? 1 : 0 })
      : e.op('Gemm', [B, dy], { alpha: al, transA: tB, transB: 1 });
    e.known(out[0], e.dims(A));
  }
  if (c.needs(1)) {
    // d op(B) = alpha op(A)^T dy ; dB = that, or its transpose when transB
    out[1] = tB === 0
      ? e.op('Gemm', [A, dy], { alpha: al, transA: tA === 0 ? 1 : 0 })
      : e.op('Gemm', [dy, A], { alpha: al, transA: 1, transB: tA });
    e.known(out[1], e.dims(B));
  }
  if (C && c.needs(2)) {
    out[2] = e.unbroadcast(e.scale(dy, beta), c.output(0), C);
  }
  return out;
}

export const matmulRules: RuleTable = { MatMul: matmul, Gemm: gemm };
