// Static checks of the Helm chart that need no Helm binary: CRD copies match the source of
// truth, templates are structurally sound, every .Values reference exists, and RBAC stays
// least-privilege. Then helm ($HELM, built by test/env/build.sh, or PATH) lints and renders the
// chart and the rendered Deployment is checked; without helm that test fails and says so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';

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

void test('ClusterRole grants exactly the least-privilege set', () => {
  const role = stubRender('clusterrole.yaml');
  assert.equal(role.kind, 'ClusterRole');
  const want = [
    ...cross(crdKinds, ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
    ...cross(crdKinds.map((k) => `${k}/status`), ['get', 'update', 'patch']),
    ...cross(crdKinds.map((k) => `${k}/finalizers`), ['update']),
    ...cross(['jobs'], ['get', 'list', 'watch', 'create', 'delete'], 'batch'),
    ...cross(['pods', 'namespaces'], ['get', 'list', 'watch'], 'core'),
    ...cross(['events'], ['create', 'patch'], 'core'),
    ...cross(['events'], ['create', 'patch'], 'events.k8s.io'),
    ...cross(['tokenreviews'], ['create'], 'authentication.k8s.io'),
  ].sort();
  const got = grants(role.rules as Rule[]);
  assert.deepEqual(got, want);
  assert.ok(!got.some((g) => g.includes('*')), 'no wildcards');
  assert.ok(!got.some((g) => g.includes('secrets')), 'no cluster-wide secrets access');
});

void test('namespaced Role covers only its Lease and webhook Secret', () => {
  const role = stubRender('role.yaml');
  assert.equal(role.kind, 'Role');
  assert.equal((role.metadata as Record<string, unknown>).namespace, 'TEMPLATED');
  assert.deepEqual(grants(role.rules as Rule[]), [
    'coordination.k8s.io/leases:create',
    'coordination.k8s.io/leases:get[TEMPLATED]',
    'coordination.k8s.io/leases:update[TEMPLATED]',
    'core/secrets:create',
    'core/secrets:get[TEMPLATED]',
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

function findHelm(): string | undefined {
  const candidates = [process.env.HELM, ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'helm'))];
  return candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
}

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
  assert.ok(helm, 'helm is missing: `npm test` builds it with test/env/build.sh and sets $HELM, or put helm on PATH');
  runHelm(['lint', chart, '--strict', '--kube-version', '1.36.1']);
  const out = runHelm(['template', 'rel', chart, '--namespace', 'sec', '--kube-version', '1.36.1']);
  const objects = yaml.loadAll(out).filter((o): o is K8sObject => typeof o === 'object' && o !== null);
  const kinds = objects.map((o) => o.kind).sort();
  assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
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

  // Toggles render without RBAC, ServiceAccount or PDB.
  const minimal = runHelm(['template', 'rel', chart, '--kube-version', '1.36.1', '--set', 'rbac.create=false', '--set', 'serviceAccount.create=false', '--set', 'podDisruptionBudget.enabled=false']);
  assert.deepEqual(
    yaml.loadAll(minimal).filter((o): o is K8sObject => typeof o === 'object' && o !== null).map((o) => o.kind).sort(),
    ['Deployment', 'Service'],
  );
});
