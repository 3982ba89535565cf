// A model loaded for attribution: its bytes and hash, the tapped layers, and the augmented sessions it needs
// (built lazily, once each): 'project' (in-graph LoGra projection, per-token projections and projected KFAC
// statistics; logging and queries) and
// 'stats' (KFAC statistics of the full layer inputs/outputs; the PCA init pass).
import { TapModel } from '../runtime/taps.ts';
import { jsRuntime } from '../gpu/runtime.ts';
import { decodeModel } from '../onnx/codec.ts';
import { graphLimits, type ModelLimits } from './examples.ts';
import type { LayerInfo } from '../autograd/layers.ts';
import type { Task } from '../autograd/inputs.ts';
import type { Reduction } from '../autograd/loss.ts';
import type { ExecutionProvider } from '../runtime/ort.ts';
import type { ExternalFiles } from '../onnx/external.ts';
import type { TextTokenizer } from '../tokenizer/text.ts';

export interface LoadModelOptions {
  /** default: inferred (input_ids + [B, T, V] logits = causal-lm) */
  task?: Task;
  /** which linear layers to tap, tested against node names (default all) */
  layers?: RegExp;
  /** causal LM loss over tokens (default 'sum') */
  reduction?: Reduction;
  /** a name for messages (e.g. the file path) */
  source?: string;
  /** the model's external data files by location (weights outside the .onnx, e.g. "model.onnx_data") */
  externalData?: ExternalFiles;
  /** token id for right padding (a model folder's pad token; default 0) */
  padId?: number;
  /**
   * Re-reads the model (its bytes and external data files) when a further session is needed (the PCA statistics
   * pass). When given, the loaded model does not keep what it was loaded from, so a large model's weights are held
   * once (in the session), not twice; the CLI passes a file read. Without it the bytes and files are kept.
   */
  reload?: () => Promise<ModelBytes>;
}

/** A model's .onnx bytes and the external data files it names. */
export interface ModelBytes {
  bytes: Uint8Array;
  externalData?: ExternalFiles;
}

/** SHA-256 of bytes, hex. Node and Deno hash in place (node:crypto); WebCrypto (the browser) copies its input. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  if (jsRuntime() !== 'browser') {
    const spec = 'node:crypto';
    const { createHash } = (await import(/* @vite-ignore */ spec)) as typeof import('node:crypto');
    return createHash('sha256').update(bytes).digest('hex');
  }
  const d = await crypto.subtle.digest('SHA-256', bytes as unknown as ArrayBuffer);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The model's identity: SHA-256 of the .onnx bytes, and with external data of those hashes and each file's. */
export async function modelSha256(bytes: Uint8Array, external?: ExternalFiles): Promise<string> {
  const own = await sha256Hex(bytes);
  if (!external || external.size === 0) return own;
  const parts = [own];
  for (const k of [...external.keys()].sort()) parts.push(`${k}:${await sha256Hex(external.get(k)!)}`);
  return sha256Hex(new TextEncoder().encode(parts.join('\n')));
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A RegExp matching exactly the given layer names. */
export function exactLayers(names: string[]): RegExp {
  return new RegExp(`^(?:${names.map(escapeRe).join('|')})$`);
}

/** A reload that returns bytes kept in memory (a closure of its own, so that load()'s scope does not keep them). */
function retain(m: ModelBytes): () => Promise<ModelBytes> {
  return async () => m;
}

export class LoadedModel {
  private sessions = new Map<string, Promise<TapModel>>();
  /** lines for the user from loading (file chosen, weights dequantised, weight-bearing ops left untapped) */
  notes: string[] = [];
  /** the model folder's tokenizer (engine.loadModelFrom / --model DIR) */
  tokenizer?: TextTokenizer;
  /** the model folder's config.json */
  config?: Record<string, unknown>;
  private padId?: number;

  private constructor(
    private readonly bytes: () => Promise<ModelBytes>,
    readonly sha256: string,
    readonly task: Task,
    readonly layers: LayerInfo[],
    readonly reduction: Reduction,
    readonly source: string,
    private readonly ep: ExecutionProvider,
    private readonly device: GPUDevice | undefined,
    project: TapModel,
    /** vocabulary, context, classes and feature width, as the graph states them (examples are checked against them) */
    readonly limits: ModelLimits,
  ) {
    this.sessions.set('project', Promise.resolve(project));
  }

  static async load(bytes: Uint8Array, opts: LoadModelOptions & { ep: ExecutionProvider; device?: GPUDevice }): Promise<LoadedModel> {
    const source = opts.source ?? 'model.onnx';
    // one after the other: WebCrypto copies what it hashes, which should not overlap the session's copy of the weights
    const sha = await modelSha256(bytes, opts.externalData);
    const limits = graphLimits(decodeModel(bytes, opts.source)); // views of bytes: decoding copies no weights
    const project = await TapModel.create(bytes, { task: opts.task, layers: opts.layers, reduction: opts.reduction, taps: false, project: true, tokenProjections: true, projectedKfac: true, ep: opts.ep, device: opts.device, source, externalData: opts.externalData, padId: opts.padId });
    const m = new LoadedModel(opts.reload ?? retain({ bytes, externalData: opts.externalData }), sha, project.task, project.layers, opts.reduction ?? 'sum', source, opts.ep, opts.device, project, limits);
    m.notes = [...project.notes];
    m.padId = opts.padId;
    return m;
  }

  /** the session with in-graph projection and per-token projections */
  projector(): Promise<TapModel> {
    return this.session('project', { taps: false, project: true, tokenProjections: true, projectedKfac: true });
  }

  /** the session returning KFAC statistics X^T X and DY^T DY of the full layer inputs and output gradients */
  statistician(): Promise<TapModel> {
    return this.session('stats', { taps: false, kfacStats: true });
  }

  private session(key: string, o: { taps: boolean; project?: boolean; tokenProjections?: boolean; projectedKfac?: boolean; kfacStats?: boolean }): Promise<TapModel> {
    let s = this.sessions.get(key);
    if (!s) {
      s = this.bytes().then(async ({ bytes, externalData }) => {
        if ((await modelSha256(bytes, externalData)) !== this.sha256) throw new Error(`the model ${this.source} changed since it was loaded (SHA-256 differs); load it again`);
        return TapModel.create(bytes, { ...o, task: this.task, layers: exactLayers(this.layers.map((l) => l.name)), reduction: this.reduction, ep: this.ep, device: this.device, source: this.source, externalData, padId: this.padId });
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
