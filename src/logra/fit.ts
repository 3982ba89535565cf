// Fitting: the damped Hessian approximation per tapped layer in the projected space, and every logged example's
// self-influence. Per layer l, with g = vec(G) (G [k_out, k_in], k = k_in k_out) and N logged examples:
//   raw:   C = (1/N) sum_n g_n g_n^T (k x k), lambda = damping * trace(C) / k.
//   kfac:  C ~ S (x) A with A = (1/rows) sum_t x~ x~^T (k_in x k_in; rows: the real tokens for layers applied per
//          token, every row for pooled / image layers), S = (1/N) sum_t dy~ dy~^T (k_out x k_out)
//          (x~ = P_in x, dy~ = P_out dy), so E[g g^T] ~ E_t[x x^T] (x) E_n[sum_t dy dy^T] under token independence.
//          Eigenbasis U = U_S (x) U_A, eigenvalues w_oi = s_o a_i, lambda = damping * mean(w).
//   ekfac: the KFAC eigenbasis with corrected eigenvalues w_oi = (1/N) sum_n (U_S^T G_n U_A)_oi^2 (George et al. 2018).
//   none:  plain dot products (lambda = 0).
// With absolute: true, lambda = damping.
//
// The form of each layer's preconditioner is chosen by cost (precondition.ts): raw is factorised once per layer,
// either as the k x k covariance (whiten: about 2 N k^2 + 2/3 k^3 multiply-adds) or, when that is cheaper (N below
// about 1.35 k), through the N x N Gram matrix of the stored rows (kernel: N^2 k + 2/3 N^3); kfac/ekfac
// eigendecompose the k_in x k_in and k_out x k_out factors once. Never a factorisation per chunk or per query.
// Memory: layers are fitted in groups whose working set (covariances, Gram matrices, the layer's rows for the
// kernel form) fits `memoryBytes`; each group is one or two passes over the chunks, and each layer's preconditioner
// is written to its own blob as soon as its group is done, so no step holds every layer's at once.
import type { BTensor, KernelBackend } from '../kernels/backend.ts';
import { crc32 } from '../store/chunk.ts';
import { StoreError, type LogStore, type Manifest } from '../store/store.ts';
import { readVerified } from '../store/integrity.ts';
import { ChunkCache, forEachChunk } from './chunks.ts';
import { forEachLimited } from './concurrency.ts';
import type { DecodePool } from './scan-pool.ts';
import { FIT_FORMAT, layerOffsets, packTensors, sliceCols, unpackTensors, type IndexLayer } from './layout.ts';
import { EigenPreconditioner, IdentityPreconditioner, KernelPreconditioner, WhitenPreconditioner, type LayerPreconditioner, type PreconditionerForm } from './precondition.ts';
import type { FitOptions, HessianKind } from './types.ts';

export interface FitState {
  /** FIT_FORMAT of the blobs */
  format: number;
  hessian: HessianKind;
  damping: number;
  absolute: boolean;
  lambdas: number[];
  /** per layer: how its preconditioner is stored and applied */
  forms: PreconditionerForm[];
  examples: number;
  tokens: number;
  /** the chunk keys the fit saw (a later log invalidates the fit) */
  chunks: number;
  at: string;
}

export interface FitLayerBlob {
  layer: number;
  key: string;
  checksum: number;
  bytes: number;
}

export interface FitResult {
  state: FitState;
  /** [layer][example] self-influence */
  self: Float32Array[];
  /** one written blob per layer (not yet referenced by the manifest: the caller commits them) */
  blobs: FitLayerBlob[];
  /** the preconditioners, for layers whose total fits `keepBytes` (else undefined: read them back from the blobs) */
  pre: (LayerPreconditioner | undefined)[];
}

/** Multiply-adds of the two raw forms (see the file comment): the kernel form when it is cheaper. */
export function rawFormFor(n: number, k: number, choice: FitOptions['rawForm'] = 'auto'): 'whiten' | 'kernel' {
  if (choice === 'covariance') return 'whiten';
  if (choice === 'kernel') return 'kernel';
  if (choice !== 'auto') throw new Error(`rawForm must be auto, covariance or kernel, got ${JSON.stringify(choice)}`);
  const cov = 2 * n * k * k + (2 / 3) * k ** 3;
  const ker = n * n * k + (2 / 3) * n ** 3;
  return ker < cov ? 'kernel' : 'whiten';
}

/** Bytes a layer's fit holds at once (its statistics and its factor). */
function workingBytes(l: IndexLayer, form: PreconditionerForm, n: number): number {
  const k = l.kIn * l.kOut;
  if (form === 'whiten') return 8 * k * k;
  if (form === 'kernel') return 4 * (n * k + 2 * n * n);
  if (form === 'eigen') return 4 * (l.kIn ** 2 + l.kOut ** 2) + 12 * k;
  return 0;
}

