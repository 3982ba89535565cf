// How long `logra --help` (and `logra log --help`) take to start, in wall-clock seconds (median and min of N runs):
//   installed  bin/logra.js of an installed package: the compiled dist/ (a package layout in /tmp: bin/, dist/ and
//              node_modules linked to this repository's; no src/, so the bin takes dist/)
//   repo/tsx   bin/logra.js in this repository: the TypeScript sources through tsx, with tsx's compile cache warm,
//              and cold (a fresh TMPDIR, so tsx recompiles everything)
//   npx        `npx logra --help` in this repository (npm's own start-up on top of repo/tsx)
// `logra --help` loads only src/cli/main.ts and args.ts (command modules are imported on demand); `log --help`
// also loads the log command's module graph (engine, autograd, stores; onnxruntime-web itself stays lazy).
//   npm run bench:cli [-- --runs 7]        (builds dist/ first when it is missing)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;

if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });

// an installed-package layout: bin/logra.js + dist/ (+ node_modules for its dependencies), no src/
const pkg = mkdtempSync(join(tmpdir(), 'logra-bench-cli-'));
mkdirSync(join(pkg, 'bin'));
copyFileSync(join(root, 'bin', 'logra.js'), join(pkg, 'bin', 'logra.js'));
copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
symlinkSync(join(root, 'dist'), join(pkg, 'dist'));
symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));

function time(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, fresh?: () => NodeJS.ProcessEnv): number[] {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const e = fresh ? fresh() : env;
    const t = performance.now();
    const r = spawnSync(cmd, args, { cwd: root, env: e, encoding: 'utf8' });
    const s = (performance.now() - t) / 1000;
    if (r.status !== 0 || !r.stdout.startsWith('usage: logra') && !r.stdout.startsWith('logra ')) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    out.push(s);
    if (e.TMPDIR && e.TMPDIR !== process.env.TMPDIR) rmSync(e.TMPDIR, { recursive: true, force: true });
  }
  return out;
}

function row(name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `| ${name} | ${s[Math.floor(s.length / 2)].toFixed(3)} | ${s[0].toFixed(3)} |`;
}

const coldTsx = () => ({ ...process.env, TMPDIR: mkdtempSync(join(tmpdir(), 'logra-bench-tsx-')) });
const installedBin = join(pkg, 'bin', 'logra.js');
const repoBin = join(root, 'bin', 'logra.js');
const rows = [
  row('installed (dist/) `logra --help`', time(process.execPath, [installedBin, '--help'])),
  row('installed (dist/) `logra log --help`', time(process.execPath, [installedBin, 'log', '--help'])),
  row('repo/tsx, warm cache `logra --help`', time(process.execPath, [repoBin, '--help'])),
  row('repo/tsx, cold cache `logra --help`', time(process.execPath, [repoBin, '--help'], process.env, coldTsx)),
  row('repo/tsx, cold cache `logra log --help`', time(process.execPath, [repoBin, 'log', '--help'], process.env, coldTsx)),
  row('repo `npx logra --help`', time('npx', ['logra', '--help'])),
];
rmSync(pkg, { recursive: true, force: true });
console.log(`logra start-up, wall-clock seconds over ${RUNS} runs (Node ${process.version})\n`);
console.log('| command | median s | min s |\n|---|---|---|');
for (const r of rows) console.log(r);
