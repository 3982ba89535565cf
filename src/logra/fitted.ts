// A fit as queries use it: its state, the self-influences, and each layer's preconditioner, read from its blob on
// first use and kept in memory up to a byte budget (least recently used go first), so that an index whose
// preconditioners do not fit in memory together (raw at k = 64 x 64 over dozens of layers) is queried one layer at
// a time.
import { StoreError, type LogStore, type Manifest } from '../store/store.ts';
import { BLOB, FIT_FORMAT, unpackTensors } from './layout.ts';
import { preconditionerFrom, type LayerPreconditioner } from './precondition.ts';
import { checkBlob } from '../store/integrity.ts';
import type { FitState } from './fit.ts';
import { SharedReads } from './concurrency.ts';

export class Fitted {
  private readonly cache = new Map<number, LayerPreconditioner>();
  /** layers being read: concurrent callers (warm() and a query) share one read */
  private readonly reads = new SharedReads<number, LayerPreconditioner>();
  private held = 0;
  /** total self-influence per example */
  readonly total: Float64Array;

  constructor(
    private readonly store: LogStore,
    private readonly m: Manifest,
    readonly state: FitState,
    /** [layer][example] */
    readonly self: Float32Array[],
    /** bytes of preconditioners kept in memory */
    private readonly budget: number,
    pre: (LayerPreconditioner | undefined)[] = [],
  ) {
    const N = self[0]?.length ?? 0;
    this.total = new Float64Array(N);
    for (const s of self) for (let n = 0; n < N; n++) this.total[n] += s[n];
    pre.forEach((p, l) => p && this.keep(l, p));
  }

  /** Reads a committed fit (its state and self-influences; preconditioners on demand). */
  static async load(store: LogStore, m: Manifest, budget: number): Promise<Fitted> {
    const state = m.state.fit as FitState;
    if (state?.format !== FIT_FORMAT) throw new StoreError(`the fit is in format ${state?.format ?? 1}, this build reads ${FIT_FORMAT}; run fit again`, store.location);
    const N = m.chunks.reduce((a, c) => a + c.rows, 0);
    const ref = m.blobs[BLOB.self];
    const s = unpackTensors(await readChecked(store, BLOB.self, ref), `${store.location}/${ref.key} (self-influences)`);
    return new Fitted(store, m, state, m.settings.layers.map((_, l) => s.get(String(l), [N])), budget);
  }

  get layers(): number {
    return this.self.length;
  }

  async layer(l: number): Promise<LayerPreconditioner> {
    const hit = this.cache.get(l);
    if (hit) {
      this.cache.delete(l);
      this.cache.set(l, hit);
      return hit;
    }
    return this.reads.run(l, () => this.read(l));
  }

  private async read(l: number): Promise<LayerPreconditioner> {
    const ref = this.m.blobs[BLOB.fit(l)];
    if (!ref) throw new StoreError(`the fit of layer ${l} (${this.m.settings.layers[l]?.name}) is missing; run fit again`, this.store.location);
    const t = unpackTensors(await readChecked(this.store, BLOB.fit(l), ref), `${this.store.location}/${ref.key} (fit of ${this.m.settings.layers[l].name})`);
    const p = preconditionerFrom(this.m.settings.layers[l], this.state.hessian, this.state.forms[l], this.state.lambdas[l], t, this.state.examples);
    this.keep(l, p);
    return p;
  }

  private keep(l: number, p: LayerPreconditioner): void {
    if (p.bytes > this.budget) return;
    this.cache.set(l, p);
    this.held += p.bytes;
    for (const [k, v] of this.cache) {
      if (this.held <= this.budget) break;
      this.cache.delete(k);
      this.held -= v.bytes;
    }
  }
}

/** A blob's bytes, checked against the size and checksum the manifest recorded (checksum 0: none recorded). */
async function readChecked(store: LogStore, role: string, ref: { key: string; checksum: number; bytes: number }): Promise<Uint8Array> {
  return checkBlob(store.location, role, ref, await store.readBlob(ref.key));
}