export const DEFAULT_FIT_MEMORY = 512 * 2 ** 20;

/**
 * Fits the index described by `m`. With `stage` (default), each layer's preconditioner goes to its own blob as its
 * group finishes (the caller holds the lock and commits them); without, nothing is written and every layer's
 * preconditioner is returned in `pre` (a reader that cannot or may not write: read-only media, another writer).
 */
export async function fitIndex(backend: KernelBackend, store: LogStore, m: Manifest, opts: FitOptions & { stamp: string; keepBytes?: number; cache?: ChunkCache; stage?: boolean; pool?: DecodePool }): Promise<FitResult> {
  const hessian = opts.hessian ?? (m.settings.hessian as HessianKind);
  if (!['none', 'raw', 'kfac', 'ekfac'].includes(hessian)) throw new Error(`hessian must be none, raw, kfac or ekfac, got ${JSON.stringify(hessian)}`);
  const damping = opts.damping ?? 0.1;
  if (!(damping >= 0) || !Number.isFinite(damping)) throw new Error(`damping must be a finite number >= 0, got ${damping}`);
  const budget = opts.memoryBytes ?? DEFAULT_FIT_MEMORY;
  if (!(budget > 0)) throw new Error(`memoryBytes must be > 0, got ${budget}`);
  const absolute = !!opts.absolute;
  const layers = m.settings.layers;
  const L = layers.length;
  const { offsets, cols } = layerOffsets(layers);
  const N = m.chunks.reduce((a, c) => a + c.rows, 0);
  if (N === 0) throw new StoreError('the index holds no examples; log some first', store.location);
  const lambdaOf = (meanEig: number) => (absolute ? damping : damping * meanEig);
  const ks = layers.map((l) => l.kIn * l.kOut);
  const forms: PreconditionerForm[] = layers.map((_, l) => (hessian === 'none' ? 'none' : hessian === 'raw' ? rawFormFor(N, ks[l], opts.rawForm) : 'eigen'));

  // KFAC factors: summed per-chunk statistics (small: k_in^2 + k_out^2 per layer)
  let tokens = 0;
  const statRows = new Float64Array(L); // rows each layer's A summed over (older indexes: the tokens, for every layer)
  const needFactors = hessian === 'kfac' || hessian === 'ekfac';
  const fa = layers.map((l) => new Float64Array(needFactors ? l.kIn * l.kIn : 0));
  const fs = layers.map((l) => new Float64Array(needFactors ? l.kOut * l.kOut : 0));
  for (const c of m.chunks) {
    const ref = m.blobs[`kfac/${c.key}`];
    if (!ref) throw new StoreError(`chunk ${c.key} has no KFAC statistics blob; run \`logra repair\`, then \`logra log\` re-logs its ids`, store.location);
    const t = unpackTensors(await readVerified(store, m, `kfac/${c.key}`), `${store.location}/${ref.key}`);
    const chunkTokens = Number(t.metadata.tokens ?? 0);
    tokens += chunkTokens;
    const rows = t.metadata.rows ? (JSON.parse(t.metadata.rows) as number[]) : undefined;
    layers.forEach((_, i) => (statRows[i] += rows?.[i] ?? chunkTokens));
    if (needFactors)
      layers.forEach((l, i) => {
        const a = t.get(`${i}.a`, [l.kIn, l.kIn]), s = t.get(`${i}.s`, [l.kOut, l.kOut]);
        for (let j = 0; j < a.length; j++) fa[i][j] += a[j];
        for (let j = 0; j < s.length; j++) fs[i][j] += s[j];
      });
  }

  // groups of layers whose working memory fits the budget (at least one layer each)
  const groups: number[][] = [];
  let cur: number[] = [], used = 0;
  layers.forEach((l, i) => {
    const b = workingBytes(l, forms[i], N);
    if (cur.length && used + b > budget) {
      groups.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(i);
    used += b;
  });
  if (cur.length) groups.push(cur);
  // a first pass over the rows for covariances, Gram rows and EKFAC corrections; a second for self-influences of
  // every form but the kernel one (which has them from its factor)
  const needsA = (g: number[]) => g.some((l) => forms[l] === 'whiten' || forms[l] === 'kernel' || (forms[l] === 'eigen' && hessian === 'ekfac'));
  const needsB = (g: number[]) => g.some((l) => forms[l] !== 'kernel');
  const passesA = groups.filter(needsA).length, passesB = groups.filter(needsB).length;
  let doneA = 0, doneB = 0;
  const progress = (stage: 'fit' | 'self', done: number, total: number) => opts.onProgress?.({ stage, done, total, unit: 'chunks' });
  if (passesA === 0) progress('fit', 0, 0);

  const self = layers.map(() => new Float32Array(N));
  const lambdas = new Array<number>(L).fill(0);
  const blobs: FitLayerBlob[] = [];
  const pre: (LayerPreconditioner | undefined)[] = new Array(L).fill(undefined);
  let kept = 0;
  const keepBytes = opts.keepBytes ?? budget;

  for (const group of groups) {
    // ---- pass A: statistics that need the stored rows
    const C = new Map<number, BTensor>(); // whiten: covariance [k, k] (backend)
    const G = new Map<number, Float32Array>(); // kernel: the layer's rows [N, k]
    const sums = new Map<number, Float64Array>(); // ekfac: sum of squared rotated gradients
    const bases = new Map<number, { ua: Float32Array; us: Float32Array; w: Float32Array }>();
    const done = new Map<number, LayerPreconditioner>();
    try {
      for (const l of group) {
        if (forms[l] === 'whiten') C.set(l, backend.zeros([ks[l], ks[l]]));
        if (forms[l] === 'kernel') G.set(l, new Float32Array(N * ks[l]));
        if (forms[l] === 'eigen') {
          bases.set(l, await kfacBasis(backend, layers[l], fa[l], fs[l], statRows[l], N));
          if (hessian === 'ekfac') sums.set(l, new Float64Array(ks[l]));
        }
      }
      const probes = new Map([...sums.keys()].map((l) => [l, new EigenPreconditioner(layers[l], 'ekfac', bases.get(l)!.ua, bases.get(l)!.us, bases.get(l)!.w, 1)]));
      if (needsA(group)) {
        const base = doneA * m.chunks.length;
        await forEachChunk(store, m, async (data, rows, start, ci) => {
          for (const l of group) {
            const k = ks[l];
            if (forms[l] === 'kernel') {
              const gl = G.get(l)!;
              for (let r = 0; r < rows; r++) gl.set(data.subarray(r * cols + offsets[l], r * cols + offsets[l] + k), (start + r) * k);
              continue;
            }
            const c = C.get(l), probe = probes.get(l);
            if (!c && !probe) continue;
            const block = sliceCols(data, rows, cols, offsets[l], k);
            if (c) {
              const g = backend.tensor(block, [rows, k]);
              try {
                await backend.syrk(c, g, { alpha: 1 / N });
              } finally {
                g.dispose();
              }
            } else {
              const r = await probe!.rotate(backend, block, rows);
              const s = sums.get(l)!;
              for (let n = 0; n < rows; n++) for (let j = 0; j < k; j++) s[j] += r[n * k + j] * r[n * k + j];
            }
          }
          progress('fit', base + ci + 1, passesA * m.chunks.length);
        }, opts.signal, opts.cache, opts.pool);
        doneA++;
      }

      // ---- one factorisation per layer; on the CPU backend two layers at a time: one's host work (the factor's
      // panels, in JS) runs while the other's products run in onnxruntime
      const factor = async (l: number): Promise<void> => {
        const layer = layers[l], k = ks[l];
        if (forms[l] === 'none') done.set(l, new IdentityPreconditioner(layer));
        else if (forms[l] === 'whiten') {
          const c = C.get(l)!;
          const cov = await backend.read(c);
          let tr = 0;
          for (let i = 0; i < k; i++) tr += cov[i * k + i];
          const lambda = lambdaOf(tr / k);
          if (!(lambda > 0)) done.set(l, new IdentityPreconditioner(layer)); // every stored gradient of the layer is zero
          else {
            const wt = await backend.whitener(c, lambda);
            try {
              done.set(l, new WhitenPreconditioner(layer, lambda, await backend.read(wt)));
            } finally {
              wt.dispose();
            }
          }
        } else if (forms[l] === 'kernel') {
          const kd = await gram(backend, G.get(l)!, N, k);
          const K = backend.tensor(kd, [N, N]);
          const tmp: BTensor[] = [K];
          try {
            let tr = 0;
            for (let i = 0; i < N; i++) tr += kd[i * N + i];
            const lambda = lambdaOf(tr / N / k); // trace(C) = trace(K) / N
            if (!(lambda > 0)) done.set(l, new IdentityPreconditioner(layer));
            else {
              const wt = await backend.whitener(K, N * lambda);
              tmp.push(wt);
              const p = new KernelPreconditioner(layer, lambda, N, await backend.read(wt));
              self[l].set(p.selfInfluence());
              done.set(l, p);
            }
          } finally {
            for (const t of tmp) t.dispose();
            G.delete(l);
          }
        } else {
          const b = bases.get(l)!;
          const s = sums.get(l);
          if (s) b.w.set(s.map((v) => v / N));
          let mean = 0;
          for (const v of b.w) mean += v;
          mean /= b.w.length;
          const lambda = lambdaOf(mean);
          done.set(l, lambda > 0 ? new EigenPreconditioner(layer, hessian as 'kfac' | 'ekfac', b.ua, b.us, b.w, lambda) : new IdentityPreconditioner(layer));
        }
        lambdas[l] = done.get(l)!.lambda;
        if (done.get(l)!.form !== forms[l]) forms[l] = done.get(l)!.form;
      };
      await forEachLimited(group, backend.kind === 'cpu' ? 2 : 1, factor);
    } finally {
      for (const t of C.values()) t.dispose();
    }

    // ---- pass B: self-influence of every stored row (kernel layers have theirs)
    if (group.some((l) => forms[l] !== 'kernel')) {
      const base = doneB * m.chunks.length;
      await forEachChunk(store, m, async (data, rows, start, ci) => {
        for (const l of group) {
          if (forms[l] === 'kernel') continue;
          const q = await done.get(l)!.quad(backend, sliceCols(data, rows, cols, offsets[l], ks[l]), rows);
          self[l].set(q, start);
        }
        progress('self', base + ci + 1, passesB * m.chunks.length);
      }, opts.signal, opts.cache, opts.pool);
      doneB++;
    }

    // ---- one blob per layer, written now (the caller's commit references them)
    for (const l of group) {
      const p = done.get(l)!;
      if (opts.stage !== false) {
        const bytes = packTensors(p.tensors(), { layer: layers[l].name, form: p.form });
        const key = `fit-${opts.stamp}-${l}`;
        await store.writeBlobs([{ key, bytes }]);
        blobs.push({ layer: l, key, checksum: crc32(bytes), bytes: bytes.length });
      }
      if (opts.stage === false || kept + p.bytes <= keepBytes) {
        pre[l] = p;
        kept += p.bytes;
      }
    }
  }
  if (passesB === 0) progress('self', 0, 0);

  const state: FitState = { format: FIT_FORMAT, hessian, damping, absolute, lambdas, forms, examples: N, tokens, chunks: m.chunks.length, at: new Date().toISOString() };
  return { state, self, blobs, pre };
}

/** K = G G^T [n, n] for rows G [n, k]: the lower block triangle only (blocks of rows), mirrored: ~5/8 of a GEMM. */
export async function gram(backend: KernelBackend, g: Float32Array, n: number, k: number, blocks = 4): Promise<Float32Array> {
  const K = new Float32Array(n * n);
  const b = Math.ceil(n / blocks);
  for (let i0 = 0; i0 < n; i0 += b) {
    const mi = Math.min(b, n - i0);
    const gi = backend.tensor(g.subarray(i0 * k, (i0 + mi) * k), [mi, k]);
    try {
      for (let j0 = 0; j0 <= i0; j0 += b) {
        const mj = Math.min(b, n - j0);
        const gj = j0 === i0 ? gi : backend.tensor(g.subarray(j0 * k, (j0 + mj) * k), [mj, k]);
        try {
          const p = await backend.gemm(gi, gj, { transB: true });
          const v = await backend.read(p);
          p.dispose();
          for (let r = 0; r < mi; r++) for (let c = 0; c < mj; c++) K[(i0 + r) * n + j0 + c] = K[(j0 + c) * n + i0 + r] = v[r * mj + c];
        } finally {
          if (gj !== gi) gj.dispose();
        }
      }
    } finally {
      gi.dispose();
    }
  }
  return K;
}

/** The KFAC eigenbasis of one layer: eigendecompositions of A (over its rows) and S (over examples). */
async function kfacBasis(backend: KernelBackend, l: IndexLayer, fa: Float64Array, fs: Float64Array, rows: number, n: number): Promise<{ ua: Float32Array; us: Float32Array; w: Float32Array }> {
  const eig = async (m64: Float64Array, d: number, scale: number) => {
    const t = backend.tensor(Float32Array.from(m64, (v) => v * scale), [d, d]);
    try {
      const r = await backend.eigh(t);
      const vec = await backend.read(r.vectors);
      r.vectors.dispose();
      return { values: r.values, vectors: vec };
    } finally {
      t.dispose();
    }
  };
  const A = await eig(fa, l.kIn, 1 / Math.max(rows, 1));
  const S = await eig(fs, l.kOut, 1 / n);
  const w = new Float32Array(l.kIn * l.kOut);
  for (let o = 0; o < l.kOut; o++) for (let i = 0; i < l.kIn; i++) w[o * l.kIn + i] = Math.max(S.values[o], 0) * Math.max(A.values[i], 0);
  return { ua: A.vectors, us: S.vectors, w };
}

/** Packs the self-influences [layer][example] as the self blob. */
export function packSelf(self: Float32Array[]): Uint8Array {
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  self.forEach((s, l) => (t[String(l)] = { shape: [s.length], data: s }));
  return packTensors(t);
}
