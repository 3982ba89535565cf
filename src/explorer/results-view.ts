// The explorer's output and results: the prompt and completion (with the tokens the selected training text supports
// marked), the results listbox (WAI-ARIA keys, roving tabindex, selection follows focus), the selected text's detail
// (per-token heatmap, per-layer chart) and the "out of date" marking when the text changed since the attribution.
import type { ScoreMode } from '../logra/mod.ts';
import { formatScore, formatShare, h, heatmap, layerChart, markTokens, markWords, shares, supportedTokens, supportedWords, type HeatToken } from './render.ts';
import type { ExplorerResult, ExplorerResultItem } from './session.ts';

/** Which query tokens item `it` supports: counted on the completion when there is one, else on the whole prompt. */
function supported(res: ExplorerResult, it: ExplorerResultItem): boolean[] {
  const from = res.query.ids.length > res.query.promptTokens ? res.query.promptTokens : 1;
  return supportedTokens(it.tokens, from);
}

/** what a mode's scores measure, in words */
const measure = (mode: ScoreMode) => (mode === 'dot' ? 'influence' : 'similarity');
const scaleText = (mode: ScoreMode) => `Scores: share of the positive ${measure(mode)} of the texts shown (hover for the raw score).`;

export class ResultsView {
  /** the prompt and completion box */
  readonly output: HTMLElement;
  /** the results section (heading, score mode, list, detail) */
  readonly box: HTMLElement;
  /** the results shown */
  result?: ExplorerResult;
  /** what the shown results were computed for (the element's query key) */
  private key?: string;
  private stale = false;
  private selected = 0;
  private readonly outPrompt = h('span', { class: 'prompt-echo' });
  private readonly outCompletion = h('span', { class: 'completion', part: 'completion' });
  private readonly scale = h('div', { class: 'score-scale meta' }, scaleText('dot'));
  private readonly modes = (['dot', 'cosine'] as const).map((m) => h('input', { type: 'radio', name: 'mode', value: m, checked: m === 'dot' }));
  private readonly staleNote = h('div', { class: 'stale-note', role: 'status', hidden: true });
  private readonly list = h('ol', { class: 'results', part: 'results', role: 'listbox', 'aria-label': 'most influential training texts' });
  private readonly meta = h('span', { class: 'meta results-meta' });
  private readonly detail = h('section', { class: 'detail', part: 'detail', hidden: true });

