// f32 <-> f16 conversion on the GPU (shaders/pack_f16.wgsl, unpack_f16.wgsl) for stored gradients. 'f16' tensors
// hold two IEEE halves per u32, the byte layout of store chunks, and need no 'shader-f16' feature.
// Reference: reference/f16.ts (round to nearest even). WGSL does not pin the rounding of pack2x16float for values
// between two halves; the oracle test checks equality with the reference and reports any 1-ulp difference.
import type { GpuContext } from '../gpu/device.ts';
import { GpuTensor, empty } from '../gpu/tensor.ts';
import { ShapeError } from '../gpu/errors.ts';
import { ceilDiv, uniformBlock, window } from './util.ts';

/** Work-item grid for n items at 64 per workgroup, split over x and y when x would exceed the limit. */
export function grid1d(ctx: GpuContext, items: number): [number, number] {
  const wg = ceilDiv(items, 64);
  const maxWg = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (wg <= maxWg) return [Math.max(wg, 1), 1];
  const y = ceilDiv(wg, maxWg);
  return [ceilDiv(wg, y), y];
}

async function convert(ctx: GpuContext, src: GpuTensor, to: 'f16' | 'f32'): Promise<GpuTensor> {
  const from = src.dtype;
  if (from === to) throw new ShapeError(to === 'f16' ? 'packF16' : 'unpackF16', `input is already ${to}`);
  const out = empty(ctx, src.shape, to);
  const n = src.size;
  if (n === 0) return out;
  const pipe = await ctx.pipeline({ shader: to === 'f16' ? 'pack_f16' : 'unpack_f16' });
  // chunks of an even number of elements whose windows fit a binding
  const cap = ctx.limits.maxStorageBufferBindingSize - ctx.limits.minStorageBufferOffsetAlignment;
  const per = Math.max(2, Math.floor(cap / 4 / 2) * 2); // f32 side is the larger: 4 bytes per element
  for (let e0 = 0; e0 < n; e0 += per) {
    const cnt = Math.min(per, n - e0);
    const f32w = window(ctx, to === 'f16' ? src.buffer : out.buffer, e0, e0 + cnt);
    const u32w = window(ctx, to === 'f16' ? out.buffer : src.buffer, e0 / 2, ceilDiv(e0 + cnt, 2));
    const [inW, outW] = to === 'f16' ? [f32w, u32w] : [u32w, f32w];
    ctx.dispatch(pipe, [inW.binding, outW.binding], grid1d(ctx, ceilDiv(cnt, 2)), uniformBlock([cnt, inW.elemOffset, outW.elemOffset, 0]), to === 'f16' ? 'pack_f16' : 'unpack_f16');
  }
  return out;
}

/** f32 tensor -> 'f16' tensor (same shape). */
export function packF16(ctx: GpuContext, src: GpuTensor): Promise<GpuTensor> {
  return convert(ctx, src, 'f16');
}

/** 'f16' tensor -> f32 tensor (same shape). */
export function unpackF16(ctx: GpuContext, src: GpuTensor): Promise<GpuTensor> {
  return convert(ctx, src, 'f32');
}
