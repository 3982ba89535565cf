// The demo page: one <influence-explorer> configured for the bundled model, tokenizer and corpus. URL parameters
// override its attributes (handy for tests and quick demos): ?subset=64&backend=cpu&db=my-db&mode=dot&prompt=...
// The page opens in similarity (cosine) mode, not the component's default (dot): on the demo model it finds the
// verse a completion comes from far more often (public/model/README.md, verse evaluation).
// The prompt is also kept in the address's hash, #prompt=..., so that a link shares it: read on load (and when the
// hash changes), rewritten after each attribution.
import { defineInfluenceExplorer } from './element.ts';

defineInfluenceExplorer();

const params = new URLSearchParams(location.search);
const defaults: Record<string, string> = {
  'model-url': '/model/model.onnx',
  'heldout-url': '/model/heldout.json',
  'tokenizer-url': '/tokenizer/kjv-bpe.json',
  'corpus-url': '/corpus/kjv.jsonl',
  'index-url': '/index/',
  'db-name': 'kjv-demo',
  'top-k': '10',
  mode: 'cosine',
  backend: 'auto',
};
const alias: Record<string, string> = { db: 'db-name', model: 'model-url', corpus: 'corpus-url', heldout: 'heldout-url', index: 'index-url', tokenizer: 'tokenizer-url', k: 'top-k' };
const attrs = { ...defaults };
for (const [k, v] of params) {
  const name = alias[k] ?? k;
  if (/^[a-z][a-z-]*$/.test(name)) attrs[name] = v;
}
for (const [k, v] of Object.entries(attrs)) if (v === '') delete attrs[k];

/** the prompt in location.hash (#prompt=...), if any */
function hashPrompt(): string | undefined {
  return new URLSearchParams(location.hash.replace(/^#/, '')).get('prompt') ?? undefined;
}
const shared = hashPrompt();
if (shared !== undefined) attrs.prompt = shared;

async function main(): Promise<void> {
  const setup = document.getElementById('setup')!;
  // without a prebuilt index the page builds one here: over the whole training set that takes long on a CPU, so a
  // quick demo uses the first 1,000 training verses unless ?subset= says otherwise (?subset=0: all)
  if (!params.has('subset') && attrs['index-url']) {
    const r = await fetch(new URL('manifest.json', new URL(attrs['index-url'], location.href)), { method: 'HEAD' }).catch(() => undefined);
    if (!r?.ok || !/json/.test(r.headers.get('content-type') ?? '')) {
      attrs.subset = '1000';
      setup.textContent = 'No prebuilt index is served here, so this page indexes the first 1,000 training verses in your browser (?subset=0 indexes all of them, which takes long without a GPU).';
    }
  }
  const el = document.createElement('influence-explorer');
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  // a shareable address: the attributed prompt goes into the hash (replaceState: no history entry per attribution)
  el.addEventListener('result', () => {
    const hash = `#${new URLSearchParams({ prompt: el.prompt })}`;
    if (location.hash !== hash) history.replaceState(history.state, '', hash);
  });
  addEventListener('hashchange', () => {
    const p = hashPrompt();
    if (p !== undefined && p !== el.prompt) el.prompt = p;
  });
  document.getElementById('app')!.append(el);
}

void main();
