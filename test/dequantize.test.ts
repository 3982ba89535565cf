// Loading quantised, float16 and external-data models: each rewrite of src/onnx/prepare.ts against onnxruntime-web's
// own kernels for the quantised ops (weight-only quantisation: the float32 model must give the same outputs), or
// against x W_deq computed here (dynamic activation quantisation, which the float32 model drops). Errors name the op,
// the node and the file.
import { describe, it, expect } from 'vitest';
import { onnx, Long, decodeModel, encodeModel, type ModelProto } from '../src/onnx/codec.ts';
import { Graph } from '../src/onnx/graph.ts';
import { DataType, dimsOf } from '../src/onnx/tensor.ts';
import { prepareModel } from '../src/onnx/prepare.ts';
import { QuantizedModelError } from '../src/onnx/dequantize.ts';
import { ExternalDataError, externalBytes, sessionExternalData, type ExternalFiles } from '../src/onnx/external.ts';
import { floatToHalfBits, halfBitsToFloat } from '../src/kernels/reference/f16.ts';
import { createSession } from '../src/runtime/ort.ts';
import { newModel, prng } from './support/graphs.ts';

const FLOAT = DataType.FLOAT;
const MS = [{ domain: 'com.microsoft', version: 1 }];

function raw(g: Graph, name: string, dataType: number, dims: number[], bytes: Uint8Array): string {
  g.proto.initializer!.push(onnx.TensorProto.create({ name, dataType, dims: dims.map((d) => Long.fromNumber(d)), rawData: bytes }));
  return name;
}
const f32 = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const u8 = (v: number[]) => Uint8Array.from(v);
const i8 = (v: number[]) => new Uint8Array(Int8Array.from(v).buffer);

