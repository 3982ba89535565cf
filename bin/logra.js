#!/usr/bin/env node
// Node entry of the `logra` CLI: TypeScript sources run through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
