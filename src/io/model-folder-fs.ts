// Model folders and single .onnx files on disk (Node and Deno): the FileSource of model-folder.ts for a directory, and
// the one entry point the CLI's --model and engine.loadModelFrom(dir) use for a folder or a file. node:fs and
// node:path come from process.getBuiltinModule when a directory is read, so this module imports nothing of Node's and
// bundles for the browser as it is (where only URLs are loaded).
import { openModelFolder, ModelFolderError, type FileSource, type ModelDtype, type ModelFolder } from './model-folder.ts';

type Fs = typeof import('node:fs/promises');
type Path = typeof import('node:path');

function nodeModules(): { fs: Fs; path: Path } {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (!get) throw new ModelFolderError('reading a model folder from a directory needs Node (20.16 or newer) or Deno; in a browser, load it by URL');
  return { fs: get('node:fs/promises') as Fs, path: get('node:path') as Path };
}

/** Files of a directory (two levels: the folder and onnx/), read on demand. */
export function dirSource(dir: string): FileSource {
  const { fs: { readFile, readdir }, path: { join, relative, resolve, sep } } = nodeModules();
  const root = resolve(dir);
  return {
    location: root,
    async read(path: string) {
      const full = resolve(root, path);
      if (full !== root && !full.startsWith(root + sep)) throw new ModelFolderError(`${root}: ${path} lies outside the folder`);
      try {
        const b = await readFile(full);
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // a view: a 2 GB weights file is not copied
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') return undefined;
        throw new ModelFolderError(`cannot read ${full}: ${(e as Error).message}`);
      }
    },
    async list() {
      const out: string[] = [];
      const walk = async (d: string, depth: number) => {
        for (const e of await readdir(d, { withFileTypes: true })) {
          const p = join(d, e.name);
          if (e.isDirectory() && depth < 1) await walk(p, depth + 1);
          else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
        }
      };
      await walk(root, 0);
      return out;
    },
  };
}

/**
 * `--model PATH`: a model folder (config.json, tokenizer.json, onnx/model*.onnx, ...) or one .onnx file (its external
 * data and a tokenizer.json beside it or in the folder above are found the same way).
 */
export async function openModelPath(path: string, opts: { dtype?: ModelDtype } = {}): Promise<ModelFolder> {
  const { fs: { stat }, path: { basename, dirname, relative, resolve, sep } } = nodeModules();
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new ModelFolderError(`cannot read the model ${path}: ${(e as Error).message}`);
  }
  if (st.isDirectory()) return openModelFolder(dirSource(path), opts);
  const file = resolve(path);
  // the folder is the file's directory, or the one above it for onnx/<file>
  const up = basename(dirname(file)) === 'onnx' ? dirname(dirname(file)) : dirname(file);
  return openModelFolder(dirSource(up), { file: relative(up, file).split(sep).join('/') });
}
