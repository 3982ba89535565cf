// Typed errors of the GPU layer. Each message says what happened and what to do about it.

/** No WebGPU adapter/device could be obtained in this runtime. */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
  constructor(
    message: string,
    readonly runtime: string,
  ) {
    super(`${message} (runtime: ${runtime}). Use the CPU backend (backend: 'cpu'), or see docs for enabling WebGPU.`);
  }
}

/** The device was lost (driver reset, destroy(), out of memory on some platforms). Every later call throws this. */
export class GpuDeviceLostError extends Error {
  override readonly name = 'GpuDeviceLostError';
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {
    super(`the WebGPU device was lost (reason: ${reason}${detail ? `: ${detail}` : ''}); acquire a new device (acquireGpu) and re-upload the data`);
  }
}

/** A request exceeds a device limit and cannot be chunked. */
export class GpuLimitError extends Error {
  override readonly name = 'GpuLimitError';
  constructor(
    readonly limit: string,
    readonly requested: number,
    readonly available: number,
    what: string,
  ) {
    super(`${what}: needs ${limit} >= ${requested}, the device allows ${available}; use smaller chunks/batches or the CPU backend`);
  }
}

/** WebGPU reported a validation, out-of-memory or internal error for work we submitted. */
export class GpuValidationError extends Error {
  override readonly name = 'GpuValidationError';
  constructor(
    readonly kind: 'validation' | 'out-of-memory' | 'internal' | 'uncaptured',
    message: string,
    readonly label?: string,
  ) {
    super(`WebGPU ${kind} error${label ? ` in ${label}` : ''}: ${message}`);
  }
}

/** A watchdog fired: a GPU job did not finish in time (a shader hang on a software adapter looks like this). */
export class GpuTimeoutError extends Error {
  override readonly name = 'GpuTimeoutError';
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what}: no result after ${ms} ms (watchdog); the GPU job is probably hung or far too large for this adapter`);
  }
}

/** Operand shapes do not fit a kernel's contract. */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
  constructor(
    readonly kernel: string,
    message: string,
  ) {
    super(`${kernel}: ${message}`);
  }
}

/** Cholesky met a non-positive pivot: the matrix (plus damping) is not positive definite. */
export class NotPositiveDefiniteError extends Error {
  override readonly name = 'NotPositiveDefiniteError';
  constructor(
    readonly column: number,
    readonly n: number,
  ) {
    super(`Cholesky: the matrix is not positive definite (pivot ${column} of ${n} is <= 0 or NaN); increase the damping lambda`);
  }
}
