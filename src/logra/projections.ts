// LoGra projection matrices per tapped layer: P_in [k_in, d_in] and P_out [k_out, d_out].
// - random: seeded Gaussian from the counter-based generator (src/kernels/reference/rng.ts, bit-identical on the GPU),
//   entries N(0, 1/k) so that E[P^T P] = I; regenerated from (seed, layer name, role, shape), never stored.
// - pca: rows are the top eigenvectors of the KFAC factors A = E[x x^T] and S = E[dy dy^T] (stored in the index).
// - identity: P = I, so G is the full weight gradient dW [d_out, d_in] (exact mode; small models only).
// - given: supplied by the caller, e.g. imported from safetensors (`<layer>.in`, `<layer>.out`, float32).
import type { LayerInfo } from '../autograd/layers.ts';
import type { KernelBackend } from '../kernels/backend.ts';
import type { LayerProjection } from '../runtime/taps.ts';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../io/safetensors.ts';

export type Projections = Map<string, LayerProjection>;

export class ProjectionError extends Error {
  constructor(message: string, source?: string) {
    super(source ? `${source}: ${message}` : message);
    this.name = 'ProjectionError';
  }
}

export function identityProjections(layers: LayerInfo[]): Projections {
  const eye = (n: number) => {
    const m = new Float32Array(n * n);
    for (let i = 0; i < n; i++) m[i * n + i] = 1;
    return m;
  };
  return new Map(layers.map((l) => [l.name, { kIn: l.dIn, kOut: l.dOut, pin: eye(l.dIn), pout: eye(l.dOut) }]));
}

/** Rank actually used for a layer: k clamped to the layer's width (a projection wider than its input adds nothing). */
export const clampRank = (k: number, d: number) => Math.min(k, d);

export async function randomProjections(backend: KernelBackend, layers: LayerInfo[], kIn: number, kOut: number, seed: number): Promise<Projections> {
  const out: Projections = new Map();
  for (const l of layers) {
    const ki = clampRank(kIn, l.dIn), ko = clampRank(kOut, l.dOut);
    const draw = async (role: 'pIn' | 'pOut', rows: number, cols: number) => {
      const t = await backend.randomNormal({ seed, layer: l.name, role, rows, cols, scale: Math.fround(1 / Math.sqrt(rows)) });
      try {
        return await backend.read(t);
      } finally {
        t.dispose();
      }
    };
    out.set(l.name, { kIn: ki, kOut: ko, pin: await draw('pIn', ki, l.dIn), pout: await draw('pOut', ko, l.dOut) });
  }
  return out;
}

/**
 * PCA init from KFAC factors: rows of P_in are the top-k_in eigenvectors of A (d_in x d_in), rows of P_out the
 * top-k_out of S. Eigenvector signs are made deterministic (largest-magnitude entry positive).
 */
export async function pcaProjections(backend: KernelBackend, layers: LayerInfo[], stats: { a: Float32Array; s: Float32Array }[], kIn: number, kOut: number): Promise<Projections> {
  const out: Projections = new Map();
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    const top = async (m: Float32Array, d: number, k: number) => {
      const t = backend.tensor(m, [d, d]);
      const { vectors } = await backend.eigh(t);
      const v = await backend.read(vectors);
      t.dispose();
      vectors.dispose();
      const p = new Float32Array(k * d);
      for (let r = 0; r < k; r++) {
        const col = d - 1 - r; // ascending eigenvalues: the largest last
        let big = 0;
        for (let j = 0; j < d; j++) if (Math.abs(v[j * d + col]) > Math.abs(big)) big = v[j * d + col];
        const sign = big < 0 ? -1 : 1;
        for (let j = 0; j < d; j++) p[r * d + j] = sign * v[j * d + col];
      }
      return p;
    };
    const ki = clampRank(kIn, l.dIn), ko = clampRank(kOut, l.dOut);
    out.set(l.name, { kIn: ki, kOut: ko, pin: await top(stats[i].a, l.dIn, ki), pout: await top(stats[i].s, l.dOut, ko) });
  }
  return out;
}

/** safetensors with float32 `<layer>.in` [k_in, d_in] and `<layer>.out` [k_out, d_out] per layer. */
export function encodeProjections(p: Projections, metadata?: Record<string, string>): Uint8Array {
  const t = new Map<string, SafeTensor>();
  for (const [name, q] of p) {
    t.set(`${name}.in`, { dtype: 'F32', shape: [q.kIn, q.pin.length / q.kIn], data: q.pin });
    t.set(`${name}.out`, { dtype: 'F32', shape: [q.kOut, q.pout.length / q.kOut], data: q.pout });
  }
  return writeSafetensors(t, metadata);
}

/**
 * Reads projections for the given layers from safetensors bytes, checking names, dtypes and shapes. Accepts F32 or
 * F64 (narrowed). Every tapped layer must be present; extra tensors are an error too (they usually mean a layer
 * filter differs from the one the file was made for).
 */
export function decodeProjections(bytes: Uint8Array, layers: LayerInfo[], source = 'projections'): Projections {
  const { tensors } = readSafetensors(bytes, source);
  const out: Projections = new Map();
  const used = new Set<string>();
  const get = (key: string, d: number): { k: number; data: Float32Array } => {
    const t = tensors.get(key);
    if (!t) {
      const have = [...tensors.keys()].slice(0, 8).join(', ');
      throw new ProjectionError(`no tensor ${JSON.stringify(key)} (the file has: ${have}${tensors.size > 8 ? ', ...' : ''})`, source);
    }
    used.add(key);
    if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new ProjectionError(`tensor ${JSON.stringify(key)} is ${t.dtype}; projections must be F32 (or F64)`, source);
    if (t.shape.length !== 2 || t.shape[1] !== d || t.shape[0] < 1) throw new ProjectionError(`tensor ${JSON.stringify(key)} has shape [${t.shape.join(', ')}], expected [k, ${d}]`, source);
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array);
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) throw new ProjectionError(`tensor ${JSON.stringify(key)} holds a non-finite value at ${i}`, source);
    return { k: t.shape[0], data };
  };
  for (const l of layers) {
    const a = get(`${l.name}.in`, l.dIn), b = get(`${l.name}.out`, l.dOut);
    out.set(l.name, { kIn: a.k, kOut: b.k, pin: a.data, pout: b.data });
  }
  const extra = [...tensors.keys()].filter((k) => !used.has(k));
  if (extra.length) throw new ProjectionError(`tensors for layers that are not tapped: ${extra.slice(0, 6).join(', ')}${extra.length > 6 ? ', ...' : ''}`, source);
  return out;
}
