// HttpStore against a real HTTP server (node:http on 127.0.0.1): blobs, the manifest, and statBlob, which reads only
// a blob's head with a ranged request where the server honours ranges, and falls back to a whole read where it
// ignores them (200) or refuses them (416, an empty blob); a missing blob is undefined.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpStore } from '../src/store/http.ts';

const blobs: Record<string, Uint8Array> = {
  big: Uint8Array.from({ length: 5000 }, (_, i) => i % 251),
  empty: new Uint8Array(0),
};
let server: Server;
let base = '';
/** bytes sent in blob bodies, by server mode */
const sent = { ranges: 0, plain: 0 };

beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /^\/(ranges|plain)\/blobs\/([a-z]+)\.bin$/.exec(req.url ?? '');
    const b = m && blobs[m[2]];
    if (!m || !b) return res.writeHead(404).end();
    const mode = m[1] as 'ranges' | 'plain';
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (mode === 'ranges' && range) {
      const a = Number(range[1]);
      if (a >= b.length) return res.writeHead(416, { 'Content-Range': `bytes */${b.length}` }).end();
      const z = Math.min(Number(range[2]), b.length - 1);
      sent[mode] += z - a + 1;
      return res.writeHead(206, { 'Content-Range': `bytes ${a}-${z}/${b.length}`, 'Content-Length': z - a + 1 }).end(Buffer.from(b.subarray(a, z + 1)));
    }
    sent[mode] += b.length;
    res.writeHead(200, { 'Content-Length': b.length }).end(Buffer.from(b));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('HttpStore.statBlob', () => {
  it('a server with ranges sends the head only', async () => {
    const s = new HttpStore(`${base}/ranges/`);
    sent.ranges = 0;
    const st = await s.statBlob('big', 24);
    expect(st!.size).toBe(5000);
    expect(Array.from(st!.head)).toEqual(Array.from(blobs.big.subarray(0, 24)));
    expect(sent.ranges).toBe(24);
    expect(await s.statBlob('nothing', 24)).toBeUndefined();
    const e = await s.statBlob('empty', 24);
    expect(e!.size).toBe(0);
    expect(e!.head.length).toBe(0);
    expect(Array.from(await s.readBlob('big'))).toEqual(Array.from(blobs.big));
  });

  it('a server that ignores ranges: a whole read, the same answer', async () => {
    const s = new HttpStore(`${base}/plain/`);
    sent.plain = 0;
    const st = await s.statBlob('big', 24);
    expect(st!.size).toBe(5000);
    expect(Array.from(st!.head)).toEqual(Array.from(blobs.big.subarray(0, 24)));
    expect(sent.plain).toBe(5000);
    expect((await s.statBlob('big', 0))!.head.length).toBe(0);
    expect(await s.statBlob('nothing', 24)).toBeUndefined();
  });
});