async function run(model: ModelProto, feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }>, files?: ExternalFiles): Promise<Float32Array> {
  const { ort, session } = await createSession(encodeModel(model), { externalData: sessionExternalData(model, files) });
  try {
    const f: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor(v.data instanceof BigInt64Array ? 'int64' : 'float32', v.data, v.dims);
    const out = await session.run(f);
    return out[model.graph!.output![0].name!].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The model after prepareModel (a copy), with its report. */
function prepared(model: ModelProto, files: ExternalFiles = new Map(), source = 'test.onnx') {
  const copy = decodeModel(encodeModel(model));
  const report = prepareModel(copy, files, source);
  return { model: copy, report, files };
}

function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return e / Math.max(m, 1e-30);
}

const ops = (m: ModelProto) => (m.graph!.node ?? []).map((n) => `${n.domain ? `${n.domain}.` : ''}${n.opType}`);
const r = prng(42);
const randx = (n: number) => Float32Array.from({ length: n }, () => r.normal());

describe('weight-only quantisation: the float32 model computes what onnxruntime computes on the quantised one', () => {
  it('DequantizeLinear per-axis int8 feeding MatMul becomes a float32 initializer (a tappable layer)', async () => {
    const m = newModel(17);
    const g = new Graph(m);
    g.addInput('x', FLOAT, [2, 3, 4]);
    const q = raw(g, 'wq', DataType.INT8, [4, 5], i8(Array.from({ length: 20 }, (_, i) => ((i * 37) % 255) - 127)));
    const s = raw(g, 'ws', FLOAT, [5], f32([0.01, 0.02, 0.015, 0.03, 0.005]));
    const z = raw(g, 'wz', DataType.INT8, [5], i8([0, 3, -2, 0, 1]));
    const w = g.op('DequantizeLinear', [q, s, z], { axis: 1 }, 'dq');
    g.addOutput(g.op('MatMul', ['x', w], {}, '/fc/MatMul'), FLOAT);
    const x = { data: randx(24), dims: [2, 3, 4] };
    const p = prepared(m);
    expect(ops(p.model)).toEqual(['MatMul']);
    expect(p.model.graph!.initializer!.find((t) => t.name === p.model.graph!.node![0].input![1])?.dataType).toBe(FLOAT);
    expect(rel(await run(p.model, { x }), await run(m, { x }))).toBeLessThan(1e-6);
    expect(p.report.notes.join('\n')).toMatch(/dequantised 1 quantised weight to float32 \(DequantizeLinear x1\).*dequantised model/);
  });

  it('blocked DequantizeLinear (opset 21, int4, block 2) and uint8 Gather + DequantizeLinear (embedding tables)', async () => {
    const m = newModel(21);
    const g = new Graph(m);
    g.addInput('ids', DataType.INT64, [2, 3]);
    // int4 [4, 6], blocked along axis 1 with block 2 -> scales [4, 3]
    const codes = Array.from({ length: 24 }, (_, i) => ((i * 5) % 16) - 8);
    const packed = new Uint8Array(12);
    codes.forEach((c, i) => (packed[i >> 1] |= (c & 15) << ((i & 1) * 4)));
    const q = raw(g, 'w4', 22, [4, 6], packed);
    const s = raw(g, 'w4s', FLOAT, [4, 3], f32(Array.from({ length: 12 }, (_, i) => 0.01 * (i + 1))));
    const w = g.op('DequantizeLinear', [q, s], { axis: 1, block_size: 2 }, 'dq4');
    const table = raw(g, 'emb_q', DataType.UINT8, [7, 4], u8(Array.from({ length: 28 }, (_, i) => (i * 29) % 256)));
    const ts = raw(g, 'emb_s', FLOAT, [], f32([0.02]));
    const tz = raw(g, 'emb_z', DataType.UINT8, [], u8([128]));
    const e = g.op('DequantizeLinear', [g.op('Gather', [table, 'ids'], { axis: 0 }, '/embed/Gather'), ts, tz], {}, 'dqe');
    g.addOutput(g.op('MatMul', [e, w], {}, '/proj/MatMul'), FLOAT);
    const ids = { data: BigInt64Array.from([0n, 6n, 3n, 1n, 1n, 5n]), dims: [2, 3] };
    const p = prepared(m);
    expect(ops(p.model)).toEqual(['Gather', 'MatMul']);
    expect(p.report.dequantized!.ops).toEqual({ DequantizeLinear: 1, 'Gather+DequantizeLinear': 1 });
    expect(rel(await run(p.model, { ids }), await run(m, { ids }))).toBeLessThan(1e-6);
  });

  it('com.microsoft MatMulNBits: 4-bit with packed zero points and bias, 8-bit symmetric, 2-bit, K not a multiple of the block', async () => {
    for (const [bits, K, zp, bias] of [[4, 20, 'packed', true], [8, 32, 'none', false], [2, 16, 'none', false], [4, 16, 'float', false]] as const) {
      const N = 3, block = 16, nb = Math.ceil(K / block), blob = (block * bits) / 8;
      const m = newModel(17, MS);
      const g = new Graph(m);
      g.addInput('a', FLOAT, [2, K]);
      const B = raw(g, 'B', DataType.UINT8, [N, nb, blob], u8(Array.from({ length: N * nb * blob }, (_, i) => (i * 73 + 11) % 256)));
      const S = raw(g, 'S', FLOAT, [N, nb], f32(Array.from({ length: N * nb }, (_, i) => 0.05 + 0.01 * i)));
      const ins = ['a', B, S];
      if (zp === 'packed') ins.push(raw(g, 'Z', DataType.UINT8, [N, Math.ceil((nb * bits) / 8)], u8([0x3a, 0x71, 0x0f].slice(0, N))));
      else if (zp === 'float') ins.push(raw(g, 'Z', FLOAT, [N, nb], f32([7.5, 8, 6.25].slice(0, N * nb))));
      else if (bias) ins.push('');
      if (bias) ins.push('', raw(g, 'bias', FLOAT, [N], f32([0.5, -1, 2])));
      const y = g.add('MatMulNBits', ins, { K, N, bits, block_size: block }, { domain: 'com.microsoft', name: '/l/MatMul_Q4' })[0];
      g.addOutput(y, FLOAT);
      const a = { data: randx(2 * K), dims: [2, K] };
      const p = prepared(m);
      expect(p.model.graph!.node!.find((n) => n.opType === 'MatMul')!.name).toBe('/l/MatMul');
      expect(rel(await run(p.model, { a }), await run(m, { a })), `${bits} bits, zp ${zp}`).toBeLessThan(2e-6);
    }
  });

  it('com.microsoft GatherBlockQuantized: uint8-packed 4-bit with and without zero points', async () => {
    for (const withZp of [false, true]) {
      const m = newModel(17, MS);
      const g = new Graph(m);
      g.addInput('ids', DataType.INT64, [3]);
      const data = raw(g, 'E', DataType.UINT8, [5, 16], u8(Array.from({ length: 80 }, (_, i) => (i * 53 + 7) % 256)));
      const S = raw(g, 'Es', FLOAT, [5, 2], f32(Array.from({ length: 10 }, (_, i) => 0.03 * (i + 1))));
      const ins = [data, 'ids', S];
      if (withZp) ins.push(raw(g, 'Ez', DataType.UINT8, [5, 1], u8([0x97, 0x08, 0x7f, 0x11, 0xa5])));
      const y = g.add('GatherBlockQuantized', ins, { bits: 4, block_size: 16, gather_axis: 0, quantize_axis: 1 }, { domain: 'com.microsoft', name: '/embed/Gather_Q4' })[0];
      g.addOutput(y, FLOAT);
      const ids = { data: BigInt64Array.from([4n, 0n, 2n]), dims: [3] };
      const p = prepared(m);
      expect(ops(p.model)).toEqual(['Gather']);
      expect(rel(await run(p.model, { ids }), await run(m, { ids }))).toBeLessThan(1e-6);
    }
  });
});

describe('dynamic activation quantisation: the float32 model is x W_deq', () => {
  function reference(x: Float32Array, rows: number, K: number, N: number, q: number[], s: number[], z: number[]): Float32Array {
    const out = new Float32Array(rows * N);
    for (let i = 0; i < rows; i++)
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += x[i * K + k] * Math.fround((q[k * N + n] - z[n % z.length]) * s[n % s.length]);
        out[i * N + n] = acc;
      }
    return out;
  }

  it('DynamicQuantizeLinear + MatMulInteger + Cast + Mul(Mul(x_scale, w_scale)) -> MatMul(x, W), named without "_quant"', async () => {
    const K = 4, N = 3;
    const m = newModel(17);
    const g = new Graph(m);
    g.addInput('x', FLOAT, [2, K]);
    const q = [5, -3, 100, -127, 7, 1, 0, 44, -20, 3, 3, 90];
    const s = [0.01, 0.02, 0.005], z = [0, 0, 0];
    const Wq = raw(g, 'W_quantized', DataType.INT8, [K, N], i8(q));
    const Ws = raw(g, 'W_scale', FLOAT, [N], f32(s));
    const Wz = raw(g, 'W_zero_point', DataType.INT8, [N], i8(z));
    const [xq, xs, xz] = g.add('DynamicQuantizeLinear', ['x'], {}, { outputs: 3, name: 'x_QuantizeLinear' });
    const mi = g.op('MatMulInteger', [xq, Wq, xz, Wz], {}, '/fc/MatMul_quant');
    const c = g.op('Cast', [mi], { to: FLOAT }, 'cast');
    const sc = g.op('Mul', [xs, Ws], {}, 'scales');
    g.addOutput(g.op('Mul', [c, sc], {}, 'out'), FLOAT);
    const x = randx(2 * K);
    const p = prepared(m);
    expect(p.model.graph!.node!.map((n) => [n.opType, n.name])).toEqual([['MatMul', '/fc/MatMul']]);
    const want = reference(x, 2, K, N, q, s, z);
    expect(rel(await run(p.model, { x: { data: x, dims: [2, K] } }), want)).toBeLessThan(1e-6);
    // onnxruntime on the quantised model differs only by the activation's 8-bit quantisation
    expect(rel(await run(m, { x: { data: x, dims: [2, K] } }), want)).toBeLessThan(3e-2);
  });

  it('com.microsoft DynamicQuantizeMatMul with a bias -> MatMul + Add', async () => {
    const K = 4, N = 2;
    const m = newModel(17, MS);
    const g = new Graph(m);
    g.addInput('x', FLOAT, [3, K]);
    const q = [10, 250, 3, 128, 77, 9, 200, 1];
    const y = g.add('DynamicQuantizeMatMul', ['x', raw(g, 'B', DataType.UINT8, [K, N], u8(q)), raw(g, 'Bs', FLOAT, [], f32([0.01])), raw(g, 'Bz', DataType.UINT8, [], u8([128])), raw(g, 'bias', FLOAT, [N], f32([1, -2]))], {}, { domain: 'com.microsoft', name: 'dqmm' })[0];
    g.addOutput(y, FLOAT);
    const x = randx(3 * K);
    const p = prepared(m);
    expect(ops(p.model)).toEqual(['MatMul', 'Add']);
    const want = reference(x, 3, K, N, q, [0.01], [128]).map((v, i) => v + [1, -2][i % N]);
    expect(rel(await run(p.model, { x: { data: x, dims: [3, K] } }), want)).toBeLessThan(1e-6);
  });

  it('QuantizeLinear -> DequantizeLinear on an activation (fake quantisation) is dropped, and the note says so', async () => {
    const m = newModel(17);
    const g = new Graph(m);
    g.addInput('x', FLOAT, [5]);
    const qs = raw(g, 's', FLOAT, [], f32([0.1])), qz = raw(g, 'z', DataType.UINT8, [], u8([128]));
    g.addOutput(g.op('Tanh', [g.op('DequantizeLinear', [g.op('QuantizeLinear', ['x', qs, qz], {}, 'q'), qs, qz], {}, 'dq')], {}, 'tanh'), FLOAT);
    const x = randx(5);
    const p = prepared(m);
    expect(ops(p.model)).toEqual(['Identity', 'Tanh']);
    expect(rel(await run(p.model, { x: { data: x, dims: [5] } }), x.map(Math.tanh))).toBeLessThan(1e-6);
    expect(p.report.notes[0]).toContain('removed 1 activation fake-quantisation pair');
  });

  it('a quantised op it cannot make float32 fails naming the op, the node and the file', () => {
    const m = newModel(17);
    const g = new Graph(m);
    g.addInput('x', DataType.UINT8, [2, 2]);
    const y = g.op('QLinearMatMul', ['x', 'xs', 'xz', raw(g, 'w', DataType.UINT8, [2, 2], u8([1, 2, 3, 4])), 'ws', 'wz', 'ys', 'yz'], {}, 'my_qlinear');
    g.addOutput(y, DataType.UINT8);
    let err: unknown;
    try {
      prepared(m, new Map(), 'models/x/onnx/model_quantized.onnx');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QuantizedModelError);
    const msg = (err as Error).message;
    for (const s of ['models/x/onnx/model_quantized.onnx', '"my_qlinear"', 'QLinearMatMul', 'float32 (model.onnx)']) expect(msg).toContain(s);
  });
});

