// The four built-in compliance frameworks on the real plane: one ComplianceReport per framework per
// fixture namespace (compliant, violating, empty), and the exact result and counts of every control,
// written out below as literal tables (never computed from the engine, so a wrong engine answer
// fails). Also: cluster-scoped RBAC in a cluster-wide report, vulnerability controls over images
// scanned by the real Trivy (patch windows measured from the fixture advisories' publication
// dates), Pod Security version pinning on a report, and OpenReports the upstream CRDs accept.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ComplianceReport } from '../operator/api/types.generated';
import { readResults, type ComplianceResultsDocument } from '../operator/features/compliance/results-store';
import { KubeClient } from '../operator/platform/kube/client';
import { kubectl, repoRoot, waitFor } from './support/cluster';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { freePort, imageScanManifest, pushUniqueImage, requireScanEnvironment, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment } from './support/scanenv';

const run = randomBytes(3).toString('hex');
const runLabel = 'securestack.io/test-run';
const rbacGroup = 'rbac.authorization.k8s.io';

// ---------------------------------------------------------------------------------------------
// Fixtures

type Spec = Record<string, unknown>;

const resources = { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } };
/** A container that passes every container rule of the four frameworks; `changes` break one thing. */
function container(image: string, changes: Spec = {}, securityContext: Spec = {}): Spec {
  return { name: 'app', image, securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, ...securityContext }, resources, ...changes };
}
const podSecurity = { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } };
/** A pod that passes every pod rule of the four frameworks (own ServiceAccount, no token); `changes` break one thing. */
function podSpec(image: string, changes: Spec = {}): Spec {
  return { serviceAccountName: 'app', automountServiceAccountToken: false, securityContext: podSecurity, containers: [container(image)], ...changes };
}

type WorkloadKind = 'Deployment' | 'DaemonSet' | 'Pod' | 'CronJob';
function workload(kind: WorkloadKind, name: string, spec: Spec): Spec {
  const labels = { app: name };
  const template = { metadata: { labels }, spec };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata: { name, labels }, spec };
    case 'CronJob':
      // Suspended: it never makes a Job, so it is the only object its pod is judged in.
      return { apiVersion: 'batch/v1', kind, metadata: { name }, spec: { schedule: '0 0 1 1 *', suspend: true, jobTemplate: { spec: { template: { ...template, spec: { ...spec, restartPolicy: 'OnFailure' } } } } } };
    default:
      return { apiVersion: 'apps/v1', kind, metadata: { name }, spec: { ...(kind === 'Deployment' ? { replicas: 1 } : {}), selector: { matchLabels: labels }, template } };
  }
}

/** The violating namespace: one workload per violation, otherwise as compliant as the good one. */
function violations(image: string): [WorkloadKind, string, Spec][] {
  const spec = (changes: Spec): Spec => podSpec(image, changes);
  const one = (changes: Spec, securityContext: Spec = {}): Spec => spec({ containers: [container(image, changes, securityContext)] });
  return [
    // The API server refuses allowPrivilegeEscalation: false next to privileged: true, so this
    // init container breaks the privilege escalation controls too.
    ['Deployment', 'priv-init', spec({ initContainers: [{ ...container(image, { name: 'init' }), securityContext: { privileged: true, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } } }] })],
    ['Pod', 'host-pid', spec({ hostPID: true })],
    ['Deployment', 'host-network', spec({ hostNetwork: true })],
    ['Deployment', 'host-ipc', spec({ hostIPC: true })],
    ['DaemonSet', 'host-path', spec({ containers: [container(image, { volumeMounts: [{ name: 'logs', mountPath: '/var/log/host', readOnly: true }] })], volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }] })],
    // NET_RAW is outside the Baseline set as well as dropped by Restricted.
    ['Deployment', 'net-raw', one({}, { capabilities: { drop: ['ALL'], add: ['NET_RAW'] } })],
    ['Deployment', 'secret-env', one({ env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] })],
    ['CronJob', 'literal-secret', one({ env: [{ name: 'API_TOKEN', value: 'not-a-real-token' }] })],
    // Neither a ServiceAccount nor automountServiceAccountToken: the default account, with its token.
    ['Deployment', 'default-sa', spec({ serviceAccountName: undefined, automountServiceAccountToken: undefined })],
    ['Deployment', 'automount', spec({ automountServiceAccountToken: true })],
    ['Deployment', 'root', spec({ securityContext: { runAsUser: 0, seccompProfile: { type: 'RuntimeDefault' } } })],
    ['Deployment', 'writable', one({}, { readOnlyRootFilesystem: false })],
    ['Deployment', 'no-limits', one({ resources: undefined })],
    ['Deployment', 'host-port', one({ ports: [{ containerPort: 8080, hostPort: 8080 }] })],
    ['Deployment', 'unconfined', spec({ securityContext: { ...podSecurity, seccompProfile: { type: 'Unconfined' } } })],
    ['Deployment', 'escalation', one({}, { allowPrivilegeEscalation: true })],
    ['Deployment', 'apparmor', spec({ securityContext: { ...podSecurity, appArmorProfile: { type: 'Unconfined' } } })],
    ['Deployment', 'selinux', spec({ securityContext: { ...podSecurity, seLinuxOptions: { user: 'system_u' } } })],
    ['Deployment', 'sysctl', spec({ securityContext: { ...podSecurity, sysctls: [{ name: 'kernel.msgmax', value: '65536' }] } })],
    ['Deployment', 'host-probe', one({ livenessProbe: { httpGet: { host: '169.254.169.254', path: '/', port: 80 } } })],
    ['Deployment', 'nfs', spec({ containers: [container(image, { volumeMounts: [{ name: 'shared', mountPath: '/data' }] })], volumes: [{ name: 'shared', nfs: { server: 'nfs.example.com', path: '/exports' } }] })],
  ];
}

function role(name: string, rules: Spec[]): Spec {
  return { apiVersion: `${rbacGroup}/v1`, kind: 'Role', metadata: { name }, rules };
}
function roleBinding(name: string, roleRef: { kind: 'Role' | 'ClusterRole'; name: string }, subject: Spec): Spec {
  return { apiVersion: `${rbacGroup}/v1`, kind: 'RoleBinding', metadata: { name }, roleRef: { apiGroup: rbacGroup, ...roleRef }, subjects: [subject] };
}
const serviceAccount = (name: string): Spec => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name }, automountServiceAccountToken: false });
const defaultDeny: Spec = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } };
const list = (items: Spec[]): string => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

