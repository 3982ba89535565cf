// Shader composition and the compute-pipeline cache.
//
// A kernel's WGSL file (shaders/<name>.wgsl) is specialised by a header the TS wrapper prepends: `enable f16;`
// when asked, `alias` declarations (storage element types) and `const` declarations (transposes, tile switches,
// private array sizes). Library files (functions only, e.g. the RNG) are concatenated in between. Module-scope
// declarations in WGSL are order-independent, so the header may define what the kernel body uses.
import { WGSL, type ShaderName } from '../kernels/wgsl.gen.ts';
import { GpuValidationError } from './errors.ts';

export type ShaderConst = number | boolean | string;

export interface ShaderSpec {
  shader: ShaderName;
  /** library files prepended (functions and structs only) */
  libs?: ShaderName[];
  /** `const NAME = value;` lines: numbers print as abstract ints/floats, booleans as true/false, strings verbatim */
  consts?: Record<string, ShaderConst>;
  /** `alias NAME = type;` lines */
  aliases?: Record<string, string>;
  /** prepend `enable f16;` (the device must have 'shader-f16') */
  f16?: boolean;
  entryPoint?: string;
}

function constText(v: ShaderConst): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`shader constant ${v} is not finite`);
    return Number.isInteger(v) ? String(v) : v.toExponential(); // abstract int / abstract float
  }
  return v;
}

export function composeShader(spec: ShaderSpec): string {
  const head: string[] = [];
  if (spec.f16) head.push('enable f16;');
  for (const [k, v] of Object.entries(spec.aliases ?? {})) head.push(`alias ${k} = ${v};`);
  for (const [k, v] of Object.entries(spec.consts ?? {})) head.push(`const ${k} = ${constText(v)};`);
  const parts = [head.join('\n'), ...(spec.libs ?? []).map((l) => WGSL[l]), WGSL[spec.shader]];
  return parts.join('\n');
}

export function specKey(spec: ShaderSpec): string {
  return JSON.stringify([spec.shader, spec.libs ?? [], spec.consts ?? {}, spec.aliases ?? {}, !!spec.f16, spec.entryPoint ?? 'main']);
}

export class PipelineCache {
  private cache = new Map<string, Promise<GPUComputePipeline>>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.cache.size;
  }

  /** The compute pipeline for a spec (layout 'auto'); compile errors reject with GpuValidationError naming the shader. */
  get(spec: ShaderSpec): Promise<GPUComputePipeline> {
    const key = specKey(spec);
    let p = this.cache.get(key);
    if (!p) {
      p = this.build(spec);
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  private async build(spec: ShaderSpec): Promise<GPUComputePipeline> {
    const code = composeShader(spec);
    const label = `${spec.shader}${spec.f16 ? '/f16' : ''}`;
    const module = this.device.createShaderModule({ code, label });
    try {
      return await this.device.createComputePipelineAsync({ layout: 'auto', label, compute: { module, entryPoint: spec.entryPoint ?? 'main' } });
    } catch (e) {
      let detail = (e as Error).message;
      try {
        const info = await module.getCompilationInfo();
        const errs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
        if (errs.length) detail = `${errs.join('; ')} (${detail})`;
      } catch {
        /* getCompilationInfo is optional */
      }
      throw new GpuValidationError('validation', `pipeline creation failed: ${detail}`, label);
    }
  }
}
