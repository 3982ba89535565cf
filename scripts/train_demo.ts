// Trains the web demo's language model: a small GPT-2-style causal LM on the KJV verses of public/corpus, with the
// project's own autograd and AdamW (src/train/), and exports it to public/model/ with its loss curve, held-out
// evaluation against a unigram baseline, sample generations and a model card. Deterministic for a given set of
// flags (seeded initialisation, split by id hash, seeded batch order).
//
//   npx tsx scripts/train_demo.ts                    # the committed model (see public/model/README.md)
//   npx tsx scripts/train_demo.ts --steps 50 --out /tmp/m   # a quick run elsewhere
//   npx tsx scripts/train_demo.ts --report-only      # re-evaluate the model in --out and rewrite the card
//   npx tsx scripts/train_demo.ts --resume           # continue an interrupted (or extended: a larger --steps) run
//
// Resumable: every --checkpoint-every steps it writes model.onnx, training.json (flags, curve, evaluations) and
// checkpoint.bin (parameters, AdamW moments, step; not committed: it is 3x the model). --resume continues from
// checkpoint.bin exactly, or, where only model.onnx and training.json exist (a fresh clone), from those weights with
// fresh AdamW moments (a warm restart). The batch order is a function of (seed, epoch), so a resumed run sees the
// same batches as an uninterrupted one.
//
// Flags: --steps N  --layers N  --embd N  --heads N  --context N  --batch N  --lr X  --min-lr X  --warmup N
//        --weight-decay X  --seed N  --eval-every N  --checkpoint-every N  --heldout-percent N  --devil  --out DIR
//        --ep auto|native|wasm  --report-only  --resume
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildGpt2, rng, type Gpt2Config } from '../src/train/gpt2.ts';
import { Trainer, type StepResult } from '../src/train/trainer.ts';
import { formatExample, isHeldOut, lengthBucketedBatches, unigramBaseline } from '../src/train/data.ts';
import { loadTokenizerFile } from '../src/tokenizer/node.ts';
import { decodeModel, encodeModel } from '../src/onnx/codec.ts';
import { tensorToHost } from '../src/onnx/tensor.ts';
import { hardwareThreads, resolveEp, type ExecutionProvider } from '../src/runtime/ort.ts';
import type { LmExample } from '../src/runtime/batch.ts';
import { existingEvalSection } from './eval_demo.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Flags {
  steps: number;
  layers: number;
  embd: number;
  heads: number;
  context: number;
  batch: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  seed: number;
  evalEvery: number;
  checkpointEvery: number;
  heldoutPercent: number;
  devil: boolean;
  out: string;
  ep: string;
  reportOnly: boolean;
  resume: boolean;
}

export const DEFAULTS: Flags = {
  steps: 10000, layers: 4, embd: 256, heads: 8, context: 64, batch: 32, lr: 2e-3, minLr: 1e-4, warmup: 200,
  weightDecay: 0.01, seed: 1, evalEvery: 1000, checkpointEvery: 250, heldoutPercent: 5, devil: false, out: 'public/model', ep: 'auto',
  reportOnly: false, resume: false,
};

/** flags of the learning-rate schedule and optimiser: a resume may change them, which starts a new segment */
const SCHEDULE = ['steps', 'lr', 'minLr', 'warmup', 'weightDecay'] as const;
export type Schedule = Pick<Flags, (typeof SCHEDULE)[number]>;

/**
 * One resume of a run: at which step, whether it was exact (checkpoint.bin: parameters and AdamW moments) or a warm
 * restart (model.onnx weights, fresh moments), and the schedule flags in effect before it where this resume changed them.
 */
export interface Restart {
  step: number;
  exact: boolean;
  at?: string;
  before?: Partial<Schedule>;
}

/** a restart as saved: older logs spelled a changed --steps as stepsBefore */
export type SavedRestart = Restart & { stepsBefore?: number };

function readRestart(r: SavedRestart): Restart {
  const { stepsBefore, ...rest } = r;
  return stepsBefore === undefined ? rest : { ...rest, before: { steps: stepsBefore, ...rest.before } };
}

