// Checking an index and repairing it.
// - quickCheck: what can be told without reading the rows: every chunk's 24-byte header (present, size, magic, rows,
//   cols, checksum equal to the manifest's) and every blob's size. `logra info` reports it; `log` refuses to add to
//   an index whose chunks are damaged.
// - verifyIndex (`logra verify`): everything: the manifest's checksum, every chunk decoded and its CRC checked, its
//   values finite, ids unique, every blob's CRC and contents (KFAC statistics, projections, fit, self-influences).
// - repairIndex (`logra repair`): drops damaged chunks (with their KFAC blobs) and a damaged fit from the manifest,
//   so that `log` re-logs exactly the dropped ids and the next query refits.
import { CHUNK_MAGIC, decodeChunk } from '../store/chunk.ts';
import { StoreError, referencedKeys, withLock, type LockOptions, type LogStore, type Manifest } from '../store/store.ts';
import { checkBlob } from '../store/integrity.ts';
import { BLOB, fitIsCurrent, isFitRole, unpackTensors } from './layout.ts';
import { decodeProjections } from './projections.ts';
import { dropChunks } from './resume.ts';

const HEADER = 24;

export interface Problem {
  kind: 'manifest' | 'chunk' | 'blob';
  /** the chunk or blob key */
  key?: string;
  /** the blob's role in the manifest (projections, kfac/<chunk>, fit/<layer>, self) */
  role?: string;
  /** the chunk a problem makes unusable (a chunk's own key, or the chunk a KFAC blob belongs to) */
  chunk?: string;
  message: string;
}

export interface CheckReport {
  ok: boolean;
  /** 'checksum verified', or how the manifest was written without one */
  manifest: string;
  chunks: number;
  rows: number;
  blobs: number;
  problems: Problem[];
}

/** The index is damaged in a way that makes this operation unsafe; says how to repair it. */
export class IndexDamagedError extends StoreError {
  constructor(location: string, readonly problems: Problem[]) {
    const list = problems.slice(0, 6).map((p) => `${p.key ? `${p.kind} ${JSON.stringify(p.key)}` : p.kind}: ${p.message}`).join('; ') + (problems.length > 6 ? `; ... (${problems.length} problems)` : '');
    const dir = /^[a-z]+:/.test(location) ? 'DIR' : location;
    super(`the index is damaged (${list}). Run \`logra verify --index ${dir}\` for a full check, then \`logra repair --index ${dir}\`: it drops the damaged chunks, and \`logra log\` re-logs exactly their ids`, location);
    this.name = 'IndexDamagedError';
  }
}

function manifestState(m: Manifest): string {
  return m.version === 1 ? 'version 1: written before manifests were checksummed (the next write adds one)' : 'checksum verified';
}

/** What a chunk's header says against the manifest, or undefined when it agrees. */
function headerProblem(head: Uint8Array, size: number, c: Manifest['chunks'][number], cols: number): string | undefined {
  if (c.bytes && size !== c.bytes) return `holds ${size} bytes, the manifest says ${c.bytes} (truncated or replaced)`;
  if (head.length < HEADER) return `truncated (${size} bytes)`;
  const dv = new DataView(head.buffer, head.byteOffset, HEADER);
  if (dv.getUint32(0, true) !== CHUNK_MAGIC) return 'not a logra chunk (bad magic)';
  if (dv.getUint32(12, true) !== c.rows || dv.getUint32(16, true) !== cols) return `header says ${dv.getUint32(12, true)} x ${dv.getUint32(16, true)}, the manifest ${c.rows} x ${cols}`;
  if (dv.getUint32(20, true) !== c.checksum) return 'its checksum differs from the manifest\'s (another chunk was put in its place)';
  return undefined;
}

/** Headers of every chunk and sizes of every blob (no full reads). */
export async function quickCheck(store: LogStore, m: Manifest): Promise<CheckReport> {
  const problems: Problem[] = [];
  for (const c of m.chunks) {
    const s = await store.statBlob(c.key, HEADER);
    const p = s ? headerProblem(s.head, s.size, c, m.cols) : 'is missing';
    if (p) problems.push({ kind: 'chunk', key: c.key, chunk: c.key, message: p });
  }
  for (const [role, b] of Object.entries(m.blobs)) {
    const s = await store.statBlob(b.key, 0);
    const p = !s ? 'is missing' : s.size !== b.bytes ? `holds ${s.size} bytes, the manifest says ${b.bytes}` : undefined;
    if (p) problems.push({ kind: 'blob', key: b.key, role, chunk: role.startsWith('kfac/') ? role.slice(5) : undefined, message: p });
  }
  return { ok: problems.length === 0, manifest: manifestState(m), chunks: m.chunks.length, rows: m.chunks.reduce((a, c) => a + c.rows, 0), blobs: Object.keys(m.blobs).length, problems };
}

/** Refuses to add to an index whose chunks, KFAC statistics or projections are damaged (a fit is replaced anyway). */
export async function assertIntact(store: LogStore, m: Manifest): Promise<void> {
  const bad = (await quickCheck(store, m)).problems.filter((p) => !p.role || !isFitRole(p.role));
  if (bad.length) throw new IndexDamagedError(store.location, bad);
}

