// Which JavaScript runtime we are in, and how to reach WebGPU there.

export type JsRuntime = 'node' | 'deno' | 'browser';

export function jsRuntime(): JsRuntime {
  const g = globalThis as { Deno?: unknown; process?: { versions?: { node?: string } }; window?: unknown; document?: unknown };
  if (g.Deno) return 'deno';
  if (g.process?.versions?.node && typeof g.document === 'undefined') return 'node';
  return 'browser';
}

/** Chromium's SwiftShader Vulkan ICD: the one software Vulkan driver Dawn (Node's `webgpu`) accepts here. */
export const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];

interface NodeWebGpuModule {
  create(flags: string[]): GPU;
}

interface NodeProcess {
  env: Record<string, string | undefined>;
}

/** Vulkan drivers that are software rasterisers: lavapipe (Mesa) and SwiftShader. */
export const SOFTWARE_VULKAN_DRIVERS = ['*lvp_icd*', '*swiftshader*'];

export interface NodeGpuOptions {
  /**
   * Look for hardware adapters only. On Linux without any GPU device node (/dev/dri/renderD*, /dev/nvidia*,
   * /dev/dxg) Dawn is not loaded at all; otherwise the Vulkan loader skips the software drivers
   * (VK_LOADER_DRIVERS_DISABLE while the adapter is requested) and there is no SwiftShader retry. For callers that
   * would drop a software adapter anyway ('auto' backends): no device is made for nothing, and Dawn prints no
   * warnings about drivers it rejects (lavapipe: "Vulkan shaderUniform*ArrayDynamicIndexing required").
   */
  hardwareOnly?: boolean;
}

/** Linux: whether any GPU device node exists (DRM render nodes, NVIDIA's driver, WSL's /dev/dxg); undefined elsewhere. */
async function linuxGpuDeviceNode(): Promise<boolean | undefined> {
  const proc = (globalThis as { process?: { platform?: string } }).process;
  if (proc?.platform !== 'linux') return undefined;
  const fsSpec = 'node:fs';
  const { existsSync, readdirSync } = (await import(/* @vite-ignore */ fsSpec)) as typeof import('node:fs');
  let dri: string[] = [];
  try {
    dri = readdirSync('/dev/dri');
  } catch {
    /* no DRM devices */
  }
  return dri.some((f) => f.startsWith('renderD')) || ['/dev/nvidiactl', '/dev/nvidia0', '/dev/dxg'].some((p) => existsSync(p));
}

/**
 * Node: Dawn through the npm package `webgpu`. When no adapter shows up and VK_ICD_FILENAMES is unset (no GPU, and
 * Dawn rejects Mesa's lavapipe), retries once with Chromium's SwiftShader ICD if it is installed, then restores the
 * environment. Imported with a computed specifier so that bundlers (Vite) never try to resolve it for the browser.
 * With opts.hardwareOnly, software adapters are never looked for (see NodeGpuOptions).
 */
export async function nodeGpu(flags: string[] = [], opts: NodeGpuOptions = {}): Promise<{ gpu: GPU | null; adapter: GPUAdapter | null; icd?: string }> {
  // hardware only, and Linux shows no GPU device at all: Dawn is not even loaded
  if (opts.hardwareOnly && (await linuxGpuDeviceNode()) === false) return { gpu: null, adapter: null };
  const spec = 'webgpu';
  let mod: NodeWebGpuModule;
  try {
    mod = (await import(/* @vite-ignore */ spec)) as NodeWebGpuModule;
  } catch (e) {
    throw new Error(`Node has no WebGPU: the npm package "webgpu" could not be loaded (${(e as Error).message}); npm install webgpu`);
  }
  const proc0 = (globalThis as { process?: NodeProcess }).process;
  if (proc0 && !proc0.env.XDG_RUNTIME_DIR) {
    // Mesa's Vulkan loader prints "XDG_RUNTIME_DIR is invalid" on every adapter probe without one
    const osSpec = 'node:os', fsSpec0 = 'node:fs', pathSpec = 'node:path';
    const [{ tmpdir }, { mkdtempSync }, { join }] = await Promise.all([import(/* @vite-ignore */ osSpec), import(/* @vite-ignore */ fsSpec0), import(/* @vite-ignore */ pathSpec)]) as [typeof import('node:os'), typeof import('node:fs'), typeof import('node:path')];
    proc0.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'logra-xdg-'));
  }
  if (opts.hardwareOnly && proc0) {
    const before = proc0.env.VK_LOADER_DRIVERS_DISABLE;
    proc0.env.VK_LOADER_DRIVERS_DISABLE = [before, ...SOFTWARE_VULKAN_DRIVERS].filter(Boolean).join(',');
    try {
      const gpu = mod.create(flags);
      return { gpu, adapter: await gpu.requestAdapter({ powerPreference: 'high-performance' }) };
    } finally {
      if (before === undefined) delete proc0.env.VK_LOADER_DRIVERS_DISABLE;
      else proc0.env.VK_LOADER_DRIVERS_DISABLE = before;
    }
  }
  let gpu = mod.create(flags);
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter) return { gpu, adapter };
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (!proc || proc.env.VK_ICD_FILENAMES) return { gpu, adapter: null };
  const fsSpec = 'node:fs';
  const { existsSync } = (await import(/* @vite-ignore */ fsSpec)) as typeof import('node:fs');
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) return { gpu, adapter: null };
  proc.env.VK_ICD_FILENAMES = icd;
  try {
    gpu = mod.create(flags);
    adapter = await gpu.requestAdapter();
  } finally {
    delete proc.env.VK_ICD_FILENAMES;
  }
  return { gpu, adapter, icd };
}
