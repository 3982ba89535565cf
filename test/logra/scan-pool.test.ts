// The decode pool's workers hold the process only while they have work: a script that awaits a decode gets its
// answer, and one that never disposes its index (or pool) still exits.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

describe('DecodePool and process exit', () => {
  it('a script awaiting decodes gets them, then exits without dispose()', () => {
    const script = fileURLToPath(new URL('../support/pool-exit.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
    // a pool that kept the process alive would run into this (generous) kill: the test then fails on the signal
    const r = spawnSync(tsx, [script], { encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('decoded 32000,32000,32000');
  }, 120_000);
});