function message(e: unknown): string {
  return String((e as Error)?.message ?? e).replace(/^.*?: (chunk "[^"]*": )?/, '');
}

/** Reads and checks everything; never throws for damage (it is reported), only for an unreadable store. */
export async function verifyIndex(store: LogStore): Promise<CheckReport & { leftovers: string[] }> {
  let m: Manifest | undefined;
  try {
    m = await store.readManifest();
  } catch (e) {
    return { ok: false, manifest: 'damaged', chunks: 0, rows: 0, blobs: 0, problems: [{ kind: 'manifest', message: message(e) }], leftovers: [] };
  }
  if (!m) throw new StoreError('no index here (no manifest)', store.location);
  const problems: Problem[] = [];
  const layers = m.settings.layers;
  const seen = new Map<string, string>();
  for (const c of m.chunks) {
    const add = (msg: string) => problems.push({ kind: 'chunk', key: c.key, chunk: c.key, message: msg });
    for (const id of c.ids) {
      const other = seen.get(id);
      if (other !== undefined) add(`id ${JSON.stringify(id)} is stored twice (also in ${other})`);
      seen.set(id, c.key);
    }
    try {
      const d = decodeChunk(await store.readBlob(c.key), c.key, { checksum: c.checksum, rows: c.rows, cols: m.cols });
      if (d.dtype !== m.settings.dtype) add(`holds ${d.dtype} rows, the index stores ${m.settings.dtype}`);
      const at = d.data.findIndex((v) => !Number.isFinite(v));
      if (at >= 0) add(`row ${Math.floor(at / m.cols)} (id ${JSON.stringify(c.ids[Math.floor(at / m.cols)])}) holds a non-finite value`);
    } catch (e) {
      add(message(e));
    }
    if (!m.blobs[BLOB.kfac(c.key)]) problems.push({ kind: 'blob', role: BLOB.kfac(c.key), chunk: c.key, message: `chunk ${c.key} has no KFAC statistics blob` });
  }
  const N = m.chunks.reduce((a, c) => a + c.rows, 0);
  for (const [role, b] of Object.entries(m.blobs)) {
    try {
      const bytes = checkBlob(store.location, role, b, await store.readBlob(b.key));
      const src = `${store.location}/${b.key}`;
      if (role === BLOB.projections) decodeProjections(bytes, layers.map((l) => ({ name: l.name, dIn: l.dIn, dOut: l.dOut })) as never, src);
      else if (role.startsWith('kfac/')) {
        const t = unpackTensors(bytes, src);
        layers.forEach((l, i) => {
          for (const [x, k] of [[t.get(`${i}.a`, [l.kIn, l.kIn]), l.kIn], [t.get(`${i}.s`, [l.kOut, l.kOut]), l.kOut]] as const) if (x.some((v) => !Number.isFinite(v))) throw new Error(`KFAC statistics of layer ${i} (${k} x ${k}) hold a non-finite value`);
        });
      } else if (role === BLOB.self && fitIsCurrent(m)) {
        const t = unpackTensors(bytes, src);
        layers.forEach((_, i) => t.get(String(i), [N]));
      } else if (role.startsWith('fit/')) unpackTensors(bytes, src);
    } catch (e) {
      problems.push({ kind: 'blob', key: b.key, role, chunk: role.startsWith('kfac/') ? role.slice(5) : undefined, message: message(e) });
    }
  }
  const keep = referencedKeys(m);
  const leftovers = (await store.listBlobs()).filter((k) => !keep.has(k));
  return { ok: problems.length === 0, manifest: manifestState(m), chunks: m.chunks.length, rows: N, blobs: Object.keys(m.blobs).length, problems, leftovers };
}

export interface RepairResult {
  /** chunks dropped, with the ids the next log re-logs */
  dropped: { key: string; rows: number; ids: string[] }[];
  fitDropped: boolean;
  /** what is still wrong (damage repair cannot undo: the manifest, the projections) */
  unrepairable: Problem[];
  /** blobs of interrupted writes removed */
  swept: string[];
}

/** Drops what is damaged (holding the writer lock). Throws when the damage is beyond repair (manifest, projections). */
export async function repairIndex(store: LogStore, lock: Omit<LockOptions, 'op'> = {}): Promise<RepairResult> {
  return withLock(store, { ...lock, op: 'repair' }, async () => {
    const m0 = await store.readManifest(); // a damaged manifest throws here: nothing to repair from
    if (!m0) throw new StoreError('no index here (no manifest)', store.location);
    const swept = await store.sweep(m0);
    const report = await verifyIndex(store);
    const m = m0;
    const unrepairable = report.problems.filter((p) => p.kind === 'manifest' || p.role === BLOB.projections);
    if (unrepairable.length) throw new IndexDamagedError(store.location, unrepairable);
    const bad = new Set(report.problems.filter((p) => p.chunk).map((p) => p.chunk!));
    const fitBad = report.problems.some((p) => p.role && isFitRole(p.role));
    const drop = m.chunks.map((c, i) => (bad.has(c.key) ? i : -1)).filter((i) => i >= 0);
    const dropped = drop.map((i) => ({ key: m.chunks[i].key, rows: m.chunks[i].rows, ids: m.chunks[i].ids }));
    if (drop.length || fitBad) await dropChunks(store, m, drop);
    return { dropped, fitDropped: fitBad || (drop.length > 0 && !!m.state.fit), unrepairable: [], swept };
  });
}
