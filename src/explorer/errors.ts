// The explorer's errors: what kind a failure is (from its name, so that errors from other bundles and workers count)
// and the message the error banner shows for it.
import { StoreError } from '../store/store.ts';
import type { Stage } from './status.ts';

export type ErrorKind = 'quota' | 'storage' | 'webgpu' | 'load' | 'input' | 'aborted' | 'error';

/** Nothing to attribute (an empty prompt and no completion): what the user has to do, not a failure. */
export class InputError extends Error {
  override name = 'InputError';
}

/** The `error` event's detail. */
export interface ErrorDetail {
  stage: Stage | 'init';
  kind: ErrorKind;
  message: string;
  error: unknown;
}

export function errorKind(e: unknown): ErrorKind {
  const name = (e as Error)?.name ?? '';
  if (name === 'StoreQuotaError' || name === 'QuotaExceededError') return 'quota';
  if (e instanceof StoreError || name === 'ChunkError') return 'storage'; // mismatch, locked, damaged, read-only, ...
  if (name === 'GpuUnavailableError' || name === 'GpuDeviceLostError') return 'webgpu';
  if (name === 'LoadError' || name === 'TokenizerFormatError' || name === 'OnnxDecodeError') return 'load';
  if (name === 'AbortError') return 'aborted';
  if (name === 'InputError') return 'input';
  return 'error';
}

export function errorMessage(kind: ErrorKind, e: unknown): string {
  const raw = (e as Error)?.message ?? String(e);
  switch (kind) {
    case 'quota':
      return `Storage full: the browser refused to save the attribution index (storage quota exceeded). What was saved before stays readable. Free some disk space or allow this site more storage, then reload to continue.`;
    case 'storage':
      return `Storage error: the attribution index in this browser could not be read or written. Clearing this site's data and reloading rebuilds it. (${raw})`;
    case 'webgpu':
      return `WebGPU failed: ${raw}. Set backend="cpu" to use the CPU backend.`;
    case 'load':
      return `Could not load a file: ${raw}`;
    case 'input':
      return raw;
    case 'aborted':
      return 'Stopped.';
    default:
      return `Something went wrong: ${raw}`;
  }
}
