// logra fit: the damped Hessian approximation and every logged example's self-influence.
import { parseArgs, type FlagSpec } from '../args.ts';
import type { HessianKind } from '../../logra/types.ts';
import { engineFlags, engineFrom, lockOptions, numFlag, oneOf, openIndexDir, printJson, progressBars, withInterrupt, writerFlags } from './common.ts';

export const fitSpec: Record<string, FlagSpec> = {
  index: { required: true, help: 'index directory' },
  damping: { help: 'lambda = damping x mean eigenvalue of each layer\'s curvature (default 0.1)' },
  absolute: { boolean: true, help: 'use --damping as the absolute lambda' },
  hessian: { help: 'none | raw | kfac | ekfac (default: the one given to log)' },
  'raw-form': { help: 'raw: auto | covariance | kernel (default auto: the k x k covariance or the N x N Gram matrix, whichever costs less)' },
  'memory-mb': { help: 'working memory for the fit\'s statistics and factors, MiB (default 512): layers are fitted in groups that fit' },
  ...writerFlags,
  ...engineFlags,
};

export async function fitCommand(argv: string[]): Promise<unknown> {
  const a = parseArgs(argv, fitSpec, 'fit');
  const engine = await engineFrom(a);
  try {
    const { index } = await openIndexDir(engine, a, false);
    const hessian = a.hessian === undefined ? undefined : oneOf<HessianKind>(a.hessian, 'hessian', ['none', 'raw', 'kfac', 'ekfac'], 'raw');
    const rawForm = oneOf(a['raw-form'], 'raw-form', ['auto', 'covariance', 'kernel'] as const, 'auto');
    const memoryBytes = numFlag(a['memory-mb'], 'memory-mb', 512, 1) * 2 ** 20;
    const t0 = performance.now();
    const state = await withInterrupt((signal) => index.fit({ damping: numFlag(a.damping, 'damping', 0.1), absolute: !!a.absolute, hessian, rawForm, memoryBytes, signal, onProgress: progressBars(!!a.quiet), ...lockOptions(a, 'fit') }));
    const out = { index: a.index, ...state, layers: index.layerNames, seconds: +((performance.now() - t0) / 1000).toFixed(2) };
    printJson(out);
    return out;
  } finally {
    engine.dispose();
  }
}
