// <influence-explorer>: type a prompt, let the model complete it, click "attribute" and see which training texts
// most influenced that completion (LoGra influence functions, computed in the page on WebGPU or the CPU backend),
// with the tokens that carried the influence and a per-layer breakdown. The training-set index is imported from
// index-url or built here on the first visit and kept in IndexedDB; later visits open it from there.
//
// Attributes (and the matching camelCase properties): model-url, tokenizer-url, corpus-url, heldout-url, index-url,
// db-name, top-k, mode (dot | cosine), subset, backend (auto | webgpu | cpu), ep (wasm | webgpu), k-in, k-out,
// damping, max-new-tokens, strategy (greedy | sample), temperature, seed, prompt.
// Events (CustomEvent, bubbling and composed): `progress` {stage, done, total, message, etaSeconds?}, `result` (ExplorerResult),
// `error` {stage, kind, message, error}, `ready` {backend, indexSource, examples}.
// Host attributes for tests and styling: data-state (loading | indexing | ready | error), data-backend,
// data-index-source (indexeddb | built | imported), data-resumed (rows a resumed build found stored), data-busy,
// data-stale (the results shown are for an earlier prompt or completion).
import type { BackendChoice } from '../kernels/backend.ts';
import type { ExecutionProvider } from '../runtime/ort.ts';
import type { LograIndex, QueryResult, ScoreMode, TopItem } from '../logra/mod.ts';
import type { ByteBPETokenizer } from '../tokenizer/tokenizer.ts';
import { formatExample } from '../train/data.ts';
import { fetchText, parseCorpus, parseHeldOut, LoadError, type CorpusRow } from './fetch.ts';
import { acquireIndex, type IndexProgress, type IndexSource } from './index-source.ts';
import { forget, once, sharedEngine, sharedModel, sharedTokenizer, type SharedEngine, type SharedModel } from './shared.ts';
import { formatScore, formatShare, h, heatmap, layerChart, markTokens, markWords, shares, supportedTokens, supportedWords, type HeatToken } from './render.ts';
import { adoptStyles } from './styles.ts';
import { errorKind, errorMessage, InputError, type ErrorDetail } from './errors.ts';
import { StatusView, type ProgressDetail, type Stage } from './status.ts';

export { InputError, type ErrorDetail, type ErrorKind } from './errors.ts';
export { formatDuration, type ProgressDetail, type Stage } from './status.ts';


export interface ExplorerResultItem {
  rank: number;
  id: string;
  ref?: string;
  text: string;
  score: number;
  /** per layer, in `layerNames` order */
  layers: number[];
  /** per query token (same length as `query.tokens`): the contribution of predicting that token */
  tokens: (number | undefined)[];
}

export interface ExplorerResult {
  mode: ScoreMode;
  query: { text: string; promptTokens: number; tokens: string[]; ids: number[]; truncated: boolean };
  layerNames: string[];
  items: ExplorerResultItem[];
  /** the query's loss (nats, summed over the predicted completion tokens; over every token for a prompt alone) */
  loss: number;
}

const ATTRS = [
  'model-url', 'tokenizer-url', 'corpus-url', 'heldout-url', 'index-url', 'db-name', 'top-k', 'mode', 'subset', 'backend', 'ep',
  'k-in', 'k-out', 'damping', 'max-new-tokens', 'strategy', 'temperature', 'seed', 'prompt',
] as const;
/** attributes whose change after start re-initialises the component */
const RESTART = new Set(['model-url', 'tokenizer-url', 'corpus-url', 'heldout-url', 'index-url', 'db-name', 'subset', 'backend', 'ep', 'k-in', 'k-out', 'damping']);

/** Index progress hub: one acquisition per index key, every instance waiting on it sees its progress. */
/** memory for decoded index chunks kept between attributions (LograIndex.cacheBytes) */
const EXPLORER_CACHE_BYTES = 256 * 2 ** 20;

const hubs = new Map<string, Set<(p: IndexProgress) => void>>();
const lastProgress = new Map<string, IndexProgress>();

function intAttr(v: string | null, def: number, min = 0): number {
  const n = v === null || v.trim() === '' ? NaN : Number(v);
  return Number.isInteger(n) && n >= min ? n : def;
}
function numAttr(v: string | null, def: number): number {
  const n = v === null || v.trim() === '' ? NaN : Number(v);
  return Number.isFinite(n) ? n : def;
}

interface Generated {
  prompt: string;
  promptIds: number[];
  completion: number[];
  eot: boolean;
}

// The one-module build (vite.lib.config.ts) is also what onnxruntime-web's wasm threads load as their worker script
// (it spawns workers from its own module URL): there, without a DOM, the class must still evaluate.
const Base: typeof HTMLElement = typeof HTMLElement === 'undefined' ? (class {} as unknown as typeof HTMLElement) : HTMLElement;

export class InfluenceExplorer extends Base {
  static get observedAttributes(): readonly string[] {
    return ATTRS;
  }