describe('float16 models compute in float32 on the same weights', () => {
  it('half initializers, Constants and Casts become float32; the float32 logits of a keep_io_types export stay', async () => {
    const m = newModel(17);
    const g = new Graph(m);
    g.addInput('x', FLOAT, [2, 3]);
    const w = [0.1, -0.25, 1.5, 2, -3, 0.333, 0.7, 0.8, -0.9, 1, 1.1, 1.2];
    const half = new Uint16Array(w.map(floatToHalfBits));
    const W = raw(g, 'W', DataType.FLOAT16, [3, 4], new Uint8Array(half.buffer));
    const x16 = g.op('Cast', ['x'], { to: DataType.FLOAT16 }, 'x_cast_to_fp16');
    const h = g.op('MatMul', [x16, W], {}, '/fc/MatMul');
    const c = g.add('Constant', [], { value: onnx.TensorProto.create({ dataType: DataType.FLOAT16, dims: [Long.fromNumber(1)], rawData: new Uint8Array(Uint16Array.of(floatToHalfBits(0.5)).buffer) }) }, { name: 'half_const' })[0];
    g.addOutput(g.op('Cast', [g.op('Mul', [h, c], {}, 'scale')], { to: FLOAT }, 'logits_cast_to_fp32'), FLOAT);
    const x = randx(6);
    const p = prepared(m);
    const types = JSON.stringify(p.model);
    expect(types).not.toContain(`"dataType":${DataType.FLOAT16}`);
    expect(p.report.upcast).toMatchObject({ tensors: 2, casts: 1 });
    expect(p.report.notes[0]).toMatch(/float16 model computed in float32 .*dequantised \(float32\) model/);
    // the exact half weights, in float32 arithmetic
    const hw = Array.from(half, halfBitsToFloat);
    const want = new Float32Array(8);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) want[i * 4 + j] += x[i * 3 + k] * hw[k * 4 + j] * 0.5;
    expect(rel(await run(p.model, { x: { data: x, dims: [2, 3] } }), want)).toBeLessThan(1e-6);
  });
});

