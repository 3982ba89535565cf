// A LoGra index: the store's manifest and chunks, the model it was logged with (needed for queries), and the
// fitted preconditioners and self-influences (loaded lazily, fitted on demand).
import type { KernelBackend } from '../kernels/backend.ts';
import { refEigh } from '../kernels/reference/eigh.ts';
import { decodeChunk } from '../store/chunk.ts';
import { StoreError, StoreMismatchError, validateManifest, type LogStore, type Manifest } from '../store/store.ts';
import type { Example } from '../runtime/batch.ts';
import type { LoadedModel } from './model.ts';
import { decodeProjections, identityProjections, randomProjections, type Projections } from './projections.ts';
import { BLOB, fitIsCurrent, layerOffsets, sliceCols, trainIds } from './layout.ts';
import { ChunkCache, fitIndex, forEachChunk, loadFit, type FitState, type LayerPreconditioner } from './fit.ts';
import { checkIds } from './log.ts';
import { checkAbort, type FitOptions, type QueryOptions, type QueryResult, type ScoreMode, type SelfInfluence, type TopItem } from './types.ts';

interface Fitted {
  state: FitState;
  pre: LayerPreconditioner[];
  self: Float32Array[];
  /** total self-influence per example */
  total: Float64Array;
}

export class LograIndex {
  private fitted?: Fitted;
  private projCache?: Projections;
  private chunkCache?: ChunkCache;

  /**
   * Memory for decoded chunks kept between queries (bytes of float32 rows; default 0: every query reads and verifies
   * the chunks again). An interactive client querying one index repeatedly (the explorer) sets it to the index size.
   */
  set cacheBytes(n: number) {
    if (!(n >= 0)) throw new RangeError(`cacheBytes must be >= 0, got ${n}`);
    this.chunkCache = n > 0 ? new ChunkCache(n) : undefined;
  }
  get cacheBytes(): number {
    return this.chunkCache?.maxBytes ?? 0;
  }

  constructor(
    private readonly backend: KernelBackend,
    readonly store: LogStore,
    private m: Manifest,
    private model?: LoadedModel,
  ) {}

  static async open(backend: KernelBackend, store: LogStore, model?: LoadedModel): Promise<LograIndex> {
    const raw = await store.readManifest();
    if (!raw) throw new StoreError('no index here (no manifest); run log first', store.location);
    const m = validateManifest(raw, store.location);
    const ix = new LograIndex(backend, store, m);
    if (model) ix.attach(model);
    return ix;
  }

  get manifest(): Manifest {
    return this.m;
  }
  get layerNames(): string[] {
    return this.m.settings.layers.map((l) => l.name);
  }
  get size(): number {
    return this.m.chunks.reduce((a, c) => a + c.rows, 0);
  }
  ids(): string[] {
    return trainIds(this.m);
  }
  get fitState(): FitState | undefined {
    return this.m.state.fit as FitState | undefined;
  }

  /** Attaches the model the index was logged with (checked by hash); queries need it. */
  attach(model: LoadedModel): void {
    if (model.sha256 !== this.m.settings.modelSha256) throw new StoreMismatchError(this.store.location, 'modelSha256', this.m.settings.modelSha256, model.sha256);
    const names = model.layers.map((l) => l.name).join(',');
    if (names !== this.layerNames.join(',')) throw new StoreMismatchError(this.store.location, 'layers', this.layerNames, model.layers.map((l) => l.name));
    this.model = model;
  }

  /** P_in / P_out per layer: regenerated (random, identity) or read from the store (pca, given). */
  async projections(): Promise<Projections> {
    if (this.projCache) return this.projCache;
    const s = this.m.settings;
    const layers = s.layers.map((l) => ({ name: l.name, dIn: l.dIn, dOut: l.dOut }));
    let p: Projections;
    const ref = this.m.blobs[BLOB.projections];
    if (ref) p = decodeProjections(await this.store.readBlob(ref.key), layers as never, `${this.store.location}/${ref.key}`);
    else if (s.projection === 'identity') p = identityProjections(layers as never);
    else if (s.projection.startsWith('random:')) {
      const [kIn, kOut] = s.projection.slice(7).split('x').map(Number);
      p = await randomProjections(this.backend, layers as never, kIn, kOut, s.seed);
    } else throw new StoreError(`projection ${JSON.stringify(s.projection)} needs a stored projections blob, which is missing`, this.store.location);
    s.layers.forEach((l) => {
      const q = p.get(l.name)!;
      if (q.kIn !== l.kIn || q.kOut !== l.kOut) throw new StoreError(`projection of ${l.name} is ${q.kOut}x${q.kIn}, the manifest says ${l.kOut}x${l.kIn}`, this.store.location);
    });
    this.projCache = p;
    return p;
  }

