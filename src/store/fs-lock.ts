// The writer lock of a file-system index: DIR/lock, created exclusively (written under a temporary name, then
// hard-linked into place, so it appears whole or not at all) and holding {pid, host, process start time, op, since,
// token}. A lock whose process is gone (same host, no such pid, or a pid reused by a process that started later)
// is stale: the next writer moves it aside, checks that it moved that very lock (the token), and takes over.
// Where a process cannot be looked up (a lock from another host; Deno without --allow-run or --allow-all, which
// cannot read /proc nor signal a pid), the holder's heartbeat decides: holders touch the lock file every
// HEARTBEAT_MS, and a lock untouched for LEASE_MS is stale. Releasing removes the file only if it still carries this
// holder's token; a commit checks the token before it writes the manifest (a holder whose lock was taken over
// commits nothing).
import { link, open, readFile, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { IndexLockedError, StoreError, StoreQuotaError, StoreReadOnlyError, type IndexLock, type LockHolder, type LockOptions } from './store.ts';
import { isNoSpace, isReadOnly, errCode } from './fs-errors.ts';

export const LOCK_FILE = 'lock';
/** a holder touches its lock this often */
export const HEARTBEAT_MS = 4_000;
/** a lock whose holder cannot be looked up is stale once untouched this long */
export const LEASE_MS = 20_000;

interface LockFile extends LockHolder {
  format: 'logra-lock';
  token: string;
  pid: number;
  host: string;
  /** the holder's process start time (Linux: /proc/<pid>/stat field 22), to tell a reused pid */
  started?: string;
}

let hostName: string | undefined;
/** This machine's name (Linux: from /proc without any permission beyond reading; else node:os). */
export function thisHost(): string {
  if (hostName) return hostName;
  const tries = [() => readFileSync('/proc/sys/kernel/hostname', 'utf8'), () => hostname(), () => readFileSync('/etc/hostname', 'utf8')];
  for (const t of tries) {
    try {
      hostName = t().trim();
      if (hostName) return hostName;
    } catch {
      /* not permitted here (Deno without --allow-sys / --allow-all): the next way */
    }
  }
  return (hostName = 'unknown-host');
}

const proc = () => (globalThis as unknown as { process: { pid: number; kill(pid: number, sig: number): void } }).process;

/** Start time of a process (Linux), undefined where /proc is not available or the process does not exist. */
async function processStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether process pid exists on this machine, as far as this runtime may look. */
async function liveness(pid: number): Promise<'alive' | 'dead' | 'unknown'> {
  try {
    await readFile(`/proc/${pid}/stat`, 'utf8');
    return 'alive';
  } catch (e) {
    if (errCode(e) === 'ENOENT') {
      try {
        await readFile('/proc/self/stat', 'utf8');
        return 'dead'; // /proc works, and this pid is not in it
      } catch {
        /* no /proc: ask the kernel */
      }
    }
  }
  try {
    proc().kill(pid, 0);
    return 'alive';
  } catch (e) {
    return errCode(e) === 'ESRCH' ? 'dead' : errCode(e) === 'EPERM' ? 'alive' : 'unknown';
  }
}

function parseLock(text: string): LockFile | undefined {
  try {
    const v = JSON.parse(text) as LockFile;
    return v && v.format === 'logra-lock' && typeof v.token === 'string' && Number.isInteger(v.pid) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The lock file's holder; undefined when there is none; 'foreign' when the file is not a logra lock. */
async function readLock(path: string): Promise<LockFile | 'foreign' | undefined> {
  try {
    return parseLock(await readFile(path, 'utf8')) ?? 'foreign';
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

async function isStale(l: LockFile, path: string): Promise<boolean> {
  if (l.host === thisHost()) {
    const live = await liveness(l.pid);
    if (live === 'dead') return true;
    if (live === 'alive') {
      if (l.started === undefined) return false;
      const now = await processStart(l.pid);
      return now !== undefined && now !== l.started; // the pid now belongs to a process that started later
    }
  }
  // the holder cannot be looked up: its heartbeat decides
  try {
    return Date.now() - (await stat(path)).mtimeMs > LEASE_MS;
  } catch {
    return false; // gone meanwhile: the next attempt sees
  }
}

/** setInterval that does not keep the process alive (Node and Deno). */
function backgroundInterval(fn: () => void, ms: number): () => void {
  const id = setInterval(fn, ms) as unknown as { unref?: () => void } | number;
  if (typeof id === 'object') id.unref?.();
  else (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(id);
  return () => clearInterval(id as never);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function writeSynced(path: string, text: string, flags: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Creates `path` holding `text` unless it exists (EEXIST then). */
async function createExclusive(path: string, text: string, token: string): Promise<void> {
  const tmp = `${path}.tmp-${token}`;
  await writeSynced(tmp, text, 'w');
  try {
    await link(tmp, path);
  } catch (e) {
    if (errCode(e) === 'EEXIST') throw e;
    if (!['EPERM', 'ENOTSUP', 'ENOSYS', 'EOPNOTSUPP', 'EXDEV'].includes(errCode(e) ?? '')) throw e;
    await writeSynced(path, text, 'wx'); // no hard links on this file system: exclusive create
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Moves a stale lock aside if it is still the one that was found stale; puts back a live one moved by mistake. */
async function breakStale(path: string, stale: LockFile, token: string): Promise<void> {
  const aside = `${path}.stale-${token}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return;
    throw e;
  }
  const moved = parseLock(await readFile(aside, 'utf8').catch(() => ''));
  if (moved && moved.token !== stale.token) await link(aside, path).catch(() => undefined); // another writer's fresh lock
  await unlink(aside).catch(() => undefined);
}

function randomToken(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

export class FsLock implements IndexLock {
  private released = false;
  private readonly stopHeartbeat: () => void;
  private constructor(
    private readonly path: string,
    private readonly me: LockFile,
    private readonly location: string,
  ) {
    this.stopHeartbeat = backgroundInterval(() => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
  }

  get holder(): LockHolder {
    const { op, since, pid, host } = this.me;
    return { op, since, pid, host };
  }

  static async acquire(dir: string, location: string, opts: LockOptions): Promise<FsLock> {
    const path = join(dir, LOCK_FILE);
    const token = randomToken();
    const pid = proc().pid;
    const me: LockFile = { format: 'logra-lock', token, pid, host: thisHost(), started: await processStart(pid), op: opts.op, since: new Date().toISOString() };
    const text = JSON.stringify(me);
    const waitMs = opts.waitMs ?? Infinity;
    const deadline = Date.now() + waitMs;
    let told = false;
    let delay = 20;
    let vanished = 0;
    for (;;) {
      if (opts.signal?.aborted) throw new StoreError(`stopped waiting for the index lock (${opts.op})`, location);
      try {
        await createExclusive(path, text, token);
        return new FsLock(path, me, location);
      } catch (e) {
        // ENOENT: a sweep removed our temporary file between its write and its link (it takes those of dead writers)
        if (errCode(e) === 'ENOENT' && vanished++ < 8) continue;
        if (errCode(e) !== 'EEXIST') throw lockError(e, location, path);
      }
      const held = await readLock(path);
      if (held === undefined) continue; // released in the meantime
      if (held !== 'foreign' && (await isStale(held, path))) {
        await breakStale(path, held, token);
        continue;
      }
      const holder: LockHolder = held === 'foreign' ? { op: 'unknown', since: 'unknown' } : { op: held.op, since: held.since, pid: held.pid, host: held.host };
      if (waitMs <= 0 || Date.now() >= deadline) {
        const hint =
          held === 'foreign' ? `; ${path} is not a logra lock file: remove it if no logra process writes this index`
          : held.host === thisHost() ? '' : `; it is held from another machine: if no logra process runs there, remove ${path}`;
        throw new IndexLockedError(location, holder, hint);
      }
      if (!told) opts.onWait?.(holder);
      told = true;
      await sleep(Math.min(delay, Math.max(1, deadline - Date.now())), opts.signal);
      delay = Math.min(delay * 2, 250);
    }
  }

  /** Throws unless the lock file still carries this holder's token (another writer took over a lock it judged stale). */
  async verify(): Promise<void> {
    const now = await readLock(this.path).catch(() => undefined);
    if (this.released || !now || now === 'foreign' || now.token !== this.me.token) {
      const holder: LockHolder = now && now !== 'foreign' ? { op: now.op, since: now.since, pid: now.pid, host: now.host } : { op: 'none', since: 'never' };
      throw new IndexLockedError(this.location, holder, `; this process's lock was taken over (or removed by hand), so it committed nothing more`);
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopHeartbeat();
    const now = await readLock(this.path).catch(() => undefined);
    if (now && now !== 'foreign' && now.token === this.me.token) await unlink(this.path).catch(() => undefined);
  }
}

function lockError(e: unknown, location: string, path: string): Error {
  if (isReadOnly(e)) return new StoreReadOnlyError(location, `cannot create ${path}: ${(e as Error).message}`);
  if (isNoSpace(e)) return new StoreQuotaError(location, (e as Error).message);
  return e as Error;
}

/** Lock files the lock protocol leaves when a process dies at the wrong moment (removed by a sweep). */
export async function lockLeftovers(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => /^lock\.(tmp|stale)-[a-z0-9]+$/.test(f));
  } catch {
    return [];
  }
}
