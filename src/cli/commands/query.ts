// logra query: influence of every logged training example on each query example.
import { writeFile } from 'node:fs/promises';
import { parseArgs, intFlag, type FlagSpec } from '../args.ts';
import type { ScoreMode } from '../../logra/types.ts';
import { dataFlags, engineFlags, scanFlags, scanThreadsFlag, engineFrom, numFlag, oneOf, openIndexDir, printJson, progressBars, readExamples, withInterrupt } from './common.ts';

export const querySpec: Record<string, FlagSpec> = {
  index: { required: true, help: 'index directory' },
  data: { required: true, help: 'JSONL query examples (same format as for log)' },
  out: { required: true, help: 'output scores.json' },
  top: { help: 'top-k per query (default 10)' },
  mode: { help: 'dot | cosine | l2 (default dot)' },
  'per-layer': { boolean: true, help: 'also write scores per tapped layer' },
  'per-token': { boolean: true, help: 'per-token contributions of the query tokens to each top-k score' },
  'no-scores': { boolean: true, help: 'write only the top-k lists, not the full score matrix' },
  'query-rank': { help: 'low-rank query batching: keep rank r of each preconditioned query gradient per layer' },
  model: { help: 'the model folder or .onnx file (default: the path recorded by log; its hash must match)' },
  batch: { help: 'queries per model run (default 8)' },
  'run-mb': { help: 'working memory of one model run, MiB (default 1024): batches are split so that the model\'s estimated activations fit' },
  ...dataFlags,
  ...scanFlags,
  ...engineFlags,
};

export async function queryCommand(argv: string[]): Promise<unknown> {
  const a = parseArgs(argv, querySpec, 'query');
  const mode = oneOf<ScoreMode>(a.mode, 'mode', ['dot', 'cosine', 'l2'], 'dot');
  const engine = await engineFrom(a);
  try {
    const { index, model } = await openIndexDir(engine, a, true);
    index.scanThreads = scanThreadsFlag(a);
    const queries = await readExamples(a.data as string, a, model!.tokenizer);
    const t0 = performance.now();
    const r = await withInterrupt((signal) =>
      index.query(queries, {
        topK: intFlag(a.top, 'top', 10, 0), mode, perLayer: !!a['per-layer'], perToken: !!a['per-token'], scores: !a['no-scores'],
        queryRank: a['query-rank'] !== undefined ? intFlag(a['query-rank'], 'query-rank', 1) : undefined,
        batchSize: intFlag(a.batch, 'batch', 8),
        runBytes: numFlag(a['run-mb'], 'run-mb', 1024, 1) * 2 ** 20, signal, onProgress: progressBars(!!a.quiet),
      }),
    );
    await model!.release();
    await index.dispose();
    const seconds = (performance.now() - t0) / 1000;
    const json: Record<string, unknown> = {
      mode: r.mode,
      query_ids: r.queryIds,
      train_ids: r.trainIds,
      ...(r.scores ? { scores: r.scores.map((s) => Array.from(s)) } : {}),
      ...(r.layers ? { layers: Object.fromEntries([...r.layers].map(([k, v]) => [k, v.map((s) => Array.from(s))])) } : {}),
      top: r.top.map((items) => items.map((t) => ({ id: t.id, score: t.score, ...(t.layers ? { layers: t.layers } : {}), ...(t.tokens ? { tokens: t.tokens } : {}) }))),
      query_loss: r.losses,
    };
    await writeFile(a.out as string, JSON.stringify(json));
    const out = { out: a.out, queries: r.queryIds.length, train: r.trainIds.length, mode, seconds: +seconds.toFixed(3), pairsPerSecond: Math.round((r.queryIds.length * r.trainIds.length) / seconds) };
    printJson(out);
    return out;
  } finally {
    engine.dispose();
  }
}
