/**
 * The rows of `securestack report export`, pure: which ImageScans and ComplianceReports a filter
 * selects, their findings and per-object results as flat rows, and the CSV and JSON text of those
 * rows. The command (commands/report-export.ts) reads the cluster and streams what this builds.
 *
 * Findings come from the scan feature's own CycloneDX reader (features/scan/report.ts
 * `summarize`), so a row's severity and fixed version are the ones the ImageScan's status counts.
 * Compliance rows come from the stored results document (features/compliance/results-store.ts).
 */
import type { ComplianceReport, ImageScan, VulnerabilityFinding } from '../api/types.generated';
import type { ComplianceResultsDocument } from '../features/compliance/results-store';
import { UsageError } from './command';
import { csvCell } from './tabular';

export const severities = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export type ExportSeverity = (typeof severities)[number];

export const exportKinds = ['findings', 'compliance', 'all'] as const;
export type ExportKind = (typeof exportKinds)[number];

export interface ExportFilters {
  /** One namespace, or undefined for every namespace (-A). */
  namespace: string | undefined;
  /** ImageScan or ComplianceReport names; empty: every one. */
  names: readonly string[];
  /** Severities kept; undefined: every one. */
  severities: ReadonlySet<ExportSeverity> | undefined;
  /** Framework ids (status) or spec.framework names kept; empty: every one. */
  frameworks: readonly string[];
  /** Only findings with a fixed version. */
  fixable: boolean;
}

/**
 * `--severity`: one severity is a minimum (it and the more severe ones, as `audit --fail-on`);
 * a comma-separated list is exactly those (Trivy's form). `high,` is exactly HIGH. Empty: all.
 */
export function parseSeverityFilter(text: string): ReadonlySet<ExportSeverity> | undefined {
  if (text.trim() === '') return undefined;
  const words = text.split(',').map((word) => word.trim()).filter((word) => word !== '');
  const parsed = words.map((word) => {
    const severity = severities.find((s) => s === word.toUpperCase());
    if (!severity) throw new UsageError(`--severity ${text}: ${word} is not one of ${severities.join(', ').toLowerCase()}`);
    return severity;
  });
  const [single] = parsed;
  if (!text.includes(',') && single !== undefined) return new Set(severities.slice(0, severities.indexOf(single) + 1));
  return new Set(parsed);
}

// ---- selection -----------------------------------------------------------------------------

interface Named {
  metadata: { name?: string; namespace?: string };
}

/** Whether an ImageScan or ComplianceReport is in the namespace and among the names asked for. */
export function objectSelected(object: Named, filters: Pick<ExportFilters, 'namespace' | 'names'>): boolean {
  if (filters.namespace !== undefined && object.metadata.namespace !== filters.namespace) return false;
  return filters.names.length === 0 || filters.names.includes(object.metadata.name ?? '');
}

/**
 * Whether a ComplianceReport's framework is asked for: its evaluated framework id
 * (`pss-restricted`, `custom:team-baseline`) or its spec.framework (`custom` selects every custom
 * one), in any case.
 */
export function frameworkSelected(report: Pick<ComplianceReport, 'spec' | 'status'>, frameworks: readonly string[]): boolean {
  if (frameworks.length === 0) return true;
  const own = [report.status?.framework?.id, report.spec.framework].filter((id): id is string => !!id).map((id) => id.toLowerCase());
  return frameworks.some((wanted) => own.includes(wanted.toLowerCase()));
}

// ---- findings ------------------------------------------------------------------------------

export interface FindingRow {
  namespace: string;
  imagescan: string;
  image: string;
  digest: string;
  vulnerabilityId: string;
  package: string;
  installedVersion: string;
  fixedVersion: string;
  severity: string;
  /** The highest CVSS score of any rating, or null when none has one. */
  score: number | null;
  fixable: boolean;
  title: string;
  scannedAt: string;
}

export const findingColumns = ['namespace', 'imagescan', 'image', 'digest', 'vulnerabilityId', 'package', 'installedVersion', 'fixedVersion', 'severity', 'score', 'fixable', 'title', 'scannedAt'] as const satisfies ReadonlyArray<keyof FindingRow>;

/** The rows of one ImageScan's findings (all of them, from its SBOM) that pass the filters. */
export function findingRows(scan: ImageScan, findings: readonly VulnerabilityFinding[], filters: Pick<ExportFilters, 'severities' | 'fixable'>, digest?: string): FindingRow[] {
  const base = {
    namespace: scan.metadata.namespace ?? '',
    imagescan: scan.metadata.name ?? '',
    image: scan.spec.image,
    digest: scan.status?.digest ?? digest ?? '',
    scannedAt: scan.status?.completedAt ?? '',
  };
  return findings
    .filter((finding) => (!filters.severities || filters.severities.has(finding.severity)) && (!filters.fixable || !!finding.fixedVersion))
    .map((finding) => ({
      namespace: base.namespace,
      imagescan: base.imagescan,
      image: base.image,
      digest: base.digest,
      vulnerabilityId: finding.id,
      package: finding.package,
      installedVersion: finding.installedVersion ?? '',
      fixedVersion: finding.fixedVersion ?? '',
      severity: finding.severity,
      score: finding.score ?? null,
      fixable: !!finding.fixedVersion,
      title: finding.title ?? '',
      scannedAt: base.scannedAt,
    }));
}

