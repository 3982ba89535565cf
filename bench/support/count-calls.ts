// Counts calls to a kernel backend's methods (a Proxy around it): benchmarks and tests use it to show which
// operations a pipeline stage runs and how often (e.g. that fitting factorises once per layer, whatever the number
// of chunks), without timing anything.
import type { KernelBackend } from '../../src/kernels/backend.ts';

/** Backend methods that factorise a matrix (O(n^3) each). */
export const FACTORISATIONS = ['eigh', 'whitener'] as const;

export interface CallCounts {
  calls: Record<string, number>;
  /** milliseconds spent in each method (until its promise settled) */
  ms: Record<string, number>;
  /** the calls of FACTORISATIONS only */
  factorisations: Record<string, number>;
}

export function countCalls(backend: KernelBackend): { backend: KernelBackend; reset(): void; snapshot(): CallCounts } {
  const calls = new Map<string, number>();
  const ms = new Map<string, number>();
  const proxy = new Proxy(backend, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...a: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        const t0 = performance.now();
        const add = () => ms.set(prop, (ms.get(prop) ?? 0) + performance.now() - t0);
        const r = (v as (...x: unknown[]) => unknown).apply(target, a);
        if (r instanceof Promise) return r.finally(add);
        add();
        return r;
      };
    },
  });
  return {
    backend: proxy,
    reset: () => {
      calls.clear();
      ms.clear();
    },
    snapshot: () => {
      const all = Object.fromEntries([...calls].sort());
      const factorisations = Object.fromEntries([...calls].filter(([k]) => (FACTORISATIONS as readonly string[]).includes(k)).sort());
      return { calls: all, factorisations, ms: Object.fromEntries([...ms].map(([k, v]) => [k, Math.round(v)]).sort()) };
    },
  };
}
