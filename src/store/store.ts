// One LogStore interface over IndexedDB (browser), the file system (Node, Deno) and memory (tests).
// A store holds a JSON manifest and binary blobs (gradient chunks, fitted statistics). Every change is a commit:
// new blobs first, then the manifest that references them, applied all-or-nothing, so an interrupted run loses at
// most the batch it had not committed and never leaves a manifest pointing at a missing or partial blob.

export interface ChunkRef {
  key: string;
  /** example ids in row order */
  ids: string[];
  rows: number;
  checksum: number;
  bytes: number;
}

/** Settings that must match between runs over the same store (compared field by field when opening). */
export interface IndexSettings {
  modelSha256: string;
  task: string;
  layers: { name: string; dIn: number; dOut: number; kIn: number; kOut: number }[];
  projection: string;
  seed: number;
  dtype: 'f32' | 'f16';
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

export const MANIFEST_VERSION = 1;

export interface Blob {
  key: string;
  bytes: Uint8Array;
}

export interface LogStore {
  /** where the store lives, for messages (a directory, an IndexedDB name) */
  readonly location: string;
  readManifest(): Promise<Manifest | undefined>;
  /** Writes the blobs, then the manifest; all-or-nothing. */
  commit(blobs: Blob[], manifest: Manifest): Promise<void>;
  /**
   * Writes blobs that no manifest references yet (a stage too large to hold in memory until its commit writes them
   * one by one, then commits a manifest that references them). Until that commit they are orphans.
   */
  writeBlobs(blobs: Blob[]): Promise<void>;
  readBlob(key: string): Promise<Uint8Array>;
  /** Blob keys present in the store (including unreferenced leftovers). */
  listBlobs(): Promise<string[]>;
  deleteBlobs(keys: string[]): Promise<void>;
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

/** Compares settings field by field and throws StoreMismatchError naming the first difference. */
export function checkSettings(location: string, stored: IndexSettings, given: IndexSettings): void {
  const keys = Object.keys(stored) as (keyof IndexSettings)[];
  for (const k of keys) {
    if (k === 'layers') continue;
    if (JSON.stringify(stored[k]) !== JSON.stringify(given[k])) throw new StoreMismatchError(location, k, stored[k], given[k]);
  }
  const a = stored.layers, b = given.layers;
  if (a.length !== b.length) throw new StoreMismatchError(location, 'layers', a.map((l) => l.name), b.map((l) => l.name));
  a.forEach((l, i) => {
    if (JSON.stringify(l) !== JSON.stringify(b[i])) throw new StoreMismatchError(location, `layers[${i}]`, l, b[i]);
  });
}

/** Removes blobs no manifest references (left by a commit that was interrupted). Returns what it removed. */
export async function sweepOrphans(store: LogStore, manifest: Manifest | undefined): Promise<string[]> {
  const keep = new Set<string>();
  for (const c of manifest?.chunks ?? []) keep.add(c.key);
  for (const b of Object.values(manifest?.blobs ?? {})) keep.add(b.key);
  const orphans = (await store.listBlobs()).filter((k) => !keep.has(k));
  if (orphans.length) await store.deleteBlobs(orphans);
  return orphans;
}

export function validateManifest(m: unknown, location: string): Manifest {
  const v = m as Manifest;
  if (!v || typeof v !== 'object' || v.format !== 'logra-index') throw new StoreError('the manifest is not a logra index manifest', location);
  if (v.version !== MANIFEST_VERSION) throw new StoreError(`manifest version ${v.version}; this build reads version ${MANIFEST_VERSION}`, location);
  if (!Array.isArray(v.chunks) || !v.settings || !Array.isArray(v.settings.layers)) throw new StoreError('the manifest is missing chunks or settings', location);
  for (const c of v.chunks) {
    if (typeof c.key !== 'string' || !Array.isArray(c.ids) || c.ids.length !== c.rows) throw new StoreError(`manifest chunk entry ${JSON.stringify(c.key)} is malformed`, location);
  }
  return v;
}
