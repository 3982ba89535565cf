// Helpers of the fault-injection tests: CLI processes whose output can be waited on, score comparisons by id, and
// tiny file systems (tmpfs, when root) for full-disk and read-only cases.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { QueryResult } from '../../src/logra/types.ts';

export const root = new URL('../..', import.meta.url).pathname;

/** A `logra` process; `waitFor` resolves when its stderr (or stdout) has matched a pattern. */
export class Cli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exit: Promise<number>;
  private waiters: { re: RegExp; resolve: () => void }[] = [];

  constructor(args: string[]) {
    this.child = spawn('node', ['bin/logra.js', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const on = (which: 'stdout' | 'stderr') => (d: Buffer) => {
      this[which] += d.toString();
      this.waiters = this.waiters.filter((w) => (w.re.test(this.stdout + this.stderr) ? (w.resolve(), false) : true));
    };
    this.child.stdout!.on('data', on('stdout'));
    this.child.stderr!.on('data', on('stderr'));
    this.exit = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  }

  /** Resolves once the output matches (or rejects when the process ends first). */
  waitFor(re: RegExp): Promise<void> {
    if (re.test(this.stdout + this.stderr)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ re, resolve });
      void this.exit.then((code) => reject(new Error(`logra exited (${code}) before printing ${re}: ${this.stderr}`)));
    });
  }

  json(): Record<string, unknown> {
    return JSON.parse(this.stdout);
  }
}

export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: () => Record<string, unknown> }> {
  const c = new Cli(args);
  const code = await c.exit;
  return { code, stdout: c.stdout, stderr: c.stderr, json: () => c.json() };
}

/** Polls a condition (a state of files another process writes) until it holds. */
export async function until(cond: () => boolean, what: string, limitMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Max relative difference of two results' scores, matched by train id; throws unless they hold the same ids once. */
export function scoreDiff(a: Pick<QueryResult, 'trainIds' | 'scores'>, b: Pick<QueryResult, 'trainIds' | 'scores'>): number {
  if (new Set(a.trainIds).size !== a.trainIds.length) throw new Error('an id is stored twice');
  if (a.trainIds.length !== b.trainIds.length) throw new Error(`${a.trainIds.length} train ids vs ${b.trainIds.length}`);
  const col = new Map(b.trainIds.map((id, j) => [id, j]));
  let err = 0, scale = 0;
  a.trainIds.forEach((id, j) => {
    const k = col.get(id);
    if (k === undefined) throw new Error(`id ${id} is not in the reference`);
    a.scores!.forEach((row, i) => {
      err = Math.max(err, Math.abs(row[j] - b.scores![i][k]));
      scale = Math.max(scale, Math.abs(b.scores![i][k]));
    });
  });
  return err / scale;
}

/** scores.json of `logra query` as a QueryResult-like object. */
export function fromScoresJson(s: { train_ids: string[]; scores: number[][] }): Pick<QueryResult, 'trainIds' | 'scores'> {
  return { trainIds: s.train_ids, scores: s.scores.map((r) => Float32Array.from(r)) };
}

export const isRoot = (globalThis as { process?: { getuid?: () => number } }).process?.getuid?.() === 0;

/** Mounts a tmpfs of `kib` KiB at dir (root only); returns an unmount function, or undefined when it cannot. */
export function tinyFs(dir: string, kib: number): (() => void) | undefined {
  if (!isRoot) return undefined;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir]);
  if (r.status !== 0) return undefined;
  return () => void spawnSync('umount', ['-l', dir]);
}

/** Remounts a tmpfs read-only (root). */
export function remountReadOnly(dir: string): boolean {
  return spawnSync('mount', ['-o', 'remount,ro', dir]).status === 0;
}
