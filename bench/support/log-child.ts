// One logging run in its own process (bench/vs-torch.ts runs it interleaved with PyTorch), so that its peak
// resident set is its own: loads the model, logs the examples into a memory store, prints one JSON line.
//   npx tsx bench/support/log-child.ts --model M.onnx --data D.jsonl --k 64 [--ep native|wasm] [--threads 2] [--batch 8]
import { readFileSync } from 'node:fs';
import { createEngine } from '../../src/logra/mod.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { ExecutionProvider } from '../../src/runtime/ort.ts';
import { exit, opt } from './common.ts';

const modelPath = opt('--model')!, dataPath = opt('--data')!;
const k = Number(opt('--k') ?? 16);
const ep = (opt('--ep') ?? 'native') as ExecutionProvider;
const threads = Number(opt('--threads') ?? 2);
const batch = Number(opt('--batch') ?? 8);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const examples = readFileSync(dataPath, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { id: string; input_ids: number[] });
const tokens = examples.reduce((a, e) => a + e.input_ids.length, 0);
const engine = await createEngine({ backend: 'cpu', ep, threads, kernels: { cpuRuntime: ep === 'wasm' ? 'wasm' : 'native' } });
let t = performance.now();
/** the model file as a view of what was read (nothing here keeps it: the engine holds the weights once, in its session) */
const read = () => {
  const b = readFileSync(modelPath);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
};
const model = await engine.loadModel(read(), { source: modelPath, reload: async () => ({ bytes: read() }) });
const loadS = (performance.now() - t) / 1000;
const c0 = cpu();
t = performance.now();
await engine.log(model, examples, { store: new MemoryStore(), kIn: k, kOut: k, batchSize: batch, hessian: 'raw' });
const logS = (performance.now() - t) / 1000;
const cpuS = cpu() - c0;
console.log(JSON.stringify({ ep, k, threads, tokens, loadS, seconds: logS, tokensPerS: tokens / logS, cpuS, tokensPerCpuS: tokens / cpuS, peakRssMiB: process.resourceUsage().maxRSS / 1024, backend: engine.backend.description }));
exit(0);
