// File-system store (Node and Deno, through node:fs): DIR/manifest.json and DIR/blobs/<key>.bin.
// Each file is written to a temporary name, flushed (fsync) and renamed into place, and the folder is flushed after
// the renames; the manifest is renamed last, so a crash or power loss leaves either the old manifest (new blobs are
// then unreferenced and swept by the next writer) or the new one.
// One writer at a time: DIR/lock (fs-lock.ts). Before writing a blob, the store appends its key to DIR/journal; a
// sweep removes only journaled keys that the manifest does not reference (and their temporary files), so nothing
// the store did not write itself is ever deleted, also through a symlinked blobs/ folder. A folder that holds
// anything but an index is refused for writing.
import { appendFile, link, mkdir, open, readFile, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobMissingError, StoreError, StoreLinkError, StoreQuotaError, StoreReadOnlyError, referencedKeys, type Blob, type BlobStat, type IndexLock, type LockOptions, type LogStore, type Manifest } from './store.ts';
import { manifestText, openManifest } from './integrity.ts';
import { FsLock, lockLeftovers } from './fs-lock.ts';
import { errCode, isNoSpace, isReadOnly } from './fs-errors.ts';

const KEY = /^[A-Za-z0-9._-]{1,128}$/;
const MANIFEST = 'manifest.json';
const JOURNAL = 'journal';
/** entries of an index folder besides manifest.json */
const OWN_TOP = /^(?:blobs|journal|lock|manifest\.json\.tmp-[a-z0-9]+|lock\.(?:tmp|stale)-[a-z0-9]+)$/;
const TMP_OF_BLOB = /^(.+)\.bin\.tmp-[a-z0-9]+$/;

async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
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

/** Flushes a folder's entries (the renames into it) to disk, where the platform allows it. */
async function syncDir(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } catch (e) {
    if (isNoSpace(e) || errCode(e) === 'EIO') throw e;
    // EISDIR/EINVAL/EPERM/EBADF: platforms that cannot open or flush a folder (Windows); the renames still happened
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

async function entries(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return [];
    throw e;
  }
}

/** The folder holds files that are not part of a logra index. */
export class ForeignFilesError extends StoreError {
  constructor(location: string, readonly files: string[]) {
    const list = files.slice(0, 5).join(', ') + (files.length > 5 ? `, ... (${files.length} in all)` : '');
    super(`this folder holds files that are not part of a logra index (${list}); an index is written only into an empty folder or an existing index, and logra never deletes files it did not write: choose another --index folder`, location);
    this.name = 'ForeignFilesError';
  }
}

export class FsStore implements LogStore {
  /** the lock this instance holds (its commits check that it still holds it) */
  private held?: FsLock;

  constructor(readonly location: string) {}

  private blobPath(key: string): string {
    if (!KEY.test(key)) throw new StoreError(`invalid blob key ${JSON.stringify(key)}`, this.location);
    return join(this.location, 'blobs', `${key}.bin`);
  }

