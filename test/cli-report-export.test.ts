// `securestack report export` end to end on the real plane: ImageScans completed by the real Trivy
// in two namespaces and ComplianceReports evaluated by the operator, exported by the compiled
// command with the plane's kubeconfig. Every expectation is read back from what the cluster holds
// (the stored SBOMs and results documents, the statuses), never written down by hand.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { imageScanType } from '../operator/api/resources';
import type { ComplianceReport, ImageScan } from '../operator/api/types.generated';
import type { ComplianceRow, ExportError, FindingRow } from '../operator/cli/export';
import { readResults, type ComplianceResultsDocument } from '../operator/features/compliance/results-store';
import { summarize } from '../operator/features/scan/report';
import { readSbom, storeSbom } from '../operator/features/scan/sbom-store';
import { KubeClient } from '../operator/platform/kube/client';
import { kubeconfigPath, kubectl, repoRoot, waitFor } from './support/cluster';
import { generateTrivyReport } from './support/cyclonedx';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { freePort, imageScanManifest, requireScanEnvironment, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment } from './support/scanenv';

interface Exported {
  code: number;
  stdout: string;
  stderr: string;
}

interface ExportDocument {
  context: string;
  filters: Record<string, unknown>;
  findings?: FindingRow[];
  compliance?: ComplianceRow[];
  errors: ExportError[];
  counts: Record<string, number>;
}

