// The `logra` command (Node and Deno): dispatches subcommands, prints errors as one clear line.
// A command's module (and with it the engine, onnxruntime-web, WebGPU) is imported only when that command runs or
// its options are asked for, so `logra --help` loads nothing but this file and args.ts.
//   Node: bin/logra.js calls main(); Deno: `deno run -A src/cli/main.ts <command> ...` (or jsr:.../cli) runs it as
//   the main module; importing `logra-web/cli` runs nothing.
import { argv as nodeArgv, exit, stdout, stderr } from 'node:process';
import { UsageError, usage, type FlagSpec } from './args.ts';

interface CommandModule {
  spec: Record<string, FlagSpec>;
  /** the synopsis of a command that takes operands */
  usage?: string;
  run: (argv: string[]) => Promise<unknown>;
}

interface Command {
  summary: string;
  load: () => Promise<CommandModule>;
}

/** A command whose module is imported on first use. */
function lazy<M>(summary: string, load: () => Promise<M>, pick: (m: M) => CommandModule): Command {
  return { summary, load: () => load().then(pick) };
}

const COMMANDS: Record<string, Command> = {
  log: lazy('log projected per-example gradients of a training set into an index (resumable)', () => import('./commands/log.ts'), (m) => ({ spec: m.logSpec, run: m.logCommand })),
  merge: lazy('one index of the shard indexes `log --shard i/n` wrote (shares their files: no copy)', () => import('./commands/merge.ts'), (m) => ({ spec: m.mergeSpec, run: m.mergeCommand, usage: m.mergeUsage })),
  fit: lazy('fit the damped Hessian approximation and self-influences of an index', () => import('./commands/fit.ts'), (m) => ({ spec: m.fitSpec, run: m.fitCommand })),
  query: lazy('influence of every logged example on query examples (scores.json)', () => import('./commands/query.ts'), (m) => ({ spec: m.querySpec, run: m.queryCommand })),
  self: lazy('self-influence of every logged example (self.json)', () => import('./commands/self.ts'), (m) => ({ spec: m.selfSpec, run: m.selfCommand })),
  info: lazy('what an index holds (and a cheap check of it); export its projections as safetensors', () => import('./commands/info.ts'), (m) => ({ spec: m.infoSpec, run: m.infoCommand })),
  verify: lazy('check every byte of an index; exit 1 naming each damaged chunk or blob', () => import('./commands/verify.ts'), (m) => ({ spec: m.verifySpec, run: m.verifyCommand })),
  repair: lazy('drop damaged chunks and fits from an index, so that log re-logs exactly those ids', () => import('./commands/repair.ts'), (m) => ({ spec: m.repairSpec, run: m.repairCommand })),
  grads: lazy('per-example weight gradients of every tapped linear layer (JSON)', () => import('./commands/grads.ts'), (m) => ({ spec: m.gradsSpec, run: m.gradsCommand })),
};

/** The command names, in the order `logra --help` lists them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

function help(): string {
  return ['usage: logra <command> [options]', '', 'commands:', ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(8)} ${c.summary}`), '', 'logra <command> --help for its options'].join('\n');
}

/** Runs one `logra` command line (without the program name); resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
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
  try {
    const m = await c.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      stdout.write((m.usage ? `${m.usage}\n` : '') + usage(cmd, c.summary, m.spec) + '\n');
      return 0;
    }
    await m.run(rest);
    return 0;
  } catch (e) {
    const err = e as Error;
    stderr.write(`logra ${cmd}: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

/** The process's command line (Deno.args in Deno), runs it and exits with its code. */
export async function runCli(): Promise<never> {
  const deno = (globalThis as { Deno?: { args: string[] } }).Deno;
  return exit(await main(deno ? deno.args : nodeArgv.slice(2)));
}

// Deno (and Node 24+) mark the module started from the command line; bin/logra.js calls runCli() itself.
if ((import.meta as ImportMeta & { main?: boolean }).main) await runCli();
