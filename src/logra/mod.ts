// The LoGra pipeline's public API.
export { createEngine, Engine, type EngineOptions } from './engine.ts';
export { LoadedModel, sha256Hex, type LoadModelOptions } from './model.ts';
export { LograIndex, topIndices, lowRank } from './index.ts';
export type { QueryGradients, QueryTokens } from './query.ts';
export { type FitState } from './fit.ts';
export { LayerPreconditioner, type PreconditionerForm } from './precondition.ts';
export { DataError } from './log.ts';
export { ProjectionError, encodeProjections, decodeProjections, identityProjections, randomProjections, pcaProjections, type Projections } from './projections.ts';
export * from './types.ts';