// ---------------------------------------------------------------------------------------------
// Expected results: [control id, compliant namespace, violating namespace, empty namespace], each
// "Result passed/failed". The compliant namespace holds 1 workload, 1 Role, 1 RoleBinding and a
// NetworkPolicy; the violating one 21 workloads (one per violation above), 6 Roles, 2 RoleBindings
// and no NetworkPolicy; the empty one nothing. Roles and bindings count for RBAC controls, the
// Namespace itself for the NetworkPolicy controls, workloads (not their ReplicaSets or Pods) for
// the rest. ClusterRole-only controls have nothing in a namespace scope: Skip.

type Row = readonly [id: string, ok: string, bad: string, empty: string];
const skip = 'Skip 0/0';
const manual = 'Manual 0/0';

const pssBaselineRows: readonly Row[] = [
  ['pss-baseline-host-process', 'Pass 1/0', 'Pass 21/0', skip],
  ['pss-baseline-host-namespaces', 'Pass 1/0', 'Fail 18/3', skip],
  ['pss-baseline-privileged', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-baseline-capabilities', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-baseline-host-path', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-baseline-host-ports', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-baseline-host-probes', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-baseline-apparmor', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-baseline-selinux', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-baseline-proc-mount', 'Pass 1/0', 'Pass 21/0', skip],
  ['pss-baseline-seccomp', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-baseline-sysctls', 'Pass 1/0', 'Fail 20/1', skip],
];

const pssRestrictedRows: readonly Row[] = [
  ...pssBaselineRows,
  ['pss-restricted-volume-types', 'Pass 1/0', 'Fail 19/2', skip],
  ['pss-restricted-privilege-escalation', 'Pass 1/0', 'Fail 19/2', skip],
  ['pss-restricted-running-as-non-root', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-restricted-running-as-non-root-user', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-restricted-seccomp', 'Pass 1/0', 'Fail 20/1', skip],
  ['pss-restricted-capabilities', 'Pass 1/0', 'Fail 20/1', skip],
];

const cisRows: readonly Row[] = [
  ['5.1.1', 'Pass 1/0', 'Fail 1/1', skip],
  ['5.1.2', 'Pass 1/0', 'Fail 5/1', skip],
  ['5.1.3', 'Pass 1/0', 'Fail 5/1', skip],
  ['5.1.4', 'Pass 1/0', 'Fail 5/1', skip],
  ['5.1.5', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.1.6', 'Pass 1/0', 'Fail 19/2', skip],
  ['5.1.7', manual, manual, manual],
  ['5.1.8', 'Pass 1/0', 'Fail 5/1', skip],
  ['5.1.9', skip, skip, skip],
  ['5.1.10', skip, skip, skip],
  ['5.1.11', skip, skip, skip],
  ['5.1.12', skip, skip, skip],
  ['5.1.13', 'Pass 1/0', 'Fail 5/1', skip],
  ['5.2.1', manual, manual, manual],
  ['5.2.2', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.3', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.4', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.5', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.6', 'Pass 1/0', 'Fail 19/2', skip],
  ['5.2.7', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.8', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.9', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.10', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.11', 'Pass 1/0', 'Pass 21/0', skip],
  ['5.2.12', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.2.13', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.3.1', manual, manual, manual],
  ['5.3.2', 'Pass 1/0', 'Fail 0/1', 'Fail 0/1'],
  ['5.4.1', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.4.2', manual, manual, manual],
  ['5.5.1', manual, manual, manual],
  ['5.7.1', manual, manual, manual],
  ['5.7.2', 'Pass 1/0', 'Fail 20/1', skip],
  ['5.7.3', 'Pass 1/0', 'Fail 16/5', skip],
  ['5.7.4', 'Pass 1/0', 'Pass 21/0', skip],
];

const nsaRows: readonly Row[] = [
  ['pods.non-root', 'Pass 1/0', 'Fail 20/1', skip],
  ['pods.immutable-filesystem', 'Pass 1/0', 'Fail 20/1', skip],
  ['pods.privileged', 'Pass 1/0', 'Fail 20/1', skip],
  ['pods.host-namespaces', 'Pass 1/0', 'Fail 18/3', skip],
  ['pods.privilege-escalation', 'Pass 1/0', 'Fail 19/2', skip],
  ['pods.host-path', 'Pass 1/0', 'Fail 20/1', skip],
  ['pods.host-ports', 'Pass 1/0', 'Fail 20/1', skip],
  ['pods.seccomp', 'Pass 1/0', 'Fail 20/1', skip],
  ['pods.mandatory-access-control', 'Pass 1/0', 'Fail 19/2', skip],
  ['pods.capabilities', 'Pass 1/0', 'Fail 20/1', skip],
  ['pods.service-account-token', 'Pass 1/0', 'Fail 19/2', skip],
  ['network.namespaces', 'Pass 1/0', 'Pass 21/0', skip],
  ['network.policies', 'Pass 1/0', 'Fail 0/1', 'Fail 0/1'],
  ['network.resource-limits', 'Pass 1/0', 'Fail 20/1', skip],
  ['network.secrets-in-env', 'Pass 1/0', 'Fail 20/1', skip],
  ['network.control-plane-tls', manual, manual, manual],
  ['network.etcd-encryption', manual, manual, manual],
  ['network.worker-node-segmentation', manual, manual, manual],
  ['authz.anonymous-auth', manual, manual, manual],
  ['authz.rbac-enabled', manual, manual, manual],
  ['authz.cluster-admin', 'Pass 1/0', 'Fail 1/1', skip],
  ['authz.least-privilege', 'Pass 1/0', 'Fail 3/3', skip],
  ['authz.exec-attach', 'Pass 1/0', 'Fail 5/1', skip],
  ['logging.audit', manual, manual, manual],
  ['logging.threat-detection', manual, manual, manual],
  // The compliant workload runs a clean image scanned just now; the violating ones an image never scanned.
  ['upgrades.fixable-critical-vulnerabilities', 'Pass 1/0', 'Fail 0/21', skip],
  ['upgrades.vulnerability-scanning', 'Pass 1/0', 'Fail 0/21', skip],
  ['upgrades.kubernetes-patched', manual, manual, manual],
];

const frameworks = [
  { id: 'pss-baseline', rows: pssBaselineRows, objects: { ok: 1, bad: 21, empty: 0 } },
  { id: 'pss-restricted', rows: pssRestrictedRows, objects: { ok: 1, bad: 21, empty: 0 } },
  { id: 'cis-kubernetes-workloads', rows: cisRows, objects: { ok: 4, bad: 30, empty: 1 } },
  { id: 'nsa-cisa-hardening', rows: nsaRows, objects: { ok: 4, bad: 30, empty: 1 } },
] as const;

type Column = 'ok' | 'bad' | 'empty';
const columns: readonly Column[] = ['ok', 'bad', 'empty'];

/**
 * The objects each failing control of the violating namespace reports ("Kind name"; "Namespace" is
 * the namespace itself). Controls failing more than five objects keep five examples: listed apart.
 */
const badExamples: Readonly<Record<string, readonly string[]>> = {
  'pss-baseline-host-namespaces': ['Deployment host-ipc', 'Deployment host-network', 'Pod host-pid'],
  'pss-baseline-privileged': ['Deployment priv-init'],
  'pss-baseline-capabilities': ['Deployment net-raw'],
  'pss-baseline-host-path': ['DaemonSet host-path'],
  'pss-baseline-host-ports': ['Deployment host-port'],
  'pss-baseline-host-probes': ['Deployment host-probe'],
  'pss-baseline-apparmor': ['Deployment apparmor'],
  'pss-baseline-selinux': ['Deployment selinux'],
  'pss-baseline-seccomp': ['Deployment unconfined'],
  'pss-baseline-sysctls': ['Deployment sysctl'],
  'pss-restricted-volume-types': ['DaemonSet host-path', 'Deployment nfs'],
  'pss-restricted-privilege-escalation': ['Deployment escalation', 'Deployment priv-init'],
  'pss-restricted-running-as-non-root': ['Deployment root'],
  'pss-restricted-running-as-non-root-user': ['Deployment root'],
  'pss-restricted-seccomp': ['Deployment unconfined'],
  'pss-restricted-capabilities': ['Deployment net-raw'],
  '5.1.1': ['RoleBinding admin-binding'],
  '5.1.2': ['Role secret-reader'],
  '5.1.3': ['Role wildcard'],
  '5.1.4': ['Role pod-creator'],
  '5.1.5': ['Deployment default-sa'],
  '5.1.6': ['Deployment automount', 'Deployment default-sa'],
  '5.1.8': ['Role binder'],
  '5.1.13': ['Role token-minter'],
  '5.2.2': ['Deployment priv-init'],
  '5.2.3': ['Pod host-pid'],
  '5.2.4': ['Deployment host-ipc'],
  '5.2.5': ['Deployment host-network'],
  '5.2.6': ['Deployment escalation', 'Deployment priv-init'],
  '5.2.7': ['Deployment root'],
  '5.2.8': ['Deployment net-raw'],
  '5.2.9': ['Deployment net-raw'],
  '5.2.10': ['Deployment net-raw'],
  '5.2.12': ['DaemonSet host-path'],
  '5.2.13': ['Deployment host-port'],
  '5.3.2': ['Namespace'],
  '5.4.1': ['Deployment secret-env'],
  '5.7.2': ['Deployment unconfined'],
  '5.7.3': ['Deployment escalation', 'Deployment net-raw', 'Deployment priv-init', 'Deployment root', 'Deployment writable'],
  'pods.non-root': ['Deployment root'],
  'pods.immutable-filesystem': ['Deployment writable'],
  'pods.privileged': ['Deployment priv-init'],
  'pods.host-namespaces': ['Deployment host-ipc', 'Deployment host-network', 'Pod host-pid'],
  'pods.privilege-escalation': ['Deployment escalation', 'Deployment priv-init'],
  'pods.host-path': ['DaemonSet host-path'],
  'pods.host-ports': ['Deployment host-port'],
  'pods.seccomp': ['Deployment unconfined'],
  'pods.mandatory-access-control': ['Deployment apparmor', 'Deployment selinux'],
  'pods.capabilities': ['Deployment net-raw'],
  'pods.service-account-token': ['Deployment automount', 'Deployment default-sa'],
  'network.policies': ['Namespace'],
  'network.resource-limits': ['Deployment no-limits'],
  'network.secrets-in-env': ['CronJob literal-secret'],
  'authz.cluster-admin': ['RoleBinding admin-binding'],
  'authz.least-privilege': ['Role binder', 'Role secret-reader', 'Role wildcard'],
  'authz.exec-attach': ['Role exec'],
};
const manyFailures = new Set(['upgrades.fixable-critical-vulnerabilities', 'upgrades.vulnerability-scanning']);

// The Debian fixture's advisories (test/env/trivydb/main.go): the fixable ones' oldest publication per severity.
const debianOldestFixable = { critical: '2024-06-27T00:00:00.000Z', high: '2023-10-25T00:00:00.000Z', medium: '2023-11-06T00:00:00.000Z', low: '2025-03-03T00:00:00.000Z' };
const dayMs = 86_400_000;
/** Whole days since an ISO date, as the engine counts them (rounded down). */
const daysSince = (iso: string): number => Math.floor((Date.now() - Date.parse(iso)) / dayMs);

// ---------------------------------------------------------------------------------------------
// Helpers

function reportManifest(name: string, spec: Spec): string {
  return JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceReport', metadata: { name, labels: { [runLabel]: run } }, spec });
}

async function getReport(namespace: string, name: string): Promise<ComplianceReport> {
  return JSON.parse((await kubectl(['get', 'compliancereport', name, '-o', 'json'], { namespace })).stdout) as ComplianceReport;
}

/** "Result passed/failed" per control id, in the order status lists them. */
function resultsOf(report: ComplianceReport): [string, string][] {
  return (report.status?.controls ?? []).map((control) => [control.id, `${control.result} ${control.passed}/${control.failed}`]);
}

function examplesOf(report: ComplianceReport, id: string): { kind: string; name: string; namespace?: string; message: string }[] {
  return (report.status?.controls?.find((control) => control.id === id)?.examples ?? []).map((example) => ({ ...example, message: example.message ?? '' }));
}

function summaryOf(report: ComplianceReport): Record<string, number | undefined> {
  const summary = report.status?.summary;
  return { pass: summary?.pass, fail: summary?.fail, manual: summary?.manual, skip: summary?.skip, objects: summary?.objects };
}

/** The counts a table column implies for the report's summary. */
function expectedSummary(rows: readonly Row[], column: number, objects: number): Record<string, number> {
  const count = (result: string): number => rows.filter((row) => row[column]?.startsWith(`${result} `)).length;
  return { pass: count('Pass'), fail: count('Fail'), manual: count('Manual'), skip: count('Skip'), objects };
}

describe('the built-in compliance frameworks on the real plane', () => {
  const resourcesTracker = new TestResources();
  let env: ScanEnvironment;
  let operator: OperatorProcess;
  let home: string;
  const ns = {} as Record<Column | 'vuln' | 'scans' | 'pss', string>;
  let client: KubeClient;
  let cleanImage: string;
  let criticalImage: string;
  let unscannedImage: string;
  const clusterNames = { binding: `fw-${run}-admin`, pv: `fw-${run}-pv`, proxy: `fw-${run}-proxy`, csr: `fw-${run}-csr`, webhooks: `fw-${run}-webhooks`, reader: `fw-${run}-reader`, inDefault: `fw-${run}` };

  async function waitForEvaluation(namespace: string, name: string, generation?: number): Promise<ComplianceReport> {
    try {
      return await waitFor(`ComplianceReport ${namespace}/${name} to be evaluated`, async () => {
        const report = await getReport(namespace, name);
        const done = (report.status?.phase === 'Completed' || report.status?.phase === 'Failed') && report.status.observedGeneration === report.metadata.generation;
        return done && (generation === undefined || report.metadata.generation === generation) ? report : undefined;
      }, { timeoutMs: 180_000, intervalMs: 500 });
    } catch (err) {
      const status = await kubectl(['get', 'compliancereport', name, '-o', 'jsonpath={.status}'], { namespace, allowFail: true });
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${status.stdout}\n${operator.describe()}`);
    }
  }

  async function evaluate(name: string, spec: Spec): Promise<ComplianceReport> {
    await kubectl(['apply', '-f', '-'], { namespace: home, input: reportManifest(name, spec) });
    const report = await waitForEvaluation(home, name);
    assert.equal(report.status?.phase, 'Completed', `${name}: ${JSON.stringify(report.status?.conditions)}`);
    return report;
  }

  async function stored(report: ComplianceReport): Promise<ComplianceResultsDocument> {
    assert.ok(report.status?.resultsRef, `${report.metadata.name} has resultsRef`);
    return readResults(client, home, report.status.resultsRef);
  }

  before(async () => {
    env = await requireScanEnvironment();
    client = KubeClient.fromDefault();
    // The upstream OpenReports CRDs, unchanged (test/fixtures/openreports/SOURCE.md).
    const crds = path.join(repoRoot(), 'test', 'fixtures', 'openreports');
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', crds]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', crds]);
    home = await resourcesTracker.namespace('fw-home');
    ns.ok = await resourcesTracker.namespace('fw-compliant');
    ns.bad = await resourcesTracker.namespace('fw-violating');
    ns.empty = await resourcesTracker.namespace('fw-empty');
    ns.vuln = await resourcesTracker.namespace('fw-vuln');
    // The ImageScans live apart: their scan Jobs are workloads too, and would count in ns.vuln.
    ns.scans = await resourcesTracker.namespace('fw-scans');
    ns.pss = await resourcesTracker.namespace('fw-pss');

    operator = resourcesTracker.track(startOperator({ identity: `frameworks-${run}`, namespace: home, leaseName: 'frameworks', env: scanOperatorEnv(env, await freePort()) }));
    await waitUntilLeading(operator, home, 'frameworks');

    // Images for the vulnerability controls, of this run only (no other test's ImageScan can answer
    // for them): the Debian fixture under a unique layer (fixable CRITICAL, HIGH, MEDIUM and LOW
    // findings), an image of one file (nothing to find), and one that is never pushed nor scanned.
    criticalImage = pushUniqueImage(env, `fw-${run}/critical`);
    cleanImage = pushUniqueImage(env, `fw-${run}/clean`, undefined, undefined, null);
    unscannedImage = `${env.registry}/fw-${run}/unscanned:1`;
    await kubectl(['apply', '-f', '-'], { namespace: ns.scans, input: imageScanManifest('critical', criticalImage) });
    await kubectl(['apply', '-f', '-'], { namespace: ns.scans, input: imageScanManifest('clean', cleanImage) });
    const critical = await waitForPhase(ns.scans, 'critical', 'Completed', operator);
    const clean = await waitForPhase(ns.scans, 'clean', 'Completed', operator);
    const summary = critical.status?.summary as Record<string, unknown> | undefined;
    assert.deepEqual(summary?.fixableBySeverity, { critical: 2, high: 2, medium: 2, low: 2, unknown: 0 });
    assert.deepEqual(summary?.oldestFixablePublished, debianOldestFixable, 'the fixture advisories\' publication dates, as Trivy reports them');
    assert.deepEqual(clean.status?.summary, { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0, fixableBySeverity: { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 }, oldestFixablePublished: {} });

    // The compliant namespace: a NetworkPolicy, its own ServiceAccount, a Role and RoleBinding that
    // pass every RBAC control, and one workload that passes every rule (Secret as a file, limits,
    // probes, read-only root, Restricted pod security) running the clean, freshly scanned image.
    await kubectl(['apply', '-f', '-'], { namespace: ns.ok, input: list([serviceAccount('web'), defaultDeny]) });
    await kubectl(['create', 'secret', 'generic', 'web-config', '--from-literal=token=x'], { namespace: ns.ok });
    const web = podSpec(cleanImage, {
      serviceAccountName: 'web',
      containers: [container(cleanImage, {
        readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
        livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
        volumeMounts: [{ name: 'config', mountPath: '/etc/web', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
      })],
      volumes: [{ name: 'config', secret: { secretName: 'web-config' } }, { name: 'tmp', emptyDir: {} }],
    });
    await kubectl(['apply', '-f', '-'], {
      namespace: ns.ok,
      input: list([
        workload('Deployment', 'web', web),
        role('config-reader', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }, { apiGroups: [''], resources: ['secrets'], resourceNames: ['web-config'], verbs: ['get'] }]),
        roleBinding('config-reader', { kind: 'Role', name: 'config-reader' }, { kind: 'ServiceAccount', name: 'web', namespace: ns.ok }),
      ]),
    });

    // The violating namespace: no NetworkPolicy, the workloads above, and one Role per RBAC
    // problem; one binding to cluster-admin and one harmless binding.
    await kubectl(['apply', '-f', '-'], { namespace: ns.bad, input: list([serviceAccount('app')]) });
    await kubectl(['apply', '-f', '-'], {
      namespace: ns.bad,
      input: list([
        ...violations(unscannedImage).map(([kind, name, spec]) => workload(kind, name, spec)),
        role('secret-reader', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }]),
        role('pod-creator', [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }]),
        role('exec', [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] }]),
        role('binder', [{ apiGroups: [rbacGroup], resources: ['roles'], verbs: ['bind'] }]),
        role('wildcard', [{ apiGroups: ['apps'], resources: ['*'], verbs: ['get'] }]),
        role('token-minter', [{ apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] }]),
        roleBinding('admin-binding', { kind: 'ClusterRole', name: 'cluster-admin' }, { apiGroup: rbacGroup, kind: 'User', name: `fw-${run}` }),
        roleBinding('reader-binding', { kind: 'Role', name: 'secret-reader' }, { kind: 'ServiceAccount', name: 'app', namespace: ns.bad }),
      ]),
    });
  });

  after(async () => {
    await resourcesTracker.stopOperators();
    await kubectl(['delete', 'compliancereports.securestack.io', '-A', '-l', `${runLabel}=${run}`, '--ignore-not-found', '--wait=false'], { allowFail: true });
    const names = clusterNames;
    await kubectl(['delete', 'clusterrolebinding', names.binding, '--ignore-not-found'], { allowFail: true });
    await kubectl(['delete', 'clusterrole', names.pv, names.proxy, names.csr, names.webhooks, names.reader, '--ignore-not-found'], { allowFail: true });
    await kubectl(['delete', 'deployment', names.inDefault, '--ignore-not-found'], { namespace: 'default', allowFail: true });
    await resourcesTracker.deleteNamespaces();
  });

  it('gives every control of every built-in framework its exact result and counts in a compliant, a violating and an empty namespace', async () => {
    const reports = frameworks.flatMap((framework) => columns.map((column) => ({ framework, column, name: `${framework.id}-${column}` })));
    for (const { framework, column, name } of reports) {
      await kubectl(['apply', '-f', '-'], { namespace: home, input: reportManifest(name, { framework: framework.id, scope: { namespaces: [ns[column]] } }) });
    }
    for (const { framework, column, name } of reports) {
      const report = await waitForEvaluation(home, name);
      const status = report.status;
      assert.equal(status?.phase, 'Completed', `${name}: ${JSON.stringify(status?.conditions)}`);
      const index = columns.indexOf(column) + 1;
      // Every control, in the framework's order, with its result and counts.
      assert.deepEqual(resultsOf(report), framework.rows.map((row) => [row[0], row[index]]), `${name}: results per control`);
      assert.deepEqual(summaryOf(report), expectedSummary(framework.rows, index, framework.objects[column]), `${name}: summary`);
      assert.equal(status?.framework?.id, framework.id);
      assert.equal(status?.podSecurityVersion, 'latest');
      if (column === 'ok') assert.equal(status?.summary?.score, 100, `${name}: everything evaluated passes`);
      if (column === 'empty' && framework.id.startsWith('pss-')) assert.equal(status?.summary?.score, undefined, `${name}: nothing evaluated, no score`);
      // Failing objects: every failing control of the violating namespace names exactly the objects that break it.
      for (const control of status?.controls ?? []) {
        const examples = (control.examples ?? []).map((example) => (example.kind === 'Namespace' ? 'Namespace' : `${example.kind} ${example.name}`));
        if (control.result !== 'Fail') {
          assert.deepEqual(examples, [], `${name}: ${control.id} has no failing examples`);
        } else if (column === 'bad' && manyFailures.has(control.id)) {
          assert.equal(examples.length, 5, `${name}: ${control.id} keeps five of its ${control.failed} examples`);
        } else if (column === 'bad') {
          assert.deepEqual([...examples].sort(), badExamples[control.id], `${name}: ${control.id} failing objects`);
        } else {
          assert.deepEqual(examples, ['Namespace'], `${name}: ${control.id} fails only the namespace`);
        }
        for (const example of control.examples ?? []) {
          if (example.kind === 'Namespace') assert.equal(example.name, ns[column]);
          else assert.equal(example.namespace, ns[column]);
        }
      }
    }

    // What the messages say, for a sample of the violating namespace's failures.
    const message = async (framework: string, id: string, name: string): Promise<string> => {
      const report = await getReport(home, `${framework}-bad`);
      const found = examplesOf(report, id).find((example) => example.name === name);
      assert.ok(found, `${framework}: ${id} has an example for ${name}`);
      return found.message;
    };
    assert.match(await message('pss-baseline', 'pss-baseline-privileged', 'priv-init'), /^spec\.template\.spec\.initContainers\[0\]\.securityContext\.privileged: /);
    assert.match(await message('pss-restricted', 'pss-restricted-privilege-escalation', 'priv-init'), /^spec\.template\.spec\.initContainers\[0\]\.securityContext\.allowPrivilegeEscalation: /);
    assert.match(await message('cis-kubernetes-workloads', '5.2.3', 'host-pid'), /^spec\.hostPID: /);
    assert.match(await message('cis-kubernetes-workloads', '5.2.5', 'host-network'), /^spec\.template\.spec\.hostNetwork: /);
    assert.match(await message('cis-kubernetes-workloads', '5.1.1', 'admin-binding'), new RegExp(`^subjects\\[0\\]: RoleBinding "${ns.bad}/admin-binding" grants cluster-admin in namespace "${ns.bad}" to User "fw-${run}"$`));
    assert.match(await message('cis-kubernetes-workloads', '5.1.2', 'secret-reader'), /^rules\[0\]\.resources\[0\]: Role ".*\/secret-reader" rule 0 grants get, list on secrets$/);
    assert.match(await message('cis-kubernetes-workloads', '5.3.2', ns.bad), new RegExp(`^metadata\\.name: Namespace "${ns.bad}" has no NetworkPolicy$`));
    assert.match(await message('cis-kubernetes-workloads', '5.4.1', 'secret-env'), /env\[0\]\.valueFrom\.secretKeyRef: .*takes env "?DB_PASSWORD"? from Secret "?db"?/);
    const literal = await message('nsa-cisa-hardening', 'network.secrets-in-env', 'literal-secret');
    assert.match(literal, /^spec\.jobTemplate\.spec\.template\.spec\.containers\[0\]\.env\[0\]\.value: .*sets env API_TOKEN to a literal value$/);
    assert.doesNotMatch(literal, /not-a-real-token/, 'the value itself is never shown');
    for (const example of examplesOf(await getReport(home, 'nsa-cisa-hardening-bad'), 'upgrades.fixable-critical-vulnerabilities')) {
      assert.equal(example.message, `image ${unscannedImage} has no completed ImageScan`);
    }

    // Every object's result is stored; in the violating namespace the CIS results name each object's failed controls.
    const cisBad = await stored(await getReport(home, 'cis-kubernetes-workloads-bad'));
    assert.equal(cisBad.objects.length, 30);
    const failedBy = (name: string): string[] => (cisBad.objects.find((object) => object.name === name)?.failed.map((failure) => failure.control) ?? []).sort();
    assert.deepEqual(failedBy('priv-init'), ['5.2.2', '5.2.6', '5.7.3']);
    assert.deepEqual(failedBy('default-sa'), ['5.1.5', '5.1.6']);
    assert.deepEqual(failedBy('net-raw'), ['5.2.10', '5.2.8', '5.2.9', '5.7.3']);
    assert.deepEqual(failedBy('reader-binding'), []);
    assert.deepEqual(cisBad.objects.find((object) => object.name === 'reader-binding')?.passed, ['5.1.1']);
  });

  it('OpenReports for a built-in framework: a Report per namespace, accepted by the upstream CRD, counting every result', async () => {
    // The reports of the previous test are in place; this reads what the CIS one over the violating namespace wrote.
    await waitForEvaluation(home, 'cis-kubernetes-workloads-bad');
    // OpenReports are written after the report is Completed; their condition follows.
    const condition = await waitFor('the OpenReports condition', async () => (await getReport(home, 'cis-kubernetes-workloads-bad')).status?.conditions?.find((entry) => entry.type === 'OpenReports'));
    assert.deepEqual([condition.status, condition.reason], ['True', 'Written'], condition.message);
    const found = JSON.parse((await kubectl(['get', 'reports.openreports.io', '-A', '-l', `securestack.io/compliancereport-name=cis-kubernetes-workloads-bad,securestack.io/compliancereport-namespace=${home}`, '-o', 'json'])).stdout) as {
      items: { metadata: { namespace: string; annotations: Record<string, string> }; summary: Record<string, number>; results: { policy: string; rule: string; result: string; severity: string; resources: { kind: string; name: string }[] }[] }[];
    };
    assert.deepEqual(found.items.map((item) => item.metadata.namespace), [ns.bad]);
    const openReport = found.items[0];
    // The table's counts, summed: one result per object and evaluated control. The Namespace is
    // cluster-scoped, so its one result (5.3.2 failed) is in a ClusterReport instead.
    const sum = (part: 0 | 1): number => cisRows.reduce((total, row) => total + Number(/(\d+)\/(\d+)$/.exec(row[2])?.[part + 1] ?? 0), 0);
    assert.deepEqual(openReport?.summary, { pass: sum(0), fail: sum(1) - 1, warn: 0, error: 0, skip: 0 });
    assert.equal(openReport?.results.length, sum(0) + sum(1) - 1);
    const clusterReports = JSON.parse((await kubectl(['get', 'clusterreports.openreports.io', '-l', `securestack.io/compliancereport-name=cis-kubernetes-workloads-bad,securestack.io/compliancereport-namespace=${home}`, '-o', 'json'])).stdout) as {
      items: { summary: Record<string, number>; results: { rule: string; result: string; resources: { kind: string; name: string }[] }[] }[];
    };
    assert.deepEqual(clusterReports.items.map((item) => [item.summary, item.results.map((result) => [result.rule, result.result, result.resources[0]?.kind, result.resources[0]?.name])]), [
      [{ pass: 0, fail: 1, warn: 0, error: 0, skip: 0 }, [['5.3.2', 'fail', 'Namespace', ns.bad]]],
    ]);
    const adminBinding = openReport?.results.find((result) => result.rule === '5.1.1' && result.resources[0]?.name === 'admin-binding');
    assert.deepEqual(
      adminBinding && { policy: adminBinding.policy, result: adminBinding.result, severity: adminBinding.severity, kind: adminBinding.resources[0]?.kind },
      { policy: 'cis-kubernetes-workloads', result: 'fail', severity: 'critical', kind: 'RoleBinding' },
    );
    assert.deepEqual(openReport?.metadata.annotations['securestack.io/framework-version'], '1.10.0');
    assert.deepEqual(openReport?.metadata.annotations['securestack.io/compliancereport'], `${home}/cis-kubernetes-workloads-bad`);
  });

  it('a cluster-wide CIS report judges this run\'s ClusterRoleBindings and ClusterRoles, and the default namespace', async () => {
    const names = clusterNames;
    const clusterRole = (name: string, rules: Spec[]): Spec => ({ apiVersion: `${rbacGroup}/v1`, kind: 'ClusterRole', metadata: { name }, rules });
    await kubectl(['apply', '-f', '-'], {
      input: list([
        { apiVersion: `${rbacGroup}/v1`, kind: 'ClusterRoleBinding', metadata: { name: names.binding }, roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ apiGroup: rbacGroup, kind: 'User', name: `fw-${run}` }] },
        clusterRole(names.pv, [{ apiGroups: [''], resources: ['persistentvolumes'], verbs: ['create'] }]),
        clusterRole(names.proxy, [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }]),
        clusterRole(names.csr, [{ apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval'], verbs: ['update'] }]),
        clusterRole(names.webhooks, [{ apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], verbs: ['patch'] }]),
        clusterRole(names.reader, [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] }]),
      ]),
    });
    await kubectl(['apply', '-f', '-'], { namespace: 'default', input: JSON.stringify(workload('Deployment', names.inDefault, podSpec(unscannedImage, { serviceAccountName: undefined }))) });

    const report = await evaluate('cis-cluster', { framework: 'cis-kubernetes-workloads', scope: { clusterWide: true } });
    // Other tests' objects are in the cluster too: only this run's decide these, and they fail.
    const byId = new Map((report.status?.controls ?? []).map((control) => [control.id, control]));
    for (const id of ['5.1.1', '5.1.9', '5.1.10', '5.1.11', '5.1.12', '5.3.2', '5.7.4']) assert.equal(byId.get(id)?.result, 'Fail', id);
    for (const id of ['5.1.7', '5.2.1', '5.3.1', '5.4.2', '5.5.1', '5.7.1']) assert.deepEqual([byId.get(id)?.result, byId.get(id)?.passed, byId.get(id)?.failed], ['Manual', 0, 0], id);

    const results = await stored(report);
    const resultOf = (kind: string, name: string, namespace?: string): { passed: string[]; failed: string[]; messages: string[] } | undefined => {
      const object = results.objects.find((entry) => entry.kind === kind && entry.name === name && entry.namespace === namespace);
      return object && { passed: [...object.passed].sort(), failed: object.failed.map((failure) => failure.control).sort(), messages: object.failed.map((failure) => failure.message) };
    };
    // A ClusterRole is read by every Role control; each of this run's fails exactly its own.
    const roleControls = ['5.1.10', '5.1.11', '5.1.12', '5.1.13', '5.1.2', '5.1.3', '5.1.4', '5.1.8', '5.1.9'];
    const failing: [string, string, RegExp][] = [
      [names.pv, '5.1.9', /grants create on persistentvolumes/],
      [names.proxy, '5.1.10', /grants get on nodes\/proxy/],
      [names.csr, '5.1.11', /grants update on certificatesigningrequests\/approval/],
      [names.webhooks, '5.1.12', /grants patch on validatingwebhookconfigurations/],
    ];
    for (const [name, id, pattern] of failing) {
      const result = resultOf('ClusterRole', name);
      assert.deepEqual(result && { passed: result.passed, failed: result.failed }, { passed: roleControls.filter((control) => control !== id), failed: [id] }, name);
      assert.match(result?.messages[0] ?? '', pattern, name);
    }
    assert.deepEqual(resultOf('ClusterRole', names.reader)?.passed, roleControls);
    assert.deepEqual(resultOf('ClusterRole', names.reader)?.failed, []);
    const binding = resultOf('ClusterRoleBinding', names.binding);
    assert.deepEqual(binding && { passed: binding.passed, failed: binding.failed }, { passed: [], failed: ['5.1.1'] });
    assert.equal(binding?.messages[0], `subjects[0]: ClusterRoleBinding "${names.binding}" grants cluster-admin to User "fw-${run}"`);
    // Kubernetes' own binding of system:masters to cluster-admin is exempt by default.
    assert.deepEqual(resultOf('ClusterRoleBinding', 'cluster-admin')?.failed, []);
    // The workload in the default namespace, and each fixture namespace's NetworkPolicy verdict.
    // (It runs as the default ServiceAccount, but without its token: 5.1.5 and 5.1.6 pass.)
    const inDefault = resultOf('Deployment', names.inDefault, 'default');
    assert.deepEqual(inDefault?.failed, ['5.7.4']);
    assert.ok(inDefault?.messages.includes(`metadata.namespace: Deployment "${names.inDefault}" is in the default namespace`), inDefault?.messages.join('\n'));
    assert.deepEqual(resultOf('Namespace', ns.ok), { passed: ['5.3.2'], failed: [], messages: [] });
    assert.deepEqual(resultOf('Namespace', ns.bad)?.failed, ['5.3.2']);
    // Listed cluster-wide or per namespace, the violating namespace's objects get the same results.
    const perNamespace = await stored(await getReport(home, 'cis-kubernetes-workloads-bad'));
    const view = (objects: ComplianceResultsDocument['objects']): string[] =>
      objects.filter((object) => object.namespace === ns.bad || (object.kind === 'Namespace' && object.name === ns.bad)).map((object) => JSON.stringify([object.kind, object.name, [...object.passed].sort(), object.failed.map((failure) => failure.control).sort()])).sort();
    assert.deepEqual(view(results.objects), view(perNamespace.objects));

    // Cluster-scoped results go to a ClusterReport; deleting the report deletes it.
    const selector = `securestack.io/compliancereport-name=cis-cluster,securestack.io/compliancereport-namespace=${home}`;
    const clusterReports = JSON.parse((await kubectl(['get', 'clusterreports.openreports.io', '-l', selector, '-o', 'json'])).stdout) as { items: { results: { rule: string; result: string; resources: { kind: string; name: string }[] }[] }[] };
    assert.equal(clusterReports.items.length, 1);
    assert.ok(clusterReports.items[0]?.results.some((result) => result.rule === '5.1.1' && result.result === 'fail' && result.resources[0]?.kind === 'ClusterRoleBinding' && result.resources[0].name === names.binding));
    await kubectl(['delete', 'compliancereport', 'cis-cluster'], { namespace: home });
    await waitFor('the cluster-wide report\'s OpenReports to go', async () => {
      const left = await kubectl(['get', 'clusterreports.openreports.io,reports.openreports.io', '-A', '-l', selector, '-o', 'name']);
      return left.stdout.trim() === '' ? true : undefined;
    }, { timeoutMs: 60_000 });
  });

  it('vulnerability controls read what the real Trivy found: fixable CRITICAL fails, a clean image passes, an unscanned one fails; patch windows and scan age', async () => {
    await kubectl(['apply', '-f', '-'], { namespace: ns.vuln, input: list([serviceAccount('app'), defaultDeny]) });
    await kubectl(['apply', '-f', '-'], {
      namespace: ns.vuln,
      input: list([workload('Deployment', 'critical', podSpec(criticalImage)), workload('Deployment', 'clean', podSpec(cleanImage)), workload('Deployment', 'unscanned', podSpec(unscannedImage))]),
    });
    const nsa = await evaluate('nsa-vuln', { framework: 'nsa-cisa-hardening', scope: { namespaces: [ns.vuln] } });
    // Three workloads that pass every pod rule, a NetworkPolicy, no RBAC objects.
    const pods = 'Pass 3/0';
    assert.deepEqual(resultsOf(nsa), [
      ['pods.non-root', pods],
      ['pods.immutable-filesystem', pods],
      ['pods.privileged', pods],
      ['pods.host-namespaces', pods],
      ['pods.privilege-escalation', pods],
      ['pods.host-path', pods],
      ['pods.host-ports', pods],
      ['pods.seccomp', pods],
      ['pods.mandatory-access-control', pods],
      ['pods.capabilities', pods],
      ['pods.service-account-token', pods],
      ['network.namespaces', pods],
      ['network.policies', 'Pass 1/0'],
      ['network.resource-limits', pods],
      ['network.secrets-in-env', pods],
      ['network.control-plane-tls', manual],
      ['network.etcd-encryption', manual],
      ['network.worker-node-segmentation', manual],
      ['authz.anonymous-auth', manual],
      ['authz.rbac-enabled', manual],
      ['authz.cluster-admin', skip],
      ['authz.least-privilege', skip],
      ['authz.exec-attach', skip],
      ['logging.audit', manual],
      ['logging.threat-detection', manual],
      ['upgrades.fixable-critical-vulnerabilities', 'Fail 1/2'],
      ['upgrades.vulnerability-scanning', 'Fail 2/1'],
      ['upgrades.kubernetes-patched', manual],
    ]);
    const examples = (report: ComplianceReport, id: string): string[] => examplesOf(report, id).map((example) => `${example.kind} ${example.name}: ${example.message}`).sort();
    const unscanned = `Deployment unscanned: image ${unscannedImage} has no completed ImageScan`;
    assert.deepEqual(examples(nsa, 'upgrades.fixable-critical-vulnerabilities'), [`Deployment critical: image ${criticalImage} has 2 fixable critical vulnerabilities (ImageScan ${ns.scans}/critical)`, unscanned]);
    assert.deepEqual(examples(nsa, 'upgrades.vulnerability-scanning'), [unscanned]);

    // A team's own controls: patch windows either side of the fixture's advisory dates, and scan age.
    const criticalAge = daysSince(debianOldestFixable.critical);
    const highAge = daysSince(debianOldestFixable.high);
    assert.ok(criticalAge > 60 && highAge - criticalAge > 60, `ages ${criticalAge} and ${highAge} days leave room for windows between them`);
    const vulnerabilities = (id: string, check: Spec): Spec => ({ id, title: id, severity: 'HIGH', vulnerabilities: check });
    const custom = await evaluate('custom-vuln', {
      framework: 'custom',
      scope: { namespaces: [ns.vuln] },
      controls: [
        vulnerabilities('fixable-critical', { fixableAtOrAbove: 'CRITICAL' }),
        // The critical advisory is younger than this window (a fix still within its patch time)...
        vulnerabilities('critical-window-open', { fixableAtOrAbove: 'CRITICAL', maxFixAgeDays: criticalAge + 30 }),
        // ...and older than this one.
        vulnerabilities('critical-window-closed', { fixableAtOrAbove: 'CRITICAL', maxFixAgeDays: criticalAge - 30 }),
        // At HIGH the same window includes the older HIGH advisory, which is past it.
        vulnerabilities('high-window', { fixableAtOrAbove: 'HIGH', maxFixAgeDays: criticalAge + 30 }),
        vulnerabilities('high-window-wide', { fixableAtOrAbove: 'HIGH', maxFixAgeDays: highAge + 30 }),
        vulnerabilities('fresh-scan', { maxScanAgeHours: 1 }),
        vulnerabilities('fresh-and-patched', { maxScanAgeHours: 1, fixableAtOrAbove: 'LOW', maxFixAgeDays: 3650 }),
      ],
    });
    assert.deepEqual(resultsOf(custom), [
      ['fixable-critical', 'Fail 1/2'],
      ['critical-window-open', 'Fail 2/1'],
      ['critical-window-closed', 'Fail 1/2'],
      ['high-window', 'Fail 1/2'],
      ['high-window-wide', 'Fail 2/1'],
      ['fresh-scan', 'Fail 2/1'],
      ['fresh-and-patched', 'Fail 2/1'],
    ]);
    for (const id of ['critical-window-open', 'high-window-wide', 'fresh-scan', 'fresh-and-patched']) assert.deepEqual(examples(custom, id), [unscanned], id);
    const closed = examples(custom, 'critical-window-closed');
    assert.equal(closed[1], unscanned);
    assert.match(closed[0] ?? '', new RegExp(`^Deployment critical: image ${criticalImage.replace(/[.]/g, '\\.')} has a fixable critical vulnerability published \\d+ days ago, over ${criticalAge - 30} \\(ImageScan ${ns.scans}/critical\\)$`));
    assert.match(examples(custom, 'high-window')[0] ?? '', new RegExp(`^Deployment critical: image .* has a fixable high vulnerability published \\d+ days ago, over ${criticalAge + 30} `));
    // The stored results say the same per workload.
    const results = await stored(custom);
    assert.deepEqual(results.objects.map((object) => [object.name, [...object.passed].sort(), object.failed.map((failure) => failure.control).sort()]).sort(), [
      ['clean', ['critical-window-closed', 'critical-window-open', 'fixable-critical', 'fresh-and-patched', 'fresh-scan', 'high-window', 'high-window-wide'], []],
      ['critical', ['critical-window-open', 'fresh-and-patched', 'fresh-scan', 'high-window-wide'], ['critical-window-closed', 'fixable-critical', 'high-window']],
      ['unscanned', [], ['critical-window-closed', 'critical-window-open', 'fixable-critical', 'fresh-and-patched', 'fresh-scan', 'high-window', 'high-window-wide']],
    ]);
  });

  it('pins the Pod Security version: a sysctl safe from v1.37 fails at v1.36 and passes at v1.37 and latest, and status echoes the pin', async () => {
    await kubectl(['apply', '-f', '-'], { namespace: ns.pss, input: list([serviceAccount('app')]) });
    const slowStart = podSpec(unscannedImage, { securityContext: { ...podSecurity, sysctls: [{ name: 'net.ipv4.tcp_slow_start_after_idle', value: '0' }] } });
    await kubectl(['apply', '-f', '-'], { namespace: ns.pss, input: JSON.stringify(workload('Deployment', 'slow-start', slowStart)) });
    const sysctls = (report: ComplianceReport): string | undefined => resultsOf(report).find(([id]) => id === 'pss-baseline-sysctls')?.[1];
    const scope = { namespaces: [ns.pss] };

    const pinned = await evaluate('pss-pinned', { framework: 'pss-baseline', podSecurityVersion: 'v1.36', scope });
    assert.equal(pinned.status?.podSecurityVersion, 'v1.36');
    assert.equal(sysctls(pinned), 'Fail 0/1');
    assert.deepEqual(examplesOf(pinned, 'pss-baseline-sysctls').map((example) => `${example.kind} ${example.name}: ${example.message}`), [
      'Deployment slow-start: spec.template.spec.securityContext.sysctls[0].name: pod sets sysctl "net.ipv4.tcp_slow_start_after_idle"',
    ]);
    // Every other Baseline control passes the Deployment at either version.
    assert.deepEqual(resultsOf(pinned).filter(([id]) => id !== 'pss-baseline-sysctls').map(([, result]) => result), Array<string>(11).fill('Pass 1/0'));
    assert.equal((await stored(pinned)).podSecurityVersion, 'v1.36');

    const latest = await evaluate('pss-latest', { framework: 'pss-baseline', scope });
    assert.equal(latest.status?.podSecurityVersion, 'latest');
    assert.equal(sysctls(latest), 'Pass 1/0');
    // The Restricted framework pins the same way (its Baseline controls included).
    const restricted = await evaluate('pss-restricted-pinned', { framework: 'pss-restricted', podSecurityVersion: 'v1.36', scope });
    assert.deepEqual([restricted.status?.podSecurityVersion, sysctls(restricted)], ['v1.36', 'Fail 0/1']);

    // Moving the pin is a spec change: evaluated again at the new version.
    await kubectl(['patch', 'compliancereport', 'pss-pinned', '--type', 'merge', '-p', JSON.stringify({ spec: { podSecurityVersion: 'v1.37' } })], { namespace: home });
    const moved = await waitForEvaluation(home, 'pss-pinned', (pinned.metadata.generation ?? 0) + 1);
    assert.deepEqual([moved.status?.phase, moved.status?.podSecurityVersion, sysctls(moved)], ['Completed', 'v1.37', 'Pass 1/0']);
    assert.equal((await stored(moved)).podSecurityVersion, 'v1.37');
  });
});
