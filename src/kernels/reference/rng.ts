// Counter-based RNG for projection matrices: Threefry-2x32 with 20 rounds (Salmon et al., SC'11; the Random123
// generator, also JAX's), and a Gaussian-shaped variate built with integer arithmetic only, so that the WGSL kernel
// (shaders/rng_lib.wgsl) and this reference produce bit-identical float32 values on every device.
//
// Why not Box-Muller: WGSL's log/cos/sqrt/division are not correctly rounded (and differ between implementations),
// so a transcendental transform cannot be bit-identical across GPUs. Instead element (r, c) of a matrix uses two
// Threefry blocks (counters (c, 2r) and (c, 2r + 1)) = 128 random bits:
//   X = popcount of 112 bits (Binomial(112, 1/2): mean 56, variance 28) - 56 + U,  U = 16-bit uniform dither on
//   (-1/2, 1/2). X has mean 0, variance 28 + 1/12 (up to 2^-32), excess kurtosis -0.018, support +-56.5 (+-10.7 sd)
//   and a density equal to the binomial smoothed by a unit box: a Gaussian to within the CLT's O(1/112).
// X is an exact multiple of 2^-17 held as an odd integer Z = 2^17 X (|Z| < 2^23), converted to f32 exactly and
// multiplied once by the f32 constant NORMAL_SCALE = 2^-17 / sqrt(28 + 1/12): one correctly rounded product, the
// same bits in WGSL and in JS (Math.fround of an exact double product). An optional f32 `scale` is one more
// correctly rounded product.

const ROT = [13, 15, 26, 6, 17, 29, 16, 24];
const PARITY = 0x1bd11bda;

const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;

/** Threefry-2x32-20 of counter (c0, c1) under key (k0, k1): two u32. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (PARITY ^ k0 ^ k1) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let r = 0; r < 20; r++) {
    x0 = (x0 + x1) >>> 0;
    x1 = rotl(x1, ROT[r % 8]);
    x1 = (x1 ^ x0) >>> 0;
    if (r % 4 === 3) {
      const s = (r + 1) / 4;
      x0 = (x0 + ks[s % 3]) >>> 0;
      x1 = (x1 + ks[(s + 1) % 3] + s) >>> 0;
    }
  }
  return [x0, x1];
}

function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** f32 multiplier mapping the integer variate Z to unit variance. */
export const NORMAL_SCALE = Math.fround(2 ** -17 / Math.sqrt(28 + 1 / 12));

/** The integer variate Z (odd, |Z| < 2^23) of element (row, col). */
export function normalBits(k0: number, k1: number, row: number, col: number): number {
  const [w0, w1] = threefry2x32(k0, k1, col, 2 * row);
  const [w2, w3] = threefry2x32(k0, k1, col, 2 * row + 1);
  const pc = popcount(w0) + popcount(w1) + popcount(w2) + popcount(w3 >>> 16);
  const u = w3 & 0xffff;
  return 2 * ((pc - 56) * 65536 + u) - 65535;
}

/** Element (row, col) as float32 (bit-identical to the GPU). */
export function normalAt(k0: number, k1: number, row: number, col: number, scale = 1): number {
  const v = Math.fround(normalBits(k0, k1, row, col) * NORMAL_SCALE);
  return scale === 1 ? v : Math.fround(v * Math.fround(scale));
}

/** 32-bit FNV-1a of a string (layer names). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  const bytes = new TextEncoder().encode(s);
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** Roles of the matrices drawn for one layer (each gets an independent stream). */
export const ROLE = { pIn: 0, pOut: 1, dense: 2 } as const;

export interface ProjectionSpec {
  /** u32 seed (integers up to 2^32 - 1) */
  seed: number;
  /** layer index or name (names are hashed with FNV-1a) */
  layer: number | string;
  /** which matrix of the layer: 'pIn' | 'pOut' | 'dense' or any u32 */
  role: keyof typeof ROLE | number;
  rows: number;
  cols: number;
  /** f32 multiplier applied after the unit-variance draw (default 1; LoGra uses 1/sqrt(cols) or similar) */
  scale?: number;
}

function u32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${what} must be an integer in [0, 2^32), got ${v}`);
  return v;
}

/** The Threefry key of one matrix: derived from (seed, layer, role) and its shape, so resized matrices differ. */
export function deriveKey(spec: ProjectionSpec): [number, number] {
  const seed = u32(spec.seed, 'seed');
  const layer = typeof spec.layer === 'string' ? fnv1a(spec.layer) : u32(spec.layer, 'layer');
  const role = typeof spec.role === 'string' ? ROLE[spec.role] : u32(spec.role, 'role');
  const [a, b] = threefry2x32(seed, 0x4c6f4752 /* "LoGR" */, layer, role);
  return threefry2x32(a, b, u32(spec.rows, 'rows'), u32(spec.cols, 'cols'));
}

/** Rows row0 .. row0 + rows - 1 of the matrix of `spec` (rows are independent counter streams). */
export function normalRows(spec: ProjectionSpec, row0: number, rows: number): Float32Array {
  const [k0, k1] = deriveKey(spec);
  const cols = spec.cols;
  const out = new Float32Array(rows * cols);
  const scale = spec.scale ?? 1;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = normalAt(k0, k1, row0 + r, c, scale);
  return out;
}

/** The whole matrix [rows, cols] row-major (reference generator). */
export function normalMatrix(spec: ProjectionSpec): Float32Array {
  return normalRows(spec, 0, spec.rows);
}
