// The pipeline under Deno: the float64 torch-reference checks (exact mode, LoGra with given projections, raw /
// KFAC / EKFAC) on the CPU backend and on Deno's WebGPU, and a Deno `logra log` process killed mid-run and resumed.
import { checkPipeline } from '../support/pipeline-check.ts';
import { randomSequences } from '../support/data.ts';
import { createEngine } from '../../src/logra/engine.ts';
import { withWatchdog } from '../../src/gpu/watchdog.ts';

const fixturesDir = new URL('../fixtures/', import.meta.url);
const TOL = 1e-4;

async function load(name: string) {
  const dir = new URL(`${name}/`, fixturesDir);
  return {
    name,
    model: await Deno.readFile(new URL('model.onnx', dir)),
    data: await Deno.readTextFile(new URL('data.jsonl', dir)),
    ref: await Deno.readFile(new URL('ref.safetensors', dir)),
  };
}

let gpu = false;
try {
  gpu = !!(await navigator.gpu?.requestAdapter());
} catch {
  gpu = false;
}

for (const backend of ['cpu', 'webgpu'] as const) {
  for (const name of ['mlp_classifier', 'gpt2_conv1d_erf_op17_nomask_untied']) {
    Deno.test({
      name: `pipeline [${backend}] ${name}: scores equal float64 references to ${TOL}`,
      ignore: backend === 'webgpu' && !gpu,
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const engine = await createEngine({ backend });
        try {
          const res = await withWatchdog(`${name} [${backend}]`, 180_000, checkPipeline(await load(name), engine));
          for (const r of res) console.log(`${name} [${backend}] ${r.name}: ${r.err.toExponential(2)} (${r.layer})`);
          const bad = res.filter((r) => !(r.err <= TOL));
          if (bad.length) throw new Error(bad.map((r) => `${r.name}: ${r.err} at ${r.layer}`).join('\n'));
        } finally {
          engine.dispose();
        }
      },
    });
  }
}

Deno.test({
  name: 'a Deno logra log process killed mid-run resumes: each example stored once, same scores as one run',
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: 'logra-deno-kill-' });
    const data = `${tmp}/train.jsonl`;
    await Deno.writeTextFile(data, randomSequences(240, 3).map((e) => JSON.stringify(e)).join('\n'));
    const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
    const model = new URL('gpt2_linear_erf_op17_mask_pos_tied/model.onnx', fixturesDir).pathname;
    const cli = (index: string, extra: string[] = []) =>
      new Deno.Command(Deno.execPath(), {
        args: ['run', '--allow-read', '--allow-write', '--allow-env', main, 'log', '--model', model, '--data', data, '--index', index, '--k-in', '4', '--k-out', '4', '--backend', 'cpu', '--quiet', ...extra],
        stdout: 'piped',
        stderr: 'piped',
      });
    const killed = `${tmp}/killed`;
    const child = cli(killed, ['--batch', '2', '--flush-seconds', '0']).spawn();
    const t0 = Date.now();
    let chunks = 0;
    while (Date.now() - t0 < 120_000 && chunks < 3) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        chunks = JSON.parse(await Deno.readTextFile(`${killed}/manifest.json`)).chunks.length;
      } catch {
        /* not there yet */
      }
    }
    child.kill('SIGKILL');
    await child.output().catch(() => undefined);
    const stored = JSON.parse(await Deno.readTextFile(`${killed}/manifest.json`)).chunks.flatMap((c: { ids: string[] }) => c.ids);
    if (!(stored.length > 0 && stored.length < 240)) throw new Error(`expected a partial index, it holds ${stored.length}`);
    const resumed = await cli(killed, ['--batch', '2']).output();
    if (resumed.code !== 0) throw new Error(new TextDecoder().decode(resumed.stderr));
    const out = JSON.parse(new TextDecoder().decode(resumed.stdout));
    if (out.skipped !== stored.length || out.examples !== 240) throw new Error(`resume: ${JSON.stringify(out)}`);
    const whole = await cli(`${tmp}/whole`, ['--batch', '8']).output();
    if (whole.code !== 0) throw new Error(new TextDecoder().decode(whole.stderr));
    // same rows (by id) in both indexes, once each
    const { FsStore } = await import('../../src/store/fs.ts');
    const engine = await createEngine({ backend: 'cpu' });
    try {
      const model2 = await engine.loadModel(await Deno.readFile(model));
      const q = randomSequences(2, 8, 'q');
      const a = await (await engine.openIndex(new FsStore(killed), model2)).query(q, { topK: 0 });
      const b = await (await engine.openIndex(new FsStore(`${tmp}/whole`), model2)).query(q, { topK: 0 });
      if (new Set(a.trainIds).size !== 240) throw new Error('duplicated or missing ids after resume');
      const col = new Map(b.trainIds.map((id, j) => [id, j]));
      let err = 0, scale = 0;
      a.trainIds.forEach((id, j) => {
        const k = col.get(id)!;
        for (let i = 0; i < 2; i++) {
          err = Math.max(err, Math.abs(a.scores![i][j] - b.scores![i][k]));
          scale = Math.max(scale, Math.abs(b.scores![i][k]));
        }
      });
      if (!(err / scale <= 1e-5)) throw new Error(`resumed scores differ: ${err / scale}`);
      await model2.release();
    } finally {
      engine.dispose();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
