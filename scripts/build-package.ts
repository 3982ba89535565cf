// The npm package build (`npm run build`; `npm pack` runs it first through `prepack`):
//   src/**/*.ts -> dist/**/*.js + .d.ts + .js.map (tsc -p tsconfig.build.json), plus the generated protobuf code
//   (src/onnx/proto/onnx.js + onnx.d.ts, which tsc does not copy). Declarations get `.js` import specifiers (tsc
//   rewrites them in the JavaScript only). Then every relative import in dist/ is checked to resolve to a file.
// dist/bundle (the one-module component, npm run build:explorer) and dist/demo (the demo page build) are other
// builds' outputs and are left alone.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const OTHER_BUILDS = new Set(['bundle', 'demo']);

/** Every file under dir (recursively). */
export function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Relative module specifiers in a JS or .d.ts file: static imports/exports, import() and import type('...'). */
export function relativeSpecifiers(text: string): string[] {
  const out: string[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, ''); // not in comments
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.\.?\/[^'"]+)\1/gm)) out.push(m[2]);
  return out;
}

function clean(): void {
  if (!existsSync(dist)) return;
  for (const f of readdirSync(dist)) if (!OTHER_BUILDS.has(f)) rmSync(join(dist, f), { recursive: true, force: true });
}

function compile(): void {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
}

function copyGenerated(): void {
  for (const f of ['onnx.js', 'onnx.d.ts']) {
    const to = join(dist, 'onnx', 'proto', f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(root, 'src', 'onnx', 'proto', f), to);
  }
}

/** `from './x.ts'` -> `from './x.js'` in declarations (tsc keeps the source extension there). */
function rewriteDeclarations(files: string[]): void {
  for (const f of files.filter((p) => p.endsWith('.d.ts'))) {
    const text = readFileSync(f, 'utf8');
    const next = text.replace(/((?:\bfrom\s*|\bimport\s*\(\s*)(['"])\.\.?\/[^'"]+)\.ts\2/g, '$1.js$2');
    if (next !== text) writeFileSync(f, next);
  }
}

/** Every relative import of every emitted module names a file that exists (a missing copy fails the build). */
function checkImports(files: string[]): void {
  const bad: string[] = [];
  for (const f of files.filter((p) => p.endsWith('.js') || p.endsWith('.d.ts'))) {
    for (const spec of relativeSpecifiers(readFileSync(f, 'utf8'))) {
      const target = resolve(dirname(f), spec);
      const ok = f.endsWith('.d.ts') ? existsSync(target.replace(/\.js$/, '.d.ts')) || existsSync(target) : existsSync(target);
      if (!ok) bad.push(`${relative(root, f)}: ${spec}`);
    }
  }
  if (bad.length) throw new Error(`build-package: unresolved relative imports in dist/:\n  ${bad.join('\n  ')}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t0 = performance.now();
  clean();
  compile();
  copyGenerated();
  const files = walk(dist).filter((f) => !OTHER_BUILDS.has(relative(dist, f).split('/')[0]));
  rewriteDeclarations(files);
  checkImports(files);
  console.log(`build-package: ${files.length} files in dist/ (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
