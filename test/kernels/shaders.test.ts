// shaders/*.wgsl and the generated src/kernels/wgsl.gen.ts must agree (run `npx tsx scripts/gen-shaders.ts`).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { GENERATED, readShaders, renderShaderModule } from '../../scripts/gen-shaders.ts';
import { WGSL } from '../../src/kernels/wgsl.gen.ts';
import { composeShader } from '../../src/gpu/pipelines.ts';

describe('WGSL sources', () => {
  it('src/kernels/wgsl.gen.ts is up to date with shaders/*.wgsl', () => {
    const want = renderShaderModule(readShaders());
    expect(readFileSync(GENERATED, 'utf8') === want, 'out of date: run npx tsx scripts/gen-shaders.ts').toBe(true);
  });
  it('every shader starts with a comment saying what it computes', () => {
    for (const [name, src] of Object.entries(WGSL)) expect(src.startsWith('// '), name).toBe(true);
  });
  it('specialisation headers come first (enable, alias, const) and libraries before the kernel', () => {
    const s = composeShader({ shader: 'dense_project', libs: ['rng_lib'], f16: true, aliases: { T: 'f32' }, consts: { A: true, B: 3, C: 0.5 } });
    expect(s.startsWith('enable f16;\nalias T = f32;\nconst A = true;\nconst B = 3;\nconst C = 5e-1;\n')).toBe(true);
    expect(s.indexOf('fn threefry2x32')).toBeLessThan(s.indexOf('fn main'));
  });
});