describe('external data', () => {
  function external(): { m: ModelProto; files: ExternalFiles } {
    const m = newModel(17);
    const g = new Graph(m);
    g.addInput('x', FLOAT, [1, 2]);
    const t = onnx.TensorProto.create({
      name: 'W', dataType: FLOAT, dims: [2, 2].map((d) => Long.fromNumber(d)), dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [['location', './weights.bin'], ['offset', '8'], ['length', '16']].map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
    });
    g.proto.initializer!.push(t);
    g.addOutput(g.op('MatMul', ['x', 'W'], {}, '/fc/MatMul'), FLOAT);
    const file = new Uint8Array(24);
    file.set(f32([1, 2, 3, 4]), 8);
    return { m, files: new Map([['weights.bin', file]]) };
  }

  it('resolves initializers from their files (offset, length, "./" locations) and runs with ORT\'s externalData', async () => {
    const { m, files } = external();
    const t = m.graph!.initializer![0];
    expect(Array.from(new Float32Array(externalBytes(t, files).slice().buffer))).toEqual([1, 2, 3, 4]);
    expect(Array.from(await run(m, { x: { data: Float32Array.of(1, 1), dims: [1, 2] } }, files))).toEqual([4, 6]);
    expect(dimsOf(t)).toEqual([2, 2]);
  });

  it('validates every reference before reading: missing file, out of bounds, wrong length, paths leaving the folder', () => {
    const cases: [(m: ModelProto, f: ExternalFiles) => void, RegExp][] = [
      [(_m, f) => f.clear(), /"W".*"weights\.bin".*missing/],
      [(_m, f) => f.set('weights.bin', new Uint8Array(20)), /bytes 8\.\.24 lie outside the file \(20 bytes\)/],
      [(m) => (m.graph!.initializer![0].externalData![2].value = '12'), /length 12 does not match .* \(16 bytes\)/],
      [(m) => (m.graph!.initializer![0].externalData![0].value = '../../etc/passwd'), /must be a relative path inside the model's folder/],
      [(m) => (m.graph!.initializer![0].externalData![1].value = '-4'), /offset "-4" is not a non-negative integer/],
    ];
    for (const [mutate, re] of cases) {
      const { m, files } = external();
      mutate(m, files);
      expect(() => prepareModel(m, files, 'dir/model.onnx')).toThrow(ExternalDataError);
      expect(() => prepareModel(m, files, 'dir/model.onnx')).toThrow(re);
      expect(() => prepareModel(m, files, 'dir/model.onnx')).toThrow(/dir\/model\.onnx: tensor "W"/);
    }
  });

  it('weights converted from external float16 stay external (new in-memory files), so the model is never re-encoded with them', () => {
    const m = newModel(17);
    const g = new Graph(m);
    g.addInput('x', DataType.FLOAT16, [1, 2]);
    g.proto.initializer!.push(onnx.TensorProto.create({
      name: 'W', dataType: DataType.FLOAT16, dims: [2, 2].map((d) => Long.fromNumber(d)), dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [onnx.StringStringEntryProto.create({ key: 'location', value: 'w16.bin' })],
    }));
    g.addOutput(g.op('MatMul', ['x', 'W'], {}, 'mm'), DataType.FLOAT16);
    const files: ExternalFiles = new Map([['w16.bin', new Uint8Array(Uint16Array.from([1, 2, 3, 4].map(floatToHalfBits)).buffer)]]);
    const p = prepared(m, files);
    const t = p.model.graph!.initializer![0];
    expect(t.dataType).toBe(FLOAT);
    expect(t.dataLocation).toBe(onnx.TensorProto.DataLocation.EXTERNAL);
    expect(Array.from(new Float32Array(externalBytes(t, p.files).slice().buffer))).toEqual([1, 2, 3, 4]);
    expect(encodeModel(p.model).length).toBeLessThan(400);
  });
});
