// Runs the LDS suite (bench/support/lds-run.ts) in the page: the corpus is fetched from the dev server
// (public/corpus/kjv.jsonl), ORT wasm runs the model, the CPU kernel backend the linear algebra, stores in memory.
import { runLds, type LdsOptions, type LdsResult } from '../../../bench/support/lds-run.ts';

declare global {
  interface Window {
    ldsBench?: { run(o: Omit<LdsOptions, 'log' | 'corpus'>): Promise<LdsResult> };
  }
}

const log = document.getElementById('log')!;
window.ldsBench = {
  run: async (o) => {
    const r = await fetch('/corpus/kjv.jsonl');
    if (!r.ok) throw new Error(`corpus: HTTP ${r.status}`);
    return runLds({ ...o, corpus: await r.text(), log: (l) => (log.textContent += `${l}\n`) });
  },
};
log.textContent = 'ready\n';
