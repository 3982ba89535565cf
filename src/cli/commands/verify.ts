// logra verify: reads and checks every byte of an index (manifest checksum, every chunk's CRC and values, ids,
// every blob's CRC and contents); exit 1 naming each damaged chunk or blob.
import { parseArgs, type FlagSpec } from '../args.ts';
import { FsStore } from '../../store/fs.ts';
import { IndexDamagedError, verifyIndex } from '../../logra/verify.ts';
import { printJson, stderrLine } from './common.ts';

export const verifySpec: Record<string, FlagSpec> = {
  index: { required: true, help: 'index directory' },
  quiet: { boolean: true, help: 'no per-problem lines on stderr' },
};

export async function verifyCommand(argv: string[]): Promise<unknown> {
  const a = parseArgs(argv, verifySpec, 'verify');
  const store = new FsStore(a.index as string);
  const r = await verifyIndex(store);
  printJson({ index: a.index, ...r });
  if (!r.ok) {
    if (!a.quiet) for (const p of r.problems) stderrLine(`logra verify: ${p.kind}${p.key ? ` ${JSON.stringify(p.key)}` : ''}${p.role ? ` (${p.role})` : ''}: ${p.message}`);
    throw new IndexDamagedError(store.location, r.problems);
  }
  return r;
}
