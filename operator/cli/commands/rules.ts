/**
 * `securestack rules list` and `securestack rules explain`: the rule catalog as docs/rules.md
 * gives it, from the same data (operator/engine/rules/reference.ts), for a terminal.
 */
import { dump } from 'js-yaml';
import { catalog, exampleParameters, ruleById, ruleSetNames, ruleSets } from '../../engine/rules';
import { appliesTo, exampleFindings, familyTitles, parameterRows, reportedFields, setsOf } from '../../engine/rules/reference';
import type { Rule, RuleFamily } from '../../engine/types';
import { exitCodes, UsageError, type Command, type Parsed } from '../command';
import { alignColumns } from '../format';

const families = Object.keys(familyTitles) as RuleFamily[];

function listed(parsed: Parsed): readonly Rule[] {
  const set = parsed.optional('set') as (typeof ruleSetNames)[number] | undefined;
  const family = parsed.optional('family');
  const severity = parsed.optional('severity');
  return catalog.filter((rule) => (!set || ruleSets[set].includes(rule.id)) && (!family || rule.family === family) && (!severity || rule.severity === severity));
}

const columns = (rows: readonly (readonly string[])[]): string => alignColumns(rows).join('\n');

function ruleSummary(rule: Rule): Record<string, unknown> {
  return { id: rule.id, title: rule.title, family: rule.family, severity: rule.severity, ruleSets: setsOf(rule), backgroundOnly: rule.backgroundOnly === true };
}

export const rulesListCommand: Command = {
  name: 'rules list',
  summary: 'List the built-in rules, their severities and rule sets',
  description: `List the built-in rules: their ids, default severities, families and the rule sets that turn them
on. The same catalog answers in admission, the background audit, ComplianceReports and audit.`,
  usage: 'securestack rules list [options]',
  examples: [
    ['List every rule', 'securestack rules list'],
    ['The rules that pss-restricted turns on', 'securestack rules list --set pss-restricted'],
    ['The critical rules, as JSON', 'securestack rules list --severity CRITICAL -o json'],
  ],
  flags: [
    { long: 'set', type: 'string', choices: ruleSetNames, help: 'Only the rules of this rule set.' },
    { long: 'family', type: 'string', choices: families, help: 'Only the rules of this family.' },
    { long: 'severity', type: 'string', choices: ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'], help: 'Only the rules of this default severity.' },
    { long: 'output', short: 'o', type: 'string', default: 'table', choices: ['table', 'json', 'name'], help: 'A table, JSON, or the ids alone.' },
  ],
  run(parsed) {
    if (parsed.positionals.length > 0) throw new UsageError(`rules list takes no arguments (got ${parsed.positionals.join(' ')}); did you mean rules explain?`);
    const rules = listed(parsed);
    const output = parsed.string('output');
    if (output === 'json') process.stdout.write(`${JSON.stringify(rules.map(ruleSummary), null, 2)}\n`);
    else if (output === 'name') process.stdout.write(rules.map((rule) => `${rule.id}\n`).join(''));
    else {
      const rows = rules.map((rule) => [rule.id, rule.severity, rule.family, setsOf(rule).join(',') || '-', rule.title]);
      process.stdout.write(`${columns([['ID', 'SEVERITY', 'FAMILY', 'RULE SETS', 'TITLE'], ...rows])}\n`);
    }
    return Promise.resolve(exitCodes.clean);
  },
};

function indent(text: string, by = '  '): string {
  return text.trimEnd().split('\n').map((line) => `${by}${line}`).join('\n');
}

/** Prose wrapped at word boundaries to `width` columns, indented. */
export function wrap(text: string, width = 100, by = '  '): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && by.length + line.length + 1 + word.length > width) {
      lines.push(`${by}${line}`);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(`${by}${line}`);
  return lines.join('\n');
}

