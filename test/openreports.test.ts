// OpenReports mapping (issue 10), pure: a Report per namespace and a ClusterReport, one result
// per object and control, names and labels that identify the ComplianceReport, and the 900 KiB
// bound at its edge (whole, failed only, then cut with limits.maxResults).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openReportName, openReports, reportLabels } from '../operator/features/compliance/openreports';
import { resultsOf, type ComplianceResults, type ComplianceResultsDocument } from '../operator/features/compliance/results-store';

function document(objects: ComplianceResultsDocument['objects']): ComplianceResults {
  return resultsOf({
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ComplianceResults',
    report: { namespace: 'security', name: 'cis' },
    framework: { id: 'cis-kubernetes-workloads', title: 'CIS', version: '1.10.0' },
    podSecurityVersion: 'latest',
    generatedAt: '2026-12-01T10:00:00Z',
    controls: [{ id: '5.2.2', title: 'Minimize privileged containers', severity: 'HIGH' }, { id: '5.1.1', title: 'cluster-admin only where required', severity: 'CRITICAL' }],
    objects,
  });
}

const deployment = (namespace: string, name: string, failed: boolean): ComplianceResultsDocument['objects'][number] => ({
  apiVersion: 'apps/v1', kind: 'Deployment', namespace, name, uid: `uid-${name}`,
  passed: failed ? [] : ['5.2.2'],
  failed: failed ? [{ control: '5.2.2', message: 'spec.template.spec.containers[0].securityContext.privileged: privileged' }] : [],
});

describe('openReports', () => {
  it('writes a Report per namespace and a ClusterReport, with a result per object and control', () => {
    const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'admins', passed: [], failed: [{ control: '5.1.1', message: 'binds cluster-admin' }] };
    const reports = [...openReports(document([deployment('b', 'api', false), deployment('a', 'web', true), deployment('a', 'ok', false), binding]))];
    assert.deepEqual(reports.map((report) => `${report.kind}/${report.metadata.namespace ?? ''}`), ['ClusterReport/', 'Report/a', 'Report/b']);
    const a = reports[1];
    assert.deepEqual(a?.summary, { pass: 1, fail: 1, warn: 0, error: 0, skip: 0 });
    assert.deepEqual(a?.results.map((result) => [result.rule, result.result, result.severity, result.resources[0]?.name]), [['5.2.2', 'fail', 'high', 'web'], ['5.2.2', 'pass', 'high', 'ok']]);
    assert.deepEqual(a?.results[0]?.timestamp, { seconds: Date.parse('2026-12-01T10:00:00Z') / 1000, nanos: 0 });
    assert.equal(a?.results[0]?.policy, 'cis-kubernetes-workloads');
    assert.equal(a?.configuration, undefined);
    assert.equal(reports[0]?.results[0]?.severity, 'critical');
    assert.equal(reports[0]?.metadata.namespace, undefined);
    assert.ok(reports.every((report) => report.metadata.name === 'securestack-security-cis'));
  });

  it('names and labels reports per ComplianceReport, within Kubernetes limits', () => {
    const long = { namespace: 'n'.repeat(63), name: 'r'.repeat(253) };
    assert.ok(openReportName(long).length <= 253);
    assert.notEqual(openReportName(long), openReportName({ ...long, name: `${'r'.repeat(252)}s` }));
    const labels = reportLabels(long);
    assert.ok(Object.values(labels).every((value) => value.length <= 63));
  });

  it('keeps a report whole at exactly the byte bound, failed results only one byte under it, and cuts with maxResults below that', () => {
    const objects = Array.from({ length: 40 }, (_, i) => deployment('a', `web-${i}`, i % 2 === 0));
    const [whole] = [...openReports(document(objects), Number.MAX_SAFE_INTEGER)];
    assert.ok(whole);
    const exact = Buffer.byteLength(JSON.stringify(whole));
    assert.deepEqual([...openReports(document(objects), exact)][0], whole);
    const [failedOnly] = [...openReports(document(objects), exact - 1)];
    assert.deepEqual(failedOnly?.configuration, { limits: { statusFilter: ['fail'] } });
    assert.equal(failedOnly?.results.length, 20);
    assert.ok(failedOnly?.results.every((result) => result.result === 'fail'));
    assert.deepEqual(failedOnly?.summary, whole.summary, 'the summary counts every result');
    const [cut] = [...openReports(document(objects), Math.floor(exact / 4))];
    assert.ok(cut && cut.results.length > 0 && cut.results.length < 20);
    assert.deepEqual(cut.configuration, { limits: { maxResults: cut.results.length, statusFilter: ['fail'] } });
    assert.ok(Buffer.byteLength(JSON.stringify(cut)) <= Math.floor(exact / 4));
  });
});