  /** `onMode`: the user picked a score mode */
  constructor(onMode: (mode: ScoreMode) => void) {
    const { modes } = this;
    this.output = h('div', { class: 'output', part: 'output', 'aria-live': 'polite' }, this.outPrompt, this.outCompletion);
    const modeBox = h('span', { class: 'modes', role: 'radiogroup', 'aria-label': 'score mode' },
      h('label', { title: 'influence: how much training on the text raised the probability of your text' }, modes[0], ' influence (dot)'), ' ',
      h('label', { title: 'influence divided by both texts\' self-influence: favours texts that push in the same direction, not just strongly' }, modes[1], ' similarity (cosine)'));
    this.box = h('section', { class: 'results-box', 'aria-label': 'results' },
      h('div', { class: 'results-head' }, h('h3', {}, 'Most influential training texts'), modeBox),
      this.scale,
      this.meta,
      this.staleNote,
      this.list,
      this.detail,
    );
    for (const r of modes) r.addEventListener('change', () => {
      if (r.checked) onMode(r.value as ScoreMode);
    });
    this.list.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** Shows a new text in the output box: the prompt, an empty completion. */
  echo(prompt: string): void {
    this.outPrompt.textContent = prompt;
    this.outCompletion.textContent = '';
  }

  setCompletion(text: string): void {
    this.outCompletion.textContent = text;
  }

  setMode(mode: ScoreMode): void {
    for (const r of this.modes) r.checked = r.value === mode;
    this.scale.textContent = scaleText(mode);
  }

  /** Forgets the results (a restart). */
  clear(): void {
    this.result = undefined;
    this.key = undefined;
    this.list.replaceChildren();
    this.meta.textContent = '';
    this.detail.hidden = true;
  }

  /** Whether keyboard focus is in the results list. */
  hasFocus(): boolean {
    return this.list.contains((this.list.getRootNode() as Document | ShadowRoot).activeElement);
  }

  /** Shows `res`, computed for the text `key` over `size` training texts, with its first result selected. */
  show(res: ExplorerResult, key: string, size: number): void {
    this.result = res;
    this.key = key;
    this.selected = 0;
    this.scale.textContent = scaleText(res.mode);
    this.meta.textContent = `${res.mode === 'dot' ? 'influence (dot)' : `similarity (${res.mode})`} over ${size} training texts; the model's loss on your text ${formatScore(res.loss)} nats${res.query.truncated ? `; your text was cut to the model's ${res.query.ids.length}-token context` : ''}`;
    const share = shares(res.items.map((it) => it.score));
    const items = res.items.map((it, i) => {
      const words = supportedWords(res.query.tokens, supported(res, it));
      const pct = formatShare(share[i]);
      const raw = `raw ${res.mode} score: ${formatScore(it.score)}`;
      const bar = h('span', { class: 'share-bar', 'aria-hidden': 'true' }, h('span', {}));
      (bar.firstChild as HTMLElement).style.width = `${((share[i] ?? 0) * 100).toFixed(1)}%`;
      const li = h('li', { class: 'result', role: 'option', id: `result-${i}`, 'data-id': it.id, 'data-score': String(it.score), 'data-rank': it.rank, 'aria-selected': i === this.selected ? 'true' : 'false', tabindex: i === this.selected ? 0 : -1 },
        h('span', { class: 'rank' }, `${it.rank}.`),
        h('span', { class: 'ref', title: it.ref ? `training text id: ${it.id}` : undefined }, it.ref ?? it.id),
        h('span', { class: 'score', title: share[i] === undefined ? `${raw} (works against your text)` : `${raw}; ${pct} of the positive ${measure(res.mode)} of the ${res.items.length} texts shown`, 'data-share': share[i] === undefined ? undefined : share[i]!.toFixed(6) }, pct),
        bar,
        h('span', { class: 'text' }, ...markWords(it.text, words)),
      );
      li.addEventListener('click', () => this.select(i, true));
      return li;
    });
    this.list.replaceChildren(...items);
    this.renderDetail();
    this.renderOutput();
  }

  /**
   * Marks the results out of date when `key` (the text Attribute would attribute now) differs from what they were
   * computed for; returns whether they are.
   */
  markStale(key: string): boolean {
    const res = this.result;
    const stale = !!res && this.key !== key;
    const was = this.stale;
    this.stale = stale;
    this.box.toggleAttribute('data-stale', stale);
    this.staleNote.hidden = !stale;
    if (stale) {
      const shown = res!.query.text.length > 60 ? `${res!.query.text.slice(0, 57)}…` : res!.query.text;
      this.staleNote.textContent = `Out of date: these results are for “${shown}”. Press Attribute to update them.`;
    }
    if (stale !== was && res) this.renderOutput();
    return stale;
  }

  /** Moves keyboard focus to the selected result (after an attribution the user started). */
  focus(): void {
    const li = this.list.children[this.selected] as HTMLElement | undefined;
    li?.focus();
  }

  /** Selects result i (and focuses it when the user moved there). */
  private select(i: number, focus: boolean): void {
    const lis = [...this.list.children] as HTMLElement[];
    if (!lis[i]) return;
    this.selected = i;
    lis.forEach((li, k) => {
      li.setAttribute('aria-selected', k === i ? 'true' : 'false');
      li.tabIndex = k === i ? 0 : -1;
    });
    if (focus) lis[i].focus();
    this.renderDetail();
    this.renderOutput();
  }

  /** The listbox keys (WAI-ARIA listbox, roving tabindex; selection follows focus). */
  private onKey(e: KeyboardEvent): void {
    const n = this.list.children.length;
    if (!n) return;
    let i = this.selected;
    if (e.key === 'ArrowDown') i = Math.min(n - 1, i + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = n - 1;
    else if (e.key === 'Enter' || e.key === ' ') {
      const li = (e.target as HTMLElement).closest?.('li.result') as HTMLElement | null;
      if (li) i = [...this.list.children].indexOf(li);
    } else return;
    e.preventDefault();
    this.select(i, true);
  }

  /**
   * The prompt and completion in the output box; with current results, the tokens the selected training text
   * supports are marked (OLMoTrace-style spans). Plain text when the results are out of date or the tokens do not
   * spell the text (a character split across tokens).
   */
  private renderOutput(): void {
    const res = this.result;
    if (!res || this.stale || !res.items.length) {
      for (const el of [this.outPrompt, this.outCompletion]) if (el.querySelector('mark')) el.textContent = el.textContent;
      return;
    }
    const it = res.items[this.selected];
    const sup = supported(res, it);
    const toks = res.query.tokens;
    const p = res.query.promptTokens;
    const end = toks[toks.length - 1] === '⟨end⟩' && res.query.ids.length > p ? toks.length - 1 : toks.length;
    const promptToks = toks.slice(1, p), complToks = toks.slice(p, end);
    const spell = promptToks.join('') + complToks.join('');
    if (spell !== (this.outPrompt.textContent ?? '') + (this.outCompletion.textContent ?? '')) return;
    const title = (off: number) => (i: number) => {
      const v = it.tokens[off + i];
      return `“${toks[off + i]}”: ${v === undefined ? '' : formatScore(v)}`;
    };
    this.outPrompt.replaceChildren(...markTokens(promptToks, sup.slice(1, p), title(1)));
    this.outCompletion.replaceChildren(...markTokens(complToks, sup.slice(p, end), title(p)));
  }

  private renderDetail(): void {
    const res = this.result;
    const d = this.detail;
    if (!res || !res.items.length) {
      d.hidden = true;
      return;
    }
    const it = res.items[this.selected];
    const toks: HeatToken[] = res.query.tokens.slice(1).map((text, j) => ({ text, value: it.tokens[j + 1], completion: j + 1 >= res.query.promptTokens }));
    const legend = h('div', { class: 'legend' },
      h('span', { class: 'sw' }), ' ',
      'Colour: how much predicting each token of your text (prompt, then the underlined completion) contributes to this training text\'s score — warm supports, cool opposes.');
    (legend.firstChild as HTMLElement).style.background = 'rgba(220, 60, 30, 0.8)';
    d.replaceChildren(
      h('h4', {}, 'Token influence on your text for ', h('span', { class: 'sel-ref' }, it.ref ?? it.id)),
      heatmap(toks),
      legend,
      h('h4', {}, 'Influence by layer'),
      layerChart(res.layerNames, it.layers, res.mode === 'dot' ? 'contribution to the raw score (bars add up to it)' : `each layer's own ${res.mode}`),
    );
    d.hidden = false;
  }
}
