import { exitCodes, type Command } from '../command';
import { version } from '../version';

export const versionCommand: Command = {
  name: 'version',
  summary: 'Print the version of securestack',
  description: 'Print the version of securestack, as recorded in SARIF and JSON reports.',
  usage: 'securestack version [options]',
  examples: [['Print the version', 'securestack version'], ['As JSON', 'securestack version -o json']],
  flags: [{ long: 'output', short: 'o', type: 'string', default: 'text', choices: ['text', 'json'], help: 'Plain text, or JSON for tools.' }],
  run(parsed) {
    process.stdout.write(parsed.string('output') === 'json' ? `${JSON.stringify({ version: version() })}\n` : `securestack ${version()}\n`);
    return Promise.resolve(exitCodes.clean);
  },
};
