// Batched GEMM: C[b] = alpha * op(A[b]) * diag(w[b]) * op(B[b]) + beta * C[b], any M, N, K.
// op(X) = X or X^T (TRANS_A / TRANS_B); w (HAS_KW) weights the K dimension (a token mask for outer products).
//
// Kernel style (fast on the CPU-emulated adapters here and sound on real GPUs): every invocation computes a 4x4
// block of C in registers from vec4 loads along each operand's contiguous axis; no workgroup shared memory.
// The A and B buffers are read as vec4 arrays: the TS wrapper guarantees lda, ldb, offA, offB, strideA and strideB
// are multiples of 4 (it repacks unaligned operands). Rows/columns past M, N are clamped on load and never stored;
// the K tail (K % 4 != 0) is masked with select(), so padding garbage (even NaN) never reaches a stored element.
//
// Header (prepended by the wrapper): const TRANS_A: bool, const TRANS_B: bool, const HAS_KW: bool, const WG_X, WG_Y
// (workgroup shape: a workgroup covers 4 WG_Y rows x 4 WG_X columns of C),
// alias A4, B4 = vec4<f32> | vec4<f16> (with `enable f16;`).

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  lda: u32, ldb: u32, ldc: u32, strideW: u32,
  offA: u32, offB: u32, offC: u32, offW: u32,
  strideA: u32, strideB: u32, strideC: u32, _p2: u32,
  alpha: f32, beta: f32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<A4>;
@group(0) @binding(2) var<storage, read> B: array<B4>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> W: array<f32>;

// Loads are unrolled by hand: dynamic indexing of function-local arrays spills to memory on CPU-emulated adapters.

// Row k+j of op(A)^T restricted to rows m0..m0+3 comes from one vec4 when A is stored transposed ([K, M]).
fn ldA(base: u32, r: u32, c: u32) -> vec4<f32> {
  return vec4<f32>(A[(base + r * p.lda + c) / 4u]);
}

fn ldB(base: u32, r: u32, c: u32) -> vec4<f32> {
  return vec4<f32>(B[(base + r * p.ldb + c) / 4u]);
}

fn kw(wbase: u32, k: u32) -> f32 {
  return W[wbase + min(k, p.K - 1u)];
}

// One K step of 4: acc[i] (C row m0+i, columns n0..n0+3) += sum_j op(A)[m0+i, k+j] * op(B)[k+j, n0..n0+3].
// kmask switches off K indices >= K (tail step only; in the main loop it is all-true and folds away).
fn step(acc: ptr<function, mat4x4<f32>>, baseA: u32, baseB: u32, wbase: u32, rows: vec4<u32>, cols: vec4<u32>,
        m0: u32, n0: u32, k: u32, kmask: vec4<bool>) {
  let z = vec4<f32>(0.0);
  let kc = min(vec4<u32>(k, k + 1u, k + 2u, k + 3u), vec4<u32>(p.K - 1u));
  // a_i: op(A)[m0+i, k..k+3]
  var a0: vec4<f32>; var a1: vec4<f32>; var a2: vec4<f32>; var a3: vec4<f32>;
  if (TRANS_A) {
    let t = transpose(mat4x4<f32>(
      select(z, ldA(baseA, kc.x, m0), kmask.x), select(z, ldA(baseA, kc.y, m0), kmask.y),
      select(z, ldA(baseA, kc.z, m0), kmask.z), select(z, ldA(baseA, kc.w, m0), kmask.w)));
    a0 = t[0]; a1 = t[1]; a2 = t[2]; a3 = t[3];
  } else {
    a0 = select(z, ldA(baseA, rows.x, k), kmask);
    a1 = select(z, ldA(baseA, rows.y, k), kmask);
    a2 = select(z, ldA(baseA, rows.z, k), kmask);
    a3 = select(z, ldA(baseA, rows.w, k), kmask);
  }
  if (HAS_KW) {
    let w = vec4<f32>(kw(wbase, k), kw(wbase, k + 1u), kw(wbase, k + 2u), kw(wbase, k + 3u));
    let on = kmask & (w != z);
    a0 = select(z, a0 * w, on); a1 = select(z, a1 * w, on); a2 = select(z, a2 * w, on); a3 = select(z, a3 * w, on);
  }
  if (TRANS_B) {
    // B stored [N, K]: bt_c = op(B)[k..k+3, n0+c]
    let bt0 = select(z, ldB(baseB, cols.x, k), kmask);
    let bt1 = select(z, ldB(baseB, cols.y, k), kmask);
    let bt2 = select(z, ldB(baseB, cols.z, k), kmask);
    let bt3 = select(z, ldB(baseB, cols.w, k), kmask);
    (*acc)[0] += vec4<f32>(dot(a0, bt0), dot(a0, bt1), dot(a0, bt2), dot(a0, bt3));
    (*acc)[1] += vec4<f32>(dot(a1, bt0), dot(a1, bt1), dot(a1, bt2), dot(a1, bt3));
    (*acc)[2] += vec4<f32>(dot(a2, bt0), dot(a2, bt1), dot(a2, bt2), dot(a2, bt3));
    (*acc)[3] += vec4<f32>(dot(a3, bt0), dot(a3, bt1), dot(a3, bt2), dot(a3, bt3));
  } else {
    // B stored [K, N]: b_j = op(B)[k+j, n0..n0+3]
    let b0 = select(z, ldB(baseB, kc.x, n0), kmask.x);
    let b1 = select(z, ldB(baseB, kc.y, n0), kmask.y);
    let b2 = select(z, ldB(baseB, kc.z, n0), kmask.z);
    let b3 = select(z, ldB(baseB, kc.w, n0), kmask.w);
    (*acc)[0] += a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
    (*acc)[1] += a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
    (*acc)[2] += a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
    (*acc)[3] += a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  let b = gid.z;
  if (n0 >= p.N || m0 >= p.M || b >= p.batch) { return; }
  let baseA = p.offA + b * p.strideA;
  let baseB = p.offB + b * p.strideB;
  let wbase = p.offW + b * p.strideW;
  let rows = min(vec4<u32>(m0, m0 + 1u, m0 + 2u, m0 + 3u), vec4<u32>(p.M - 1u));
  let cols = min(vec4<u32>(n0, n0 + 1u, n0 + 2u, n0 + 3u), vec4<u32>(p.N - 1u));
  var acc = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  let K4 = p.K & ~3u;
  var k = 0u;
  for (; k < K4; k += 4u) {
    step(&acc, baseA, baseB, wbase, rows, cols, m0, n0, k, vec4<bool>(true));
  }
  if (k < p.K) {
    step(&acc, baseA, baseB, wbase, rows, cols, m0, n0, k, vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(p.K));
  }
  let baseC = p.offC + b * p.strideC;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= p.N) { break; }
      let idx = baseC + m * p.ldc + n;
      var v = p.alpha * acc[i][j];
      if (p.beta != 0.0) { v += p.beta * C[idx]; }
      C[idx] = v;
    }
  }
}
