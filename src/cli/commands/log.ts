// logra log: projected per-example gradients of a training set into an index directory (resumable).
import { readFile } from 'node:fs/promises';
import { env } from 'node:process';
import { parseArgs, intFlag, UsageError, type FlagSpec } from '../args.ts';
import { decodeProjections } from '../../logra/projections.ts';
import type { HessianKind, ProjectionInit, StoreDtype } from '../../logra/types.ts';
import { FsStore } from '../../store/fs.ts';
import { MAX_BATCH } from '../../logra/log.ts';
import { parseShard, shardFromEnv, ShardError, type ShardSpec } from '../../logra/shard.ts';
import { dataFlags, engineFlags, engineFrom, loadModelFile, lockOptions, modelFlags, numFlag, oneOf, printJson, progressBars, readExamples, withInterrupt, writerFlags } from './common.ts';

export const logSpec: Record<string, FlagSpec> = {
  ...modelFlags,
  data: {
    required: true,
    help: 'JSONL training examples: {"id","text"}, {"id","prompt","completion"}, {"id","messages"} (with a tokenizer), {"id","input_ids"}, {"id","input_ids"|"text","label"} or {"id","input","label"}',
  },
  index: { required: true, help: 'index directory (created; an existing index is resumed; a folder holding other files is refused)' },
  layers: { help: 'RegExp over layer (node) names; default every linear layer' },
  task: { help: 'causal-lm | classification | regression (default: inferred from the logits: [B, T, V] causal LM, [B, 1] regression, [B, C] classification)' },
  reduction: { help: 'causal LM loss over tokens: sum | mean (default sum)' },
  'k-in': { help: 'projection rank of layer inputs (default 16)' },
  'k-out': { help: 'projection rank of output gradients (default 16)' },
  proj: { help: '"none": no projection, the full weight gradient (exact mode; small models only)' },
  projections: { help: 'safetensors with float32 <layer>.in [k_in, d_in] and <layer>.out [k_out, d_out]' },
  init: { help: 'random | pca (default random)' },
  seed: { help: 'random projection seed, u32 (default 0)' },
  hessian: { help: 'none | raw | kfac | ekfac: the default for fit (default raw)' },
  dtype: { help: 'stored gradients: f32 | f16 | int8 (a scale per 64 values, 1.06 bytes per value) | sign (1 bit + a scale per 64 values, 0.19 bytes per value); default f32' },
  batch: { help: 'examples per model run (default 8)' },
  'run-mb': { help: 'working memory of one model run, MiB (default 1024): batches are split so that the model\'s estimated activations fit' },
  'pca-examples': { help: 'PCA init: examples for the statistics pass (default all)' },
  'chunk-mb': { help: 'target size of a stored chunk in MiB (default 4)' },
  'flush-seconds': { help: 'commit at least this often, in seconds (default 10; a crash loses at most this much work)' },
  replace: { boolean: true, help: 're-log ids the index holds with other content (with the rest of their chunks; default: such an id is an error)' },
  shard: {
    help: 'i/n: log only shard i of n, numbered from 0 (0/3, 1/3, 2/3): examples [floor(i N / n), floor((i+1) N / n)) of the N in --data, into this --index (its own); then `logra merge OUT SHARD...`. "auto": i (and n) from JOB_COMPLETION_INDEX (Kubernetes Indexed Job, with --shards n) or SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT (Slurm array)',
  },
  shards: { help: 'n, the number of shards: with --shard auto (or alone, which means --shard auto); needed for a Kubernetes Indexed Job (its completions)' },
  ...writerFlags,
  ...dataFlags,
  ...engineFlags,
};