/** the schedule flags whose value in `prev` differs from `next` */
function scheduleChanges(prev: Flags, next: Flags): Partial<Schedule> | undefined {
  const out: Partial<Schedule> = {};
  for (const k of SCHEDULE) if (prev[k] !== undefined && prev[k] !== next[k]) out[k] = prev[k];
  return Object.keys(out).length ? out : undefined;
}

/** flags that fix what is trained: a resumed or re-reported run must keep them */
const FIXED = ['layers', 'embd', 'heads', 'context', 'batch', 'seed', 'heldoutPercent', 'devil'] as const;

function parseFlags(argv: string[]): Flags {
  const f: Flags = { ...DEFAULTS };
  const num = (name: string, v: string | undefined) => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x)) throw new Error(`--${name} needs a number, got ${JSON.stringify(v)}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const key = a.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Flags;
    if (!a.startsWith('--') || !(key in DEFAULTS)) throw new Error(`unknown flag ${a}; flags: ${Object.keys(DEFAULTS).map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(' ')}`);
    const cur = DEFAULTS[key];
    if (typeof cur === 'boolean') (f as unknown as Record<string, unknown>)[key] = true;
    else if (typeof cur === 'number') (f as unknown as Record<string, unknown>)[key] = num(a.slice(2), argv[++i]);
    else (f as unknown as Record<string, unknown>)[key] = argv[++i];
  }
  for (const k of ['steps', 'layers', 'embd', 'heads', 'context', 'batch', 'evalEvery', 'checkpointEvery'] as const) {
    if (!Number.isInteger(f[k]) || f[k] < 1) throw new Error(`--${k} must be a positive integer`);
  }
  if (!['auto', 'native', 'wasm'].includes(f.ep)) throw new Error(`--ep must be auto, native or wasm, got ${JSON.stringify(f.ep)}`);
  if (f.resume && f.reportOnly) throw new Error('--resume and --report-only exclude each other');
  return f;
}

interface Row {
  id: string;
  text: string;
}

function readJsonl(path: string): Row[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    const r = JSON.parse(l) as { id?: unknown; text?: unknown };
    if (typeof r.id !== 'string' || typeof r.text !== 'string') throw new Error(`${path}:${i + 1}: needs string "id" and "text"`);
    return { id: r.id, text: r.text };
  });
}

function writeAtomic(path: string, data: string | Uint8Array): void {
  writeFileSync(path + '.tmp', data);
  renameSync(path + '.tmp', path);
}

interface Previous {
  flags: Flags;
  curve: (StepResult & { elapsed: number })[];
  evals: { step: number; elapsed: number; heldout: number; trainSample: number }[];
  restarts?: SavedRestart[];
  trainSeconds: number;
  complete?: boolean;
}

/** The earlier run's log, checked against these flags (the model-defining ones must match). */
function readPrevious(logPath: string, flags: Flags): Previous {
  let prev: Previous;
  try {
    prev = JSON.parse(readFileSync(logPath, 'utf8')) as Previous;
  } catch (e) {
    throw new Error(`${flags.resume ? '--resume' : '--report-only'}: cannot read ${logPath} (${(e as Error).message}); train first`);
  }
  for (const k of FIXED) {
    if (prev.flags[k] !== flags[k]) throw new Error(`${logPath} was trained with --${k} ${prev.flags[k]}, not ${flags[k]}; pass the same flags`);
  }
  if (flags.reportOnly) Object.assign(flags, prev.flags, { reportOnly: true, resume: false });
  else if (prev.curve.length > flags.steps) throw new Error(`--resume: ${logPath} is at step ${prev.curve.length}, past --steps ${flags.steps}`);
  return prev;
}

function loadWeights(trainer: Trainer, modelPath: string): void {
  const trained = decodeModel(readFileSync(modelPath));
  let found = 0;
  for (const t of trained.graph!.initializer!) {
    const k = trainer.params.indexOf(t.name ?? '');
    if (k < 0) continue;
    const data = tensorToHost(t).data as Float32Array;
    if (data.length !== trainer.values[k].length) throw new Error(`${modelPath}: ${t.name} has ${data.length} values, this configuration ${trainer.values[k].length}`);
    trainer.values[k].set(data);
    found++;
  }
  if (found !== trainer.params.length) throw new Error(`${modelPath}: ${found} of ${trainer.params.length} parameters found; was it trained with other flags?`);
}

const CHECKPOINT_MAGIC = 'logra-train-checkpoint/1';

/** checkpoint.bin: a JSON header (length-prefixed) naming the parameters, then values, m and v as float32. */
function checkpointBytes(trainer: Trainer): Uint8Array {
  const st = trainer.state();
  const header = new TextEncoder().encode(JSON.stringify({
    magic: CHECKPOINT_MAGIC, step: st.step, momentSteps: st.momentSteps, params: trainer.params, lengths: st.values.map((v) => v.length),
  }));
  const pad = (4 - ((4 + header.length) % 4)) % 4;
  const n = st.values.reduce((a, v) => a + v.length, 0);
  const out = new Uint8Array(4 + header.length + pad + 12 * n);
  new DataView(out.buffer).setUint32(0, header.length + pad, true);
  out.set(header, 4);
  out.fill(0x20, 4 + header.length, 4 + header.length + pad);
  const f = new Float32Array(out.buffer, 4 + header.length + pad, 3 * n);
  let o = 0;
  for (const group of [st.values, st.m, st.v]) for (const a of group) (f.set(a, o), (o += a.length));
  return out;
}

function readCheckpoint(path: string, params: string[]): { step: number; momentSteps: number; values: Float32Array[]; m: Float32Array[]; v: Float32Array[] } | null {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    return null;
  }
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + len))) as { magic: string; step: number; momentSteps: number; params: string[]; lengths: number[] };
  if (h.magic !== CHECKPOINT_MAGIC) throw new Error(`${path}: not a training checkpoint (magic ${JSON.stringify(h.magic)})`);
  if (h.params.join('\n') !== params.join('\n')) throw new Error(`${path}: its parameters differ from this configuration's`);
  const n = h.lengths.reduce((a, b) => a + b, 0);
  const body = bytes.subarray(4 + len);
  if (body.length !== 12 * n) throw new Error(`${path}: ${body.length} bytes of data, expected ${12 * n} (truncated?)`);
  const data = new Float32Array(3 * n);
  new Uint8Array(data.buffer).set(body);
  let o = 0;
  const take = () => h.lengths.map((l) => data.subarray(o, (o += l)));
  const values = take(), m = take(), v = take();
  return { step: h.step, momentSteps: h.momentSteps, values, m, v };
}

