export * from './codec.ts';
export * from './tensor.ts';
export * from './graph.ts';