export async function logCommand(argv: string[]): Promise<unknown> {
  const a = parseArgs(argv, logSpec, 'log');
  const modes = [a.proj !== undefined, a.projections !== undefined, a.init !== undefined || a['k-in'] !== undefined || a['k-out'] !== undefined];
  if (a.proj !== undefined && a.proj !== 'none') throw new UsageError(`--proj only takes "none", got ${JSON.stringify(a.proj)}`);
  if (modes.filter(Boolean).length > 1) throw new UsageError('use one of --proj none, --projections FILE, or --init/--k-in/--k-out');
  const init: ProjectionInit = a.proj ? 'identity' : a.projections ? 'given' : oneOf<ProjectionInit>(a.init, 'init', ['random', 'pca'], 'random');
  const hessian = oneOf<HessianKind>(a.hessian, 'hessian', ['none', 'raw', 'kfac', 'ekfac'], 'raw');
  const dtype = oneOf<StoreDtype>(a.dtype, 'dtype', ['f32', 'f16', 'int8', 'sign'], 'f32');
  const seed = intFlag(a.seed, 'seed', 0, 0);
  if (seed > 0xffffffff) throw new UsageError('--seed must be < 2^32');
  const shard = shardFlags(a);
  const engine = await engineFrom(a);
  const t0 = performance.now();
  try {
    const model = await loadModelFile(engine, a.model as string, a);
    const examples = await readExamples(a.data as string, a, model.tokenizer);
    const projections = a.projections ? decodeProjections(new Uint8Array(await readFile(a.projections as string)), model.layers, a.projections as string) : undefined;
    const store = new FsStore(a.index as string);
    let logged = 0, total = examples.length;
    const bars = progressBars(!!a.quiet);
    const index = await withInterrupt((signal) =>
      engine.log(model, examples, {
        store, init, projections, hessian, dtype, seed, signal, shard,
        kIn: intFlag(a['k-in'], 'k-in', 16), kOut: intFlag(a['k-out'], 'k-out', 16),
        batchSize: intFlag(a.batch, 'batch', 8, 1, MAX_BATCH),
        runBytes: numFlag(a['run-mb'], 'run-mb', 1024, 1) * 2 ** 20,
        replace: !!a.replace,
        ...lockOptions(a, 'log'),
        chunkBytes: numFlag(a['chunk-mb'], 'chunk-mb', 4) * 2 ** 20,
        flushMs: numFlag(a['flush-seconds'], 'flush-seconds', 10) * 1000,
        pcaExamples: a['pca-examples'] !== undefined ? intFlag(a['pca-examples'], 'pca-examples', 1) : undefined,
        onProgress: (e) => {
          if (e.stage === 'log') {
            logged = e.done - (e.skipped ?? 0);
            total = e.total;
          }
          bars(e);
        },
      }),
    );
    await model.release();
    const info = index.info();
    const out = { index: a.index, examples: index.size, logged, skipped: total - logged, ...(shard ? { shard: { ...(index.manifest.state.shard as object), ...(shard.source ? { from: shard.source } : {}) } } : {}), seconds: +((performance.now() - t0) / 1000).toFixed(2), backend: engine.backend.description, ...pick(info, ['projection', 'dtype', 'hessian', 'cols', 'bytesPerExample']), layers: index.manifest.settings.layers.length };
    printJson(out);
    return out;
  } finally {
    engine.dispose();
  }
}

/** --shard i/n | auto and --shards n (shard.ts): undefined when the whole data is logged. */
function shardFlags(a: Record<string, string | boolean | undefined>): (ShardSpec & { source?: string }) | undefined {
  try {
    const n = a.shards === undefined ? undefined : intFlag(a.shards, 'shards', 1);
    if (a.shard === undefined && n === undefined) return undefined;
    if (a.shard === undefined || a.shard === 'auto') return shardFromEnv(env, n);
    const s = parseShard(String(a.shard));
    if (n !== undefined && n !== s.count) throw new UsageError(`--shard ${a.shard} says ${s.count} shards, --shards says ${n}`);
    return s;
  } catch (e) {
    if (e instanceof ShardError) throw new UsageError(e.message);
    throw e;
  }
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}