  /** Fits the damped Hessian approximation and the self-influences; stores them in the index. */
  async fit(opts: FitOptions = {}): Promise<FitState> {
    const r = await fitIndex(this.backend, this.store, this.m, opts);
    const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const fitKey = `fit-${stamp}`, selfKey = `self-${stamp}`;
    const old = [this.m.blobs[BLOB.fit]?.key, this.m.blobs[BLOB.self]?.key].filter((k): k is string => !!k);
    const next: Manifest = {
      ...this.m,
      blobs: { ...this.m.blobs, [BLOB.fit]: { key: fitKey, checksum: 0, bytes: r.fitBytes.length }, [BLOB.self]: { key: selfKey, checksum: 0, bytes: r.selfBytes.length } },
      state: { ...this.m.state, fit: r.state },
      updated: new Date().toISOString(),
    };
    await this.store.commit([{ key: fitKey, bytes: r.fitBytes }, { key: selfKey, bytes: r.selfBytes }], next);
    this.m = next;
    if (old.length) await this.store.deleteBlobs(old);
    this.fitted = withTotal(r);
    return r.state;
  }

  private async ensureFitted(): Promise<Fitted> {
    if (this.fitted) return this.fitted;
    const st = this.fitState;
    if (!fitIsCurrent(this.m)) {
      await this.fit({ hessian: st?.hessian, damping: st?.damping, absolute: st?.absolute });
      return this.fitted!;
    }
    const f = loadFit(this.m, await this.store.readBlob(this.m.blobs[BLOB.fit].key), await this.store.readBlob(this.m.blobs[BLOB.self].key), this.store.location);
    this.fitted = withTotal(f);
    return this.fitted;
  }

  /** g_n^T (C + lambda I)^{-1} g_n for every logged example (fits first when needed). */
  async selfInfluence(): Promise<SelfInfluence> {
    const f = await this.ensureFitted();
    return { ids: this.ids(), values: Float32Array.from(f.total), layers: f.self, layerNames: this.layerNames };
  }

