// The package's clean-room test (npm run test:package; part of npm test, so of CI). What a user gets from
// `npm install logra-web` is checked in a fresh project outside the repository, which never sees src/:
//   1. npm run build + npm pack: the tarball holds dist/, bin/, README, LICENSE, NOTICE, CHANGELOG and nothing else;
//   2. npm ci --offline of the tarball (+ vite) into /tmp/...: third-party packages come from the npm cache that the
//      repository's own `npm ci` filled (the project's lockfile is cut from package-lock.json: same versions, same
//      integrity hashes, no network), see test/package/README.md;
//   3. every bare import in the installed package is a declared dependency (or node:), every dependency is used;
//   4. the README's quick starts run as written: Node (log, fit, query a fixture), the `logra` CLI block (through
//      the installed bin; no warnings on stderr), Deno (npm:logra-web, and npm:logra-web/cli log), TypeScript
//      (strict tsc over every export, skipLibCheck off);
//   5. a Vite app imports `logra-web/explorer` and the README's browser quick start, `vite build`s, and Chromium
//      (Playwright) renders <influence-explorer>, attributes a prompt, and runs the quick start on IndexedDB; the
//      README's attribute table equals the element's observedAttributes and its events fire;
//   6. `deno publish --dry-run`: the JSR package (deno.json) type-checks;
//   7. TypeDoc builds the API reference from the doc comments without warnings.
// Environment: PACKAGE_TEST_PORT (default 5198) for `vite preview`; KEEP=1 keeps the temporary folder.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import playwrightConfig from '../../playwright.config.ts';
import { walk } from '../../scripts/build-package.ts';
import { readmeBlock, readmeTableNames, readmeText } from './readme.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PORT = Number(process.env.PACKAGE_TEST_PORT ?? 5198);
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as PackageJson;
const README = readmeText(join(repo, 'README.md'));
const FIXTURE = join(repo, 'test/fixtures/gpt2_linear_erf_op17_mask_pos_tied');

interface PackageJson {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  license?: string;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optional?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  [k: string]: unknown;
}

const t0 = performance.now();
const stamp = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
function step(name: string): void {
  console.log(`[clean-room ${stamp()}] ${name}`);
}

class CleanRoomError extends Error {
  override name = 'CleanRoomError';
}

function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new CleanRoomError(message);
}

/** Runs a command; fails with its output when it exits non-zero. */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 180_000, input: opts.input, maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) {
    throw new CleanRoomError(`${cmd} ${args.join(' ')} (in ${opts.cwd}) exited ${r.status ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}${r.error ? `\n${r.error.message}` : ''}`);
  }
  return r;
}

const tmp = mkdtempSync(join(tmpdir(), 'logra-clean-room-'));
const app = join(tmp, 'app');
const children: { kill(signal?: NodeJS.Signals): boolean }[] = [];

