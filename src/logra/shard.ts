// Sharded logging: `log` over a deterministic slice of the data into its own index, on many machines at once
// (Kubernetes Indexed Jobs, Slurm arrays), then one `merge` (merge.ts) of the shard indexes.
//
// Shards are 0-based: shard i of n logs examples [floor(i N / n), floor((i + 1) N / n)) of the N examples in data
// order: contiguous, disjoint, covering every example once, so a merge that lists shard 0's rows, then shard 1's, ...
// has the row order of a single-process run. A shard index records in `state.shard` (ShardState) which slice of which
// data it holds, a hash of its projections, and whether its log finished: the merge refuses shards from other data,
// overlapping or missing slices, and shards still logging (or interrupted).
import type { Example } from '../runtime/batch.ts';
import { StoreMismatchError, type Manifest } from '../store/store.ts';
import { sha256Hex } from './model.ts';
import { encodeProjections, type Projections } from './projections.ts';

/** Shard `index` of `count` (0-based). */
export interface ShardSpec {
  index: number;
  count: number;
}

/** What a shard index records about its slice (manifest.state.shard). */
export interface ShardState {
  index: number;
  count: number;
  /** the slice: examples [start, end) of `total`, in data order */
  start: number;
  end: number;
  total: number;
  /** SHA-256 of the ids of all `total` examples in data order (every shard must have read the same data) */
  dataIds: string;
  /** SHA-256 of the slice's ids, sorted (what a finished shard stores, with `rejected`) */
  sliceIds: string;
  /** SHA-256 of the projections (safetensors as `info --export-projections` writes them, without metadata) */
  projections: string;
  /** the log ran to the end of the slice (false while it logs, or after it was interrupted) */
  complete: boolean;
  /** ids of the slice not stored because their gradient was not finite */
  rejected: string[];
}

export class ShardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardError';
  }
}

/** Examples [start, end) of `total` that shard `index` of `count` logs. */
export function shardRange(total: number, s: ShardSpec): { start: number; end: number } {
  checkShard(s);
  return { start: Math.floor((s.index * total) / s.count), end: Math.floor(((s.index + 1) * total) / s.count) };
}

export function checkShard(s: ShardSpec): void {
  if (!Number.isInteger(s.count) || s.count < 1) throw new ShardError(`the shard count must be an integer >= 1, got ${s.count}`);
  if (!Number.isInteger(s.index) || s.index < 0 || s.index >= s.count) throw new ShardError(`shard index ${s.index} is not in 0..${s.count - 1} (shards are numbered from 0: i/n with 0 <= i < n)`);
}

/** "i/n" (0-based i). */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ShardError(`--shard takes i/n (0-based: 0/3, 1/3, 2/3) or "auto", got ${JSON.stringify(text)}`);
  const s = { index: Number(m[1]), count: Number(m[2]) };
  checkShard(s);
  return s;
}

function envInt(env: Record<string, string | undefined>, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim())) throw new ShardError(`${name}=${JSON.stringify(v)} is not a non-negative integer`);
  return Number(v.trim());
}

/**
 * The shard from a scheduler's environment:
 * - Kubernetes Indexed Job: JOB_COMPLETION_INDEX (0-based) and the count `shards` (the Job's `completions`, passed
 *   as --shards n: Kubernetes does not put it in the environment);
 * - Slurm job array: SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN (0 when unset), divided by SLURM_ARRAY_TASK_STEP
 *   (1 when unset), of SLURM_ARRAY_TASK_COUNT (or `shards`). Arrays with gaps (--array=1,3,7) have no such numbering:
 *   pass --shard i/n.
 * Throws naming what is missing when neither is there.
 */