function exportCli(args: string[]): Exported {
  const main = path.join(repoRoot(), 'dist', 'operator', 'cli', 'main.js');
  const result = spawnSync(process.execPath, [main, 'report', 'export', ...args, '--kubeconfig', kubeconfigPath()], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function exportJson(args: string[], expectedCode = 0): ExportDocument {
  const result = exportCli([...args, '-o', 'json']);
  assert.equal(result.code, expectedCode, `exit code of report export ${args.join(' ')}; stderr: ${result.stderr}`);
  return JSON.parse(result.stdout) as ExportDocument;
}

/** RFC 4180, written independently of the command's writer: quoted fields, doubled quotes, CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const endCell = (): void => {
    row.push(cell);
    cell = '';
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted && char === '"' && text[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (char === '"') {
      quoted = !quoted;
    } else if (!quoted && char === ',') {
      endCell();
    } else if (!quoted && char === '\r' && text[i + 1] === '\n') {
      endCell();
      rows.push(row);
      row = [];
      i++;
    } else {
      cell += char;
    }
  }
  assert.equal(cell + row.join(''), '', 'the CSV ends with CRLF');
  return rows;
}

/** What a CSV cell shows for a JSON value: null empty, and a spreadsheet formula neutralised with '. */
function shown(value: string | number | boolean | null): string {
  const text = value === null ? '' : String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** CSV parses back to the same rows as the JSON export, column by column. */
function assertCsvMatchesJson(csv: string, rows: ReadonlyArray<FindingRow | ComplianceRow>): void {
  const [header = [], ...cells] = parseCsv(csv);
  assert.ok(rows.length > 0, 'rows to compare');
  assert.deepEqual(header, Object.keys(rows[0] ?? {}), 'CSV columns are the JSON keys, in order');
  assert.deepEqual(
    cells,
    rows.map((row) => Object.values(row).map(shown)),
  );
}

/** Findings straight from a CycloneDX document: one per (vulnerability id, affected component). */
function rawFindingIds(bom: Record<string, unknown>): string[] {
  const ids: string[] = [];
  for (const vulnerability of (bom.vulnerabilities ?? []) as Array<{ id: string; affects?: Array<{ ref: string }> }>) {
    const components = new Set((vulnerability.affects ?? []).map((affect) => affect.ref));
    ids.push(...Array.from(components, () => vulnerability.id));
  }
  return ids.sort();
}

/** One `object control result` per pass and fail in a stored results document. */
function storedResults(document: ComplianceResultsDocument): string[] {
  return document.objects
    .flatMap((object) => [
      ...object.passed.map((control) => `${object.kind}/${object.namespace ?? ''}/${object.name} ${control} pass`),
      ...object.failed.map(({ control }) => `${object.kind}/${object.namespace ?? ''}/${object.name} ${control} fail`),
    ])
    .sort();
}

const rowKey = (row: ComplianceRow): string => `${row.objectKind}/${row.objectNamespace}/${row.objectName} ${row.controlId} ${row.result}`;

describe('securestack report export against the real plane', () => {
  const resources = new TestResources();
  const client = (): KubeClient => KubeClient.fromDefault();
  let env: ScanEnvironment;
  let teamA: string;
  let teamB: string;
  let operator: OperatorProcess;
  const scans = new Map<string, ImageScan>();
  const reports = new Map<string, ComplianceReport>();

  async function completedReport(namespace: string, name: string): Promise<ComplianceReport> {
    return waitFor(`ComplianceReport ${namespace}/${name} to be Completed`, async () => {
      const result = await kubectl(['get', 'compliancereport', name, '-o', 'json'], { namespace, allowFail: true });
      const report = result.code === 0 ? (JSON.parse(result.stdout) as ComplianceReport) : undefined;
      if (report?.status?.phase === 'Failed') throw new Error(`ComplianceReport failed: ${JSON.stringify(report.status.conditions)}`);
      return report?.status?.phase === 'Completed' && report.status.resultsRef ? report : undefined;
    }, { timeoutMs: 60_000 });
  }

  before(async () => {
    env = await requireScanEnvironment();
    teamA = await resources.namespace('export-a');
    teamB = await resources.namespace('export-b');
    operator = resources.track(startOperator({ identity: `export-${teamA}`, namespace: teamA, leaseName: 'export', env: scanOperatorEnv(env, await freePort()) }));
    await waitUntilLeading(operator, teamA, 'export');
    await kubectl(['apply', '-f', '-'], { namespace: teamA, input: imageScanManifest('debian', `${env.registry}/fixtures/debian-app:1`) });
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: imageScanManifest('alpine', `${env.registry}/fixtures/alpine-app:1`) });
    // Workloads for the compliance reports: one privileged, one clean.
    const deployment = (name: string, securityContext: Record<string, unknown>): string =>
      JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1', securityContext }] } } } });
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: deployment('agent', { privileged: true }) });
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: deployment('web', { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 1000, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } }) });
    const reportOf = (name: string, spec: Record<string, unknown>): string => JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceReport', metadata: { name }, spec });
    const controls = [
      { id: 'priv', title: 'No privileged containers', severity: 'CRITICAL', rules: ['disallow-privileged'] },
      { id: 'app-label', title: 'Workloads carry an app label', severity: 'LOW', customRule: { schema: { properties: { metadata: { required: ['labels'] } } } } },
    ];
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: reportOf('custom', { framework: 'custom', title: 'Export test', scope: { namespaces: [teamB] }, controls }) });
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: reportOf('baseline', { framework: 'pss-baseline', scope: { namespaces: [teamB] } }) });

    scans.set(teamA, (await waitForPhase(teamA, 'debian', 'Completed', operator)) as unknown as ImageScan);
    scans.set(teamB, (await waitForPhase(teamB, 'alpine', 'Completed', operator)) as unknown as ImageScan);
    reports.set('custom', await completedReport(teamB, 'custom'));
    reports.set('baseline', await completedReport(teamB, 'baseline'));
    await resources.stopOperators();
  });

  after(() => resources.deleteNamespaces());

  it('exports every finding of each stored SBOM, per namespace, equal to the status counts', async () => {
    for (const [namespace, scan] of scans) {
      const doc = exportJson(['findings', '-n', namespace]);
      assert.ok(scan.status?.sbomRef);
      const bom = JSON.parse((await readSbom(client(), namespace, scan.status.sbomRef)).toString('utf8')) as Record<string, unknown>;
      const expected = rawFindingIds(bom);
      assert.ok(expected.length > 0, `the fixture image in ${namespace} has findings`);
      assert.deepEqual((doc.findings ?? []).map((row) => row.vulnerabilityId).sort(), expected);
      const summary = scan.status.summary ?? {};
      assert.equal(doc.findings?.length, (summary.critical ?? 0) + (summary.high ?? 0) + (summary.medium ?? 0) + (summary.low ?? 0) + (summary.unknown ?? 0));
      assert.equal(doc.findings?.filter((row) => row.fixable).length, summary.fixable);
      assert.ok(doc.findings?.every((row) => row.namespace === namespace && row.digest === scan.status?.digest && row.image === scan.spec.image), 'rows carry their ImageScan');
      assert.deepEqual(doc.errors, []);
      assert.deepEqual(doc.counts, { imageScans: 1, findings: expected.length });
    }
  });

  it('filters by severity: the minimum is in, the severity below is out, a list is exact', () => {
    const all = exportJson(['findings', '-n', teamA]).findings ?? [];
    const severitiesHeld = new Set(all.map((row) => row.severity));
    assert.ok(severitiesHeld.has('HIGH') && [...severitiesHeld].some((s) => s === 'MEDIUM' || s === 'LOW'), `the fixture spans HIGH and below: ${[...severitiesHeld].join(',')}`);
    const high = exportJson(['findings', '-n', teamA, '--severity', 'high']).findings ?? [];
    assert.deepEqual(high, all.filter((row) => row.severity === 'CRITICAL' || row.severity === 'HIGH'));
    assert.ok(high.some((row) => row.severity === 'HIGH'));
    const exact = exportJson(['findings', '-n', teamA, '--severity', 'high,']).findings ?? [];
    assert.deepEqual(exact, all.filter((row) => row.severity === 'HIGH'));
    const fixable = exportJson(['findings', '-n', teamA, '--fixable']).findings ?? [];
    assert.deepEqual(fixable, all.filter((row) => row.fixedVersion !== ''));
  });

  it('filters by namespace: -n gives one namespace, -A every one', () => {
    const a = exportJson(['findings', '-n', teamA]).findings ?? [];
    const b = exportJson(['findings', '-n', teamB]).findings ?? [];
    // Other test files may have left objects elsewhere; only ours are compared.
    const everywhere = JSON.parse(exportCli(['findings', '-A', '-o', 'json']).stdout) as ExportDocument;
    assert.deepEqual((everywhere.findings ?? []).filter((row) => row.namespace === teamA || row.namespace === teamB), [...a, ...b]);
    assert.deepEqual(everywhere.filters.namespace, null);
    assert.ok(!a.some((row) => row.namespace === teamB));
  });

  it('exports every stored compliance result, filtered by framework and control severity', async () => {
    const all = exportJson(['compliance', '-n', teamB]);
    for (const [name, report] of reports) {
      assert.ok(report.status?.resultsRef);
      const stored = await readResults(client(), teamB, report.status.resultsRef);
      const rows = (all.compliance ?? []).filter((row) => row.report === name);
      assert.ok(rows.length > 0, `report ${name} has results`);
      assert.deepEqual(rows.map(rowKey).sort(), storedResults(stored));
      assert.ok(rows.every((row) => row.frameworkId === stored.framework.id && row.generatedAt === stored.generatedAt));
    }
    const custom = exportJson(['compliance', '-n', teamB, '--framework', 'custom']).compliance ?? [];
    assert.deepEqual(custom, (all.compliance ?? []).filter((row) => row.report === 'custom'));
    const baseline = exportJson(['compliance', '-n', teamB, '--framework', 'pss-baseline']).compliance ?? [];
    assert.deepEqual(baseline, (all.compliance ?? []).filter((row) => row.report === 'baseline'));
    const critical = exportJson(['compliance', '-n', teamB, '--framework', 'custom', '--severity', 'critical']).compliance ?? [];
    assert.deepEqual(critical, custom.filter((row) => row.controlId === 'priv'));
    assert.ok(custom.some((row) => row.controlId === 'app-label'), 'the LOW control had results to leave out');
    assert.ok(custom.some((row) => row.result === 'fail' && row.objectName === 'agent' && row.controlId === 'priv'));
  });

  it('writes CSV that parses back to the same rows as JSON', () => {
    const findings = exportJson(['findings', '-n', teamA]).findings ?? [];
    const findingsCsv = exportCli(['findings', '-n', teamA, '-o', 'csv']);
    assert.equal(findingsCsv.code, 0, findingsCsv.stderr);
    assertCsvMatchesJson(findingsCsv.stdout, findings);
    const compliance = exportJson(['compliance', '-n', teamB]).compliance ?? [];
    const complianceCsv = exportCli(['compliance', '-n', teamB, '-o', 'csv']);
    assert.equal(complianceCsv.code, 0, complianceCsv.stderr);
    assertCsvMatchesJson(complianceCsv.stdout, compliance);
  });

  it('reads the whole SBOM when status holds only the top 20, and reports a corrupt one without losing the others', async () => {
    // No operator runs now: this ImageScan's status and SBOM are written here, through the
    // operator's own store, with more findings than status can hold.
    const generated = generateTrivyReport({ components: 30, vulnerabilities: 40, seed: 13 });
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: imageScanManifest('big', 'registry.invalid/generated:1') });
    const created = await client().getCustom<ImageScan>(imageScanType, { namespace: teamB, name: 'big' });
    assert.ok(created?.metadata.uid);
    const stored = await storeSbom(client(), { namespace: teamB, name: 'big', uid: created.metadata.uid }, generated.json);
    const facts = summarize(generated.bom, '1.6');
    await client().replaceCustomStatus(imageScanType, { ...created, status: { phase: 'Completed', observedGeneration: 1, digest: generated.digest, summary: facts.summary, topFindings: facts.topFindings, componentCount: facts.componentCount, sbomRef: { name: stored.name, parts: stored.parts }, completedAt: new Date().toISOString() } });
    assert.ok(generated.findings.length > 20, `the generated SBOM has ${generated.findings.length} findings`);

    const big = exportJson(['findings', '-n', teamB, '--name', 'big']);
    assert.equal(big.findings?.length, generated.findings.length);
    assert.equal(big.findings?.length, facts.findingCount);
    assert.deepEqual((big.findings ?? []).map((row) => row.vulnerabilityId).sort(), rawFindingIds(generated.bom));

    // A part whose recorded sha256 no longer matches: named on stderr and in errors, exit 2, the
    // other ImageScan in the namespace still exported.
    await kubectl(['annotate', 'configmap', stored.name, '--overwrite', `securestack.io/sbom-sha256=${'0'.repeat(64)}`], { namespace: teamB });
    const damaged = exportJson(['findings', '-n', teamB], 2);
    assert.deepEqual(damaged.errors.map((error) => `${error.name ?? ''} ${error.reason}`), ['big Unreadable']);
    assert.match(damaged.errors[0]?.message ?? '', /corrupt: sha256/);
    assert.deepEqual((damaged.findings ?? []).map((row) => row.imagescan), (exportJson(['findings', '-n', teamB, '--name', 'alpine']).findings ?? []).map(() => 'alpine'));
    const stderr = exportCli(['findings', '-n', teamB, '-o', 'csv']);
    assert.equal(stderr.code, 2);
    assert.match(stderr.stderr, new RegExp(`ImageScan ${teamB}/big: Unreadable`));
    // Only the damaged one selected: nothing readable, exit 2 as well.
    assert.equal(exportCli(['findings', '-n', teamB, '--name', 'big']).code, 2);
  });

  it('names ImageScans that are not Completed, and a --name nobody has', async () => {
    await kubectl(['apply', '-f', '-'], { namespace: teamA, input: imageScanManifest('pending', 'registry.invalid/pending:1') });
    const doc = exportJson(['findings', '-n', teamA]);
    assert.deepEqual(doc.errors.map((error) => `${error.name ?? ''} ${error.reason}`), ['pending NotCompleted']);
    assert.equal(doc.counts.imageScans, 1, 'the completed one is still exported, exit 0');
    const missing = exportJson(['findings', '-n', teamA, '--name', 'nobody'], 2);
    assert.deepEqual(missing.errors.map((error) => `${error.name ?? ''} ${error.reason}`), ['nobody NotFound']);
  });
});
