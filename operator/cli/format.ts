/**
 * Output of `securestack audit`: a table for people (colour only on a terminal) and JSON for
 * tools. Both carry the webhook's own words for each violation.
 */
import type { AuditResult, AuditWarning } from './audit';

export interface Report {
  results: readonly AuditResult[];
  warnings: readonly AuditWarning[];
  objects: number;
}

const colours = { red: '\u001b[31m', yellow: '\u001b[33m', dim: '\u001b[2m', bold: '\u001b[1m', reset: '\u001b[0m' } as const;

function objectOf(result: AuditResult): string {
  return `${result.kind}/${result.namespace ? `${result.namespace}/` : ''}${result.name}`;
}

/**
 * Rows laid out as kubectl get lays them out: each column padded to its widest cell, two spaces
 * apart, trailing blanks trimmed. Every table of the command goes through here. A loop, not
 * Math.max(...column): spreading 150,000 rows overflowed the stack (30,000 manifests).
 */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

export function renderTable(report: Report, failing: number, colour: boolean): string {
  const paint = (code: keyof typeof colours, text: string): string => (colour ? `${colours[code]}${text}${colours.reset}` : text);
  const header = ['SEVERITY', 'MODE', 'POLICY', 'RULE', 'OBJECT', 'LOCATION'];
  const out: string[] = [];
  if (report.results.length > 0) {
    const [headerLine = '', ...lines] = alignColumns([header, ...report.results.map((r) => [r.severity, r.mode, r.policy, r.ruleId, objectOf(r), `${r.source}:${r.fieldLine}`])]);
    out.push(paint('bold', headerLine));
    report.results.forEach((result, i) => {
      const severityColour = result.mode === 'Enforce' ? 'red' : result.mode === 'Warn' ? 'yellow' : 'dim';
      out.push(paint(severityColour, lines[i] ?? ''));
      out.push(`  ${result.text}`);
    });
  }
  for (const warning of report.warnings) out.push(paint('yellow', `warning: ${warning.source}:${warning.line}: ${warning.message}`));
  out.push(`${report.objects} object(s) checked: ${report.results.length} violation(s), ${failing} failing the run.`);
  return `${out.join('\n')}\n`;
}

export function renderJson(report: Report, failing: number): string {
  return `${JSON.stringify({ objects: report.objects, failing, violations: report.results, warnings: report.warnings }, null, 2)}\n`;
}
