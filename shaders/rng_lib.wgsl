// Library (functions only): Threefry-2x32-20 and the integer-exact Gaussian variate of src/kernels/reference/rng.ts.
// Bit-identical to the TS reference: u32 adds wrap, rotations and popcounts are exact, the i32 -> f32 conversion is
// exact (|Z| < 2^23) and the one multiply by NORMAL_SCALE (passed as bits) is correctly rounded.

fn rng_rotl(x: u32, r: u32) -> u32 {
  return (x << r) | (x >> (32u - r));
}

fn rng_mix4(v: vec2<u32>, r0: u32, r1: u32, r2: u32, r3: u32) -> vec2<u32> {
  var x = v;
  x.x += x.y; x.y = rng_rotl(x.y, r0) ^ x.x;
  x.x += x.y; x.y = rng_rotl(x.y, r1) ^ x.x;
  x.x += x.y; x.y = rng_rotl(x.y, r2) ^ x.x;
  x.x += x.y; x.y = rng_rotl(x.y, r3) ^ x.x;
  return x;
}

fn threefry2x32(key: vec2<u32>, ctr: vec2<u32>) -> vec2<u32> {
  let ks2 = 0x1bd11bdau ^ key.x ^ key.y;
  var x = ctr + key;
  x = rng_mix4(x, 13u, 15u, 26u, 6u);  x += vec2<u32>(key.y, ks2 + 1u);
  x = rng_mix4(x, 17u, 29u, 16u, 24u); x += vec2<u32>(ks2, key.x + 2u);
  x = rng_mix4(x, 13u, 15u, 26u, 6u);  x += vec2<u32>(key.x, key.y + 3u);
  x = rng_mix4(x, 17u, 29u, 16u, 24u); x += vec2<u32>(key.y, ks2 + 4u);
  x = rng_mix4(x, 13u, 15u, 26u, 6u);  x += vec2<u32>(ks2, key.x + 5u);
  return x;
}

// Integer variate Z of element (row, col): odd, |Z| < 2^23 (see the TS reference for the distribution).
fn rng_normal_bits(key: vec2<u32>, row: u32, col: u32) -> i32 {
  let a = threefry2x32(key, vec2<u32>(col, 2u * row));
  let b = threefry2x32(key, vec2<u32>(col, 2u * row + 1u));
  let pc = i32(countOneBits(a.x) + countOneBits(a.y) + countOneBits(b.x) + countOneBits(b.y >> 16u));
  let u = i32(b.y & 0xffffu);
  return 2 * ((pc - 56) * 65536 + u) - 65535;
}

fn rng_normal(key: vec2<u32>, row: u32, col: u32, unitScale: f32) -> f32 {
  return f32(rng_normal_bits(key, row, col)) * unitScale;
}
