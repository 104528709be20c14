/**
 * ComplianceReport results as OpenReports (openreports.io/v1alpha1): a `Report` in each namespace
 * with objects in scope, a `ClusterReport` for the cluster-scoped ones, one result per object and
 * control (policy = the framework, rule = the control). Written with server-side apply when the
 * API server serves that API; stale ones (a namespace that left the scope, a deleted
 * ComplianceReport) are found by label and deleted.
 *
 * Each report stays under 900 KiB whatever the namespace holds: results are kept whole when they
 * fit, else only the failed ones (configuration.statusFilter [fail]), else the first failed ones
 * (configuration.limits.maxResults); the summary always counts every result. trivy-operator's
 * reports outgrew etcd and stopped updating; these shrink instead.
 */
import { createHash } from 'node:crypto';
import type { ComplianceResults } from './results-store';
import { isNotFound, type ApiObject, type KubeClient, type ResourceType } from '../../platform/kube/client';

export const reportType: ResourceType = { group: 'openreports.io', version: 'v1alpha1', plural: 'reports', kind: 'Report', namespaced: true };
export const clusterReportType: ResourceType = { group: 'openreports.io', version: 'v1alpha1', plural: 'clusterreports', kind: 'ClusterReport', namespaced: false };

export const OPENREPORTS_SOURCE = 'securestack';
export const LABEL_REPORT_NAMESPACE = 'securestack.io/compliancereport-namespace';
export const LABEL_REPORT_NAME = 'securestack.io/compliancereport-name';
/** No stored object may exceed this, serialized (the same bound as SBOM and results parts). */
export const MAX_REPORT_BYTES = 900 * 1024;
const FIELD_MANAGER = 'securestack-compliance';

type Result = 'pass' | 'fail';

interface OpenReportResult {
  source: string;
  policy: string;
  rule: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
  result: Result;
  scored: boolean;
  message: string;
  timestamp: { seconds: number; nanos: number };
  resources: { apiVersion: string; kind: string; namespace?: string; name: string; uid?: string }[];
}

export interface OpenReport extends ApiObject {
  apiVersion: 'openreports.io/v1alpha1';
  kind: 'Report' | 'ClusterReport';
  metadata: { name: string; namespace?: string; labels: Record<string, string>; annotations?: Record<string, string> };
  source: string;
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: OpenReportResult[];
  configuration?: { limits: { maxResults?: number; statusFilter?: Result[] } };
}

/** A label value of at most 63 characters naming the ComplianceReport. */
function labelValue(name: string): string {
  if (name.length <= 63) return name;
  return `${name.slice(0, 52).replace(/[^A-Za-z0-9]+$/, '')}-${createHash('sha256').update(name).digest('hex').slice(0, 10)}`;
}

/** One name per ComplianceReport (namespace and name), at most 253 characters. */
export function openReportName(report: { namespace: string; name: string }): string {
  const plain = `securestack-${report.namespace}-${report.name}`;
  if (plain.length <= 253) return plain;
  const hash = createHash('sha256').update(`${report.namespace}/${report.name}`).digest('hex').slice(0, 12);
  return `${plain.slice(0, 240).replace(/[.-]+$/, '')}-${hash}`;
}

export function reportLabels(report: { namespace: string; name: string }): Record<string, string> {
  return { 'app.kubernetes.io/managed-by': 'securestack', [LABEL_REPORT_NAMESPACE]: report.namespace, [LABEL_REPORT_NAME]: labelValue(report.name) };
}

