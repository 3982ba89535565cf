// The KernelBackend interface on both implementations (CPU: onnxruntime-web wasm graphs + float64 TS; WebGPU: our
// WGSL kernels on Dawn) against the float64 references, and backend selection.
import { describe, it, expect, afterAll } from 'vitest';
import { createBackend, type KernelBackend } from '../../src/kernels/backend.ts';
import { withWatchdog } from '../../src/gpu/watchdog.ts';
import { GpuUnavailableError } from '../../src/gpu/errors.ts';
import { backendCases } from './backend-suite.ts';
import { failures, formatMetrics } from './suite.ts';

const made: KernelBackend[] = [];
afterAll(() => made.forEach((b) => b.dispose()));

async function make(kind: 'cpu' | 'webgpu'): Promise<KernelBackend> {
  const b = await withWatchdog(`create ${kind} backend`, 60_000, createBackend({ backend: kind, eigh: 'gpu' }));
  made.push(b);
  return b;
}

describe('backend selection', () => {
  it("'auto' falls back to the CPU when no adapter is found; 'webgpu' then throws GpuUnavailableError", async () => {
    const gpu = { nodeFlags: ['adapter=no-such-adapter'] };
    const auto = await createBackend({ backend: 'auto', gpu });
    made.push(auto);
    expect(auto.kind).toBe('cpu');
    await expect(createBackend({ backend: 'webgpu', gpu })).rejects.toThrow(GpuUnavailableError);
  });
  it("'auto' picks WebGPU where an adapter exists; 'cpu' forces the CPU", async () => {
    const auto = await createBackend();
    made.push(auto);
    expect(auto.kind).toBe('webgpu');
    const cpu = await make('cpu');
    expect(cpu.kind).toBe('cpu');
    expect(cpu.description).toMatch(/onnxruntime-web wasm/);
  });
});

for (const kind of ['cpu', 'webgpu'] as const) {
  describe(`${kind} backend vs float64 references`, () => {
    let be: KernelBackend | undefined;
    for (const c of backendCases) {
      it(c.name, async () => {
        be ??= await make(kind);
        const m = await withWatchdog(c.name, 60_000, c.run(be));
        console.log(`[${kind}] ${c.name}\n  ${formatMetrics(m)}`);
        expect(failures(m)).toEqual([]);
      }, 70_000);
    }
    it('rejects tensors of the other backend', async () => {
      be ??= await make(kind);
      const other = await make(kind === 'cpu' ? 'webgpu' : 'cpu');
      await expect(be.read(other.zeros([2]))).rejects.toThrow(/not a/);
    });
  });
}
