// The package's manifests agree with each other and with the sources: package.json exports (dist/), deno.json
// exports (src/, the JSR package), TypeDoc's entry points, the CHANGELOG's current version; and
// configureOnnxRuntime validates and reaches every loaded onnxruntime-web module. (The packed package itself is
// checked by test/package/clean-room.ts.)
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { configureOnnxRuntime, onnxRuntimeConfig, OnnxRuntimeConfigError } from '../src/runtime/ort-config.ts';
import { loadOrt } from '../src/runtime/ort.ts';

const root = new URL('..', import.meta.url);
const json = (p: string) => JSON.parse(readFileSync(new URL(p, root), 'utf8'));
const pkg = json('package.json') as { version: string; exports: Record<string, string | { types: string; default: string }>; files: string[]; bin: Record<string, string> };
const deno = json('deno.json') as { version: string; exports: Record<string, string>; imports: Record<string, string> };
const typedoc = json('typedoc.json') as { entryPoints: string[] };

const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');

describe('package manifests', () => {
  it('package.json and deno.json export the same subpaths, each dist/ file compiled from the deno.json source', () => {
    expect(Object.keys(deno.exports).sort()).toEqual([...subpaths].sort());
    for (const k of subpaths) {
      const src = deno.exports[k];
      expect(existsSync(new URL(src, root)), src).toBe(true);
      const target = pkg.exports[k] as { types: string; default: string };
      expect(target.default).toBe(src.replace('./src/', './dist/').replace(/\.ts$/, '.js'));
      expect(target.types).toBe(target.default.replace(/\.js$/, '.d.ts'));
    }
  });

  it('TypeDoc documents exactly the exported entry points', () => {
    expect(typedoc.entryPoints.map((p) => `./${p}`).sort()).toEqual(Object.values(deno.exports).sort());
  });

  it('versions agree and the CHANGELOG has an entry for this one', () => {
    expect(deno.version).toBe(pkg.version);
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    expect(readFileSync(new URL('CHANGELOG.md', root), 'utf8')).toContain(`## [${pkg.version}]`);
  });

  it('deno.json maps every bare import of src/ to the npm version package.json pins', () => {
    const deps = json('package.json').dependencies as Record<string, string>;
    for (const [spec, target] of Object.entries(deno.imports)) {
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      expect(target.startsWith(`npm:${name}@${deps[name]}`), `${spec} -> ${target}`).toBe(true);
    }
  });
});

/** src/ modules whose top level does more than declare: calls, assignments, `if`, `await` at column 0 */
function modulesWithSideEffects(): string[] {
  const out: string[] = [];
  const visit = (dir: URL) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) visit(new URL(`${e.name}/`, dir));
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.config.ts')) {
        const text = readFileSync(new URL(e.name, dir), 'utf8');
        const top = text.split('\n').filter((l) => /^(?!(export|import|const|let|var|function|class|interface|type|async|enum|declare)\b)([A-Za-z_$][\w$.]*\s*(\(|=[^=>])|if\s*\(|await\s)/.test(l));
        if (top.length) out.push(`./${new URL(e.name, dir).pathname.slice(root.pathname.length)}`);
      }
    }
  };
  visit(new URL('src/', root));
  return out.sort();
}

describe('sideEffects', () => {
  it('lists every module whose top level has effects (src/ for this repository\'s Vite builds, dist/ for users)', () => {
    const listed = new Set((json('package.json') as { sideEffects: string[] }).sideEffects);
    const missing: string[] = [];
    for (const src of modulesWithSideEffects()) {
      if (!listed.has(src)) missing.push(src);
      const built = src.replace('./src/', './dist/').replace(/\.ts$/, '.js');
      if (existsSync(new URL(built.replace('./dist/', 'dist/'), root)) && !listed.has(built)) missing.push(built);
    }
    // without it a bundler drops e.g. embed.ts's defineInfluenceExplorer() call (the one-module build did)
    expect(missing).toEqual([]);
  });
});

describe('configureOnnxRuntime', () => {
  it('names what is wrong with a setting', () => {
    expect(() => configureOnnxRuntime({ numThreads: 0 })).toThrow(OnnxRuntimeConfigError);
    expect(() => configureOnnxRuntime({ numThreads: 1.5 })).toThrow(/numThreads must be an integer >= 1, got 1.5/);
    expect(() => configureOnnxRuntime({ wasmPaths: 'https://cdn.example/ort' })).toThrow(/ending in "\/"/);
    expect(() => configureOnnxRuntime({ wasmPaths: {} })).toThrow(/at least one URL/);
  });

  it('applies to an onnxruntime-web module loaded before and after the call', async () => {
    const before = await loadOrt('wasm');
    configureOnnxRuntime({ wasmPaths: 'https://cdn.example/ort/', numThreads: 1 });
    expect(before.env.wasm.wasmPaths).toBe('https://cdn.example/ort/');
    expect(before.env.wasm.numThreads).toBe(1);
    configureOnnxRuntime({ numThreads: 2, wasmPaths: undefined }); // undefined: unchanged
    const after = await loadOrt('webgpu');
    expect(after.env.wasm.wasmPaths).toBe('https://cdn.example/ort/');
    expect(before.env.wasm.numThreads).toBe(2);
    expect(onnxRuntimeConfig()).toEqual({ wasmPaths: 'https://cdn.example/ort/', numThreads: 2 });
  });
});
