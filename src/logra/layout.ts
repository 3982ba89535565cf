// How an index lays out its data: one row per example, per-layer blocks vec(G_l) (G_l [k_out, k_in] row-major)
// concatenated in layer order; and the blobs beside the chunks.
import type { IndexSettings, Manifest } from '../store/store.ts';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../io/safetensors.ts';

export type IndexLayer = IndexSettings['layers'][number];

/** column offset of each layer's block, and the row width */
export function layerOffsets(layers: IndexLayer[]): { offsets: number[]; cols: number } {
  const offsets: number[] = [];
  let c = 0;
  for (const l of layers) {
    offsets.push(c);
    c += l.kIn * l.kOut;
  }
  return { offsets, cols: c };
}

/** Copies columns [off, off + k) of a row-major [rows, cols] matrix. */
export function sliceCols(data: Float32Array, rows: number, cols: number, off: number, k: number): Float32Array {
  if (off === 0 && k === cols) return data;
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + off, r * cols + off + k), r * k);
  return out;
}

/** Blob roles in manifest.blobs. */
export const BLOB = {
  projections: 'projections',
  /** the fitted preconditioner of layer l (one blob per layer, so a fit never holds every layer's at once) */
  fit: (layer: number) => `fit/${layer}`,
  self: 'self',
  kfac: (chunkKey: string) => `kfac/${chunkKey}`,
} as const;

/** Version of the fit's blobs and state (2: one preconditioner blob per layer, in one of the forms of precondition.ts). */
export const FIT_FORMAT = 2;

/** The blob roles of a fit (current or older formats). */
export function isFitRole(role: string): boolean {
  return role === 'fit' || role === BLOB.self || role.startsWith('fit/');
}

/** blobs without the fit's (a log that adds rows invalidates the fit) */
export function withoutFit(blobs: Manifest['blobs']): Manifest['blobs'] {
  return Object.fromEntries(Object.entries(blobs).filter(([role]) => !isFitRole(role)));
}

/** Packs named float32 arrays (+ string metadata) as safetensors; every blob beside the chunks uses this. */
export function packTensors(t: Record<string, { shape: number[]; data: Float32Array }>, metadata?: Record<string, string>): Uint8Array {
  const m = new Map<string, SafeTensor>();
  for (const [k, v] of Object.entries(t)) m.set(k, { dtype: 'F32', shape: v.shape, data: v.data });
  return writeSafetensors(m, metadata);
}

export function unpackTensors(bytes: Uint8Array, source: string): { get(name: string, shape?: number[]): Float32Array; metadata: Record<string, string> } {
  const { tensors, metadata } = readSafetensors(bytes, source);
  return {
    metadata,
    get(name, shape) {
      const t = tensors.get(name);
      if (!t || t.dtype !== 'F32') throw new Error(`${source}: tensor ${JSON.stringify(name)} is missing or not F32`);
      if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
        throw new Error(`${source}: tensor ${JSON.stringify(name)} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
      }
      return t.data as Float32Array;
    },
  };
}

/** Whether the manifest holds a fit (and self-influences) of this build's format made over all of its current chunks. */
export function fitIsCurrent(m: Manifest): boolean {
  const fit = m.state.fit as { chunks?: number; format?: number } | undefined;
  return !!fit && fit.format === FIT_FORMAT && fit.chunks === m.chunks.length && !!m.blobs[BLOB.self] && m.settings.layers.every((_, l) => !!m.blobs[BLOB.fit(l)]);
}

export function trainIds(m: Manifest): string[] {
  const out: string[] = [];
  for (const c of m.chunks) for (const id of c.ids) out.push(id);
  return out;
}
