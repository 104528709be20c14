/**
 * The commands of securestack, each loaded only when run (start-up stays fast: `audit` never
 * loads the Kubernetes client). Groups ("sbom", "report", "rules") are the first word of their
 * commands' names.
 */
import type { Command } from './command';

export interface Entry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

export const commands: readonly Entry[] = [
  { name: 'audit', summary: 'Check manifests against ScanPolicies, as the admission webhook would', load: async () => (await import('./commands/audit')).auditCommand },
  { name: 'rules list', summary: 'List the built-in rules, their severities and rule sets', load: async () => (await import('./commands/rules')).rulesListCommand },
  { name: 'rules explain', summary: 'Explain a rule: what it checks, how to fix it, its parameters and examples', load: async () => (await import('./commands/rules')).rulesExplainCommand },
  { name: 'completion', summary: 'Output shell completion code for bash, zsh or fish', load: async () => (await import('./commands/completion')).completionCommand },
  { name: 'sbom diff', summary: 'Compare two CycloneDX SBOMs: components and vulnerabilities added, removed, changed', load: async () => (await import('./commands/sbom-diff')).sbomDiffCommand },
  { name: 'report export', summary: 'Export ImageScan findings and ComplianceReport results as CSV or JSON', load: async () => (await import('./commands/report-export')).reportExportCommand },
  { name: 'version', summary: 'Print the version of securestack', load: async () => (await import('./commands/version')).versionCommand },
];

/** What each group of commands is for, in `securestack GROUP --help`. */
export const groupSummaries: Readonly<Record<string, string>> = {
  rules: 'The built-in rule catalog, as docs/rules.md gives it',
  sbom: 'Compare CycloneDX SBOMs, from files or ImageScans',
  report: 'Export scan findings and compliance results from the cluster',
};

/** The groups, in order, with the commands under each. */
export function groups(): Map<string, Entry[]> {
  const byGroup = new Map<string, Entry[]>();
  for (const entry of commands) {
    const [first = '', second] = entry.name.split(' ');
    if (second !== undefined) byGroup.set(first, [...(byGroup.get(first) ?? []), entry]);
  }
  return byGroup;
}

/** The command named by the leading words of argv, and the words after its name. */
export function findCommand(argv: readonly string[]): { entry: Entry; rest: string[] } | undefined {
  for (const entry of commands) {
    const words = entry.name.split(' ');
    if (words.every((word, i) => argv[i] === word)) return { entry, rest: argv.slice(words.length) };
  }
  return undefined;
}
