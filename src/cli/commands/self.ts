// logra self: self-influence g^T (C + lambda I)^{-1} g of every logged example (outliers, mislabels).
import { writeFile } from 'node:fs/promises';
import { parseArgs, type FlagSpec } from '../args.ts';
import { engineFlags, scanFlags, scanThreadsFlag, engineFrom, openIndexDir, printJson } from './common.ts';

export const selfSpec: Record<string, FlagSpec> = {
  index: { required: true, help: 'index directory' },
  out: { required: true, help: 'output self.json: {"ids", "values", "layers": {name: [...]}}' },
  ...scanFlags,
  ...engineFlags,
};

export async function selfCommand(argv: string[]): Promise<unknown> {
  const a = parseArgs(argv, selfSpec, 'self');
  const engine = await engineFrom(a);
  try {
    const { index } = await openIndexDir(engine, a, false);
    index.scanThreads = scanThreadsFlag(a);
    const s = await index.selfInfluence();
    await index.dispose();
    await writeFile(a.out as string, JSON.stringify({ ids: s.ids, values: Array.from(s.values), layers: Object.fromEntries(s.layerNames.map((n, i) => [n, Array.from(s.layers[i])])) }));
    let top = 0;
    s.values.forEach((v, i) => (v > s.values[top] ? (top = i) : 0));
    const out = { out: a.out, examples: s.ids.length, hessian: index.fitState?.hessian, largest: s.ids.length ? { id: s.ids[top], value: s.values[top] } : null };
    printJson(out);
    return out;
  } finally {
    engine.dispose();
  }
}