  /** Influence of every logged example on each query. */
  async query(queries: Example[], opts: QueryOptions = {}): Promise<QueryResult> {
    if (!this.model) throw new StoreError('queries need the model the index was logged with: open the index with it', this.store.location);
    checkIds(queries, 'query');
    if (queries.length === 0) throw new Error('query: no query examples');
    const backend = this.backend;
    const mode: ScoreMode = opts.mode ?? 'dot';
    if (!['dot', 'cosine', 'l2'].includes(mode)) throw new Error(`mode must be dot, cosine or l2, got ${JSON.stringify(mode)}`);
    const topK = opts.topK ?? 10;
    const batchSize = opts.batchSize ?? 8;
    const f = await this.ensureFitted();
    const layers = this.m.settings.layers;
    const L = layers.length;
    const { offsets, cols } = layerOffsets(layers);
    const q = queries.length;

    // query gradients (+ per-token projections)
    const tm = await this.model.projector();
    const proj = await this.projections();
    tm.setProjections(layers.map((l) => proj.get(l.name)!));
    const Q = layers.map((l) => new Float32Array(q * l.kIn * l.kOut));
    const tok: { T: number; len: number; xp: Float32Array[]; dp: Float32Array[] }[] = [];
    const losses: number[] = [];
    for (let s = 0; s < q; s += batchSize) {
      checkAbort(opts.signal, 'the query');
      const r = await tm.run(queries.slice(s, s + batchSize));
      for (let b = 0; b < r.B; b++) {
        losses.push(r.loss[b]);
        layers.forEach((l, i) => {
          const k = l.kIn * l.kOut;
          Q[i].set(r.layers[i].g!.subarray(b * k, (b + 1) * k), (s + b) * k);
        });
        if (opts.perToken) {
          tok.push({
            T: r.T,
            len: r.lengths[b],
            // rows per example are the tokens for per-token layers (a pooled or image layer has other rows)
            xp: layers.map((l, i) => r.layers[i].xp!.slice(b * r.layers[i].rows * l.kIn, (b + 1) * r.layers[i].rows * l.kIn)),
            dp: layers.map((l, i) => r.layers[i].dp!.slice(b * r.layers[i].rows * l.kOut, (b + 1) * r.layers[i].rows * l.kOut)),
          });
        }
      }
    }
    // precondition the queries; optional low-rank truncation; their self-influence
    const Qp: Float32Array[] = [];
    const selfQ = layers.map(() => new Float64Array(q));
    for (let i = 0; i < L; i++) {
      const k = layers[i].kIn * layers[i].kOut;
      const p = await f.pre[i].apply(backend, Q[i], q);
      if (opts.queryRank && opts.queryRank > 0) for (let j = 0; j < q; j++) lowRank(p.subarray(j * k, (j + 1) * k), layers[i].kOut, layers[i].kIn, opts.queryRank);
      Qp.push(p);
      for (let j = 0; j < q; j++) {
        let s = 0;
        for (let c = 0; c < k; c++) s += Q[i][j * k + c] * p[j * k + c];
        selfQ[i][j] = s;
      }
    }
    const selfQTotal = Float64Array.from({ length: q }, (_, j) => selfQ.reduce((a, s) => a + s[j], 0));

    // score matrix: rows (query, layer) when perLayer, else one row per query
    const perLayer = !!opts.perLayer;
    const R = perLayer ? q * L : q;
    const qm = new Float32Array(R * cols);
    for (let j = 0; j < q; j++)
      for (let i = 0; i < L; i++) {
        const k = layers[i].kIn * layers[i].kOut;
        qm.set(Qp[i].subarray(j * k, (j + 1) * k), (perLayer ? j * L + i : j) * cols + offsets[i]);
      }
    const N = this.size;
    const dots = Array.from({ length: R }, () => new Float32Array(N));
    const qt = backend.tensor(qm, [R, cols]);
    try {
      await forEachChunk(this.store, this.m, async (data, rows, start, ci) => {
        const x = backend.tensor(data, [rows, cols]);
        const s = await backend.gemm(qt, x, { transB: true });
        const v = await backend.read(s);
        s.dispose();
        x.dispose();
        for (let r = 0; r < R; r++) dots[r].set(v.subarray(r * rows, (r + 1) * rows), start);
        opts.onProgress?.({ stage: 'query', done: ci + 1, total: this.m.chunks.length, unit: 'chunks' });
      }, opts.signal, this.chunkCache);
    } finally {
      qt.dispose();
    }
    const transform = (d: number, sq: number, sn: number) => (mode === 'dot' ? d : mode === 'cosine' ? (sq > 0 && sn > 0 ? d / Math.sqrt(sq * sn) : 0) : -Math.max(sq + sn - 2 * d, 0));
    const scores: Float32Array[] = [];
    const layerScores = perLayer ? layers.map(() => [] as Float32Array[]) : undefined;
    for (let j = 0; j < q; j++) {
      const tot = new Float32Array(N);
      if (perLayer) {
        for (let i = 0; i < L; i++) {
          const d = dots[j * L + i];
          const ls = new Float32Array(N);
          for (let n = 0; n < N; n++) {
            tot[n] += d[n];
            ls[n] = transform(d[n], selfQ[i][j], f.self[i][n]);
          }
          layerScores![i].push(ls);
        }
      } else tot.set(dots[j]);
      for (let n = 0; n < N; n++) tot[n] = transform(tot[n], selfQTotal[j], f.total[n]);
      scores.push(tot);
    }

    // top-k (higher first, ties by index), then per-token contributions of the query's tokens
    const ids = this.ids();
    const top: TopItem[][] = scores.map((s, j) =>
      topIndices(s, topK).map((n) => ({ id: ids[n], index: n, score: s[n], layers: layerScores?.map((ls) => ls[j][n]) })),
    );
    if (opts.perToken && topK > 0) await this.perToken(top, tok, f, mode, selfQTotal);

    const keep = opts.scores ?? true;
    return {
      queryIds: queries.map((e) => e.id),
      trainIds: ids,
      mode,
      scores: keep ? scores : undefined,
      layers: keep && layerScores ? new Map(layers.map((l, i) => [l.name, layerScores[i]])) : undefined,
      top,
      layerNames: this.layerNames,
      losses,
    };
  }

