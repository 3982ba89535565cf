// Oracle tests of every WGSL kernel on Node's WebGPU (npm `webgpu`, Dawn on SwiftShader here), against the float64
// TypeScript references. The same cases run in Deno (test/deno/kernels.test.ts) and Chromium
// (test/e2e/kernels.spec.ts). Each case has a watchdog: a hung shader fails the case instead of stalling the run.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { GpuContext } from '../../src/gpu/device.ts';
import { withWatchdog } from '../../src/gpu/watchdog.ts';
import { cases, failures, formatMetrics } from './suite.ts';

const CASE_MS = 90_000;
let ctx: GpuContext | null = null;
let why = '';

beforeAll(async () => {
  try {
    ctx = await withWatchdog('acquire WebGPU', 30_000, GpuContext.acquire());
  } catch (e) {
    why = (e as Error).message;
  }
});

afterAll(() => ctx?.destroy());

describe('WGSL kernels vs float64 references (Node, Dawn)', () => {
  it('has a WebGPU adapter', () => {
    if (!ctx) console.warn(`no WebGPU in Node: ${why}`);
    else console.log(`adapter: ${JSON.stringify(ctx.adapter)} shader-f16: ${ctx.f16}`);
    expect(ctx, why).not.toBeNull();
  });
  for (const c of cases) {
    it(c.name, async () => {
      if (!ctx) return;
      const m = await withWatchdog(c.name, CASE_MS, c.run(ctx));
      console.log(`${c.name}\n  ${formatMetrics(m)}`);
      expect(failures(m)).toEqual([]);
    }, CASE_MS + 5_000);
  }
});
