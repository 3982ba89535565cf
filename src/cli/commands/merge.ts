// logra merge OUT SHARD...: one index of the shard indexes `logra log --shard i/n` wrote (src/logra/merge.ts). On
// one file system OUT shares the shards' chunk files (hard links: no bytes copied; either side may be deleted
// later); --copy copies them.
import { parseArgs, UsageError, type FlagSpec } from '../args.ts';
import { FsStore } from '../../store/fs.ts';
import { mergeShards } from '../../logra/merge.ts';
import { lockOptions, printJson, progressBars, writerFlags } from './common.ts';

export const mergeSpec: Record<string, FlagSpec> = {
  copy: { boolean: true, help: 'copy the shards\' chunk files into OUT (checksums verified) instead of hard-linking them (needed across file systems)' },
  ...writerFlags,
  quiet: { boolean: true, help: 'no progress bar' },
};

export const mergeUsage = 'logra merge OUT SHARD_INDEX... [--copy]: OUT (a new or empty folder) becomes one index of every shard of a `logra log --shard i/n` run, in any order';

export async function mergeCommand(argv: string[]): Promise<unknown> {
  const pos: string[] = [];
  const a = parseArgs(argv, mergeSpec, 'merge', pos);
  if (pos.length < 2) throw new UsageError(`merge: give the output folder and the shard indexes (${mergeUsage})`);
  const [outDir, ...shardDirs] = pos;
  const seen = new Set<string>();
  for (const d of shardDirs) {
    if (d === outDir) throw new UsageError(`merge: the output ${outDir} is also given as a shard`);
    if (seen.has(d)) throw new UsageError(`merge: shard index ${d} is given twice`);
    seen.add(d);
  }
  const t0 = performance.now();
  const { lockWaitMs, onLockWait } = lockOptions(a, 'merge');
  const bars = progressBars(!!a.quiet);
  const r = await mergeShards(shardDirs.map((d) => new FsStore(d)), new FsStore(outDir), {
    copy: !!a.copy,
    lock: { waitMs: lockWaitMs, onWait: onLockWait },
    onProgress: (done, total) => bars({ stage: 'merge', done, total }),
  });
  const out = {
    index: outDir,
    shards: r.shards,
    examples: r.examples,
    chunks: r.chunks,
    mode: a.copy ? 'copy' : 'link',
    linked: r.linked,
    copied: r.copied,
    seconds: +((performance.now() - t0) / 1000).toFixed(2),
    next: `logra fit --index ${outDir}`,
  };
  printJson(out);
  return out;
}