  /** tokens[t] = sum_l dy~_t^T [(C_l + lambda I)^{-1} G_n,l] x~_t: sums to the dot score over t. */
  private async perToken(top: TopItem[][], tok: { T: number; len: number; xp: Float32Array[]; dp: Float32Array[] }[], f: Fitted, mode: ScoreMode, selfQ: Float64Array): Promise<void> {
    const layers = this.m.settings.layers;
    const { offsets, cols } = layerOffsets(layers);
    const need = [...new Set(top.flat().map((t) => t.index))].sort((a, b) => a - b);
    const rowOf = new Map(need.map((n, i) => [n, i]));
    const G = new Float32Array(need.length * cols);
    // read only the chunks that hold the needed rows
    let start = 0;
    for (const c of this.m.chunks) {
      const here = need.filter((n) => n >= start && n < start + c.rows);
      if (here.length) {
        const d = decodeChunk(await this.store.readBlob(c.key), `${this.store.location}/${c.key}`, { checksum: c.checksum, rows: c.rows, cols: this.m.cols });
        for (const n of here) G.set(d.data.subarray((n - start) * cols, (n - start + 1) * cols), rowOf.get(n)! * cols);
      }
      start += c.rows;
    }
    const pre = await Promise.all(
      layers.map(async (l, i) => f.pre[i].apply(this.backend, sliceCols(G, need.length, cols, offsets[i], l.kIn * l.kOut), need.length)),
    );
    top.forEach((items, j) => {
      const t = tok[j];
      for (const item of items) {
        const r = rowOf.get(item.index)!;
        const out = new Array<number>(t.len).fill(0);
        layers.forEach((l, i) => {
          // only layers whose rows are the tokens have per-token shares (not a pooled head or an image Conv)
          if (this.model?.layers[i]?.perToken !== 1) return;
          const k = l.kIn * l.kOut;
          const M = pre[i].subarray(r * k, (r + 1) * k); // [kOut, kIn]
          for (let s = 0; s < t.len; s++) {
            const xp = t.xp[i].subarray(s * l.kIn, (s + 1) * l.kIn), dp = t.dp[i].subarray(s * l.kOut, (s + 1) * l.kOut);
            let acc = 0;
            for (let o = 0; o < l.kOut; o++) {
              if (dp[o] === 0) continue;
              let row = 0;
              for (let c = 0; c < l.kIn; c++) row += M[o * l.kIn + c] * xp[c];
              acc += dp[o] * row;
            }
            out[s] += acc;
          }
        });
        const scale = mode === 'cosine' ? (selfQ[j] > 0 && f.total[item.index] > 0 ? 1 / Math.sqrt(selfQ[j] * f.total[item.index]) : 0) : mode === 'l2' ? 2 : 1;
        item.tokens = out.map((v) => v * scale);
      }
    });
  }

  /** A summary for `logra info`. */
  info(): Record<string, unknown> {
    const s = this.m.settings;
    return {
      location: this.store.location,
      examples: this.size,
      chunks: this.m.chunks.length,
      bytes: this.m.chunks.reduce((a, c) => a + c.bytes, 0),
      bytesPerExample: this.size ? Math.round(this.m.chunks.reduce((a, c) => a + c.bytes, 0) / this.size) : 0,
      model: { sha256: s.modelSha256, source: (this.m.state.model as { source?: string } | undefined)?.source, task: s.task, reduction: s.reduction },
      projection: s.projection,
      seed: s.seed,
      dtype: s.dtype,
      hessian: s.hessian,
      layers: s.layers,
      cols: this.m.cols,
      fit: this.fitState ?? null,
      created: this.m.created,
      updated: this.m.updated,
    };
  }
}

function withTotal(f: { state: FitState; pre: LayerPreconditioner[]; self: Float32Array[] }): Fitted {
  const N = f.self[0]?.length ?? 0;
  const total = new Float64Array(N);
  for (const s of f.self) for (let n = 0; n < N; n++) total[n] += s[n];
  return { ...f, total };
}

/** Indices of the k largest values (NaN last), ties by smaller index. */
export function topIndices(s: Float32Array, k: number): number[] {
  const n = s.length;
  if (k <= 0 || n === 0) return [];
  const idx = Array.from({ length: n }, (_, i) => i).filter((i) => !Number.isNaN(s[i]));
  idx.sort((a, b) => s[b] - s[a] || a - b);
  return idx.slice(0, k);
}

/** In place: the best rank-r approximation of M [rows, cols] (rows x rows eigendecomposition of M M^T). */
export function lowRank(m: Float32Array, rows: number, cols: number, r: number): void {
  if (r >= Math.min(rows, cols)) return;
  const mmT = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++)
    for (let j = i; j < rows; j++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += m[i * cols + c] * m[j * cols + c];
      mmT[i * rows + j] = mmT[j * rows + i] = s;
    }
  const { vectors } = refEigh(mmT, rows); // ascending: the top r are the last r columns
  const U = new Float64Array(rows * r);
  for (let i = 0; i < rows; i++) for (let t = 0; t < r; t++) U[i * r + t] = vectors[i * rows + rows - 1 - t];
  // M <- U (U^T M)
  const UtM = new Float64Array(r * cols);
  for (let t = 0; t < r; t++) for (let i = 0; i < rows; i++) for (let c = 0; c < cols; c++) UtM[t * cols + c] += U[i * r + t] * m[i * cols + c];
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let t = 0; t < r; t++) s += U[i * r + t] * UtM[t * cols + c];
      m[i * cols + c] = s;
    }
}
