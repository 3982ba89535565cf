// The file-system store under Deno (node:fs compatibility): commits flushed file by file and folder by folder, the
// manifest's checksum, the writer lock (holder named, a dead holder's lock taken over) without any permission
// beyond reading and writing files.
import { FsStore } from '../../src/store/fs.ts';
import { IndexLockedError } from '../../src/store/store.ts';
import { ManifestChecksumError } from '../../src/store/integrity.ts';
import { encodeChunk } from '../../src/store/chunk.ts';
import { thisHost } from '../../src/store/fs-lock.ts';

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

Deno.test('Deno: a commit is flushed and read back verified; an edited manifest is refused', async () => {
  const dir = await Deno.makeTempDir({ prefix: 'logra-deno-store-' });
  try {
    const s = new FsStore(dir);
    const c = encodeChunk(new Float32Array([1, 2, 3, 4]), 2, 2, 'f32');
    const m = {
      format: 'logra-index' as const, version: 2, cols: 2, blobs: {}, state: {}, created: 'now', updated: 'now',
      settings: { modelSha256: 'ab', task: 'causal-lm', layers: [{ name: 'l', dIn: 2, dOut: 1, kIn: 2, kOut: 1 }], projection: 'random:2x1', seed: 0, dtype: 'f32' as const, hessian: 'raw', reduction: 'sum' },
      chunks: [{ key: 'chunk-000000-a', ids: ['x', 'y'], rows: 2, checksum: c.checksum, bytes: c.bytes.length }],
    };
    await s.commit([{ key: 'chunk-000000-a', bytes: c.bytes }], m);
    const back = await s.readManifest();
    assert(back && back.chunks[0].ids.join() === 'x,y', 'manifest read back');
    const text = await Deno.readTextFile(`${dir}/manifest.json`);
    await Deno.writeTextFile(`${dir}/manifest.json`, text.replace('"seed":0', '"seed":7'));
    const e = await s.readManifest().catch((x) => x);
    assert(e instanceof ManifestChecksumError, `expected ManifestChecksumError, got ${e}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('Deno: the writer lock names its holder and is taken over from a process that is gone', async () => {
  const dir = await Deno.makeTempDir({ prefix: 'logra-deno-lock-' });
  try {
    const held = await new FsStore(dir).lock({ op: 'log' });
    const e = await new FsStore(dir).lock({ op: 'fit', waitMs: 0 }).catch((x) => x);
    assert(e instanceof IndexLockedError, `expected IndexLockedError, got ${e}`);
    assert(e.message.includes(`pid ${Deno.pid} on ${thisHost()}`) && e.message.includes(': log, since'), e.message);
    await held.release();
    const child = await new Deno.Command(Deno.execPath(), { args: ['eval', 'console.log(Deno.pid)'], stdout: 'piped' }).output();
    const pid = Number(new TextDecoder().decode(child.stdout).trim());
    await Deno.writeTextFile(`${dir}/lock`, JSON.stringify({ format: 'logra-lock', token: 'gone', pid, host: thisHost(), op: 'log', since: 'then' }));
    const taken = await new FsStore(dir).lock({ op: 'log', waitMs: 0 });
    assert(JSON.parse(await Deno.readTextFile(`${dir}/lock`)).pid === Deno.pid, 'the stale lock was taken over');
    await taken.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