// ---- compliance ----------------------------------------------------------------------------

export interface ComplianceRow {
  namespace: string;
  report: string;
  frameworkId: string;
  frameworkTitle: string;
  frameworkVersion: string;
  controlId: string;
  controlTitle: string;
  severity: string;
  objectApiVersion: string;
  objectKind: string;
  objectNamespace: string;
  objectName: string;
  result: 'pass' | 'fail';
  message: string;
  generatedAt: string;
}

export const complianceColumns = ['namespace', 'report', 'frameworkId', 'frameworkTitle', 'frameworkVersion', 'controlId', 'controlTitle', 'severity', 'objectApiVersion', 'objectKind', 'objectNamespace', 'objectName', 'result', 'message', 'generatedAt'] as const satisfies ReadonlyArray<keyof ComplianceRow>;

/**
 * One row per (object, control) the evaluation gave a result: the object's passed and failed
 * controls, in the framework's control order. A control that did not apply to an object (a manual
 * control, a rule about another kind) has no result for it and no row.
 */
export function complianceRows(document: ComplianceResultsDocument, filters: Pick<ExportFilters, 'severities'>): ComplianceRow[] {
  const controls = document.controls.filter((control) => !filters.severities || filters.severities.has(control.severity.toUpperCase() as ExportSeverity));
  const rows: ComplianceRow[] = [];
  for (const object of document.objects) {
    const passed = new Set(object.passed);
    const failed = new Map(object.failed.map(({ control, message }) => [control, message]));
    for (const control of controls) {
      const message = failed.get(control.id);
      if (message === undefined && !passed.has(control.id)) continue;
      rows.push({
        namespace: document.report.namespace,
        report: document.report.name,
        frameworkId: document.framework.id,
        frameworkTitle: document.framework.title,
        frameworkVersion: document.framework.version,
        controlId: control.id,
        controlTitle: control.title,
        severity: control.severity,
        objectApiVersion: object.apiVersion,
        objectKind: object.kind,
        objectNamespace: object.namespace ?? '',
        objectName: object.name,
        result: message === undefined ? 'pass' : 'fail',
        message: message ?? '',
        generatedAt: document.generatedAt,
      });
    }
  }
  return rows;
}

// ---- text ----------------------------------------------------------------------------------

/** A CSV line (CRLF, RFC 4180) of the given columns of a row. */
export function csvLine<Row>(columns: ReadonlyArray<keyof Row & string>, row: Row): string {
  return `${columns.map((column) => csvCell(cellText(row[column] as string | number | boolean | null))).join(',')}\r\n`;
}

export function csvHeader(columns: readonly string[]): string {
  return `${columns.map((column) => csvCell(column)).join(',')}\r\n`;
}

/** A value as CSV shows it: null as empty, booleans as true/false. */
export function cellText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : String(value);
}

/** Whatever a JSON export could not read, beside the rows it did. */
export interface ExportError {
  kind: 'ImageScan' | 'ComplianceReport';
  namespace?: string;
  name?: string;
  /** NotCompleted and NotStored: nothing to read yet. Unreadable: stored data missing or corrupt. ListFailed: the API refused. NotFound: a --name nobody has. */
  reason: 'NotCompleted' | 'NotStored' | 'Unreadable' | 'ListFailed' | 'NotFound';
  message: string;
}

/** The stderr line of an error. */
export function errorLine(error: ExportError): string {
  const where = error.name ? ` ${error.namespace ? `${error.namespace}/` : ''}${error.name}` : 's';
  return `securestack: ${error.kind}${where}: ${error.reason}: ${error.message}\n`;
}

export interface ExportHeader {
  context: string;
  generatedAt: string;
  filters: ExportFilters;
}

/**
 * The JSON document, written in pieces so rows stream: `open`, then per array `arrayStart`,
 * `item`s and `arrayEnd`, then `close` with the errors and counts. Each row is one line.
 */
export const jsonExport = {
  open(header: ExportHeader): string {
    const { filters } = header;
    const head = {
      apiVersion: 'securestack.io/v1alpha1',
      kind: 'ReportExport',
      context: header.context,
      generatedAt: header.generatedAt,
      filters: {
        namespace: filters.namespace ?? null,
        names: filters.names,
        severities: filters.severities ? severities.filter((s) => filters.severities?.has(s)) : null,
        frameworks: filters.frameworks,
        fixable: filters.fixable,
      },
    };
    return JSON.stringify(head, null, 2).slice(0, -2);
  },
  arrayStart(name: 'findings' | 'compliance'): string {
    return `,\n  ${JSON.stringify(name)}: [`;
  },
  item(row: FindingRow | ComplianceRow, first: boolean): string {
    return `${first ? '' : ','}\n    ${JSON.stringify(row)}`;
  },
  arrayEnd(empty: boolean): string {
    return empty ? ']' : '\n  ]';
  },
  close(errors: readonly ExportError[], counts: Record<string, number>): string {
    const list = errors.length === 0 ? '[]' : `[\n${errors.map((e) => `    ${JSON.stringify(e)}`).join(',\n')}\n  ]`;
    return `,\n  "errors": ${list},\n  "counts": ${JSON.stringify(counts)}\n}\n`;
  },
};
