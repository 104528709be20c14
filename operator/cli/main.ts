/**
 * The securestack command: the webhook's rules where there is no cluster (CI, a laptop), and
 * exports and SBOM comparisons where there is one. Commands live in operator/cli/commands/, one
 * file each, and are listed in registry.ts; this file dispatches and prints the help.
 *
 * Exit codes: 0 clean; 1 violations at or above --fail-on (audit) or differences that fail
 * (sbom diff --fail-on); 2 usage or input errors, named with file and line.
 */
import { exitCodes, parseFlags, renderHelp, UsageError } from './command';
import { alignColumns } from './format';
import { commands, findCommand, groupSummaries, groups, type Entry } from './registry';

function commandList(entries: readonly Entry[]): string {
  return alignColumns(entries.map((entry) => [entry.name, entry.summary])).map((line) => `  ${line}`).join('\n');
}

const rootHelp = (): string => `securestack checks Kubernetes manifests with the SecureStack operator's rules, and reads its results.

 Find more information at: docs/cli.md

Commands:
${commandList(commands)}

Usage:
  securestack [command] [options]

Use "securestack <command> --help" for more information about a given command.
`;

const groupHelp = (group: string, entries: readonly Entry[]): string => `${groupSummaries[group] ?? group}.

Available Commands:
${commandList(entries).replaceAll(`  ${group} `, `  `)}

Usage:
  securestack ${group} [command] [options]

Use "securestack ${group} <command> --help" for more information about a given command.
`;

const wantsHelp = (argv: readonly string[]): boolean => argv.some((arg) => arg === '-h' || arg === '--help');

async function dispatch(argv: readonly string[]): Promise<number> {
  const [first] = argv;
  if (first === '__complete') return (await import('./commands/completion')).completeCommandLine(argv.slice(1));
  if (first === undefined || first === 'help' || first === '-h' || first === '--help') {
    const topic = first === 'help' && argv.length > 1 ? findCommand(argv.slice(1)) : undefined;
    process.stdout.write(topic ? renderHelp(await topic.entry.load()) : rootHelp());
    return first === undefined ? exitCodes.usage : exitCodes.clean;
  }
  const found = findCommand(argv);
  if (!found) {
    const members = groups().get(first);
    if (members) {
      const asked = argv[1] === undefined || wantsHelp(argv.slice(1));
      process.stdout.write(groupHelp(first, members));
      if (asked) return argv[1] === undefined ? exitCodes.usage : exitCodes.clean;
      throw new UsageError(`unknown command "${argv[1] ?? ''}" for "securestack ${first}"`);
    }
    throw new UsageError(`unknown command "${first}" for "securestack"\nRun 'securestack --help' for usage.`);
  }
  const command = await found.entry.load();
  if (wantsHelp(found.rest)) {
    process.stdout.write(renderHelp(command));
    return exitCodes.clean;
  }
  try {
    return await command.run(parseFlags(command, found.rest));
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) throw new UsageError(`${(err as Error).message}\nSee 'securestack ${command.name} --help' for usage.`);
    throw err;
  }
}

function isParseArgsError(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code?.toString().startsWith('ERR_PARSE_ARGS') === true;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`securestack: ${message}\n`);
    return exitCodes.usage;
  }
}

/** Runs the command line of this process and sets its exit code. */
export function run(): void {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) run();
