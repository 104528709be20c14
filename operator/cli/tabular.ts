/**
 * CSV and JUnit XML for `securestack audit`. CSV: one row per violation (RFC 4180 quoting; a cell
 * that a spreadsheet would read as a formula is prefixed with `'`). JUnit: one test case per object
 * checked, grouped by file; the violations that fail the run (--fail-on) are its failure, the
 * others its system-out, so CI test reports show what blocks the merge.
 */
import type { AuditResult } from './audit';

export interface CheckedObject {
  source: string;
  line: number;
  kind: string;
  namespace: string | undefined;
  name: string;
}

const csvColumns = ['severity', 'mode', 'policy', 'rule', 'kind', 'namespace', 'name', 'field', 'message', 'remediation', 'file', 'line', 'fieldLine'] as const;

/** One CSV cell: quoted when it holds a comma, quote or line break; formulas neutralised. */
export function csvCell(value: string | number): string {
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function renderCsv(results: readonly AuditResult[]): string {
  const rows = results.map((r) => [r.severity, r.mode, r.policy, r.ruleId, r.kind, r.namespace ?? '', r.name, r.field, r.message, r.remediation, r.source, r.line, r.fieldLine]);
  return `${[csvColumns, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

/** Text as XML character data or attribute value; characters XML 1.0 cannot hold are dropped. */
export function xmlEscape(text: string): string {
  return [...text]
    .filter((char) => xmlChar(char.codePointAt(0) ?? 0))
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** The characters XML 1.0 allows: tab, line feed, carriage return, and the rest of Unicode but surrogates and U+FFFE/FFFF. */
function xmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
}

function objectName(o: Pick<CheckedObject, 'kind' | 'namespace' | 'name'>): string {
  return `${o.kind}/${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}

export function renderJunit(objects: readonly CheckedObject[], results: readonly AuditResult[], failing: (result: AuditResult) => boolean): string {
  const bySource = new Map<string, CheckedObject[]>();
  for (const object of objects) bySource.set(object.source, [...(bySource.get(object.source) ?? []), object]);
  const resultsOf = new Map<string, AuditResult[]>();
  for (const result of results) {
    const key = `${result.source}:${result.line}:${objectName(result)}`;
    resultsOf.set(key, [...(resultsOf.get(key) ?? []), result]);
  }
  const suites: string[] = [];
  let totalFailures = 0;
  for (const [source, checked] of bySource) {
    let failures = 0;
    const cases = checked.map((object) => {
      const found = resultsOf.get(`${object.source}:${object.line}:${objectName(object)}`) ?? [];
      const blocking = found.filter(failing);
      const other = found.filter((r) => !failing(r));
      const line = (r: AuditResult): string => `${r.severity} ${r.mode} ScanPolicy ${r.policy}: ${r.text} (${r.source}:${r.fieldLine})`;
      const parts: string[] = [];
      if (blocking.length > 0) {
        failures++;
        const ids = [...new Set(blocking.map((r) => r.ruleId))].join(', ');
        parts.push(`      <failure message="${xmlEscape(`${objectName(object)} violates ${ids}`)}" type="${xmlEscape(blocking[0]?.ruleId ?? '')}">${xmlEscape(blocking.map(line).join('\n'))}</failure>`);
      }
      if (other.length > 0) parts.push(`      <system-out>${xmlEscape(other.map(line).join('\n'))}</system-out>`);
      // Jenkins' JUnit schema has no file or line attributes: the file is the classname (which CI
      // reporters resolve to a path), each violation names its file:line in the text, and the
      // name stays the same when lines move, so CI keeps the case's history.
      const open = `    <testcase classname="${xmlEscape(source)}" name="${xmlEscape(objectName(object))}"`;
      return parts.length > 0 ? `${open}>\n${parts.join('\n')}\n    </testcase>` : `${open}/>`;
    });
    totalFailures += failures;
    suites.push(`  <testsuite name="${xmlEscape(source)}" tests="${checked.length}" failures="${failures}" errors="0" skipped="0">\n${cases.join('\n')}\n  </testsuite>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="securestack audit" tests="${objects.length}" failures="${totalFailures}" errors="0">\n${suites.join('\n')}\n</testsuites>\n`;
}
