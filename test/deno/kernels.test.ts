// Oracle tests of every WGSL kernel under Deno's WebGPU (wgpu on Mesa: lavapipe Vulkan, which has shader-f16, or
// llvmpipe GL), the same cases as the Node and Chromium runners (test/kernels/suite.ts), each with a watchdog.
// Run: node scripts/deno.js test --allow-read --allow-env test/deno/kernels.test.ts   (or npm run test:deno)
import { GpuContext } from '../../src/gpu/device.ts';
import { withWatchdog } from '../../src/gpu/watchdog.ts';
import { cases, failures, formatMetrics } from '../kernels/suite.ts';
import { backendCases } from '../kernels/backend-suite.ts';
import { createBackend, type KernelBackend } from '../../src/kernels/backend.ts';

const CASE_MS = 90_000;

let ctx: GpuContext | null = null;
let why = '';
try {
  ctx = await withWatchdog('acquire WebGPU', 30_000, GpuContext.acquire());
  console.log(`adapter: ${JSON.stringify(ctx.adapter)} shader-f16: ${ctx.f16} backend: ${Deno.env.get('DENO_WEBGPU_BACKEND') || 'default'}`);
} catch (e) {
  why = (e as Error).message;
  console.warn(`no WebGPU in Deno: ${why}`);
}

Deno.test('kernels: a WebGPU adapter exists', () => {
  if (!ctx) throw new Error(`no WebGPU adapter: ${why}`);
});

for (const c of cases) {
  Deno.test({
    name: `kernels: ${c.name}`,
    ignore: !ctx,
    // the device keeps resources across cases: no per-test resource sanitizing
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const m = await withWatchdog(c.name, CASE_MS, c.run(ctx!));
      console.log(`  ${formatMetrics(m)}`);
      const f = failures(m);
      if (f.length) throw new Error(`bounds exceeded:\n  ${f.join('\n  ')}`);
    },
  });
}

// the KernelBackend interface: CPU (onnxruntime-web wasm + float64 TS) and WebGPU
for (const kind of ['cpu', 'webgpu'] as const) {
  let be: KernelBackend | undefined;
  for (const c of backendCases) {
    Deno.test({
      name: `kernels: ${kind} backend: ${c.name}`,
      ignore: kind === 'webgpu' && !ctx,
      sanitizeResources: false,
      sanitizeOps: false,
      async fn() {
        be ??= await withWatchdog(`create ${kind} backend`, 60_000, createBackend({ backend: kind, eigh: 'gpu' }));
        const m = await withWatchdog(c.name, CASE_MS, c.run(be));
        console.log(`  ${formatMetrics(m)}`);
        const f = failures(m);
        if (f.length) throw new Error(`bounds exceeded:\n  ${f.join('\n  ')}`);
        if (c === backendCases[backendCases.length - 1]) be.dispose();
      },
    });
  }
}

Deno.test({
  name: 'kernels: release the device',
  ignore: !ctx,
  sanitizeResources: false,
  sanitizeOps: false,
  fn() {
    ctx!.destroy();
  },
});
