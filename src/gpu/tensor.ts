// GpuTensor: a dense row-major array in a GPU buffer. dtype 'f16' is IEEE half precision packed two per u32
// (little-endian: element 2i in the low 16 bits), the same bytes as a store chunk's f16 payload; kernels read it
// with unpack2x16float, so it works on devices without 'shader-f16'.
import type { GpuContext } from './device.ts';
import { halfBitsToFloat } from '../kernels/reference/f16.ts';

export type GpuDtype = 'f32' | 'f16';

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`bad dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function bytesOf(size: number, dtype: GpuDtype): number {
  return dtype === 'f32' ? size * 4 : Math.ceil(size / 2) * 4;
}

export class GpuTensor {
  readonly size: number;
  private disposed = false;

  constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: GpuDtype = 'f32',
    /** whether dispose() gives the buffer back to the pool */
    private readonly owned = true,
  ) {
    this.size = numel(shape);
    if (bytesOf(this.size, dtype) > buffer.size) throw new Error(`buffer of ${buffer.size} bytes is too small for [${shape.join(', ')}] ${dtype}`);
  }

  get byteLength(): number {
    return bytesOf(this.size, this.dtype);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Host copy as float32 (f16 tensors are widened). */
  async read(): Promise<Float32Array> {
    if (this.disposed) throw new Error('read() of a disposed GpuTensor');
    if (this.size === 0) return new Float32Array(0);
    if (this.dtype === 'f32') return this.ctx.readF32(this.buffer, 0, this.size);
    const words = await this.ctx.readU32(this.buffer, 0, Math.ceil(this.size / 2));
    const half = new Uint16Array(words.buffer, 0, this.size);
    const out = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = halfBitsToFloat(half[i]);
    return out;
  }

  /** Same buffer, another shape with the same element count (no copy). The view does not own the buffer. */
  reshape(shape: readonly number[]): GpuTensor {
    if (numel(shape) !== this.size) throw new Error(`reshape [${this.shape.join(', ')}] -> [${shape.join(', ')}]: sizes differ`);
    return new GpuTensor(this.ctx, this.buffer, shape, this.dtype, false);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.owned) this.ctx.release(this.buffer);
  }
}

export function fromHost(ctx: GpuContext, data: Float32Array, shape: readonly number[] = [data.length]): GpuTensor {
  if (numel(shape) !== data.length) throw new Error(`fromHost: ${data.length} values for shape [${shape.join(', ')}]`);
  return new GpuTensor(ctx, ctx.upload(data, 'tensor'), shape, 'f32');
}

/** Uploads IEEE half bit patterns (e.g. a store chunk's f16 payload) as an 'f16' tensor. */
export function fromHalfBits(ctx: GpuContext, bits: Uint16Array, shape: readonly number[] = [bits.length]): GpuTensor {
  if (numel(shape) !== bits.length) throw new Error(`fromHalfBits: ${bits.length} values for shape [${shape.join(', ')}]`);
  return new GpuTensor(ctx, ctx.upload(bits, 'tensor-f16'), shape, 'f16');
}

/** An uninitialised tensor (contents undefined). */
export function empty(ctx: GpuContext, shape: readonly number[], dtype: GpuDtype = 'f32'): GpuTensor {
  const n = numel(shape);
  return new GpuTensor(ctx, ctx.alloc(bytesOf(n, dtype), 'tensor'), shape, dtype);
}

export function zeros(ctx: GpuContext, shape: readonly number[], dtype: GpuDtype = 'f32'): GpuTensor {
  const t = empty(ctx, shape, dtype);
  ctx.clear(t.buffer, 0, t.buffer.size);
  return t;
}