const fmt = (x: number, d = 4) => x.toFixed(d);
const hms = (s: number) => `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const outDir = resolve(ROOT, flags.out);
  mkdirSync(outDir, { recursive: true });
  const tok = loadTokenizerFile();
  const eot = tok.endOfTextId;
  const format = { eot, maxLen: flags.context };

  // ---- data: KJV verses (+ optionally the Devil's Dictionary), split by id hash
  const sources = ['kjv.jsonl', ...(flags.devil ? ['devil.jsonl'] : [])];
  const rows = sources.flatMap((f) => readJsonl(join(ROOT, 'public/corpus', f)));
  let truncated = 0;
  const all: LmExample[] = rows.map((r) => {
    const ids = tok.encode(r.text);
    if (ids.length + 2 > flags.context) truncated++;
    return { id: r.id, input_ids: formatExample(ids, format) };
  });
  const train = all.filter((e) => !isHeldOut(e.id, flags.heldoutPercent));
  const heldout = all.filter((e) => isHeldOut(e.id, flags.heldoutPercent));
  const count = (s: LmExample[]) => s.reduce((a, e) => a + e.input_ids.length - 1, 0);
  // a fixed sample of 512 training examples for the train side of the eval curve
  const pick = rng(flags.seed + 2);
  const trainProbe = [...train].map((e) => ({ e, k: pick.uniform() })).sort((a, b) => a.k - b.k).slice(0, 512).map((x) => x.e);
  const unigram = unigramBaseline(train, heldout, tok.vocabSize);
  console.log(`data: ${rows.length} texts from ${sources.join(', ')}; train ${train.length} (${count(train)} predicted tokens), held out ${heldout.length} (${count(heldout)}); ${truncated} truncated to ${flags.context} tokens`);
  console.log(`unigram baseline: train entropy ${fmt(unigram.trainEntropy)}, held-out cross-entropy ${fmt(unigram.crossEntropy)} nats/token`);
  writeAtomic(join(outDir, 'heldout.json'), JSON.stringify({
    rule: `held out iff fnv1a32(utf8(id)) % 100 < ${flags.heldoutPercent} (src/train/data.ts isHeldOut)`,
    sources, count: heldout.length, ids: heldout.map((e) => e.id),
  }) + '\n');

  const cfg: Gpt2Config = { vocab: tok.vocabSize, nEmbd: flags.embd, nHead: flags.heads, nLayer: flags.layers, nPositions: flags.context, seed: flags.seed };
  const built = buildGpt2(cfg);
  const modelPath = join(outDir, 'model.onnx');
  const logPath = join(outDir, 'training.json');
  const t0 = performance.now();
  const ep = flags.ep === 'auto' ? await resolveEp('auto') : (flags.ep as ExecutionProvider);
  const trainer = await Trainer.create(built.model, built.params, {
    lr: flags.lr, minLr: flags.minLr, warmup: flags.warmup, totalSteps: flags.steps, weightDecay: flags.weightDecay,
  }, ep);
  const nParams = trainer.values.reduce((a, v) => a + v.length, 0);
  console.log(`model: ${flags.layers} layers, width ${flags.embd}, ${flags.heads} heads, context ${flags.context}, vocab ${tok.vocabSize}: ${nParams} parameters (${(nParams * 4 / 2 ** 20).toFixed(2)} MiB f32); onnxruntime ${ep}, ${hardwareThreads()} threads`);

  const curve: (StepResult & { elapsed: number })[] = [];
  const evals: { step: number; elapsed: number; heldout: number; trainSample: number }[] = [];
  let trainSeconds = 0;
  /** seconds of earlier runs this one continues */
  let before = 0;
  const restarts: Restart[] = [];
  const previous = flags.reportOnly || flags.resume ? readPrevious(logPath, flags) : null;
  if (previous) {
    curve.push(...previous.curve);
    evals.push(...previous.evals);
    trainSeconds = before = previous.trainSeconds;
    restarts.push(...(previous.restarts ?? []).map(readRestart));
  }
  if (flags.reportOnly) {
    loadWeights(trainer, modelPath);
  } else {
    const ckptPath = join(outDir, 'checkpoint.bin');
    if (previous) {
      const step = previous.curve.length;
      const ckpt = readCheckpoint(ckptPath, trainer.params);
      if (ckpt && ckpt.step === step) trainer.restore(ckpt);
      else {
        loadWeights(trainer, modelPath);
        trainer.restore({ step, values: trainer.values });
      }
      const exact = !!ckpt && ckpt.step === step;
      const before = scheduleChanges(previous.flags, flags);
      restarts.push({ step, exact, at: new Date().toISOString(), ...(before ? { before } : {}) });
      console.log(`resume: step ${step} of ${flags.steps}, ${exact ? 'exactly (checkpoint.bin: parameters and AdamW moments)' : 'warm restart (model.onnx weights, fresh AdamW moments)'}`);
    }
    const elapsed = () => before + (performance.now() - t0) / 1000;
    const evaluate = async (step: number) => {
      const heldoutLoss = await trainer.evaluate(heldout);
      const trainSample = await trainer.evaluate(trainProbe);
      evals.push({ step, elapsed: elapsed(), heldout: heldoutLoss, trainSample });
      console.log(`  eval @${step}: held-out ${fmt(heldoutLoss)}, train sample ${fmt(trainSample)} (unigram ${fmt(unigram.crossEntropy)}) at ${hms(elapsed())}`);
    };
    const save = () => {
      writeAtomic(ckptPath, checkpointBytes(trainer));
      writeAtomic(modelPath, encodeModel(trainer.exportModel()));
      writeAtomic(logPath, JSON.stringify({ flags, curve, evals, restarts, trainSeconds: elapsed(), complete: false }) + '\n');
    };
    if (trainer.stepCount === 0) await evaluate(0);
    // the batch order of an epoch is a function of (seed, epoch): a resumed run continues the same sequence
    const epochBatches = (epoch: number) => lengthBucketedBatches(train, flags.batch, rng(flags.seed + 1 + 7919 * epoch).uniform);
    const perEpoch = epochBatches(0).length;
    let smooth = NaN, last = performance.now(), lastStep = trainer.stepCount;
    let epoch = -1, queue: LmExample[][] = [];
    for (let s = trainer.stepCount; s < flags.steps; s++) {
      if (Math.floor(s / perEpoch) !== epoch) {
        epoch = Math.floor(s / perEpoch);
        queue = epochBatches(epoch).slice(0, perEpoch - (s % perEpoch)); // batches are taken from the end
      }
      const r = await trainer.step(queue.pop()!);
      curve.push({ ...r, elapsed: elapsed() });
      smooth = Number.isNaN(smooth) ? r.loss : 0.98 * smooth + 0.02 * r.loss;
      if (!Number.isFinite(r.loss)) throw new Error(`step ${r.step}: loss is ${r.loss}`);
      if (r.step % 50 === 0 || r.step === flags.steps) {
        const rate = (r.step - lastStep) / ((performance.now() - last) / 1000);
        last = performance.now();
        lastStep = r.step;
        console.log(`step ${r.step}/${flags.steps} epoch ${epoch + 1} loss ${fmt(r.loss)} (ema ${fmt(smooth)}) |g| ${fmt(r.gradNorm, 3)} lr ${r.lr.toExponential(2)} ${hms(elapsed())} elapsed, ~${hms((flags.steps - r.step) / rate)} left`);
      }
      if (r.step % flags.evalEvery === 0 || r.step === flags.steps) await evaluate(r.step);
      if (r.step % flags.checkpointEvery === 0 || r.step % flags.evalEvery === 0 || r.step === flags.steps) save();
    }
    trainSeconds = elapsed();
  }

  // ---- final evaluation
  const e0 = performance.now();
  const lastEval = evals[evals.length - 1];
  const heldoutLoss = !flags.reportOnly && lastEval?.step === curve.length ? lastEval.heldout : await trainer.evaluate(heldout);
  // the train loss on a fixed sample of 4,096 training texts (the whole set takes minutes on these machines)
  const trainSample = [...train].map((e) => ({ e, k: pick.uniform() })).sort((a, b) => a.k - b.k).slice(0, 4096).map((x) => x.e);
  const trainLoss = await trainer.evaluate(trainSample);
  const evalSeconds = (performance.now() - e0) / 1000;
  console.log(`final: train ${fmt(trainLoss)}, held-out ${fmt(heldoutLoss)}, unigram ${fmt(unigram.crossEntropy)} nats/token (eval ${hms(evalSeconds)})`);
  const bytes = encodeModel(trainer.exportModel());
  writeAtomic(modelPath, bytes);
  await trainer.release();

  // ---- samples
  const { CausalLm } = await import('../src/runtime/generate.ts');
  const lm = await CausalLm.create(bytes);
  const prompts = ['In the beginning', 'The LORD is my shepherd', 'For God so loved the world', 'Blessed are the', 'And Jesus said unto them,'];
  const samples: { prompt: string; mode: string; text: string }[] = [];
  const complete = async (prompt: string, mode: 'greedy' | 'sample', seed: number) => {
    const ids = [eot, ...tok.encode(prompt)];
    const r = await lm.generate(ids, { maxNewTokens: 48, eotId: eot, ...(mode === 'greedy' ? {} : { strategy: 'sample' as const, temperature: 0.8, topK: 40, seed }) });
    const text = prompt + tok.decode(r.tokens);
    samples.push({ prompt, mode: mode === 'greedy' ? 'greedy' : `sampled (temperature 0.8, top-k 40, seed ${seed})`, text });
    console.log(`[${mode}] ${text}`);
  };
  for (const p of prompts) await complete(p, 'greedy', 0);
  for (const [i, p] of prompts.entries()) await complete(p, 'sample', 100 + i);
  await complete('', 'sample', 7);
  await lm.release();

  const log = {
    flags, config: cfg, ep, tokensSeen: curve.reduce((a, c) => a + c.tokens, 0), parameters: nParams, modelBytes: bytes.length, threads: hardwareThreads(),
    data: {
      sources, texts: rows.length, train: train.length, heldout: heldout.length, trainTokens: count(train), heldoutTokens: count(heldout), truncated,
      format: '[EOT] + encode(text) + [EOT], truncated to the context length; loss over every position after the first',
      split: `held out iff fnv1a32(utf8(id)) % 100 < ${flags.heldoutPercent}`,
    },
    unigram, final: { trainLoss, heldoutLoss, trainSeconds, evalSeconds, steps: curve.length },
    curve, evals, restarts, samples, trainSeconds, complete: true,
  };
  writeAtomic(logPath, JSON.stringify(log) + '\n');
  writeAtomic(join(outDir, 'loss.csv'), 'step,elapsed_s,lr,batch_loss,grad_norm,tokens,heldout_loss,train_sample_loss\n' + curve.map((c) => {
    const ev = evals.find((e) => e.step === c.step);
    return [c.step, c.elapsed.toFixed(1), c.lr.toExponential(4), c.loss.toFixed(5), c.gradNorm.toFixed(4), c.tokens, ev ? ev.heldout.toFixed(5) : '', ev ? ev.trainSample.toFixed(5) : ''].join(',');
  }).join('\n') + '\n');
  // the verse evaluation (scripts/eval_demo.ts) belongs to the model: kept only while the model is the same
  const cardPath = join(outDir, 'README.md');
  const oldCard = flags.reportOnly ? readFileSync(cardPath, 'utf8') : '';
  const section = existingEvalSection(oldCard);
  writeAtomic(cardPath, modelCard(log, flags, bytes.length) + (section ? `\n${section}\n` : `\nVerse evaluation: run \`npm run eval:demo\` (needs the index, \`npm run index:demo\`).\n`));
  console.log(`wrote ${relative(ROOT, outDir)}/{model.onnx,training.json,loss.csv,heldout.json,README.md}`);
}

