// Fitting: the damped Hessian approximation per tapped layer in the projected space, and every logged example's
// self-influence. Per layer l, with g = vec(G) (G [k_out, k_in]) and N logged examples:
//   raw:   C = (1/N) sum_n g_n g_n^T (k x k), lambda = damping * trace(C) / k; applied with a Cholesky solve.
//   kfac:  C ~ S (x) A with A = (1/tokens) sum_t x~ x~^T (k_in x k_in), S = (1/N) sum_t dy~ dy~^T (k_out x k_out)
//          (x~ = P_in x, dy~ = P_out dy), so E[g g^T] ~ E_t[x x^T] (x) E_n[sum_t dy dy^T] under token independence.
//          Eigenbasis U = U_S (x) U_A, eigenvalues w_oi = s_o a_i, lambda = damping * mean(w).
//   ekfac: the KFAC eigenbasis with corrected eigenvalues w_oi = (1/N) sum_n (U_S^T G_n U_A)_oi^2 (George et al. 2018).
//   none:  plain dot products (lambda = 0).
// With absolute: true, lambda = damping. The preconditioner is (C + lambda I)^{-1}; eigenbasis forms apply it as
// U diag(1 / (w + lambda)) U^T, which also gives g^T (C + lambda I)^{-1} g = sum (U^T g)^2 / (w + lambda) without
// cancellation (self-influence).
import type { BTensor, KernelBackend } from '../kernels/backend.ts';
import { decodeChunk } from '../store/chunk.ts';
import { StoreError, type LogStore, type Manifest } from '../store/store.ts';
import { BLOB, layerOffsets, packTensors, sliceCols, unpackTensors, type IndexLayer } from './layout.ts';
import { checkAbort, type FitOptions, type HessianKind } from './types.ts';

export interface FitState {
  hessian: HessianKind;
  damping: number;
  absolute: boolean;
  lambdas: number[];
  examples: number;
  tokens: number;
  /** the chunk keys the fit saw (a later log invalidates the fit) */
  chunks: number;
  at: string;
}

/** Applies (C_l + lambda_l I)^{-1} for one layer. */
export class LayerPreconditioner {
  private constructor(
    readonly layer: IndexLayer,
    readonly kind: HessianKind,
    readonly lambda: number,
    /** raw: C [k, k] */
    private readonly c?: Float32Array,
    /** kfac/ekfac: U_A [k_in, k_in], U_S [k_out, k_out] (eigenvectors as columns), 1 / (w + lambda) [k_out * k_in] */
    private readonly ua?: Float32Array,
    private readonly us?: Float32Array,
    private readonly inv?: Float64Array,
  ) {}

  /** raw: (C + lambda I)^{-1} once `prepare` made it (then every apply is one GEMM instead of a factorisation) */
  private hinv?: Float32Array;

  static none(layer: IndexLayer): LayerPreconditioner {
    return new LayerPreconditioner(layer, 'none', 0);
  }
  static raw(layer: IndexLayer, c: Float32Array, lambda: number): LayerPreconditioner {
    return new LayerPreconditioner(layer, 'raw', lambda, c);
  }
  static eig(layer: IndexLayer, kind: 'kfac' | 'ekfac', ua: Float32Array, us: Float32Array, w: ArrayLike<number>, lambda: number): LayerPreconditioner {
    return new LayerPreconditioner(layer, kind, lambda, undefined, ua, us, Float64Array.from(w, (v) => 1 / (Math.max(v, 0) + lambda)));
  }

  get k(): number {
    return this.layer.kIn * this.layer.kOut;
  }

  /** U_S^T G U_A for rows of G [m, k_out * k_in] (back: U_S G U_A^T); eigenbasis kinds only */
  async rotate(backend: KernelBackend, rows: Float32Array, m: number, back = false): Promise<Float32Array> {
    const { kIn, kOut } = this.layer;
    const g = backend.tensor(rows, [m, kOut, kIn]);
    const ua = backend.tensor(this.ua!, [kIn, kIn]), us = backend.tensor(this.us!, [kOut, kOut]);
    const tmp: BTensor[] = [g, ua, us];
    try {
      // forward: Y = G U_A, R = U_S^T Y; back: Y = G U_A^T, R = U_S Y
      const y = await backend.gemm(g, ua, { transB: back });
      tmp.push(y);
      const r = await backend.gemm(us, y, { transA: !back });
      tmp.push(r);
      return await backend.read(r);
    } finally {
      for (const t of tmp) t.dispose();
    }
  }

