// The web component as one ES module for plain pages:
//   npx vite build --config src/explorer/vite.lib.config.ts   ->  dist/bundle/influence-explorer.js (+ ORT's .wasm)
// A page then needs one tag: <script type="module" src="/influence-explorer.js"></script> (see docs/EXPLORER.md).
// Dynamic imports (onnxruntime-web, the WebGPU backend) are inlined, so the component is a single script; ORT's
// WebAssembly binaries are emitted beside it and found relative to the module's URL.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  root,
  // asset URLs relative to the module (new URL('assets/...', import.meta.url)), wherever the page serves it from
  base: './',
  publicDir: false,
  clearScreen: false,
  build: {
    target: 'es2022',
    outDir: 'dist/bundle',
    emptyOutDir: true,
    copyPublicDir: false,
    // not library mode: that inlines every asset (ORT's wasm binaries) as base64 into the script
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { 'influence-explorer': 'src/explorer/lib.ts' },
      preserveEntrySignatures: 'exports-only',
      output: { codeSplitting: false, entryFileNames: '[name].js', assetFileNames: 'assets/[name]-[hash][extname]' },
    },
  },
  worker: { format: 'es' },
});
