export * from './store.ts';
export * from './chunk.ts';
export { FsStore } from './fs.ts';
export { MemoryStore } from './memory.ts';
// IndexedDbStore is imported from './indexeddb.ts' directly (browser only).
