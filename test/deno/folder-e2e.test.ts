// End to end in Deno: the Llama-style model folder loaded from its directory (engine.loadModelFrom), prompt/completion
// text through its tokenizer.json, log -> fit -> query, scores against the float64 torch references
// (test/support/folder-e2e.ts; Node and Chromium run the same check).
import { createEngine } from '../../src/logra/engine.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { withWatchdog } from '../../src/gpu/watchdog.ts';
import { runFolderE2E } from '../support/folder-e2e.ts';

const folder = new URL('../fixtures/llama_folder/', import.meta.url);
const TOL = 1e-4;

Deno.test({
  name: 'llama_folder (tokenizer.json, prompt/completion, external data): log, fit, query equal the float64 references',
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const engine = await createEngine({ backend: 'cpu' });
    try {
      const [data, ref] = await Promise.all([Deno.readTextFile(new URL('data.jsonl', folder)), Deno.readFile(new URL('ref.safetensors', folder))]);
      const res = await withWatchdog('llama_folder e2e', 180_000, runFolderE2E(engine, folder.pathname, data, ref, (n) => new MemoryStore(n)));
      for (const c of res.checks) console.log(`llama_folder ${c.name}: ${c.err.toExponential(2)} (${c.layer})`);
      if (res.tokenizer !== 'tokenizer.json (BPE)') throw new Error(`tokenizer ${res.tokenizer}`);
      if (!res.notes.join('\n').includes('onnx/model.onnx_data')) throw new Error(`notes: ${res.notes.join(' | ')}`);
      if (res.selfRank.some((r) => r !== 1)) throw new Error(`self ranks ${res.selfRank}`);
      const bad = res.checks.filter((c) => !(c.err <= TOL));
      if (bad.length) throw new Error(bad.map((c) => `${c.name}: ${c.err} at ${c.layer}`).join('\n'));
    } finally {
      engine.dispose();
    }
  },
});
