// The CLI's progress bar: an ETA from the rate since the first update (rows skipped by a resumed run do not count),
// lines every 5 % without a terminal, the last line at 100 %.
import { describe, it, expect, vi, afterEach } from 'vitest';
import { stderr } from 'node:process';
import { Progress, formatEta } from '../src/cli/progress.ts';

afterEach(() => vi.restoreAllMocks());

describe('cli Progress', () => {
  it('formats ETAs', () => {
    expect(formatEta(4.4)).toBe('4s');
    expect(formatEta(185)).toBe('3m05s');
    expect(formatEta(4380)).toBe('1h13m');
  });

  it('prints an ETA from the rate since the first update, skipped rows not counted as speed', () => {
    const lines: string[] = [];
    vi.spyOn(stderr, 'write').mockImplementation((s: string | Uint8Array) => (lines.push(String(s)), true));
    Object.defineProperty(stderr, 'isTTY', { value: false, configurable: true });
    let now = 1000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const p = new Progress('log', 1000);
    p.update(500, '(500 already stored)'); // a resumed build: half was there
    now += 10_000;
    p.update(600); // 100 rows in 10 s: 400 left take 40 s
    now += 10_000;
    p.update(1000);
    expect(lines[0]).toContain('50% 500/1000');
    expect(lines[0]).not.toContain('left');
    expect(lines[1]).toContain('60% 600/1000');
    expect(lines[1]).toContain('~40s left');
    expect(lines[2]).toContain('100% 1000/1000');
    expect(lines[2]).not.toContain('left');
  });
});
