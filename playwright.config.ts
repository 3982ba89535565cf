// Browser tests: Debian's Chromium (no browser downloads here) against the Vite dev server on 127.0.0.1.
// WebGPU runs on Chromium's SwiftShader fallback adapter (headless, --enable-unsafe-webgpu).
import { defineConfig } from '@playwright/test';

const PORT = Number(process.env.VITE_PORT ?? 5199); // vite.config.ts reads the same variable
const baseURL = `http://127.0.0.1:${PORT}`;

export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '**/*.spec.ts',
  // per-test watchdog (a WGSL infinite loop hangs SwiftShader silently) and one for the whole run; they are safety
  // nets sized for a loaded 2-core machine (tests wait on states, never on elapsed time)
  timeout: 240_000,
  globalTimeout: 45 * 60_000,
  expect: { timeout: 10_000 },
  // 2 cores: the tests are CPU-bound (ORT wasm threads, SwiftShader), parallel workers only fight over them
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: process.env.CI ? [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]] : 'list',
  outputDir: 'test-results',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    // no trace/video/screenshot by default: they cost time and the failures carry the error reports
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--enable-unsafe-webgpu',
        // WebGPU on SwiftShader: the only adapter on a GPU-less machine, pinned so that a host GPU doesn't change the
        // results; E2E_WEBGPU_ADAPTER=default lets Chromium pick (a real GPU where there is one)
        ...(process.env.E2E_WEBGPU_ADAPTER === 'default' ? [] : [`--use-webgpu-adapter=${process.env.E2E_WEBGPU_ADAPTER ?? 'swiftshader'}`]),
        '--no-sandbox',
        // the network is closed: nothing should try to reach out
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        '--disable-default-apps',
        '--disable-domain-reliability',
        '--metrics-recording-only',
        '--no-default-browser-check',
      ],
    },
  },
  webServer: {
    command: `npx vite --config vite.config.ts --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `${baseURL}/test/e2e/harness.html`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { VITE_PORT: String(PORT) },
  },
});
