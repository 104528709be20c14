// The securestack command's frame: kubectl-style help at every level, usage errors (exit 2) that
// point at --help, flags declared once (parsing, help and completion agree), shell completion run
// in a real bash, `rules list` and `rules explain` against docs/rules.md, and `version`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { allFlags, parseFlags, UsageError, type Command } from '../operator/cli/command';
import { commands } from '../operator/cli/registry';
import { catalog, ruleSets } from '../operator/engine/rules';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'operator', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'securestack-cmd-'));

function run(args: readonly string[], cwd = root): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

// A `securestack` on PATH for the completion script, as an installed package provides.
const binDir = path.join(dir, 'bin');
spawnSync('mkdir', ['-p', binDir]);
writeFileSync(path.join(binDir, 'securestack'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
chmodSync(path.join(binDir, 'securestack'), 0o755);

/** What bash offers after typing `line` (COMP_WORDS split as bash splits them, `=` a word of its own). */
function bashComplete(line: string, cwd = root): string[] {
  const words = line.split(/(=)| +/).filter((word) => word !== undefined);
  const script = `source <(securestack completion bash)
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
_securestack
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['-c', script], { cwd, encoding: 'utf8', env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` } });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter((item) => item !== '');
}

describe('securestack command line', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints help like kubectl at the root, for a group and for a command', () => {
    const rootHelp = run(['--help']);
    assert.equal(rootHelp.code, 0);
    for (const entry of commands) assert.match(rootHelp.stdout, new RegExp(`\\n {2}${entry.name} +${entry.summary.replace(/[()]/g, '.')}\\n`));
    assert.match(rootHelp.stdout, /Use "securestack <command> --help" for more information about a given command\.\n$/);
    assert.equal(run([]).code, 2, 'no command is a usage error');
    assert.equal(run([]).stdout, rootHelp.stdout);

    const group = run(['rules', '--help']);
    assert.equal(group.code, 0);
    assert.match(group.stdout, /Available Commands:\n {2}list +List the built-in rules[^\n]*\n {2}explain +Explain a rule/);
    assert.equal(run(['rules']).code, 2);
    const unknownSub = run(['rules', 'frob']);
    assert.equal(unknownSub.code, 2);
    assert.match(unknownSub.stderr, /unknown command "frob" for "securestack rules"/);

    const help = run(['audit', '--help']);
    assert.equal(help.code, 0);
    assert.deepEqual(help.stdout.match(/^(Examples|Options|Usage):$/gm), ['Examples:', 'Options:', 'Usage:']);
    assert.match(help.stdout, /\n {4}-o, --output='table':\n\tOutput format[^\n]*One of: \(table, json, sarif, junit, csv\)\.\n/);
    assert.match(help.stdout, /\n {4}--cluster=false:\n/);
    assert.match(help.stdout, /\n {4}-p, --policy=\[\]:\n/);
    assert.equal(run(['help', 'audit']).stdout, help.stdout, '`help audit` is `audit --help`');
    assert.equal(run(['audit', '-p', 'x', '-h']).stdout, help.stdout, '-h anywhere asks for help');
  });

  it('lists every flag of every command in its help, and nothing else', async () => {
    for (const entry of commands) {
      const command = await entry.load();
      const help = run([...entry.name.split(' '), '--help']).stdout;
      const listed = [...help.matchAll(/^ {4}(?:-\w, )?--([\w-]+)=/gm)].map((match) => match[1]);
      assert.deepEqual(listed, allFlags(command).map((flag) => flag.long), entry.name);
    }
  });

  it('answers usage errors with exit 2 and a pointer to --help', () => {
    const unknownFlag = run(['audit', '--bogus']);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /Unknown option '--bogus'[^\n]*\nSee 'securestack audit --help' for usage\.\n/);
    const badChoice = run(['rules', 'list', '-o', 'xml']);
    assert.equal(badChoice.code, 2);
    assert.match(badChoice.stderr, /--output xml: expected one of table, json, name/);
    const unknown = run(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate" for "securestack"\nRun 'securestack --help' for usage\./);
  });

  it('parses flags as declared: choices in any case, read back as declared; repeatable flags', () => {
    const command: Pick<Command, 'name' | 'flags'> = {
      name: 'test',
      flags: [
        { long: 'level', type: 'string', choices: ['low', 'HIGH'], help: '' },
        { long: 'item', short: 'i', type: 'string', multiple: true, help: '' },
        { long: 'on', type: 'boolean', default: false, help: '' },
      ],
    };
    const parsed = parseFlags(command, ['--level', 'high', '-i', 'a', '--item=b', 'pos']);
    assert.equal(parsed.string('level'), 'HIGH');
    assert.deepEqual(parsed.strings('item'), ['a', 'b']);
    assert.equal(parsed.flag('on'), false);
    assert.deepEqual(parsed.positionals, ['pos']);
    assert.equal(parseFlags(command, ['--level=LOW']).string('level'), 'low');
    assert.throws(() => parseFlags(command, ['--level', 'medium']), (err: unknown) => err instanceof UsageError && /expected one of low, HIGH/.test(err.message));
    assert.throws(() => parseFlags(command, ['--nope']), /Unknown option '--nope'/);
  });

  it('completes commands, subcommands, flags, flag values, rule ids and files in bash', () => {
    assert.deepEqual(bashComplete('securestack '), [...new Set(commands.map((entry) => entry.name.split(' ')[0])), 'help']);
    assert.deepEqual(bashComplete('securestack ru'), ['rules']);
    assert.deepEqual(bashComplete('securestack rules '), ['list', 'explain']);
    assert.deepEqual(bashComplete('securestack rules explain disallow-privi'), ['disallow-privileged', 'disallow-privilege-escalation']);
    assert.deepEqual(bashComplete('securestack audit -o '), ['table', 'json', 'sarif', 'junit', 'csv']);
    assert.deepEqual(bashComplete('securestack audit --output=j'), ['json', 'junit']);
    assert.deepEqual(bashComplete('securestack audit --output='), ['table', 'json', 'sarif', 'junit', 'csv']);
    assert.deepEqual(bashComplete('securestack audit --fail-on h'), ['high']);
    assert.deepEqual(bashComplete('securestack audit --fa'), ['--fail-on']);
    assert.deepEqual(bashComplete('securestack completion '), ['bash', 'zsh', 'fish']);
    // Files for positional arguments and for file flags, not for other flags' values.
    const files = mkdtempSync(path.join(dir, 'files-'));
    writeFileSync(path.join(files, 'deploy.yaml'), '');
    writeFileSync(path.join(files, 'policy.yaml'), '');
    assert.deepEqual(bashComplete('securestack audit -p policy.yaml de', files), ['deploy.yaml']);
    assert.deepEqual(bashComplete('securestack audit -p po', files), ['policy.yaml']);
    assert.deepEqual(bashComplete('securestack audit -n de', files), []);
  });

  it('prints zsh and fish scripts that ask securestack itself, and refuses other shells', () => {
    assert.match(run(['completion', 'zsh']).stdout, /^#compdef securestack\n[\s\S]*__complete/);
    assert.match(run(['completion', 'fish']).stdout, /complete -c securestack -f -a '\(__securestack_complete\)'/);
    const other = run(['completion', 'tcsh']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /unsupported shell "tcsh": expected bash, zsh, fish/);
  });

  it('lists the rule catalog, filtered by rule set, family and severity', () => {
    const names = run(['rules', 'list', '-o', 'name']).stdout.trim().split('\n');
    assert.deepEqual(names, catalog.map((rule) => rule.id));
    assert.deepEqual(run(['rules', 'list', '--set', 'pss-restricted', '-o', 'name']).stdout.trim().split('\n'), catalog.filter((rule) => ruleSets['pss-restricted'].includes(rule.id)).map((rule) => rule.id));
    const critical = JSON.parse(run(['rules', 'list', '--severity', 'critical', '-o', 'json']).stdout) as Array<{ id: string; severity: string }>;
    assert.deepEqual(critical.map((rule) => rule.id), catalog.filter((rule) => rule.severity === 'CRITICAL').map((rule) => rule.id));
    const rbac = run(['rules', 'list', '--family', 'rbac']).stdout.trim().split('\n');
    assert.match(rbac[0] ?? '', /^ID +SEVERITY +FAMILY +RULE SETS +TITLE$/);
    assert.equal(rbac.length - 1, catalog.filter((rule) => rule.family === 'rbac').length);
  });

  it('explains every rule with the words, fix, fields and example findings docs/rules.md gives', () => {
    const doc = readFileSync(path.join(root, 'docs', 'rules.md'), 'utf8');
    const explained = JSON.parse(run(['rules', 'explain', ...catalog.map((rule) => rule.id), '-o', 'json']).stdout) as Array<{ id: string; remediation: string; reports: string[]; examples: { findings: Array<{ field: string; message: string }> } }>;
    assert.equal(explained.length, catalog.length);
    for (const rule of explained) {
      const start = doc.indexOf(`\n### ${rule.id}\n`);
      assert.ok(start >= 0, `docs/rules.md has no section for ${rule.id}`);
      const next = doc.indexOf('\n### ', start + 1);
      const section = doc.slice(start, next < 0 ? undefined : next);
      assert.ok(section.includes(`**Remediation:** ${rule.remediation}`), rule.id);
      assert.ok(section.includes(`- Reports: ${rule.reports.map((field) => `\`${field}\``).join(', ')}`), rule.id);
      const findings = section.slice(section.indexOf('Findings:\n')).split('**Passes:**')[0] ?? '';
      assert.deepEqual(rule.examples.findings.map((f) => `- \`${f.field}\`: ${f.message}`), findings.split('\n').filter((line) => line.startsWith('- `')), rule.id);
    }
    const text = run(['rules', 'explain', 'disallow-privileged']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^RULE: +disallow-privileged\nTITLE: +No privileged containers\n/);
    assert.match(text.stdout, /\nFINDINGS:\n {2}spec\.containers\[0\]\.securityContext\.privileged: /);
    const unknown = run(['rules', 'explain', 'privileged']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no rule "privileged"; did you mean disallow-privileged\?/);
  });

  it('prints the package version', () => {
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(run(['version']).stdout, `securestack ${version}\n`);
    assert.deepEqual(JSON.parse(run(['version', '-o', 'json']).stdout), { version });
  });
});
