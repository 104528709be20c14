/**
 * The contract every securestack command keeps, and the parts they share: flags declared once
 * (parsed by Node's parseArgs, printed by the help, offered by shell completion), kubectl-style
 * help, and the exit codes.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Documented in docs/cli.md; CI pipelines branch on them. */
export const exitCodes = { clean: 0, violations: 1, usage: 2 } as const;

/** A mistake in the command line or its inputs: exit 2 with a hint to --help. */
export class UsageError extends Error {}

export interface Flag {
  long: string;
  short?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  default?: string | boolean;
  /** One line or more for --help. */
  help: string;
  /** The values the shell completes, and the only ones accepted (in any case). Not with `multiple`. */
  choices?: readonly string[];
  /** The shell completes file names for this flag's value. */
  files?: boolean;
}

/** A command's flags after parsing, read by name. */
export class Parsed {
  constructor(
    private readonly values: Record<string, string | boolean | Array<string | boolean> | undefined>,
    readonly positionals: string[],
  ) {}

  string(long: string): string {
    const value = this.values[long];
    return typeof value === 'string' ? value : '';
  }

  strings(long: string): string[] {
    const value = this.values[long];
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  }

  flag(long: string): boolean {
    return this.values[long] === true;
  }

  /** A string flag given on the command line or defaulted, or undefined. */
  optional(long: string): string | undefined {
    const value = this.values[long];
    return typeof value === 'string' && value !== '' ? value : undefined;
  }
}

export interface Command {
  /** Words after `securestack`: "audit", "sbom diff". */
  name: string;
  /** One line, for the command list. */
  summary: string;
  /** Paragraphs for --help. */
  description: string;
  /** The synopsis after "Usage:". */
  usage: string;
  examples: ReadonlyArray<readonly [comment: string, line: string]>;
  flags: readonly Flag[];
  /** Completion of positional arguments: file names, or a list of words. */
  completeArgs?: 'files' | (() => readonly string[]);
  run(parsed: Parsed): Promise<number>;
}

/**
 * The flags of every command that reads the cluster (here, not in cluster.ts, so that declaring
 * them does not load the Kubernetes client: `audit` starts without it).
 */
export const clusterFlags: readonly Flag[] = [
  { long: 'kubeconfig', type: 'string', help: 'Path to the kubeconfig file to use (default $KUBECONFIG, then ~/.kube/config).', files: true },
  { long: 'context', type: 'string', help: 'The name of the kubeconfig context to use (default its current context).' },
];


/** Flags every command takes. */
export const helpFlag: Flag = { long: 'help', short: 'h', type: 'boolean', help: 'Help for this command.' };

export function allFlags(command: Pick<Command, 'flags'>): readonly Flag[] {
  return [...command.flags, helpFlag];
}

/** Parses argv with the command's flags; unknown flags and values outside `choices` are usage errors. */
export function parseFlags(command: Pick<Command, 'name' | 'flags'>, argv: readonly string[]): Parsed {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const flag of allFlags(command)) {
    options[flag.long] = {
      type: flag.type,
      ...(flag.short ? { short: flag.short } : {}),
      ...(flag.multiple ? { multiple: true } : {}),
      ...(flag.default !== undefined ? { default: flag.default } : {}),
    };
  }
  const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  for (const flag of command.flags) {
    const given = values[flag.long];
    if (!flag.choices || typeof given !== 'string') continue;
    // Case does not matter (--fail-on HIGH); the command reads the choice as declared.
    const choice = flag.choices.find((c) => c.toLowerCase() === given.toLowerCase());
    if (choice === undefined) throw new UsageError(`--${flag.long} ${given}: expected one of ${flag.choices.join(', ')}`);
    values[flag.long] = choice;
  }
  return new Parsed(values, positionals);
}

function flagHeading(flag: Flag): string {
  const names = `${flag.short ? `-${flag.short}, ` : ''}--${flag.long}`;
  if (flag.type === 'boolean') return `${names}=${flag.default === true ? 'true' : 'false'}`;
  if (flag.multiple) return `${names}=[]`;
  return `${names}='${typeof flag.default === 'string' ? flag.default : ''}'`;
}

/** Help in kubectl's layout: description, examples, options, usage. */
export function renderHelp(command: Command): string {
  const out: string[] = [command.description.trimEnd(), ''];
  if (command.examples.length > 0) {
    out.push('Examples:');
    command.examples.forEach(([comment, line], i) => {
      if (i > 0) out.push('');
      out.push(`  # ${comment}`, `  ${line}`);
    });
    out.push('');
  }
  out.push('Options:');
  for (const flag of allFlags(command)) {
    const choices = flag.choices ? ` One of: (${flag.choices.join(', ')}).` : '';
    out.push(`    ${flagHeading(flag)}:`);
    out.push(...`${flag.help}${choices}`.split('\n').map((line) => `\t${line}`), '');
  }
  out.push('Usage:', `  ${command.usage}`, '');
  return `${out.join('\n')}\n`;
}
