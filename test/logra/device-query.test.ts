// The WebGPU product path of a query (Dawn's software adapter here; the same code runs on a hardware one): an index
// logged on the CPU, opened with a WebGPU engine, scored on the device with row blocks resident there (f16 rows
// unpacked by the scoring shader) and a running top-k read back once; top items and their values equal the CPU
// backend's full-matrix path in every mode, per-layer scores of the top items too; a small device budget streams.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { MemoryStore } from '../../src/store/memory.ts';
import type { QueryResult, ScoreMode } from '../../src/logra/types.ts';
import { randomSequences } from '../support/data.ts';
import { cpuAndGpuEngines } from '../support/engines.ts';

const fx = new URL('../fixtures/gpt2_linear_erf_op17_mask_pos_tied/', import.meta.url);
const modelBytes = new Uint8Array(readFileSync(new URL('model.onnx', fx)));

const e = cpuAndGpuEngines(modelBytes);
const data = randomSequences(40, 5);
const queries = randomSequences(3, 77, 'q');

function expectSameTop(a: QueryResult, b: QueryResult, tol: number): void {
  expect(a.top.length).toBe(b.top.length);
  a.top.forEach((items, j) => {
    expect(items.map((t) => t.id)).toEqual(b.top[j].map((t) => t.id));
    items.forEach((t, i) => {
      const want = b.top[j][i];
      expect(Math.abs(t.score - want.score)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want.score)));
      if (want.layers) t.layers!.forEach((v, l) => expect(Math.abs(v - want.layers![l])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want.layers![l]))));
    });
  });
}

describe('queries on the WebGPU backend', () => {
  for (const dtype of ['f16', 'f32', 'int8'] as const) {
    it(`${dtype} chunks: device top-k equals the CPU backend's full-matrix top-k in dot, cosine and l2, with per-layer scores`, async () => {
      const store = new MemoryStore(`device-${dtype}`);
      // EKFAC (an eigen form on every layer) and chunks of a few rows: the device path scores chunk by chunk
      const logged = await e.cpu.log(e.model, data, { store, kIn: 6, kOut: 5, hessian: 'ekfac', dtype, batchSize: 8, flushMs: 1e9, chunkBytes: 4096 });
      expect(logged.manifest.chunks.length).toBeGreaterThan(2);
      await logged.fit();
      const onCpu = await e.cpu.openIndex(store, e.model);
      const onGpu = await e.gpu.openIndex(store, e.gpuModel);
      // two chunks per block (as stored on the device: int8 widens to f32 there): several blocks, one dispatch each
      onGpu.deviceBlockBytes = 2 * logged.manifest.chunks[0].rows * logged.manifest.cols * (dtype === 'f16' ? 2 : 4);
      for (const mode of ['dot', 'cosine', 'l2'] as ScoreMode[]) {
        const want = await onCpu.query(queries, { topK: 7, mode, perLayer: true, scores: true });
        const got = await onGpu.query(queries, { topK: 7, mode, perLayer: true, scores: false });
        expect(got.scores).toBeUndefined();
        expectSameTop(got, want, 2e-4);
      }
      // every block was uploaded once and stayed resident across the three modes
      const blocks = onGpu.device!.uploads;
      expect(blocks).toBeGreaterThan(1);
      expect(blocks).toBeLessThan(logged.manifest.chunks.length);
      expect(onGpu.device!.size).toBeGreaterThan(0);
    });
  }

  it('beyond the device budget chunks stream through (uploaded per query) with the same results', async () => {
    const store = new MemoryStore('device-stream');
    const logged = await e.cpu.log(e.model, data, { store, kIn: 6, kOut: 5, hessian: 'kfac', batchSize: 8, flushMs: 1e9, chunkBytes: 4096 });
    await logged.fit();
    const onCpu = await e.cpu.openIndex(store, e.model);
    const onGpu = await e.gpu.openIndex(store, e.gpuModel);
    onGpu.deviceBytes = 1; // nothing fits
    const want = await onCpu.query(queries, { topK: 5, mode: 'cosine', scores: true });
    const a = await onGpu.query(queries, { topK: 5, mode: 'cosine', scores: false });
    const b = await onGpu.query(queries, { topK: 5, mode: 'cosine', scores: false });
    expectSameTop(a, want, 2e-4);
    expectSameTop(b, want, 2e-4);
    expect(onGpu.device!.size).toBe(0);
    expect(onGpu.device!.uploads).toBe(2); // one block, streamed twice
  });
});
