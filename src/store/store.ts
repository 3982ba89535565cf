// One LogStore interface over IndexedDB (browser), the file system (Node, Deno) and memory (tests).
// A store holds a JSON manifest and binary blobs (gradient chunks, fitted statistics). Every change is a commit:
// new blobs first, then the manifest that references them, applied all-or-nothing, so an interrupted run loses at
// most the batch it had not committed and never leaves a manifest pointing at a missing or partial blob.

import type { ChunkDtype } from './chunk.ts';

export interface ChunkRef {
  key: string;
  /** example ids in row order */
  ids: string[];
  rows: number;
  checksum: number;
  bytes: number;
  /** per row: a hash of the example's content (logra/examples.ts), so a known id with other content is noticed */
  hashes?: string[];
}

/** Settings that must match between runs over the same store (compared field by field when opening). */
export interface IndexSettings {
  modelSha256: string;
  task: string;
  layers: { name: string; dIn: number; dOut: number; kIn: number; kOut: number }[];
  projection: string;
  seed: number;
  dtype: ChunkDtype;
  hessian: string;
  reduction: string;
}

export interface Manifest {
  format: 'logra-index';
  version: number;
  settings: IndexSettings;
  /** floats per example across all layers (sum of kIn * kOut) */
  cols: number;
  chunks: ChunkRef[];
  /** blobs holding fitted statistics etc., by role */
  blobs: Record<string, { key: string; checksum: number; bytes: number }>;
  /** free-form JSON state of later stages (e.g. fit parameters) */
  state: Record<string, unknown>;
  created: string;
  updated: string;
}

/**
 * 2: the manifest carries a CRC-32 of itself (integrity.ts) and every blob reference a real CRC-32 (0 in a
 * version-1 manifest meant "not recorded"). Version 1 is still read; the next commit upgrades it.
 */
export const MANIFEST_VERSION = 2;

export interface Blob {
  key: string;
  bytes: Uint8Array;
}

/** Who holds an index's writer lock (for messages). */
export interface LockHolder {
  /** what the holder is doing: log, fit, repair, ... */
  op: string;
  /** ISO time the lock was taken */
  since: string;
  pid?: number;
  host?: string;
  /** a browser tab (Web Locks client) */
  client?: string;
}

export interface LockOptions {
  /** what the caller is about to do (log, fit, repair), shown to other writers */
  op: string;
  /** how long to wait for another writer, in ms: 0 = fail at once with IndexLockedError (default: no limit) */
  waitMs?: number;
  /** called once when the lock is busy and the call waits */
  onWait?: (holder: LockHolder) => void;
  signal?: AbortSignal;
}

/** The writer lock of one index: one writer at a time; readers never take it. */
export interface IndexLock {
  readonly holder: LockHolder;
  release(): Promise<void>;
}

/** What statBlob sees of a blob without reading all of it. */
export interface BlobStat {
  size: number;
  /** the first bytes (up to the number asked for) */
  head: Uint8Array;
}

export interface LogStore {
  /** where the store lives, for messages (a directory, an IndexedDB name) */
  readonly location: string;
  /** The manifest, its checksum verified (integrity.ts); undefined when there is none. */
  readManifest(): Promise<Manifest | undefined>;
  /**
   * Writes the blobs, then the manifest; all-or-nothing. `drop`: keys the new manifest no longer references; they
   * are removed once it is in place (a removal cut short is finished by the next sweep).
   */
  commit(blobs: Blob[], manifest: Manifest, drop?: string[]): Promise<void>;
  /**
   * Writes blobs that no manifest references yet (a stage too large to hold in memory until its commit writes them
   * one by one, then commits a manifest that references them). Until that commit they are orphans, so only the
   * holder of the lock stages blobs (a sweep by the next writer removes what an interrupted stage left).
   */
  writeBlobs(blobs: Blob[]): Promise<void>;
  readBlob(key: string): Promise<Uint8Array>;
  /** Size and first bytes of a blob (cheap checks: chunk headers); undefined when it is missing. */
  statBlob(key: string, headBytes: number): Promise<BlobStat | undefined>;
  /** Blob keys present in the store (including unreferenced leftovers). */
  listBlobs(): Promise<string[]>;
  deleteBlobs(keys: string[]): Promise<void>;
  /**
   * Adds blobs of another store of the same medium without copying their bytes (the file system: hard links, so the
   * two indexes share the files and either may be deleted later); `from` keys become `to` keys. Absent where the
   * medium cannot; throws StoreLinkError where these two locations cannot share files (other file systems). Blobs
   * never change once written, so sharing them is safe. Like writeBlobs, only the lock holder links.
   */
  linkBlobs?(from: LogStore, pairs: { from: string; to: string }[]): Promise<void>;
  /**
   * Takes the index's writer lock (waiting for another writer, or failing with IndexLockedError naming it). A
   * read-only medium fails with StoreReadOnlyError.
   */
  lock(opts: LockOptions): Promise<IndexLock>;
  /**
   * Removes what interrupted writes of this store left behind: blobs it wrote that `manifest` does not reference,
   * temporary files. Only the store's own files, never anything else in its folder. Call it holding the lock.
   */
  sweep(manifest: Manifest | undefined): Promise<string[]>;
}

export class StoreError extends Error {
  constructor(message: string, readonly location?: string) {
    super(location ? `${location}: ${message}` : message);
    this.name = 'StoreError';
  }
}

/** The store ran out of space (IndexedDB quota, full disk); nothing of the failed commit was kept. */
export class StoreQuotaError extends StoreError {
  constructor(location: string, cause: string) {
    super(`out of storage space while saving (${cause}); the index is unchanged and still readable — free space (or raise the browser's storage quota) and run again to resume`, location);
    this.name = 'StoreQuotaError';
  }
}

