export * from './store.ts';
export * from './chunk.ts';
export { ManifestChecksumError, BlobChecksumError, checkBlob, readVerified, sealManifest, openManifest } from './integrity.ts';
export { FsStore, ForeignFilesError } from './fs.ts';
export { MemoryStore } from './memory.ts';
// IndexedDbStore is imported from './indexeddb.ts' directly (browser only).
