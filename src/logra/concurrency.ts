// Two small concurrency pieces shared by the index's readers: a bounded loop, and a map of reads in flight so that
// callers asking for the same thing at the same time (warm() and a query) share one read.

/** Runs fn over items with at most `width` in flight. */
export async function forEachLimited<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/**
 * Reads in flight by key: a caller asking for a key whose read is running gets that read's promise; a settled read
 * is forgotten (keeping what it read is the caller's business), so a failed one is tried again by the next caller.
 */
export class SharedReads<K, V> {
  private readonly inflight = new Map<K, Promise<V>>();
  run(key: K, read: () => Promise<V>): Promise<V> {
    let p = this.inflight.get(key);
    if (!p) {
      p = read().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }
}