  /**
   * raw: computes the damped inverse once (about 2.3 k^3 flops, the cost of ~7 factorisations), so that later
   * applies are GEMMs. Worth it before many applies (fit's self-influence pass over every chunk); without it each
   * apply factorises C + lambda I again (k^3 / 3 + 2 m k^2), the cheaper choice for one query batch.
   */
  async prepare(backend: KernelBackend): Promise<void> {
    if (this.kind !== 'raw' || this.hinv) return;
    const k = this.k;
    const c = backend.tensor(this.c!, [k, k]);
    try {
      const inv = await backend.dampedInverse(c, this.lambda);
      const h = await backend.read(inv);
      inv.dispose();
      // symmetric up to rounding: make it exactly so
      for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) h[i * k + j] = h[j * k + i] = 0.5 * (h[i * k + j] + h[j * k + i]);
      this.hinv = h;
    } finally {
      c.dispose();
    }
  }

  /** H^{-1} g for rows [m, k] */
  async apply(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float32Array> {
    if (m === 0 || this.kind === 'none') return rows.slice();
    if (this.kind === 'raw' && this.hinv) {
      const h = backend.tensor(this.hinv, [this.k, this.k]), g = backend.tensor(rows, [m, this.k]);
      try {
        const p = await backend.gemm(g, h);
        const out = await backend.read(p);
        p.dispose();
        return out;
      } finally {
        h.dispose();
        g.dispose();
      }
    }
    if (this.kind === 'raw') {
      const c = backend.tensor(this.c!, [this.k, this.k]), g = backend.tensor(rows, [m, this.k]);
      try {
        const p = await backend.precondition(c, this.lambda, g);
        const out = await backend.read(p);
        p.dispose();
        return out;
      } finally {
        c.dispose();
        g.dispose();
      }
    }
    const r = await this.rotate(backend, rows, m);
    const k = this.k;
    for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) r[i * k + j] *= this.inv![j];
    return this.rotate(backend, r, m, true);
  }

  /** g^T H^{-1} g for rows [m, k] */
  async quad(backend: KernelBackend, rows: Float32Array, m: number): Promise<Float64Array> {
    const k = this.k;
    const out = new Float64Array(m);
    if (m === 0) return out;
    if (this.kind === 'kfac' || this.kind === 'ekfac') {
      const r = await this.rotate(backend, rows, m);
      for (let i = 0; i < m; i++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += r[i * k + j] * r[i * k + j] * this.inv![j];
        out[i] = s;
      }
      return out;
    }
    const p = this.kind === 'raw' ? await this.apply(backend, rows, m) : rows;
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += rows[i * k + j] * p[i * k + j];
      out[i] = s;
    }
    return out;
  }

  /** serialisable form */
  tensors(prefix: string): Record<string, { shape: number[]; data: Float32Array }> {
    const { kIn, kOut } = this.layer;
    if (this.kind === 'raw') return { [`${prefix}.c`]: { shape: [this.k, this.k], data: this.c! } };
    if (this.kind === 'none') return {};
    const w = Float32Array.from(this.inv!, (v) => 1 / v - this.lambda);
    return {
      [`${prefix}.ua`]: { shape: [kIn, kIn], data: this.ua! },
      [`${prefix}.us`]: { shape: [kOut, kOut], data: this.us! },
      [`${prefix}.w`]: { shape: [kOut * kIn], data: w },
    };
  }

  static fromTensors(layer: IndexLayer, kind: HessianKind, lambda: number, t: ReturnType<typeof unpackTensors>, prefix: string): LayerPreconditioner {
    const { kIn, kOut } = layer;
    const k = kIn * kOut;
    if (kind === 'none') return LayerPreconditioner.none(layer);
    if (kind === 'raw') return LayerPreconditioner.raw(layer, t.get(`${prefix}.c`, [k, k]), lambda);
    return LayerPreconditioner.eig(layer, kind, t.get(`${prefix}.ua`, [kIn, kIn]), t.get(`${prefix}.us`, [kOut, kOut]), t.get(`${prefix}.w`, [k]), lambda);
  }
}

/**
 * Decoded chunks kept in memory between queries, by chunk key (a committed chunk never changes under its key), up
 * to `maxBytes` of float32 rows; the least recently used go first.
 */
export class ChunkCache {
  private readonly map = new Map<string, Float32Array>();
  private bytes = 0;
  constructor(readonly maxBytes: number) {}
  get(key: string): Float32Array | undefined {
    const d = this.map.get(key);
    if (d) {
      this.map.delete(key);
      this.map.set(key, d);
    }
    return d;
  }
  set(key: string, data: Float32Array): void {
    if (data.byteLength > this.maxBytes || this.map.has(key)) return;
    this.map.set(key, data);
    this.bytes += data.byteLength;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
  }
  get size(): number {
    return this.bytes;
  }
}

