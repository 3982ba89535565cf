// Runs the Node `logra` CLI (bin/logra.js) from the repository root: exit code, stdout, stderr.
import { execFile } from 'node:child_process';
import { env as processEnv } from 'node:process';

const root = new URL('../..', import.meta.url).pathname;

/** `env`: variables added to (or, when undefined, removed from) the child's environment. */
export function logra(args: string[], timeout = 180_000, env?: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv = env ? Object.fromEntries(Object.entries({ ...processEnv, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string> : undefined;
  return new Promise((resolve) => {
    execFile('node', ['bin/logra.js', ...args], { cwd: root, timeout, env: childEnv }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
