// The explorer's progress: the stages it goes through, one status line (the running step with its bar and ETA, a
// summary when idle) and every step's last message in a collapsed list below it.
import { h } from './render.ts';

export type Stage = 'engine' | 'model' | 'tokenizer' | 'corpus' | 'index' | 'fit' | 'warm' | 'save' | 'generate' | 'query';

/** The `progress` event's detail. */
export interface ProgressDetail {
  stage: Stage;
  done: number;
  /** 0 when unknown (indeterminate) */
  total: number;
  message: string;
  /** estimated seconds left, on steps with a known total once some of it is done */
  etaSeconds?: number;
}

const STAGES: { stage: Stage; label: string }[] = [
  { stage: 'engine', label: 'Compute backend' },
  { stage: 'model', label: 'Model' },
  { stage: 'tokenizer', label: 'Tokenizer' },
  { stage: 'corpus', label: 'Training texts' },
  { stage: 'index', label: 'Indexing training texts' },
  { stage: 'fit', label: 'Preparing the index' },
  { stage: 'warm', label: 'Loading the index into memory' },
  { stage: 'save', label: 'Saving the index in this browser' },
  { stage: 'generate', label: 'Generating' },
  { stage: 'query', label: 'Attributing' },
];

const label = (stage: Stage): string => STAGES.find((s) => s.stage === stage)!.label;

/** "about 40 s", "3 min" */
export function formatDuration(sec: number): string {
  if (sec < 1) return '1 s';
  if (sec < 90) return `${Math.round(sec)} s`;
  if (sec < 90 * 60) return `${Math.round(sec / 60)} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}

interface StepInfo {
  state: 'running' | 'done' | 'stopped';
  message: string;
  done: number;
  total: number;
  t0?: number;
  d0?: number;
  eta?: number;
  seq: number;
}

export interface StatusOptions {
  /** whether the element stopped on an initialisation error (the idle line then points at the message) */
  failed(): boolean;
  /** every update, for the `progress` event */
  onProgress(d: ProgressDetail): void;
}

export class StatusView {
  /** the section to place in the element */
  readonly el: HTMLElement;
  /** the status line's text while nothing runs */
  idleSummary = '';
  private readonly steps = new Map<Stage, { row: HTMLElement; bar: HTMLProgressElement; detail: HTMLElement }>();
  private readonly line: HTMLElement;
  private readonly label: HTMLElement;
  private readonly bar: HTMLProgressElement;
  private readonly text: HTMLElement;
  private readonly eta: HTMLElement;
  /** per stage: running or finished, when it started counting (for the ETA), its latest message */
  private readonly info = new Map<Stage, StepInfo>();
  private seq = 0;

  constructor(private readonly opts: StatusOptions) {
    const stepList = h('div', { class: 'steps-grid' });
    for (const s of STAGES) {
      const bar = h('progress', { 'data-stage': s.stage, 'aria-label': s.label });
      const detail = h('span', { class: 'detail' });
      const row = h('div', { class: 'step', 'data-stage': s.stage, hidden: true }, h('label', {}, s.label), bar, detail);
      this.steps.set(s.stage, { row, bar, detail });
      stepList.append(row);
    }
    this.label = h('span', { class: 'status-label' });
    this.bar = h('progress', { class: 'status-bar', 'aria-label': 'progress of the current step', hidden: true });
    this.text = h('span', { class: 'status-text' });
    this.eta = h('span', { class: 'eta' });
    this.line = h('div', { class: 'status-line', role: 'status' }, this.label, ' ', this.bar, ' ', this.text, ' ', this.eta);
    this.el = h('section', { class: 'status', part: 'status', 'aria-label': 'progress' },
      this.line, h('details', { class: 'steps' }, h('summary', {}, 'all steps'), stepList));
  }

  progress(stage: Stage, done: number, total: number, message: string): void {
    const s = this.steps.get(stage)!;
    s.row.hidden = false;
    const finished = total > 0 && done >= total;
    s.row.dataset.state = finished ? 'done' : 'running';
    if (total > 0) {
      s.bar.max = total;
      s.bar.value = Math.min(done, total);
    } else s.bar.removeAttribute('value'); // indeterminate
    s.detail.textContent = message;
    // the ETA: from the rate since this count started (a step restarts counting when its total changes or it goes back)
    const now = performance.now();
    const prev = this.info.get(stage);
    const info = prev && prev.state === 'running' && prev.total === total && done >= prev.done ? prev : { state: 'running' as const, message, done, total, t0: total > 0 ? now : undefined, d0: done, seq: 0 };
    info.state = finished ? 'done' : 'running';
    info.message = message;
    info.done = done;
    info.total = total;
    info.seq = ++this.seq;
    info.eta = undefined;
    if (!finished && total > 0 && info.t0 !== undefined && info.d0 !== undefined && done > info.d0) {
      info.eta = ((now - info.t0) / (done - info.d0)) * (total - done) / 1000;
    }
    this.info.set(stage, info);
    this.render();
    this.opts.onProgress({ stage, done, total, message, ...(info.eta !== undefined ? { etaSeconds: +info.eta.toFixed(1) } : {}) });
  }

  finish(stage: Stage, message: string): void {
    this.progress(stage, 1, 1, message);
  }

  /** One line: the most recently updated running step (its bar, message, ETA), else the idle summary. */
  render(): void {
    const running = [...this.info].filter(([, i]) => i.state === 'running').sort((a, b) => b[1].seq - a[1].seq);
    const { line, bar } = this;
    if (running.length) {
      const [stage, i] = running[0];
      line.dataset.state = 'running';
      line.dataset.stage = stage;
      this.label.textContent = `${label(stage)}${running.length > 1 ? ` (+${running.length - 1} more)` : ''}:`;
      bar.hidden = false;
      if (i.total > 0) {
        bar.max = i.total;
        bar.value = Math.min(i.done, i.total);
      } else bar.removeAttribute('value');
      this.text.textContent = i.message;
      this.eta.textContent = i.eta !== undefined ? `about ${formatDuration(i.eta)} left` : '';
    } else {
      const last = [...this.info].filter(([, i]) => i.state === 'done').sort((a, b) => b[1].seq - a[1].seq)[0];
      const failed = this.opts.failed();
      line.dataset.state = failed ? 'error' : 'idle';
      delete line.dataset.stage;
      bar.hidden = true;
      this.eta.textContent = '';
      if (failed) {
        this.label.textContent = 'Stopped:';
        this.text.textContent = 'see the message above.';
      } else if (this.idleSummary) {
        this.label.textContent = '✓';
        this.text.textContent = this.idleSummary;
      } else {
        this.label.textContent = last ? `${label(last[0])}:` : '';
        this.text.textContent = last ? last[1].message : '';
      }
    }
  }

  /** Steps left running by a failure (or a restart) stop counting: none of them shows as running any more. */
  stop(stages?: Stage[]): void {
    for (const [stage, i] of this.info) {
      if (i.state !== 'running' || (stages && !stages.includes(stage))) continue;
      i.state = 'stopped';
      const s = this.steps.get(stage)!;
      s.row.dataset.state = 'stopped';
      s.bar.max = 1;
      s.bar.value = 0;
    }
    this.render();
  }
}
