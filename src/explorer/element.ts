// <influence-explorer>: type a prompt, let the model complete it, click "attribute" and see which training texts
// most influenced that completion (LoGra influence functions, computed in the page on WebGPU or the CPU backend),
// with the tokens that carried the influence and a per-layer breakdown. On a first visit the training-set index is
// read from index-url (queries work at once while a copy is saved in IndexedDB in the background) or built here;
// later visits open it from IndexedDB. Once open it is read into memory in the background (the first attribution
// then scans nothing).
//
// Attributes (and the matching camelCase properties): model-url, tokenizer-url, corpus-url, heldout-url, index-url,
// db-name, top-k, mode (dot | cosine), subset, backend (auto | webgpu | cpu), ep (wasm | webgpu), k-in, k-out,
// damping, max-new-tokens, strategy (greedy | sample), temperature, seed, prompt.
// Events (CustomEvent, bubbling and composed): `progress` {stage, done, total, message, etaSeconds?}, `result` (ExplorerResult),
// `error` {stage, kind, message, error}, `ready` {backend, indexSource, examples}.
// Host attributes for tests and styling: data-state (loading | indexing | ready | error), data-backend,
// data-index-source (indexeddb | built | served), data-resumed (rows a resumed build found stored), data-busy,
// data-stale (the results shown are for an earlier prompt or completion).
import type { BackendChoice } from '../kernels/backend.ts';
import type { ExecutionProvider } from '../runtime/ort.ts';
import type { LograIndex, ScoreMode } from '../logra/mod.ts';
import type { ByteBPETokenizer } from '../tokenizer/tokenizer.ts';
import type { CorpusRow } from './fetch.ts';
import type { IndexSource } from './index-source.ts';
import { forget, type SharedModel } from './shared.ts';
import { h } from './render.ts';
import { adoptStyles } from './styles.ts';
import { errorKind, errorMessage, InputError, type ErrorDetail } from './errors.ts';
import { StatusView, type ProgressDetail } from './status.ts';
import { attributeQuery, indexKey, SessionLoader, type AttributionQuery, type ExplorerResult } from './session.ts';
import { ResultsView } from './results-view.ts';

export { InputError, type ErrorDetail, type ErrorKind } from './errors.ts';
export { formatDuration, type ProgressDetail, type Stage } from './status.ts';
export type { ExplorerResult, ExplorerResultItem } from './session.ts';

