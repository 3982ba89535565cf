// Watchdogs: a WGSL infinite loop hangs SwiftShader silently (no device loss), so every GPU wait in tests and
// long-running tools goes through one of these.
import { GpuTimeoutError } from './errors.ts';

/** Resolves like `p`, or rejects with GpuTimeoutError after `ms` milliseconds. */
export async function withWatchdog<T>(what: string, ms: number, p: Promise<T> | (() => Promise<T>)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GpuTimeoutError(what, ms)), ms);
  });
  try {
    return await Promise.race([typeof p === 'function' ? p() : p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
