// The benchmark page: the suites run in Chromium, each loaded when a spec calls it (kernels-bench.spec.ts,
// pipeline-bench.spec.ts, bench-smoke.spec.ts). ORT wasm runs with threads (the page is cross-origin isolated).
import type { LdsOptions, LdsResult } from '../../../bench/support/lds-run.ts';
import type { PipelineBenchOptions } from '../../../bench/pipeline.ts';
import type { BenchRow } from '../../../bench/kernels.ts';

declare global {
  interface Window {
    /** LDS (bench/support/lds-run.ts): the corpus is fetched from the dev server, stores in memory */
    ldsBench?: { run(o: Omit<LdsOptions, 'log' | 'corpus'>): Promise<LdsResult> };
    /** bench/pipeline.ts: the chosen kernel backend (cpu, or webgpu on Chromium's adapter), stores in memory */
    pipelineBench?: { run(o: PipelineBenchOptions): Promise<{ header: string; markdown: string; json: Record<string, unknown> }> };
    /** bench/kernels.ts: Chromium's WebGPU adapter, ORT-web's WebGPU EP on the same device, the CPU backend */
    kernelBench?: { run(quick: boolean, budgetS: number): Promise<{ header: string; markdown: string; rows: BenchRow[] }> };
  }
}

const log = document.getElementById('log')!;
const line = (l: string) => (log.textContent += `${l}\n`);
window.ldsBench = {
  run: async (o) => {
    const { runLds } = await import('../../../bench/support/lds-run.ts');
    const r = await fetch('/corpus/kjv.jsonl');
    if (!r.ok) throw new Error(`corpus: HTTP ${r.status}`);
    return runLds({ ...o, corpus: await r.text(), log: line });
  },
};
window.pipelineBench = {
  run: async (o) => (await import('../../../bench/pipeline.ts')).runPipelineBench({ ...o, log: line }),
};
window.kernelBench = {
  run: async (quick, budgetS) => (await import('../../../bench/kernels.ts')).runKernelBench({ quick, budgetS, log: line }),
};
log.textContent = 'ready\n';

declare global {
  interface Window {
    /** bench/scale.ts: GPT-2-small's shape fetched from the dev server (/bench/models/gpt2-small.onnx) */
    scaleBench?: { run(o: { examples?: number; tokens?: number; queries?: number; k?: number }): Promise<{ markdown: string; json: Record<string, unknown> }> };
  }
}
window.scaleBench = {
  run: async (o) => {
    const { runScaleBench } = await import('../../../bench/scale.ts');
    const model = async () => {
      const r = await fetch('/bench/models/gpt2-small.onnx');
      if (!r.ok) throw new Error(`/bench/models/gpt2-small.onnx: HTTP ${r.status} (make it: /usr/bin/python3 bench/make_models.py gpt2-small)`);
      return new Uint8Array(await r.arrayBuffer());
    };
    const perf = performance as Performance & { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }>; memory?: { usedJSHeapSize: number } };
    const memory = async () => {
      if (perf.measureUserAgentSpecificMemory && crossOriginIsolated) return { bytes: (await perf.measureUserAgentSpecificMemory()).bytes, what: 'measureUserAgentSpecificMemory (JS + wasm)' };
      return { bytes: perf.memory?.usedJSHeapSize ?? 0, what: 'JS heap only' };
    };
    return runScaleBench({ ...o, load: async (engine) => engine.loadModel(await model(), { source: 'gpt2-small.onnx', reload: async () => ({ bytes: await model() }) }), memory, log: line, runtime: `Chromium ${navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? ''} (page, ${crossOriginIsolated ? 'cross-origin isolated' : 'not isolated'})` });
  },
};

declare global {
  interface Window {
    /** bench/gpu.ts: Chromium's adapter (a hardware one with E2E_WEBGPU_ADAPTER=default; software refused unless asked) */
    gpuBench?: { run(o: { software?: boolean; rows?: number; queries?: number }): Promise<{ header: string; markdown: string; json: Record<string, unknown>; code: number }> };
  }
}
window.gpuBench = {
  run: async (o) => (await import('../../../bench/gpu.ts')).runGpuBench({ ...o, log: line }),
};
