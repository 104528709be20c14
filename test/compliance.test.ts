// ComplianceReports end to end on the real test plane (issue 10): the operator evaluates custom
// frameworks over fixture namespaces, writes a result per control with examples, the score and
// its trend, every object's result to owned ConfigMaps, OpenReports that the upstream CRDs
// accept, Events and metrics; the API server refuses invalid specs at apply time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ComplianceReport } from '../operator/api/types.generated';
import { KubeClient } from '../operator/platform/kube/client';
import { readResults } from '../operator/features/compliance/results-store';
import { kubectl, repoRoot, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { TestResources } from './support/scanenv';

const run = randomBytes(3).toString('hex');
const runLabel = 'securestack.io/test-run';

/** A container that passes every rule used here. */
const good = { name: 'app', image: 'registry.example.com/app:1.0', securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 1000, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } } };
const privileged = { name: 'agent', image: 'registry.example.com/agent:1.0', securityContext: { privileged: true } };

function deployment(name: string, spec: Record<string, unknown>, labels: Record<string, string> = { team: 'a' }): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name, ...labels } }, spec } },
  });
}

/** Controls checked four ways; the fixtures below give each a known result. */
const controls = [
  { id: 'priv', title: 'No privileged containers', severity: 'CRITICAL', rules: ['disallow-privileged'] },
  { id: 'team-label', title: 'Workloads carry a team label', severity: 'LOW', customRule: { schema: { properties: { metadata: { required: ['labels'], properties: { labels: { required: ['team'] } } } } } } },
  { id: 'audit-logs', title: 'API server audit logging is on', severity: 'MEDIUM', manual: 'audit logging is configured on the API server, not visible through the API' },
  { id: 'admin-bindings', title: 'No cluster-admin bindings', severity: 'HIGH', rules: ['disallow-cluster-admin-binding'] },
  { id: 'scanned', title: 'Every image scanned within a day', severity: 'HIGH', vulnerabilities: { maxScanAgeHours: 24 } },
];

function reportManifest(name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): string {
  return JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceReport', metadata: { name, labels: { [runLabel]: run }, annotations }, spec });
}

async function getReport(namespace: string, name: string): Promise<ComplianceReport> {
  const result = await kubectl(['get', 'compliancereport', name, '-o', 'json'], { namespace });
  return JSON.parse(result.stdout) as ComplianceReport;
}

