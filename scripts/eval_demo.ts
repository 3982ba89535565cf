// Evaluates the demo model on the fifty well-known verse openings of public/model/eval-verses.json: greedy decoding
// from [EOT] + prompt (as the explorer generates), "exact" when the completion is the rest of the verse followed by
// end-of-text; then the explorer's attribution of prompt + completion (the completion's tokens are the query's loss,
// in both of the explorer's score modes, dot and cosine) over the prebuilt index, "found" when the source verse is
// among the top 3 training texts. Writes
// public/model/eval.json and the "Verse evaluation" section of public/model/README.md.
//
//   npm run eval:demo                 # needs public/index/ (npm run index:demo)
//   flags: --index DIR  --model DIR  --top N (3)
import { readFile, writeFile, rename } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { createEngine } from '../src/logra/engine.ts';
import { FsStore } from '../src/store/fs.ts';
import { CausalLm } from '../src/runtime/generate.ts';
import { loadTokenizerFile } from '../src/tokenizer/node.ts';
import { parseCorpus, parseHeldOut } from '../src/explorer/fetch.ts';
import { root } from './build_demo_index.ts';

export interface VerseResult {
  ref: string;
  prompt: string;
  expected: string;
  completion: string;
  exact: boolean;
  /** per score mode: 1-based rank of the source verse in the attribution (0: not in the top `top`) */
  rank: Record<EvalMode, number>;
  /** per score mode: the top `top` training texts */
  top: Record<EvalMode, string[]>;
}

/** the explorer's score modes (dot: the component's default; cosine: the demo page's) */
export const EVAL_MODES = ['dot', 'cosine'] as const;
export type EvalMode = (typeof EVAL_MODES)[number];

interface VerseList {
  verses: { ref: string; prompt: string }[];
}

