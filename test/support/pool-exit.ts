// Run as a child process by test/logra/scan-pool.test.ts: a decode pool that is never disposed must not keep the
// process alive, and a decode in flight (nothing else pending) must not be cut short.
import { DecodePool } from '../../src/logra/scan-pool.ts';
import { encodeChunk } from '../../src/store/chunk.ts';

async function main(): Promise<void> {
  const pool = await DecodePool.create(2);
  if (!pool) throw new Error('no pool in Node');
  const rows = 500, cols = 64;
  const c = encodeChunk(Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i)), rows, cols, 'int8');
  const jobs = [0, 1, 2].map(() => pool.decode({ bytes: c.bytes.slice(), name: 'chunk', checksum: c.checksum, rows, cols }));
  const out = await Promise.all(jobs);
  console.log(`decoded ${out.map((d) => d.length).join(',')}`);
  // no dispose(): the process ends here on its own
}
void main();
