// A CPU engine and a WebGPU engine (Dawn's software adapter here) with the same model loaded on each, made before a
// test file's tests and released after them.
import { beforeAll, afterAll } from 'vitest';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { withWatchdog } from '../../src/gpu/watchdog.ts';

export interface CpuAndGpu {
  cpu: Engine;
  gpu: Engine;
  model: LoadedModel;
  gpuModel: LoadedModel;
}

/** Registers beforeAll/afterAll; the returned object is filled in before the tests run (then `setup` runs). */
export function cpuAndGpuEngines(modelBytes: Uint8Array, setup?: (e: CpuAndGpu) => Promise<void>): CpuAndGpu {
  const e = {} as CpuAndGpu;
  beforeAll(async () => {
    e.cpu = await createEngine({ backend: 'cpu' });
    e.gpu = await withWatchdog('create a WebGPU engine', 60_000, createEngine({ backend: 'webgpu', ep: 'wasm' }));
    e.model = await e.cpu.loadModel(modelBytes, { source: 'fixture' });
    e.gpuModel = await e.gpu.loadModel(modelBytes, { source: 'fixture' });
    await setup?.(e);
  }, 120_000);
  afterAll(async () => {
    await e.model?.release();
    await e.gpuModel?.release();
    e.cpu?.dispose();
    e.gpu?.dispose();
  });
  return e;
}
