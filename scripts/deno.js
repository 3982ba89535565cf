#!/usr/bin/env node
// Runs the Deno binary that the npm package `deno` installed, with the given arguments.
// Why not node_modules/.bin/deno: npm 11 skips install scripts, so the `deno` package's postinstall never links it;
// the binary lives in the platform package (@deno/linux-x64-glibc and friends).
// Deno's WebGPU (wgpu + Mesa) wants XDG_RUNTIME_DIR to be a private directory: a fresh 0700 one is made per run.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const exe = process.platform === 'win32' ? 'deno.exe' : 'deno';
const platform = process.platform === 'linux' ? `linux-${process.arch}-glibc` : `${process.platform}-${process.arch}`;
const candidates = [join(root, 'node_modules', '@deno', platform, exe), join(root, 'node_modules', 'deno', exe)];
const bin = candidates.find((p) => existsSync(p));
if (!bin) {
  console.error(`scripts/deno.js: no Deno binary at ${candidates.join(' or ')}; run npm ci (the devDependency "deno" ships it)`);
  process.exit(127);
}

const xdg = mkdtempSync(join(tmpdir(), 'deno-xdg-')); // mkdtemp creates it with mode 0700
const env = { ...process.env, XDG_RUNTIME_DIR: xdg, DENO_NO_UPDATE_CHECK: '1' };
const child = spawn(bin, process.argv.slice(2), { stdio: 'inherit', env });
const forward = (sig) => child.kill(sig);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, forward);
child.on('exit', (code, signal) => {
  rmSync(xdg, { recursive: true, force: true });
  process.exit(code ?? (signal ? 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGKILL: 9 }[signal] ?? 1) : 1));
});
child.on('error', (e) => {
  rmSync(xdg, { recursive: true, force: true });
  console.error(`scripts/deno.js: could not start ${bin}: ${e.message}`);
  process.exit(127);
});