/** Opening a store with a different model or settings than it was made with. */
export class StoreMismatchError extends StoreError {
  constructor(location: string, readonly field: string, stored: unknown, given: unknown) {
    super(`the index was made with ${field} = ${JSON.stringify(stored)}, this run has ${JSON.stringify(given)}; use another index location or the same settings`, location);
    this.name = 'StoreMismatchError';
  }
}

/** The first field in which two indexes' settings differ (`layers[i]` for one layer), or undefined when they agree. */
export function settingsDifference(a: IndexSettings, b: IndexSettings): { field: string; a: unknown; b: unknown } | undefined {
  const keys = Object.keys(a) as (keyof IndexSettings)[];
  for (const k of keys) {
    if (k === 'layers') continue;
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return { field: k, a: a[k], b: b[k] };
  }
  if (a.layers.length !== b.layers.length) return { field: 'layers', a: a.layers.map((l) => l.name), b: b.layers.map((l) => l.name) };
  for (let i = 0; i < a.layers.length; i++) {
    if (JSON.stringify(a.layers[i]) !== JSON.stringify(b.layers[i])) return { field: `layers[${i}]`, a: a.layers[i], b: b.layers[i] };
  }
  return undefined;
}

/** Compares settings field by field and throws StoreMismatchError naming the first difference. */
export function checkSettings(location: string, stored: IndexSettings, given: IndexSettings): void {
  const d = settingsDifference(stored, given);
  if (d) throw new StoreMismatchError(location, d.field, d.a, d.b);
}

/** Another writer holds the index's lock (and this one does not wait, or stopped waiting). */
export class IndexLockedError extends StoreError {
  constructor(location: string, readonly holder: LockHolder, hint = '') {
    super(`the index is being written by another ${describeHolder(holder)}; wait until it ends (logra waits unless told --wait 0)${hint}`, location);
    this.name = 'IndexLockedError';
  }
}

export function describeHolder(h: LockHolder): string {
  const who = h.pid !== undefined ? `process (pid ${h.pid}${h.host ? ` on ${h.host}` : ''})` : h.client ? `tab or worker (${h.client})` : 'writer';
  return `${who}: ${h.op}, since ${h.since}`;
}

/** The medium cannot be written (read-only file system or folder, an index served over HTTP). */
export class StoreReadOnlyError extends StoreError {
  constructor(location: string, detail: string) {
    super(`cannot write here (${detail}); the index can still be read`, location);
    this.name = 'StoreReadOnlyError';
  }
}

/** Blobs cannot be shared between these two stores (other file systems, a medium without hard links). */
export class StoreLinkError extends StoreError {
  constructor(location: string, detail: string) {
    super(`cannot share blob files with the other index without copying them (${detail}); copy them instead (logra merge --copy; API: copy: true)`, location);
    this.name = 'StoreLinkError';
  }
}

/** A blob the manifest references is not in the store. */
export class BlobMissingError extends StoreError {
  constructor(location: string, readonly key: string, where = '') {
    super(`blob ${JSON.stringify(key)} is missing${where}`, location);
    this.name = 'BlobMissingError';
  }
}

/** Takes the store's lock, runs fn, releases the lock (also when fn fails). */
export async function withLock<T>(store: LogStore, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await store.lock(opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** Keys a manifest references (chunks and blobs). */
export function referencedKeys(m: Manifest | undefined): Set<string> {
  const keep = new Set<string>();
  for (const c of m?.chunks ?? []) keep.add(c.key);
  for (const b of Object.values(m?.blobs ?? {})) keep.add(b.key);
  return keep;
}

/** Removes what interrupted writes left (the store's own files only). Returns the blob keys it removed. */
export function sweepOrphans(store: LogStore, manifest: Manifest | undefined): Promise<string[]> {
  return store.sweep(manifest);
}

/** Checks the manifest's structure (not its checksum: integrity.ts does that when a store reads it). */
export function validateManifest(m: unknown, location: string): Manifest {
  const v = m as Manifest;
  if (!v || typeof v !== 'object' || v.format !== 'logra-index') throw new StoreError('the manifest is not a logra index manifest', location);
  if (v.version !== MANIFEST_VERSION && v.version !== 1) throw new StoreError(`manifest version ${v.version}; this build reads versions 1 and ${MANIFEST_VERSION}`, location);
  if (!Array.isArray(v.chunks) || !v.settings || !Array.isArray(v.settings.layers) || !v.blobs || typeof v.blobs !== 'object' || !v.state || typeof v.state !== 'object') {
    throw new StoreError('the manifest is missing chunks, blobs, state or settings', location);
  }
  if (!Number.isInteger(v.cols) || v.cols < 1) throw new StoreError(`the manifest's cols (${JSON.stringify(v.cols)}) is not a positive integer`, location);
  for (const c of v.chunks) {
    const ok = c && typeof c.key === 'string' && Array.isArray(c.ids) && c.ids.length === c.rows && c.ids.every((id) => typeof id === 'string') && Number.isInteger(c.checksum);
    if (!ok || (c.hashes !== undefined && (!Array.isArray(c.hashes) || c.hashes.length !== c.rows))) throw new StoreError(`manifest chunk entry ${JSON.stringify(c?.key)} is malformed`, location);
  }
  for (const [role, b] of Object.entries(v.blobs)) {
    if (!b || typeof b.key !== 'string' || !Number.isInteger(b.checksum) || !Number.isInteger(b.bytes)) throw new StoreError(`manifest blob entry ${JSON.stringify(role)} is malformed`, location);
  }
  return v;
}
