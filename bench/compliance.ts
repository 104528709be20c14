// bench/compliance: a ComplianceReport over 20,000 objects in 500 namespaces (issue 10).
//
//   bash bench/compliance.sh        (compiles, starts the test plane, runs this, stops the plane)
//
// Creates SECURESTACK_BENCH_NAMESPACES (500) namespaces holding 39 objects each that the CIS
// framework's rules read (20 Pods bound to the kwok node, 8 Deployments and a StatefulSet with no
// replicas, 2 CronJobs, 4 Services, 2 Roles, 2 RoleBindings) and a NetworkPolicy in every other
// namespace; with the Namespace itself that is 40 evaluated objects per namespace. Starts one
// operator (OpenReports on, the upstream CRDs installed), applies a cluster-wide
// cis-kubernetes-workloads ComplianceReport, and measures: time from apply to Completed and the
// evaluation histogram, the controller's RSS sampled every 100 ms while it evaluates and after,
// the largest stored object (results parts and OpenReports), and the status size. Prints Markdown
// for docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ComplianceReport } from '../operator/api/types.generated';
import { complianceReportType } from '../operator/api/resources';
import { KubeClient, isAlreadyExists } from '../operator/platform/kube/client';
import { reportType, clusterReportType } from '../operator/features/compliance/openreports';
import { rssMiB } from './memory';
import { kubeconfigPath, kubectl, repoRoot } from '../test/support/cluster';
import { ensureCrds } from '../test/support/crds';
import { startOperator } from '../test/support/operator';

const namespaceCount = Number(process.env.SECURESTACK_BENCH_NAMESPACES ?? 500);
const concurrency = 16;
const kwokNode = 'kwok-node-0';
const image = 'registry.example.com/team/app:1.4.2';

async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]);
  }));
}

function podSpec(i: number): Record<string, unknown> {
  // Half of them break a few CIS controls (root, no limits, secrets in env), half do not.
  const hardened = i % 2 === 0;
  return {
    automountServiceAccountToken: false,
    containers: [{
      name: 'app',
      image,
      env: hardened ? [{ name: 'MODE', value: 'prod' }] : [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } }],
      resources: { requests: { cpu: '1m', memory: '4Mi' }, ...(hardened ? { limits: { cpu: '100m', memory: '64Mi' } } : {}) },
      securityContext: hardened
        ? { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 1000, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' }, readOnlyRootFilesystem: true }
        : { runAsUser: 0 },
    }],
  };
}

function objectsFor(namespace: string, index: number): { path: string; body: Record<string, unknown> }[] {
  const objects: { path: string; body: Record<string, unknown> }[] = [];
  const core = `/api/v1/namespaces/${namespace}`;
  const apps = `/apis/apps/v1/namespaces/${namespace}`;
  for (let i = 0; i < 20; i++) {
    objects.push({ path: `${core}/pods`, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `worker-${i}`, labels: { app: 'worker' } }, spec: { ...podSpec(i), nodeName: kwokNode, tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }] } } });
  }
  for (let i = 0; i < 8; i++) {
    const labels = { app: `web-${i}` };
    objects.push({ path: `${apps}/deployments`, body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `web-${i}` }, spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec(i) } } } });
  }
  objects.push({ path: `${apps}/statefulsets`, body: { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' }, spec: { replicas: 0, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: podSpec(1) } } } });
  for (let i = 0; i < 2; i++) {
    objects.push({ path: `/apis/batch/v1/namespaces/${namespace}/cronjobs`, body: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: `report-${i}` }, spec: { schedule: '0 3 * * *', suspend: true, jobTemplate: { spec: { template: { spec: { ...podSpec(i), restartPolicy: 'OnFailure' } } } } } } });
  }
  for (let i = 0; i < 4; i++) objects.push({ path: `${core}/services`, body: { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}` }, spec: { selector: { app: `web-${i}` }, ports: [{ port: 80 }] } } });
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}`;
  objects.push({ path: `${rbac}/roles`, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'reader' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] } });
  objects.push({ path: `${rbac}/roles`, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'secrets' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }] } });
  objects.push({ path: `${rbac}/rolebindings`, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'reader' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' }, subjects: [{ kind: 'ServiceAccount', name: 'default', namespace }] } });
  objects.push({ path: `${rbac}/rolebindings`, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'admins' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: index % 10 === 0 ? 'cluster-admin' : 'view' }, subjects: [{ kind: 'Group', name: 'team', apiGroup: 'rbac.authorization.k8s.io' }] } });
  if (index % 2 === 0) {
    objects.push({ path: `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`, body: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } } });
  }
  return objects;
}

/** Creates, tolerating what is already there and retrying while a new namespace's default ServiceAccount is not made yet. */
async function create(client: KubeClient, target: { path: string; body: Record<string, unknown> }): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.request('create', 'POST', target.path, target.body);
      return;
    } catch (err) {
      if (isAlreadyExists(err)) return;
      if (attempt >= 30) throw err;
      await sleep(500);
    }
  }
}

async function largestObject(client: KubeClient, list: string): Promise<number> {
  const { items } = await client.request<{ items: unknown[] }>('list', 'GET', list);
  return Math.max(0, ...items.map((item) => Buffer.byteLength(JSON.stringify(item))));
}