  async readManifest(): Promise<Manifest | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.location, MANIFEST), 'utf8');
    } catch (e) {
      if (errCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new StoreError(`manifest.json is not valid JSON (${(e as Error).message}); restore it from a copy or log into a new index`, this.location);
    }
    return openManifest(json, this.location);
  }

  async commit(blobs: Blob[], manifest: Manifest, drop: string[] = []): Promise<void> {
    if (this.held) return this.write(blobs, manifest, drop);
    // a commit outside a writer's lock (a caller of the store itself) still takes the lock for its own duration
    const lock = await this.lock({ op: 'commit' });
    try {
      await this.write(blobs, manifest, drop);
    } finally {
      await lock.release();
    }
  }

  async writeBlobs(blobs: Blob[]): Promise<void> {
    if (!this.held) throw new StoreError('writeBlobs stages blobs for a later commit and needs the index lock (store.lock())', this.location);
    await this.write(blobs);
  }

  /**
   * Hard-links blobs of another file-system index into this one (journaled first, like written blobs, so a sweep
   * removes what an interrupted link left): no byte is copied, and either index may later drop or delete its name
   * of a file without touching the other's. Another file system (EXDEV) or a medium without hard links is a
   * StoreLinkError.
   */
  async linkBlobs(from: LogStore, pairs: { from: string; to: string }[]): Promise<void> {
    if (!this.held) throw new StoreError('linkBlobs adds blobs for a later commit and needs the index lock (store.lock())', this.location);
    if (!(from instanceof FsStore)) throw new StoreLinkError(this.location, `${from.location} is not a file-system index`);
    const dir = join(this.location, 'blobs');
    try {
      await mkdir(dir, { recursive: true });
      await this.journal(pairs.map((p) => p.to));
      for (const p of pairs) {
        const src = from.blobPath(p.from), dst = this.blobPath(p.to);
        const tmp = `${dst}.tmp-${Math.random().toString(36).slice(2)}`;
        try {
          await link(src, tmp);
        } catch (e) {
          const code = errCode(e);
          if (code === 'ENOENT') throw new BlobMissingError(from.location, p.from, ` (blobs/${p.from}.bin)`);
          if (code === 'EXDEV') throw new StoreLinkError(this.location, `${from.location} is on another file system`);
          if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK' || code === 'ENOSYS') throw new StoreLinkError(this.location, `the file system refused a hard link (${code})`);
          throw e;
        }
        await rename(tmp, dst);
      }
      if (pairs.length) await syncDir(dir);
    } catch (e) {
      if (isNoSpace(e)) throw new StoreQuotaError(this.location, (e as Error).message);
      if (isReadOnly(e)) throw new StoreReadOnlyError(this.location, (e as Error).message);
      throw e;
    }
  }

  private async write(blobs: Blob[], manifest?: Manifest, drop: string[] = []): Promise<void> {
    try {
      const dir = join(this.location, 'blobs');
      await mkdir(dir, { recursive: true });
      const paths = blobs.map((b) => this.blobPath(b.key));
      await this.journal([...blobs.map((b) => b.key), ...drop]);
      for (let i = 0; i < blobs.length; i++) await writeAtomic(paths[i], blobs[i].bytes);
      if (blobs.length) await syncDir(dir);
      if (!manifest) return;
      await this.held?.verify();
      await writeAtomic(join(this.location, MANIFEST), manifestText(manifest));
      await syncDir(this.location);
      for (const k of drop) await rm(this.blobPath(k), { force: true });
    } catch (e) {
      if (isNoSpace(e)) throw new StoreQuotaError(this.location, (e as Error).message);
      if (isReadOnly(e)) throw new StoreReadOnlyError(this.location, (e as Error).message);
      throw e;
    }
  }

  /**
   * Records keys about to be written (or dropped) before anything happens to them: what a sweep may remove. Not
   * flushed on its own: a process killed later leaves it written; a power cut before the next flush can at worst
   * leave an unreferenced blob that no sweep removes (never one that a manifest references).
   */
  private async journal(keys: string[]): Promise<void> {
    if (!keys.length) return;
    for (const k of keys) this.blobPath(k); // validates
    await appendFile(join(this.location, JOURNAL), keys.join('\n') + '\n');
  }

  private async journaled(): Promise<string[]> {
    let text = '';
    try {
      text = await readFile(join(this.location, JOURNAL), 'utf8');
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
    }
    const lines = text.split('\n');
    lines.pop(); // an unterminated last line is an append cut short
    return [...new Set(lines.filter((k) => KEY.test(k)))];
  }

  async readBlob(key: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.blobPath(key)));
    } catch (e) {
      if (errCode(e) === 'ENOENT') throw new BlobMissingError(this.location, key, ` (blobs/${key}.bin)`);
      throw e;
    }
  }

  async statBlob(key: string, headBytes: number): Promise<BlobStat | undefined> {
    let fh;
    try {
      fh = await open(this.blobPath(key), 'r');
      const size = (await fh.stat()).size;
      const head = new Uint8Array(Math.min(headBytes, size));
      if (head.length) await fh.read(head, 0, head.length, 0);
      return { size, head };
    } catch (e) {
      if (errCode(e) === 'ENOENT') return undefined;
      throw e;
    } finally {
      await fh?.close();
    }
  }

  async listBlobs(): Promise<string[]> {
    return (await entries(join(this.location, 'blobs'))).filter((f) => f.endsWith('.bin')).map((f) => f.slice(0, -4));
  }

  async deleteBlobs(keys: string[]): Promise<void> {
    for (const k of keys) await rm(this.blobPath(k), { force: true });
  }

  async lock(opts: LockOptions): Promise<IndexLock> {
    try {
      await mkdir(this.location, { recursive: true });
    } catch (e) {
      if (isReadOnly(e)) throw new StoreReadOnlyError(this.location, (e as Error).message);
      if (isNoSpace(e)) throw new StoreQuotaError(this.location, (e as Error).message);
      throw e;
    }
    await this.checkOwnFolder();
    const lock = await FsLock.acquire(this.location, this.location, opts);
    this.held = lock;
    return {
      holder: lock.holder,
      release: async () => {
        if (this.held === lock) this.held = undefined;
        await lock.release();
      },
    };
  }

  /** Refuses a folder that is neither empty nor an index (nor what an interrupted first commit of one left). */
  private async checkOwnFolder(): Promise<void> {
    const top = await entries(this.location);
    if (top.includes(MANIFEST)) return;
    const foreign = top.filter((f) => !OWN_TOP.test(f));
    if (top.includes('blobs')) {
      const journal = new Set(await this.journaled());
      let files: string[] = [];
      try {
        files = await readdir(join(this.location, 'blobs'));
      } catch {
        foreign.push('blobs (not a folder)');
      }
      for (const f of files) {
        const key = f.endsWith('.bin') ? f.slice(0, -4) : TMP_OF_BLOB.exec(f)?.[1];
        if (!key || !journal.has(key)) foreign.push(`blobs/${f}`);
      }
    }
    if (foreign.length) throw new ForeignFilesError(this.location, foreign);
  }

  async sweep(manifest: Manifest | undefined): Promise<string[]> {
    const journal = await this.journaled();
    const keep = referencedKeys(manifest);
    const removed: string[] = [];
    const mine = new Set(journal);
    for (const k of journal) {
      if (keep.has(k)) continue;
      try {
        await unlink(this.blobPath(k));
        removed.push(k);
      } catch (e) {
        if (errCode(e) !== 'ENOENT') throw e;
      }
    }
    // temporary files of interrupted writes: of journaled blobs, of the manifest, of the lock protocol
    for (const f of await entries(join(this.location, 'blobs'))) {
      const key = TMP_OF_BLOB.exec(f)?.[1];
      if (key && mine.has(key)) await rm(join(this.location, 'blobs', f), { force: true });
    }
    const top = await entries(this.location);
    for (const f of [...top.filter((f) => /^manifest\.json\.tmp-[a-z0-9]+$/.test(f)), ...(await lockLeftovers(this.location))]) await rm(join(this.location, f), { force: true });
    if (top.includes(JOURNAL)) await rm(join(this.location, JOURNAL), { force: true });
    return removed;
  }
}
