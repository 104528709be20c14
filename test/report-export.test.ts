// `securestack report export` without a cluster: which objects the filters select, the rows built
// from a CycloneDX document (through the scan feature's own reader) and from a stored compliance
// results document, and the exact CSV and JSON text of those rows.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ComplianceReport, ImageScan } from '../operator/api/types.generated';
import { parseFlags, UsageError } from '../operator/cli/command';
import { kubeContext } from '../operator/cli/cluster';
import { exitCodeOf, reportExportCommand } from '../operator/cli/commands/report-export';
import {
  complianceColumns,
  complianceRows,
  csvHeader,
  csvLine,
  findingColumns,
  findingRows,
  frameworkSelected,
  jsonExport,
  objectSelected,
  parseSeverityFilter,
  type ExportFilters,
  type FindingRow,
} from '../operator/cli/export';
import type { ComplianceResultsDocument } from '../operator/features/compliance/results-store';
import { summarize } from '../operator/features/scan/report';

const digest = `sha256:${'a'.repeat(64)}`;

/** Trivy's shape: a vendor rating per data source, NVD's beside it; the fix only in `recommendation`. */
const bom: Record<string, unknown> = {
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  metadata: { component: { 'bom-ref': 'image', type: 'container', name: 'registry.example/app', purl: `pkg:oci/app@${encodeURIComponent(digest)}` } },
  components: [
    { 'bom-ref': 'pkg:deb/debian/openssl@3.0.1', type: 'library', name: 'openssl', version: '3.0.1' },
    { 'bom-ref': 'pkg:deb/debian/zlib@1.2', type: 'library', name: 'zlib', version: '1.2' },
    { 'bom-ref': 'pkg:npm/%40acme/left-pad@1.0.0', type: 'library', group: '@acme', name: 'left-pad', version: '1.0.0', purl: 'pkg:npm/%40acme/left-pad@1.0.0' },
  ],
  vulnerabilities: [
    {
      id: 'CVE-2024-0001',
      source: { name: 'debian' },
      ratings: [{ source: { name: 'debian' }, severity: 'high' }, { source: { name: 'nvd' }, severity: 'critical', score: 9.8, method: 'CVSSv31' }],
      description: 'openssl: heap overflow, in the "x509" parser\nsecond line',
      recommendation: 'Upgrade openssl to version 3.0.2',
      affects: [{ ref: 'pkg:deb/debian/openssl@3.0.1', versions: [{ version: '3.0.1', status: 'affected' }] }],
    },
    {
      id: 'CVE-2024-0002',
      source: { name: 'nvd' },
      ratings: [{ source: { name: 'nvd' }, severity: 'critical', score: 9.1, method: 'CVSSv31' }],
      description: '=HYPERLINK("http://evil")',
      affects: [{ ref: 'pkg:deb/debian/zlib@1.2' }],
    },
    {
      id: 'GHSA-aaaa-bbbb-cccc',
      ratings: [{ source: { name: 'ghsa' }, severity: 'medium', score: 5.3 }, { source: { name: 'nvd' }, severity: 'high' }],
      description: 'left-pad pads wrongly',
      recommendation: 'Upgrade @acme/left-pad to version 1.0.1',
      affects: [{ ref: 'pkg:npm/%40acme/left-pad@1.0.0' }],
    },
    { id: 'CVE-2024-0004', source: { name: 'debian' }, ratings: [{ source: { name: 'debian' }, severity: 'low' }], affects: [{ ref: 'pkg:deb/debian/zlib@1.2' }] },
    { id: 'CVE-2024-0005', affects: [{ ref: 'pkg:deb/debian/openssl@3.0.1' }] },
  ],
};

function scan(namespace: string, name: string, spec: Partial<ImageScan['spec']> = {}): ImageScan {
  return {
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ImageScan',
    metadata: { namespace, name },
    spec: { image: 'registry.example/app:1', ...spec },
    status: { phase: 'Completed', digest, completedAt: '2026-12-01T10:00:00Z', sbomRef: { name: `${name}-sbom`, parts: 1 } },
  };
}

