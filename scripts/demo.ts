// The main job: serves the explorer on 127.0.0.1 over the bundled model, corpus and prebuilt index (public/index/,
// committed with the model), and prints where to open it. Only when public/index/ is missing, incomplete or made
// for another model (a retrained public/model/) is it built first (progress with ETA; Ctrl-C and rerun resumes).
// Stop with Ctrl-C.
//
//   npm run demo                    # port 5173 (DEMO_PORT overrides)
//   npm run demo -- --no-index      # serve at once; the page then indexes the first 1,000 verses itself
import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'vite';
import { buildDemoIndex, completeIndex, demoModelSha256, demoTrainingRows, root } from './build_demo_index.ts';
import type { Manifest } from '../src/store/store.ts';

const port = Number(process.env.DEMO_PORT ?? 5173);
const skipIndex = process.argv.includes('--no-index');

if (!skipIndex) {
  const manifest = await readFile(`${root}public/index/manifest.json`, 'utf8').then((t) => JSON.parse(t) as Manifest, () => undefined);
  const ids = (await demoTrainingRows()).map((r) => r.id);
  const sha = await demoModelSha256();
  if (completeIndex(manifest, ids, sha)) {
    console.log(`demo: public/index/ holds the fitted index of all ${ids.length} training texts for this model`);
  } else {
    const why = !manifest ? 'there is none' : manifest.settings.modelSha256 !== sha ? 'the one there was made for another model' : 'the one there is incomplete';
    console.log(`demo: building the explorer's index of ${ids.length} training texts into public/index/ (${why}; progress and ETA below; Ctrl-C and rerun resumes)`);
    // an index of another model cannot be continued: it goes (it is derived from the committed files: `git checkout
    // public/index` restores the one made for the committed model)
    if (manifest && manifest.settings.modelSha256 !== sha) {
      console.log(`demo: removing public/index/ (made for model ${manifest.settings.modelSha256.slice(0, 12)}, this one is ${sha.slice(0, 12)})`);
      await rm(`${root}public/index`, { recursive: true, force: true });
    }
    console.log(JSON.stringify(await buildDemoIndex()));
  }
}

process.env.VITE_PORT = String(port); // vite.config.ts reads it
const server = await createServer({ configFile: `${root}vite.config.ts`, server: { port, host: '127.0.0.1', strictPort: true } });
await server.listen();
const url = `http://127.0.0.1:${port}/`;
console.log(`\ndemo: the influence explorer is at ${url}  (the <influence-explorer> embedding example: ${url}embed-example.html); up ${(performance.now() / 1000).toFixed(1)} s after start`);
console.log('demo: Chromium or another browser with WebGPU runs it on the GPU; elsewhere it falls back to the CPU. Ctrl-C stops.');
