/**
 * Trains the demo's byte-level BPE tokenizer on the KJV corpus.
 *
 *   npx tsx scripts/train_tokenizer.ts                 # writes public/tokenizer/kjv-bpe.json
 *   npx tsx scripts/train_tokenizer.ts --check         # retrains in memory, fails if the committed file differs
 *   npx tsx scripts/train_tokenizer.ts --vocab 4096 --corpus public/corpus/kjv.jsonl --out public/tokenizer/kjv-bpe.json
 *
 * Deterministic: the file depends only on the corpus and the settings (no timestamps).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteBPETokenizer, END_OF_TEXT } from '../src/tokenizer/tokenizer.ts';
import { countPretokens, learnMerges } from '../src/tokenizer/train.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

function main(): number {
  const vocabSize = Number(arg('--vocab', '4096'));
  const corpusPath = resolve(root, arg('--corpus', 'public/corpus/kjv.jsonl'));
  const outPath = resolve(root, arg('--out', 'public/tokenizer/kjv-bpe.json'));
  const check = process.argv.includes('--check');
  if (!Number.isInteger(vocabSize) || vocabSize < 257) throw new Error(`--vocab must be an integer >= 257, got ${arg('--vocab', '')}`);
  if (!existsSync(corpusPath)) throw new Error(`${corpusPath} not found; run: npx tsx scripts/make_corpus.ts`);

  const raw = readFileSync(corpusPath, 'utf8');
  const texts = raw.split('\n').filter(Boolean).map((line, n) => {
    const row = JSON.parse(line) as { text?: unknown };
    if (typeof row.text !== 'string') throw new Error(`${corpusPath}:${n + 1}: no "text" string`);
    return row.text;
  });
  const specials = [END_OF_TEXT];
  const numMerges = vocabSize - 256 - specials.length;

  const t0 = performance.now();
  const counts = countPretokens(texts);
  const t1 = performance.now();
  const merges = learnMerges(counts, numMerges, {
    minFrequency: 2,
    progressEvery: 500,
    onProgress: (m, n) => process.stderr.write(`  merges ${m}/${n} (${((performance.now() - t1) / 1000).toFixed(1)} s)\n`),
  });
  const t2 = performance.now();
  if (merges.length / 2 < numMerges) console.warn(`warning: stopped after ${merges.length / 2} merges (no pair occurs twice any more)`);

  // Stats over the training corpus (deterministic, stored in the file).
  const probe = new ByteBPETokenizer(merges, specials);
  const enc = new TextEncoder();
  let tokens = 0, bytes = 0, maxTokens = 0;
  for (const t of texts) {
    const ids = probe.encode(t);
    if (probe.decode(ids) !== t) throw new Error(`round trip failed on ${JSON.stringify(t.slice(0, 60))}`);
    tokens += ids.length;
    bytes += enc.encode(t).length;
    maxTokens = Math.max(maxTokens, ids.length);
  }
  const t3 = performance.now();
  const stats = {
    documents: texts.length,
    utf8Bytes: bytes,
    tokens,
    bytesPerToken: Number((bytes / tokens).toFixed(4)),
    meanTokensPerDocument: Number((tokens / texts.length).toFixed(3)),
    maxTokensPerDocument: maxTokens,
    distinctPretokens: counts.size,
  };
  const tok = new ByteBPETokenizer(merges, specials, {
    generator: 'scripts/train_tokenizer.ts',
    command: `npx tsx scripts/train_tokenizer.ts${vocabSize !== 4096 ? ` --vocab ${vocabSize}` : ''}`,
    corpus: relative(root, corpusPath),
    corpusSha256: createHash('sha256').update(raw).digest('hex'),
    targetVocabSize: vocabSize,
    minFrequency: 2,
    tieBreak: 'highest pair count, then smallest (left id, right id)',
    stats,
  });
  const json = tok.toJSONString();
  // The saved file must load back to the same tokenizer.
  if (ByteBPETokenizer.fromJSONString(json).toJSONString() !== json) throw new Error('saved JSON does not reload identically');

  console.log(`corpus: ${relative(root, corpusPath)} (${texts.length} documents, ${counts.size} distinct pre-tokens)`);
  console.log(`vocab: ${tok.vocabSize} = 256 bytes + ${tok.numMerges} merges + ${specials.length} special (${specials.join(', ')} = ${tok.endOfTextId})`);
  console.log(`time: pre-tokenise ${((t1 - t0) / 1000).toFixed(2)} s, merges ${((t2 - t1) / 1000).toFixed(2)} s, encode corpus ${((t3 - t2) / 1000).toFixed(2)} s`);
  console.log(`compression: ${stats.bytesPerToken} bytes/token; ${stats.meanTokensPerDocument} tokens per document (max ${maxTokens}); ${tokens} tokens total`);
  if (check) {
    if (!existsSync(outPath) || readFileSync(outPath, 'utf8') !== json) {
      console.error(`${relative(root, outPath)} differs from a fresh training run`);
      return 1;
    }
    console.log(`${relative(root, outPath)} is up to date`);
  } else {
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(outPath, json);
    console.log(`wrote ${relative(root, outPath)} (${Buffer.byteLength(json)} bytes)`);
  }
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`train_tokenizer: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}

