// Every fixture in test/fixtures through TapModel under Deno: ORT's wasm EP always, and ORT's WebGPU EP
// (`onnxruntime-web/webgpu` on Deno's navigator.gpu: lavapipe Vulkan or GL llvmpipe here) when an adapter exists.
// Run with `npm run test:deno` (scripts/deno.js sets XDG_RUNTIME_DIR, which Deno's WebGPU needs).
import { checkFixture, failures, summary, REL_TOL, type FixtureResult } from '../support/fixture-check.ts';
import type { ExecutionProvider } from '../../src/runtime/ort.ts';

const fixturesDir = new URL('../fixtures/', import.meta.url);
/**
 * Per test: building the backward graph + one session + one batch takes < 5 s here (lavapipe, cold shader cache);
 * a hang must fail, not stall. Note: on the GL backend (DENO_WEBGPU_BACKEND=gl) with an empty Mesa shader cache
 * (~/.cache/mesa_shader_cache) the first WebGPU session of mlp_classifier compiles for ~95 s and trips this.
 */
const WATCHDOG_MS = 60_000;

const fixtures: string[] = [];
for await (const e of Deno.readDir(fixturesDir)) {
  if (e.isDirectory) fixtures.push(e.name);
}
fixtures.sort();
if (fixtures.length === 0) throw new Error(`no fixtures under ${fixturesDir.pathname}`);

async function gpuAdapter(): Promise<string | null> {
  try {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return null;
    const backend = Deno.env.get('DENO_WEBGPU_BACKEND') || 'default backend';
    return `${a.info.description || a.info.vendor} (${backend}; fallback: ${a.info.isFallbackAdapter}; shader-f16: ${a.features.has('shader-f16')})`;
  } catch {
    return null;
  }
}
const adapter = await gpuAdapter();

async function withWatchdog<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms (watchdog)`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function run(name: string, ep: ExecutionProvider): Promise<FixtureResult> {
  const dir = new URL(`${name}/`, fixturesDir);
  const [model, data, ref] = await Promise.all([
    Deno.readFile(new URL('model.onnx', dir)),
    Deno.readTextFile(new URL('data.jsonl', dir)),
    Deno.readFile(new URL('ref.safetensors', dir)),
  ]);
  return await withWatchdog(`${name} [${ep}]`, WATCHDOG_MS, checkFixture({ name, model, data, ref }, ep));
}

const eps: ExecutionProvider[] = ['wasm', 'webgpu'];
for (const ep of eps) {
  for (const name of fixtures) {
    Deno.test({
      name: `${name} [${ep}]: loss, x, dy and per-example weight grads match torch to ${REL_TOL}`,
      ignore: ep === 'webgpu' && !adapter,
      // ORT keeps its wasm module, worker threads and GPU device alive between sessions by design
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const res = await run(name, ep);
        console.log(summary(res));
        const bad = failures(res);
        if (bad.length) throw new Error(`${name} [${ep}] exceeds ${REL_TOL}:\n  ${bad.join('\n  ')}`);
      },
    });
  }
}

if (!adapter) console.warn('Deno: navigator.gpu has no adapter here; the webgpu cases are ignored');
else console.log(`Deno WebGPU adapter: ${adapter}`);
