// What the explorer loads and computes, without a DOM: the engine, model, tokenizer and training texts, the index
// (opened from IndexedDB, served over HTTP while a copy is saved in the background, or built; one acquisition per
// page and index, whose progress every waiting element sees; then read into memory in the background, so the first
// attribution scans nothing), and an attribution over it as an ExplorerResult.
import type { BackendChoice } from '../kernels/backend.ts';
import type { ExecutionProvider } from '../runtime/ort.ts';
import type { LograIndex, QueryResult, ScoreMode, TopItem } from '../logra/mod.ts';
import type { ByteBPETokenizer } from '../tokenizer/tokenizer.ts';
import { formatExample } from '../train/data.ts';
import { fetchText, parseCorpus, parseHeldOut, LoadError, type CorpusRow } from './fetch.ts';
import { acquireIndex, type IndexProgress, type IndexSource } from './index-source.ts';
import { once, sharedEngine, sharedModel, sharedTokenizer, type SharedEngine, type SharedModel } from './shared.ts';
import type { Stage } from './status.ts';

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

/** The element's settings (read when each step needs them, as the element's properties). */
export interface SessionSettings {
  readonly backend: BackendChoice;
  readonly ep: ExecutionProvider;
  readonly modelUrl: string;
  readonly tokenizerUrl: string;
  readonly corpusUrl: string;
  readonly heldoutUrl: string | null;
  readonly indexUrl: string | null;
  readonly dbName: string;
  /** use only the first N training rows (0 = all) */
  readonly subset: number;
  readonly kIn: number;
  readonly kOut: number;
  readonly damping: number;
}

/** What the loading reports as it goes (nothing once `current` says a newer start replaced it). */
export interface SessionHooks {
  current(): boolean;
  progress(stage: Stage, done: number, total: number, message: string): void;
  finish(stage: Stage, message: string): void;
  /** the compute backend is up */
  engine(se: SharedEngine): void;
  /** the model and tokenizer are loaded: generation can start before the index is ready */
  model(sm: SharedModel, tok: ByteBPETokenizer): void;
  /** the index is open (before its steps are reported finished) */
  indexed(index: LograIndex, source: IndexSource): void;
  /** a resumed index build found this many rows already stored */
  resumed(rows: number): void;
  note(message: string): void;
}

export interface Session {
  se: SharedEngine;
  sm: SharedModel;
  tok: ByteBPETokenizer;
  rowsById: Map<string, CorpusRow>;
  index: LograIndex;
  source: IndexSource;
}

/** An acquired index and what runs on after it, shared by every element on the index's key. */
interface Acquired {
  index: LograIndex;
  source: IndexSource;
}

/** memory for decoded index chunks kept between attributions (LograIndex.cacheBytes) */
const EXPLORER_CACHE_BYTES = 256 * 2 ** 20;

/** Index progress hub: one acquisition per index key, every instance waiting on it sees its progress. */
const hubs = new Map<string, Set<(p: IndexProgress) => void>>();
const lastProgress = new Map<string, IndexProgress>();

/** The index key of these settings (shared.ts `once`): the engine, the model and the IndexedDB name. */
export function indexKey(s: SessionSettings): string {
  return `${s.backend}|${s.ep}|${s.modelUrl}|${s.dbName}`;
}

/** Loads everything an element needs, reporting progress; `stage` says which step a failure came from. */
export class SessionLoader {
  /** the step running now (where a failure happened) */
  stage: Stage = 'engine';
  /** rows a resumed build found stored */
  private skipped?: number;

  constructor(private readonly s: SessionSettings, private readonly hooks: SessionHooks) {}

