// A progress bar on stderr (a TTY gets one redrawn line; pipes get a line per 10%).
import { stderr } from 'node:process';

export class Progress {
  private lastPct = -1;
  private readonly start = performance.now();
  constructor(private readonly label: string, private readonly total: number, private readonly quiet = false) {}

  update(done: number, extra = ''): void {
    if (this.quiet || this.total <= 0) return;
    const pct = Math.min(100, Math.floor((100 * done) / this.total));
    const tty = !!stderr.isTTY;
    if (!tty && pct < this.lastPct + 10 && done < this.total) return;
    if (tty && pct === this.lastPct && done < this.total) return;
    this.lastPct = pct;
    const width = 30;
    const fill = Math.round((width * pct) / 100);
    const secs = ((performance.now() - this.start) / 1000).toFixed(1);
    const line = `${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${done}/${this.total} ${secs}s ${extra}`;
    if (tty) stderr.write(`\r${line}${done >= this.total ? '\n' : ''}`);
    else stderr.write(`${line}\n`);
  }
}
