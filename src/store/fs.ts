// File-system store (Node and Deno, through node:fs): DIR/manifest.json and DIR/blobs/<key>.bin.
// Each file is written to a temporary name, flushed and renamed into place; the manifest is renamed last, so a
// crash leaves either the old manifest (new blobs are then unreferenced and swept on the next open) or the new one.
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError, StoreQuotaError, validateManifest, type Blob, type LogStore, type Manifest } from './store.ts';

const KEY = /^[A-Za-z0-9._-]{1,128}$/;

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

function isNoSpace(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export class FsStore implements LogStore {
  constructor(readonly location: string) {}

  private blobPath(key: string): string {
    if (!KEY.test(key)) throw new StoreError(`invalid blob key ${JSON.stringify(key)}`, this.location);
    return join(this.location, 'blobs', `${key}.bin`);
  }

  async readManifest(): Promise<Manifest | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.location, 'manifest.json'), 'utf8');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new StoreError(`manifest.json is not valid JSON (${(e as Error).message})`, this.location);
    }
    return validateManifest(json, this.location);
  }

  async commit(blobs: Blob[], manifest: Manifest): Promise<void> {
    await this.write(blobs, manifest);
  }

  async writeBlobs(blobs: Blob[]): Promise<void> {
    await this.write(blobs);
  }

  private async write(blobs: Blob[], manifest?: Manifest): Promise<void> {
    try {
      await mkdir(join(this.location, 'blobs'), { recursive: true });
      for (const b of blobs) await writeAtomic(this.blobPath(b.key), b.bytes);
      if (manifest) await writeAtomic(join(this.location, 'manifest.json'), new TextEncoder().encode(JSON.stringify(manifest)));
    } catch (e) {
      if (isNoSpace(e)) throw new StoreQuotaError(this.location, (e as Error).message);
      throw e;
    }
  }

  async readBlob(key: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.blobPath(key)));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') throw new StoreError(`blob ${JSON.stringify(key)} is missing (blobs/${key}.bin)`, this.location);
      throw e;
    }
  }

  async listBlobs(): Promise<string[]> {
    try {
      return (await readdir(join(this.location, 'blobs'))).filter((f) => f.endsWith('.bin')).map((f) => f.slice(0, -4));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
  }

  async deleteBlobs(keys: string[]): Promise<void> {
    for (const k of keys) await rm(this.blobPath(k), { force: true });
    // leftover temporary files of interrupted writes
    try {
      for (const f of await readdir(join(this.location, 'blobs'))) if (f.includes('.tmp-')) await rm(join(this.location, 'blobs', f), { force: true });
    } catch {
      /* no blobs dir */
    }
  }
}
