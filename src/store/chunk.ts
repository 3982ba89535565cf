// The one chunk format shared by every store: a 24-byte header and rows of per-example float vectors.
//   magic "LGRC" | version u32 | dtype u32 | rows u32 | cols u32 | crc32 u32 of the payload
// All little-endian. The manifest also records each chunk's checksum, so a chunk that was replaced or damaged
// is detected and named on read. Payload by dtype (code):
//   f32 (0)   rows x cols float32                                       4 bytes per value
//   f16 (1)   rows x cols IEEE half                                     2
//   int8 (2)  rows x groups float32 scales, then rows x cols int8       1 + 4/64: each row in groups of QGROUP = 64
//             values, q = round(g / s) with s = max|g| / 127 per group
//   sign (3)  rows x groups float32 scales, then rows x ceil(cols / 8)  1/8 + 4/64: 1-bit sign quantisation,
//             bytes of bits (bit j of a row = g_j >= 0)                 g ~ s sign(g) with s = mean |g| per group
//             (the scale that minimises the squared error of a sign code)
// Groups never cross rows (a row's last group may be shorter).

import { floatToHalfBits as toHalf, halfBitsToFloat as fromHalf } from '../kernels/reference/f16.ts';

export type ChunkDtype = 'f32' | 'f16' | 'int8' | 'sign';

const DTYPE_CODES: Record<ChunkDtype, number> = { f32: 0, f16: 1, int8: 2, sign: 3 };
const DTYPES: ChunkDtype[] = ['f32', 'f16', 'int8', 'sign'];
/** values per scale in the quantised dtypes */
export const QGROUP = 64;

/** Payload bytes of rows x cols values of a dtype. */
export function payloadBytes(dtype: ChunkDtype, rows: number, cols: number): number {
  const groups = rows * Math.ceil(cols / QGROUP);
  switch (dtype) {
    case 'f32':
      return rows * cols * 4;
    case 'f16':
      return rows * cols * 2;
    case 'int8':
      return groups * 4 + rows * cols;
    case 'sign':
      return groups * 4 + rows * Math.ceil(cols / 8);
  }
}

export const CHUNK_MAGIC = 0x4352474c; // "LGRC" read as little-endian u32
export const CHUNK_VERSION = 1;
const HEADER = 24;

export class ChunkError extends Error {
  constructor(message: string, readonly chunk?: string) {
    super(chunk ? `chunk ${JSON.stringify(chunk)}: ${message}` : message);
    this.name = 'ChunkError';
  }
}

// CRC-32 (IEEE, reflected), slicing-by-8: eight 256-entry tables let the loop consume 8 bytes per step (about 5x
// the byte-at-a-time loop; the checksum is read on every chunk a query scans).
const CRC_TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  const T = CRC_TABLES;
  let c = 0xffffffff;
  let i = 0;
  const n8 = bytes.length - (bytes.length % 8);
  for (; i < n8; i += 8) {
    const a = (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) ^ c;
    c =
      T[1792 + (a & 0xff)] ^ T[1536 + ((a >>> 8) & 0xff)] ^ T[1280 + ((a >>> 16) & 0xff)] ^ T[1024 + (a >>> 24)] ^
      T[768 + bytes[i + 4]] ^ T[512 + bytes[i + 5]] ^ T[256 + bytes[i + 6]] ^ T[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) c = T[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** float32 value of every half bit pattern (256 KiB, made on first f16 decode): a lookup per value. */
let HALF_TABLE: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = fromHalf(h);
  }
  return HALF_TABLE;
}

// float16 conversions are the kernels' reference ones: chunks use the same packed layout as 'f16' GPU tensors.
export { floatToHalfBits as toHalf, halfBitsToFloat as fromHalf } from '../kernels/reference/f16.ts';

export interface DecodedChunk {
  dtype: ChunkDtype;
  rows: number;
  cols: number;
  checksum: number;
  /** rows x cols values, always returned as float32 */
  data: Float32Array;
}

