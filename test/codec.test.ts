import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { decodeModel, encodeModel, OnnxDecodeError, onnx } from '../src/onnx/codec.ts';
import { Graph } from '../src/onnx/graph.ts';
import { checksOf } from './support/fixtures.ts';

const FIX = new URL('./fixtures/', import.meta.url);
/** every model file of every fixture folder, as "<folder>/<file>" */
const fixtures = readdirSync(FIX)
  .filter((d) => !d.includes('.'))
  .flatMap((d) => checksOf(d, JSON.parse(readFileSync(new URL(`${d}/meta.json`, FIX), 'utf8'))).map((c) => `${d}/${c.model}`));

function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('ONNX codec', () => {
  it.each(fixtures)('round-trips %s losslessly (decode -> encode -> decode)', (name) => {
    const bytes = new Uint8Array(readFileSync(new URL(name, FIX)));
    const m1 = decodeModel(bytes);
    const b1 = encodeModel(m1);
    const m2 = decodeModel(b1);
    const b2 = encodeModel(m2);
    expect(b2).toEqual(b1);
    // torch writes fields in field-number order, as protobufjs does: the bytes are identical to the file
    expect(b1.length).toBe(bytes.length);
    expect(Buffer.from(b1).equals(Buffer.from(bytes))).toBe(true);
    expect(m2.graph!.node!.length).toBe(m1.graph!.node!.length);
    expect(new Graph(m2).topoOrder().length).toBe(m1.graph!.node!.length);
  });

  it('keeps fields added after IR 8 (node metadata_props, overload, configuration, float8 types)', () => {
    const m = decodeModel(new Uint8Array(readFileSync(new URL(`mlp_classifier/model.onnx`, FIX))));
    m.graph!.node![0].metadataProps = [onnx.StringStringEntryProto.create({ key: 'k', value: 'v' })];
    m.graph!.node![0].overload = 'ov';
    m.graph!.metadataProps = [onnx.StringStringEntryProto.create({ key: 'g', value: 'h' })];
    m.configuration = [onnx.DeviceConfigurationProto.create({ name: 'cfg', numDevices: 2, device: ['a', 'b'] })];
    m.graph!.initializer!.push(
      onnx.TensorProto.create({ name: 'f8', dataType: onnx.TensorProto.DataType.FLOAT8E4M3FN, dims: [4], rawData: new Uint8Array([1, 2, 3, 4]) }),
    );
    const back = decodeModel(encodeModel(m));
    expect(back.graph!.node![0].metadataProps![0].value).toBe('v');
    expect(back.graph!.node![0].overload).toBe('ov');
    expect(back.graph!.metadataProps![0].key).toBe('g');
    expect(back.configuration![0].device).toEqual(['a', 'b']);
    const f8 = back.graph!.initializer!.find((t) => t.name === 'f8')!;
    expect(f8.dataType).toBe(17);
    expect([...f8.rawData!]).toEqual([1, 2, 3, 4]);
  });

  it('rejects empty, non-ONNX and truncated input with OnnxDecodeError', () => {
    expect(() => decodeModel(new Uint8Array(0))).toThrow(OnnxDecodeError);
    expect(() => decodeModel(new TextEncoder().encode('hello, this is not a model'), 'x.onnx')).toThrow(/x\.onnx/);
    const bytes = new Uint8Array(readFileSync(new URL(`mlp_classifier/model.onnx`, FIX)));
    for (const cut of [1, 10, 100, bytes.length >> 1, bytes.length - 1]) {
      expect(() => decodeModel(bytes.subarray(0, cut))).toThrow(OnnxDecodeError);
    }
  });

  it('fuzz: thousands of mutated fixtures decode or fail with OnnxDecodeError, never anything else', () => {
    const rnd = mulberry32(1234);
    const bases = fixtures.map((f) => new Uint8Array(readFileSync(new URL(f, FIX))));
    let decoded = 0, rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const base = bases[i % bases.length];
      const b = base.slice(0, i % 7 === 0 ? Math.floor(rnd() * base.length) : base.length);
      const flips = 1 + Math.floor(rnd() * 8);
      for (let k = 0; k < flips && b.length; k++) {
        const p = Math.floor(rnd() * b.length);
        const mode = rnd();
        b[p] = mode < 0.4 ? Math.floor(rnd() * 256) : mode < 0.7 ? b[p] ^ (1 << Math.floor(rnd() * 8)) : 0xff;
      }
      try {
        decodeModel(b);
        decoded++;
      } catch (e) {
        if (!(e instanceof OnnxDecodeError)) throw new Error(`mutation ${i}: ${(e as Error).name}: ${(e as Error).message}`);
        rejected++;
      }
    }
    expect(decoded + rejected).toBe(3000);
    expect(rejected).toBeGreaterThan(100);
  });
});