/** Where the held-out loss was lowest, when training went on past it (a note for the card; '' otherwise). */
export function overfitNote(evals: { step: number; heldout: number }[], steps: number): string {
  if (!evals.length) return '';
  const best = evals.reduce((a, e) => (e.heldout < a.heldout ? e : a));
  if (best.step >= steps) return '';
  return `\nThe held-out loss was lowest at step ${best.step} (${fmt(best.heldout)}); training went on past it on purpose: the demo
attributes the model's output to its training texts, so it is trained to recall them (see the verse evaluation),
not to generalise. A model for new text would stop near step ${best.step}.
`;
}

function command(flags: Flags): string {
  const diff = (Object.keys(DEFAULTS) as (keyof Flags)[]).filter((k) => !['reportOnly', 'resume', 'checkpointEvery', 'ep'].includes(k) && flags[k] !== DEFAULTS[k]);
  return ['npx tsx scripts/train_demo.ts', ...diff.map((k) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}${typeof flags[k] === 'boolean' ? '' : ' ' + flags[k]}`)].join(' ');
}

/**
 * The commands that reproduce a run, its restarts included: a restart that changed the schedule (--steps, --lr, ...)
 * or was a warm restart (fresh AdamW moments) changes the result, so each such segment is one command; an exact
 * resume with the same schedule is the same as not stopping, and is left out.
 */
export function reproduceCommands(flags: Flags, restarts: SavedRestart[]): string[] {
  const cuts = restarts.map(readRestart).filter((r) => !r.exact || r.before !== undefined);
  if (!cuts.length) return [command(flags)];
  // the flags in effect in each segment, from the last one back
  const seg: Flags[] = new Array(cuts.length + 1);
  seg[cuts.length] = flags;
  for (let i = cuts.length - 1; i >= 0; i--) seg[i] = { ...seg[i + 1], ...cuts[i].before };
  // a segment that ended before its --steps was stopped by hand (at a checkpoint); one that ran to its end was not
  const stop = (at: number, total: number, first: boolean) => (at < total ? `   # stop it after step ${at}${first ? ' (a checkpoint every 250 steps)' : ''}` : '');
  const out = [`${command(seg[0])}${stop(cuts[0].step, seg[0].steps, true)}`];
  const ckpt = join(flags.out, 'checkpoint.bin');
  cuts.forEach((c, i) => {
    if (!c.exact) out.push(`rm ${ckpt}   # step ${c.step} was a warm restart (fresh AdamW moments)`);
    const next = cuts[i + 1];
    out.push(`${command(seg[i + 1])} --resume${next ? stop(next.step, seg[i + 1].steps, false) : ''}`);
  });
  return out;
}

/** "changing --steps from 10000, --lr from 0.002" for a restart's changed schedule flags */
function describeChanges(before: Partial<Schedule>): string {
  const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  return 'changing ' + Object.entries(before).map(([k, v]) => `${flag(k)} from ${v}`).join(', ') + ' (the learning-rate schedule recomputed)';
}

interface Log {
  config: Gpt2Config;
  ep: string;
  restarts: Restart[];
  tokensSeen: number;
  parameters: number;
  threads: number;
  data: { sources: string[]; texts: number; train: number; heldout: number; trainTokens: number; heldoutTokens: number; truncated: number };
  unigram: { trainEntropy: number; crossEntropy: number };
  final: { trainLoss: number; heldoutLoss: number; trainSeconds: number; evalSeconds: number; steps: number };
  evals: { step: number; elapsed: number; heldout: number; trainSample: number }[];
  samples: { prompt: string; mode: string; text: string }[];
}

function modelCard(log: Log, flags: Flags, size: number): string {
  const c = log.config, f = log.final, u = log.unigram;
  const ppl = (x: number) => Math.exp(x).toFixed(1);
  const quote = (s: string) => s.replace(/\n/g, ' ').replace(/\|/g, '\\|');
  return `# Demo model: a small GPT-2-style LM trained on the KJV

Generated by \`scripts/train_demo.ts\` (this file too, together with the numbers in it). Reproduce:

\`\`\`sh
${reproduceCommands(flags, log.restarts).join('\n')}
\`\`\`

Deterministic: the initial weights come from \`--seed ${flags.seed}\` (mulberry32, src/train/gpt2.ts), the split from a
hash of each id, the batch order from seed ${flags.seed + 1}. Bitwise identity across machines is not promised
(onnxruntime-web's threaded kernels may sum in a different order with another thread count; here ${log.threads}).

## Files
- \`model.onnx\` (${(size / 2 ** 20).toFixed(2)} MiB): opset 17, input \`input_ids\` int64 [batch, sequence <= ${c.nPositions}], output
  \`logits\` float32 [batch, sequence, ${c.vocab}]. No attention mask input: attention is causal, so right padding never
  affects real positions. Metadata \`context_length\` = ${c.nPositions}. Built by \`buildGpt2\` (src/train/gpt2.ts); node
  names follow torch.onnx's scoping (\`/h.0/attn/c_attn/MatMul\`, ..., \`/lm_head/MatMul\`).
- \`training.json\`: flags, config, data statistics, the per-step curve, periodic evaluations, final losses, samples.
- \`loss.csv\`: per step: elapsed seconds, learning rate, batch loss, gradient norm, tokens; held-out and train-sample
  loss at the evaluation steps.
- \`heldout.json\`: the ${log.data.heldout} held-out ids (the rule below derives the same list).

## Model
GPT-2 architecture (pre-LayerNorm blocks, GELU (tanh) MLP of width ${4 * c.nEmbd}, learned positions, untied LM head):
${c.nLayer} layers, width ${c.nEmbd}, ${c.nHead} heads, context ${c.nPositions} tokens, vocabulary ${c.vocab} (the byte-level BPE
\`public/tokenizer/kjv-bpe.json\`; \`<|endoftext|>\` = ${c.vocab - 1}). ${log.parameters.toLocaleString('en-US')} parameters, float32.

## Data and split
- Texts: ${log.data.sources.map((s) => `public/corpus/${s}`).join(', ')} (${log.data.texts} texts; provenance in public/corpus/README.md).
- **Split, stable by id**: a text is held out iff \`fnv1a32(utf8(id)) % 100 < ${flags.heldoutPercent}\` (32-bit FNV-1a;
  \`isHeldOut(id)\` in src/train/data.ts). **Training set = every other text**: ${log.data.train} texts
  (${log.data.trainTokens.toLocaleString('en-US')} predicted tokens); held out: ${log.data.heldout} texts (${log.data.heldoutTokens.toLocaleString('en-US')} predicted tokens).
  The attribution index is built over exactly the training set.
- **Example format**: \`[EOT] + tokenizer.encode(text) + [EOT]\`, truncated to the first ${c.nPositions} tokens
  (\`formatExample\` in src/train/data.ts; ${log.data.truncated} texts are longer and lose their end). EOT opens each example as a
  start mark and closes it, so generation from \`[EOT] + encode(prompt)\` is in distribution and stops at the end of a
  verse. The loss is next-token cross-entropy at every position after the first (the text's tokens and the closing EOT).

## Training
AdamW (beta1 0.9, beta2 0.95, eps 1e-8, weight decay ${flags.weightDecay} on matrices only), learning rate ${flags.lr} with
${flags.warmup} warmup steps and cosine decay to ${flags.minLr}, gradient-norm clipping at 1, batches of ${flags.batch} texts
(length-bucketed: shuffled, sorted by length within pools of 32 batches, batches shuffled), ${f.steps} steps
(${(f.steps * flags.batch / log.data.train).toFixed(2)} epochs). Gradients come from the project's own
reverse-mode ONNX autograd (src/autograd/) run in ${log.ep === 'native' ? 'onnxruntime-node (native CPU' : 'onnxruntime-web (wasm'}, ${log.threads} threads${log.restarts.length ? '; the last run' : ''}) on a 2-core CPU machine.
Training took **${hms(f.trainSeconds)}** of wall time (periodic evaluations included; ${log.tokensSeen.toLocaleString('en-US')} predicted
tokens, ${Math.round(log.tokensSeen / f.trainSeconds).toLocaleString('en-US')} per second overall); the final evaluation ${hms(f.evalSeconds)}. Wall time
depends on what else shares the cores.${log.restarts.length ? ` The run was resumed ${log.restarts.length === 1 ? 'once' : `${log.restarts.length} times`} (${log.restarts.map((r) => `at step ${r.step}, ${r.exact ? 'exactly from checkpoint.bin' : 'warm restart from model.onnx'}${r.before ? `, ${describeChanges(r.before)}` : ''}`).join('; ')}).` : ''}${flags.reportOnly ? ' (Losses and samples in this card were recomputed with --report-only from the saved model.)' : ''}

## Results (nats per predicted token)
| | loss | perplexity |
|---|---|---|
| training set (final; a fixed sample of 4,096 of its texts) | ${fmt(f.trainLoss)} | ${ppl(f.trainLoss)} |
| **held-out set** | **${fmt(f.heldoutLoss)}** | ${ppl(f.heldoutLoss)} |
| unigram baseline on the held-out set | ${fmt(u.crossEntropy)} | ${ppl(u.crossEntropy)} |
| uniform over the vocabulary | ${fmt(Math.log(c.vocab))} | ${c.vocab} |

The unigram baseline is the training set's distribution of predicted tokens (add-one smoothed), scored on the same
held-out predicted tokens as the model (\`unigramBaseline\` in src/train/data.ts; its entropy on the training set is
${fmt(u.trainEntropy)}).

Held-out loss during training:

| step | elapsed | held-out | train sample (512 texts) |
|---|---|---|---|
${log.evals.map((e) => `| ${e.step} | ${hms(e.elapsed)} | ${fmt(e.heldout)} | ${fmt(e.trainSample)} |`).join('\n')}
${overfitNote(log.evals, f.steps)}

## Samples
Prompts are fed as \`[EOT] + encode(prompt)\`; up to 48 new tokens, stopping at EOT (src/runtime/generate.ts).

| decoding | text |
|---|---|
${log.samples.map((s) => `| ${s.mode} | ${quote(s.text || '(empty)')} |`).join('\n')}

## Licence
The weights are derived from the corpus (see public/corpus/README.md for its provenance and licences).
`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exit(1);
  });
}
