// A model loaded for attribution: its bytes and hash, the tapped layers, and the augmented sessions it needs
// (built lazily, once each): 'project' (in-graph LoGra projection, per-token projections and projected KFAC
// statistics; logging and queries) and
// 'stats' (KFAC statistics of the full layer inputs/outputs; the PCA init pass).
import { TapModel } from '../runtime/taps.ts';
import type { LayerInfo } from '../autograd/layers.ts';
import type { Task } from '../autograd/inputs.ts';
import type { Reduction } from '../autograd/loss.ts';
import type { ExecutionProvider } from '../runtime/ort.ts';

export interface LoadModelOptions {
  /** default: inferred (input_ids + [B, T, V] logits = causal-lm) */
  task?: Task;
  /** which linear layers to tap, tested against node names (default all) */
  layers?: RegExp;
  /** causal LM loss over tokens (default 'sum') */
  reduction?: Reduction;
  /** a name for messages (e.g. the file path) */
  source?: string;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes as unknown as ArrayBuffer);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A RegExp matching exactly the given layer names. */
export function exactLayers(names: string[]): RegExp {
  return new RegExp(`^(?:${names.map(escapeRe).join('|')})$`);
}

export class LoadedModel {
  private sessions = new Map<string, Promise<TapModel>>();

  private constructor(
    readonly bytes: Uint8Array,
    readonly sha256: string,
    readonly task: Task,
    readonly layers: LayerInfo[],
    readonly reduction: Reduction,
    readonly source: string,
    private readonly ep: ExecutionProvider,
    private readonly device: GPUDevice | undefined,
    project: TapModel,
  ) {
    this.sessions.set('project', Promise.resolve(project));
  }

  static async load(bytes: Uint8Array, opts: LoadModelOptions & { ep: ExecutionProvider; device?: GPUDevice }): Promise<LoadedModel> {
    const source = opts.source ?? 'model.onnx';
    const [sha, project] = await Promise.all([
      sha256Hex(bytes),
      TapModel.create(bytes, { task: opts.task, layers: opts.layers, reduction: opts.reduction, taps: false, project: true, tokenProjections: true, projectedKfac: true, ep: opts.ep, device: opts.device, source }),
    ]);
    return new LoadedModel(bytes, sha, project.task, project.layers, opts.reduction ?? 'sum', source, opts.ep, opts.device, project);
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
      s = TapModel.create(this.bytes, { ...o, task: this.task, layers: exactLayers(this.layers.map((l) => l.name)), reduction: this.reduction, ep: this.ep, device: this.device, source: this.source });
      this.sessions.set(key, s);
    }
    return s;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
