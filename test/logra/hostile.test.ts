// Hostile and careless values: each is rejected with an error naming the example (id and line) and the fix, or
// handled so that the index stays right (non-finite rows left out of their batch; changed content re-logged only
// when asked). Node, CPU backend.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { createEngine, type Engine } from '../../src/logra/engine.ts';
import type { LoadedModel } from '../../src/logra/model.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { parseJsonl, DataFormatError } from '../../src/io/jsonl.ts';
import { ExampleError, NonFiniteGradientError, runExamples } from '../../src/logra/examples.ts';
import { ContentChangedError } from '../../src/logra/resume.ts';
import { DataError } from '../../src/logra/log.ts';
import { UsageError, intFlag } from '../../src/cli/args.ts';
import type { ClassExample, Example, LmExample } from '../../src/runtime/batch.ts';
import type { TapModel } from '../../src/runtime/taps.ts';
import type { LogOptions } from '../../src/logra/types.ts';
import { randomSequences } from '../support/data.ts';
import { scoreDiff } from '../support/faults.ts';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${name}/model.onnx`, import.meta.url)));
let engine: Engine;
let lm: LoadedModel;
let mlp: LoadedModel;
const base: Omit<LogOptions, 'store'> = { kIn: 4, kOut: 4, hessian: 'raw', batchSize: 4, flushMs: 0 };
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n');

beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
  lm = await engine.loadModel(fixture('gpt2_linear_erf_op17_mask_pos_tied'));
  mlp = await engine.loadModel(fixture('mlp_classifier'));
});
afterAll(async () => {
  await lm.release();
  await mlp.release();
  engine.dispose();
});

const cls = (n: number, seed = 1): ClassExample[] => Array.from({ length: n }, (_, i) => ({ id: `c${i}`, input: Array.from({ length: 12 }, (_, j) => Math.sin(seed * 31 + i * 7 + j)), label: i % 3 }));

describe('data files', () => {
  it('rows without "id", with a bad id, or with inputs that are infinite in float32 are errors naming the line', () => {
    expect(() => parseJsonl('{"id":"a","input_ids":[1,2]}\n{"input_ids":[3]}', 'd.jsonl')).toThrow(/d\.jsonl:2: no "id"/);
    expect(() => parseJsonl('{"id":{"x":1},"input_ids":[1,2]}', 'd.jsonl')).toThrow(/d\.jsonl:1: "id" must be a non-empty string or a finite number/);
    expect(() => parseJsonl('{"id":"a","input":[1,1e39],"label":0}', 'd.jsonl')).toThrow(DataFormatError);
    expect(() => parseJsonl('{"id":"a","input":[1,1e39],"label":0}', 'd.jsonl')).toThrow(/d\.jsonl:1: input\[1\] = 1e\+39: .*finite in float32/);
  });

  it('--batch beyond what a run can take is a usage error, and the API refuses it before allocating', async () => {
    expect(() => intFlag('1e9', 'batch', 8, 1, 65536)).toThrow(UsageError);
    expect(() => intFlag('1e9', 'batch', 8, 1, 65536)).toThrow(/--batch must be an integer from 1 to 65536, got "1e9"/);
    await expect(engine.log(mlp, cls(3), { ...base, batchSize: 1e9, store: new MemoryStore() })).rejects.toThrow(DataError);
  });
});

describe('the model\'s limits are checked before anything runs', () => {
  const file = jsonl([
    { id: 'fine', input_ids: [1, 2, 3] },
    { id: 'oov', input_ids: [1, 48, 2] },
    { id: 'long', input_ids: Array.from({ length: 40 }, (_, i) => i % 48) },
  ]);

  it('token ids outside the vocabulary and sequences longer than the context name the example, the line and the fix', async () => {
    const ex = parseJsonl(file, 'train.jsonl');
    const store = new MemoryStore();
    const e = await engine.log(lm, ex, { ...base, store }).catch((x) => x);
    expect(e).toBeInstanceOf(ExampleError);
    expect(e.message).toContain('2 examples cannot be run by this model');
    expect(e.message).toContain('example "oov" (train.jsonl:2) token id 48 at position 1 is outside the model\'s vocabulary of 48 (ids 0-47)');
    expect(e.message).toContain('example "long" (train.jsonl:3) has 40 tokens, the model\'s context holds 32: pass --max-len 32');
    expect(await store.readManifest()).toBeUndefined(); // nothing ran, nothing was written
    const ix = await engine.log(lm, randomSequences(6, 1), { ...base, store });
    await expect(ix.query([ex[1]], { topK: 1 })).rejects.toThrow(/query: example "oov" \(train\.jsonl:2\) token id 48/);
  });

  it('labels outside the classes and inputs of the wrong width name the example', async () => {
    const e = await engine.log(mlp, [...cls(2), { id: 'lab', input: cls(1)[0].input, label: 3 }, { id: 'wide', input: [1, 2], label: 0 }], { ...base, store: new MemoryStore() }).catch((x) => x);
    expect(e).toBeInstanceOf(ExampleError);
    expect(e.message).toContain('example "lab" label 3 is outside the model\'s 3 classes (labels 0-2)');
    expect(e.message).toContain('example "wide" has 2 input values, the model takes 12');
    const f = await engine.log(mlp, [{ id: 'inf', input: new Array(12).fill(1e39), label: 0 }], { ...base, store: new MemoryStore() }).catch((x) => x);
    expect(f.message).toMatch(/example "inf" input\[0\] = 1e\+39 is not finite in float32/);
  });

  it('a model run that fails anyway names the example it failed on (each of the batch alone)', async () => {
    const tm = {
      run: async (b: Example[]) => {
        if (b.some((e) => e.id === 'bad')) throw new Error('Non-zero status code returned while running Gather node');
        return { B: b.length } as never;
      },
    } as unknown as TapModel;
    const batch = parseJsonl(jsonl([{ id: 'a', input_ids: [1] }, { id: 'bad', input_ids: [2] }, { id: 'c', input_ids: [3] }]), 'q.jsonl');
    await expect(runExamples(tm, batch)).rejects.toThrow(/the model failed on example "bad" \(q\.jsonl:2\): Non-zero status.*--max-len/);
  });
});

describe('non-finite gradients', () => {
  it('an example whose gradient overflows is left out with its id and line; its batch is logged without it, equal to a run without it', async () => {
    const good = cls(7);
    const rows = [...good.slice(0, 2), { id: 'huge', input: new Array(12).fill(1e20), label: 1 }, ...good.slice(2)];
    const ex = parseJsonl(jsonl(rows), 'train.jsonl');
    const store = new MemoryStore();
    const e = await engine.log(mlp, ex, { ...base, store }).catch((x) => x);
    expect(e).toBeInstanceOf(NonFiniteGradientError);
    expect(e.message).toMatch(/1 example gives a non-finite gradient .* not stored: "huge" \(train\.jsonl:3\)\. Everything else was stored/);
    const ix = await engine.openIndex(store, mlp);
    expect(ix.ids().sort()).toEqual(good.map((g) => g.id).sort());
    const clean = await engine.log(mlp, good, { ...base, store: new MemoryStore() });
    const q = cls(2, 9).map((c) => ({ ...c, id: `q${c.id}` }));
    expect(scoreDiff(await ix.query(q, { topK: 0 }), await clean.query(q, { topK: 0 }))).toBeLessThanOrEqual(1e-5);
    // a rerun retries only the rejected example; with onRejected the caller takes them and nothing throws
    const seen: string[] = [];
    await engine.log(mlp, ex, { ...base, store, onRejected: (x) => seen.push(x.id) });
    expect(seen).toEqual(['huge']);
    await expect(ix.query([{ id: 'qh', input: new Array(12).fill(3e38), label: 1 }], { topK: 1 })).rejects.toThrow(/query: "qh" gives a non-finite gradient/);
  });
});

describe('content hashes', () => {
  const data = randomSequences(12, 4);
  const changed = (d: LmExample[], ids: string[]) => d.map((e) => (ids.includes(e.id) ? { ...e, input_ids: [...e.input_ids].reverse().concat([7]) } : e));

  it('a stored id with other content is an error naming it; --replace re-logs its chunk and equals a fresh index of the new data', async () => {
    const store = new MemoryStore();
    await engine.log(lm, data, { ...base, store });
    const before = await store.readManifest();
    const next = parseJsonl(jsonl(changed(data, ['s5'])), 'v2.jsonl');
    const e = await engine.log(lm, next, { ...base, store }).catch((x) => x);
    expect(e).toBeInstanceOf(ContentChangedError);
    expect(e.message).toMatch(/already stored comes with other content: "s5" \(v2\.jsonl:6\).*--replace/);
    expect(await store.readManifest()).toEqual(before);
    // --replace with only part of the data cannot re-log the rest of the chunk
    await expect(engine.log(lm, next.slice(4, 7), { ...base, store, replace: true })).rejects.toThrow(/also hold ids that are not in this data/);
    let logged = 0;
    await engine.log(lm, next, { ...base, store, replace: true, onProgress: (p) => (logged = p.done - (p.skipped ?? 0)) });
    expect(logged).toBe(4); // the chunk of s5 (batch 4, a commit per batch)
    const q = randomSequences(2, 3, 'q');
    const fresh = await engine.log(lm, next, { ...base, store: new MemoryStore() });
    expect(scoreDiff(await (await engine.openIndex(store, lm)).query(q, { topK: 0 }), await fresh.query(q, { topK: 0 }))).toBeLessThanOrEqual(1e-5);
  });
});