async function main(): Promise<void> {
  const client = KubeClient.fromFile(kubeconfigPath());
  await ensureCrds();
  const openReportsCrds = path.join(repoRoot(), 'test', 'fixtures', 'openreports');
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', openReportsCrds]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', openReportsCrds]);
  const run = randomBytes(3).toString('hex');
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `bench-cr-${run}-${i}`);
  const home = `bench-cr-${run}-op`;
  const started = performance.now();
  await inParallel([home, ...namespaces], (name) => create(client, { path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } }));
  const objects = namespaces.flatMap((namespace, index) => objectsFor(namespace, index));
  await inParallel(objects, (target) => create(client, target));
  process.stdout.write(`created ${namespaces.length} namespaces and ${objects.length} objects in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  const operator = startOperator({ identity: `bench-cr-${run}`, namespace: home, leaseName: 'bench-compliance', env: { SECURESTACK_LOG_LEVEL: 'info' } });
  try {
    const metricsPort = await operator.metricsPort();
    void metricsPort;
    await sleep(5_000);
    const pid = operator.child.pid ?? 0;
    const idle = rssMiB(pid);
    const report = { apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceReport', metadata: { name: 'cis', namespace: home }, spec: { framework: 'cis-kubernetes-workloads', scope: { clusterWide: true } } };
    const applied = performance.now();
    await client.createCustom(complianceReportType, report);
    const samples: number[] = [];
    let completed: ComplianceReport | undefined;
    const deadline = Date.now() + 10 * 60_000;
    while (!completed) {
      samples.push(rssMiB(pid));
      const current = await client.getCustom<ComplianceReport>(complianceReportType, { namespace: home, name: 'cis' });
      if (current?.status?.phase === 'Completed' || current?.status?.phase === 'Failed') completed = current;
      else if (Date.now() > deadline) throw new Error(`no evaluation within 10 minutes\n${operator.describe()}`);
      else await sleep(100);
    }
    const wallSeconds = (performance.now() - applied) / 1000;
    const evaluatingMax = Math.max(...samples);
    const completedSample = samples.length;
    // Then the OpenReports, one namespace at a time: sampled too.
    let openReportsSeconds = NaN;
    while (Date.now() < deadline) {
      samples.push(rssMiB(pid));
      const current = await client.getCustom<ComplianceReport>(complianceReportType, { namespace: home, name: 'cis' });
      const condition = current?.status?.conditions?.find((entry) => entry.type === 'OpenReports');
      if (condition) {
        openReportsSeconds = (performance.now() - applied) / 1000;
        completed = current ?? completed;
        break;
      }
      await sleep(100);
    }
    const evaluationSeconds = (await operator.metric('securestack_compliance_evaluation_duration_seconds_sum')) / Math.max(1, await operator.metric('securestack_compliance_evaluation_duration_seconds_count'));
    await sleep(10_000);
    const after = rssMiB(pid);
    const status = completed.status;
    const statusBytes = Buffer.byteLength(JSON.stringify(status));
    const resultsParts = await largestObject(client, `/api/v1/namespaces/${home}/configmaps?labelSelector=securestack.io/compliancereport=cis`);
    const { items: partItems } = await client.request<{ items: unknown[] }>('list', 'GET', `/api/v1/namespaces/${home}/configmaps?labelSelector=securestack.io/compliancereport=cis`);
    const selector = `securestack.io/compliancereport-namespace=${home}`;
    const reports = await client.listCustom(reportType, { labelSelector: selector });
    const clusterReports = await client.listCustom(clusterReportType, { labelSelector: selector });
    const largestReport = Math.max(0, ...[...reports, ...clusterReports].map((item) => Buffer.byteLength(JSON.stringify(item))));
    process.stdout.write([
      '',
      `| what | figure |`,
      `|---|---|`,
      `| objects evaluated (status.summary.objects), namespaces | ${status?.summary?.objects ?? 0}, ${namespaceCount} |`,
      `| result | ${status?.phase}: ${status?.summary?.pass} pass, ${status?.summary?.fail} fail, ${status?.summary?.manual} manual, ${status?.summary?.skip} skip; score ${status?.summary?.score} |`,
      `| apply to Completed (wall) / evaluation (securestack_compliance_evaluation_duration_seconds: list, judge, store) | ${wallSeconds.toFixed(1)} s / ${evaluationSeconds.toFixed(1)} s |`,
      `| apply to the OpenReports written (condition OpenReports: ${completed.status?.conditions?.find((entry) => entry.type === 'OpenReports')?.message ?? '?'}) | ${openReportsSeconds.toFixed(1)} s |`,
      `| controller RSS before / max until Completed / max while writing the OpenReports (${samples.length} samples, 100 ms apart) / 10 s after | ${idle} / ${evaluatingMax} / ${Math.max(0, ...samples.slice(completedSample))} / ${after} MiB |`,
      `| status size (JSON) | ${statusBytes} bytes (limit 65,536) |`,
      `| results: ConfigMap parts, largest | ${partItems.length}, ${resultsParts} bytes (limit 921,600) |`,
      `| OpenReports: Reports + ClusterReports, largest | ${reports.length} + ${clusterReports.length}, ${largestReport} bytes (limit 921,600) |`,
      '',
      `Command: \`SECURESTACK_BENCH_NAMESPACES=${namespaceCount} bash bench/compliance.sh\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version})`,
      '',
    ].join('\n'));
  } finally {
    await operator.stop('SIGTERM');
    await inParallel([home, ...namespaces], (name) => client.request('delete namespaces', 'DELETE', `/api/v1/namespaces/${name}`).catch(() => undefined));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
