// End to end in Node: a Llama-style model folder (tokenizer.json, prompt/completion data, weights in external data)
// logged, fitted and queried through the API and through the CLI (`--model DIR`); scores against float64 references
// from torch's per-example gradients of the completion-only loss. Deno (test/deno/folder-e2e.test.ts) and Chromium
// (test/e2e/folder-e2e.spec.ts) run the same check.
import { describe, it, expect, afterAll } from 'vitest';
import { logra } from './support/cli.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../src/logra/engine.ts';
import { MemoryStore } from '../src/store/memory.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { runFolderE2E } from './support/folder-e2e.ts';

const root = new URL('..', import.meta.url).pathname;
const FOLDER = join(root, 'test/fixtures/llama_folder');
const tmp = mkdtempSync(join(tmpdir(), 'logra-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a Llama-style model folder with tokenizer.json and prompt/completion data, end to end (Node)', () => {
  it('API: engine.loadModelFrom(dir) -> log -> fit -> query equals the float64 references; each example ranks itself first', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    try {
      const res = await runFolderE2E(engine, FOLDER, readFileSync(join(FOLDER, 'data.jsonl'), 'utf8'), new Uint8Array(readFileSync(join(FOLDER, 'ref.safetensors'))), (n) => new MemoryStore(n));
      for (const c of res.checks) console.log(`llama_folder ${c.name}: ${c.err.toExponential(2)} (${c.layer})`);
      expect(res.tokenizer).toBe('tokenizer.json (BPE)');
      expect(res.notes.join('\n')).toContain('onnx/model.onnx_data');
      expect(res.targets).toBe(26); // completion tokens only (ids.jsonl)
      expect(res.selfRank).toEqual([1, 1, 1, 1]);
      for (const c of res.checks) expect(c.err, c.name).toBeLessThanOrEqual(1e-4);
    } finally {
      engine.dispose();
    }
  });

  it('CLI: logra log/fit/query --model DIR on the text data; the exact scores are the dot products of torch gradients', async () => {
    const ix = join(tmp, 'ix');
    let r = await logra(['log', '--model', FOLDER, '--data', join(FOLDER, 'data.jsonl'), '--index', ix, '--proj', 'none', '--hessian', 'none', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/using .*onnx\/model\.onnx \(fp32\)/);
    r = await logra(['fit', '--index', ix, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const out = join(tmp, 'scores.json');
    r = await logra(['query', '--index', ix, '--data', join(FOLDER, 'data.jsonl'), '--out', out, '--top', '1', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const scores: number[][] = JSON.parse(readFileSync(out, 'utf8')).scores;
    const ref = readSafetensors(readFileSync(join(FOLDER, 'ref.safetensors'))).tensors;
    const layers: string[] = JSON.parse(readFileSync(join(FOLDER, 'meta.json'), 'utf8')).layers.map((l: { node: string }) => l.node);
    let err = 0, scale = 0;
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 4; b++) {
        let want = 0;
        for (const l of layers) {
          const ga = ref.get(`grad/${l}/${a}`)!.data, gb = ref.get(`grad/${l}/${b}`)!.data;
          for (let i = 0; i < ga.length; i++) want += Number(ga[i]) * Number(gb[i]);
        }
        err = Math.max(err, Math.abs(scores[a][b] - want));
        scale = Math.max(scale, Math.abs(want));
      }
    console.log(`llama_folder CLI exact scores: ${(err / scale).toExponential(2)}`);
    expect(err / scale).toBeLessThanOrEqual(1e-4);
  });
});