const ATTRS = [
  'model-url', 'tokenizer-url', 'corpus-url', 'heldout-url', 'index-url', 'db-name', 'top-k', 'mode', 'subset', 'backend', 'ep',
  'k-in', 'k-out', 'damping', 'max-new-tokens', 'strategy', 'temperature', 'seed', 'prompt',
] as const;
/** attributes whose change after start re-initialises the component */
const RESTART = new Set(['model-url', 'tokenizer-url', 'corpus-url', 'heldout-url', 'index-url', 'db-name', 'subset', 'backend', 'ep', 'k-in', 'k-out', 'damping']);

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
    meta: HTMLElement;
  };
  /** the status line and the steps below it */
  private readonly status = new StatusView({
    failed: () => this.dataset.state === 'error',
    onProgress: (d) => this.emit<ProgressDetail>('progress', d),
  });
  /** the output box, the results and their detail */
  private readonly view = new ResultsView((m) => (this.mode = m));

  private started = false;
  private generation = 0;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private sm?: SharedModel;
  private tok?: ByteBPETokenizer;
  private rowsById = new Map<string, CorpusRow>();
  private index?: LograIndex;
  private last?: Generated;
  private lastQuery?: AttributionQuery;
  private busy = false;
  private abort?: AbortController;
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
      meta: h('div', { class: 'meta gen-meta' }),
    };
    const howto = h('details', { class: 'howto', part: 'howto' },
      h('summary', {}, 'How to read this'),
      h('ul', {},
        h('li', {}, 'Each result is a training text (here a Bible verse) the model learned from, ranked by its influence on your text: how much training on it made the model more likely to produce the completion (with a completion only the completion is scored; without one, the whole prompt).'),
        h('li', {}, 'The percentage is the text\'s share of the total positive influence of the texts shown, so the shown shares add up to 100 %. Hover it for the raw score. "—" marks a text that works against the completion.'),
        h('li', {}, 'Two rankings: influence (dot) is the raw effect, and favours texts with large gradients (long or unusual verses); similarity (cosine) divides it by both texts\' gradient sizes, so it finds the texts that pushed the model the same way as your text, usually the text it is recalling.'),
        h('li', {}, 'Highlighted in the completion: the tokens the selected training text supports most. Highlighted in each verse: its words that also appear where it supports your text.'),
        h('li', {}, 'The token map colours every token by the selected text\'s contribution (warm supports, cool opposes); the bar chart splits its score over the model\'s layers, block 1 being nearest the input.'),
        h('li', {}, 'Keys: ', kbd(mod, 'Enter'), ' generates, ', kbd(mod, 'Shift', 'Enter'), ' attributes (in the prompt box); ', kbd('↑'), ' ', kbd('↓'), ' ', kbd('Home'), ' ', kbd('End'), ' move through the results.'),
      ),
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
      this.view.output,
      this.els.meta,
      howto,
      this.view.box,
    );
    generate.addEventListener('click', () => void this.generate().catch(() => {}));
    attribute.addEventListener('click', () => this.attributeFromUi());
    stop.addEventListener('click', () => this.abort?.abort());
    strategy.addEventListener('change', () => (temperature.disabled = strategy.value !== 'sample'));
    temperature.disabled = true;
    prompt.addEventListener('input', () => this.promptChanged());
    prompt.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey)) return;
      e.preventDefault();
      if (e.shiftKey) {
        if (!this.els.attribute.disabled) this.attributeFromUi();
      } else if (!this.els.generate.disabled) void this.generate().catch(() => {});
    });
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
  get result(): ExplorerResult | undefined { return this.view.result; }
  /** the index's source once ready */
  get indexSource(): IndexSource | undefined { return (this.dataset.indexSource as IndexSource) || undefined; }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value) return;
    if (name === 'mode') {
      this.view.setMode(this.mode);
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
    this.toggleAttribute('data-stale', this.view.markStale(this.queryKey()));
  }

  private attributeFromUi(): void {
    void this.attribute()
      .then(() => this.view.focus())
      .catch(() => {});
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
      this.view.clear();
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
    const loader = new SessionLoader(this, {
      current: () => !stale(),
      progress: (stage, done, total, message) => this.status.progress(stage, done, total, message),
      finish: (stage, message) => this.status.finish(stage, message),
      engine: (se) => {
        this.dataset.backend = se.kind;
        const b = this.els.backendBanner;
        if (se.kind === 'cpu') {
          b.hidden = false;
          b.dataset.reason = se.fallbackReason ? 'no-webgpu' : 'requested';
          b.textContent = se.fallbackReason
            ? `WebGPU is not available: ${se.fallbackReason}. Running on the CPU backend (WebAssembly) instead — everything works, only slower.`
            : 'Running on the CPU backend (WebAssembly), as requested (backend="cpu").';
        } else b.hidden = true;
      },
      model: (sm, tok) => {
        this.tok = tok;
        this.sm = sm;
        this.dataset.state = 'indexing';
        this.setBusy(false);
      },
      indexed: (index, source) => {
        this.index = index;
        this.dataset.indexSource = source;
      },
      resumed: (rows) => (this.dataset.resumed = String(rows)),
      note: (m) => this.note(m),
    });
    try {
      const s = await loader.load();
      if (!s) return;
      this.rowsById = s.rowsById;
      this.status.idleSummary = `Ready: ${s.index.size} training texts ${{ indexeddb: 'opened from this browser', built: 'indexed in this browser', served: 'read from the server' }[s.source]}${s.se.kind === 'cpu' ? ', on the CPU' : ', on WebGPU'}. Type a prompt, then Generate and Attribute.`;
      this.dataset.state = 'ready';
      this.status.render();
      this.setBusy(false);
      this.readyResolve();
      this.emit('ready', { backend: s.se.kind, indexSource: s.source, examples: s.index.size });
    } catch (e) {
      if (stale()) return;
      this.dataset.state = 'error';
      this.status.idleSummary = '';
      if (loader.stage === 'index') forget(indexKey(this));
      const d = this.showError(loader.stage, e);
      this.readyReject(d.error);
      this.setBusy(false);
    }
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
    this.view.echo(prompt);
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
          this.view.setCompletion(tok.decode(g.completion));
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
      this.view.echo(prompt);
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
    const t0 = performance.now();
    try {
      this.status.progress('query', 0, 0, 'computing the gradient of your text…');
      const res = await attributeQuery(index, tok, this.rowsById, q, {
        topK: this.topK,
        mode,
        onProgress: (done, total) => this.status.progress('query', done, total, `comparing with the training texts: ${Math.floor((100 * done) / Math.max(1, total))} %`),
      });
      const secs = (performance.now() - t0) / 1000;
      this.status.idleSummary = `Attributed in ${secs.toFixed(1)} s: the ${res.items.length} most influential of ${index.size} training texts are below.`;
      this.status.finish('query', `${res.items.length} results in ${secs.toFixed(2)} s`);
      const hadFocus = this.view.hasFocus();
      this.view.show(res, q.key, this.index?.size ?? 0);
      this.updateStale();
      if (hadFocus) this.view.focus();
      this.emit<ExplorerResult>('result', res);
      return res;
    } catch (e) {
      this.showError('query', e);
      throw e;
    } finally {
      this.setBusy(false);
    }
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