export function encodeChunk(data: Float32Array, rows: number, cols: number, dtype: ChunkDtype): { bytes: Uint8Array; checksum: number } {
  if (data.length !== rows * cols) throw new ChunkError(`encode: ${data.length} values for ${rows} x ${cols}`);
  if (!(dtype in DTYPE_CODES)) throw new ChunkError(`encode: unknown dtype ${JSON.stringify(dtype)}`);
  const out = new Uint8Array(HEADER + payloadBytes(dtype, rows, cols));
  const payload = out.subarray(HEADER);
  if (dtype === 'f16') {
    const h = new Uint16Array(out.buffer, HEADER, rows * cols);
    for (let i = 0; i < data.length; i++) h[i] = toHalf(data[i]);
  } else if (dtype === 'f32') {
    new Float32Array(out.buffer, HEADER, rows * cols).set(data);
  } else quantise(data, rows, cols, dtype, out);
  const checksum = crc32(payload);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, CHUNK_MAGIC, true);
  dv.setUint32(4, CHUNK_VERSION, true);
  dv.setUint32(8, DTYPE_CODES[dtype], true);
  dv.setUint32(12, rows, true);
  dv.setUint32(16, cols, true);
  dv.setUint32(20, checksum, true);
  return { bytes: out, checksum };
}

/** A verified chunk's header fields and its encoded payload (a view into the bytes read). */
export interface VerifiedChunk {
  dtype: ChunkDtype;
  rows: number;
  cols: number;
  checksum: number;
  payload: Uint8Array;
}

/** Validates header, size and checksum (against the manifest's when given); the payload stays encoded. */
export function verifyChunk(bytes: Uint8Array, name: string, expect?: { checksum?: number; rows?: number; cols?: number }): VerifiedChunk {
  if (bytes.length < HEADER) throw new ChunkError(`truncated (${bytes.length} bytes, header needs ${HEADER})`, name);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== CHUNK_MAGIC) throw new ChunkError('not a logra chunk (bad magic)', name);
  const version = dv.getUint32(4, true);
  if (version !== CHUNK_VERSION) throw new ChunkError(`chunk format version ${version}, this build reads ${CHUNK_VERSION}`, name);
  const dt = dv.getUint32(8, true);
  const dtype = DTYPES[dt];
  if (!dtype) throw new ChunkError(`unknown dtype code ${dt}`, name);
  const rows = dv.getUint32(12, true), cols = dv.getUint32(16, true);
  const checksum = dv.getUint32(20, true);
  const need = payloadBytes(dtype, rows, cols);
  if (bytes.length - HEADER !== need) throw new ChunkError(`size ${bytes.length - HEADER} bytes, header says ${rows} x ${cols} ${dtype} = ${need}`, name);
  if (expect?.rows !== undefined && expect.rows !== rows) throw new ChunkError(`holds ${rows} rows, the manifest says ${expect.rows}`, name);
  if (expect?.cols !== undefined && expect.cols !== cols) throw new ChunkError(`holds ${cols} columns, the manifest says ${expect.cols}`, name);
  const payload = bytes.subarray(HEADER);
  const actual = crc32(payload);
  if (actual !== checksum || (expect?.checksum !== undefined && expect.checksum !== actual)) {
    throw new ChunkError(`checksum mismatch (stored ${checksum.toString(16)}, manifest ${expect?.checksum?.toString(16) ?? '-'}, data ${actual.toString(16)}): the chunk is corrupted`, name);
  }
  return { dtype, rows, cols, checksum, payload };
}

/** The payload's IEEE half bit patterns of an 'f16' chunk (in place when aligned), for decoding on a GPU. */
export function halfBitsOf(c: VerifiedChunk): Uint16Array {
  if (c.dtype !== 'f16') throw new ChunkError(`halfBitsOf: a ${c.dtype} chunk`);
  const src = c.payload.byteOffset % 2 === 0 ? c.payload : new Uint8Array(c.payload);
  return new Uint16Array(src.buffer, src.byteOffset, c.rows * c.cols);
}

