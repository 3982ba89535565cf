// What a model's graph inputs mean, by the names exporters give them (torch.onnx, HF Optimum, transformers.js).
import { valueInfoShape, type Graph } from '../onnx/graph.ts';
import { DataType, dataTypeName, dimsOf } from '../onnx/tensor.ts';
import { ModelStructureError } from './errors.ts';

export type Task = 'causal-lm' | 'classification' | 'regression';

/**
 * Names of the inputs the augmented model adds: the loss mask [B, T] (1 for real tokens: causal LMs and token-id
 * classifiers), the target mask [B, T] (causal LM: 1 for tokens whose prediction is in the loss, e.g. a completion's
 * tokens; the real-token mask when all are) and labels [B] (classifier: int64; regression: float32).
 */
export const LOSS_MASK = 'logra_loss_mask';
export const TARGET_MASK = 'logra_target_mask';
export const LABELS = 'logra_labels';

export interface ModelInputs {
  /** causal LM token ids [B, T] */
  ids?: string;
  /** declared dims of the ids input (numbers where the export fixed them) */
  idsDims?: (number | string | undefined)[];
  /** rows of the embedding table the ids index (when a Gather reads them from an initializer) */
  vocab?: number;
  attentionMask?: string;
  positionIds?: string;
  tokenTypeIds?: string;
  /** past key/value inputs fed with a zero-length past: dims with the past axis set to 0 */
  past: { name: string; dims: (number | string | undefined)[] }[];
  /** classifier features [B, ...] */
  features?: { name: string; elemType: number; dims: (number | string | undefined)[] };
  /** element type of each named input */
  types: Map<string, number>;
}

const IDS = ['input_ids', 'input', 'ids', 'tokens'];

/** Rows of the initializer a Gather indexes with `ids` (directly or through a Cast): the vocabulary size. */
function embeddingRows(g: Graph, ids: string): number | undefined {
  const uses = g.consumers(ids).flatMap((n) => (n.opType === 'Cast' ? g.consumers(n.output![0]) : [n]));
  for (const n of uses) {
    if (n.opType !== 'Gather' || (n.domain ?? '') !== '') continue;
    const t = g.initializer(n.input![0]);
    if (t?.dims?.length === 2) return dimsOf(t)[0];
  }
  return undefined;
}

export function describeInputs(g: Graph): ModelInputs {
  const res: ModelInputs = { past: [], types: new Map() };
  const unknown: string[] = [];
  for (const v of g.inputs) {
    const name = v.name ?? '';
    const { elemType, dims } = valueInfoShape(v);
    res.types.set(name, elemType);
    const isInt = elemType === DataType.INT64 || elemType === DataType.INT32;
    if (isInt && IDS.includes(name) && !res.ids) {
      res.ids = name;
      res.idsDims = dims;
    }
    else if (name === 'attention_mask') res.attentionMask = name;
    else if (name === 'position_ids') res.positionIds = name;
    else if (name === 'token_type_ids') res.tokenTypeIds = name;
    else if (/^past_key_values?\.|^past\./.test(name)) res.past.push({ name, dims: dims ?? [] });
    else if (!isInt && !res.features) res.features = { name, elemType, dims: dims ?? [] };
    else unknown.push(`${name} (${dataTypeName(elemType)})`);
  }
  if (g.inputs.some((v) => v.name === 'use_cache_branch')) {
    throw new ModelStructureError('merged decoder with a use_cache_branch input (If node): export or select the plain decoder_model.onnx (no cache) instead');
  }
  if (unknown.length) {
    throw new ModelStructureError(
      `graph inputs not understood: ${unknown.join(', ')}. Known inputs: input_ids, attention_mask, position_ids, token_type_ids, past_key_values.*, and one float feature input for classifiers`,
    );
  }
  if (!res.ids && !res.features) throw new ModelStructureError('the model has no input_ids and no float feature input');
  if (res.ids) res.vocab = embeddingRows(g, res.ids);
  return res;
}
