// Browser page for the WGSL kernel oracle cases (test/kernels/suite.ts) on Chromium's WebGPU: exposes
// window.kernelTests for test/e2e/kernels.spec.ts. Results are plain JSON (metrics with their bounds).
import { GpuContext } from '../../../src/gpu/device.ts';
import { cases, type Metrics } from '../../kernels/suite.ts';
import { backendCases } from '../../kernels/backend-suite.ts';
import { createBackend, type KernelBackend } from '../../../src/kernels/backend.ts';

export interface KernelTests {
  /** adapter summary, or the reason there is no WebGPU */
  init(): Promise<{ ok: boolean; adapter?: unknown; f16?: boolean; error?: string }>;
  names(): string[];
  run(name: string): Promise<Metrics>;
  backendNames(): string[];
  /** a KernelBackend case on the 'cpu' (onnxruntime-web wasm) or 'webgpu' backend */
  runBackend(kind: 'cpu' | 'webgpu', name: string): Promise<Metrics>;
  backendDescription(kind: 'cpu' | 'webgpu'): Promise<string>;
}

declare global {
  interface Window {
    kernelTests?: KernelTests;
  }
}

const log = document.getElementById('log')!;
let ctx: GpuContext | null = null;
const backends = new Map<string, Promise<KernelBackend>>();
const backend = (kind: 'cpu' | 'webgpu') => {
  let b = backends.get(kind);
  if (!b) backends.set(kind, (b = createBackend({ backend: kind, eigh: 'gpu' })));
  return b;
};

const api: KernelTests = {
  async init() {
    try {
      ctx ??= await GpuContext.acquire();
      return { ok: true, adapter: ctx.adapter, f16: ctx.f16 };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  },
  names: () => cases.map((c) => c.name),
  async run(name) {
    const c = cases.find((x) => x.name === name);
    if (!c) throw new Error(`no case ${JSON.stringify(name)}`);
    if (!ctx) throw new Error('init() first');
    const m = await c.run(ctx);
    log.textContent += `${name}: ok\n`;
    return m;
  },
  backendNames: () => backendCases.map((c) => c.name),
  async runBackend(kind, name) {
    const c = backendCases.find((x) => x.name === name);
    if (!c) throw new Error(`no backend case ${JSON.stringify(name)}`);
    return c.run(await backend(kind));
  },
  async backendDescription(kind) {
    return (await backend(kind)).description;
  },
};

window.kernelTests = api;
log.textContent = 'ready\n';
