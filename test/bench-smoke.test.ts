// Smoke test of the benchmark suite (CI runs it with the unit tests): a reduced quick LDS run (in-process), the
// pipeline and efficiency suites' --quick modes (as the command line runs them), and the report assembly over their
// output in a temporary folder. Asserts only that results are produced and well-formed; never speed.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLds, ldsOf } from '../bench/support/lds-run.ts';
import { assembleReport } from '../bench/support/report-lib.ts';
import { writeJson } from '../bench/support/common.ts';

describe('bench smoke', () => {
  it('ldsOf: scores that predict the losses exactly give LDS 1, reversed give -1', () => {
    // 4 pool items, 3 subsets, 1 query; loss_q(S) = -sum_{n in S} s(q, n) exactly
    const s = [Float32Array.from([1, 2, 3, 4])];
    const subsets = [[0, 1], [2, 3], [1, 3]];
    const actual = subsets.map((S) => [-S.reduce((a, n) => a + s[0][n], 0)]);
    expect(ldsOf(s, subsets, actual).mean).toBeCloseTo(1, 12);
    expect(ldsOf(s, subsets, actual.map((r) => [-r[0]])).mean).toBeCloseTo(-1, 12);
  });

  it('quick LDS produces well-formed results and the report renders them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
    try {
      const res = await runLds({ quick: true, pool: 160, models: 50, queries: 8, ks: [4], dampings: [0.1], log: () => {} });
      expect(res.retrains.M).toBe(50);
      // 2 inits x 1 k x 4 hessians + exact mode x 4 hessians
      expect(res.rows).toHaveLength(12);
      for (const r of res.rows) {
        expect(Number.isFinite(r.lds)).toBe(true);
        expect(r.lds).toBeGreaterThanOrEqual(-1);
        expect(r.lds).toBeLessThanOrEqual(1);
        expect(r.se).toBeGreaterThanOrEqual(0);
      }
      expect(new Set(res.rows.map((r) => r.hessian))).toEqual(new Set(['none', 'raw', 'kfac', 'ekfac']));
      expect(res.markdown).toContain('| init | k |');
      await writeJson(join(dir, 'lds.json'), res);
      const rep = await assembleReport(dir);
      expect(rep.files).toEqual(expect.arrayContaining(['lds.svg', 'RESULTS.md', 'report.json']));
      const svg = await readFile(join(dir, 'lds.svg'), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg).not.toContain('NaN');
      const md = await readFile(join(dir, 'RESULTS.md'), 'utf8');
      expect(md).toContain('linear datamodeling score');
      expect(md).toContain('## Goals');
      const notRun = (r: { missing: string[] }) => r.missing.map((m) => m.split(' ')[0]).sort();
      // every suite but lds was not run here
      expect(notRun(rep)).toEqual(['accuracy.json', 'demo-start.json', 'efficiency.json', 'fit-scale.json', 'kernels.json', 'pipeline.json', 'scale-<runtime>.json', 'vs-torch.json']);

      // the pipeline and efficiency suites, --quick, as `npx tsx bench/<suite>.ts --quick --json ...` runs them
      const run = promisify(execFile);
      for (const suite of ['pipeline', 'efficiency']) {
        await run(process.execPath, ['--import', 'tsx', `bench/${suite}.ts`, '--quick', '--json', join(dir, `${suite}.json`)], { cwd: new URL('..', import.meta.url).pathname, maxBuffer: 64 * 2 ** 20 });
      }
      const pipe = JSON.parse(await readFile(join(dir, 'pipeline.json'), 'utf8')) as { logging: { ratio: number }[]; influence: { ratio: number }[]; storage: unknown[] };
      expect(pipe.logging.length).toBeGreaterThan(0);
      expect(pipe.influence.length).toBeGreaterThan(0);
      for (const r of [...pipe.logging, ...pipe.influence]) expect(r.ratio).toBeGreaterThan(0);
      const eff = JSON.parse(await readFile(join(dir, 'efficiency.json'), 'utf8')) as { configs: { ratios: { lograVsPlain: number; lograVsDense: number } }[] };
      expect(eff.configs.length).toBeGreaterThan(0);
      for (const c of eff.configs) for (const v of Object.values(c.ratios)) expect(Number.isFinite(v) && v > 0).toBe(true);
      const rep2 = await assembleReport(dir);
      // accuracy, kernels (their own tests cover them: test/kernels, test/logra), the scale suites and the demo start-up
      expect(notRun(rep2)).toEqual(['accuracy.json', 'demo-start.json', 'fit-scale.json', 'kernels.json', 'scale-<runtime>.json', 'vs-torch.json']);
      expect(await readFile(join(dir, 'RESULTS.md'), 'utf8')).toContain('store');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