  private readonly root: ShadowRoot;
  private readonly els: {
    backendBanner: HTMLElement;
    errorBanner: HTMLElement;
    noteBanner: HTMLElement;
    prompt: HTMLTextAreaElement;
    strategy: HTMLSelectElement;
    temperature: HTMLInputElement;
    maxNew: HTMLInputElement;
    generate: HTMLButtonElement;
    stop: HTMLButtonElement;
    attribute: HTMLButtonElement;
    attributeReason: HTMLElement;
    output: HTMLElement;
    outPrompt: HTMLElement;
    outCompletion: HTMLElement;
    meta: HTMLElement;
    modes: HTMLInputElement[];
    resultsBox: HTMLElement;
    staleNote: HTMLElement;
    results: HTMLOListElement;
    resultsMeta: HTMLElement;
    detail: HTMLElement;
  };

  private started = false;
  private generation = 0;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private se?: SharedEngine;
  private sm?: SharedModel;
  private tok?: ByteBPETokenizer;
  private rows: CorpusRow[] = [];
  private rowsById = new Map<string, CorpusRow>();
  private index?: LograIndex;
  private last?: Generated;
  private lastQuery?: { ids: number[]; promptTokens: number; text: string; truncated: boolean; targetMask?: number[]; key: string };
  private lastResult?: ExplorerResult;
  /** what the shown results were computed for (see queryKey) */
  private resultKey?: string;
  private selected = 0;
  private busy = false;
  private abort?: AbortController;
  private readonly status = new StatusView({
    failed: () => this.dataset.state === 'error',
    onProgress: (d) => this.emit<ProgressDetail>('progress', d),
  });
  private readyResolve!: () => void;
  private readyReject!: (e: unknown) => void;
  /** resolves when the model and the index are ready (rejects on an initialisation error) */
  ready: Promise<void>;

