// Plain-TS GEMM reference in float64: C[b] = alpha op(A[b]) diag(w[b]) op(B[b]) + beta C[b].
// Operands are dense row-major: A [batch?, M, K] (or [batch?, K, M] when transA), B [batch?, K, N] (or [N, K]).

export interface RefGemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  /** C input (used when beta != 0) */
  c?: ArrayLike<number>;
  /** per-k weights [batch?, K] */
  kWeights?: ArrayLike<number>;
  /** batch count (A, B, C, w all batched); broadcast a 2-D operand with its batch stride 0 */
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideW?: number;
}

export function refGemm(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number, o: RefGemmOptions = {}): Float64Array {
  const batch = o.batch ?? 1;
  const alpha = o.alpha ?? 1, beta = o.beta ?? 0;
  const sA = o.strideA ?? M * K, sB = o.strideB ?? K * N, sW = o.strideW ?? K;
  const out = new Float64Array(batch * M * N);
  const row = new Float64Array(N);
  for (let bi = 0; bi < batch; bi++) {
    for (let m = 0; m < M; m++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        let av = o.transA ? a[bi * sA + k * M + m] : a[bi * sA + m * K + k];
        if (o.kWeights) {
          const w = o.kWeights[bi * sW + k];
          if (w === 0) continue;
          av *= w;
        }
        if (av === 0) continue;
        if (o.transB) for (let n = 0; n < N; n++) row[n] += av * b[bi * sB + n * K + k];
        else {
          const base = bi * sB + k * N;
          for (let n = 0; n < N; n++) row[n] += av * b[base + n];
        }
      }
      const cb = bi * M * N + m * N;
      for (let n = 0; n < N; n++) out[cb + n] = alpha * row[n] + (beta !== 0 && o.c ? beta * o.c[cb + n] : 0);
    }
  }
  return out;
}
