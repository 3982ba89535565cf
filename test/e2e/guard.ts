// Shared Playwright fixture for every spec: records each request and WebSocket the page (and its workers) opens and
// fails the test if one goes anywhere but the local server; keeps the page's console (attached on failure; printed
// with E2E_CONSOLE=1).
import { test as base, expect } from '@playwright/test';

export interface Guard {
  /** URLs that left 127.0.0.1 (checked after every test) */
  offHost: string[];
  /** the page's console lines and uncaught errors, in order */
  console: string[];
}

/** Whether a URL stays on this machine: the local server over http(s)/ws(s), or in-page data:/blob: URLs. */
export function isLocal(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'data:' || u.protocol === 'blob:') return true;
  return ['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol) && u.hostname === '127.0.0.1';
}

export const test = base.extend<{ guard: Guard }>({
  guard: [
    async ({ context, page }, use, testInfo) => {
      const g: Guard = { offHost: [], console: [] };
      const note = (url: string) => {
        if (!isLocal(url)) g.offHost.push(url);
      };
      // context-wide: also covers dedicated workers (ORT's wasm threads) and popups
      context.on('request', (r) => note(r.url()));
      page.on('websocket', (ws) => note(ws.url()));
      page.on('worker', (w) => note(w.url()));
      page.on('console', (m) => g.console.push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => g.console.push(`[pageerror] ${e.message}`));
      await use(g);
      if (process.env.E2E_CONSOLE) for (const l of g.console) console.log(`  page ${l}`); // E2E_CONSOLE=1: show it
      if (testInfo.status !== testInfo.expectedStatus && g.console.length) {
        await testInfo.attach('console', { body: g.console.join('\n'), contentType: 'text/plain' });
      }
      expect(g.offHost, 'requests that left 127.0.0.1').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