/** Reads and verifies every chunk in order (or takes it from `cache`), calling fn with its rows. */
export async function forEachChunk(store: LogStore, m: Manifest, fn: (data: Float32Array, rows: number, start: number, index: number) => Promise<void>, signal?: AbortSignal, cache?: ChunkCache): Promise<void> {
  let start = 0;
  for (let i = 0; i < m.chunks.length; i++) {
    checkAbort(signal, 'reading the index');
    const c = m.chunks[i];
    let data = cache?.get(c.key);
    if (!data) {
      data = decodeChunk(await store.readBlob(c.key), `${store.location}/${c.key}`, { checksum: c.checksum, rows: c.rows, cols: m.cols }).data;
      cache?.set(c.key, data);
    }
    await fn(data, c.rows, start, i);
    start += c.rows;
  }
}

export interface FitResult {
  state: FitState;
  pre: LayerPreconditioner[];
  /** [layer][example] self-influence */
  self: Float32Array[];
  fitBytes: Uint8Array;
  selfBytes: Uint8Array;
}

export async function fitIndex(backend: KernelBackend, store: LogStore, m: Manifest, opts: FitOptions = {}): Promise<FitResult> {
  const hessian = opts.hessian ?? (m.settings.hessian as HessianKind);
  if (!['none', 'raw', 'kfac', 'ekfac'].includes(hessian)) throw new Error(`hessian must be none, raw, kfac or ekfac, got ${JSON.stringify(hessian)}`);
  const damping = opts.damping ?? 0.1;
  if (!(damping >= 0) || !Number.isFinite(damping)) throw new Error(`damping must be a finite number >= 0, got ${damping}`);
  const absolute = !!opts.absolute;
  const layers = m.settings.layers;
  const L = layers.length;
  const { offsets, cols } = layerOffsets(layers);
  const N = m.chunks.reduce((a, c) => a + c.rows, 0);
  if (N === 0) throw new StoreError('the index holds no examples; log some first', store.location);
  const lambdaOf = (meanEig: number) => (absolute ? damping : damping * meanEig);
  const progress = (stage: 'fit' | 'self', done: number) => opts.onProgress?.({ stage, done, total: m.chunks.length, unit: 'chunks' });

  // KFAC factors: summed per-chunk statistics
  let tokens = 0;
  const needFactors = hessian === 'kfac' || hessian === 'ekfac';
  const fa = layers.map((l) => new Float64Array(needFactors ? l.kIn * l.kIn : 0));
  const fs = layers.map((l) => new Float64Array(needFactors ? l.kOut * l.kOut : 0));
  for (const c of m.chunks) {
    const ref = m.blobs[BLOB.kfac(c.key)];
    if (!ref) throw new StoreError(`chunk ${c.key} has no KFAC statistics blob`, store.location);
    const t = unpackTensors(await store.readBlob(ref.key), `${store.location}/${ref.key}`);
    tokens += Number(t.metadata.tokens ?? 0);
    if (needFactors) layers.forEach((l, i) => {
      const a = t.get(`${i}.a`, [l.kIn, l.kIn]), s = t.get(`${i}.s`, [l.kOut, l.kOut]);
      for (let j = 0; j < a.length; j++) fa[i][j] += a[j];
      for (let j = 0; j < s.length; j++) fs[i][j] += s[j];
    });
  }

  const pre: LayerPreconditioner[] = [];
  if (hessian === 'none') for (const l of layers) pre.push(LayerPreconditioner.none(l));
  else if (hessian === 'raw') {
    const C = layers.map((l) => backend.zeros([l.kIn * l.kOut, l.kIn * l.kOut]));
    try {
      await forEachChunk(store, m, async (data, rows, _s, ci) => {
        for (let l = 0; l < L; l++) {
          const k = layers[l].kIn * layers[l].kOut;
          const g = backend.tensor(sliceCols(data, rows, cols, offsets[l], k), [rows, k]);
          await backend.syrk(C[l], g, { alpha: 1 / N });
          g.dispose();
        }
        progress('fit', ci + 1);
      }, opts.signal);
      for (let l = 0; l < L; l++) {
        const c = await backend.read(C[l]);
        const k = layers[l].kIn * layers[l].kOut;
        let tr = 0;
        for (let i = 0; i < k; i++) tr += c[i * k + i];
        pre.push(LayerPreconditioner.raw(layers[l], c, lambdaOf(tr / k)));
      }
    } finally {
      for (const t of C) t.dispose();
    }
  } else {
    const eig = async (m64: Float64Array, d: number, scale: number) => {
      const t = backend.tensor(Float32Array.from(m64, (v) => v * scale), [d, d]);
      const r = await backend.eigh(t);
      const vec = await backend.read(r.vectors);
      t.dispose();
      r.vectors.dispose();
      return { values: r.values, vectors: vec };
    };
    const bases = [] as { ua: Float32Array; us: Float32Array; w: Float64Array }[];
    for (let l = 0; l < L; l++) {
      const { kIn, kOut } = layers[l];
      const A = await eig(fa[l], kIn, 1 / Math.max(tokens, 1));
      const S = await eig(fs[l], kOut, 1 / N);
      const w = new Float64Array(kIn * kOut);
      for (let o = 0; o < kOut; o++) for (let i = 0; i < kIn; i++) w[o * kIn + i] = Math.max(S.values[o], 0) * Math.max(A.values[i], 0);
      bases.push({ ua: A.vectors, us: S.vectors, w });
    }
    if (hessian === 'ekfac') {
      // corrected eigenvalues: mean squared rotated gradients
      const sums = bases.map((b) => new Float64Array(b.w.length));
      const probe = bases.map((b, l) => LayerPreconditioner.eig(layers[l], 'ekfac', b.ua, b.us, b.w, 1));
      await forEachChunk(store, m, async (data, rows, _s, ci) => {
        for (let l = 0; l < L; l++) {
          const k = layers[l].kIn * layers[l].kOut;
          const r = await probe[l].rotate(backend, sliceCols(data, rows, cols, offsets[l], k), rows);
          for (let n = 0; n < rows; n++) for (let j = 0; j < k; j++) sums[l][j] += r[n * k + j] * r[n * k + j];
        }
        progress('fit', ci + 1);
      }, opts.signal);
      bases.forEach((b, l) => b.w.set(sums[l].map((v) => v / N)));
    }
    bases.forEach((b, l) => {
      const mean = b.w.reduce((a, v) => a + v, 0) / b.w.length;
      pre.push(LayerPreconditioner.eig(layers[l], hessian, b.ua, b.us, b.w, lambdaOf(mean)));
    });
  }

  // self-influence of every logged example, per layer (raw: one inverse per layer when the pass applies the
  // preconditioner to more rows than its dimension, instead of a factorisation per chunk)
  for (let l = 0; l < L; l++) if (hessian === 'raw' && m.chunks.length > 1 && N > pre[l].k) await pre[l].prepare(backend);
  const self = layers.map(() => new Float32Array(N));
  await forEachChunk(store, m, async (data, rows, start, ci) => {
    for (let l = 0; l < L; l++) {
      const k = layers[l].kIn * layers[l].kOut;
      const q = await pre[l].quad(backend, sliceCols(data, rows, cols, offsets[l], k), rows);
      self[l].set(q, start);
    }
    progress('self', ci + 1);
  }, opts.signal);

  const state: FitState = {
    hessian,
    damping,
    absolute,
    lambdas: pre.map((p) => p.lambda),
    examples: N,
    tokens,
    chunks: m.chunks.length,
    at: new Date().toISOString(),
  };
  let fitT: Record<string, { shape: number[]; data: Float32Array }> = {};
  pre.forEach((p, l) => (fitT = { ...fitT, ...p.tensors(String(l)) }));
  const fitBytes = packTensors(fitT, { hessian });
  const selfT: Record<string, { shape: number[]; data: Float32Array }> = {};
  self.forEach((s, l) => (selfT[String(l)] = { shape: [N], data: s }));
  return { state, pre, self, fitBytes, selfBytes: packTensors(selfT) };
}

export function loadFit(m: Manifest, fitBytes: Uint8Array, selfBytes: Uint8Array, source: string): { state: FitState; pre: LayerPreconditioner[]; self: Float32Array[] } {
  const state = m.state.fit as FitState;
  const layers = m.settings.layers;
  const N = m.chunks.reduce((a, c) => a + c.rows, 0);
  const t = unpackTensors(fitBytes, `${source} (fit)`);
  const s = unpackTensors(selfBytes, `${source} (self)`);
  const pre = layers.map((l, i) => LayerPreconditioner.fromTensors(l, state.hessian, state.lambdas[i], t, String(i)));
  const self = layers.map((_, i) => s.get(String(i), [N]));
  return { state, pre, self };
}
