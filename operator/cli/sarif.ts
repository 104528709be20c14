/**
 * SARIF 2.1.0 for code-scanning tools (GitHub code scanning, GitLab, Azure DevOps): one result per
 * violation at the file and line of the offending field, its rule described from the catalog (or
 * the custom rule's own words), the level from the policy's mode (Enforce error, Warn warning,
 * Audit note) and `security-severity` from the rule's severity, which GitHub maps back to
 * critical, high, medium and low.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import { ruleById } from '../engine/rules';
import type { Severity } from '../engine/types';
import type { AuditResult } from './audit';

const securitySeverity: Record<Severity, string> = { CRITICAL: '9.5', HIGH: '8.0', MEDIUM: '5.5', LOW: '2.0' };
const levels = { Enforce: 'error', Warn: 'warning', Audit: 'note' } as const;

/**
 * A file as a URI: relative to the working directory (forward slashes) when inside it, which is
 * what code-scanning tools resolve against the repository; else a file:// URI; stdin as `stdin`.
 */
export function artifactUri(source: string, cwd: string = process.cwd()): string {
  if (source === '<stdin>') return 'stdin';
  const absolute = path.resolve(cwd, source);
  const relative = path.relative(cwd, absolute);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return pathToFileURL(absolute).href;
  return relative.split(path.sep).map(encodeURIComponent).join('/');
}

function ruleDescriptor(result: AuditResult): ReportingDescriptor {
  const rule = ruleById(result.ruleId);
  return {
    id: result.ruleId,
    name: result.ruleId.replace(/(^|-)([a-z])/g, (_m, _dash: string, letter: string) => letter.toUpperCase()),
    shortDescription: { text: result.title },
    ...(rule ? { fullDescription: { text: rule.description } } : {}),
    help: { text: result.remediation },
    helpUri: `https://github.com/securestack/securestack/blob/main/docs/rules.md#${result.ruleId}`,
    properties: { 'security-severity': securitySeverity[result.severity], tags: ['security', 'kubernetes', ...(rule ? [rule.family] : ['custom'])] },
  };
}

export function renderSarif(results: readonly AuditResult[], version: string, cwd: string = process.cwd()): string {
  const rules: ReportingDescriptor[] = [];
  const indexOf = new Map<string, number>();
  const sarifResults: Result[] = results.map((result) => {
    let ruleIndex = indexOf.get(result.ruleId);
    if (ruleIndex === undefined) {
      ruleIndex = rules.push(ruleDescriptor(result)) - 1;
      indexOf.set(result.ruleId, ruleIndex);
    }
    const object = `${result.kind}/${result.namespace ? `${result.namespace}/` : ''}${result.name}`;
    return {
      ruleId: result.ruleId,
      ruleIndex,
      level: levels[result.mode],
      message: { text: `ScanPolicy ${result.policy}: ${object}: ${result.text}` },
      locations: [
        {
          physicalLocation: { artifactLocation: { uri: artifactUri(result.source, cwd) }, region: { startLine: result.fieldLine } },
          logicalLocations: [{ fullyQualifiedName: `${object}/${result.field}`, kind: 'member' }],
        },
      ],
      partialFingerprints: { 'securestack/v1': `${object}/${result.policy}/${result.ruleId}/${result.field}` },
      properties: { policy: result.policy, mode: result.mode, severity: result.severity, field: result.field },
    };
  });
  const log: Log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'securestack', version, informationUri: 'https://github.com/securestack/securestack', rules } },
        columnKind: 'utf16CodeUnits',
        results: sarifResults,
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
