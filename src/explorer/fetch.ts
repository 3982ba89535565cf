// Downloads with progress, and the corpus the index is built over: JSONL rows {id, text, ...} (untrusted: every row
// is validated; texts are only ever rendered as text).

export type ByteProgress = (done: number, total: number | undefined) => void;

/** Error of a download or of a malformed file; the message names the URL. */
export class LoadError extends Error {
  override name = 'LoadError';
}

/** The largest file the explorer fetches (model, corpus): a bigger response is refused before it is read. */
export const MAX_BYTES = 512 * 2 ** 20;

export async function fetchBytes(url: string, what: string, onProgress?: ByteProgress): Promise<Uint8Array> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new LoadError(`could not fetch the ${what} at ${url}: ${(e as Error).message}`);
  }
  if (!r.ok) throw new LoadError(`could not fetch the ${what} at ${url}: HTTP ${r.status} ${r.statusText}`);
  const len = Number(r.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(len) && len > 0 ? len : undefined;
  if (total !== undefined && total > MAX_BYTES) throw new LoadError(`the ${what} at ${url} is ${total} bytes; the limit is ${MAX_BYTES}`);
  if (!r.body) return new Uint8Array(await r.arrayBuffer());
  const reader = r.body.getReader();
  const parts: Uint8Array[] = [];
  let done = 0;
  onProgress?.(0, total);
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    parts.push(value);
    done += value.length;
    if (done > MAX_BYTES) {
      await reader.cancel();
      throw new LoadError(`the ${what} at ${url} exceeds ${MAX_BYTES} bytes`);
    }
    onProgress?.(done, total);
  }
  const out = new Uint8Array(done);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface CorpusRow {
  id: string;
  text: string;
  /** a human-readable reference when the row has one (book chapter:verse, headword) */
  ref?: string;
}

/** Parses JSONL rows with string `id` and `text`; ids must be unique. Errors name the line. */
export function parseCorpus(text: string, source: string): CorpusRow[] {
  const rows: CorpusRow[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new LoadError(`${source}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const r = v as Record<string, unknown>;
    if (!r || typeof r !== 'object' || typeof r.id !== 'string' || !r.id || typeof r.text !== 'string') {
      throw new LoadError(`${source}:${i + 1}: each row needs a non-empty string "id" and a string "text"`);
    }
    if (seen.has(r.id)) throw new LoadError(`${source}:${i + 1}: id ${JSON.stringify(r.id)} appears twice`);
    seen.add(r.id);
    let ref: string | undefined;
    if (typeof r.book === 'string' && Number.isInteger(r.chapter) && Number.isInteger(r.verse)) ref = `${r.book} ${r.chapter}:${r.verse}`;
    else if (typeof r.headword === 'string') ref = `${r.headword} (The Devil's Dictionary)`;
    rows.push({ id: r.id, text: r.text, ref });
  }
  return rows;
}

/** Held-out ids from a model's heldout.json ({ids: string[]}); the index leaves them out. */
export function parseHeldOut(json: unknown, source: string): Set<string> {
  const ids = (json as { ids?: unknown })?.ids;
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) throw new LoadError(`${source}: expected {"ids": [string, ...]}`);
  return new Set(ids as string[]);
}

export async function fetchText(url: string, what: string, onProgress?: ByteProgress): Promise<string> {
  return new TextDecoder().decode(await fetchBytes(url, what, onProgress));
}
