// The `logra` pipeline commands end to end (Node): formats, exact mode against torch, projections round trip,
// a logging process killed mid-run and resumed, usage errors.
import { describe, it, expect } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { randomSequences } from '../support/data.ts';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'logra-cli-pipe-'));

function logra(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/logra.js', ...args], { cwd: root, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const ok = async (args: string[]) => {
  const r = await logra([...args, '--quiet', '--backend', 'cpu']);
  expect(r.stderr, r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};

describe('logra log / fit / query / self / info', () => {
  const fx = 'test/fixtures/mlp_classifier';

  it('exact mode (--proj none --hessian none) writes torch gradient dot products in scores.json', async () => {
    const ix = join(tmp, 'exact');
    const log = await ok(['log', '--model', `${fx}/model.onnx`, '--data', `${fx}/data.jsonl`, '--index', ix, '--proj', 'none', '--hessian', 'none', '--batch', '4']);
    expect(log).toMatchObject({ examples: 6, logged: 6, skipped: 0, projection: 'identity' });
    await ok(['fit', '--index', ix]);
    const out = join(tmp, 'exact.json');
    await ok(['query', '--index', ix, '--data', `${fx}/data.jsonl`, '--out', out, '--per-layer', '--top', '3']);
    const s = JSON.parse(readFileSync(out, 'utf8'));
    const meta = JSON.parse(readFileSync(join(root, fx, 'meta.json'), 'utf8'));
    expect(s.query_ids).toEqual(meta.examples);
    expect(s.train_ids).toEqual(meta.examples);
    const ref = readSafetensors(readFileSync(join(root, fx, 'ref.safetensors'))).tensors;
    const g = (l: string, i: number) => ref.get(`grad/${l}/${i}`)!.data as Float64Array;
    let err = 0, scale = 0;
    for (let a = 0; a < 6; a++)
      for (let b = 0; b < 6; b++) {
        let tot = 0;
        for (const l of meta.layers) {
          let d = 0;
          const ga = g(l.node, a), gb = g(l.node, b);
          for (let i = 0; i < ga.length; i++) d += ga[i] * gb[i];
          tot += d;
          err = Math.max(err, Math.abs(s.layers[l.node][a][b] - d));
        }
        err = Math.max(err, Math.abs(s.scores[a][b] - tot));
        scale = Math.max(scale, Math.abs(tot));
      }
    expect(err / scale).toBeLessThanOrEqual(1e-4);
    for (const items of s.top) {
      expect(items.length).toBe(3);
      for (let i = 1; i < 3; i++) expect(items[i - 1].score).toBeGreaterThanOrEqual(items[i].score);
    }
    const self = join(tmp, 'self.json');
    await ok(['self', '--index', ix, '--out', self]);
    const sj = JSON.parse(readFileSync(self, 'utf8'));
    sj.values.forEach((v: number, i: number) => expect(Math.abs(v - s.scores[i][i]) / Math.abs(v)).toBeLessThan(1e-5));
  });

  it('exported projections imported into a new index reproduce its scores', async () => {
    const a = join(tmp, 'rand'), b = join(tmp, 'imported'), p = join(tmp, 'p.safetensors');
    await ok(['log', '--model', `${fx}/model.onnx`, '--data', `${fx}/data.jsonl`, '--index', a, '--k-in', '5', '--k-out', '3', '--seed', '42']);
    const info = await ok(['info', '--index', a, '--export-projections', p]);
    expect(info.projection).toBe('random:5x3');
    const t = readSafetensors(readFileSync(p)).tensors;
    expect(t.get('/net/net.0/Gemm.in')!.shape).toEqual([5, 12]);
    expect(t.get('/net/net.0/Gemm.out')!.shape).toEqual([3, 16]);
    expect(t.get('/net/net.5/Gemm.out')!.shape).toEqual([3, 3]);
    await ok(['log', '--model', `${fx}/model.onnx`, '--data', `${fx}/data.jsonl`, '--index', b, '--projections', p]);
    const sa = join(tmp, 'sa.json'), sb = join(tmp, 'sb.json');
    await ok(['query', '--index', a, '--data', `${fx}/data.jsonl`, '--out', sa, '--mode', 'cosine']);
    await ok(['query', '--index', b, '--data', `${fx}/data.jsonl`, '--out', sb, '--mode', 'cosine']);
    expect(JSON.parse(readFileSync(sb, 'utf8')).scores).toEqual(JSON.parse(readFileSync(sa, 'utf8')).scores);
  });

  it('a logging process killed mid-run resumes to the same index as an uninterrupted run', async () => {
    const model = 'test/fixtures/gpt2_linear_erf_op17_mask_pos_tied/model.onnx';
    const data = join(tmp, 'train.jsonl');
    writeFileSync(data, randomSequences(300, 5).map((e) => JSON.stringify(e)).join('\n'));
    const killed = join(tmp, 'killed'), whole = join(tmp, 'whole');
    const args = ['bin/logra.js', 'log', '--model', model, '--data', data, '--index', killed, '--k-in', '4', '--k-out', '4', '--batch', '2', '--flush-seconds', '0', '--backend', 'cpu', '--quiet'];
    const child = spawn('node', args, { cwd: root, stdio: 'ignore' });
    const manifest = join(killed, 'manifest.json');
    // wait for a few committed chunks, then kill -9
    const t0 = Date.now();
    let chunks = 0;
    while (Date.now() - t0 < 120_000) {
      await new Promise((r) => setTimeout(r, 50));
      if (!existsSync(manifest)) continue;
      try {
        chunks = JSON.parse(readFileSync(manifest, 'utf8')).chunks.length;
      } catch {
        continue; // renamed into place atomically, but a read can race the rename on some file systems
      }
      if (chunks >= 3) break;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const partial = JSON.parse(readFileSync(manifest, 'utf8'));
    const stored = partial.chunks.flatMap((c: { ids: string[] }) => c.ids);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(300);
    const resumed = await ok(['log', '--model', model, '--data', data, '--index', killed, '--k-in', '4', '--k-out', '4', '--batch', '2']);
    expect(resumed.skipped).toBe(stored.length);
    expect(resumed.examples).toBe(300);
    await ok(['log', '--model', model, '--data', data, '--index', whole, '--k-in', '4', '--k-out', '4', '--batch', '8']);
    const ids = JSON.parse(readFileSync(manifest, 'utf8')).chunks.flatMap((c: { ids: string[] }) => c.ids);
    expect(new Set(ids).size).toBe(300);
    const q = join(tmp, 'q.jsonl');
    writeFileSync(q, randomSequences(2, 77, 'q').map((e) => JSON.stringify(e)).join('\n'));
    const sk = join(tmp, 'sk.json'), sw = join(tmp, 'sw.json');
    await ok(['query', '--index', killed, '--data', q, '--out', sk, '--top', '5']);
    await ok(['query', '--index', whole, '--data', q, '--out', sw, '--top', '5']);
    const a = JSON.parse(readFileSync(sk, 'utf8')), b = JSON.parse(readFileSync(sw, 'utf8'));
    const byId = (s: { train_ids: string[]; scores: number[][] }) => s.train_ids.map((id, j) => [id, s.scores.map((r) => r[j])] as const).sort((x, y) => (x[0] < y[0] ? -1 : 1));
    const ka = byId(a), kb = byId(b);
    let err = 0, scale = 0;
    ka.forEach(([id, v], j) => {
      expect(id).toBe(kb[j][0]);
      v.forEach((x, i) => {
        err = Math.max(err, Math.abs(x - kb[j][1][i]));
        scale = Math.max(scale, Math.abs(kb[j][1][i]));
      });
    });
    expect(err / scale).toBeLessThanOrEqual(1e-5);
    expect(a.top.map((t: { id: string }[]) => t.map((x) => x.id))).toEqual(b.top.map((t: { id: string }[]) => t.map((x) => x.id)));
  });

  it('bad input gets a clear error naming the flag, file or field', async () => {
    const r1 = await logra(['log', '--model', `${fx}/model.onnx`, '--data', `${fx}/data.jsonl`, '--index', join(tmp, 'x'), '--proj', 'full']);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/--proj only takes "none"/);
    const r2 = await logra(['query', '--index', join(tmp, 'nothing-here'), '--data', `${fx}/data.jsonl`, '--out', join(tmp, 'o.json'), '--backend', 'cpu']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/nothing-here: no index here/);
    const bad = join(tmp, 'bad.jsonl');
    writeFileSync(bad, '{"id":"a","input":[1,2],"label":0}\n{"id":"b","text":"hello"}\n');
    const r3 = await logra(['log', '--model', `${fx}/model.onnx`, '--data', bad, '--index', join(tmp, 'y'), '--backend', 'cpu']);
    expect(r3.stderr).toMatch(/bad\.jsonl:2: a "text" row needs a tokenizer/);
    const r4 = await logra(['query', '--index', join(tmp, 'exact'), '--data', `${fx}/data.jsonl`, '--out', join(tmp, 'o.json'), '--mode', 'manhattan']);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/--mode must be one of dot, cosine, l2/);
  });
});
