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

/**
 * Node: Dawn through the npm package `webgpu`. When no adapter shows up and VK_ICD_FILENAMES is unset (no GPU, and
 * Dawn rejects Mesa's lavapipe), retries once with Chromium's SwiftShader ICD if it is installed, then restores the
 * environment. Imported with a computed specifier so that bundlers (Vite) never try to resolve it for the browser.
 */
export async function nodeGpu(flags: string[] = []): Promise<{ gpu: GPU; adapter: GPUAdapter | null; icd?: string }> {
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