/** The OpenReports for one evaluation: a Report per namespace with results, a ClusterReport if any. */
export function* openReports(results: ComplianceResults, maxBytes = MAX_REPORT_BYTES): Generator<OpenReport> {
  const { header } = results;
  const timestamp = { seconds: Math.floor(Date.parse(header.generatedAt) / 1000), nanos: 0 };
  const severityOf = (index: number): OpenReportResult['severity'] => (results.controls[index]?.severity ?? 'MEDIUM').toLowerCase() as OpenReportResult['severity'];
  // Indices per namespace first, then one report at a time: 500 namespaces of results are never
  // all in memory at once.
  const byNamespace = new Map<string, number[]>();
  results.verdicts.forEach((verdict, index) => {
    const namespace = verdict.object.namespace ?? '';
    const list = byNamespace.get(namespace);
    if (list) list.push(index);
    else byNamespace.set(namespace, [index]);
  });
  const name = openReportName(header.report);
  const labels = reportLabels(header.report);
  const annotations = { 'securestack.io/compliancereport': `${header.report.namespace}/${header.report.name}`, 'securestack.io/framework-version': header.framework.version };
  for (const namespace of [...byNamespace.keys()].sort()) {
    const entries: OpenReportResult[] = [];
    for (const index of byNamespace.get(namespace) ?? []) {
      const verdict = results.verdicts[index];
      if (!verdict) continue;
      const { object } = verdict;
      const resource = { apiVersion: object.apiVersion, kind: object.kind, ...(object.namespace ? { namespace: object.namespace } : {}), name: object.name, ...(object.uid ? { uid: object.uid } : {}) };
      const result = (control: number, outcome: Result, message: string): OpenReportResult => ({
        source: OPENREPORTS_SOURCE,
        policy: header.framework.id,
        rule: results.controls[control]?.id ?? String(control),
        severity: severityOf(control),
        result: outcome,
        scored: true,
        message,
        timestamp,
        resources: [resource],
      });
      for (const failure of verdict.failed) entries.push(result(failure.control, 'fail', failure.message.slice(0, 1024)));
      for (const passed of verdict.passed) entries.push(result(passed, 'pass', results.controls[passed]?.title ?? String(passed)));
    }
    const report: OpenReport = {
      apiVersion: 'openreports.io/v1alpha1',
      kind: namespace ? 'Report' : 'ClusterReport',
      metadata: { name, ...(namespace ? { namespace } : {}), labels, annotations },
      source: OPENREPORTS_SOURCE,
      summary: {
        pass: entries.filter((entry) => entry.result === 'pass').length,
        fail: entries.filter((entry) => entry.result === 'fail').length,
        warn: 0,
        error: 0,
        skip: 0,
      },
      results: entries,
    };
    yield withinBytes(report, maxBytes);
  }
}

/** The report itself, its failed results only, or as many failed results as fit. */
function withinBytes(report: OpenReport, maxBytes: number): OpenReport {
  const size = (candidate: OpenReport): number => Buffer.byteLength(JSON.stringify(candidate));
  if (size(report) <= maxBytes) return report;
  const failed = report.results.filter((entry) => entry.result === 'fail');
  const onlyFailed: OpenReport = { ...report, results: failed, configuration: { limits: { statusFilter: ['fail'] } } };
  if (size(onlyFailed) <= maxBytes) return onlyFailed;
  // Results of one report are alike in size: start from the average and step down until it fits.
  let keep = Math.max(0, Math.floor((failed.length * maxBytes) / size(onlyFailed)));
  for (;;) {
    const cut: OpenReport = { ...report, results: failed.slice(0, keep), configuration: { limits: { maxResults: keep, statusFilter: ['fail'] } } };
    if (size(cut) <= maxBytes || keep === 0) return cut;
    keep = Math.floor(keep * 0.95);
  }
}

export interface OpenReportsWriter {
  /** Writes this evaluation's reports and deletes the ComplianceReport's others; false when the API is not served. */
  write(results: ComplianceResults): Promise<{ served: boolean; written: number; deleted: number }>;
  /** Deletes every report of a ComplianceReport (it was deleted). */
  forget(report: { namespace: string; name: string }): Promise<number>;
}

export function openReportsWriter(client: Pick<KubeClient, 'applyCustom' | 'listCustomMetadata' | 'deleteCustom' | 'probeCustom'>): OpenReportsWriter {
  const served = async (): Promise<boolean> => {
    try {
      await client.probeCustom(reportType);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  };
  /** The ComplianceReport's reports by name only: metadata-only lists, never their results. */
  const existing = async (report: { namespace: string; name: string }): Promise<{ type: ResourceType; namespace?: string; name: string }[]> => {
    const selector = Object.entries(reportLabels(report)).filter(([key]) => key !== 'app.kubernetes.io/managed-by').map(([key, value]) => `${key}=${value}`).join(',');
    const found: { type: ResourceType; namespace?: string; name: string }[] = [];
    for (const type of [reportType, clusterReportType]) {
      for (const item of await client.listCustomMetadata(type, { labelSelector: selector })) {
        found.push({ type, ...(item.metadata?.namespace ? { namespace: item.metadata.namespace } : {}), name: item.metadata?.name ?? '' });
      }
    }
    return found;
  };
  const remove = async (stale: readonly { type: ResourceType; namespace?: string; name: string }[]): Promise<number> => {
    for (const report of stale) await client.deleteCustom(report.type, { name: report.name, ...(report.namespace ? { namespace: report.namespace } : {}) });
    return stale.length;
  };
  return {
    async write(results) {
      if (!(await served())) return { served: false, written: 0, deleted: 0 };
      const keep = new Set<string>();
      for (const report of openReports(results)) {
        await client.applyCustom(report.kind === 'Report' ? reportType : clusterReportType, report, FIELD_MANAGER);
        keep.add(`${report.metadata.namespace ?? ''}/${report.metadata.name}`);
      }
      const deleted = await remove((await existing(results.header.report)).filter((report) => !keep.has(`${report.namespace ?? ''}/${report.name}`)));
      return { served: true, written: keep.size, deleted };
    },
    async forget(report) {
      if (!(await served())) return 0;
      return remove(await existing(report));
    },
  };
}