  /** The session, or undefined when a newer start replaced this one. */
  async load(): Promise<Session | undefined> {
    const { s, hooks } = this;
    const stale = () => !hooks.current();
    const progress = (stage: Stage, done: number, total: number, message: string) => {
      if (!stale()) hooks.progress(stage, done, total, message);
    };
    const finish = (stage: Stage, message: string) => {
      if (!stale()) hooks.finish(stage, message);
    };
    // engine (one per page and backend choice)
    this.stage = 'engine';
    progress('engine', 0, 0, 'starting…');
    const choice = s.backend, ep = s.ep;
    const se = await sharedEngine(choice, ep);
    if (stale()) return undefined;
    hooks.engine(se);
    finish('engine', se.description);

    // model, tokenizer, corpus in parallel
    const engineKey = `${choice}|${ep}`;
    this.stage = 'model';
    const modelUrl = s.modelUrl;
    const modelP = sharedModel(
      se,
      engineKey,
      modelUrl,
      (done, total) => progress('model', done, total ?? 0, `downloading ${(done / 2 ** 20).toFixed(1)}${total ? ` / ${(total / 2 ** 20).toFixed(1)}` : ''} MB`),
      () => progress('model', 0, 0, 'preparing the model for attribution…'),
    );
    progress('model', 0, 0, 'loading…');
    progress('tokenizer', 0, 0, 'loading…');
    const tokP = sharedTokenizer(s.tokenizerUrl);
    progress('corpus', 0, 0, 'loading…');
    const corpusP = loadRows(s, (d, t) => progress('corpus', d, t ?? 0, `downloading ${(d / 2 ** 20).toFixed(1)} MB`));
    const [tok, sm] = await Promise.all([
      tokP.then((t) => {
        finish('tokenizer', `${t.vocabSize} tokens`);
        return t;
      }),
      modelP.then((m) => {
        finish('model', `${m.model.layers.length} layers tapped, context ${m.contextLength} tokens`);
        return m;
      }),
    ]);
    if (stale()) return undefined;
    hooks.model(sm, tok);
    this.stage = 'corpus';
    const rows = await corpusP;
    if (stale()) return undefined;
    const rowsById = new Map(rows.map((r) => [r.id, r]));
    finish('corpus', `${rows.length} training texts${s.subset ? ` (first ${s.subset})` : ''}, each truncated to ${sm.contextLength} tokens`);
    if (!rows.length) throw new LoadError(`${s.corpusUrl} holds no training texts`);

    // the index (one acquisition per page and index)
    this.stage = 'index';
    const key = `${engineKey}|${modelUrl}|${s.dbName}`;
    // the listener stays after the acquisition (the background steps report through it) until a newer start replaces
    // this one
    const listener = (p: IndexProgress): void => {
      if (stale()) hubs.get(key)?.delete(listener);
      else this.onIndexProgress(p);
    };
    let hub = hubs.get(key);
    if (!hub) hubs.set(key, (hub = new Set()));
    hub.add(listener);
    const seen = lastProgress.get(key);
    if (seen) listener(seen);
    progress('index', 0, 0, 'opening…');
    let acquired;
    try {
      const ctx = sm.contextLength;
      const emit = (p: IndexProgress) => {
        lastProgress.set(key, p);
        for (const l of hubs.get(key) ?? []) l(p);
      };
      acquired = await once(key, async (): Promise<Acquired> => {
        // a served index is copied into IndexedDB after it is read into memory (the copy would compete with the read,
        // which an attribution clicked meanwhile shares)
        let warmSettled!: () => void;
        const saveAfter = new Promise<void>((r) => (warmSettled = r));
        const a = await acquireIndex({
          engine: se.engine,
          model: sm.model,
          dbName: s.dbName,
          ids: rows.map((r) => r.id),
          examples: async () => {
            const eot = tok.endOfTextId;
            return rows.map((r) => ({ id: r.id, input_ids: formatExample(tok.encode(r.text), { eot, maxLen: ctx }) }));
          },
          indexUrl: s.indexUrl ?? undefined,
          kIn: s.kIn,
          kOut: s.kOut,
          damping: s.damping,
          onProgress: emit,
          onNote: (m) => !stale() && hooks.note(m),
          saveAfter,
        });
        // repeated attributions read the decoded gradients from memory instead of IndexedDB or HTTP (129 MB of f32
        // for the demo's 29,563 texts at 17 layers of k 8x8; larger indexes keep what fits and read the rest)
        a.index.cacheBytes = EXPLORER_CACHE_BYTES;
        // read into memory now, in the background: an attribution meanwhile shares its reads (LograIndex.warm), and
        // later ones scan nothing
        const warmed = a.index.warm({ onProgress: (e) => emit({ stage: 'warm', done: e.done, total: e.total }) }).then(
          () => true,
          (e: unknown) => {
            if (!stale()) hooks.note(`could not read the index into memory ahead of time (${(e as Error).message}); attributions read it as they go`);
            return false;
          },
        );
        void warmed.then(warmSettled);
        void a.saved?.then((ok) => ok && emit({ stage: 'save', done: 1, total: 1 }));
        return { index: a.index, source: a.source };
      });
    } catch (e) {
      hub.delete(listener);
      throw e;
    }
    if (stale()) return undefined;
    const index = acquired.index;
    hooks.indexed(index, acquired.source);
    const how = { indexeddb: 'opened from this browser (IndexedDB)', built: 'built in this browser, saved to IndexedDB', served: 'read from the server (a copy is saved in this browser in the background)' }[acquired.source];
    const resumed = this.skipped && acquired.source === 'built' ? ` (resumed: ${this.skipped} were already stored)` : '';
    hooks.finish('index', `${index.size} texts, ${how}${resumed}`);
    if (acquired.source === 'indexeddb') hooks.finish('fit', 'stored with the index');
    return { se, sm, tok, rowsById, index, source: acquired.source };
  }