/** One rule as docs/rules.md words it, laid out for a terminal. */
export function explainText(rule: Rule): string {
  const sets = setsOf(rule);
  const out = [
    `RULE:         ${rule.id}`,
    `TITLE:        ${rule.title}`,
    `FAMILY:       ${familyTitles[rule.family]}`,
    `SEVERITY:     ${rule.severity} (default)`,
    `RULE SETS:    ${sets.length > 0 ? sets.join(', ') : 'none (enable it in spec.rules)'}`,
    `APPLIES TO:   ${appliesTo(rule)}`,
    ...(rule.backgroundOnly ? ["BACKGROUND:   needs the cluster's state beside the object; admission and audit skip it"] : []),
    '',
    'DESCRIPTION:',
    wrap(rule.description),
    '',
    'REMEDIATION:',
    wrap(rule.remediation),
    '',
    'REPORTS:',
    ...(reportedFields[rule.id] ?? []).map((field) => `  ${field}`),
    '',
  ];
  const rows = parameterRows(rule);
  out.push('PARAMETERS:', rows.length === 0 ? '  none' : indent(columns([['NAME', 'TYPE', 'DEFAULT', 'MEANING'], ...rows.map((row) => [row.name, row.type, row.default.replaceAll('`', ''), row.meaning])])), '');
  const parameters = exampleParameters(rule.id);
  if (parameters) out.push('EXAMPLE PARAMETERS:', indent(dump(parameters)), '');
  out.push('FAILS:', indent(dump(rule.examples.fail, { lineWidth: 120, noRefs: true })), '', 'FINDINGS:');
  out.push(...exampleFindings(rule).map((finding) => `  ${finding.field}: ${finding.message}`), '');
  out.push('PASSES:', indent(dump(rule.examples.pass, { lineWidth: 120, noRefs: true })), '');
  return `${out.join('\n')}\n`;
}

export const rulesExplainCommand: Command = {
  name: 'rules explain',
  summary: 'Explain a rule: what it checks, how to fix it, its parameters and examples',
  description: `Explain one or more built-in rules: what each checks, the fields it reports, how to fix a finding,
its parameters with their defaults, and an object that fails it and one that passes, with the
findings the failing one gets. The text is docs/rules.md's.`,
  usage: 'securestack rules explain RULE_ID... [options]',
  examples: [
    ['Explain a rule', 'securestack rules explain disallow-privileged'],
    ['As JSON, with the examples', 'securestack rules explain restrict-capabilities -o json'],
  ],
  flags: [{ long: 'output', short: 'o', type: 'string', default: 'text', choices: ['text', 'json'], help: 'Text for people, or JSON.' }],
  completeArgs: () => catalog.map((rule) => rule.id),
  run(parsed) {
    if (parsed.positionals.length === 0) throw new UsageError('name a rule id (securestack rules list shows them)');
    const rules = parsed.positionals.map((id) => {
      const rule = ruleById(id);
      if (!rule) {
        const near = catalog.filter((candidate) => candidate.id.includes(id) || id.includes(candidate.id)).map((candidate) => candidate.id);
        throw new UsageError(`no rule "${id}"${near.length > 0 ? `; did you mean ${near.slice(0, 3).join(', ')}?` : ' (securestack rules list shows them)'}`);
      }
      return rule;
    });
    if (parsed.string('output') === 'json') {
      const explained = rules.map((rule) => ({
        ...ruleSummary(rule),
        appliesTo: appliesTo(rule),
        description: rule.description,
        remediation: rule.remediation,
        reports: reportedFields[rule.id] ?? [],
        parameters: parameterRows(rule),
        examples: { fail: rule.examples.fail, findings: exampleFindings(rule), pass: rule.examples.pass, parameters: exampleParameters(rule.id) ?? null },
      }));
      process.stdout.write(`${JSON.stringify(explained.length === 1 ? explained[0] : explained, null, 2)}\n`);
    } else {
      process.stdout.write(rules.map(explainText).join('\n---\n\n'));
    }
    return Promise.resolve(exitCodes.clean);
  },
};
