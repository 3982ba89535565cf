// Gaussian projection matrices generated on the GPU (shaders/rng_normal.wgsl + rng_lib.wgsl), bit-identical to
// normalMatrix() in reference/rng.ts: the matrix of (seed, layer, role, shape) never needs storing.
import type { GpuContext } from '../gpu/device.ts';
import { GpuTensor, empty } from '../gpu/tensor.ts';
import { ShapeError } from '../gpu/errors.ts';
import { deriveKey, NORMAL_SCALE, type ProjectionSpec } from './reference/rng.ts';
import { ceilDiv, uniformBlock, window } from './util.ts';

const f32bits = (v: number): number => new Uint32Array(Float32Array.of(v).buffer)[0];

export async function randomNormal(ctx: GpuContext, spec: ProjectionSpec, out?: GpuTensor): Promise<GpuTensor> {
  const { rows, cols } = spec;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) throw new ShapeError('randomNormal', `bad shape ${rows} x ${cols}`);
  if (out && (out.size !== rows * cols || out.dtype !== 'f32')) throw new ShapeError('randomNormal', `out has shape [${out.shape.join(', ')}], expected ${rows} x ${cols} f32`);
  const [k0, k1] = deriveKey(spec);
  const t = out ?? empty(ctx, [rows, cols]);
  if (rows * cols === 0) return t;
  const pipe = await ctx.pipeline({ shader: 'rng_normal', libs: ['rng_lib'] });
  const maxWg = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (ceilDiv(cols, 64) > maxWg) throw new ShapeError('randomNormal', `${cols} columns exceed ${maxWg * 64}`);
  const cap = ctx.limits.maxStorageBufferBindingSize - ctx.limits.minStorageBufferOffsetAlignment;
  const rowsPer = Math.max(1, Math.min(maxWg, Math.floor(cap / (cols * 4))));
  if (cols * 4 > cap) ctx.checkBinding(cols * 4, 'randomNormal: one row');
  const scale = Math.fround(spec.scale ?? 1);
  for (let r0 = 0; r0 < rows; r0 += rowsPer) {
    const n = Math.min(rowsPer, rows - r0);
    const w = window(ctx, t.buffer, r0 * cols, (r0 + n) * cols);
    const u = uniformBlock([k0, k1, n, cols, r0, f32bits(NORMAL_SCALE), f32bits(scale), w.elemOffset]);
    ctx.dispatch(pipe, [w.binding], [ceilDiv(cols, 64), n], u, 'rng_normal');
  }
  return t;
}
