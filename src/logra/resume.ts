// What a log run over an existing index does with each example: ids stored with the same content are skipped, new
// ids are logged, and a stored id whose content changed is an error (ContentChangedError) unless `replace` is set:
// then every chunk holding a changed id is dropped and all of that chunk's ids are logged again from this data
// (a chunk's KFAC statistics are sums over its rows, so chunks are dropped whole, never edited).
import { StoreError, type LogStore, type Manifest } from '../store/store.ts';
import type { Example } from '../runtime/batch.ts';
import { BLOB, isFitRole } from './layout.ts';
import { describeExample, ExampleError } from './examples.ts';

/** A stored id arrives with other content. */
export class ContentChangedError extends ExampleError {
  constructor(location: string, changed: Example[]) {
    const list = changed.slice(0, 10).map(describeExample).join(', ') + (changed.length > 10 ? `, ... (${changed.length} in all)` : '');
    super(`${location}: ${changed.length === 1 ? 'an id that is' : `${changed.length} ids that are`} already stored ${changed.length === 1 ? 'comes' : 'come'} with other content: ${list}. Give new content a new id, or pass --replace (API: replace: true) to re-log ${changed.length === 1 ? 'it' : 'them'} (with the other ids of their chunks, which must be in this data too)`, changed.map((e) => ({ id: e.id })));
    this.name = 'ContentChangedError';
  }
}

export interface LogPlan {
  /** examples to run, in data order */
  todo: Example[];
  /** indices (in the manifest) of chunks to drop before logging */
  drop: number[];
}

export function planLog(m: Manifest, examples: Example[], hashes: Map<string, string>, replace: boolean, location: string): LogPlan {
  const stored = new Map<string, { chunk: number; hash?: string }>();
  m.chunks.forEach((c, ci) => c.ids.forEach((id, r) => stored.set(id, { chunk: ci, hash: c.hashes?.[r] })));
  const changed = examples.filter((e) => {
    const s = stored.get(e.id);
    return s?.hash !== undefined && s.hash !== hashes.get(e.id);
  });
  const drop = new Set<number>();
  if (changed.length) {
    if (!replace) throw new ContentChangedError(location, changed);
    for (const e of changed) drop.add(stored.get(e.id)!.chunk);
    const given = new Set(examples.map((e) => e.id));
    const missing = [...drop].flatMap((ci) => m.chunks[ci].ids.filter((id) => !given.has(id)));
    if (missing.length) {
      throw new StoreError(`--replace re-logs whole chunks, and the chunks holding the changed ids also hold ids that are not in this data (${missing.slice(0, 10).map((id) => JSON.stringify(id)).join(', ')}${missing.length > 10 ? ', ...' : ''}): pass the whole data set`, location);
    }
  }
  const kept = new Set<string>();
  m.chunks.forEach((c, ci) => !drop.has(ci) && c.ids.forEach((id) => kept.add(id)));
  return { todo: examples.filter((e) => !kept.has(e.id)), drop: [...drop].sort((a, b) => a - b) };
}

/**
 * Commits the manifest without the given chunks (and their KFAC blobs, and the fit, which covered them); their
 * blobs are removed once the manifest is in place. Returns the new manifest.
 */
export async function dropChunks(store: LogStore, m: Manifest, drop: number[]): Promise<Manifest> {
  const gone = new Set(drop);
  const blobs = { ...m.blobs };
  const keys: string[] = [];
  for (const ci of gone) {
    const c = m.chunks[ci];
    keys.push(c.key);
    const role = BLOB.kfac(c.key);
    if (blobs[role]) keys.push(blobs[role].key);
    delete blobs[role];
  }
  for (const role of Object.keys(blobs)) {
    if (!isFitRole(role)) continue;
    keys.push(blobs[role].key);
    delete blobs[role];
  }
  const state = { ...m.state };
  delete state.fit;
  const next: Manifest = { ...m, chunks: m.chunks.filter((_, ci) => !gone.has(ci)), blobs, state, updated: new Date().toISOString() };
  await store.commit([], next, keys);
  return next;
}
