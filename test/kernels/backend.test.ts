// The KernelBackend interface on both implementations (CPU: onnxruntime-web wasm graphs + float64 TS; WebGPU: our
// WGSL kernels on Dawn) against the float64 references, and backend selection.
import { describe, it, expect, afterAll } from 'vitest';
import { createBackend, type KernelBackend } from '../../src/kernels/backend.ts';
import { withWatchdog } from '../../src/gpu/watchdog.ts';
import { GpuUnavailableError } from '../../src/gpu/errors.ts';
import { rng, randSpd, eighErrors } from './oracle.ts';
import { backendCases } from './backend-suite.ts';
import { failures, formatMetrics } from './suite.ts';

const made: KernelBackend[] = [];
afterAll(() => made.forEach((b) => b.dispose()));

async function make(kind: 'cpu' | 'cpu-wasm' | 'webgpu'): Promise<KernelBackend> {
  const opts = kind === 'cpu-wasm' ? { backend: 'cpu' as const, cpuRuntime: 'wasm' as const } : { backend: kind, eigh: 'gpu' as const };
  const b = await withWatchdog(`create ${kind} backend`, 60_000, createBackend(opts));
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
  it("'auto' picks WebGPU where an adapter exists (a software one only with softwareAdapter: 'gpu'); 'cpu' forces the CPU", async () => {
    const gpuAuto = await createBackend({ softwareAdapter: 'gpu' });
    made.push(gpuAuto);
    expect(gpuAuto.kind).toBe('webgpu');
    const auto = await createBackend();
    made.push(auto);
    const software = gpuAuto.description.includes('software fallback');
    expect(auto.kind).toBe(software ? 'cpu' : 'webgpu');
    const cpu = await make('cpu');
    expect(cpu.kind).toBe('cpu');
    // Node with onnxruntime-node installed (a devDependency here): its GEMMs run natively; cpuRuntime: 'wasm' forces wasm
    expect(cpu.description).toMatch(/onnxruntime-node \(native/);
    const wasm = await createBackend({ backend: 'cpu', cpuRuntime: 'wasm' });
    made.push(wasm);
    expect(wasm.description).toMatch(/onnxruntime-web wasm/);
  });
});

// cpu: GEMMs on the native onnxruntime (onnxruntime-node); cpu-wasm: on onnxruntime-web's wasm (what pages and Deno
// without --allow-ffi run)
for (const kind of ['cpu', 'cpu-wasm', 'webgpu'] as const) {
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
      const other = await make(kind === 'webgpu' ? 'cpu' : 'webgpu');
      await expect(be.read(other.zeros([2]))).rejects.toThrow(/not a/);
    });
  });
}

describe("WebGPU backend eigh placements ('gpu' Jacobi, 'hybrid', 'host')", () => {
  for (const eigh of ['gpu', 'hybrid', 'host'] as const) {
    it(`${eigh}: residual and orthogonality <= 1e-4 on SPD cond 1e6`, async () => {
      const be = await withWatchdog(`create webgpu backend (${eigh})`, 60_000, createBackend({ backend: 'webgpu', eigh }));
      made.push(be);
      const n = 37;
      const { a32, a64 } = randSpd(rng(90), n, 1e6);
      const r = await withWatchdog(`eigh ${eigh}`, 60_000, be.eigh(be.tensor(a32, [n, n])));
      const e = eighErrors(a64, n, r.values, await be.read(r.vectors));
      console.log(`[webgpu eigh=${eigh}] residual=${e.residual.toExponential(2)} orthogonality=${e.orthogonality.toExponential(2)}`);
      expect(e.residual).toBeLessThanOrEqual(1e-4);
      expect(e.orthogonality).toBeLessThanOrEqual(1e-4);
    }, 70_000);
  }
});
