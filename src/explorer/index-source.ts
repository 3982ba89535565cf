// Where the explorer's training-set index comes from, in order:
//   1. IndexedDB holds a complete, fitted index of this model over exactly these ids  -> 'indexeddb' (no rebuild)
//   2. index-url serves an index of this model over these ids (IndexedDB has none, or an interrupted copy)
//                                                  -> 'served': queried over HTTP at once, copied into IndexedDB in
//                                                     the background (resuming an interrupted copy) for later visits
//   3. IndexedDB holds a partial build                                                 -> resumed
//   4. otherwise the index is built here: engine.log over the corpus, then fit          -> 'built'
// Every step reports progress; builds commit every few seconds, so a reload continues where it stopped.
import type { Engine, LoadedModel, LograIndex, Example, ProgressEvent } from '../logra/mod.ts';
import { IndexedDbStore } from '../store/indexeddb.ts';
import { HttpStore, copyStore } from '../store/http.ts';
import { fitIsCurrent, trainIds } from '../logra/layout.ts';

export type IndexSource = 'indexeddb' | 'built' | 'served';

export interface IndexProgress {
  /** save: the background copy of a served index into IndexedDB; warm: reading it into memory (LograIndex.warm) */
  stage: 'save' | 'warm' | 'log' | 'fit';
  done: number;
  total: number;
  /** rows already in the store when a build resumed */
  skipped?: number;
}

export interface AcquireIndexOptions {
  engine: Engine;
  model: LoadedModel;
  dbName: string;
  /** the training ids the index must cover, in order */
  ids: string[];
  /** the examples to log (only called when a build is needed) */
  examples: () => Promise<Example[]>;
  indexUrl?: string;
  kIn: number;
  kOut: number;
  damping: number;
  onProgress?: (p: IndexProgress) => void;
  onNote?: (message: string) => void;
  /**
   * 'served': the background copy into IndexedDB starts once this settles (the explorer passes the end of its
   * read into memory, so the copy does not compete with it for the network, the decoder and the CPU)
   */
  saveAfter?: Promise<unknown>;
}

export interface AcquiredIndex {
  index: LograIndex;
  source: IndexSource;
  store: IndexedDbStore;
  /** 'served': the background copy into IndexedDB (resolves false when it failed; the index stays usable) */
  saved?: Promise<boolean>;
}

function sameIds(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

export async function acquireIndex(o: AcquireIndexOptions): Promise<AcquiredIndex> {
  const store = new IndexedDbStore(o.dbName);
  let m = await store.readManifest();

  if (m && !m.state.copying) {
    const ids = trainIds(m);
    const want = new Set(o.ids);
    if (m.settings.modelSha256 !== o.model.sha256) {
      o.onNote?.('the stored index belongs to another model: rebuilding it');
      await store.destroy();
      m = undefined;
    } else if (!ids.every((id) => want.has(id))) {
      o.onNote?.('the stored index covers other training texts: rebuilding it');
      await store.destroy();
      m = undefined;
    } else if (sameIds(ids, o.ids) && fitIsCurrent(m)) {
      const index = await o.engine.openIndex(store, o.model);
      return { index, source: 'indexeddb', store };
    }
  }

  // served from index-url: queried over HTTP now, copied into IndexedDB in the background (or the copy resumed)
  if (o.indexUrl && (!m || m.state.copying)) {
    const http = new HttpStore(o.indexUrl);
    const remote = await http.readManifest().catch(() => undefined);
    if (remote && remote.settings.modelSha256 === o.model.sha256 && sameIds(trainIds(remote), o.ids)) {
      const index = await o.engine.openIndex(http, o.model);
      const saved = (async () => {
        o.onProgress?.({ stage: 'save', done: 0, total: 1 });
        await o.saveAfter;
        await copyStore(http, store, { onProgress: (done, total) => o.onProgress?.({ stage: 'save', done, total }) });
        return true;
      })().catch((e: unknown) => {
        o.onNote?.(`could not save a copy of the index in this browser (${(e as Error).message}); it is read from ${o.indexUrl} instead`);
        return false;
      });
      return { index, source: 'served', store, saved };
    }
    if (remote) o.onNote?.(`the index at ${o.indexUrl} was made for ${remote.settings.modelSha256 !== o.model.sha256 ? 'another model' : 'other training texts'}; building one here`);
    if (m?.state.copying) {
      await store.destroy();
      m = undefined;
    }
  }

  // build (or resume a build): log, then fit
  const examples = await o.examples();
  o.onProgress?.({ stage: 'log', done: 0, total: examples.length });
  const index = await o.engine.log(o.model, examples, {
    store,
    kIn: o.kIn,
    kOut: o.kOut,
    hessian: 'raw',
    batchSize: 8,
    flushMs: 3000,
    onProgress: (e: ProgressEvent) => o.onProgress?.({ stage: 'log', done: e.done, total: e.total, skipped: e.skipped }),
    // another tab building the same index: this one waits for it (Web Locks), then finds the rows stored
    onLockWait: () => o.onNote?.('another tab is building this index: waiting for it'),
  });
  // another tab may have fitted it while this one waited
  if (!fitIsCurrent(index.manifest)) await fitIndex(index, o);
  return { index, source: 'built', store };
}

async function fitIndex(index: LograIndex, o: AcquireIndexOptions): Promise<void> {
  const layers = index.layerNames.length;
  o.onProgress?.({ stage: 'fit', done: 0, total: layers });
  await index.fit({ damping: o.damping, onProgress: (e) => o.onProgress?.({ stage: 'fit', done: e.done, total: e.total }) });
  o.onProgress?.({ stage: 'fit', done: layers, total: layers });
}
