// Runs bench/kernels.ts in the page (Chromium's WebGPU adapter, ORT-web's WebGPU EP on the same device, the CPU
// backend on ORT wasm with threads: the page is cross-origin isolated).
import { runKernelBench, type BenchRow } from '../../../bench/kernels.ts';

declare global {
  interface Window {
    kernelBench?: { run(quick: boolean, budgetS: number): Promise<{ header: string; markdown: string; rows: BenchRow[] }> };
  }
}

const log = document.getElementById('log')!;
window.kernelBench = {
  run: (quick, budgetS) => runKernelBench({ quick, budgetS, log: (l) => (log.textContent += `${l}\n`) }),
};
log.textContent = 'ready\n';
