// The `logra` command (Node and Deno): dispatches subcommands, prints errors as one clear line.
import { argv as nodeArgv, exit, stdout, stderr } from 'node:process';
import { gradsCommand, gradsSpec } from './commands/grads.ts';
import { logCommand, logSpec } from './commands/log.ts';
import { fitCommand, fitSpec } from './commands/fit.ts';
import { queryCommand, querySpec } from './commands/query.ts';
import { selfCommand, selfSpec } from './commands/self.ts';
import { infoCommand, infoSpec } from './commands/info.ts';
import { verifyCommand, verifySpec } from './commands/verify.ts';
import { repairCommand, repairSpec } from './commands/repair.ts';
import { UsageError, usage, type FlagSpec } from './args.ts';

const COMMANDS: Record<string, { summary: string; spec: Record<string, FlagSpec>; run: (argv: string[]) => Promise<unknown> }> = {
  log: { summary: 'log projected per-example gradients of a training set into an index (resumable)', spec: logSpec, run: logCommand },
  fit: { summary: 'fit the damped Hessian approximation and self-influences of an index', spec: fitSpec, run: fitCommand },
  query: { summary: 'influence of every logged example on query examples (scores.json)', spec: querySpec, run: queryCommand },
  self: { summary: 'self-influence of every logged example (self.json)', spec: selfSpec, run: selfCommand },
  info: { summary: 'what an index holds (and a cheap check of it); export its projections as safetensors', spec: infoSpec, run: infoCommand },
  verify: { summary: 'check every byte of an index; exit 1 naming each damaged chunk or blob', spec: verifySpec, run: verifyCommand },
  repair: { summary: 'drop damaged chunks and fits from an index, so that log re-logs exactly those ids', spec: repairSpec, run: repairCommand },
  grads: { summary: 'per-example weight gradients of every tapped linear layer (JSON)', spec: gradsSpec, run: gradsCommand },
};

function help(): string {
  return ['usage: logra <command> [options]', '', 'commands:', ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(8)} ${c.summary}`), '', 'logra <command> --help for its options'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    stdout.write(help() + '\n');
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    stderr.write(`logra: unknown command ${JSON.stringify(cmd)}\n${help()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    stdout.write(usage(cmd, c.summary, c.spec) + '\n');
    return 0;
  }
  try {
    await c.run(rest);
    return 0;
  } catch (e) {
    const err = e as Error;
    stderr.write(`logra ${cmd}: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const args = isDeno ? (globalThis as unknown as { Deno: { args: string[] } }).Deno.args : nodeArgv.slice(2);
main(args).then((code) => exit(code));
