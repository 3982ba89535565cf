import type * as OrtNs from 'onnxruntime-web';
import type { Ort } from './ort.ts';
import type { HostFeed } from './batch.ts';

export function toOrtFeeds(ort: Ort, feeds: Record<string, HostFeed>): Record<string, OrtNs.Tensor> {
  const out: Record<string, OrtNs.Tensor> = {};
  for (const [k, f] of Object.entries(feeds)) out[k] = new ort.Tensor(f.type, f.data, f.dims);
  return out;
}
