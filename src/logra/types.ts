// Public types of the LoGra pipeline (log -> fit -> query / self-influence). The same in the browser, Deno and Node.
import type { Example } from '../runtime/batch.ts';
import type { LogStore } from '../store/store.ts';
import type { ScoreMode } from '../kernels/reference/score.ts';
import type { LayerProjection } from '../runtime/taps.ts';
import type { LockHolder } from '../store/store.ts';
import type { ShardSpec } from './shard.ts';

export type { Example, ScoreMode, LayerProjection };

/** Hessian approximation in the projected space. */
export type HessianKind = 'none' | 'raw' | 'kfac' | 'ekfac';
/** How the LoGra projections are made: seeded Gaussian, top eigenvectors of the KFAC factors, the identity (exact
 *  mode: the full weight gradient, small models only), or supplied by the caller. */
export type ProjectionInit = 'random' | 'pca' | 'identity' | 'given';
/** How stored rows are encoded (store/chunk.ts): float32, float16, int8 with a scale per 64 values (1.06 bytes per
 *  value), or 1-bit signs with a scale per 64 values (0.19 bytes per value); bench/results/accuracy.json gives their
 *  accuracy cost */
export type StoreDtype = 'f32' | 'f16' | 'int8' | 'sign';

/** A long step's progress: `done` of `total` units (examples, chunks). */
export interface ProgressEvent {
  stage: 'stats' | 'log' | 'fit' | 'self' | 'query' | 'warm';
  done: number;
  total: number;
  /** what is being counted */
  unit: 'examples' | 'chunks' | 'layers';
  /** examples skipped because the store already holds them (log) */
  skipped?: number;
}
export type ProgressCallback = (e: ProgressEvent) => void;

/** Writers (log, fit) take the index's lock: another writer makes them wait, or fail (IndexLockedError). */
export interface WriterOptions {
  /** how long to wait for another writer, in ms (default: no limit; 0 = fail at once) */
  lockWaitMs?: number;
  /** called once when another writer holds the lock and this one waits */
  onLockWait?: (holder: LockHolder) => void;
}

export interface LogOptions extends WriterOptions {
  store: LogStore;
  /**
   * log only shard `index` of `count` (0-based): examples [floor(index N / count), floor((index + 1) N / count)) of the
   * N given, into this store (its own index); `mergeShards` then makes one index of all of them (shard.ts, merge.ts).
   * Pass the whole data to every shard: each slices it the same way.
   */
  shard?: ShardSpec;
  /** a stored id that comes with other content: re-log it (and the rest of its chunk) instead of failing */
  replace?: boolean;
  /**
   * called for each example whose gradient is not finite (it is not stored, the rest of its batch is); without it,
   * log throws NonFiniteGradientError naming them after storing everything else
   */
  onRejected?: (e: Example) => void;
  /** projection rank per layer: P_in has k_in rows, P_out k_out (default 16 each; ignored for identity) */
  kIn?: number;
  kOut?: number;
  /** default 'random' (or 'given' when projections are passed) */
  init?: ProjectionInit;
  /** per tapped layer name: P_in [k_in, d_in] and P_out [k_out, d_out] (init 'given') */
  projections?: Map<string, LayerProjection>;
  /** random init: u32 seed (default 0) */
  seed?: number;
  /** the Hessian fit() uses by default (default 'raw'); KFAC statistics are logged in every case */
  hessian?: HessianKind;
  /** stored dtype of projected gradients (default 'f32') */
  dtype?: StoreDtype;
  /** examples per model run (default 8) */
  batchSize?: number;
  /** working memory of one model run (bytes, default 1 GiB): a batch is split so that examples x longest example x
   *  the model's estimated bytes per token stays within it (onnxruntime-web's wasm has 4 GiB in all, weights
   *  included) */
  runBytes?: number;
  /** PCA init: examples used for the KFAC statistics pass (default all) */
  pcaExamples?: number;
  /** target chunk size in bytes (default 4 MiB) */
  chunkBytes?: number;
  /** commit at least this often (ms) even if the chunk is not full (default 10 s): bounds what a crash loses */
  flushMs?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface FitOptions extends WriterOptions {
  /** default: the hessian given to log() */
  hessian?: HessianKind;
  /** lambda_l = damping * mean eigenvalue of C_l (default 0.1); with absolute: true, lambda_l = damping */
  damping?: number;
  absolute?: boolean;
  /**
   * raw: how the damped covariance is factorised, once per layer: 'covariance' (k x k), 'kernel' (the N x N Gram
   * matrix of the stored rows, Woodbury) or 'auto' (default: whichever costs fewer operations: the kernel form when
   * N is below about 1.35 k)
   */
  rawForm?: 'auto' | 'covariance' | 'kernel';
  /** working memory for the fit's statistics and factors (bytes, default 512 MiB): layers are fitted in groups that
   *  fit it, one or two passes over the rows each */
  memoryBytes?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface QueryOptions {
  /** top-k per query (default 10; 0 = none) */
  topK?: number;
  mode?: ScoreMode;
  /** scores per tapped layer as well */
  perLayer?: boolean;
  /** per-token contributions of the query's tokens to each top-k score */
  perToken?: boolean;
  /** return the full [queries x train] score matrix (default true) */
  scores?: boolean;
  /** Kronfluence-style low-rank query batching: keep the best rank-r approximation of every preconditioned
   *  query gradient per layer (0 = off) */
  queryRank?: number;
  /** examples per model run (default 8) */
  batchSize?: number;
  /** working memory of one model run (bytes, default 1 GiB), as in LogOptions */
  runBytes?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface TopItem {
  id: string;
  /** row of the train example in the index */
  index: number;
  score: number;
  /** per tapped layer (perLayer) */
  layers?: number[];
  /** contribution of each query token (perToken; causal LM: one per input position) */
  tokens?: number[];
}

export interface QueryResult {
  queryIds: string[];
  trainIds: string[];
  mode: ScoreMode;
  /** [query][train] (scores: true) */
  scores?: Float32Array[];
  /** layer name -> [query][train] (perLayer and scores) */
  layers?: Map<string, Float32Array[]>;
  top: TopItem[][];
  layerNames: string[];
  /** per query: loss of the query example */
  losses: number[];
}

export interface SelfInfluence {
  ids: string[];
  /** g_n^T (C + lambda I)^{-1} g_n, summed over layers */
  values: Float32Array;
  /** [layer][example] */
  layers: Float32Array[];
  layerNames: string[];
}

/** Default working memory of one model run. */
export const DEFAULT_RUN_BYTES = 2 ** 30;

export class AbortError extends Error {
  constructor(what: string) {
    super(`${what} was aborted`);
    this.name = 'AbortError';
  }
}

export function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(what);
}
