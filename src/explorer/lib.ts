// Entry of the one-module build (vite.lib.config.ts -> dist/bundle/influence-explorer.js): the web component
// with onnxruntime-web's wasm single-threaded (its thread workers would load this whole bundle; see shared.ts).
// From source (the dev server, or a bundler of your own) import embed.ts instead, which keeps the threads.
import { useOneWasmThread } from './shared.ts';

useOneWasmThread();

export * from './embed.ts';
