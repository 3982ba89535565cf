// logra repair: drops damaged chunks (with their KFAC statistics) and a damaged fit from the manifest, so that
// `logra log` over the same data re-logs exactly the dropped ids and the next query refits.
import { parseArgs, type FlagSpec } from '../args.ts';
import { FsStore } from '../../store/fs.ts';
import { repairIndex } from '../../logra/verify.ts';
import { lockOptions, printJson, writerFlags } from './common.ts';

export const repairSpec: Record<string, FlagSpec> = {
  index: { required: true, help: 'index directory' },
  ...writerFlags,
  quiet: { boolean: true, help: 'no messages on stderr' },
};

export async function repairCommand(argv: string[]): Promise<unknown> {
  const a = parseArgs(argv, repairSpec, 'repair');
  const store = new FsStore(a.index as string);
  const { lockWaitMs, onLockWait } = lockOptions(a, 'repair');
  const r = await repairIndex(store, { waitMs: lockWaitMs, onWait: onLockWait });
  const relog = r.dropped.reduce((n, d) => n + d.rows, 0);
  const out = {
    index: a.index,
    droppedChunks: r.dropped.map((d) => ({ key: d.key, rows: d.rows })),
    relog,
    fitDropped: r.fitDropped,
    removedLeftovers: r.swept.length,
    next: relog ? `run logra log with the same data and settings: it logs the ${relog} dropped ids` : r.fitDropped ? 'run logra fit (or query: it refits)' : 'nothing was damaged',
  };
  printJson(out);
  return out;
}