describe('ComplianceReport on the real plane', () => {
  const resources = new TestResources();
  let home: string;
  let teamA: string;
  let teamB: string;
  let excluded: string;
  let operator: OperatorProcess;

  before(async () => {
    await ensureCrds();
    // The upstream OpenReports CRDs, unchanged (test/fixtures/openreports/SOURCE.md).
    const crds = path.join(repoRoot(), 'test', 'fixtures', 'openreports');
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', crds]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', crds]);
    home = await resources.namespace('compliance-home');
    teamA = await resources.namespace('compliance-a');
    teamB = await resources.namespace('compliance-b');
    excluded = await resources.namespace('compliance-x');
    // team A: a privileged init container, a Deployment without the team label, a clean one.
    await kubectl(['apply', '-f', '-'], { namespace: teamA, input: deployment('agent', { initContainers: [privileged], containers: [good] }) });
    await kubectl(['apply', '-f', '-'], { namespace: teamA, input: deployment('unlabelled', { containers: [good] }, {}) });
    await kubectl(['apply', '-f', '-'], { namespace: teamA, input: deployment('web', { containers: [good] }) });
    // team B: clean. The excluded namespace: privileged, but out of scope.
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: deployment('api', { containers: [good] }) });
    await kubectl(['apply', '-f', '-'], { namespace: excluded, input: deployment('root', { containers: [privileged] }) });
    await kubectl(['label', 'namespace', teamA, teamB, excluded, `compliance-run=${run}`]);
  });

  afterEach(async () => {
    await resources.stopOperators();
  });
  after(async () => {
    await kubectl(['delete', 'compliancereports.securestack.io', '-A', '-l', `${runLabel}=${run}`, '--ignore-not-found', '--wait=false'], { allowFail: true });
    await resources.deleteNamespaces();
  });

  async function startComplianceOperator(extra: Record<string, string> = {}): Promise<OperatorProcess> {
    operator = resources.track(startOperator({ identity: `compliance-${run}-${resources.operators.length}`, namespace: home, leaseName: 'compliance', env: extra }));
    await waitUntilLeading(operator, home, 'compliance');
    return operator;
  }

  async function waitForEvaluation(namespace: string, name: string, request?: string): Promise<ComplianceReport> {
    try {
      return await waitFor(`ComplianceReport ${namespace}/${name} to be evaluated`, async () => {
        const report = await getReport(namespace, name);
        const done = (report.status?.phase === 'Completed' || report.status?.phase === 'Failed') && report.status.observedGeneration === report.metadata.generation;
        return done && (request === undefined || report.status?.evaluationRequest === request) ? report : undefined;
      }, { timeoutMs: 60_000, intervalMs: 250 });
    } catch (err) {
      const status = await kubectl(['get', 'compliancereport', name, '-o', 'jsonpath={.status}'], { namespace, allowFail: true });
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${status.stdout}\n${operator.describe()}`);
    }
  }

  it('evaluates a custom framework over a selected scope: a result per control, examples, score, stored results, OpenReports, metrics', async () => {
    await startComplianceOperator();
    const spec = { framework: 'custom', title: 'Team baseline', scope: { namespaceSelector: { matchLabels: { 'compliance-run': run } }, excludedNamespaces: [excluded] }, controls };
    await kubectl(['apply', '-f', '-'], { namespace: home, input: reportManifest('team-baseline', spec) });
    const report = await waitForEvaluation(home, 'team-baseline');
    const status = report.status;
    assert.equal(status?.phase, 'Completed', JSON.stringify(status?.conditions));
    const byId = new Map((status?.controls ?? []).map((control) => [control.id, control]));
    // Four Deployments in scope (the excluded namespace's is not); their Pods and ReplicaSets are judged through them.
    assert.deepEqual({ ...byId.get('priv'), examples: undefined }, { id: 'priv', title: 'No privileged containers', severity: 'CRITICAL', result: 'Fail', passed: 3, failed: 1, examples: undefined });
    assert.deepEqual(byId.get('priv')?.examples?.map((example) => `${example.kind} ${example.namespace}/${example.name}`), [`Deployment ${teamA}/agent`]);
    assert.match(byId.get('priv')?.examples?.[0]?.message ?? '', /spec\.template\.spec\.initContainers\[0\]\.securityContext\.privileged/);
    assert.deepEqual([byId.get('team-label')?.result, byId.get('team-label')?.passed, byId.get('team-label')?.failed], ['Fail', 3, 1]);
    assert.equal(byId.get('team-label')?.examples?.[0]?.name, 'unlabelled');
    assert.deepEqual([byId.get('audit-logs')?.result, byId.get('audit-logs')?.passed, byId.get('audit-logs')?.failed], ['Manual', 0, 0]);
    assert.equal(byId.get('admin-bindings')?.result, 'Skip', 'no RoleBindings in scope: nothing to evaluate, not Pass');
    // Nothing scanned these images: the scan control fails every workload, it never passes by default.
    assert.deepEqual([byId.get('scanned')?.result, byId.get('scanned')?.failed], ['Fail', 4]);
    assert.deepEqual(status?.summary && { pass: status.summary.pass, fail: status.summary.fail, manual: status.summary.manual, skip: status.summary.skip, objects: status.summary.objects }, { pass: 0, fail: 3, manual: 1, skip: 1, objects: 4 });
    assert.equal(status?.summary?.score, Math.round(((75 + 75 + 0) / 3) * 100) / 100);
    assert.equal(status?.summary?.previousScore, undefined);
    assert.deepEqual(status?.framework, { id: 'custom:team-baseline', title: 'Team baseline', version: 'custom' });

    // Printer columns fill in.
    const columns = await kubectl(['get', 'compliancereport', 'team-baseline', '--no-headers', '-o', 'custom-columns=F:.spec.framework,S:.status.summary.score,P:.status.summary.pass,X:.status.summary.fail,M:.status.summary.manual,PH:.status.phase'], { namespace: home });
    assert.equal(columns.stdout.trim().split(/\s+/).join(' '), `custom ${status?.summary?.score} 0 3 1 Completed`);
    const wide = await kubectl(['get', 'compliancereport', 'team-baseline'], { namespace: home });
    assert.match(wide.stdout, /FRAMEWORK\s+SCORE\s+PASSED\s+FAILED\s+MANUAL\s+PHASE\s+AGE/);

    // Every object's result, read back from the owned ConfigMaps.
    const client = KubeClient.fromDefault();
    assert.ok(status?.resultsRef);
    const stored = await readResults(client, home, status.resultsRef);
    assert.equal(stored.objects.length, 4);
    const agent = stored.objects.find((object) => object.name === 'agent');
    assert.deepEqual(agent?.failed.map((failure) => failure.control).sort(), ['priv', 'scanned']);
    assert.deepEqual(agent?.passed, ['team-label']);

    // OpenReports are written after the result is Completed; the condition follows.
    const condition = await waitFor('the OpenReports condition', async () => (await getReport(home, 'team-baseline')).status?.conditions?.find((entry) => entry.type === 'OpenReports'));
    assert.deepEqual([condition.status, condition.reason, condition.message], ['True', 'Written', '2 report(s) written']);

    // OpenReports: one Report per namespace with objects, accepted by the upstream CRD.
    const openReports = JSON.parse((await kubectl(['get', 'reports.openreports.io', '-A', '-l', `securestack.io/compliancereport-name=team-baseline,securestack.io/compliancereport-namespace=${home}`, '-o', 'json'])).stdout) as { items: { metadata: { namespace: string }; summary: { pass: number; fail: number }; results: { rule: string; result: string; policy: string; resources: { name: string }[] }[] }[] };
    assert.deepEqual(openReports.items.map((item) => item.metadata.namespace).sort(), [teamA, teamB].sort());
    const reportA = openReports.items.find((item) => item.metadata.namespace === teamA);
    assert.deepEqual(reportA?.summary, { pass: 4, fail: 5, warn: 0, error: 0, skip: 0 });
    assert.ok(reportA?.results.some((result) => result.rule === 'priv' && result.result === 'fail' && result.resources[0]?.name === 'agent' && result.policy === 'custom:team-baseline'));
    // Metrics and Events.
    assert.equal(await operator.metric('securestack_compliance_score', { namespace: home, report: 'team-baseline' }), status?.summary?.score);
    assert.equal(await operator.metric('securestack_compliance_controls', { report: 'team-baseline', result: 'Fail' }), 3);
    assert.ok(await operator.metric('securestack_compliance_evaluation_duration_seconds_count') >= 1);
    const events = await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=team-baseline', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}'], { namespace: home });
    for (const reason of ['Evaluated', 'ControlFailed']) assert.ok(events.stdout.split('\n').includes(reason), `${reason} in ${events.stdout}`);

    // Fixed, and asked again through the annotation: the score rises and the trend shows.
    await kubectl(['apply', '-f', '-'], { namespace: teamA, input: deployment('agent', { containers: [good] }) });
    await kubectl(['annotate', '--overwrite', 'compliancereport', 'team-baseline', 'securestack.io/evaluate=after-fix'], { namespace: home });
    const again = (await waitForEvaluation(home, 'team-baseline', 'after-fix')).status;
    const priv = again?.controls?.find((control) => control.id === 'priv');
    assert.deepEqual([priv?.result, priv?.passed, priv?.failed], ['Pass', 4, 0]);
    assert.equal(again?.summary?.previousScore, status?.summary?.score);
    assert.equal(again?.summary?.score, Math.round(((100 + 75 + 0) / 3) * 100) / 100);
    assert.equal(again?.summary?.scoreChange, Math.round(((again?.summary?.score ?? 0) - (status?.summary?.score ?? 0)) * 100) / 100);
    await waitFor('a ScoreChanged Event', async () => {
      const reasons = await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=team-baseline,reason=ScoreChanged', '-o', 'name'], { namespace: home });
      return reasons.stdout.trim() ? true : undefined;
    });

    // Narrowed to team B: team A's Report goes.
    await kubectl(['patch', 'compliancereport', 'team-baseline', '--type', 'merge', '-p', JSON.stringify({ spec: { scope: { namespaces: [teamB], namespaceSelector: null } } })], { namespace: home });
    await waitForEvaluation(home, 'team-baseline');
    await waitFor(`team A's Report to go`, async () => {
      const left = await kubectl(['get', 'reports.openreports.io', '-n', teamA, '-l', 'securestack.io/compliancereport-name=team-baseline', '-o', 'name']);
      return left.stdout.trim() === '' ? true : undefined;
    });
    // Deleted: its Reports in other namespaces go too (they cannot be owned across namespaces).
    await kubectl(['delete', 'compliancereport', 'team-baseline'], { namespace: home });
    await waitFor(`team B's Report to go`, async () => {
      const left = await kubectl(['get', 'reports.openreports.io', '-n', teamB, '-l', 'securestack.io/compliancereport-name=team-baseline', '-o', 'name']);
      return left.stdout.trim() === '' ? true : undefined;
    });
  });

  it('a report outside the operator\'s namespace covers only its own namespace', async () => {
    await startComplianceOperator();
    const own = { framework: 'custom', scope: { namespaces: [teamB] }, controls: controls.slice(0, 1) };
    const other = { framework: 'custom', scope: { namespaceSelector: { matchLabels: { 'compliance-run': run } } }, controls: controls.slice(0, 1) };
    const cluster = { framework: 'custom', scope: { clusterWide: true }, controls: controls.slice(0, 1) };
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: reportManifest('own', own) });
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: reportManifest('other', other) });
    await kubectl(['apply', '-f', '-'], { namespace: teamB, input: reportManifest('cluster', cluster) });
    const allowed = await waitForEvaluation(teamB, 'own');
    assert.equal(allowed.status?.phase, 'Completed');
    assert.equal(allowed.status?.controls?.[0]?.passed, 1, "team B's one Deployment");
    for (const [name, what] of [['other', `namespace\\(s\\) (${teamA}|${excluded})`], ['cluster', 'the whole cluster']] as const) {
      const refused = await waitForEvaluation(teamB, name);
      const ready = refused.status?.conditions?.find((condition) => condition.type === 'Ready');
      assert.deepEqual([refused.status?.phase, ready?.reason], ['Failed', 'ScopeNotAllowed']);
      assert.match(ready?.message ?? '', new RegExp(`spec\\.scope: a ComplianceReport in namespace ${teamB} may evaluate only ${teamB}, not ${what}`));
      assert.equal(refused.status?.controls, undefined, 'nothing about other namespaces is written');
    }
    // Listed in SECURESTACK_COMPLIANCE_CLUSTER_NAMESPACES, the same report may.
    await resources.stopOperators();
    await startComplianceOperator({ SECURESTACK_COMPLIANCE_CLUSTER_NAMESPACES: teamB });
    await kubectl(['annotate', '--overwrite', 'compliancereport', 'other', 'securestack.io/evaluate=allowed'], { namespace: teamB });
    assert.equal((await waitForEvaluation(teamB, 'other', 'allowed')).status?.phase, 'Completed');
    await kubectl(['delete', 'compliancereport', 'own', 'other', 'cluster'], { namespace: teamB });
  });

  it('refuses invalid specs at kubectl apply with a message naming the field', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['custom without controls', { framework: 'custom', scope: { clusterWide: true } }, /controls must be set when framework is custom/],
      ['controls on a built-in framework', { framework: 'pss-baseline', scope: { clusterWide: true }, controls }, /controls must be set when framework is custom, and only then/],
      ['two checks in one control', { framework: 'custom', scope: { clusterWide: true }, controls: [{ id: 'x', title: 'x', severity: 'LOW', rules: ['disallow-privileged'], manual: 'and manual' }] }, /exactly one of rules, customRule, vulnerabilities or manual/],
      ['a control id with a space', { framework: 'custom', scope: { clusterWide: true }, controls: [{ id: 'a b', title: 'x', severity: 'LOW', manual: 'm' }] }, /spec\.controls\[0\]\.id/],
      ['maxFixAgeDays alone', { framework: 'custom', scope: { clusterWide: true }, controls: [{ id: 'v', title: 'v', severity: 'LOW', vulnerabilities: { maxFixAgeDays: 30 } }] }, /maxFixAgeDays needs fixableAtOrAbove|set fixableAtOrAbove, maxScanAgeHours, or both/],
      ['maxFixAgeDays past its bound', { framework: 'custom', scope: { clusterWide: true }, controls: [{ id: 'v', title: 'v', severity: 'LOW', vulnerabilities: { fixableAtOrAbove: 'HIGH', maxFixAgeDays: 3651 } }] }, /maxFixAgeDays: Invalid value: 3651: spec\.controls\[0\]\.vulnerabilities\.maxFixAgeDays in body should be less than or equal to 3650/],
      ['a malformed Pod Security version', { framework: 'pss-baseline', podSecurityVersion: 'v2.0', scope: { clusterWide: true } }, /spec\.podSecurityVersion/],
      ['clusterWide with namespaces', { framework: 'pss-baseline', scope: { clusterWide: true, namespaces: ['a'] } }, /clusterWide and namespaces are mutually exclusive/],
      ['an unknown framework', { framework: 'iso-27001', scope: { clusterWide: true } }, /spec\.framework: Unsupported value: "iso-27001"/],
    ];
    for (const [what, spec, message] of cases) {
      const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], { namespace: home, input: reportManifest('invalid', spec), allowFail: true });
      assert.notEqual(result.code, 0, `${what} was accepted`);
      assert.match(result.stderr, message, what);
    }
    // At the bounds: 3650 days and 256 controls are accepted.
    const atBound = { framework: 'custom', scope: { clusterWide: true }, controls: Array.from({ length: 256 }, (_, i) => ({ id: `c${i}`, title: 't', severity: 'LOW', vulnerabilities: { fixableAtOrAbove: 'HIGH', maxFixAgeDays: 3650 } })) };
    const accepted = await kubectl(['apply', '--dry-run=server', '-f', '-'], { namespace: home, input: reportManifest('bound', atBound), allowFail: true });
    assert.equal(accepted.code, 0, accepted.stderr);
    const tooMany = { ...atBound, controls: [...atBound.controls, { id: 'c256', title: 't', severity: 'LOW', manual: 'm' }] };
    const refused = await kubectl(['apply', '--dry-run=server', '-f', '-'], { namespace: home, input: reportManifest('bound', tooMany), allowFail: true });
    assert.match(refused.stderr, /spec\.controls: Too many: 257: must have at most 256 items/);
  });

  it('a spec the schema accepts but the engine cannot use says why in status, an Event and a metric', async () => {
    await startComplianceOperator();
    const spec = { framework: 'custom', scope: { namespaces: [teamB] }, controls: [{ id: 'x', title: 'x', severity: 'LOW', rules: ['disallow-privileged', 'no-such-rule'] }, { id: 'y', title: 'y', severity: 'LOW', customRule: { schema: { properties: { metadata: { properties: { name: { type: 'string', pattern: '^(a)\\1$' } } } } } } }] };
    await kubectl(['apply', '-f', '-'], { namespace: home, input: reportManifest('unusable', spec) });
    const report = await waitForEvaluation(home, 'unusable');
    const ready = report.status?.conditions?.find((condition) => condition.type === 'Ready');
    assert.deepEqual([report.status?.phase, ready?.status, ready?.reason], ['Failed', 'False', 'InvalidSpec']);
    assert.match(ready?.message ?? '', /spec\.controls\[0\]\.rules\[1\]: no built-in rule is called "no-such-rule"/);
    assert.ok(await operator.metric('securestack_compliance_evaluations_total', { result: 'invalid' }) >= 1);
    const events = await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=unusable,reason=InvalidSpec', '-o', 'name'], { namespace: home });
    assert.ok(events.stdout.trim(), 'an InvalidSpec Event');
    // Fixing the rule id leaves the schema's backreference, which RE2 refuses: named by its control.
    await kubectl(['patch', 'compliancereport', 'unusable', '--type', 'json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/controls/0/rules', value: ['disallow-privileged'] }])], { namespace: home });
    await waitFor('the schema error', async () => {
      const status = (await getReport(home, 'unusable')).status;
      const message = status?.conditions?.find((condition) => condition.type === 'Ready')?.message ?? '';
      return /spec\.controls\[1\]\.customRule\.schema/.test(message) ? true : undefined;
    });
  });
});
