// Renders docs/frameworks.md from the built-in frameworks, so the reference cannot drift from the
// data. Run: npm run build && npm run gen-frameworks-doc. test/frameworks.test.ts fails when the
// committed file differs from renderFrameworksDoc().
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../operator/api/schema';
import type { Control, ControlCheck, Framework, VulnerabilityCheck } from '../operator/engine/compliance/framework';
import { builtinFrameworks } from '../operator/engine/compliance/frameworks';
import { ruleById } from '../operator/engine/rules';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function ruleLink(id: string): string {
  const background = ruleById(id)?.backgroundOnly ? ' (background only)' : '';
  return `[\`${id}\`](rules.md#${id})${background}`;
}

/** The vulnerability condition in words: what an image must satisfy to pass. */
export function describeVulnerabilityCheck(check: VulnerabilityCheck): string {
  const parts: string[] = [];
  if (check.fixableAtOrAbove !== undefined) {
    const window = check.maxFixAgeDays !== undefined ? ` whose advisory was published more than ${check.maxFixAgeDays} days ago` : '';
    parts.push(`no vulnerability of severity ${check.fixableAtOrAbove} or above with a fixed version available${window}`);
  }
  if (check.maxScanAgeHours !== undefined) parts.push(`a completed ImageScan finished within the last ${check.maxScanAgeHours} hours`);
  return `ImageScan results: every image the workloads run has ${parts.join(', and ')}`;
}

export function describeCheck(check: ControlCheck): string {
  switch (check.type) {
    case 'rules': {
      const only = check.fields ? ` (only findings at ${check.fields.map((field) => `\`${field}\``).join(', ')})` : '';
      return `Rules: ${check.rules.map(ruleLink).join(', ')}${only}`;
    }
    case 'vulnerabilities':
      return describeVulnerabilityCheck(check.vulnerabilities);
    case 'manual':
      return `Manual: ${check.reason}`;
    case 'custom':
      return `Custom JSON Schema over each ${check.target === 'Container' ? 'container' : 'object'}: ${check.message}`;
  }
}

function counts(framework: Framework): Record<ControlCheck['type'], number> {
  const result: Record<ControlCheck['type'], number> = { rules: 0, vulnerabilities: 0, manual: 0, custom: 0 };
  for (const control of framework.controls) result[control.check.type]++;
  return result;
}

function controlRow(control: Control): string {
  const requirement = `**${control.title}**<br>${control.description}`;
  return `| ${cell(control.id)} | ${control.severity} | ${cell(requirement)} | ${cell(describeCheck(control.check))} | ${cell(control.remediation)} |`;
}

function frameworkSection(framework: Framework): string {
  return [
    `## ${framework.title}`,
    '',
    `- Id: \`${framework.id}\``,
    `- Version: ${framework.version}`,
    `- Source: ${framework.source}`,
    '',
    framework.description,
    '',
    '| Control | Severity | Requirement | Checked by | Remediation |',
    '|---|---|---|---|---|',
    ...framework.controls.map(controlRow),
    '',
  ].join('\n');
}

const intro = `# Compliance frameworks

<!-- Generated from operator/engine/compliance/frameworks by tools/frameworks-doc.ts. Do not edit by
     hand: run \`npm run build && npm run gen-frameworks-doc\`. -->

A compliance framework is a list of controls, kept as versioned data (one file per framework under
\`operator/engine/compliance/frameworks/\`; \`version\` names the edition of the document the
controls follow). Each control says how it is checked:

- **Rules**: built-in rules of the catalog ([docs/rules.md](rules.md)), the same pure engine
  admission and the audit use. An object fails the control when any of the rules reports it; a
  control that covers part of what a rule reports counts only findings at the fields it names.
  Rules run with their default parameters. Rules marked *background only* need the cluster's
  state beside the object (see [Background-only rules](rules.md#background-only-rules)).
- **ImageScan results**: a condition over the vulnerabilities SecureStack's ImageScans found in
  the images the workloads run.
- **Manual**: nothing the Kubernetes API shows decides it (control plane flags, hosts, networks,
  organisation). Such a control is always reported Manual, never Pass, and says why.

`;

function summaryTable(): string {
  const lines = ['| Framework | Id | Version | Controls | Rules | ImageScan results | Manual |', '|---|---|---|---|---|---|---|'];
  for (const framework of builtinFrameworks) {
    const { rules, vulnerabilities, manual } = counts(framework);
    const anchor = framework.title.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
    lines.push(`| [${framework.title}](#${anchor}) | \`${framework.id}\` | ${framework.version} | ${framework.controls.length} | ${rules} | ${vulnerabilities} | ${manual} |`);
  }
  return lines.join('\n');
}

/** The full text of docs/frameworks.md. */
export function renderFrameworksDoc(): string {
  const parts = [intro + summaryTable(), '', ...builtinFrameworks.map(frameworkSection)];
  return `${parts.join('\n').trimEnd()}\n`;
}

export function frameworksDocPath(): string {
  return path.join(packageRoot(), 'docs', 'frameworks.md');
}

if (require.main === module) {
  const file = frameworksDocPath();
  fs.writeFileSync(file, renderFrameworksDoc());
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
