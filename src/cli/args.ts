// A small, strict argument parser: --flag value, --flag=value, boolean --flags; unknown flags are errors.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** takes a value (default) or is a boolean switch */
  boolean?: boolean;
  required?: boolean;
  help: string;
}

/** `positionals`: where arguments that are not flags go (a command that takes operands); without it they are errors. */
export function parseArgs(argv: string[], spec: Record<string, FlagSpec>, command: string, positionals?: string[]): Record<string, string | boolean | undefined> {
  const out: Record<string, string | boolean | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') && positionals) {
      positionals.push(a);
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`${command}: unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf('=');
    const key = a.slice(2, eq > 0 ? eq : undefined);
    const s = spec[key];
    if (!s) throw new UsageError(`${command}: unknown option --${key}. Options: ${Object.keys(spec).map((k) => `--${k}`).join(', ')}`);
    if (s.boolean) {
      if (eq > 0) throw new UsageError(`${command}: --${key} takes no value`);
      out[key] = true;
    } else {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || (eq < 0 && v.startsWith('--'))) throw new UsageError(`${command}: --${key} needs a value`);
      out[key] = v;
    }
  }
  for (const [k, s] of Object.entries(spec)) if (s.required && out[k] === undefined) throw new UsageError(`${command}: --${k} is required (${s.help})`);
  return out;
}

export function usage(command: string, summary: string, spec: Record<string, FlagSpec>): string {
  const lines = Object.entries(spec).map(([k, s]) => `  --${k}${s.boolean ? '' : ' <value>'}${s.required ? ' (required)' : ''}\n      ${s.help}`);
  return `logra ${command}: ${summary}\n${lines.join('\n')}`;
}

export function intFlag(v: string | boolean | undefined, name: string, dflt: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `>= ${min}`}, got ${JSON.stringify(v)}`);
  return n;
}