  constructor() {
    super();
    this.ready = this.newReady();
    this.root = this.attachShadow({ mode: 'open' });
    adoptStyles(this.root);
    const mac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform ?? '');
    const mod = mac ? '⌘' : 'Ctrl';
    const prompt = h('textarea', { part: 'prompt', class: 'prompt', 'aria-label': 'prompt', placeholder: 'Type a prompt, e.g. "And God said"', spellcheck: false });
    const strategy = h('select', { class: 'strategy', 'aria-label': 'decoding' }, h('option', { value: 'greedy' }, 'greedy'), h('option', { value: 'sample' }, 'sampled'));
    const temperature = h('input', { type: 'number', class: 'temperature', min: '0.05', max: '5', step: '0.05', value: '0.8', 'aria-label': 'temperature' });
    const maxNew = h('input', { type: 'number', class: 'max-new', min: '0', max: '256', step: '1', value: '24', 'aria-label': 'new tokens' });
    const generate = h('button', { type: 'button', class: 'generate', part: 'button generate', disabled: true, 'aria-keyshortcuts': mac ? 'Meta+Enter' : 'Control+Enter' }, 'Generate');
    const stop = h('button', { type: 'button', class: 'stop', disabled: true }, 'Stop');
    const attributeReason = h('span', { class: 'reason', id: 'attribute-reason', 'aria-live': 'polite' });
    const attribute = h('button', { type: 'button', class: 'attribute', part: 'button attribute', disabled: true, 'aria-keyshortcuts': mac ? 'Meta+Shift+Enter' : 'Control+Shift+Enter', 'aria-describedby': 'attribute-reason' }, 'Attribute');
    const kbd = (...keys: string[]) => h('span', { class: 'kbd' }, ...keys.flatMap((k, i) => [i ? '+' : '', h('kbd', {}, k)]));
    const modes = (['dot', 'cosine'] as const).map((m) => h('input', { type: 'radio', name: 'mode', value: m, checked: m === 'dot' }));
    const outPrompt = h('span', { class: 'prompt-echo' });
    const outCompletion = h('span', { class: 'completion', part: 'completion' });
    const output = h('div', { class: 'output', part: 'output', 'aria-live': 'polite' }, outPrompt, outCompletion);
    const results = h('ol', { class: 'results', part: 'results', role: 'listbox', 'aria-label': 'most influential training texts' });
    const staleNote = h('div', { class: 'stale-note', role: 'status', hidden: true });
    this.els = {
      backendBanner: h('div', { class: 'banner backend', part: 'backend-banner', role: 'status', hidden: true }),
      errorBanner: h('div', { class: 'banner error', part: 'error', role: 'alert', hidden: true }),
      noteBanner: h('div', { class: 'banner note', role: 'status', hidden: true }),
      prompt,
      strategy,
      temperature,
      maxNew,
      generate,
      stop,
      attribute,
      attributeReason,
      output,
      outPrompt,
      outCompletion,
      meta: h('div', { class: 'meta gen-meta' }),
      modes,
      resultsBox: h('section', { class: 'results-box', 'aria-label': 'results' }),
      staleNote,
      results,
      resultsMeta: h('span', { class: 'meta results-meta' }),
      detail: h('section', { class: 'detail', part: 'detail', hidden: true }),
    };
    const modeBox = h('span', { class: 'modes', role: 'radiogroup', 'aria-label': 'score mode' },
      h('label', { title: 'influence: how much training on the text raised the probability of your text' }, modes[0], ' influence (dot)'), ' ',
      h('label', { title: 'influence divided by both texts\' self-influence: favours texts that push in the same direction, not just strongly' }, modes[1], ' similarity (cosine)'));
    const howto = h('details', { class: 'howto', part: 'howto' },
      h('summary', {}, 'How to read this'),
      h('ul', {},
        h('li', {}, 'Each result is a training text (here a Bible verse) the model learned from, ranked by its influence on your text: how much training on it made the model more likely to produce the completion (with a completion only the completion is scored; without one, the whole prompt).'),
        h('li', {}, 'The percentage is the text\'s share of the total positive influence of the texts shown, so the shown shares add up to 100 %. Hover it for the raw score. "—" marks a text that works against the completion.'),
        h('li', {}, 'Highlighted in the completion: the tokens the selected training text supports most. Highlighted in each verse: its words that also appear where it supports your text.'),
        h('li', {}, 'The token map colours every token by the selected text\'s contribution (warm supports, cool opposes); the bar chart splits its score over the model\'s layers, block 1 being nearest the input.'),
        h('li', {}, 'Keys: ', kbd(mod, 'Enter'), ' generates, ', kbd(mod, 'Shift', 'Enter'), ' attributes (in the prompt box); ', kbd('↑'), ' ', kbd('↓'), ' ', kbd('Home'), ' ', kbd('End'), ' move through the results.'),
      ),
    );
    this.els.resultsBox.append(
      h('div', { class: 'results-head' }, h('h3', {}, 'Most influential training texts'), modeBox),
      h('div', { class: 'score-scale meta' }, 'Scores: share of the positive influence of the texts shown (hover for the raw score).'),
      this.els.resultsMeta,
      staleNote,
      results,
      this.els.detail,
    );
    this.root.append(
      this.els.backendBanner,
      this.els.errorBanner,
      this.els.noteBanner,
      this.status.el,
      prompt,
      h('div', { class: 'controls' },
        h('label', {}, 'decoding ', strategy), h('label', {}, 'temperature ', temperature), h('label', {}, 'new tokens ', maxNew),
        h('span', { class: 'action' }, generate, kbd(mod, 'Enter')), stop,
        h('span', { class: 'action' }, attribute, kbd(mod, 'Shift', 'Enter')), attributeReason),
      output,
      this.els.meta,
      howto,
      this.els.resultsBox,
    );
    generate.addEventListener('click', () => void this.generate().catch(() => {}));
    attribute.addEventListener('click', () => this.attributeFromUi());
    stop.addEventListener('click', () => this.abort?.abort());
    strategy.addEventListener('change', () => (temperature.disabled = strategy.value !== 'sample'));
    temperature.disabled = true;
    for (const r of modes) r.addEventListener('change', () => {
      if (r.checked) this.mode = r.value as ScoreMode;
    });
    prompt.addEventListener('input', () => this.promptChanged());
    prompt.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey)) return;
      e.preventDefault();
      if (e.shiftKey) {
        if (!this.els.attribute.disabled) this.attributeFromUi();
      } else if (!this.els.generate.disabled) void this.generate().catch(() => {});
    });
    results.addEventListener('keydown', (e) => this.onResultsKey(e));
  }
  // ---- attributes as properties
  private str(name: string, def: string): string {
    return this.getAttribute(name) ?? def;
  }
  get modelUrl(): string { return this.str('model-url', '/model/model.onnx'); }
  set modelUrl(v: string) { this.setAttribute('model-url', v); }
  get tokenizerUrl(): string { return this.str('tokenizer-url', '/tokenizer/kjv-bpe.json'); }
  set tokenizerUrl(v: string) { this.setAttribute('tokenizer-url', v); }
  get corpusUrl(): string { return this.str('corpus-url', '/corpus/kjv.jsonl'); }
  set corpusUrl(v: string) { this.setAttribute('corpus-url', v); }
  get heldoutUrl(): string | null { return this.getAttribute('heldout-url'); }
  set heldoutUrl(v: string | null) { v === null ? this.removeAttribute('heldout-url') : this.setAttribute('heldout-url', v); }
  get indexUrl(): string | null { return this.getAttribute('index-url'); }
  set indexUrl(v: string | null) { v === null ? this.removeAttribute('index-url') : this.setAttribute('index-url', v); }
  get dbName(): string { return this.str('db-name', 'influence-explorer'); }
  set dbName(v: string) { this.setAttribute('db-name', v); }
  get topK(): number { return intAttr(this.getAttribute('top-k'), 10, 1); }
  set topK(v: number) { this.setAttribute('top-k', String(v)); }
  get mode(): ScoreMode {
    const m = this.getAttribute('mode');
    return m === 'cosine' || m === 'l2' ? m : 'dot';
  }
  set mode(v: ScoreMode) { this.setAttribute('mode', v); }
  /** use only the first N training rows (0 = all) */
  get subset(): number { return intAttr(this.getAttribute('subset'), 0); }
  set subset(v: number) { this.setAttribute('subset', String(v)); }
  get backend(): BackendChoice {
    const b = this.getAttribute('backend');
    return b === 'webgpu' || b === 'cpu' ? b : 'auto';
  }
  set backend(v: BackendChoice) { this.setAttribute('backend', v); }
  get ep(): ExecutionProvider { return this.getAttribute('ep') === 'webgpu' ? 'webgpu' : 'wasm'; }
  get kIn(): number { return intAttr(this.getAttribute('k-in'), 8, 1); }
  get kOut(): number { return intAttr(this.getAttribute('k-out'), 8, 1); }
  get damping(): number { return numAttr(this.getAttribute('damping'), 0.1); }
  get prompt(): string { return this.els.prompt.value; }
  set prompt(v: string) {
    this.els.prompt.value = v;
    this.promptChanged();
  }
  /** the latest attribution */
  get result(): ExplorerResult | undefined { return this.lastResult; }
  /** the index's source once ready */
  get indexSource(): IndexSource | undefined { return (this.dataset.indexSource as IndexSource) || undefined; }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value) return;
    if (name === 'mode') {
      for (const r of this.els.modes) r.checked = r.value === this.mode;
      if (this.lastQuery && this.index && !this.busy) void this.runQuery().catch(() => {});
    } else if (name === 'top-k') {
      if (this.lastQuery && this.index && !this.busy) void this.runQuery().catch(() => {});
    } else if (name === 'prompt') this.prompt = value ?? '';
    else if (name === 'max-new-tokens') this.els.maxNew.value = String(intAttr(value, 24));
    else if (name === 'strategy') {
      this.els.strategy.value = value === 'sample' ? 'sample' : 'greedy';
      this.els.temperature.disabled = this.els.strategy.value !== 'sample';
    } else if (name === 'temperature') this.els.temperature.value = String(numAttr(value, 0.8));
    else if (RESTART.has(name) && this.started) {
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => this.start(), 0);
    }
  }

  connectedCallback(): void {
    if (!this.started) {
      this.started = true;
      // after the current task: attributes set right after insertion are seen
      setTimeout(() => this.start(), 0);
    }
  }

  private newReady(): Promise<void> {
    const p = new Promise<void>((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    p.catch(() => {});
    return p;
  }

  // ---- UI state helpers
  private emit<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }

  private showError(stage: ErrorDetail['stage'], e: unknown): ErrorDetail {
    const kind = errorKind(e);
    const message = errorMessage(kind, e);
    if (kind !== 'aborted') {
      this.els.errorBanner.hidden = false;
      this.els.errorBanner.dataset.kind = kind;
      this.els.errorBanner.textContent = message;
      this.els.errorBanner.title = (e as Error)?.message ?? String(e);
      if (kind !== 'input') console.error(e);
    }
    // an initialisation failure stops every step still loading; a generation or query failure only its own
    if (kind !== 'aborted') this.status.stop(stage === 'generate' || stage === 'query' ? [stage] : undefined);
    const d: ErrorDetail = { stage, kind, message, error: e };
    this.emit<ErrorDetail>('error', d);
    return d;
  }

  private note(message: string): void {
    this.els.noteBanner.hidden = false;
    this.els.noteBanner.textContent = message;
  }

  private setBusy(b: boolean): void {
    this.busy = b;
    this.toggleAttribute('data-busy', b);
    const modelOk = !!this.sm && !!this.tok;
    this.els.generate.disabled = b || !modelOk;
    const empty = this.nothingToAttribute();
    this.els.attribute.disabled = b || !modelOk || !this.index || empty;
    // why Attribute cannot be pressed (not while something runs: the status line says what)
    const reason = b ? '' : this.dataset.state === 'error' ? '' : !modelOk || !this.index ? 'available once the index is ready' : empty ? 'type a prompt to attribute' : '';
    this.els.attributeReason.textContent = reason;
    this.els.attributeReason.hidden = !reason;
    this.els.stop.disabled = !b;
  }

  /** The text Attribute would attribute now: the prompt, plus the completion generated from exactly this prompt. */
  private queryKey(): string {
    const prompt = this.els.prompt.value;
    const g = this.last && this.last.prompt === prompt ? this.last : undefined;
    return `${prompt}\u0000${g ? `${g.completion.join(',')}${g.eot ? '|eot' : ''}` : ''}`;
  }

  private nothingToAttribute(): boolean {
    const prompt = this.els.prompt.value;
    return prompt.trim() === '' && !(this.last && this.last.prompt === prompt && this.last.completion.length > 0);
  }

  /** The prompt box changed (typing, the `prompt` attribute or property). */
  private promptChanged(): void {
    this.setBusy(this.busy);
    this.updateStale();
  }

  /** Marks the shown results out of date when the prompt or completion differs from what they were computed for. */
  private updateStale(): void {
    const res = this.lastResult;
    const stale = !!res && this.resultKey !== this.queryKey();
    const was = this.hasAttribute('data-stale');
    this.toggleAttribute('data-stale', stale);
    this.els.resultsBox.toggleAttribute('data-stale', stale);
    this.els.staleNote.hidden = !stale;
    if (stale) {
      const shown = res!.query.text.length > 60 ? `${res!.query.text.slice(0, 57)}…` : res!.query.text;
      this.els.staleNote.textContent = `Out of date: these results are for “${shown}”. Press Attribute to update them.`;
    }
    if (stale !== was && res) this.renderOutput();
  }

  private attributeFromUi(): void {
    void this.attribute()
      .then(() => this.focusResults())
      .catch(() => {});
  }

  /** Moves keyboard focus to the selected result (after an attribution the user started). */
  private focusResults(): void {
    const li = this.els.results.children[this.selected] as HTMLElement | undefined;
    li?.focus();
  }

  /** The listbox keys (WAI-ARIA listbox, roving tabindex; selection follows focus). */
  private onResultsKey(e: KeyboardEvent): void {
    const n = this.els.results.children.length;
    if (!n) return;
    let i = this.selected;
    if (e.key === 'ArrowDown') i = Math.min(n - 1, i + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = n - 1;
    else if (e.key === 'Enter' || e.key === ' ') {
      const li = (e.target as HTMLElement).closest?.('li.result') as HTMLElement | null;
      if (li) i = [...this.els.results.children].indexOf(li);
    } else return;
    e.preventDefault();
    this.select(i, true);
  }

  // ---- initialisation
  private async start(): Promise<void> {
    const gen = ++this.generation;
    const stale = () => gen !== this.generation;
    if (this.dataset.state) {
      // a restart: reset what depended on the old settings
      this.ready = this.newReady();
      this.index = undefined;
      this.sm = undefined;
      this.lastQuery = undefined;
      this.lastResult = undefined;
      this.resultKey = undefined;
      this.els.results.replaceChildren();
      this.els.resultsMeta.textContent = '';
      this.els.detail.hidden = true;
      this.updateStale();
      this.status.stop();
    }
    this.status.idleSummary = '';
    this.dataset.state = 'loading';
    delete this.dataset.indexSource;
    delete this.dataset.resumed;
    this.els.errorBanner.hidden = true;
    this.els.noteBanner.hidden = true;
    this.setBusy(false);
    let stage: ErrorDetail['stage'] = 'engine';
    try {
      // engine (one per page and backend choice)
      this.status.progress('engine', 0, 0, 'starting…');
      const choice = this.backend, ep = this.ep;
      const se = await sharedEngine(choice, ep);
      if (stale()) return;
      this.se = se;
      this.dataset.backend = se.kind;
      this.status.finish('engine', se.description);
      const b = this.els.backendBanner;
      if (se.kind === 'cpu') {
        b.hidden = false;
        b.dataset.reason = se.fallbackReason ? 'no-webgpu' : 'requested';
        b.textContent = se.fallbackReason
          ? `WebGPU is not available: ${se.fallbackReason}. Running on the CPU backend (WebAssembly) instead — everything works, only slower.`
          : 'Running on the CPU backend (WebAssembly), as requested (backend="cpu").';
      } else b.hidden = true;

      // model, tokenizer, corpus in parallel
      const engineKey = `${choice}|${ep}`;
      stage = 'model';
      const modelUrl = this.modelUrl;
      const modelP = sharedModel(
        se,
        engineKey,
        modelUrl,
        (done, total) => !stale() && this.status.progress('model', done, total ?? 0, `downloading ${(done / 2 ** 20).toFixed(1)}${total ? ` / ${(total / 2 ** 20).toFixed(1)}` : ''} MB`),
        () => !stale() && this.status.progress('model', 0, 0, 'preparing the model for attribution…'),
      );
      this.status.progress('model', 0, 0, 'loading…');
      this.status.progress('tokenizer', 0, 0, 'loading…');
      const tokP = sharedTokenizer(this.tokenizerUrl);
      this.status.progress('corpus', 0, 0, 'loading…');
      const corpusP = this.loadRows((d, t) => !stale() && this.status.progress('corpus', d, t ?? 0, `downloading ${(d / 2 ** 20).toFixed(1)} MB`));
      const [tok, sm] = await Promise.all([
        tokP.then((t) => {
          if (!stale()) this.status.finish('tokenizer', `${t.vocabSize} tokens`);
          return t;
        }),
        modelP.then((m) => {
          if (!stale()) this.status.finish('model', `${m.model.layers.length} layers tapped, context ${m.contextLength} tokens`);
          return m;
        }),
      ]);
      if (stale()) return;
      this.tok = tok;
      this.sm = sm;
      this.dataset.state = 'indexing';
      this.setBusy(false);
      stage = 'corpus';
      const rows = await corpusP;
      if (stale()) return;
      this.rows = rows;
      this.rowsById = new Map(rows.map((r) => [r.id, r]));
      this.status.finish('corpus', `${rows.length} training texts${this.subset ? ` (first ${this.subset})` : ''}, each truncated to ${sm.contextLength} tokens`);
      if (!rows.length) throw new LoadError(`${this.corpusUrl} holds no training texts`);

      // the index (one acquisition per page and index)
      stage = 'index';
      const key = `${engineKey}|${modelUrl}|${this.dbName}`;
      const listener = (p: IndexProgress) => !stale() && this.onIndexProgress(p);
      let hub = hubs.get(key);
      if (!hub) hubs.set(key, (hub = new Set()));
      hub.add(listener);
      const seen = lastProgress.get(key);
      if (seen) listener(seen);
      this.status.progress('index', 0, 0, 'opening…');
      let acquired;
      try {
        const ctx = sm.contextLength;
        acquired = await once(key, () =>
          acquireIndex({
            engine: se.engine,
            model: sm.model,
            dbName: this.dbName,
            ids: rows.map((r) => r.id),
            examples: async () => {
              const eot = tok.endOfTextId;
              return rows.map((r) => ({ id: r.id, input_ids: formatExample(tok.encode(r.text), { eot, maxLen: ctx }) }));
            },
            indexUrl: this.indexUrl ?? undefined,
            kIn: this.kIn,
            kOut: this.kOut,
            damping: this.damping,
            onProgress: (p) => {
              lastProgress.set(key, p);
              for (const l of hubs.get(key) ?? []) l(p);
            },
            onNote: (m) => !stale() && this.note(m),
          }),
        );
      } finally {
        hub.delete(listener);
      }
      if (stale()) return;
      this.index = acquired.index;
      // repeated attributions read the decoded gradients from memory instead of IndexedDB (128 MB for the demo's
      // 29,563 texts at k 8x8; larger indexes keep what fits and read the rest)
      this.index.cacheBytes = EXPLORER_CACHE_BYTES;
      this.dataset.indexSource = acquired.source;
      const how = { indexeddb: 'opened from this browser (IndexedDB)', built: 'built in this browser, saved to IndexedDB', imported: 'imported into IndexedDB' }[acquired.source];
      const resumed = this.dataset.resumed && acquired.source === 'built' ? ` (resumed: ${this.dataset.resumed} were already stored)` : '';
      this.status.finish('index', `${acquired.index.size} texts, ${how}${resumed}`);
      if (acquired.source === 'indexeddb') this.status.finish('fit', 'stored with the index');
      this.status.idleSummary = `Ready: ${acquired.index.size} training texts ${{ indexeddb: 'opened from this browser', built: 'indexed in this browser', imported: 'imported into this browser' }[acquired.source]}${se.kind === 'cpu' ? ', on the CPU' : ', on WebGPU'}. Type a prompt, then Generate and Attribute.`;
      this.dataset.state = 'ready';
      this.status.render();
      this.setBusy(false);
      this.readyResolve();
      this.emit('ready', { backend: se.kind, indexSource: acquired.source, examples: acquired.index.size });
    } catch (e) {
      if (stale()) return;
      this.dataset.state = 'error';
      this.status.idleSummary = '';
      if (stage === 'index') forget(`${this.backend}|${this.ep}|${this.modelUrl}|${this.dbName}`);
      const d = this.showError(stage, e);
      this.readyReject(d.error);
      this.setBusy(false);
    }
  }

  private onIndexProgress(p: IndexProgress): void {
    if (p.stage === 'import') this.status.progress('index', p.done, p.total, `importing the prebuilt index: ${Math.floor((100 * p.done) / Math.max(1, p.total))} %`);
    else if (p.stage === 'log') {
      if (p.skipped) this.dataset.resumed = String(p.skipped);
      const resumed = p.skipped ? ` (resumed: ${p.skipped} already stored)` : '';
      this.status.progress('index', p.done, p.total, `${p.done} / ${p.total} training texts${resumed}`);
    } else {
      if (p.done === 0) this.status.finish('index', 'training texts indexed');
      this.status.progress('fit', p.done, p.total, `${p.done} / ${p.total} layers`);
    }
  }

  /** The training rows: corpus minus held-out ids, first `subset`. */
  private async loadRows(onBytes: (d: number, t: number | undefined) => void): Promise<CorpusRow[]> {
    const url = this.corpusUrl;
    const [text, heldout] = await Promise.all([
      fetchText(url, 'corpus', onBytes),
      (async () => {
        const u = this.heldoutUrl;
        if (!u) return new Set<string>();
        const r = await fetch(u);
        if (!r.ok) throw new LoadError(`could not fetch the held-out list at ${u}: HTTP ${r.status}`);
        return parseHeldOut(await r.json(), u);
      })(),
    ]);
    let rows = parseCorpus(text, url).filter((r) => !heldout.has(r.id));
    if (this.subset > 0) rows = rows.slice(0, this.subset);
    return rows;
  }

  // ---- generation
  /** Completes the prompt (streaming into the output); resolves with the completion text. */
  async generate(): Promise<string> {
    if (this.busy) throw new Error('busy');
    if (!this.sm || !this.tok) await this.modelReady();
    const sm = this.sm!, tok = this.tok!;
    const prompt = this.els.prompt.value;
    const eot = tok.endOfTextId;
    const promptIds = tok.encode(prompt);
    const g: Generated = { prompt, promptIds, completion: [], eot: false };
    this.last = g;
    this.els.errorBanner.hidden = true;
    this.els.outPrompt.textContent = prompt;
    this.els.outCompletion.textContent = '';
    this.updateStale();
    const max = intAttr(this.els.maxNew.value, 24);
    const sample = this.els.strategy.value === 'sample';
    const temperature = Math.max(0.05, numAttr(this.els.temperature.value, 0.8));
    const seedAttr = this.getAttribute('seed');
    this.abort = new AbortController();
    this.setBusy(true);
    this.status.progress('generate', 0, max, 'starting…');
    const t0 = performance.now();
    try {
      const r = await sm.lm.generate([eot, ...promptIds], {
        maxNewTokens: max,
        strategy: sample ? 'sample' : 'greedy',
        temperature,
        seed: seedAttr !== null && Number.isInteger(Number(seedAttr)) ? Number(seedAttr) : undefined,
        eotId: eot,
        signal: this.abort.signal,
        onToken: async (id, i) => {
          g.completion.push(id);
          this.els.outCompletion.textContent = tok.decode(g.completion);
          if (i === 0) this.updateStale();
          this.status.progress('generate', i + 1, max, `${i + 1} / ${max} tokens`);
          // let the page paint between tokens
          await new Promise((res) => setTimeout(res, 0));
        },
      });
      g.eot = r.stopReason === 'eot';
      const secs = (performance.now() - t0) / 1000;
      this.status.idleSummary = `Generated ${g.completion.length} tokens in ${secs.toFixed(1)} s${g.eot ? ' (end of text)' : ''}. Attribute finds the training texts behind them.`;
      this.status.finish('generate', `${g.completion.length} tokens in ${secs.toFixed(1)} s${g.eot ? ' (end of text)' : ''}`);
      this.updateStale();
      this.els.meta.textContent = `${sample ? `sampled, temperature ${temperature}, seed ${r.seed}` : 'greedy'}; ${g.completion.length} new tokens${g.eot ? ', stopped at end of text' : ''}`;
      return tok.decode(g.completion);
    } catch (e) {
      const d = this.showError('generate', e);
      if (d.kind === 'aborted') this.status.finish('generate', `stopped after ${g.completion.length} tokens`);
      this.updateStale();
      throw e;
    } finally {
      this.abort = undefined;
      this.setBusy(false);
    }
  }

  private async modelReady(): Promise<void> {
    // wait for the model (not the index)
    while (!this.sm || !this.tok) {
      if (this.dataset.state === 'error') throw new Error('the model failed to load');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // ---- attribution
  /** Attributes prompt + completion (the last generation if the prompt is unchanged, else the prompt alone). */
  async attribute(): Promise<ExplorerResult> {
    if (this.busy) throw new Error('busy');
    await this.ready;
    const tok = this.tok!, sm = this.sm!;
    const prompt = this.els.prompt.value;
    const eot = tok.endOfTextId;
    if (this.nothingToAttribute()) {
      const e = new InputError('Nothing to attribute: type a prompt first (and Generate to attribute a completion too).');
      this.showError('query', e);
      this.updateStale();
      throw e;
    }
    const fresh = !(this.last && this.last.prompt === prompt);
    const g = fresh ? { prompt, promptIds: tok.encode(prompt), completion: [], eot: false } : this.last!;
    if (fresh) {
      // the prompt changed since the last generation (or none ran): the prompt alone is attributed
      this.last = undefined;
      this.els.outPrompt.textContent = prompt;
      this.els.outCompletion.textContent = '';
      this.els.meta.textContent = 'no completion: attributing the prompt alone';
    }
    let ids = [eot, ...g.promptIds, ...g.completion, ...(g.eot ? [eot] : [])];
    const truncated = ids.length > sm.contextLength;
    if (truncated) ids = ids.slice(0, sm.contextLength);
    if (ids.length < 2) {
      const e = new InputError('Nothing to attribute: the prompt has no tokens. Type a prompt first.');
      this.showError('query', e);
      throw e;
    }
    const promptTokens = 1 + g.promptIds.length;
    // with a completion, the query's loss (so its gradient and every score) covers the completion's tokens only, as
    // prompt/completion training data does; a prompt alone is attributed on all of its tokens
    const targetMask = !fresh && ids.length > promptTokens ? ids.map((_, i) => (i >= promptTokens ? 1 : 0)) : undefined;
    this.lastQuery = { ids, promptTokens, text: prompt + tok.decode(g.completion), truncated, targetMask, key: this.queryKey() };
    return this.runQuery();
  }

  private async runQuery(): Promise<ExplorerResult> {
    const q = this.lastQuery!, index = this.index!, tok = this.tok!;
    const mode = this.mode;
    this.setBusy(true);
    this.els.errorBanner.hidden = true;
    this.status.progress('query', 0, 0, 'computing the gradient of your text…');
    const t0 = performance.now();
    try {
      const r: QueryResult = await index.query([{ id: 'query', input_ids: q.ids, ...(q.targetMask ? { target_mask: q.targetMask } : {}) }], {
        topK: this.topK,
        mode,
        perLayer: true,
        perToken: true,
        scores: false,
        onProgress: (e) => this.status.progress('query', e.done, e.total, `comparing with the training texts: ${Math.floor((100 * e.done) / Math.max(1, e.total))} %`),
      });
      const secs = (performance.now() - t0) / 1000;
      this.status.idleSummary = `Attributed in ${secs.toFixed(1)} s: the ${r.top[0].length} most influential of ${index.size} training texts are below.`;
      this.status.finish('query', `${r.top[0].length} results in ${secs.toFixed(2)} s`);
      const tokens = q.ids.map((id, i) => (i === 0 ? '' : id === tok.endOfTextId ? '⟨end⟩' : tok.decode([id])));
      const res: ExplorerResult = {
        mode,
        query: { text: q.text, promptTokens: q.promptTokens, tokens, ids: q.ids, truncated: q.truncated },
        layerNames: r.layerNames,
        loss: r.losses[0],
        items: r.top[0].map((t: TopItem, i) => {
          const row = this.rowsById.get(t.id);
          // tokens[t] is position t's share (where token t + 1 is predicted): shown on the predicted token
          const per = t.tokens ?? [];
          return {
            rank: i + 1,
            id: t.id,
            ref: row?.ref,
            text: row?.text ?? '(text not in the loaded corpus)',
            score: t.score,
            layers: t.layers ?? [],
            tokens: q.ids.map((_, j) => (j === 0 ? undefined : per[j - 1])),
          };
        }),
      };
      const hadFocus = this.els.results.contains(this.root.activeElement);
      this.lastResult = res;
      this.resultKey = q.key;
      this.selected = 0;
      this.renderResults();
      this.updateStale();
      if (hadFocus) this.focusResults();
      this.emit<ExplorerResult>('result', res);
      return res;
    } catch (e) {
      this.showError('query', e);
      throw e;
    } finally {
      this.setBusy(false);
    }
  }

  /** Which query tokens item `it` supports: counted on the completion when there is one, else on the whole prompt. */
  private supported(res: ExplorerResult, it: ExplorerResultItem): boolean[] {
    const from = res.query.ids.length > res.query.promptTokens ? res.query.promptTokens : 1;
    return supportedTokens(it.tokens, from);
  }

  private renderResults(): void {
    const res = this.lastResult!;
    const size = this.index?.size ?? 0;
    this.els.resultsMeta.textContent = `${res.mode === 'dot' ? 'influence (dot)' : `similarity (${res.mode})`} over ${size} training texts; the model's loss on your text ${formatScore(res.loss)} nats${res.query.truncated ? `; your text was cut to the model's ${res.query.ids.length}-token context` : ''}`;
    const share = shares(res.items.map((it) => it.score));
    const items = res.items.map((it, i) => {
      const words = supportedWords(res.query.tokens, this.supported(res, it));
      const pct = formatShare(share[i]);
      const raw = `raw ${res.mode} score: ${formatScore(it.score)}`;
      const bar = h('span', { class: 'share-bar', 'aria-hidden': 'true' }, h('span', {}));
      (bar.firstChild as HTMLElement).style.width = `${((share[i] ?? 0) * 100).toFixed(1)}%`;
      const li = h('li', { class: 'result', role: 'option', id: `result-${i}`, 'data-id': it.id, 'data-score': String(it.score), 'data-rank': it.rank, 'aria-selected': i === this.selected ? 'true' : 'false', tabindex: i === this.selected ? 0 : -1 },
        h('span', { class: 'rank' }, `${it.rank}.`),
        h('span', { class: 'ref' }, it.ref ? `${it.ref} · ${it.id}` : it.id),
        h('span', { class: 'score', title: share[i] === undefined ? `${raw} (works against your text)` : `${raw}; ${pct} of the positive influence of the ${res.items.length} texts shown`, 'data-share': share[i] === undefined ? undefined : share[i]!.toFixed(6) }, pct),
        bar,
        h('span', { class: 'text' }, ...markWords(it.text, words)),
      );
      li.addEventListener('click', () => this.select(i, true));
      return li;
    });
    this.els.results.replaceChildren(...items);
    this.renderDetail();
    this.renderOutput();
  }

  /** Selects result i (and focuses it when the user moved there). */
  private select(i: number, focus: boolean): void {
    const lis = [...this.els.results.children] as HTMLElement[];
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

  /**
   * The prompt and completion in the output box; with current results, the tokens the selected training text
   * supports are marked (OLMoTrace-style spans). Plain text when the results are out of date or the tokens do not
   * spell the text (a character split across tokens).
   */
  private renderOutput(): void {
    const res = this.lastResult;
    if (!res || this.hasAttribute('data-stale') || !res.items.length) {
      for (const el of [this.els.outPrompt, this.els.outCompletion]) if (el.querySelector('mark')) el.textContent = el.textContent;
      return;
    }
    const it = res.items[this.selected];
    const sup = this.supported(res, it);
    const toks = res.query.tokens;
    const p = res.query.promptTokens;
    const end = toks[toks.length - 1] === '⟨end⟩' && res.query.ids.length > p ? toks.length - 1 : toks.length;
    const promptToks = toks.slice(1, p), complToks = toks.slice(p, end);
    const spell = promptToks.join('') + complToks.join('');
    if (spell !== (this.els.outPrompt.textContent ?? '') + (this.els.outCompletion.textContent ?? '')) return;
    const title = (off: number) => (i: number) => {
      const v = it.tokens[off + i];
      return `“${toks[off + i]}”: ${v === undefined ? '' : formatScore(v)}`;
    };
    this.els.outPrompt.replaceChildren(...markTokens(promptToks, sup.slice(1, p), title(1)));
    this.els.outCompletion.replaceChildren(...markTokens(complToks, sup.slice(p, end), title(p)));
  }

  private renderDetail(): void {
    const res = this.lastResult;
    const d = this.els.detail;
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

export function defineInfluenceExplorer(name = 'influence-explorer'): void {
  if (typeof customElements === 'undefined') return; // a worker (see Base above)
  if (!customElements.get(name)) customElements.define(name, name === 'influence-explorer' ? InfluenceExplorer : class extends InfluenceExplorer {});
}

declare global {
  interface HTMLElementTagNameMap {
    'influence-explorer': InfluenceExplorer;
  }
}