function findingsOf(doc = bom): ReturnType<typeof summarize>['topFindings'] {
  return summarize(doc, '1.6', { topN: Number.MAX_SAFE_INTEGER, topFindingsMaxBytes: Number.MAX_SAFE_INTEGER, titleMaxChars: Number.MAX_SAFE_INTEGER }).topFindings;
}

const noFilter: ExportFilters = { namespace: undefined, names: [], severities: undefined, frameworks: [], fixable: false };

const results: ComplianceResultsDocument = {
  apiVersion: 'securestack.io/v1alpha1',
  kind: 'ComplianceResults',
  report: { namespace: 'audit', name: 'baseline' },
  framework: { id: 'custom:baseline', title: 'Team baseline', version: 'custom' },
  podSecurityVersion: 'latest',
  generatedAt: '2026-12-01T11:00:00Z',
  controls: [
    { id: 'priv', title: 'No privileged containers', severity: 'CRITICAL' },
    { id: 'labels', title: 'Workloads carry, a team label', severity: 'LOW' },
    { id: 'limits', title: 'Memory limits set', severity: 'MEDIUM' },
    { id: 'manual', title: 'Audit logging', severity: 'HIGH' },
  ],
  objects: [
    { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team-a', name: 'agent', passed: ['labels'], failed: [{ control: 'priv', message: 'spec.template.spec.containers[0].securityContext.privileged is true' }, { control: 'limits', message: '-no limits' }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'ops', passed: ['priv'], failed: [] },
  ],
};

function report(framework: ComplianceReport['spec']['framework'], id: string | undefined): Pick<ComplianceReport, 'spec' | 'status'> {
  return { spec: { framework, scope: { clusterWide: true } }, ...(id ? { status: { framework: { id, title: id, version: '1' } } } : {}) };
}

describe('report export: filters', () => {
  it('reads --severity as a minimum, a list, or a list of one', () => {
    assert.deepEqual([...(parseSeverityFilter('high') ?? [])], ['CRITICAL', 'HIGH']);
    assert.deepEqual([...(parseSeverityFilter('UNKNOWN') ?? [])], ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN']);
    assert.deepEqual([...(parseSeverityFilter('critical,low') ?? [])], ['CRITICAL', 'LOW']);
    assert.deepEqual([...(parseSeverityFilter('high,') ?? [])], ['HIGH']);
    assert.equal(parseSeverityFilter(''), undefined);
    assert.throws(() => parseSeverityFilter('severe'), (err: unknown) => err instanceof UsageError && /severe is not one of critical, high/.test(err.message));
  });

  it('keeps findings at exactly the minimum severity and drops the ones below', () => {
    const rows = findingRows(scan('a', 'web'), findingsOf(), { severities: parseSeverityFilter('high'), fixable: false });
    assert.deepEqual(rows.map((row) => `${row.vulnerabilityId} ${row.severity}`), ['CVE-2024-0002 CRITICAL', 'CVE-2024-0001 HIGH']);
    // MEDIUM is one step below: in when it is the minimum, out above.
    const medium = findingRows(scan('a', 'web'), findingsOf(), { severities: parseSeverityFilter('medium'), fixable: false });
    assert.ok(medium.some((row) => row.severity === 'MEDIUM'));
    assert.ok(!medium.some((row) => row.severity === 'LOW' || row.severity === 'UNKNOWN'));
  });

  it('keeps only fixable findings with --fixable, every one without', () => {
    const all = findingRows(scan('a', 'web'), findingsOf(), { severities: undefined, fixable: false });
    const fixable = findingRows(scan('a', 'web'), findingsOf(), { severities: undefined, fixable: true });
    assert.equal(all.length, 5);
    assert.deepEqual(fixable.map((row) => `${row.vulnerabilityId} ${row.fixedVersion}`), ['CVE-2024-0001 3.0.2', 'GHSA-aaaa-bbbb-cccc 1.0.1']);
    assert.ok(all.some((row) => !row.fixable));
  });

  it('selects objects by namespace and name; -A selects every namespace', () => {
    const a = scan('team-a', 'web');
    const b = scan('team-b', 'web');
    assert.equal(objectSelected(a, { namespace: 'team-a', names: [] }), true);
    assert.equal(objectSelected(b, { namespace: 'team-a', names: [] }), false);
    assert.deepEqual([a, b].filter((s) => objectSelected(s, { namespace: undefined, names: [] })).length, 2);
    assert.equal(objectSelected(a, { namespace: undefined, names: ['api'] }), false);
    assert.equal(objectSelected(a, { namespace: undefined, names: ['api', 'web'] }), true);
  });

  it('selects ComplianceReports by evaluated framework id or spec.framework, in any case', () => {
    assert.equal(frameworkSelected(report('pss-restricted', 'pss-restricted'), ['PSS-Restricted']), true);
    assert.equal(frameworkSelected(report('pss-baseline', 'pss-baseline'), ['pss-restricted']), false);
    assert.equal(frameworkSelected(report('custom', 'custom:team'), ['custom:team']), true);
    assert.equal(frameworkSelected(report('custom', 'custom:team'), ['custom']), true, 'spec.framework custom selects every custom one');
    assert.equal(frameworkSelected(report('custom', 'custom:team'), ['custom:other']), false);
    assert.equal(frameworkSelected(report('cis-kubernetes-workloads', undefined), ['cis-kubernetes-workloads']), true, 'not evaluated yet: spec.framework still selects it');
    assert.equal(frameworkSelected(report('nsa-cisa-hardening', 'nsa-cisa-hardening'), []), true);
  });

  it('keeps compliance rows by their control severity, at exactly the minimum and not below', () => {
    const medium = complianceRows(results, { severities: parseSeverityFilter('medium') });
    assert.deepEqual(medium.map((row) => `${row.objectName} ${row.controlId}`), ['agent priv', 'agent limits', 'ops priv']);
    assert.ok(!medium.some((row) => row.severity === 'LOW'));
    assert.equal(complianceRows(results, { severities: parseSeverityFilter('low') }).length, 4);
  });
});

describe('report export: rows and text', () => {
  it('writes every finding of a document as CSV, in severity order, formulas neutralised (golden)', () => {
    const rows = findingRows(scan('team-a', 'web'), findingsOf(), noFilter);
    const csv = csvHeader(findingColumns) + rows.map((row) => csvLine(findingColumns, row)).join('');
    assert.equal(
      csv,
      [
        'namespace,imagescan,image,digest,vulnerabilityId,package,installedVersion,fixedVersion,severity,score,fixable,title,scannedAt',
        `team-a,web,registry.example/app:1,${digest},CVE-2024-0002,zlib,1.2,,CRITICAL,9.1,false,"'=HYPERLINK(""http://evil"")",2026-12-01T10:00:00Z`,
        `team-a,web,registry.example/app:1,${digest},CVE-2024-0001,openssl,3.0.1,3.0.2,HIGH,9.8,true,"openssl: heap overflow, in the ""x509"" parser",2026-12-01T10:00:00Z`,
        // A leading @ is a formula to a spreadsheet too: npm scopes get the same ' as =.
        `team-a,web,registry.example/app:1,${digest},GHSA-aaaa-bbbb-cccc,'@acme/left-pad,1.0.0,1.0.1,MEDIUM,5.3,true,left-pad pads wrongly,2026-12-01T10:00:00Z`,
        `team-a,web,registry.example/app:1,${digest},CVE-2024-0004,zlib,1.2,,LOW,,false,,2026-12-01T10:00:00Z`,
        `team-a,web,registry.example/app:1,${digest},CVE-2024-0005,openssl,3.0.1,,UNKNOWN,,false,,2026-12-01T10:00:00Z`,
        '',
      ].join('\r\n'),
    );
  });

  it('follows the ImageScan: its digest, else the document\'s; empty when neither', () => {
    const withoutDigest = scan('a', 'web');
    delete withoutDigest.status?.digest;
    assert.equal(findingRows(withoutDigest, findingsOf(), noFilter, digest)[0]?.digest, digest);
    assert.equal(findingRows(withoutDigest, findingsOf(), noFilter)[0]?.digest, '');
  });

  it('writes one compliance row per object and control with a result, as CSV (golden)', () => {
    const rows = complianceRows(results, noFilter);
    const expectedCount = results.objects.reduce((sum, object) => sum + object.passed.length + object.failed.length, 0);
    assert.equal(rows.length, expectedCount);
    const csv = csvHeader(complianceColumns) + rows.map((row) => csvLine(complianceColumns, row)).join('');
    assert.equal(
      csv,
      [
        'namespace,report,frameworkId,frameworkTitle,frameworkVersion,controlId,controlTitle,severity,objectApiVersion,objectKind,objectNamespace,objectName,result,message,generatedAt',
        'audit,baseline,custom:baseline,Team baseline,custom,priv,No privileged containers,CRITICAL,apps/v1,Deployment,team-a,agent,fail,spec.template.spec.containers[0].securityContext.privileged is true,2026-12-01T11:00:00Z',
        'audit,baseline,custom:baseline,Team baseline,custom,labels,"Workloads carry, a team label",LOW,apps/v1,Deployment,team-a,agent,pass,,2026-12-01T11:00:00Z',
        "audit,baseline,custom:baseline,Team baseline,custom,limits,Memory limits set,MEDIUM,apps/v1,Deployment,team-a,agent,fail,'-no limits,2026-12-01T11:00:00Z",
        'audit,baseline,custom:baseline,Team baseline,custom,priv,No privileged containers,CRITICAL,rbac.authorization.k8s.io/v1,ClusterRoleBinding,,ops,pass,,2026-12-01T11:00:00Z',
        '',
      ].join('\r\n'),
    );
  });

  it('streams JSON that parses to the documented shape (golden)', () => {
    const filters: ExportFilters = { namespace: 'team-a', names: ['web'], severities: parseSeverityFilter('critical'), frameworks: ['custom'], fixable: true };
    const finding: FindingRow = { namespace: 'team-a', imagescan: 'web', image: 'app:1', digest, vulnerabilityId: 'CVE-1', package: 'p', installedVersion: '1', fixedVersion: '2', severity: 'CRITICAL', score: null, fixable: true, title: 't', scannedAt: 's' };
    const text =
      jsonExport.open({ context: 'kind-dev', generatedAt: '2026-12-01T12:00:00.000Z', filters }) +
      jsonExport.arrayStart('findings') +
      jsonExport.item(finding, true) +
      jsonExport.item({ ...finding, vulnerabilityId: 'CVE-2' }, false) +
      jsonExport.arrayEnd(false) +
      jsonExport.arrayStart('compliance') +
      jsonExport.arrayEnd(true) +
      jsonExport.close([{ kind: 'ImageScan', namespace: 'team-a', name: 'old', reason: 'NotCompleted', message: 'phase is Scanning, not Completed' }], { imageScans: 1, findings: 2, complianceReports: 0, compliance: 0 });
    assert.deepEqual(JSON.parse(text), {
      apiVersion: 'securestack.io/v1alpha1',
      kind: 'ReportExport',
      context: 'kind-dev',
      generatedAt: '2026-12-01T12:00:00.000Z',
      filters: { namespace: 'team-a', names: ['web'], severities: ['CRITICAL'], frameworks: ['custom'], fixable: true },
      findings: [finding, { ...finding, vulnerabilityId: 'CVE-2' }],
      compliance: [],
      errors: [{ kind: 'ImageScan', namespace: 'team-a', name: 'old', reason: 'NotCompleted', message: 'phase is Scanning, not Completed' }],
      counts: { imageScans: 1, findings: 2, complianceReports: 0, compliance: 0 },
    });
    // One row per line, so a large export can be read (and grepped) line by line too.
    assert.equal(text.split('\n').filter((line) => line.startsWith('    {"namespace"')).length, 2);
    const all = JSON.parse(jsonExport.open({ context: '', generatedAt: 'g', filters: noFilter }) + jsonExport.close([], {})) as { filters: unknown };
    assert.deepEqual(all.filters, { namespace: null, names: [], severities: null, frameworks: [], fixable: false });
  });
});

describe('report export: command line and exit codes', () => {
  const tally = (read: number, ...reasons: Array<'NotCompleted' | 'NotStored' | 'Unreadable' | 'ListFailed' | 'NotFound'>): { read: number; errors: Array<{ kind: 'ImageScan'; reason: (typeof reasons)[number]; message: string }> } => ({ read, errors: reasons.map((reason) => ({ kind: 'ImageScan' as const, reason, message: '' })) });

  it('exits 0 when everything selected was read, or only unfinished objects were left out, 2 otherwise', () => {
    assert.equal(exitCodeOf([tally(0), tally(0)]), 0, 'nothing selected is an empty export, not an error');
    assert.equal(exitCodeOf([tally(3, 'NotCompleted'), tally(0)]), 0);
    assert.equal(exitCodeOf([tally(0, 'NotCompleted', 'NotStored'), tally(0)]), 2, 'selected, none readable');
    assert.equal(exitCodeOf([tally(3, 'Unreadable'), tally(1)]), 2, 'a corrupt SBOM is never silent');
    assert.equal(exitCodeOf([tally(3), tally(0, 'ListFailed')]), 2);
    assert.equal(exitCodeOf([tally(3, 'NotFound')]), 2);
  });

  it('refuses flags that cannot apply and CSV of two kinds of row', async () => {
    const run = (argv: string[]): Promise<number> => reportExportCommand.run(parseFlags(reportExportCommand, argv));
    await assert.rejects(run(['findings', '--framework', 'cis']), /--framework selects ComplianceReports/);
    await assert.rejects(run(['compliance', '--fixable']), /--fixable selects vulnerability findings/);
    await assert.rejects(run(['all', '-o', 'csv']), /CSV holds one kind of row/);
    await assert.rejects(run(['-o', 'csv']), /CSV holds one kind of row/, 'all is the default');
    await assert.rejects(run(['sboms']), /export one of findings, compliance, all/);
    await assert.rejects(run(['findings', '-n', 'a', '-A', '--kubeconfig', '/nonexistent']), /exclude each other/);
    assert.throws(() => parseFlags(reportExportCommand, ['-o', 'xml']), /expected one of json, csv/);
  });

  it("defaults the namespace to the context's, as kubectl does", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'securestack-export-'));
    const file = path.join(dir, 'config');
    writeFileSync(file, ['apiVersion: v1', 'current-context: dev', 'contexts:', '- name: dev', '  context: {cluster: c, user: u, namespace: team-a}', '- name: prod', '  context: {cluster: c, user: u}', ''].join('\n'));
    const parsed = (argv: string[]): ReturnType<typeof parseFlags> => parseFlags(reportExportCommand, argv);
    assert.deepEqual(kubeContext(parsed(['--kubeconfig', file]), {}), { name: 'dev', namespace: 'team-a' });
    assert.deepEqual(kubeContext(parsed(['--kubeconfig', file, '--context', 'prod']), {}), { name: 'prod', namespace: 'default' });
    assert.deepEqual(kubeContext(parsed([]), { KUBECONFIG: file }), { name: 'dev', namespace: 'team-a' });
  });
});