  private onIndexProgress(p: IndexProgress): void {
    const { hooks } = this;
    const pct = `${Math.floor((100 * p.done) / Math.max(1, p.total))} %`;
    if (p.stage === 'save') {
      if (p.done >= p.total && p.total > 0) hooks.finish('save', 'saved: later visits open it from this browser');
      else hooks.progress('save', p.done, p.total, `${pct} (attributions already work)`);
    } else if (p.stage === 'warm') {
      if (p.done >= p.total && p.total > 0) hooks.finish('warm', 'the index is in memory: attributions read nothing more');
      else hooks.progress('warm', p.done, p.total, `${pct} (attributions already work)`);
    }
    else if (p.stage === 'log') {
      if (p.skipped) {
        this.skipped = p.skipped;
        hooks.resumed(p.skipped);
      }
      const resumed = p.skipped ? ` (resumed: ${p.skipped} already stored)` : '';
      hooks.progress('index', p.done, p.total, `${p.done} / ${p.total} training texts${resumed}`);
    } else {
      if (p.done === 0) hooks.finish('index', 'training texts indexed');
      hooks.progress('fit', p.done, p.total, `${p.done} / ${p.total} layers`);
    }
  }
}

/** The training rows: corpus minus held-out ids, first `subset`. */
async function loadRows(s: SessionSettings, onBytes: (d: number, t: number | undefined) => void): Promise<CorpusRow[]> {
  const url = s.corpusUrl;
  const [text, heldout] = await Promise.all([
    fetchText(url, 'corpus', onBytes),
    (async () => {
      const u = s.heldoutUrl;
      if (!u) return new Set<string>();
      const r = await fetch(u);
      if (!r.ok) throw new LoadError(`could not fetch the held-out list at ${u}: HTTP ${r.status}`);
      return parseHeldOut(await r.json(), u);
    })(),
  ]);
  let rows = parseCorpus(text, url).filter((r) => !heldout.has(r.id));
  if (s.subset > 0) rows = rows.slice(0, s.subset);
  return rows;
}

/** A query as Attribute prepared it: the tokens (with the leading end-of-text), where the completion starts. */
export interface AttributionQuery {
  ids: number[];
  promptTokens: number;
  text: string;
  truncated: boolean;
  /** with a completion: 1 on the completion's tokens, the only ones scored */
  targetMask?: number[];
  /** what the results are for (the element's query key) */
  key: string;
}

/** The top-k training texts for `q`, with per-layer and per-token scores, as the element shows and emits them. */
export async function attributeQuery(
  index: LograIndex,
  tok: ByteBPETokenizer,
  rowsById: Map<string, CorpusRow>,
  q: AttributionQuery,
  o: { topK: number; mode: ScoreMode; onProgress: (done: number, total: number) => void },
): Promise<ExplorerResult> {
  const r: QueryResult = await index.query([{ id: 'query', input_ids: q.ids, ...(q.targetMask ? { target_mask: q.targetMask } : {}) }], {
    topK: o.topK,
    mode: o.mode,
    perLayer: true,
    perToken: true,
    scores: false,
    onProgress: (e) => o.onProgress(e.done, e.total),
  });
  const tokens = q.ids.map((id, i) => (i === 0 ? '' : id === tok.endOfTextId ? '⟨end⟩' : tok.decode([id])));
  return {
    mode: o.mode,
    query: { text: q.text, promptTokens: q.promptTokens, tokens, ids: q.ids, truncated: q.truncated },
    layerNames: r.layerNames,
    loss: r.losses[0],
    items: r.top[0].map((t: TopItem, i) => {
      const row = rowsById.get(t.id);
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
}
