import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { TapModel, type LayerProjection } from '../src/runtime/taps.ts';
import { parseJsonl } from '../src/io/jsonl.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { rng } from '../src/train/gpt2.ts';

const FIX = new URL('./fixtures/', import.meta.url);
// single-model folders with float64 x / dy / grad references for every example (multi-variant folders such as
// llama_folder are checked by fixture-check in test/user-models.test.ts)
const fixtures = readdirSync(FIX).filter((d) => !d.includes('.') && !JSON.parse(readFileSync(new URL(`${d}/meta.json`, FIX), 'utf8')).checks);

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let mx = 0, e = 0;
  for (let i = 0; i < b.length; i++) {
    mx = Math.max(mx, Math.abs(b[i]));
    e = Math.max(e, Math.abs(a[i] - b[i]));
  }
  return mx === 0 ? e : e / mx;
}

describe.each(fixtures)('in-graph LoGra projection on %s', (name) => {
  it('G = P_out DW P_in^T from torch full per-example gradients (k_in != k_out), per-token projections and KFAC sums', async () => {
    const dir = new URL(`${name}/`, FIX);
    const meta = JSON.parse(readFileSync(new URL('meta.json', dir), 'utf8'));
    const ref = readSafetensors(readFileSync(new URL('ref.safetensors', dir))).tensors;
    const data = parseJsonl(readFileSync(new URL('data.jsonl', dir), 'utf8'));
    const tm = await TapModel.create(new Uint8Array(readFileSync(new URL('model.onnx', dir))), { project: true, tokenProjections: true, kfacStats: true, taps: false });
    const r0 = rng(11);
    const proj: LayerProjection[] = tm.layers.map((l) => {
      const kIn = 3, kOut = 5;
      return {
        kIn, kOut,
        pin: Float32Array.from({ length: kIn * l.dIn }, () => r0.normal()),
        pout: Float32Array.from({ length: kOut * l.dOut }, () => r0.normal()),
      };
    });
    tm.setProjections(proj);
    const r = await tm.run(data);
    r.layers.forEach((lt, li) => {
      const l = lt.layer, { kIn, kOut, pin, pout } = proj[li];
      const ml = meta.layers[li];
      expect(ml.node).toBe(l.name);
      const A = new Float64Array(l.dIn * l.dIn), S = new Float64Array(l.dOut * l.dOut);
      for (let b = 0; b < r.B; b++) {
        // DW as [d_out, d_in] from the torch reference in initializer layout
        const grad = ref.get(`grad/${l.name}/${b}`)!.data as Float64Array;
        const dw = (o: number, i: number) => (l.layout === 'in_out' ? grad[i * l.dOut + o] : grad[o * l.dIn + i]);
        const want = new Float64Array(kOut * kIn);
        for (let a = 0; a < kOut; a++)
          for (let c = 0; c < kIn; c++) {
            let s = 0;
            for (let o = 0; o < l.dOut; o++) {
              let t = 0;
              for (let i = 0; i < l.dIn; i++) t += dw(o, i) * pin[c * l.dIn + i];
              s += pout[a * l.dOut + o] * t;
            }
            want[a * kIn + c] = s;
          }
        const got = lt.g!.subarray(b * kOut * kIn, (b + 1) * kOut * kIn);
        expect(relErr(got, want)).toBeLessThan(1e-5);
        // per-token projections sum to G
        const T = lt.rows;
        const fromTokens = new Float64Array(kOut * kIn);
        for (let t = 0; t < T; t++)
          for (let a = 0; a < kOut; a++)
            for (let c = 0; c < kIn; c++) fromTokens[a * kIn + c] += lt.dp![(b * T + t) * kOut + a] * lt.xp![(b * T + t) * kIn + c];
        expect(relErr(fromTokens, want)).toBeLessThan(1e-5);
        // KFAC sums over real tokens from the reference activations / output gradients
        const x = ref.get(`x/${l.name}/${b}`)!.data as Float64Array, dy = ref.get(`dy/${l.name}/${b}`)!.data as Float64Array;
        const rows = x.length / l.dIn;
        for (let t = 0; t < rows; t++) {
          for (let i = 0; i < l.dIn; i++) for (let j = 0; j < l.dIn; j++) A[i * l.dIn + j] += x[t * l.dIn + i] * x[t * l.dIn + j];
          for (let i = 0; i < l.dOut; i++) for (let j = 0; j < l.dOut; j++) S[i * l.dOut + j] += dy[t * l.dOut + i] * dy[t * l.dOut + j];
        }
      }
      expect(relErr(lt.a!, A)).toBeLessThan(1e-5);
      expect(relErr(lt.s!, S)).toBeLessThan(1e-5);
      expect(lt.x).toBeUndefined();
    });
    await tm.release();
  });
});
