// Vite serves the repository root: the explorer app (src/explorer; '/' redirects to it), the browser test harness
// (/test/e2e/harness.html) and its fixtures (/test/fixtures/...) in dev; `vite build` emits the explorer.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Dev server port; playwright.config.ts starts Vite on the same one (both read VITE_PORT, default 5199). */
const PORT = Number(process.env.VITE_PORT ?? 5199);
const HOST = '127.0.0.1';

/**
 * HTML entry pages. Dev serves every .html file under the root by its path anyway; this list is what `vite build`
 * emits and what dependency pre-bundling scans at startup (scanning them up front avoids a mid-test
 * "new dependencies optimized, reloading").
 */
const pages: Record<string, string> = {
  // the explorer app (the demo page; the component's plain-page example is public/embed-example.html)
  explorer: 'src/explorer/index.html',
};
const testPages = ['test/e2e/harness.html', 'test/e2e/kernels/index.html', 'test/e2e/bench/index.html'];
// module entries that plain pages load by one script tag (public/embed-example.html): scanned for dependencies too
const moduleEntries = ['src/explorer/embed.ts'];
const builtPages = Object.fromEntries(Object.entries(pages).filter(([, p]) => existsSync(`${root}/${p}`)));

// Cross-origin isolation: ORT's wasm threads need SharedArrayBuffer, which needs COOP + COEP on the page (and on
// the module/worker scripts, so these go on every response).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** '/' opens the explorer (its page lives at src/explorer/index.html in dev), its query (?backend=..., ?db=...) kept. */
const explorerAtRoot: Plugin = {
  name: 'explorer-at-root',
  configureServer(server) {
    server.middlewares.use((req, res, next) => {
      const [path, query] = (req.url ?? '').split(/\?(.*)/s, 2);
      if (path !== '/' && path !== '/index.html') return next();
      res.statusCode = 302;
      res.setHeader('Location', `/src/explorer/index.html${query ? `?${query}` : ''}`);
      res.end();
    });
  },
};

export default defineConfig({
  root,
  plugins: [explorerAtRoot],
  // '/': the explorer is served from the site root; relative asset URLs are not needed
  base: '/',
  publicDir: 'public',
  clearScreen: false,
  server: {
    host: HOST,
    port: PORT,
    strictPort: true,
    headers: isolation,
    // the network is closed and nothing should leave the machine: no browser auto-open, no HMR overlay surprises
    open: false,
  },
  preview: {
    host: HOST,
    port: PORT,
    strictPort: true,
    headers: isolation,
  },
  optimizeDeps: {
    // onnxruntime-web locates its .wasm / .mjs glue relative to import.meta.url of its own bundle; pre-bundling
    // moves the module to /node_modules/.vite/deps/ and breaks that (and its worker script URL)
    exclude: ['onnxruntime-web'],
    // CommonJS dependencies reached from src/: pre-bundle them at startup, not on first import
    include: ['protobufjs/minimal.js', 'long'],
    entries: [...testPages, ...moduleEntries, ...Object.values(builtPages)],
  },
  build: {
    target: 'es2022',
    // dist/ itself is the npm package build (npm run build); the demo page goes beside it
    outDir: 'dist/demo',
    emptyOutDir: true,
    rollupOptions: Object.keys(builtPages).length ? { input: builtPages } : undefined,
  },
  worker: { format: 'es' },
});
