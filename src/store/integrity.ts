// Integrity of what a store holds: the manifest carries a CRC-32 of its own JSON (so an edited or damaged manifest
// is refused instead of silently changing scores), and every blob reference a CRC-32 of the blob, checked on read.
// Chunks also carry their checksum in their header (chunk.ts), so a chunk is checked by the read that decodes it.
//
// The manifest's checksum is `checksum`, a u32 over JSON.stringify of the manifest without that field (the order of
// the other fields as written). Stores seal on commit and verify on read; what they return has no `checksum` field.
import { crc32 } from './chunk.ts';
import { MANIFEST_VERSION, StoreError, validateManifest, type LogStore, type Manifest } from './store.ts';

/** The manifest does not match its checksum (edited by hand, damaged) or is not valid. */
export class ManifestChecksumError extends StoreError {
  constructor(location: string, detail: string) {
    super(`the manifest ${detail}: it was edited or damaged, so none of its settings or ids can be trusted. Restore it from a copy, or log into a new index (an edit of a setting such as the seed would silently change every score)`, location);
    this.name = 'ManifestChecksumError';
  }
}

/** A blob does not match the checksum (or size) the manifest recorded for it. */
export class BlobChecksumError extends StoreError {
  constructor(location: string, readonly key: string, readonly role: string, detail: string, fix: string) {
    super(`blob ${JSON.stringify(key)} (${role}) ${detail}: it is damaged; ${fix}`, location);
    this.name = 'BlobChecksumError';
  }
}

const textEncoder = new TextEncoder();

function checksumOf(m: object): number {
  return crc32(textEncoder.encode(JSON.stringify(m)));
}

function withoutChecksum(m: Manifest): Manifest {
  const out = { ...(m as Manifest & { checksum?: number }) };
  delete out.checksum;
  return out;
}

/** The manifest as a store writes it: current version, and its checksum as the last field. */
export function sealManifest(m: Manifest): Manifest & { checksum: number } {
  const body = { ...withoutChecksum(m), version: MANIFEST_VERSION };
  return { ...body, checksum: checksumOf(body) };
}

/**
 * A manifest as read from a store (parsed JSON or a stored object): structure validated and, from version 2 on,
 * its checksum verified. Returns it without the checksum field.
 */
export function openManifest(json: unknown, location: string): Manifest {
  const v = validateManifest(json, location) as Manifest & { checksum?: unknown };
  if (v.version === 1) return withoutChecksum(v); // written before manifests were checksummed
  if (typeof v.checksum !== 'number') throw new ManifestChecksumError(location, 'has no checksum');
  const body = withoutChecksum(v);
  const actual = checksumOf(body);
  if (actual !== v.checksum) throw new ManifestChecksumError(location, `does not match its checksum (recorded ${v.checksum.toString(16)}, content ${actual.toString(16)})`);
  return body;
}

/** The manifest JSON text a store writes. */
export function manifestText(m: Manifest): string {
  return JSON.stringify(sealManifest(m));
}

/** What to do about a damaged blob of each role. */
function fixFor(role: string): string {
  if (role === 'self' || role.startsWith('fit')) return 'run `logra fit` again (or `logra repair`, which drops the fit)';
  if (role.startsWith('kfac/')) return 'run `logra repair` (it drops the chunk it belongs to) and `logra log` again to re-log those ids';
  if (role === 'projections') return 'the stored projections cannot be recomputed from the index: log into a new index (with the same --projections file, or --init pca)';
  return 'run `logra verify` and `logra repair`';
}

/**
 * Checks a blob's bytes against its manifest reference: its size and CRC-32. A checksum of 0 is "not recorded"
 * (blobs written by a version-1 manifest's build) and is not checked.
 */
export function checkBlob(location: string, role: string, ref: { key: string; checksum: number; bytes: number }, bytes: Uint8Array): Uint8Array {
  if (ref.bytes !== bytes.length) throw new BlobChecksumError(location, ref.key, role, `holds ${bytes.length} bytes, the manifest says ${ref.bytes}`, fixFor(role));
  if (ref.checksum) {
    const c = crc32(bytes);
    if (c !== ref.checksum) throw new BlobChecksumError(location, ref.key, role, `does not match its checksum (manifest ${ref.checksum.toString(16)}, data ${c.toString(16)})`, fixFor(role));
  }
  return bytes;
}

/** Reads the blob of a manifest role and verifies it. */
export async function readVerified(store: LogStore, m: Manifest, role: string): Promise<Uint8Array> {
  const ref = m.blobs[role];
  if (!ref) throw new StoreError(`the index has no ${role} blob`, store.location);
  return checkBlob(store.location, role, ref, await store.readBlob(ref.key));
}

/** A blob reference for bytes about to be written. */
export function blobRef(key: string, bytes: Uint8Array): { key: string; checksum: number; bytes: number } {
  return { key, checksum: crc32(bytes), bytes: bytes.length };
}
