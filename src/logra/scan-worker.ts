// A worker thread of the chunk-decoding pool (scan-pool.ts, Node only): verifies a chunk's checksums and decodes its
// rows to float32, off the thread that runs the scoring GEMMs. Messages: { id, bytes, name, checksum, rows, cols } ->
// { id, data } (the buffers move, not copied) or { id, error }.
import { parentPort } from 'node:worker_threads';
import { decodeChunk } from '../store/chunk.ts';

interface Job {
  id: number;
  bytes: Uint8Array;
  name: string;
  checksum: number;
  rows: number;
  cols: number;
}

parentPort!.on('message', (j: Job) => {
  try {
    const d = decodeChunk(j.bytes, j.name, { checksum: j.checksum, rows: j.rows, cols: j.cols });
    parentPort!.postMessage({ id: j.id, data: d.data }, [d.data.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: j.id, error: { name: (e as Error).name, message: (e as Error).message } });
  }
});
parentPort!.postMessage({ ready: true });
