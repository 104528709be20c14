// Static checks of the Helm chart that need no Helm binary: CRD copies match the source of
// truth, templates are structurally sound, every .Values reference exists, and RBAC stays
// least-privilege. Then helm ($HELM, built by test/env/build.sh, or PATH) lints and renders the
// chart and the rendered Deployment is checked; without helm that test fails and says so. The
// scan pipeline's part: the reports Service, every scan/workload setting rendered from values and
// accepted by the operator's own config parser, and pull-Secret Roles only where asked for.
// Admission's part: the Service port 443 the operator points its ValidatingWebhookConfiguration
// at, every webhook/audit setting parsed as the operator parses it, exact RBAC for the webhook
// configuration, the audited kinds and the certificate Secret (read-only under cert-manager),
// and the cert-manager Issuers and Certificates only when asked for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { compileFramework, evaluateObject } from '../operator/engine/compliance/evaluate';
import { frameworkById } from '../operator/engine/compliance/frameworks';
import type { KubeObject } from '../operator/engine/types';
import { chartReadmePath, chartValueRows, renderChartReadme, valueComments } from '../tools/chart-readme';
import { ConfigError, loadConfig } from '../operator/platform/config';
import { webhookHosts } from '../operator/features/admission';
import { listableKindList } from '../operator/engine/inventory';
import { parseReceivers } from '../operator/features/notify/receivers';
import { findHelm, HELM_MISSING } from './support/helm';

// Compiled to dist/test/, two levels below the repo root.
const root = path.resolve(__dirname, '..', '..');
const chart = path.join(root, 'charts', 'securestack');
const templatesDir = path.join(chart, 'templates');

function yamlFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : [];
}

function templateFiles(): string[] {
  return readdirSync(templatesDir).filter((f) => /\.(yaml|tpl|txt)$/.test(f)).sort();
}

function readTemplate(file: string): string {
  return readFileSync(path.join(templatesDir, file), 'utf8');
}

const SYNC_HINT = 'charts/securestack/crds differs from crds/: run `npm run sync-chart-crds`';

void test('chart CRDs are byte-identical copies of crds/*.yaml', () => {
  const source = yamlFiles(path.join(root, 'crds'));
  const copies = yamlFiles(path.join(chart, 'crds'));
  assert.ok(source.length > 0, 'crds/ has no CRD files');
  assert.deepEqual(copies, source, SYNC_HINT);
  for (const file of source) {
    const want = readFileSync(path.join(root, 'crds', file), 'utf8');
    const got = readFileSync(path.join(chart, 'crds', file), 'utf8');
    assert.ok(got === want, `${SYNC_HINT} (${file} differs)`);
  }
});

interface Action {
  readonly body: string;
  readonly line: number;
}

/** Splits a template into its {{ }} actions, failing on unbalanced or nested delimiters. */
function templateActions(text: string, file: string): Action[] {
  const actions: Action[] = [];
  let at = 0;
  for (;;) {
    const open = text.indexOf('{{', at);
    const close = text.indexOf('}}', at);
    if (open < 0) {
      assert.equal(close, -1, `${file}: "}}" without "{{" at line ${lineOf(text, close)}`);
      return actions;
    }
    assert.ok(close < 0 || close > open, `${file}: "}}" without "{{" at line ${lineOf(text, close)}`);
    assert.ok(close > open, `${file}: "{{" never closed (line ${lineOf(text, open)})`);
    const nested = text.indexOf('{{', open + 2);
    assert.ok(nested < 0 || nested > close, `${file}: "{{" opened inside an action at line ${lineOf(text, nested)}`);
    actions.push({ body: text.slice(open + 2, close).replace(/^-\s*|\s*-$/g, '').trim(), line: lineOf(text, open) });
    at = close + 2;
  }
}

function lineOf(text: string, index: number): number {
  return text.slice(0, Math.max(0, index)).split('\n').length;
}

/** Checks that if/range/with/define/block actions are closed by `end`, in order. */
function assertBlocksBalanced(actions: readonly Action[], file: string): void {
  const open: Action[] = [];
  for (const a of actions) {
    if (a.body.startsWith('/*')) continue;
    const word = /^(\w+)/.exec(a.body)?.[1];
    if (word === 'if' || word === 'range' || word === 'with' || word === 'define' || word === 'block') open.push(a);
    else if (word === 'end') assert.ok(open.pop(), `${file}:${a.line}: "end" without an open block`);
  }
  const unclosed = open.map((a) => `line ${a.line} (${a.body})`).join(', ');
  assert.equal(open.length, 0, `${file}: unclosed blocks at ${unclosed}`);
}

void test('templates have balanced {{ }} and closed blocks', () => {
  const files = templateFiles();
  assert.ok(files.includes('deployment.yaml') && files.includes('_helpers.tpl'));
  for (const file of files) assertBlocksBalanced(templateActions(readTemplate(file), file), file);
});

void test('the template checker itself rejects broken templates', () => {
  assert.throws(() => templateActions('a: {{ .Values.x }', 'bad'), /never closed/);
  assert.throws(() => templateActions('a: .Values.x }}', 'bad'), /without/);
  assert.throws(() => templateActions('a: {{ {{ .Values.x }}', 'bad'), /inside an action/);
  assert.throws(() => assertBlocksBalanced(templateActions('{{ if .X }}a', 'bad'), 'bad'), /unclosed/);
  assert.throws(() => assertBlocksBalanced(templateActions('a{{ end }}', 'bad'), 'bad'), /without an open block/);
});

function valuesDoc(): Record<string, unknown> {
  const doc = yaml.load(readFileSync(path.join(chart, 'values.yaml'), 'utf8'));
  assert.ok(typeof doc === 'object' && doc !== null && !Array.isArray(doc), 'values.yaml is a map');
  return doc as Record<string, unknown>;
}

