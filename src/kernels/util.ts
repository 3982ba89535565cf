// Helpers shared by the kernel wrappers: uniform blocks, binding windows, shape checks.
import type { GpuContext } from '../gpu/device.ts';
import { ShapeError } from '../gpu/errors.ts';

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
export const roundUp = (a: number, b: number): number => Math.ceil(a / b) * b;

/** A uniform block of 32-bit fields: numbers are u32 unless listed in `floats` (then f32). */
export function uniformBlock(fields: number[], floats: ReadonlySet<number> = new Set()): ArrayBuffer {
  const n = roundUp(Math.max(fields.length, 4), 4);
  const buf = new ArrayBuffer(n * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  fields.forEach((v, i) => {
    if (floats.has(i)) f[i] = v;
    else {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`uniform field ${i} = ${v} is not a u32`);
      u[i] = v;
    }
  });
  return buf;
}

/** A bindable window over elements [start, end) of a buffer: offset aligned down to the device's alignment. */
export interface Window {
  binding: { buffer: GPUBuffer; offset: number; size: number };
  /** element offset of `start` inside the window */
  elemOffset: number;
  bytes: number;
}

export function window(ctx: GpuContext, buffer: GPUBuffer, start: number, end: number, elemBytes = 4): Window {
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  const startByte = Math.floor((start * elemBytes) / align) * align;
  let endByte = roundUp(Math.max(end, start + 1) * elemBytes, 16);
  endByte = Math.min(endByte, buffer.size);
  const size = roundUp(endByte - startByte, 4);
  if ((start * elemBytes - startByte) % elemBytes !== 0) throw new Error('window: misaligned element offset');
  return { binding: { buffer, offset: startByte, size: Math.min(size, buffer.size - startByte) }, elemOffset: (start * elemBytes - startByte) / elemBytes, bytes: size };
}

export function expectShape(kernel: string, what: string, shape: readonly number[], want: readonly (number | undefined)[]): void {
  const ok = shape.length === want.length && want.every((w, i) => w === undefined || w === shape[i]);
  if (!ok) throw new ShapeError(kernel, `${what} has shape [${shape.join(', ')}], expected [${want.map((w) => w ?? '?').join(', ')}]`);
}

export function expectRank(kernel: string, what: string, shape: readonly number[], ranks: number[]): void {
  if (!ranks.includes(shape.length)) throw new ShapeError(kernel, `${what} has rank ${shape.length} ([${shape.join(', ')}]), expected rank ${ranks.join(' or ')}`);
}
