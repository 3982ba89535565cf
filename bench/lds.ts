// Linear datamodeling score (LDS) of LoGra on a real classification task: KJV verses -> book (8 books) from hashed
// bag-of-words features with a small MLP; M retrains on random 50% subsets; hessian none/raw/kfac/ekfac, random vs
// PCA init, several k, and exact mode as the ceiling. Method and sign convention: bench/support/lds-run.ts and
// bench/README.md.
//   Node:  npx tsx bench/lds.ts [--quick] [--json bench/results/lds.json] [--pool N] [--models M] [--queries Q]
//                               [--ks 4,8,16,32] [--no-exact]
//   Deno:  node scripts/deno.js run --allow-read --allow-env --allow-net=127.0.0.1 --allow-write=/tmp,bench/results bench/lds.ts
import { runLds } from './support/lds-run.ts';
import { exit, flag, opt, writeJson } from './support/common.ts';

const num = (name: string) => (opt(name) !== undefined ? Number(opt(name)) : undefined);
const res = await runLds({
  quick: flag('--quick'),
  pool: num('--pool'),
  models: num('--models'),
  queries: num('--queries'),
  ks: opt('--ks')?.split(',').map(Number),
  exact: !flag('--no-exact'),
});
console.log(`\nLDS (mean over ${res.task.queries} queries of Spearman(predicted, actual query loss) across ${res.retrains.M} retrains; ± = standard error over queries)\n`);
console.log(res.markdown);
console.log(`\ntotal ${res.seconds.toFixed(0)} s`);
const json = opt('--json');
if (json) await writeJson(json, res);
exit(0);