/** Validates header, size and checksum (against the manifest's when given) before decoding. */
export function decodeChunk(bytes: Uint8Array, name: string, expect?: { checksum?: number; rows?: number; cols?: number }): DecodedChunk {
  const { dtype, rows, cols, checksum, payload } = verifyChunk(bytes, name, expect);
  // view the payload in place when it is aligned (it is for whole-file reads: the header is 24 bytes), else copy once
  const n = rows * cols;
  const src = payload.byteOffset % 4 === 0 ? payload : new Uint8Array(payload);
  const data = new Float32Array(n);
  if (dtype === 'f16') halfsToFloats(new Uint16Array(src.buffer, src.byteOffset, n), data);
  else if (dtype === 'f32') {
    data.set(new Float32Array(src.buffer, src.byteOffset, n));
  } else dequantise(src, rows, cols, dtype, data);
  return { dtype, rows, cols, checksum, data };
}

/**
 * IEEE half bit patterns to float32, in place of a per-value table lookup: normal numbers by integer arithmetic on
 * the bits (rebias the exponent by 112, shift the mantissa by 13), zeros, subnormals, infinities and NaN through the
 * table (3x faster than looking every value up: the 256 KiB table misses the cache).
 */
export function halfsToFloats(h: Uint16Array, out: Float32Array): void {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const T = halfTable();
  for (let i = 0; i < h.length; i++) {
    const v = h[i];
    const e = v & 0x7c00;
    if (e !== 0 && e !== 0x7c00) o[i] = ((v & 0x8000) << 16) | (((v & 0x7fff) + 0x1c000) << 13);
    else out[i] = T[v];
  }
}

/** int8 / sign payload of rows x cols values, written after the header of `out` */
function quantise(data: Float32Array, rows: number, cols: number, dtype: 'int8' | 'sign', out: Uint8Array): void {
  const gpr = Math.ceil(cols / QGROUP);
  const scales = new Float32Array(out.buffer, out.byteOffset + HEADER, rows * gpr);
  const body = out.subarray(HEADER + rows * gpr * 4);
  const rowBytes = dtype === 'int8' ? cols : Math.ceil(cols / 8);
  for (let r = 0; r < rows; r++) {
    const row = data.subarray(r * cols, (r + 1) * cols);
    const q = body.subarray(r * rowBytes, (r + 1) * rowBytes);
    for (let g = 0; g < gpr; g++) {
      const a = g * QGROUP, b = Math.min(cols, a + QGROUP);
      let s = 0;
      if (dtype === 'int8') {
        for (let j = a; j < b; j++) s = Math.max(s, Math.abs(row[j]));
        s /= 127;
        const inv = s > 0 ? 1 / s : 0;
        for (let j = a; j < b; j++) q[j] = Math.round(row[j] * inv) & 0xff; // two's complement int8
      } else {
        for (let j = a; j < b; j++) s += Math.abs(row[j]);
        s /= b - a;
        for (let j = a; j < b; j++) if (row[j] >= 0) q[j >> 3] |= 1 << (j & 7);
      }
      if (!Number.isFinite(s)) throw new ChunkError(`encode: row ${r} holds a non-finite value (group ${g})`);
      scales[r * gpr + g] = s;
    }
  }
}

function dequantise(src: Uint8Array, rows: number, cols: number, dtype: 'int8' | 'sign', data: Float32Array): void {
  const gpr = Math.ceil(cols / QGROUP);
  const scales = new Float32Array(src.buffer, src.byteOffset, rows * gpr);
  const body = src.subarray(rows * gpr * 4);
  const rowBytes = dtype === 'int8' ? cols : Math.ceil(cols / 8);
  const i8 = new Int8Array(body.buffer, body.byteOffset, body.byteLength);
  for (let r = 0; r < rows; r++) {
    const o = r * cols, qo = r * rowBytes;
    for (let g = 0; g < gpr; g++) {
      const s = scales[r * gpr + g];
      const a = g * QGROUP, b = Math.min(cols, a + QGROUP);
      if (dtype === 'int8') for (let j = a; j < b; j++) data[o + j] = i8[qo + j] * s;
      else for (let j = a; j < b; j++) data[o + j] = (body[qo + (j >> 3)] >> (j & 7)) & 1 ? s : -s;
    }
  }
}
