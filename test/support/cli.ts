// Runs the Node `logra` CLI (bin/logra.js) from the repository root: exit code, stdout, stderr.
import { execFile } from 'node:child_process';

const root = new URL('../..', import.meta.url).pathname;

export function logra(args: string[], timeout = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/logra.js', ...args], { cwd: root, timeout }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