// ---------------------------------------------------------------------------------------------------------------
// 1. build and pack
function buildAndPack(): { tarball: string; files: string[] } {
  step('npm run build');
  run('npm', ['run', '--silent', 'build'], { cwd: repo });
  step('npm pack');
  const r = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: repo });
  const [info] = JSON.parse(r.stdout) as { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }[];
  const files = info.files.map((f) => f.path).sort();
  console.log(`  ${info.filename}: ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${info.entryCount} files`);
  const allowed = /^(dist\/.+\.(js|d\.ts|js\.map)|bin\/logra\.js|package\.json|README\.md|LICENSE|NOTICE|CHANGELOG\.md)$/;
  const stray = files.filter((f) => !allowed.test(f) || /^dist\/(bundle|demo)\//.test(f) || /^dist\/explorer\/(main|lib)\./.test(f));
  check(stray.length === 0, `the tarball holds files a user does not need:\n  ${stray.join('\n  ')}`);
  const needed = ['package.json', 'README.md', 'LICENSE', 'NOTICE', 'CHANGELOG.md', 'bin/logra.js', 'dist/onnx/proto/onnx.js', 'dist/onnx/proto/onnx.d.ts'];
  for (const target of Object.values(exportTargets())) needed.push(target.replace(/^\.\//, ''), target.replace(/^\.\//, '').replace(/\.js$/, '.d.ts'));
  const missing = needed.filter((f) => !files.includes(f));
  check(missing.length === 0, `the tarball lacks ${missing.join(', ')}`);
  return { tarball: join(tmp, info.filename), files };
}

/** package.json exports: subpath -> the JavaScript file */
function exportTargets(): Record<string, string> {
  const ex = (pkg as unknown as { exports: Record<string, string | { default: string }> }).exports;
  return Object.fromEntries(Object.entries(ex).filter(([k]) => k !== './package.json').map(([k, v]) => [k, typeof v === 'string' ? v : v.default]));
}

// ---------------------------------------------------------------------------------------------------------------
// 2. a fresh project, installed offline from the npm cache
/** node_modules path of `name` as seen from the package at `from` (Node's lookup over the lockfile's tree) */
function lookup(lock: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const cand = `${base}/node_modules/${name}`;
    if (lock[cand]) return cand;
    const i = base.lastIndexOf('/node_modules/');
    if (i < 0) return lock[`node_modules/${name}`] ? `node_modules/${name}` : undefined;
    base = base.slice(0, i);
  }
}

/** The repository lockfile's entries that `roots` need (dependencies, optional and required peer dependencies). */
function lockClosure(lock: Record<string, LockEntry>, roots: string[]): Record<string, LockEntry> {
  const out: Record<string, LockEntry> = {};
  const visit = (path: string) => {
    if (out[path]) return;
    const { dev: _d, devOptional: _o, peer: _p, ...e } = lock[path];
    out[path] = e;
    const optionalPeers = new Set(Object.entries(e.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
    const deps = [...Object.keys(e.dependencies ?? {}), ...Object.keys(e.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n))];
    for (const d of deps) {
      const q = lookup(lock, path, d);
      check(q, `package-lock.json: ${path} needs ${d}, which the lockfile does not hold`);
      visit(q);
    }
    for (const d of Object.keys(e.optionalDependencies ?? {})) {
      const q = lookup(lock, path, d);
      if (q) visit(q);
    }
  };
  for (const r of roots) visit(r);
  return out;
}

function installApp(tarball: string): void {
  step('npm ci --offline into a fresh project');
  mkdirSync(app, { recursive: true });
  const spec = `file:../${relative(tmp, tarball)}`;
  const vite = pkg.devDependencies.vite;
  const appPkg = { name: 'clean-room-app', version: '1.0.0', private: true, type: 'module', dependencies: { [pkg.name]: spec }, devDependencies: { vite } };
  const repoLock = (JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const self: LockEntry = {
    version: pkg.version,
    resolved: spec,
    license: pkg.license,
    dependencies: pkg.dependencies,
    peerDependencies: pkg.peerDependencies,
    peerDependenciesMeta: pkg.peerDependenciesMeta,
    bin: pkg.bin,
    engines: pkg.engines,
  };
  const lock: Record<string, LockEntry> = { ...repoLock, [`node_modules/${pkg.name}`]: self };
  const packages = { '': appPkg, ...lockClosure(lock, [`node_modules/${pkg.name}`, 'node_modules/vite']) };
  writeFileSync(join(app, 'package.json'), JSON.stringify(appPkg, null, 2));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: appPkg.name, version: appPkg.version, lockfileVersion: 3, requires: true, packages }, null, 2));
  const args = ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];
  try {
    run('npm', [...args, '--offline'], { cwd: app });
  } catch (e) {
    // a cache that npm ci did not fill (node_modules copied in by other means): fetch what is missing
    if (!/ENOTCACHED/.test((e as Error).message)) throw e;
    console.log('  the npm cache lacks some packages: installing with --prefer-offline (network)');
    run('npm', [...args, '--prefer-offline'], { cwd: app });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. dependencies declared exactly
function checkDependencies(): void {
  step('bare imports of the installed package vs its declared dependencies');
  const root = join(app, 'node_modules', pkg.name);
  const installed = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  check(JSON.stringify(installed.dependencies) === JSON.stringify(pkg.dependencies), 'the installed package.json differs from the repository one');
  const declared = new Set([...Object.keys(installed.dependencies), ...Object.keys(installed.peerDependencies ?? {})]);
  const builtins = new Set(builtinModules);
  // bin/logra.js loads tsx only in a repository checkout (when src/ exists beside it; src/ is never packed)
  const repoOnly = new Set(['bin/logra.js:tsx']);
  const used = new Set<string>();
  const undeclared: string[] = [];
  for (const f of walk(root).filter((p) => /\.(js|d\.ts)$/.test(p) && !relative(root, p).includes('node_modules/'))) {
    const rel = relative(root, f);
    const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/(?!\/ <reference).*$/gm, '');
    const specs = [
      ...[...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+|\brequire\s*\(\s*)(['"])([^'"./][^'"]*)\1/gm)].map((m) => m[2]),
      ...[...code.matchAll(/\/\/\/\s*<reference\s+types=(['"])([^'"]+)\1/g)].map((m) => m[2]),
    ];
    for (const s of specs) {
      if (s.startsWith('node:') || builtins.has(s)) continue;
      const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
      if (repoOnly.has(`${rel}:${name}`)) continue;
      used.add(name);
      if (!declared.has(name)) undeclared.push(`${rel}: ${s}`);
    }
  }
  check(undeclared.length === 0, `imports of undeclared packages:\n  ${undeclared.join('\n  ')}`);
  // `webgpu` is imported through a computed specifier (bundlers must not resolve it): an optional peer
  const unused = Object.keys(installed.dependencies).filter((d) => !used.has(d));
  check(unused.length === 0, `declared dependencies that nothing imports: ${unused.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Node, CLI, Deno and TypeScript quick starts
function fixtureDir(name: string): string {
  const d = join(app, name);
  mkdirSync(d, { recursive: true });
  cpSync(join(FIXTURE, 'model.onnx'), join(d, 'model.onnx'));
  cpSync(join(FIXTURE, 'data.jsonl'), join(d, 'train.jsonl'));
  return d;
}

function checkTopOutput(out: string, where: string): void {
  check(/\bid: ['"][^'"]+['"]/.test(out), `${where} printed no top-k items:\n${out}`);
}

function nodeQuickStart(): void {
  step('README Node quick start');
  const dir = fixtureDir('node');
  writeFileSync(join(dir, 'quickstart.mjs'), readmeBlock(README, 'node'));
  const r = run(process.execPath, ['quickstart.mjs'], { cwd: dir, timeoutMs: 120_000 });
  checkTopOutput(r.stdout, 'the Node quick start');
  check(r.stderr.trim() === '', `the Node quick start wrote to stderr:\n${r.stderr}`);
}

function cliBlock(): void {
  step('README command line block (the installed `logra` bin)');
  const dir = fixtureDir('cli');
  const env = { ...process.env, PATH: `${join(app, 'node_modules', '.bin')}:${process.env.PATH}`, npm_config_offline: 'true', npm_config_update_notifier: 'false' };
  const help = run('npx', ['logra', '--help'], { cwd: dir, env });
  check(help.stdout.includes('usage: logra <command>'), `logra --help:\n${help.stdout}`);
  const r = run('bash', ['-euo', 'pipefail', '-s'], { cwd: dir, env, input: readmeBlock(README, 'cli'), timeoutMs: 240_000 });
  const scores = JSON.parse(readFileSync(join(dir, 'scores.json'), 'utf8')) as { top: { id: string; tokens?: number[] }[][] };
  check(scores.top.length > 0 && scores.top[0].length === 5 && Array.isArray(scores.top[0][0].tokens), 'scores.json lacks 5 top items with per-token scores');
  check(existsSync(join(dir, 'self.json')) && existsSync(join(dir, 'p.safetensors')), 'self.json or p.safetensors missing');
  // progress bars are off for pipes (quiet lines per 10%); warnings or errors are not
  const noisy = r.stderr.split('\n').filter((l) => /warn|error|dawn|vulkan/i.test(l));
  check(noisy.length === 0, `the CLI printed warnings:\n${noisy.join('\n')}`);
}

function denoEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
}

function denoQuickStart(): void {
  step('README Deno quick start (npm:logra-web from node_modules)');
  const dir = fixtureDir('deno');
  writeFileSync(join(dir, 'quickstart.ts'), readmeBlock(README, 'deno'));
  const deno = join(repo, 'scripts', 'deno.js');
  // Deno finds app/package.json + node_modules (nodeModulesDir "manual") from the working directory up
  const r = run(process.execPath, [deno, 'run', '-A', 'quickstart.ts'], { cwd: dir, env: denoEnv(), timeoutMs: 180_000 });
  checkTopOutput(r.stdout, 'the Deno quick start');
  const help = run(process.execPath, [deno, 'run', '-A', `npm:${pkg.name}/cli`, '--help'], { cwd: dir, env: denoEnv() });
  check(help.stdout.includes('usage: logra <command>'), `deno run npm:${pkg.name}/cli --help:\n${help.stdout}${help.stderr}`);
  const log = run(process.execPath, [deno, 'run', '-A', `npm:${pkg.name}/cli`, 'log', '--model', 'model.onnx', '--data', 'train.jsonl', '--index', 'ix-cli', '--k-in', '4', '--k-out', '4', '--quiet'], { cwd: dir, env: denoEnv(), timeoutMs: 120_000 });
  check((JSON.parse(log.stdout) as { examples: number }).examples === 5, `deno run npm:${pkg.name}/cli log:\n${log.stdout}${log.stderr}`);
}

function typeCheck(): void {
  step('TypeScript: every export, strict, skipLibCheck off');
  const dir = join(app, 'types');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: [], strict: true, noEmit: true, skipLibCheck: false }, include: ['*.ts'] }, null, 2));
  writeFileSync(
    join(dir, 'check.ts'),
    `import { createEngine, MemoryStore, HttpStore, configureOnnxRuntime, parseJsonl, ByteBPETokenizer, type LogStore, type QueryResult, type TopItem, type Example } from '${pkg.name}';
import { FsStore } from '${pkg.name}/store/fs';
import { IndexedDbStore } from '${pkg.name}/store/indexeddb';
import { InfluenceExplorer, type ExplorerResult } from '${pkg.name}/explorer';
import { main } from '${pkg.name}/cli';

export async function use(bytes: Uint8Array, text: string): Promise<TopItem | undefined> {
  configureOnnxRuntime({ wasmPaths: '/ort/', numThreads: 1 });
  const stores: LogStore[] = [new MemoryStore(), new HttpStore('/index/'), new FsStore('ix'), new IndexedDbStore('ix')];
  const engine = await createEngine({ backend: 'cpu', ep: 'wasm' });
  const model = await engine.loadModel(bytes, { task: 'causal-lm', layers: /mlp/ });
  const train: Example[] = parseJsonl(text);
  const index = await engine.log(model, train, { store: stores[0], kIn: 8, kOut: 8, hessian: 'ekfac', onProgress: (e) => e.done / e.total });
  await index.fit({ damping: 0.1 });
  const r: QueryResult = await index.query(train, { topK: 3, mode: 'cosine', perToken: true });
  const code: number = await main(['--help']);
  const el: InfluenceExplorer = document.createElement('influence-explorer');
  el.addEventListener('result', (e) => (e as CustomEvent<ExplorerResult>).detail.items.length);
  void ByteBPETokenizer;
  engine.dispose();
  return code === 0 ? r.top[0][0] : undefined;
}
`,
  );
  run(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dir, timeoutMs: 120_000 });
}

// ---------------------------------------------------------------------------------------------------------------
// 5. a Vite app in Chromium
function writeViteApp(): string[] {
  const web = join(app, 'web');
  const pub = join(web, 'public');
  mkdirSync(join(pub, 'model'), { recursive: true });
  mkdirSync(join(pub, 'tokenizer'), { recursive: true });
  mkdirSync(join(pub, 'corpus'), { recursive: true });
  cpSync(join(repo, 'public/model/model.onnx'), join(pub, 'model/model.onnx'));
  cpSync(join(repo, 'public/tokenizer/kjv-bpe.json'), join(pub, 'tokenizer/kjv-bpe.json'));
  const corpus = readFileSync(join(repo, 'public/corpus/kjv.jsonl'), 'utf8').split('\n').slice(0, 64).join('\n') + '\n';
  writeFileSync(join(pub, 'corpus/kjv.jsonl'), corpus);
  cpSync(join(FIXTURE, 'model.onnx'), join(pub, 'model.onnx'));
  cpSync(join(FIXTURE, 'data.jsonl'), join(pub, 'train.jsonl'));
  const page = (title: string, body: string) => `<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title></head>\n<body>\n${body}\n</body>\n</html>\n`;
  // the README's component block, with a small index (the first 16 texts) on the CPU backend, and a prompt
  const component = readmeBlock(README, 'component').replace('<influence-explorer ', '<influence-explorer subset="16" backend="cpu" prompt="And God said, Let there be light" ');
  check(component.includes('subset="16"'), 'the README component block has no <influence-explorer ...> tag');
  writeFileSync(join(web, 'component.html'), page('component', component));
  writeFileSync(join(web, 'engine.html'), page('engine', '<script type="module" src="./engine.js"></script>'));
  writeFileSync(join(web, 'engine.js'), readmeBlock(README, 'browser'));
  writeFileSync(
    join(web, 'vite.config.js'),
    `import { defineConfig } from 'vite';
export default defineConfig({
  build: { target: 'es2022', rollupOptions: { input: { component: 'component.html', engine: 'engine.html' } } },
  worker: { format: 'es' },
});
`,
  );
  return [web];
}

async function viteApp(): Promise<void> {
  step('Vite app: vite build');
  const [web] = writeViteApp();
  const viteBin = join(app, 'node_modules', 'vite', 'bin', 'vite.js');
  run(process.execPath, [viteBin, 'build', '--logLevel', 'warn'], { cwd: web, timeoutMs: 240_000 });
  step(`Vite app: vite preview on 127.0.0.1:${PORT}, Chromium`);
  const server = spawn(process.execPath, [viteBin, 'preview', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'], { cwd: web, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(server);
  let serverLog = '';
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  const base = `http://127.0.0.1:${PORT}`;
  await waitForServer(`${base}/component.html`, () => serverLog);
  const launch = playwrightConfig.use?.launchOptions ?? {};
  const browser = await chromium.launch({ ...launch, headless: true });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    await componentPage(page, base, problems);
    await enginePage(await context.newPage(), base);
  } finally {
    await browser.close();
    server.kill('SIGTERM');
  }
}

async function waitForServer(url: string, log: () => string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new CleanRoomError(`vite preview did not serve ${url}:\n${log()}`);
}

async function componentPage(page: Page, base: string, problems: string[]): Promise<void> {
  const events = readmeTableNames(README, 'events');
  await page.addInitScript((names: string[]) => {
    const seen: Record<string, number> = {};
    (globalThis as unknown as { __seen: Record<string, number> }).__seen = seen;
    for (const n of names) document.addEventListener(n, () => (seen[n] = (seen[n] ?? 0) + 1), true);
  }, events);
  await page.goto(`${base}/component.html`);
  const el = page.locator('influence-explorer');
  await el.waitFor({ state: 'attached' });
  await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('influence-explorer')?.getAttribute('data-state') ?? ''), undefined, { timeout: 150_000 });
  const state = await el.getAttribute('data-state');
  check(state === 'ready', `<influence-explorer> ended in state ${state}: ${await el.evaluate((e) => e.shadowRoot?.querySelector('.banner.error')?.textContent ?? '')}\n${problems.join('\n')}`);
  const result = page.evaluate(() => new Promise<number>((res) => document.querySelector('influence-explorer')!.addEventListener('result', (e) => res((e as CustomEvent<{ items: unknown[] }>).detail.items.length), { once: true })));
  await el.locator('button.attribute').click();
  const n = await result;
  const topK = Number(/top-k="(\d+)"/.exec(readmeBlock(README, 'component'))?.[1]);
  check(n === topK, `attribution returned ${n} items, the README's top-k is ${topK}`);
  check((await el.locator('li.result').count()) === topK, 'the result list is not rendered');
  const observed = await page.evaluate(() => [...((customElements.get('influence-explorer') as unknown as { observedAttributes: string[] }).observedAttributes)]);
  const documented = readmeTableNames(README, 'attributes');
  check(JSON.stringify([...observed].sort()) === JSON.stringify([...documented].sort()), `README attribute table ${JSON.stringify(documented.sort())} != observedAttributes ${JSON.stringify(observed.sort())}`);
  const seen = await page.evaluate(() => (globalThis as unknown as { __seen: Record<string, number> }).__seen);
  const silent = events.filter((e) => e !== 'error' && !seen[e]);
  check(silent.length === 0, `documented events that never fired: ${silent.join(', ')} (seen ${JSON.stringify(seen)})`);
  check(!seen.error, `the component fired error events: ${problems.join('\n')}`);
  check(problems.length === 0, problems.join('\n'));
}

async function enginePage(page: Page, base: string): Promise<void> {
  const logged = new Promise<unknown>((res, rej) => {
    page.on('console', (m) => {
      if (m.type() === 'log') void m.args()[0]?.jsonValue().then(res, rej);
      else if (m.type() === 'error') rej(new CleanRoomError(`the browser quick start logged an error: ${m.text()}`));
    });
    page.on('pageerror', (e) => rej(new CleanRoomError(`the browser quick start threw: ${e.message}`)));
  });
  await page.goto(`${base}/engine.html`);
  const top = (await Promise.race([logged, new Promise((_, rej) => setTimeout(() => rej(new CleanRoomError('the browser quick start printed nothing in 120 s')), 120_000))])) as { id: string; score: number }[];
  check(Array.isArray(top) && top.length === 3 && typeof top[0].id === 'string' && Number.isFinite(top[0].score), `the browser quick start printed ${JSON.stringify(top)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// 6. the JSR package
function jsrDryRun(): void {
  step('deno publish --dry-run (deno.json, the JSR package)');
  const deno = JSON.parse(readFileSync(join(repo, 'deno.json'), 'utf8')) as { version: string; exports: Record<string, string> };
  check(deno.version === pkg.version, `deno.json version ${deno.version} != package.json ${pkg.version}`);
  check(JSON.stringify(Object.keys(deno.exports).sort()) === JSON.stringify(Object.keys(exportTargets()).sort()), 'deno.json and package.json export different subpaths');
  run(process.execPath, [join(repo, 'scripts', 'deno.js'), 'publish', '--dry-run', '--allow-dirty', '--allow-slow-types', '--quiet'], { cwd: repo, env: denoEnv() });
}

// 7. the API reference
function apiDocs(): void {
  step('TypeDoc: the API reference builds from the doc comments without warnings');
  run(process.execPath, [join(repo, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none', '--treatWarningsAsErrors', '--logLevel', 'Warn'], { cwd: repo });
}

// ---------------------------------------------------------------------------------------------------------------
const watchdog = setTimeout(() => {
  console.error(`[clean-room] watchdog: not done after 12 minutes`);
  for (const c of children) c.kill('SIGKILL');
  process.exit(124);
}, 12 * 60_000);
watchdog.unref();

try {
  const { tarball } = buildAndPack();
  installApp(tarball);
  checkDependencies();
  nodeQuickStart();
  cliBlock();
  denoQuickStart();
  typeCheck();
  await viteApp();
  jsrDryRun();
  apiDocs();
  step('passed');
} catch (e) {
  console.error(`[clean-room ${stamp()}] FAILED: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  for (const c of children) c.kill('SIGTERM');
  if (process.env.KEEP === '1') console.log(`  kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
