// Sharing one GPUDevice between onnxruntime-web's WebGPU EP and our kernels (zero-copy taps). The only way that
// works (DESIGN.md): pass the device per session, executionProviders: [{ name: 'webgpu', device }], with
// preferredOutputLocation 'gpu-buffer'; then output.gpuBuffer feeds our kernels (asGpuTensor) and our buffers feed
// ORT through ort.Tensor.fromGpuBuffer. Node needs two shims, installed by prepareNodeForOrtWebGpu().
import type { GpuContext } from './device.ts';
import { GpuTensor, numel } from './tensor.ts';
import { jsRuntime, SWIFTSHADER_ICDS } from './runtime.ts';

/** EP config that makes an ORT session run on our device. */
export function webGpuEp(ctx: GpuContext): { name: 'webgpu'; device: GPUDevice } {
  return { name: 'webgpu', device: ctx.device };
}

/** Wraps a GPU buffer produced by ORT (tensor.gpuBuffer) as a GpuTensor; the buffer stays ORT's (not owned). */
export function asGpuTensor(ctx: GpuContext, buffer: GPUBuffer, dims: readonly number[]): GpuTensor {
  if (buffer.size < numel(dims) * 4) throw new Error(`asGpuTensor: buffer of ${buffer.size} bytes is smaller than [${dims.join(', ')}] f32`);
  return new GpuTensor(ctx, buffer, dims, 'f32', false);
}

/**
 * Node only (no-op elsewhere): ORT's WebGPU EP refuses to start without navigator.gpu, and dawn.node rejects
 * writeBuffer from SharedArrayBuffer views (ORT's threaded wasm heap). Installs the `webgpu` package's globals and a
 * navigator.gpu (keeping the SwiftShader ICD selected when no GPU driver is configured), and patches the device's
 * queue.writeBuffer to copy shared views. Returns an undo function for the navigator (the process can then exit).
 */
export async function prepareNodeForOrtWebGpu(device: GPUDevice): Promise<() => void> {
  if (jsRuntime() !== 'node') return () => {};
  patchSharedWrites(device);
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return () => {};
  const spec = 'webgpu';
  const mod = (await import(/* @vite-ignore */ spec)) as { create(f: string[]): GPU; globals: object };
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process!;
  if (!proc.env.VK_ICD_FILENAMES) {
    const fsSpec = 'node:fs';
    const { existsSync } = (await import(/* @vite-ignore */ fsSpec)) as typeof import('node:fs');
    const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
    // ORT requests its (unused) adapter lazily from this GPU object: the ICD must stay selected
    if (icd) proc.env.VK_ICD_FILENAMES = icd;
  }
  Object.assign(globalThis, mod.globals);
  const prev = g.navigator;
  Object.defineProperty(globalThis, 'navigator', { value: { ...(prev ?? {}), gpu: mod.create([]) }, configurable: true, writable: true });
  return () => Object.defineProperty(globalThis, 'navigator', { value: prev, configurable: true, writable: true });
}

function patchSharedWrites(device: GPUDevice): void {
  const q = device.queue as GPUQueue & { __lograSabShim?: boolean };
  if (q.__lograSabShim || typeof SharedArrayBuffer === 'undefined') return;
  const orig = q.writeBuffer.bind(q);
  (q as unknown as { writeBuffer: unknown }).writeBuffer = (buf: GPUBuffer, off: number, data: BufferSource, dOff = 0, size?: number) => {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      const bpe = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      const len = size !== undefined ? size * bpe : data.byteLength - dOff * bpe;
      const copy = new Uint8Array(len);
      copy.set(new Uint8Array(data.buffer, data.byteOffset + dOff * bpe, len));
      return orig(buf, off, copy);
    }
    return orig(buf, off, data as ArrayBuffer, dOff, size);
  };
  q.__lograSabShim = true;
}