export async function evalDemo(o: { index?: string; model?: string; top?: number } = {}): Promise<{ results: VerseResult[]; exact: number; found: Record<EvalMode, number>; top: number; seconds: number }> {
  const t0 = performance.now();
  const top = o.top ?? 3;
  const modelDir = o.model ?? `${root}public/model`;
  const list = JSON.parse(await readFile(`${modelDir}/eval-verses.json`, 'utf8')) as VerseList;
  const corpusPath = `${root}public/corpus/kjv.jsonl`;
  const rows = parseCorpus(await readFile(corpusPath, 'utf8'), corpusPath);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const held = parseHeldOut(JSON.parse(await readFile(`${modelDir}/heldout.json`, 'utf8')), 'heldout.json');
  const tok = loadTokenizerFile(`${root}public/tokenizer/kjv-bpe.json`);
  const eot = tok.endOfTextId;
  const bytes = new Uint8Array(await readFile(`${modelDir}/model.onnx`));
  const lm = await CausalLm.create(bytes);
  const engine = await createEngine({ backend: 'auto' });
  try {
    const model = await engine.loadModel(bytes, { task: 'causal-lm', source: `${modelDir}/model.onnx` });
    const index = await engine.openIndex(new FsStore(o.index ?? `${root}public/index`), model);
    index.cacheBytes = 512 * 2 ** 20;
    const results: VerseResult[] = [];
    for (const v of list.verses) {
      const row = byId.get(v.ref);
      if (!row) throw new Error(`eval-verses.json: ${v.ref} is not in ${corpusPath}`);
      if (!row.text.startsWith(v.prompt)) throw new Error(`eval-verses.json: ${v.ref} does not start with ${JSON.stringify(v.prompt)}`);
      if (held.has(v.ref)) throw new Error(`eval-verses.json: ${v.ref} is held out of training`);
      const expected = row.text.slice(v.prompt.length);
      const promptIds = [eot, ...tok.encode(v.prompt)];
      const g = await lm.generate(promptIds, { maxNewTokens: Math.max(0, lm.contextLength - promptIds.length), eotId: eot });
      const completion = tok.decode(g.tokens);
      const exact = g.stopReason === 'eot' && completion === expected;
      // the explorer's query: prompt + completion (+ the end-of-text it stopped at), the completion's tokens scored
      let ids = [...promptIds, ...g.tokens, ...(g.stopReason === 'eot' ? [eot] : [])].slice(0, lm.contextLength);
      const target = ids.map((_, i) => (i >= promptIds.length ? 1 : 0));
      if (ids.length <= promptIds.length) ids = promptIds; // nothing generated: the prompt alone
      const query = [{ id: 'q', input_ids: ids, ...(ids.length > promptIds.length ? { target_mask: target } : {}) }];
      const rank = {} as Record<EvalMode, number>, tops = {} as Record<EvalMode, string[]>;
      for (const mode of EVAL_MODES) {
        const r = await index.query(query, { topK: top, mode, scores: false });
        tops[mode] = r.top[0].map((t) => t.id);
        rank[mode] = tops[mode].indexOf(v.ref) + 1;
      }
      results.push({ ref: v.ref, prompt: v.prompt, expected, completion, exact, rank, top: tops });
      console.error(`${exact ? 'exact' : '     '} ${EVAL_MODES.map((m) => (rank[m] ? `${m} #${rank[m]}` : '').padEnd(m.length + 3)).join(' ')} ${v.ref}: ${v.prompt} | ${completion}`);
    }
    await model.release();
    await index.dispose();
    const exact = results.filter((r) => r.exact).length / results.length;
    const found = Object.fromEntries(EVAL_MODES.map((m) => [m, results.filter((r) => r.rank[m] > 0).length / results.length])) as Record<EvalMode, number>;
    return { results, exact, found, top, seconds: +((performance.now() - t0) / 1000).toFixed(1) };
  } finally {
    await lm.release();
    engine.dispose();
  }
}

const START = '<!-- verse-eval:start -->', END = '<!-- verse-eval:end -->';

/** The model card's verse-evaluation section (between markers; scripts/train_demo.ts keeps it when it rewrites the card). */
export function evalSection(r: Awaited<ReturnType<typeof evalDemo>>): string {
  const pct = (x: number) => `${Math.round(100 * x)} %`;
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return `${START}
## Verse evaluation
Fifty well-known verse openings (public/model/eval-verses.json; every verse is in the training split), by
\`npm run eval:demo\` (scripts/eval_demo.ts; numbers in eval.json):

- **completed exactly: ${r.results.filter((x) => x.exact).length} of ${r.results.length} (${pct(r.exact)})**: greedy decoding of \`[EOT] + prompt\`
  gives the rest of the verse, then end-of-text;
- **source verse in the top ${r.top} of the attribution: ${EVAL_MODES.map((m) => `${r.results.filter((x) => x.rank[m] > 0).length} of ${r.results.length} (${pct(r.found[m])}) in ${m} mode`).join(', ')}**:
  the explorer's query (prompt + the model's completion, the completion's tokens scored) over the prebuilt index of
  all training texts (public/index/). Dot is the raw influence (the \`<influence-explorer>\` component's default);
  cosine divides it by both gradients' norms, and is what the demo page opens with (src/explorer/main.ts).

| verse | prompt | model's completion | exact | ${EVAL_MODES.map((m) => `source rank (${m})`).join(' | ')} |
|---|---|---|---|${EVAL_MODES.map(() => '---|').join('')}
${r.results.map((x) => `| ${x.ref} | ${esc(x.prompt)} | ${esc(x.completion)} | ${x.exact ? 'yes' : 'no'} | ${EVAL_MODES.map((m) => x.rank[m] || `> ${r.top}`).join(' | ')} |`).join('\n')}
${END}`;
}

/** Replaces (or appends) the verse-evaluation section of a model card. */
export function withEvalSection(card: string, section: string): string {
  const a = card.indexOf(START), b = card.indexOf(END);
  if (a >= 0 && b > a) return card.slice(0, a) + section + card.slice(b + END.length);
  return card.replace(/\n*$/, '\n\n') + section + '\n';
}

/** The section of an existing card (kept by train_demo.ts), or '' */
export function existingEvalSection(card: string): string {
  const a = card.indexOf(START), b = card.indexOf(END);
  return a >= 0 && b > a ? card.slice(a, b + END.length) : '';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const flag = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const modelDir = flag('model') ?? `${root}public/model`;
  const r = await evalDemo({ index: flag('index'), model: modelDir, top: flag('top') ? Number(flag('top')) : undefined });
  const out = `${modelDir}/eval.json`;
  await writeFile(out + '.tmp', JSON.stringify({ exact: r.exact, found: r.found, top: r.top, seconds: r.seconds, results: r.results }, null, 1) + '\n');
  await rename(out + '.tmp', out);
  const cardPath = `${modelDir}/README.md`;
  const card = await readFile(cardPath, 'utf8');
  await writeFile(cardPath, withEvalSection(card, evalSection(r)));
  console.log(JSON.stringify({ exact: r.exact, found: r.found, top: r.top, seconds: r.seconds }));
}
