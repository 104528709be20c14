/**
 * Output of `securestack sbom diff`: a table for people, JSON for tools (the shape documented in
 * docs/cli.md, `format: securestack.sbom-diff/v1`), CSV with one row per difference.
 */
import type { Severity } from '../features/scan/report';
import type { ComponentChange, ComponentEntry, SbomDiff, VulnerabilityEntry } from '../features/scan/sbom-diff';
import { alignColumns } from './format';
import { csvCell } from './tabular';

export interface DiffReport {
  a: { source: string; image?: string };
  b: { source: string; image?: string };
  diff: SbomDiff;
  /** The --fail-on severity, when given. */
  failOn?: Severity;
  /** Introduced vulnerabilities at or above failOn. */
  failing: number;
}

const colours = { red: '\u001b[31m', green: '\u001b[32m', bold: '\u001b[1m', reset: '\u001b[0m' } as const;
type Paint = (code: keyof typeof colours, text: string) => string;

const versions = (list: readonly string[]): string => list.map((v) => v || '(none)').join(', ');

/** Left-aligned columns two spaces apart, the header in bold. */
function columns(header: readonly string[], rows: readonly (readonly string[])[], paint: Paint, rowColour?: keyof typeof colours): string[] {
  const [headerLine = '', ...lines] = alignColumns([header, ...rows]);
  return [paint('bold', headerLine), ...lines.map((line) => (rowColour ? paint(rowColour, line) : line))];
}

function section(title: string, count: number, body: () => string[]): string[] {
  return count === 0 ? [] : ['', `${title} (${count}):`, ...body()];
}

const componentRows = (list: readonly ComponentEntry[]): string[][] => list.map((c) => [c.type, c.name, versions(c.versions)]);
const changeRows = (list: readonly ComponentChange[]): string[][] => list.map((c) => [c.type, c.name, versions(c.from), versions(c.to)]);
const vulnerabilityRows = (list: readonly VulnerabilityEntry[]): string[][] => list.map((v) => [v.severity, v.id, v.package, versions(v.installedVersions), v.fixedVersion ?? '']);

function bySeverity(list: readonly VulnerabilityEntry[]): string {
  const counts = new Map<string, number>();
  for (const v of list) counts.set(v.severity, (counts.get(v.severity) ?? 0) + 1);
  return counts.size === 0 ? '' : ` (${[...counts].map(([severity, n]) => `${n} ${severity.toLowerCase()}`).join(', ')})`;
}

export function renderTable(report: DiffReport, colour: boolean): string {
  const paint: Paint = (code, text) => (colour ? `${colours[code]}${text}${colours.reset}` : text);
  const { components, vulnerabilities } = report.diff;
  const named = (side: DiffReport['a']): string => `${side.source}${side.image && side.image !== side.source ? ` (${side.image})` : ''}`;
  const out = [`A: ${named(report.a)}`, `B: ${named(report.b)}`];
  out.push(...section('Components added', components.added.length, () => columns(['TYPE', 'NAME', 'VERSION'], componentRows(components.added), paint)));
  out.push(...section('Components removed', components.removed.length, () => columns(['TYPE', 'NAME', 'VERSION'], componentRows(components.removed), paint)));
  out.push(...section('Components changed', components.changed.length, () => columns(['TYPE', 'NAME', 'FROM', 'TO'], changeRows(components.changed), paint)));
  const vulnHeader = ['SEVERITY', 'ID', 'PACKAGE', 'INSTALLED', 'FIXED IN'];
  out.push(...section('Vulnerabilities introduced', vulnerabilities.introduced.length, () => columns(vulnHeader, vulnerabilityRows(vulnerabilities.introduced), paint, 'red')));
  out.push(...section('Vulnerabilities fixed', vulnerabilities.fixed.length, () => columns(vulnHeader, vulnerabilityRows(vulnerabilities.fixed), paint, 'green')));
  out.push(
    '',
    `Components: ${components.added.length} added, ${components.removed.length} removed, ${components.changed.length} changed, ${components.unchanged} unchanged.`,
    `Vulnerabilities: ${vulnerabilities.introduced.length} introduced${bySeverity(vulnerabilities.introduced)}, ${vulnerabilities.fixed.length} fixed, ${vulnerabilities.unchanged} unchanged.`,
  );
  if (report.failOn) {
    out.push(report.failing > 0 ? `${report.failing} introduced at or above ${report.failOn}: the run fails.` : `None introduced at or above ${report.failOn}: the run passes.`);
  }
  return `${out.join('\n')}\n`;
}

/** The JSON shape documented in docs/cli.md; fields are only ever added to it. */
export function renderJson(report: DiffReport): string {
  const { components, vulnerabilities } = report.diff;
  const side = (s: DiffReport['a']): Record<string, string> => ({ source: s.source, ...(s.image ? { image: s.image } : {}) });
  const json = {
    format: 'securestack.sbom-diff/v1',
    a: side(report.a),
    b: side(report.b),
    summary: {
      components: { added: components.added.length, removed: components.removed.length, changed: components.changed.length, unchanged: components.unchanged },
      vulnerabilities: { introduced: vulnerabilities.introduced.length, fixed: vulnerabilities.fixed.length, unchanged: vulnerabilities.unchanged },
      failOn: report.failOn ?? null,
      failing: report.failing,
    },
    components: { added: components.added, removed: components.removed, changed: components.changed },
    vulnerabilities: { introduced: vulnerabilities.introduced, fixed: vulnerabilities.fixed },
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

const csvColumns = ['change', 'kind', 'severity', 'id', 'package', 'type', 'key', 'from', 'to', 'fixedVersion', 'title'] as const;

/** One row per difference; `from` and `to` are the versions in A and in B (installed versions for vulnerabilities). */
export function renderCsv(report: DiffReport): string {
  const { components, vulnerabilities } = report.diff;
  const rows: string[][] = [
    ...components.added.map((c) => ['added', 'component', '', '', c.name, c.type, c.key, '', versions(c.versions), '', '']),
    ...components.removed.map((c) => ['removed', 'component', '', '', c.name, c.type, c.key, versions(c.versions), '', '', '']),
    ...components.changed.map((c) => ['changed', 'component', '', '', c.name, c.type, c.key, versions(c.from), versions(c.to), '', '']),
    ...vulnerabilities.introduced.map((v) => ['introduced', 'vulnerability', v.severity, v.id, v.package, '', v.key, '', versions(v.installedVersions), v.fixedVersion ?? '', v.title ?? '']),
    ...vulnerabilities.fixed.map((v) => ['fixed', 'vulnerability', v.severity, v.id, v.package, '', v.key, versions(v.installedVersions), '', v.fixedVersion ?? '', v.title ?? '']),
  ];
  return `${[csvColumns, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}
