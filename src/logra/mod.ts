// The LoGra pipeline's public API.
export { createEngine, Engine, type EngineOptions } from './engine.ts';
export { LoadedModel, sha256Hex, type LoadModelOptions } from './model.ts';
export { LograIndex, topIndices, lowRank } from './index.ts';
export type { QueryGradients, QueryTokens } from './query.ts';
export { type FitState } from './fit.ts';
export { LayerPreconditioner, type PreconditionerForm } from './precondition.ts';
export { DataError } from './log.ts';
export { shardRange, parseShard, shardFromEnv, ShardError, type ShardSpec, type ShardState } from './shard.ts';
export { mergeShards, checkShards, MergeError, type MergeOptions, type MergeResult } from './merge.ts';
export { ProjectionError, encodeProjections, decodeProjections, identityProjections, randomProjections, pcaProjections, type Projections } from './projections.ts';
export * from './types.ts';
// models and data as users have them: model folders (URLs; directories through src/io/model-folder-fs.ts in Node and
// Deno), JSONL examples, Hugging Face tokenizers
export { openModelFolder, urlSource, ModelFolderError, MODEL_DTYPES, type ModelDtype, type ModelFolder, type FileSource } from '../io/model-folder.ts';
export { parseJsonl, DataFormatError, type JsonlOptions } from '../io/jsonl.ts';
export { HfTokenizer, parseTokenizer, byteBpeToTokenizerJson } from '../tokenizer/hf.ts';
export type { TextTokenizer, ChatMessage } from '../tokenizer/text.ts';
