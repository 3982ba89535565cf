// Shared bench plumbing: arguments and JSON output under Node (tsx) and Deno, a character-level view of the KJV
// corpus (public/corpus/kjv.jsonl) for small-vocabulary language models, and a seeded shuffle. node:fs is imported
// on use, so that benchmarks importing this also load in a browser page (test/e2e/bench).
import { jsRuntime } from '../../src/gpu/runtime.ts';
import type { LmExample } from '../../src/runtime/batch.ts';
import { rng } from '../../src/train/rng.ts';

const G = globalThis as { Deno?: { args: string[]; exit(c: number): never; version?: { deno: string } }; process?: { argv: string[]; exit(c: number): never; version?: string } };

export const args: string[] = G.Deno?.args ?? G.process?.argv.slice(2) ?? [];
export const flag = (name: string) => args.includes(name);
export function opt(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
export const runtimeName = () => (G.Deno ? `Deno ${G.Deno.version?.deno ?? ''}`.trim() : `${jsRuntime()} ${G.process?.version ?? ''}`.trim());

/** node:fs/promises, loaded on first use (Node and Deno both provide it) */
const fs = () => import(/* @vite-ignore */ 'node:fs/promises' as string) as Promise<typeof import('node:fs/promises')>;

export async function writeJson(path: string, value: unknown): Promise<void> {
  await (await fs()).writeFile(path, JSON.stringify(value, null, 1) + '\n');
}

/** Ends the process (ORT's threads and GPU handles would otherwise keep it alive). */
export function exit(code = 0): void {
  if (G.Deno) G.Deno.exit(code);
  G.process?.exit(code);
}

export function shuffled<T>(a: readonly T[], seed: number): T[] {
  const r = rng(seed);
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r.uniform() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Character vocabulary: 0 = end-of-text, 1-26 = a-z (case folded), 27 = space, 28.. punctuation, last = other. */
const PUNCT = `.,;:'!?()-`;
export const CHAR_VOCAB = 64;
export function charIds(text: string): number[] {
  const out: number[] = [];
  for (const ch of text.toLowerCase()) {
    const c = ch.charCodeAt(0);
    if (c >= 97 && c <= 122) out.push(c - 96);
    else if (ch === ' ') out.push(27);
    else {
      const p = PUNCT.indexOf(ch);
      out.push(p >= 0 ? 28 + p : 28 + PUNCT.length);
    }
  }
  return out;
}

/** KJV verses as character-level examples [EOT, chars..., EOT] cut to maxLen tokens, in corpus order. */
export async function kjvCharExamples(maxLen: number, limit: number): Promise<LmExample[]> {
  const text = await (await fs()).readFile(new URL('../../public/corpus/kjv.jsonl', import.meta.url), 'utf8');
  const out: LmExample[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const v = JSON.parse(line) as { id: string; text: string };
    out.push({ id: v.id, input_ids: [0, ...charIds(v.text), 0].slice(0, maxLen) });
    if (out.length >= limit) break;
  }
  return out;
}

/** Uniform random token sequences (synthetic data), lengths in [minLen, maxLen]. */
export function randomSequences(n: number, vocab: number, minLen: number, maxLen: number, seed: number, prefix = 's'): LmExample[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    input_ids: Array.from({ length: minLen + Math.floor(r.uniform() * (maxLen - minLen + 1)) }, () => Math.floor(r.uniform() * vocab)),
  }));
}

export function table(header: string[], rows: (string | number)[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}
