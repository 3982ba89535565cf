// A progress bar on stderr with an ETA (a TTY gets one redrawn line; pipes get a line per 5 % or 20 s).
import { stderr } from 'node:process';

export class Progress {
  private lastPct = -1;
  private lastPrint = 0;
  private readonly start = performance.now();
  /** where the rate is counted from: the first update (rows a resumed run skips do not count as speed) */
  private from?: { t: number; done: number };
  constructor(private readonly label: string, private readonly total: number, private readonly quiet = false) {}

  update(done: number, extra = ''): void {
    if (this.quiet || this.total <= 0) return;
    const now = performance.now();
    this.from ??= { t: now, done };
    const pct = Math.min(100, Math.floor((100 * done) / this.total));
    const tty = !!stderr.isTTY;
    // without a terminal: a line every 5 % or every 20 s, whichever comes first
    if (!tty && pct < this.lastPct + 5 && now - this.lastPrint < 20_000 && done < this.total) return;
    if (tty && pct === this.lastPct && done < this.total) return;
    this.lastPct = pct;
    this.lastPrint = now;
    const width = 30;
    const fill = Math.round((width * pct) / 100);
    const secs = ((now - this.start) / 1000).toFixed(1);
    const eta = done < this.total && done > this.from.done ? ` ~${formatEta(((now - this.from.t) / (done - this.from.done)) * (this.total - done) / 1000)} left` : '';
    const line = `${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${done}/${this.total} ${secs}s${eta} ${extra}`;
    if (tty) stderr.write(`\r${line}\x1b[K${done >= this.total ? '\n' : ''}`);
    else stderr.write(`${line}\n`);
  }
}

/** "45s", "3m05s", "1h12m" */
export function formatEta(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
