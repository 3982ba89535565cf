// The `logra` command on the wasm path says nothing on stderr: `--backend auto` (the default) looks for hardware
// adapters only, so on a GPU-less machine no WebGPU implementation (Dawn) is loaded and none of its adapter
// warnings ("Vulkan shaderUniform*ArrayDynamicIndexing required", vkEnumeratePhysicalDevices) are printed.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const M = 'test/fixtures/gpt2_linear_erf_op17_mask_pos_tied';

function logra(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/logra.js', ...args], { cwd: root, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('logra on the wasm path', () => {
  it('log and fit with the default backend write nothing on stderr when they end up on the CPU backend', async () => {
    const ix = join(mkdtempSync(join(tmpdir(), 'logra-quiet-')), 'ix');
    const log = await logra(['log', '--model', `${M}/model.onnx`, '--data', `${M}/data.jsonl`, '--index', ix, '--k-in', '4', '--k-out', '4', '--quiet']);
    expect(log.code, log.stderr).toBe(0);
    const backend = JSON.parse(log.stdout).backend as string;
    const fit = await logra(['fit', '--index', ix, '--quiet']);
    expect(fit.code, fit.stderr).toBe(0);
    // a hardware GPU (where there is one) is a legitimate choice of 'auto'; the check is about the CPU path
    if (/wasm/.test(backend)) {
      expect(log.stderr).toBe('');
      expect(fit.stderr).toBe('');
    }
  });
});