export function shardFromEnv(env: Record<string, string | undefined>, shards?: number): ShardSpec & { source: string } {
  const k8s = envInt(env, 'JOB_COMPLETION_INDEX');
  if (k8s !== undefined) {
    if (shards === undefined) throw new ShardError('JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the shard count is not known: pass --shards N (the Job\'s completions)');
    const s = { index: k8s, count: shards };
    checkShard(s);
    return { ...s, source: `JOB_COMPLETION_INDEX=${k8s}` };
  }
  const id = envInt(env, 'SLURM_ARRAY_TASK_ID');
  if (id !== undefined) {
    const min = envInt(env, 'SLURM_ARRAY_TASK_MIN') ?? 0;
    const step = envInt(env, 'SLURM_ARRAY_TASK_STEP') ?? 1;
    const count = shards ?? envInt(env, 'SLURM_ARRAY_TASK_COUNT');
    if (count === undefined) throw new ShardError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: pass --shards N');
    if (step < 1 || id < min || (id - min) % step !== 0) throw new ShardError(`SLURM_ARRAY_TASK_ID=${id} is not SLURM_ARRAY_TASK_MIN (${min}) + a multiple of SLURM_ARRAY_TASK_STEP (${step}): pass --shard i/n`);
    const index = (id - min) / step;
    if (index >= count) throw new ShardError(`SLURM_ARRAY_TASK_ID=${id} gives shard ${index} (task id - SLURM_ARRAY_TASK_MIN ${min}${step > 1 ? `, / step ${step}` : ''}), not below the count ${count}: an array with gaps (--array=1,3,7) has no such numbering; pass --shard i/n`);
    const s = { index, count };
    checkShard(s);
    return { ...s, source: `SLURM_ARRAY_TASK_ID=${id} (min ${min}${step > 1 ? `, step ${step}` : ''}, count ${count})` };
  }
  throw new ShardError('--shard auto (or --shards N) reads the shard from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array), and neither is set: pass --shard i/n');
}

const enc = new TextEncoder();
const hashIds = (ids: string[]) => sha256Hex(enc.encode(JSON.stringify(ids)));

/** SHA-256 of projections as their safetensors without metadata (the same bytes for the same matrices). */
export function projectionsHash(p: Projections): Promise<string> {
  return sha256Hex(encodeProjections(p));
}

/** The slice of `examples` a shard logs, and the state its index records (complete: false). */
export async function planShard(examples: Example[], s: ShardSpec, proj: Projections): Promise<{ slice: Example[]; state: ShardState }> {
  const { start, end } = shardRange(examples.length, s);
  const slice = examples.slice(start, end);
  const state: ShardState = {
    index: s.index, count: s.count, start, end, total: examples.length,
    dataIds: await hashIds(examples.map((e) => e.id)),
    sliceIds: await hashIds(slice.map((e) => e.id).sort()),
    projections: await projectionsHash(proj),
    complete: false,
    rejected: [],
  };
  return { slice, state };
}

/** The ids-of-a-slice hash a finished shard must reproduce from what it stores. */
export function sliceIdsHash(ids: string[]): Promise<string> {
  return hashIds([...ids].sort());
}

export function shardState(m: Manifest): ShardState | undefined {
  return m.state.shard as ShardState | undefined;
}

const describe = (s: ShardState | undefined) => (s ? `shard ${s.index}/${s.count} of ${s.total} examples` : 'no shard (the whole data)');

/** A resumed log must be the same shard of the same data as the index holds (or both unsharded). */
export function checkShardResume(location: string, stored: ShardState | undefined, given: ShardState | undefined): void {
  if (!stored && !given) return;
  if (!stored || !given || stored.index !== given.index || stored.count !== given.count || stored.total !== given.total) {
    throw new StoreMismatchError(location, 'shard', describe(stored), describe(given));
  }
  if (stored.dataIds !== given.dataIds) throw new StoreMismatchError(location, 'shard.dataIds (the ids of the whole data, in order)', stored.dataIds, given.dataIds);
  if (stored.projections !== given.projections) throw new StoreMismatchError(location, 'shard.projections (hash of the projection matrices)', stored.projections, given.projections);
}