function hasPath(doc: unknown, keys: readonly string[]): boolean {
  let node: unknown = doc;
  for (const key of keys) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

void test('every .Values reference in the templates exists in values.yaml', () => {
  const values = valuesDoc();
  const missing: string[] = [];
  let count = 0;
  for (const file of templateFiles()) {
    for (const m of readTemplate(file).matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      count++;
      const keys = (m[1] ?? '').slice(1).split('.');
      if (!hasPath(values, keys)) missing.push(`${file}: .Values.${keys.join('.')}`);
    }
  }
  assert.ok(count > 20, `expected many .Values references, found ${count}`);
  assert.deepEqual(missing, []);
  assert.equal(hasPath(values, ['image', 'nope']), false);
});

/**
 * Renders a template without Helm for structural checks: drops lines that are only template
 * actions and replaces inline actions with a placeholder. Good enough for files whose
 * templating is limited to names and labels, such as the RBAC objects.
 */
function stubRender(file: string): Record<string, unknown> {
  const text = readTemplate(file)
    .split('\n')
    .filter((l) => !/^\s*\{\{.*\}\}\s*$/.test(l))
    .map((l) => l.replace(/\{\{.*?\}\}/g, 'TEMPLATED'))
    .join('\n');
  const doc = yaml.load(text);
  assert.ok(typeof doc === 'object' && doc !== null, `${file} renders to an object`);
  return doc as Record<string, unknown>;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Flattens rules to "group/resource:verb" grants for exact comparison. */
function grants(rules: readonly Rule[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    for (const g of r.apiGroups) {
      for (const res of r.resources) {
        for (const v of r.verbs) out.push(`${g || 'core'}/${res}:${v}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}`);
      }
    }
  }
  return out.sort();
}

const crdKinds = ['scanpolicies', 'imagescans', 'compliancereports', 'scheduledscans'];
const cross = (resources: string[], verbs: string[], group = 'securestack.io'): string[] =>
  resources.flatMap((r) => verbs.map((v) => `${group}/${r}:${v}`));

/**
 * What the background audit lists (operator/features/audit/audit.ts: pod kinds and RBAC kinds), beyond
 * the get/list on pods and jobs the ClusterRole already has for scanning. Never watch.
 */
const auditGrants = [
  ...cross(['podtemplates', 'replicationcontrollers'], ['get', 'list'], 'core'),
  ...cross(['deployments', 'statefulsets', 'daemonsets', 'replicasets'], ['get', 'list'], 'apps'),
  ...cross(['cronjobs'], ['get', 'list'], 'batch'),
  ...cross(['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings'], ['get', 'list'], 'rbac.authorization.k8s.io'),
  // ComplianceReports: Services (disallow-default-namespace) and NetworkPolicies (counted per namespace).
  ...cross(['services'], ['get', 'list'], 'core'),
  ...cross(['networkpolicies'], ['get', 'list'], 'networking.k8s.io'),
];

/** OpenReports of ComplianceReports, written by server-side apply (create for a new one, patch to update). */
const openReportsGrants = cross(['reports', 'clusterreports'], ['get', 'list', 'create', 'patch', 'delete'], 'openreports.io');

void test('ClusterRole grants exactly the least-privilege set', () => {
  const role = stubRender('clusterrole.yaml');
  assert.equal(role.kind, 'ClusterRole');
  const want = [
    ...cross(crdKinds, ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
    ...cross(crdKinds.map((k) => `${k}/status`), ['get', 'update', 'patch']),
    ...cross(crdKinds.map((k) => `${k}/finalizers`), ['update']),
    ...cross(['jobs'], ['get', 'list', 'watch', 'create', 'delete'], 'batch'),
    // Scan results and SBOM parts, owned by ImageScans (ADR 0007); never watched.
    ...cross(['configmaps'], ['get', 'list', 'create', 'update', 'delete'], 'core'),
    ...cross(['pods', 'namespaces'], ['get', 'list', 'watch'], 'core'),
    ...cross(['events'], ['create', 'patch'], 'core'),
    ...cross(['events'], ['create', 'patch'], 'events.k8s.io'),
    ...cross(['tokenreviews'], ['create'], 'authentication.k8s.io'),
    ...auditGrants,
    ...openReportsGrants,
    // The one ValidatingWebhookConfiguration the leader keeps (only when webhook.enabled).
    'admissionregistration.k8s.io/validatingwebhookconfigurations:create',
    'admissionregistration.k8s.io/validatingwebhookconfigurations:get[TEMPLATED]',
    'admissionregistration.k8s.io/validatingwebhookconfigurations:update[TEMPLATED]',
    // ...or, with the webhook off, removing the one an earlier install made.
    'admissionregistration.k8s.io/validatingwebhookconfigurations:get[TEMPLATED]',
    'admissionregistration.k8s.io/validatingwebhookconfigurations:delete[TEMPLATED]',
  ].sort();
  const got = grants(role.rules as Rule[]);
  assert.deepEqual(got, want);
  assert.ok(!got.some((g) => g.includes('*')), 'no wildcards');
  assert.ok(!got.some((g) => g.includes('secrets')), 'no cluster-wide secrets access');
  // Every kind the audit and compliance reports can list (any catalog rule's kind) is listable.
  for (const { group, kind } of listableKindList()) {
    const plural = `${kind.toLowerCase().replace(/y$/, 'ie')}s`;
    assert.ok(got.includes(`${group || 'core'}/${plural}:list`), `the ClusterRole lets the operator list ${kind}`);
  }
});

void test('namespaced Role covers only its Lease, the webhook and report certificate Secrets and the receivers\' signing-key Secrets', () => {
  // Stub rendering keeps every conditional rule: the self-managed webhook view.
  const role = stubRender('role.yaml');
  assert.equal(role.kind, 'Role');
  assert.equal((role.metadata as Record<string, unknown>).namespace, 'TEMPLATED');
  assert.deepEqual(grants(role.rules as Rule[]), [
    'coordination.k8s.io/leases:create',
    'coordination.k8s.io/leases:get[TEMPLATED]',
    'coordination.k8s.io/leases:update[TEMPLATED]',
    'core/secrets:create',
    // The webhook notification receivers' Secrets, get by name (the stub renders the range loop so).
    'core/secrets:get[TEMPLATEDTEMPLATED,TEMPLATEDTEMPLATEDTEMPLATED]',
    'core/secrets:get[TEMPLATED]',
    'core/secrets:get[TEMPLATED]',
    'core/secrets:update[TEMPLATED]',
    'core/secrets:update[TEMPLATED]',
  ]);
});

void test('values.yaml defaults harden the pod', () => {
  const v = valuesDoc();
  assert.equal(v.replicaCount, 2);
  assert.deepEqual(v.podSecurityContext, {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    fsGroup: 65532,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  const c = v.containerSecurityContext as Record<string, unknown>;
  assert.equal(c.runAsNonRoot, true);
  assert.equal(c.runAsUser, 65532);
  assert.equal(c.allowPrivilegeEscalation, false);
  assert.equal(c.readOnlyRootFilesystem, true);
  assert.deepEqual(c.capabilities, { drop: ['ALL'] });
  assert.deepEqual(c.seccompProfile, { type: 'RuntimeDefault' });
  assert.ok(hasPath(v, ['resources', 'requests', 'memory']) && hasPath(v, ['resources', 'limits', 'memory']));
  assert.ok(['Ignore', 'Fail'].includes(String((v.webhook as Record<string, unknown>).failurePolicy)));
});

const helm = findHelm();

function runHelm(args: string[]): string {
  assert.ok(helm);
  const res = spawnSync(helm, args, { encoding: 'utf8' });
  assert.equal(res.status, 0, `helm ${args.join(' ')}\n${res.stdout}${res.stderr}`);
  return res.stdout;
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

void test('helm lint and template render the hardened Deployment', () => {
  assert.ok(helm, HELM_MISSING);
  runHelm(['lint', chart, '--strict', '--kube-version', '1.36.1']);
  const out = runHelm(['template', 'rel', chart, '--namespace', 'sec', '--kube-version', '1.36.1']);
  const objects = yaml.loadAll(out).filter((o): o is K8sObject => typeof o === 'object' && o !== null);
  const kinds = objects.map((o) => o.kind).sort();
  assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'Service', 'ServiceAccount']);
  for (const o of objects.filter((x) => !x.kind.startsWith('Cluster'))) assert.equal(o.metadata.namespace, 'sec', `${o.kind} namespace`);

  const deploy = objects.find((o) => o.kind === 'Deployment');
  assert.ok(deploy?.spec);
  const pod = (deploy.spec.template as { spec: Record<string, unknown> }).spec;
  const container = (pod.containers as Record<string, unknown>[])[0];
  assert.ok(container);
  assert.equal((pod.securityContext as Record<string, unknown>).runAsUser, 65532);
  assert.equal((container.securityContext as Record<string, unknown>).readOnlyRootFilesystem, true);
  assert.equal((container.livenessProbe as { httpGet: { path: string } }).httpGet.path, '/healthz');
  assert.equal((container.readinessProbe as { httpGet: { path: string } }).httpGet.path, '/readyz');
  const env = container.env as { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  assert.equal(env.find((e) => e.name === 'SECURESTACK_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
  assert.equal(env.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
  assert.deepEqual(container.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);

  // The NetworkPolicy option: only the three ports; scan Jobs to the report port; narrowed peers; egress rules.
  assert.equal(objects.some((o) => o.kind === 'NetworkPolicy'), false, 'off by default');
  const policies = yaml.loadAll(runHelm(['template', 'rel', chart, '--namespace', 'sec', '--kube-version', '1.36.1', '--set', 'networkPolicy.enabled=true',
    '--set-json', 'networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]'])) as K8sObject[];
  const policy = policies.find((o) => o?.kind === 'NetworkPolicy');
  assert.ok(policy?.spec);
  assert.deepEqual(policy.spec.podSelector, { matchLabels: { 'app.kubernetes.io/name': 'securestack', 'app.kubernetes.io/instance': 'rel' } });
  assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
  assert.deepEqual(policy.spec.ingress, [
    { ports: [{ port: 'webhook', protocol: 'TCP' }] },
    { ports: [{ port: 'reports', protocol: 'TCP' }], from: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'securestack.io/component': 'scanner' } } }] },
    { ports: [{ port: 'metrics', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
  ]);
  const withEgress = (yaml.loadAll(runHelm(['template', 'rel', chart, '--kube-version', '1.36.1', '--set', 'networkPolicy.enabled=true', '--set-json', 'networkPolicy.egress=[{"ports":[{"port":443}]}]'])) as K8sObject[]).find((o) => o?.kind === 'NetworkPolicy');
  assert.deepEqual([withEgress?.spec?.policyTypes, withEgress?.spec?.egress], [['Ingress', 'Egress'], [{ ports: [{ port: 443 }] }]]);
  // Every port the policy names is a container port of the Deployment.
  const portNames = (container.ports as { name: string }[]).map((port) => port.name).sort();
  assert.deepEqual(portNames, ['metrics', 'reports', 'webhook']);

  // The operator's own pods pass Pod Security restricted (latest), judged by SecureStack's rules:
  // its namespace can carry pod-security.kubernetes.io/enforce=restricted (docs in NOTES.txt).
  const restricted = compileFramework(frameworkById('pss-restricted') ?? assert.fail('no pss-restricted framework'), 'latest');
  assert.ok(restricted.ok);
  const verdict = evaluateObject(restricted.compiled, deploy as unknown as KubeObject, { now: Date.now() });
  assert.ok(verdict);
  assert.deepEqual(verdict.failed, [], JSON.stringify(verdict.failed));
  assert.equal(verdict.passed.length, restricted.compiled.controls.length);

  // Toggles render without RBAC, ServiceAccount or PDB.
  const minimal = runHelm(['template', 'rel', chart, '--kube-version', '1.36.1', '--set', 'rbac.create=false', '--set', 'serviceAccount.create=false', '--set', 'podDisruptionBudget.enabled=false']);
  assert.deepEqual(
    yaml.loadAll(minimal).filter((o): o is K8sObject => typeof o === 'object' && o !== null).map((o) => o.kind).sort(),
    ['ConfigMap', 'Deployment', 'Service', 'Service'],
  );
});

// ---- the scan pipeline --------------------------------------------------------------------

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}

interface Port {
  name: string;
  port?: number;
  containerPort?: number;
  targetPort?: number | string;
  protocol?: string;
}

interface RenderedRole extends K8sObject {
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** `helm template` with `--set` for each argument; `json:key=value` uses --set-json (numbers as float64, as from a values file). */
function render(...sets: string[]): RenderedRole[] {
  const args = ['template', 'rel', chart, '--namespace', 'sec', '--kube-version', '1.36.1'];
  for (const set of sets) args.push(...(set.startsWith('json:') ? ['--set-json', set.slice(5)] : ['--set', set]));
  return yaml.loadAll(runHelm(args)).filter((o): o is RenderedRole => typeof o === 'object' && o !== null);
}

function operatorContainer(objects: readonly K8sObject[]): { image: string; env: EnvVar[]; ports: Port[] } {
  const deploy = objects.find((o) => o.kind === 'Deployment');
  assert.ok(deploy?.spec, 'a Deployment is rendered');
  const pod = (deploy.spec.template as { spec: { containers: { image: string; env: EnvVar[]; ports: Port[] }[] } }).spec;
  const container = pod.containers[0];
  assert.ok(container);
  return container;
}

/** The plain `value` environment of the operator container (valueFrom entries left out). */
function plainEnv(env: readonly EnvVar[]): Record<string, string> {
  const names = env.map((e) => e.name);
  assert.deepEqual(names, [...new Set(names)], 'no environment variable is set twice');
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value ?? '']));
}

/** What the operator makes of the rendered environment, with the downward API filled in. */
function operatorConfig(env: readonly EnvVar[]): ReturnType<typeof loadConfig> {
  return loadConfig([], { ...plainEnv(env), SECURESTACK_NAMESPACE: 'sec', POD_NAME: 'rel-securestack-0' });
}

/** Every SECURESTACK_* variable operator/platform/config.ts reads. */
function configEnvNames(): string[] {
  const source = readFileSync(path.join(root, 'operator', 'platform', 'config.ts'), 'utf8');
  const names = [...source.matchAll(/env: '(SECURESTACK_[A-Z_]+)'/g)].map((m) => m[1] ?? '');
  assert.ok(names.length > 20, `expected the settings table in operator/platform/config.ts, found ${names.length} names`);
  return names.sort();
}

void test('the reports Service exposes the report endpoint and the operator is told its URL', () => {
  assert.ok(helm, HELM_MISSING);
  const objects = render();
  const services = objects.filter((o) => o.kind === 'Service');
  const reports = services.find((o) => o.metadata.name === 'rel-securestack-reports');
  assert.ok(reports?.spec, `a reports Service among ${services.map((o) => o.metadata.name).join(', ')}`);
  assert.equal(reports.metadata.namespace, 'sec');
  assert.equal(reports.spec.type, 'ClusterIP');
  assert.deepEqual(reports.spec.ports, [{ name: 'reports', port: 9444, targetPort: 'reports', protocol: 'TCP' }]);
  const deploy = objects.find((o) => o.kind === 'Deployment');
  assert.deepEqual(reports.spec.selector, (deploy?.spec?.selector as { matchLabels: unknown }).matchLabels, 'selects the operator pods');
  // The main Service keeps metrics and webhook only.
  const main = services.find((o) => o.metadata.name === 'rel-securestack');
  assert.deepEqual((main?.spec?.ports as Port[]).map((p) => p.name), ['metrics', 'webhook']);

  const container = operatorContainer(objects);
  assert.deepEqual(container.ports.find((p) => p.name === 'reports'), { name: 'reports', containerPort: 9444, protocol: 'TCP' });
  const env = plainEnv(container.env);
  assert.equal(env.SECURESTACK_REPORT_PORT, '9444');
  assert.equal(env.SECURESTACK_REPORT_URL, 'https://rel-securestack-reports.sec.svc:9444');
  assert.equal(env.SECURESTACK_REPORT_CERT_SECRET, 'securestack-reports-tls');

  // The release named after the chart gets the operator's default name, securestack-reports.
  const plain = yaml.loadAll(runHelm(['template', 'securestack', chart, '--namespace', 'sec', '--kube-version', '1.36.1'])) as K8sObject[];
  assert.ok(plain.some((o) => o?.kind === 'Service' && o.metadata.name === 'securestack-reports'));

  // One port value moves the container port, the Service and the URL together.
  const moved = render('scanning.reportPort=9555');
  const movedContainer = operatorContainer(moved);
  assert.equal(movedContainer.ports.find((p) => p.name === 'reports')?.containerPort, 9555);
  assert.equal((moved.find((o) => o.metadata.name === 'rel-securestack-reports')?.spec?.ports as Port[])[0]?.port, 9555);
  const movedConfig = operatorConfig(movedContainer.env);
  assert.equal(movedConfig.reportPort, 9555);
  assert.equal(movedConfig.reportURL, 'https://rel-securestack-reports.sec.svc:9555');
});

void test('the namespaced Role names the Lease and both certificate Secrets', () => {
  assert.ok(helm, HELM_MISSING);
  const role = render('scanning.reportCertSecretName=my-reports-tls').find((o) => o.kind === 'Role' && o.metadata.namespace === 'sec');
  assert.ok(role?.rules);
  assert.deepEqual(grants(role.rules), [
    'coordination.k8s.io/leases:create',
    'coordination.k8s.io/leases:get[securestack-controller]',
    'coordination.k8s.io/leases:update[securestack-controller]',
    'core/secrets:create',
    'core/secrets:get[my-reports-tls]',
    'core/secrets:get[securestack-webhook-tls]',
    'core/secrets:update[my-reports-tls]',
    'core/secrets:update[securestack-webhook-tls]',
  ]);
});

void test('scan and workload settings render from values and parse as the operator parses them', () => {
  assert.ok(helm, HELM_MISSING);
  // Defaults: the operator's own defaults, the uploader from the chart's image.
  const defaults = operatorContainer(render());
  const env = plainEnv(defaults.env);
  assert.equal(env.SECURESTACK_SCANNER_IMAGE, 'docker.io/aquasec/trivy:0.74.0');
  assert.equal(env.SECURESTACK_SCAN_JOB_TTL, '1h');
  assert.equal(env.SECURESTACK_MAX_CONCURRENT_SCANS, '5');
  assert.equal(env.SECURESTACK_SCAN_RETRIES, '3');
  assert.equal(env.SECURESTACK_RESCAN_AFTER, '24h');
  assert.equal(env.SECURESTACK_SCAN_SERVICE_ACCOUNT, 'default');
  assert.equal(env.SECURESTACK_UPLOADER_IMAGE, defaults.image, 'the uploader runs from the operator image');
  assert.equal(env.SECURESTACK_WORKLOAD_SCANNING, 'true');
  assert.equal(env.SECURESTACK_WORKLOAD_EXCLUDE_NAMESPACES, 'kube-system,kube-public,kube-node-lease');
  for (const unset of ['SECURESTACK_TRIVY_SERVER', 'SECURESTACK_TRIVY_DB_REPOSITORY', 'SECURESTACK_INSECURE_REGISTRIES', 'SECURESTACK_REDIS_URL', 'SECURESTACK_WORKLOAD_NAMESPACES', 'SECURESTACK_WORKLOAD_POD_SELECTOR']) {
    assert.ok(!defaults.env.some((e) => e.name === unset), `${unset} is not set by default`);
  }
  const fallback = loadConfig([], { SECURESTACK_NAMESPACE: 'sec' });
  const config = operatorConfig(defaults.env);
  for (const key of ['scannerImage', 'scanJobTtlSeconds', 'maxConcurrentScans', 'scanRetries', 'scanRetryBackoffMs', 'rescanAfterMs', 'dbPollIntervalMs', 'cacheMaxEntries', 'trivyServerURL', 'trivyDbRepository', 'insecureRegistries', 'redisURL', 'scanServiceAccount', 'reportPort', 'reportCertSecret', 'workloadScanning', 'workloadNamespaces', 'workloadExcludeNamespaces', 'workloadPodSelector'] as const) {
    assert.deepEqual(config[key], fallback[key], `chart default of ${key} equals the operator's`);
  }
  assert.equal(config.uploaderImage, defaults.image);

  // Every setting set through values.
  const set = operatorContainer(render(
    'image.tag=1.2.3',
    'scanning.scannerImage=registry.local/trivy:0.99.0',
    'scanning.jobTTL=30m',
    'scanning.maxConcurrentScans=12',
    'scanning.retries=0',
    'scanning.rescanAfter=6h',
    'json:scanning.cacheMaxEntries=1000000',
    'scanning.trivyServer=http://trivy.trivy-system.svc:4954',
    'scanning.trivyDbRepository=mirror.gcr.io/aquasec/trivy-db:2',
    'scanning.insecureRegistries={localhost:5000,registry.local}',
    'scanning.jobServiceAccount=scanner',
    'scanning.redisURL=redis://redis.sec.svc:6379/0',
    'workload.enabled=false',
    'workload.namespaces={team-a,team-b}',
    'workload.excludeNamespaces={team-c}',
    'workload.podSelector={app=web,tier!=test}',
  ));
  assert.equal(set.image, 'ghcr.io/securestack/securestack:1.2.3');
  const c = operatorConfig(set.env);
  assert.equal(c.scannerImage, 'registry.local/trivy:0.99.0');
  assert.equal(c.scanJobTtlSeconds, 1800);
  assert.equal(c.maxConcurrentScans, 12);
  assert.equal(c.scanRetries, 0);
  assert.equal(c.rescanAfterMs, 6 * 3_600_000);
  assert.equal(c.cacheMaxEntries, 1_000_000, 'large numbers are not rendered as 1e+06');
  assert.equal(c.trivyServerURL, 'http://trivy.trivy-system.svc:4954');
  assert.equal(c.trivyDbRepository, 'mirror.gcr.io/aquasec/trivy-db:2');
  assert.deepEqual(c.insecureRegistries, ['localhost:5000', 'registry.local']);
  assert.equal(c.uploaderImage, 'ghcr.io/securestack/securestack:1.2.3', 'the uploader follows image.tag');
  assert.equal(c.scanServiceAccount, 'scanner');
  assert.equal(c.redisURL, 'redis://redis.sec.svc:6379/0');
  assert.equal(c.workloadScanning, false);
  assert.deepEqual(c.workloadNamespaces, ['team-a', 'team-b']);
  assert.deepEqual(c.workloadExcludeNamespaces, ['team-c']);
  assert.deepEqual(c.workloadPodSelector, ['app=web', 'tier!=test']);

  // Every SECURESTACK_* setting the operator reads is rendered by the chart, except these.
  const notFromChart = [
    'SECURESTACK_BIND_ADDRESS',
    'SECURESTACK_DEBUG_RECONCILE_DELAY',
    'SECURESTACK_IDENTITY',
    // A test/dev override of where the API server calls the webhook; in a cluster the operator
    // points the configuration at the chart's Service (SECURESTACK_WEBHOOK_SERVICE) on port 443.
    'SECURESTACK_WEBHOOK_URL',
  ];
  const rendered = new Set(set.env.map((e) => e.name));
  const missing = configEnvNames().filter((name) => !rendered.has(name) && !notFromChart.includes(name));
  assert.deepEqual(missing, [], 'operator settings the chart cannot set');

  // A digest-pinned operator image pins the uploader too; an explicit uploader image wins.
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.equal(plainEnv(operatorContainer(render(`image.digest=${digest}`)).env).SECURESTACK_UPLOADER_IMAGE, `ghcr.io/securestack/securestack@${digest}`);
  assert.equal(plainEnv(operatorContainer(render('scanning.uploaderImage=registry.local/uploader:1')).env).SECURESTACK_UPLOADER_IMAGE, 'registry.local/uploader:1');

  // The Redis URL from an existing Secret is a secretKeyRef and wins over redisURL.
  const fromSecret = operatorContainer(render('scanning.redisURL=redis://plain:6379', 'scanning.redis.existingSecret=redis-auth', 'scanning.redis.key=url')).env;
  assert.deepEqual(fromSecret.filter((e) => e.name === 'SECURESTACK_REDIS_URL'), [
    { name: 'SECURESTACK_REDIS_URL', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'url' } } },
  ]);
});

void test('pull-Secret Roles exist only in the namespaces listed, get on secrets only', () => {
  assert.ok(helm, HELM_MISSING);
  const isPullSecretObject = (o: K8sObject): boolean => o.metadata.name === 'rel-securestack-pull-secrets';
  // Absent by default: nothing outside the release namespace, no Secret grant but the certificates.
  const defaults = render();
  assert.deepEqual(defaults.filter(isPullSecretObject), []);
  assert.deepEqual(defaults.filter((o) => o.metadata.namespace !== undefined && o.metadata.namespace !== 'sec'), []);

  const objects = render('scanning.pullSecretNamespaces={team-a,team-b,team-a}');
  const roles = objects.filter((o) => o.kind === 'Role' && isPullSecretObject(o));
  const bindings = objects.filter((o) => o.kind === 'RoleBinding' && isPullSecretObject(o));
  assert.deepEqual(roles.map((o) => o.metadata.namespace), ['team-a', 'team-b'], 'one Role per listed namespace');
  assert.deepEqual(bindings.map((o) => o.metadata.namespace), ['team-a', 'team-b'], 'one RoleBinding per listed namespace');
  for (const role of roles) assert.deepEqual(grants(role.rules ?? []), ['core/secrets:get']);
  for (const binding of bindings) {
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rel-securestack-pull-secrets' });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'rel-securestack', namespace: 'sec' }]);
  }
  // Still nothing cluster-wide.
  const clusterRole = objects.find((o) => o.kind === 'ClusterRole');
  assert.ok(!grants(clusterRole?.rules ?? []).some((g) => g.includes('secrets')));

  // Optionally narrowed to named Secrets.
  const named = render('scanning.pullSecretNamespaces={team-a}', 'scanning.pullSecretNames={regcred,ghcr}').filter((o) => o.kind === 'Role' && isPullSecretObject(o));
  assert.deepEqual(named.flatMap((o) => grants(o.rules ?? [])), ['core/secrets:get[regcred,ghcr]']);

  // rbac.create=false creates none of them.
  assert.deepEqual(render('rbac.create=false', 'scanning.pullSecretNamespaces={team-a}').filter(isPullSecretObject), []);
});

// ---- admission webhook and background audit ------------------------------------------------

interface CertManagerObject extends K8sObject {
  apiVersion: string;
}

/** `helm template` that must fail; returns what helm printed. */
function renderFails(...sets: string[]): string {
  assert.ok(helm);
  const args = ['template', 'rel', chart, '--namespace', 'sec', '--kube-version', '1.36.1'];
  // A flag (--skip-schema-validation) passes as it is; anything else is a --set.
  for (const set of sets) args.push(...(set.startsWith('--') ? [set] : ['--set', set]));
  const res = spawnSync(helm, args, { encoding: 'utf8' });
  assert.notEqual(res.status, 0, `helm ${args.join(' ')} should fail`);
  return `${res.stdout}${res.stderr}`;
}

function clusterRoleGrants(objects: readonly RenderedRole[]): string[] {
  const role = objects.find((o) => o.kind === 'ClusterRole');
  assert.ok(role?.rules, 'a ClusterRole is rendered');
  return grants(role.rules);
}

function namespacedRoleGrants(objects: readonly RenderedRole[]): string[] {
  const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'rel-securestack');
  assert.ok(role?.rules, 'the operator Role is rendered');
  return grants(role.rules);
}

const webhookConfigurationGrants = (name: string): string[] => [
  'admissionregistration.k8s.io/validatingwebhookconfigurations:create',
  `admissionregistration.k8s.io/validatingwebhookconfigurations:get[${name}]`,
  `admissionregistration.k8s.io/validatingwebhookconfigurations:update[${name}]`,
];

const certManagerKinds = new Set(['Issuer', 'ClusterIssuer', 'Certificate']);

function certManagerObjects(objects: readonly RenderedRole[]): CertManagerObject[] {
  return (objects as readonly CertManagerObject[]).filter((o) => certManagerKinds.has(o.kind));
}

void test('the Service sends the webhook from port 443 to the webhook container port', () => {
  assert.ok(helm, HELM_MISSING);
  const objects = render();
  const main = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'rel-securestack');
  assert.ok(main?.spec);
  const ports = main.spec.ports as Port[];
  assert.deepEqual(ports.find((p) => p.name === 'webhook'), { name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' });
  const container = operatorContainer(objects);
  assert.deepEqual(container.ports.find((p) => p.name === 'webhook'), { name: 'webhook', containerPort: 9443, protocol: 'TCP' });
  // The operator is told this Service, so its configuration points at <service>.sec.svc:443.
  const config = operatorConfig(container.env);
  assert.equal(config.webhookServiceName, main.metadata.name);
  assert.equal(config.webhookPort, 9443);
  assert.equal(config.webhookURL, '', 'no URL override: the configuration uses the Service');

  // Moving the container port moves targetPort's number, never the Service port.
  const moved = render('webhook.port=10250');
  assert.equal(operatorContainer(moved).ports.find((p) => p.name === 'webhook')?.containerPort, 10250);
  assert.equal(operatorConfig(operatorContainer(moved).env).webhookPort, 10250);
  const movedPorts = moved.find((o) => o.kind === 'Service' && o.metadata.name === 'rel-securestack')?.spec?.ports as Port[];
  assert.deepEqual(movedPorts.find((p) => p.name === 'webhook'), { name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' });

  // No webhook, no webhook port on the Service (the container port stays, unused).
  const off = render('webhook.enabled=false');
  const offPorts = off.find((o) => o.kind === 'Service' && o.metadata.name === 'rel-securestack')?.spec?.ports as Port[];
  assert.deepEqual(offPorts.map((p) => p.name), ['metrics']);
  assert.equal(operatorConfig(operatorContainer(off).env).webhookEnabled, false);

  // Readiness still gates on /readyz, which now also waits for the admission caches.
  const deploy = objects.find((o) => o.kind === 'Deployment');
  const probe = ((deploy?.spec?.template as { spec: { containers: { readinessProbe: { httpGet: { path: string; port: string } } }[] } }).spec.containers[0])?.readinessProbe;
  assert.deepEqual(probe?.httpGet, { path: '/readyz', port: 'metrics' });
});

void test('webhook and audit settings render from values and parse to the operator defaults', () => {
  assert.ok(helm, HELM_MISSING);
  const container = operatorContainer(render());
  const env = plainEnv(container.env);
  assert.equal(env.SECURESTACK_WEBHOOK_ENABLED, 'true');
  assert.equal(env.SECURESTACK_WEBHOOK_TIMEOUT, '10s', 'timeoutSeconds is rendered as a Go duration');
  assert.equal(env.SECURESTACK_WEBHOOK_DEADLINE, '2s');
  assert.equal(env.SECURESTACK_WEBHOOK_MAX_BODY_BYTES, '8388608');
  assert.equal(env.SECURESTACK_WEBHOOK_FAILURE_POLICY, 'Ignore');
  assert.equal(env.SECURESTACK_WEBHOOK_CERT_MANAGER, 'false');
  assert.equal(env.SECURESTACK_WEBHOOK_EXCLUDE_NAMESPACES, 'kube-system');
  assert.equal(env.SECURESTACK_AUDIT_INTERVAL, '1h');
  assert.equal(env.SECURESTACK_OPENREPORTS, 'auto');
  assert.ok(!('SECURESTACK_WEBHOOK_URL' in env), 'the URL override is never set by the chart');

  const fallback = loadConfig([], { SECURESTACK_NAMESPACE: 'sec' });
  const config = operatorConfig(container.env);
  for (const key of ['webhookEnabled', 'webhookPort', 'webhookFailurePolicy', 'webhookTimeoutSeconds', 'webhookDeadlineMs', 'webhookMaxBodyBytes', 'webhookCertSecret', 'webhookCertManager', 'webhookCaValidityMs', 'webhookCertValidityMs', 'webhookExcludeNamespaces', 'auditIntervalMs', 'openReports', 'complianceClusterNamespaces'] as const) {
    assert.deepEqual(config[key], fallback[key], `chart default of ${key} equals the operator's`);
  }
  // Names follow the release: the Service and the configuration are the release fullname.
  assert.equal(config.webhookServiceName, 'rel-securestack');
  assert.equal(config.webhookConfigurationName, 'rel-securestack');
  const plain = yaml.loadAll(runHelm(['template', 'securestack', chart, '--namespace', 'sec', '--kube-version', '1.36.1'])) as RenderedRole[];
  assert.equal(operatorConfig(operatorContainer(plain.filter((o) => o !== null)).env).webhookConfigurationName, 'securestack', 'a release named securestack gets the operator default name');
});

void test('webhook and audit settings set through values reach the operator', () => {
  assert.ok(helm, HELM_MISSING);
  const objects = render(
    'webhook.failurePolicy=Fail',
    'webhook.timeoutSeconds=15',
    'webhook.evaluationDeadline=3s',
    'json:webhook.maxBodyBytes=16777216',
    'webhook.certSecretName=admission-tls',
    'webhook.configurationName=securestack.example.com',
    'webhook.excludeNamespaces={kube-system,istio-system,cert-manager}',
    'webhook.caValidity=43800h',
    'webhook.certValidity=720h',
    'webhook.certManager.enabled=true',
    'audit.interval=15m',
    'compliance.openReports=off',
    'compliance.clusterNamespaces={security,audit}',
  );
  const c = operatorConfig(operatorContainer(objects).env);
  assert.equal(c.webhookFailurePolicy, 'Fail');
  assert.equal(c.webhookTimeoutSeconds, 15);
  assert.equal(c.webhookDeadlineMs, 3_000);
  assert.equal(c.webhookMaxBodyBytes, 16 * 1024 * 1024, 'large numbers are not rendered as 1.6777216e+07');
  assert.equal(c.webhookCertSecret, 'admission-tls');
  assert.equal(c.webhookConfigurationName, 'securestack.example.com');
  assert.deepEqual(c.webhookExcludeNamespaces, ['kube-system', 'istio-system', 'cert-manager']);
  assert.equal(c.webhookCaValidityMs, 43_800 * 3_600_000);
  assert.equal(c.webhookCertValidityMs, 720 * 3_600_000);
  assert.equal(c.webhookCertManager, true);
  assert.equal(c.auditIntervalMs, 15 * 60_000);
  assert.equal(c.openReports, 'off');
  assert.deepEqual(c.complianceClusterNamespaces, ['security', 'audit']);
  // The ClusterRole follows the configuration name.
  assert.ok(webhookConfigurationGrants('securestack.example.com').every((g) => clusterRoleGrants(objects).includes(g)));

  // A timeout from a values file (a float64) still renders as whole seconds.
  assert.equal(plainEnv(operatorContainer(render('json:webhook.timeoutSeconds=30')).env).SECURESTACK_WEBHOOK_TIMEOUT, '30s');

  // What values.schema.json or the template can check stops the install (the template's own
  // checks stay for --skip-schema-validation); what they cannot, the operator refuses at start.
  assert.match(renderFails('webhook.failurePolicy=fail'), /at '\/webhook\/failurePolicy': value must be one of 'Ignore', 'Fail'/);
  assert.match(renderFails('webhook.timeoutSeconds=31'), /at '\/webhook\/timeoutSeconds': maximum: got 31, want 30/);
  assert.match(renderFails('webhook.timeoutSeconds=0'), /at '\/webhook\/timeoutSeconds': minimum: got 0, want 1/);
  assert.match(renderFails('--skip-schema-validation', 'webhook.failurePolicy=fail'), /webhook\.failurePolicy must be Fail or Ignore/);
  assert.match(renderFails('--skip-schema-validation', 'webhook.timeoutSeconds=31'), /webhook\.timeoutSeconds must be between 1 and 30/);
  const slowDeadline = operatorContainer(render('webhook.timeoutSeconds=2', 'webhook.evaluationDeadline=2s')).env;
  assert.throws(() => operatorConfig(slowDeadline), (err: unknown) => err instanceof ConfigError && /SECURESTACK_WEBHOOK_DEADLINE/.test(err.message));
});

void test('ClusterRole: the webhook configuration by name and get/list on the audited kinds, nothing more', () => {
  assert.ok(helm, HELM_MISSING);
  const scanning = [
    ...cross(crdKinds, ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
    ...cross(crdKinds.map((k) => `${k}/status`), ['get', 'update', 'patch']),
    ...cross(crdKinds.map((k) => `${k}/finalizers`), ['update']),
    ...cross(['jobs'], ['get', 'list', 'watch', 'create', 'delete'], 'batch'),
    ...cross(['configmaps'], ['get', 'list', 'create', 'update', 'delete'], 'core'),
    ...cross(['pods', 'namespaces'], ['get', 'list', 'watch'], 'core'),
    ...cross(['events'], ['create', 'patch'], 'core'),
    ...cross(['events'], ['create', 'patch'], 'events.k8s.io'),
    ...cross(['tokenreviews'], ['create'], 'authentication.k8s.io'),
  ];
  const got = clusterRoleGrants(render());
  assert.deepEqual(got, [...scanning, ...auditGrants, ...openReportsGrants, ...webhookConfigurationGrants('rel-securestack')].sort());
  for (const resource of new Set(auditGrants.map((g) => g.split(':')[0]))) assert.ok(!got.includes(`${resource}:watch`), `${resource} is never watched`);
  assert.ok(!got.some((g) => g.includes('validatingwebhookconfigurations:delete') || g.includes('validatingwebhookconfigurations:list')));
  assert.ok(!got.some((g) => g.includes('*')), 'no wildcards');

  // cert-manager mode needs nothing more cluster-wide; without the webhook, no configuration access.
  assert.deepEqual(clusterRoleGrants(render('webhook.certManager.enabled=true')), got);
  assert.deepEqual(clusterRoleGrants(render('webhook.enabled=false')), [
    ...scanning,
    ...auditGrants,
    ...openReportsGrants,
    // Only to remove the configuration an earlier install made.
    'admissionregistration.k8s.io/validatingwebhookconfigurations:delete[rel-securestack]',
    'admissionregistration.k8s.io/validatingwebhookconfigurations:get[rel-securestack]',
  ].sort(), 'the audit runs without the webhook');
});

void test('the Role may update the webhook Secret only when the operator manages it', () => {
  assert.ok(helm, HELM_MISSING);
  const lease = ['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get[securestack-controller]', 'coordination.k8s.io/leases:update[securestack-controller]'];
  const reports = ['core/secrets:create', 'core/secrets:get[securestack-reports-tls]', 'core/secrets:update[securestack-reports-tls]'];
  assert.deepEqual(namespacedRoleGrants(render()), [...lease, ...reports, 'core/secrets:get[securestack-webhook-tls]', 'core/secrets:update[securestack-webhook-tls]'].sort());
  // cert-manager writes the Secret: the operator reads it, and cannot overwrite it.
  const certManager = namespacedRoleGrants(render('webhook.certManager.enabled=true', 'webhook.certSecretName=admission-tls'));
  assert.deepEqual(certManager, [...lease, ...reports, 'core/secrets:get[admission-tls]'].sort());
  assert.ok(!certManager.some((g) => g.startsWith('core/secrets:update') && g.includes('admission-tls')));
  // No webhook: no webhook Secret access at all.
  assert.deepEqual(namespacedRoleGrants(render('webhook.enabled=false')), [...lease, ...reports].sort());
});

void test('cert-manager Issuers and Certificates exist only when enabled, for the Service names', () => {
  assert.ok(helm, HELM_MISSING);
  assert.deepEqual(certManagerObjects(render()), [], 'self-managed certificates need no cert-manager objects');
  assert.deepEqual(certManagerObjects(render('webhook.enabled=false', 'webhook.certManager.enabled=true')), [], 'no webhook, no certificate');
  runHelm(['lint', chart, '--strict', '--kube-version', '1.36.1', '--set', 'webhook.certManager.enabled=true']);

  // No issuerRef: self-signed Issuer -> CA Certificate -> CA Issuer -> serving Certificate.
  const objects = render('webhook.certManager.enabled=true', 'webhook.certSecretName=admission-tls');
  const made = certManagerObjects(objects);
  assert.deepEqual(made.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
    'Certificate/rel-securestack-webhook',
    'Certificate/rel-securestack-webhook-ca',
    'Issuer/rel-securestack-webhook-ca',
    'Issuer/rel-securestack-webhook-selfsigned',
  ]);
  for (const o of made) {
    assert.equal(o.apiVersion, 'cert-manager.io/v1', `${o.kind} ${o.metadata.name}`);
    assert.equal(o.metadata.namespace, 'sec', `${o.kind} ${o.metadata.name} lives in the release namespace`);
  }
  const byName = (kind: string, name: string): Record<string, unknown> => {
    const spec = made.find((o) => o.kind === kind && o.metadata.name === name)?.spec;
    assert.ok(spec, `${kind} ${name}`);
    return spec;
  };
  assert.deepEqual(byName('Issuer', 'rel-securestack-webhook-selfsigned'), { selfSigned: {} });
  const ca = byName('Certificate', 'rel-securestack-webhook-ca');
  assert.equal(ca.isCA, true);
  assert.equal(ca.secretName, 'rel-securestack-webhook-ca');
  assert.equal(ca.duration, '87600h', 'the CA lasts webhook.caValidity');
  assert.deepEqual(ca.issuerRef, { name: 'rel-securestack-webhook-selfsigned', kind: 'Issuer', group: 'cert-manager.io' });
  assert.deepEqual(byName('Issuer', 'rel-securestack-webhook-ca'), { ca: { secretName: 'rel-securestack-webhook-ca' } });

  const serving = byName('Certificate', 'rel-securestack-webhook');
  assert.equal(serving.secretName, 'admission-tls', 'issued into the Secret the operator reads');
  assert.equal(serving.isCA, undefined);
  assert.equal(serving.duration, '8760h', 'the serving certificate lasts webhook.certValidity');
  assert.deepEqual(serving.dnsNames, ['rel-securestack.sec.svc', 'rel-securestack.sec.svc.cluster.local']);
  assert.deepEqual(serving.issuerRef, { name: 'rel-securestack-webhook-ca', kind: 'Issuer', group: 'cert-manager.io' });
  assert.ok((serving.usages as string[]).includes('server auth'));
  // The names are those the operator's own certificates cover for the Service it is told.
  const config = operatorConfig(operatorContainer(objects).env);
  assert.equal(config.webhookCertSecret, 'admission-tls');
  assert.equal(config.webhookCertManager, true);
  const hosts = webhookHosts(config);
  for (const name of serving.dnsNames) assert.ok(hosts.includes(name), `${name} is a name the operator expects`);

  // An issuer of the user's: only the serving Certificate, signed by it.
  const own = certManagerObjects(render('webhook.certManager.enabled=true', 'webhook.certManager.issuerRef.name=corp-ca', 'webhook.certManager.issuerRef.kind=ClusterIssuer'));
  assert.deepEqual(own.map((o) => `${o.kind}/${o.metadata.name}`), ['Certificate/rel-securestack-webhook']);
  assert.deepEqual(own[0]?.spec?.issuerRef, { name: 'corp-ca', kind: 'ClusterIssuer' });
  assert.equal(own[0]?.spec?.secretName, 'securestack-webhook-tls');
  assert.match(renderFails('webhook.certManager.enabled=true', 'webhook.certManager.issuerRef.kind=ClusterIssuer'), /issuerRef needs a name/);
});

void test('notification receivers render as the operator parses them, and the Role may get exactly their Secrets', () => {
  assert.ok(helm, HELM_MISSING);
  const receivers = [
    { name: 'ops', url: 'https://hooks.example.com/securestack', events: ['scan.failed', 'policy.violation'], secret: { name: 'hook-ops', key: 'signingKey' } },
    { name: 'siem', url: 'https://siem.example.com/in', events: ['*'], secret: { name: 'hook-siem' } },
  ];
  const objects = render(`json:notifications.receivers=${JSON.stringify(receivers)}`, 'notifications.maxBodyBytes=1048576');
  const env = operatorContainer(objects).env;
  const config = operatorConfig(env);
  assert.equal(config.notifyMaxBodyBytes, 1_048_576, 'not rendered as 1.048576e+06');
  const parsed = parseReceivers(config.notifyReceivers);
  assert.deepEqual(parsed.map((receiver) => [receiver.name, receiver.url.href, receiver.secret.name, receiver.events.size]), [
    ['ops', 'https://hooks.example.com/securestack', 'hook-ops', 2],
    ['siem', 'https://siem.example.com/in', 'hook-siem', 7],
  ]);
  const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === 'sec' && o.metadata.name === 'rel-securestack');
  const secretRules = (role?.rules ?? []).filter((rule) => rule.resources.includes('secrets') && rule.resourceNames?.includes('hook-ops'));
  assert.deepEqual(secretRules.map((rule) => ({ names: rule.resourceNames, verbs: rule.verbs })), [{ names: ['hook-ops', 'hook-siem'], verbs: ['get'] }]);

  // Defaults: no receivers, notifications off, no extra Secret access.
  const defaults = render();
  assert.deepEqual(parseReceivers(operatorConfig(operatorContainer(defaults).env).notifyReceivers), []);
  const defaultRole = defaults.find((o) => o.kind === 'Role' && o.metadata.name === 'rel-securestack');
  assert.ok(!(defaultRole?.rules ?? []).some((rule) => rule.resourceNames?.includes('hook-ops')));
});

// ---- values.schema.json -------------------------------------------------------------------

void test('values.schema.json admits the defaults and refuses a bad value with a message naming it, at each bound and one past', () => {
  assert.ok(helm, HELM_MISSING);
  const render = (...sets: string[]): { status: number | null; output: string } => {
    const res = spawnSync(helm, ['template', 'rel', chart, '--kube-version', '1.36.1', ...sets.flatMap((set) => ['--set', set])], { encoding: 'utf8' });
    return { status: res.status, output: `${res.stdout}${res.stderr}` };
  };
  // Every default passes (lint --strict runs the schema on values.yaml): additionalProperties false
  // everywhere means every key of values.yaml has a schema entry.
  runHelm(['lint', chart, '--strict', '--kube-version', '1.36.1']);
  const cases: Array<{ ok: string[]; bad: string; message: RegExp }> = [
    { ok: ['replicaCount=1', 'replicaCount=20'], bad: 'replicaCount=0', message: /at '\/replicaCount': minimum: got 0, want 1/ },
    { ok: ['webhook.timeoutSeconds=30'], bad: 'webhook.timeoutSeconds=31', message: /at '\/webhook\/timeoutSeconds': maximum: got 31, want 30/ },
    { ok: ['scanning.maxConcurrentScans=500'], bad: 'scanning.maxConcurrentScans=501', message: /at '\/scanning\/maxConcurrentScans': maximum: got 501, want 500/ },
    { ok: ['operator.workers=64'], bad: 'operator.workers=65', message: /at '\/operator\/workers'/ },
    { ok: ['webhook.failurePolicy=Fail'], bad: 'webhook.failurePolicy=Maybe', message: /at '\/webhook\/failurePolicy': value must be one of 'Ignore', 'Fail'/ },
    { ok: ['operator.resyncPeriod=1h30m'], bad: 'operator.resyncPeriod=10 minutes', message: /at '\/operator\/resyncPeriod'/ },
    { ok: ['operator.controllers={scheduledscan,imagescan}'], bad: 'operator.controllers={cronjob}', message: /at '\/operator\/controllers\/0'/ },
    { ok: ['image.digest=sha256:' + 'a'.repeat(64)], bad: 'image.digest=sha256:abc', message: /at '\/image\/digest'/ },
    { ok: ['compliance.openReports=off'], bad: 'operator.wrokers=3', message: /at '\/operator': additional properties 'wrokers' not allowed/ },
    { ok: ['monitoring.prometheusRule.certificateWarningDays=1', 'monitoring.prometheusRule.certificateWarningDays=365'], bad: 'monitoring.prometheusRule.certificateWarningDays=366', message: /at '\/monitoring\/prometheusRule\/certificateWarningDays': maximum: got 366, want 365/ },
    { ok: ['monitoring.prometheusRule.certificateCriticalDays=1'], bad: 'monitoring.prometheusRule.certificateCriticalDays=0', message: /at '\/monitoring\/prometheusRule\/certificateCriticalDays': minimum: got 0, want 1/ },
    { ok: ['monitoring.prometheusRule.complianceScoreDrop=0', 'monitoring.prometheusRule.complianceScoreDrop=100'], bad: 'monitoring.prometheusRule.complianceScoreDrop=101', message: /at '\/monitoring\/prometheusRule\/complianceScoreDrop': maximum: got 101, want 100/ },
    { ok: ['monitoring.prometheusRule.scanQueueThreshold=0', 'monitoring.prometheusRule.scanQueueThreshold=1000000'], bad: 'monitoring.prometheusRule.scanQueueThreshold=1000001', message: /at '\/monitoring\/prometheusRule\/scanQueueThreshold': maximum/ },
    { ok: ['monitoring.prometheusRule.scanFailureThreshold=0'], bad: 'monitoring.prometheusRule.scanFailureThreshold=-1', message: /at '\/monitoring\/prometheusRule\/scanFailureThreshold': minimum: got -1, want 0/ },
    { ok: ['monitoring.prometheusRule.failOpenThreshold=1000000'], bad: 'monitoring.prometheusRule.failOpenThreshold=1000001', message: /at '\/monitoring\/prometheusRule\/failOpenThreshold': maximum/ },
    { ok: ['monitoring.prometheusRule.fixableCriticalThreshold=1000000'], bad: 'monitoring.prometheusRule.fixableCriticalThreshold=1000001', message: /at '\/monitoring\/prometheusRule\/fixableCriticalThreshold': maximum/ },
    { ok: ['monitoring.prometheusRule.noLeaderFor=1h30m', 'monitoring.prometheusRule.complianceScoreWindow=7d'], bad: 'monitoring.prometheusRule.noLeaderFor=5 minutes', message: /at '\/monitoring\/prometheusRule\/noLeaderFor'/ },
    { ok: ['monitoring.serviceMonitor.scrapeTimeout=10s'], bad: 'monitoring.serviceMonitor.interval=30', message: /at '\/monitoring\/serviceMonitor\/interval'/ },
    { ok: ['monitoring.dashboard.namespace=grafana'], bad: 'monitoring.dashboard.namespace=Grafana', message: /at '\/monitoring\/dashboard\/namespace'/ },
    { ok: ['monitoring.serviceMonitor.enabled=true'], bad: 'monitoring.serviceMonitor.enable=true', message: /at '\/monitoring\/serviceMonitor': additional properties 'enable' not allowed/ },
  ];
  for (const { ok, bad, message } of cases) {
    for (const good of ok) assert.equal(render(good).status, 0, `${good} should render: ${render(good).output.slice(-300)}`);
    const refused = render(bad);
    assert.notEqual(refused.status, 0, `${bad} should be refused`);
    assert.match(refused.output, message, bad);
  }
});

// ---- the chart README ---------------------------------------------------------------------

void test('charts/securestack/README.md is the rendering of values.yaml, and every value is described', () => {
  const committed = readFileSync(chartReadmePath(), 'utf8');
  assert.ok(committed === renderChartReadme(), 'charts/securestack/README.md is stale: run `npm run build && npm run gen-chart-readme` and commit the result');
  const undescribed = chartValueRows().filter((row) => row.description === '').map((row) => row.key);
  assert.deepEqual(undescribed, [], 'values without a `# --` comment in values.yaml or a description in values.schema.json');
  // The `# --` comment wins, continuation lines included; a plain comment above it is not part of it.
  const comments = valueComments('# a note\n# -- First line\n# second line.\nkey: 1\nparent:\n  # -- Nested.\n  child: x\nplain: 2\n');
  assert.deepEqual([...comments.entries()], [['key', 'First line second line.'], ['parent.child', 'Nested.']]);
});

// ---- monitoring: ServiceMonitor, PrometheusRule, dashboard ConfigMap ----------------------------

interface MonitoringObject extends K8sObject {
  apiVersion: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

function monitoringObjects(...sets: string[]): MonitoringObject[] {
  return (render(...sets) as unknown as MonitoringObject[]).filter((o) => ['ServiceMonitor', 'PrometheusRule'].includes(o.kind) || (o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard')));
}

void test('ServiceMonitor and PrometheusRule render only when enabled; the dashboard ConfigMap by default', () => {
  assert.ok(helm, HELM_MISSING);
  assert.deepEqual(monitoringObjects().map((o) => o.kind), ['ConfigMap']);
  assert.deepEqual(monitoringObjects('monitoring.dashboard.enabled=false'), []);
  const all = monitoringObjects('monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true');
  assert.deepEqual(all.map((o) => `${o.apiVersion} ${o.kind}`).sort(), ['monitoring.coreos.com/v1 PrometheusRule', 'monitoring.coreos.com/v1 ServiceMonitor', 'v1 ConfigMap']);
});

void test('the ServiceMonitor scrapes the Service\'s metrics port with the values given', () => {
  const service = render().find((o) => o.kind === 'Service' && o.metadata.name === 'rel-securestack') as unknown as { metadata: { labels: Record<string, string> }; spec: { ports: { name: string }[] } } | undefined;
  assert.ok(service?.spec.ports.some((port) => port.name === 'metrics'), 'the Service has a metrics port');
  const defaults = monitoringObjects('monitoring.serviceMonitor.enabled=true').find((o) => o.kind === 'ServiceMonitor');
  const spec = defaults?.spec as { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: Record<string, unknown>[] };
  for (const [key, value] of Object.entries(spec.selector.matchLabels)) assert.equal(service?.metadata.labels[key], value, `the selector matches the Service (${key})`);
  assert.deepEqual(spec.namespaceSelector, { matchNames: ['sec'] });
  assert.deepEqual(spec.endpoints, [{ port: 'metrics', path: '/metrics', interval: '30s', honorLabels: true }]);
  const relabel = { sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' };
  const drop = { sourceLabels: ['__name__'], regex: 'go_.*', action: 'drop' };
  const custom = monitoringObjects('monitoring.serviceMonitor.enabled=true', 'monitoring.serviceMonitor.interval=1m', 'monitoring.serviceMonitor.scrapeTimeout=20s', 'monitoring.serviceMonitor.honorLabels=false',
    'monitoring.serviceMonitor.labels.release=kps', `json:monitoring.serviceMonitor.relabelings=${JSON.stringify([relabel])}`, `json:monitoring.serviceMonitor.metricRelabelings=${JSON.stringify([drop])}`).find((o) => o.kind === 'ServiceMonitor');
  assert.equal(custom?.metadata.labels?.release, 'kps');
  assert.deepEqual((custom?.spec as typeof spec).endpoints, [{ port: 'metrics', path: '/metrics', interval: '1m', scrapeTimeout: '20s', honorLabels: false, relabelings: [relabel], metricRelabelings: [drop] }]);
});

interface RenderedAlert {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function renderedAlerts(...sets: string[]): RenderedAlert[] {
  const rule = monitoringObjects('monitoring.prometheusRule.enabled=true', ...sets).find((o) => o.kind === 'PrometheusRule');
  return ((rule?.spec as { groups: { rules: RenderedAlert[] }[] } | undefined)?.groups ?? []).flatMap((group) => group.rules);
}

void test('the PrometheusRule\'s alerts select the release\'s job and take their thresholds from values', () => {
  const names = ['SecureStackWebhookUnavailable', 'SecureStackWebhookFailingOpen', 'SecureStackCertificateExpiring', 'SecureStackCertificateExpiryCritical', 'SecureStackScansFailing', 'SecureStackScanQueueBacklog', 'SecureStackFixableCriticalInRunningImages', 'SecureStackComplianceScoreDropped', 'SecureStackNoLeader'];
  const defaults = renderedAlerts();
  assert.deepEqual(defaults.map((a) => a.alert), names);
  for (const alert of defaults) {
    assert.match(alert.expr, /job="rel-securestack"/, `${alert.alert} selects the ServiceMonitor's job`);
    assert.ok(['critical', 'warning'].includes(alert.labels.severity ?? ''), alert.alert);
    assert.equal(alert.annotations.runbook_url, `https://github.com/securestack/securestack/blob/main/docs/observability.md#${alert.alert.toLowerCase()}`);
  }
  const custom = renderedAlerts('monitoring.prometheusRule.webhookUnavailableFor=2m', 'monitoring.prometheusRule.failOpenThreshold=3', 'monitoring.prometheusRule.certificateWarningDays=30',
    'monitoring.prometheusRule.certificateCriticalDays=7', 'monitoring.prometheusRule.scanFailureThreshold=5', 'monitoring.prometheusRule.scanQueueThreshold=50', 'monitoring.prometheusRule.scanQueueFor=1h',
    'monitoring.prometheusRule.fixableCriticalThreshold=2', 'monitoring.prometheusRule.complianceScoreDrop=25', 'monitoring.prometheusRule.complianceScoreWindow=7d', 'monitoring.prometheusRule.noLeaderFor=10m',
    'monitoring.prometheusRule.runbookBaseURL=https://wiki.example/securestack', 'monitoring.prometheusRule.alertLabels.team=platform');
  const byName = new Map(custom.map((a) => [a.alert, a]));
  assert.equal(byName.get('SecureStackWebhookUnavailable')?.for, '2m');
  assert.match(byName.get('SecureStackWebhookFailingOpen')?.expr ?? '', /\[10m\]\)\) > 3$/);
  assert.match(byName.get('SecureStackCertificateExpiring')?.expr ?? '', /< 30 \* 86400$/);
  assert.match(byName.get('SecureStackCertificateExpiryCritical')?.expr ?? '', /< 7 \* 86400$/);
  assert.match(byName.get('SecureStackScansFailing')?.expr ?? '', /\[30m\]\)\) > 5$/);
  assert.match(byName.get('SecureStackScanQueueBacklog')?.expr ?? '', /> 50$/);
  assert.equal(byName.get('SecureStackScanQueueBacklog')?.for, '1h');
  assert.match(byName.get('SecureStackFixableCriticalInRunningImages')?.expr ?? '', /> 2$/);
  assert.match(byName.get('SecureStackComplianceScoreDropped')?.expr ?? '', /\[7d\]\) - .* > 25$/);
  assert.equal(byName.get('SecureStackNoLeader')?.for, '10m');
  for (const alert of custom) {
    assert.equal(alert.labels.team, 'platform', `${alert.alert} carries alertLabels`);
    assert.ok(alert.annotations.runbook_url?.startsWith('https://wiki.example/securestack#'), alert.alert);
  }
  // Without the webhook, no webhook alerts.
  assert.deepEqual(renderedAlerts('webhook.enabled=false').map((a) => a.alert), names.filter((name) => !name.startsWith('SecureStackWebhook')));
});

void test('the dashboard ConfigMap holds the dashboard JSON with the sidecar label, namespace and annotations from values', () => {
  const dashboard = readFileSync(path.join(chart, 'dashboards', 'securestack.json'), 'utf8');
  const configMap = monitoringObjects()[0];
  assert.equal(configMap?.metadata.name, 'rel-securestack-dashboard');
  assert.equal(configMap.metadata.namespace, 'sec');
  assert.equal(configMap.metadata.labels?.grafana_dashboard, '1');
  assert.deepEqual(JSON.parse(configMap.data?.['securestack.json'] ?? '{}'), JSON.parse(dashboard), 'the data is the dashboard file, untouched by the template engine');
  const custom = monitoringObjects('monitoring.dashboard.namespace=grafana', 'monitoring.dashboard.labelKey=dashboards.example/load', 'monitoring.dashboard.labelValue=yes', 'monitoring.dashboard.annotations.grafana_folder=Security')[0];
  assert.equal(custom?.metadata.namespace, 'grafana');
  assert.equal(custom.metadata.labels?.['dashboards.example/load'], 'yes');
  assert.equal(custom.metadata.labels?.grafana_dashboard, undefined);
  assert.deepEqual(custom.metadata.annotations, { grafana_folder: 'Security' });
});
