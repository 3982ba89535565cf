// A fitted index over a small logged index's rows listed `times` over (benchmarks at N rows without logging N
// examples). Duplicating every row leaves C = (1/N) sum g g^T and each row's self-influence unchanged, so the small
// index's fit (in the covariance form, which does not depend on N) is the replicated index's fit: it is copied, with
// the self-influences tiled. With distinct: true every replica has its own chunk keys (an AliasStore serves them
// from the one stored copy), so nothing downstream can tell the replicas apart (the WebGPU path keeps resident
// blocks by chunk key: shared keys would make a million rows look like a few thousand).
import type { FitState, LograIndex } from '../../src/logra/mod.ts';
import { BLOB, packTensors, unpackTensors } from '../../src/logra/layout.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { BlobStat, Manifest } from '../../src/store/store.ts';

/** A memory store where key 'K#r' reads blob 'K' (no copies of replicated chunks). */
export class AliasStore extends MemoryStore {
  private base(key: string): string {
    const i = key.indexOf('#');
    return i < 0 ? key : key.slice(0, i);
  }
  override async readBlob(key: string): Promise<Uint8Array> {
    return super.readBlob(this.base(key));
  }
  override async statBlob(key: string, headBytes: number): Promise<BlobStat | undefined> {
    return super.statBlob(this.base(key), headBytes);
  }
}

export async function replicateFitted(small: LograIndex, dst: MemoryStore, times: number, o: { distinct?: boolean } = {}): Promise<void> {
  const m = small.manifest;
  const src = small.store as MemoryStore;
  const L = m.settings.layers.length;
  const n = small.size;
  const self = unpackTensors(await src.readBlob(m.blobs[BLOB.self].key), 'self');
  const tiled: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (let l = 0; l < L; l++) {
    const v = self.get(String(l), [n]), out = new Float32Array(n * times);
    for (let r = 0; r < times; r++) out.set(v, r * n);
    tiled[String(l)] = { shape: [n * times], data: out };
  }
  const selfBytes = packTensors(tiled);
  const blobs = [...src.blobs].filter(([key]) => key !== m.blobs[BLOB.self].key).map(([key, bytes]) => ({ key, bytes }));
  blobs.push({ key: 'self-replicated', bytes: selfBytes });
  const chunks: Manifest['chunks'] = [];
  for (let r = 0; r < times; r++) for (const c of m.chunks) chunks.push({ ...c, key: o.distinct && r > 0 ? `${c.key}#${r}` : c.key, ids: c.ids.map((id) => `${id}#${r}`) });
  const fit = { ...(m.state.fit as FitState), chunks: chunks.length, examples: n * times };
  await dst.commit(blobs, { ...m, chunks, blobs: { ...m.blobs, [BLOB.self]: { key: 'self-replicated', checksum: 0, bytes: selfBytes.length } }, state: { ...m.state, fit } });
}
