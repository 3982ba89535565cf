// Test page logic: exposes window.harness for the Playwright specs (fixture checks on ORT's wasm / WebGPU EPs).
import { checkFixture, summary, type FixtureResult } from '../support/fixture-check.ts';
import type { ExecutionProvider } from '../../src/runtime/ort.ts';

export interface GpuInfo {
  description: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
}

export interface Harness {
  /** runs test/fixtures/<name> on an EP and returns the error report (plain JSON data) */
  runFixture(name: string, ep: ExecutionProvider): Promise<FixtureResult>;
  /** the WebGPU adapter the page gets, or null */
  gpuInfo(): Promise<GpuInfo | null>;
  crossOriginIsolated: boolean;
}

declare global {
  interface Window {
    harness?: Harness;
  }
}

const log = document.getElementById('log')!;
const say = (s: string) => {
  log.textContent += `${s}\n`;
};

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function fetchText(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${r.statusText}`);
  return r.text();
}

const harness: Harness = {
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  async runFixture(name, ep) {
    if (!/^[\w.-]+$/.test(name)) throw new Error(`bad fixture name ${JSON.stringify(name)}`);
    const dir = `/test/fixtures/${name}`;
    const [model, data, ref] = await Promise.all([fetchBytes(`${dir}/model.onnx`), fetchText(`${dir}/data.jsonl`), fetchBytes(`${dir}/ref.safetensors`)]);
    const res = await checkFixture({ name, model, data, ref }, ep);
    say(summary(res));
    return res;
  },
  async gpuInfo() {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return null;
    const i = a.info;
    return { description: i.description, vendor: i.vendor, architecture: i.architecture, isFallbackAdapter: (i as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false };
  },
};

window.harness = harness;
say(`ready (crossOriginIsolated: ${harness.crossOriginIsolated})`);
