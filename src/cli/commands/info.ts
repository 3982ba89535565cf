// logra info: what an index holds (settings, layers, size, fit); optionally exports its projections.
import { writeFile } from 'node:fs/promises';
import { parseArgs, type FlagSpec } from '../args.ts';
import { encodeProjections } from '../../logra/projections.ts';
import { quickCheck } from '../../logra/verify.ts';
import { engineFlags, engineFrom, openIndexDir, printJson } from './common.ts';

export const infoSpec: Record<string, FlagSpec> = {
  index: { required: true, help: 'index directory' },
  'export-projections': { help: 'write the projections as safetensors (<layer>.in [k_in, d_in], <layer>.out [k_out, d_out], float32)' },
  backend: engineFlags.backend,
  quiet: engineFlags.quiet,
};

export async function infoCommand(argv: string[]): Promise<unknown> {
  const a = parseArgs(argv, infoSpec, 'info');
  const engine = await engineFrom({ ...a, backend: a.backend ?? 'cpu' });
  try {
    const { index } = await openIndexDir(engine, a, false);
    const info = index.info();
    // cheap: chunk headers and blob sizes (logra verify reads everything)
    const q = await quickCheck(index.store, index.manifest);
    info.verification = { state: q.ok ? 'headers ok (logra verify checks every byte)' : 'damaged: run logra verify, then logra repair', manifest: q.manifest, problems: q.problems };
    if (a['export-projections']) {
      const p = await index.projections();
      await writeFile(a['export-projections'] as string, encodeProjections(p, { projection: index.manifest.settings.projection, model_sha256: index.manifest.settings.modelSha256 }));
      info.exportedProjections = a['export-projections'];
    }
    printJson(info);
    return info;
  } finally {
    engine.dispose();
  }
}
