// Runs bench/pipeline.ts in the page: ORT wasm with threads (the page is cross-origin isolated) for the model runs,
// the chosen kernel backend (cpu, or webgpu on Chromium's adapter), stores in memory.
import { runPipelineBench, type PipelineBenchOptions } from '../../../bench/pipeline.ts';

declare global {
  interface Window {
    pipelineBench?: { run(o: PipelineBenchOptions): Promise<{ header: string; markdown: string; json: Record<string, unknown> }> };
  }
}

const log = document.getElementById('log')!;
window.pipelineBench = {
  run: (o) => runPipelineBench({ ...o, log: (l) => (log.textContent += `${l}\n`) }),
};
log.textContent = 'ready\n';
