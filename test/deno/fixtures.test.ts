// Every fixture in test/fixtures through TapModel under Deno: ORT's wasm EP always, and ORT's WebGPU EP
// (`onnxruntime-web/webgpu` on Deno's navigator.gpu: lavapipe Vulkan or GL llvmpipe here) when an adapter exists.
// Run with `npm run test:deno` (scripts/deno.js sets XDG_RUNTIME_DIR, which Deno's WebGPU needs).
import { checkFixture, failures, summary, REL_TOL, type FixtureResult } from '../support/fixture-check.ts';
import { checkName, checksOf, loadCheck, type FixtureCheckSpec } from '../support/fixtures.ts';
import type { ExecutionProvider } from '../../src/runtime/ort.ts';

const fixturesDir = new URL('../fixtures/', import.meta.url);
/**
 * Per test: building the backward graph + one session + one batch takes < 5 s here (lavapipe, cold shader cache);
 * a hang must fail, not stall. Note: on the GL backend (DENO_WEBGPU_BACKEND=gl) with an empty Mesa shader cache
 * (~/.cache/mesa_shader_cache) the first WebGPU session of mlp_classifier compiles for ~95 s and trips this.
 */
const WATCHDOG_MS = 60_000;

const dirs: string[] = [];
for await (const e of Deno.readDir(fixturesDir)) {
  if (e.isDirectory) dirs.push(e.name);
}
dirs.sort();
if (dirs.length === 0) throw new Error(`no fixtures under ${fixturesDir.pathname}`);
// every model file of every folder (float32, float16, quantised variants each with their own reference)
const fixtures: FixtureCheckSpec[] = [];
for (const d of dirs) fixtures.push(...checksOf(d, JSON.parse(await Deno.readTextFile(new URL(`${d}/meta.json`, fixturesDir)))));

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

async function run(c: FixtureCheckSpec, ep: ExecutionProvider): Promise<FixtureResult> {
  const input = await loadCheck(c, (p) => Deno.readFile(new URL(p, fixturesDir)));
  return await withWatchdog(`${input.name} [${ep}]`, WATCHDOG_MS, checkFixture(input, ep));
}

const eps: ExecutionProvider[] = ['wasm', 'webgpu'];
for (const ep of eps) {
  for (const c of fixtures) {
    const name = checkName(c);
    Deno.test({
      name: `${name} [${ep}]: loss, x, dy and per-example weight grads match torch to ${REL_TOL}`,
      ignore: ep === 'webgpu' && !adapter,
      // ORT keeps its wasm module, worker threads and GPU device alive between sessions by design
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const res = await run(c, ep);
        console.log(summary(res));
        const bad = failures(res);
        if (bad.length) throw new Error(`${name} [${ep}] exceeds ${REL_TOL}:\n  ${bad.join('\n  ')}`);
      },
    });
  }
}

if (!adapter) console.warn('Deno: navigator.gpu has no adapter here; the webgpu cases are ignored');
else console.log(`Deno WebGPU adapter: ${adapter}`);
