#!/usr/bin/env node
// Node entry of the `logra` CLI.
// Installed package: the compiled JavaScript in dist/ (no TypeScript toolchain at run time).
// In the repository (src/ beside bin/): the TypeScript sources through tsx's ESM loader (a devDependency), so edits
// take effect without a build.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(sources.href);
} else {
  cli = await import('../dist/cli/main.js');
}
await cli.runCli();
