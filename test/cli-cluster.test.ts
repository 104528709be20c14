// `securestack audit` beside a real cluster: with --cluster it reads the ScanPolicies and Namespace
// labels of the kube context and gives, object for object, the verdict and the words the admission
// webhook gives to the API server's dry-run creates of the same objects (the verdict variants of
// bench/admission: a compliant object and one-rule violations and near misses for every rule);
// --context and --kubeconfig choose the cluster as kubectl does; and the manifests Helm and
// kustomize render are read from stdin with the line of each offending field.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dump, load, loadAll } from 'js-yaml';
import { createTestNamespace, deleteNamespace, kubeconfigPath, kubectl, repoRoot, waitFor } from './support/cluster';
import { findHelm, HELM_MISSING } from './support/helm';
import { variants, type Variant } from './support/manifests';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { freePort, imageScanManifest, pushUniqueImage, requireScanEnvironment, scanOperatorEnv, TestResources, waitForPhase, webhookEnv, type ScanEnvironment } from './support/scanenv';

const run = randomBytes(3).toString('hex');
const runLabel = 'securestack.io/test-run';
const root = repoRoot();
const cli = path.join(root, 'dist', 'operator', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'securestack-cli-cluster-'));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function securestack(args: readonly string[], input?: string): CliResult {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

interface JsonReport {
  objects: number;
  violations: Array<{ kind: string; namespace?: string; name: string; policy: string; mode: string; ruleId: string; text: string; fieldLine: number; source: string }>;
}

function policyManifest(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name, labels: { [runLabel]: run } }, spec });
}

/** The lines a denial names its violations with: `- ScanPolicy <name>: [rule] field: message. Fix: ...`. */
function denialLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('- ScanPolicy ') || /^- and \d+ more violation/.test(line));
}

/** The webhook's denial lines (which may end in `- and N more violation(s)`) against the CLI's. */
function assertSameLines(webhookLines: readonly string[], cliLines: readonly string[], what: string): void {
  const more = /^- and (\d+) more violation/.exec(webhookLines.at(-1) ?? '');
  const shown = more ? webhookLines.slice(0, -1) : webhookLines;
  assert.deepEqual(cliLines.slice(0, shown.length), shown, what);
  assert.equal(cliLines.length, shown.length + Number(more?.[1] ?? 0), what);
}

describe('securestack audit with the cluster', () => {
  const resources = new TestResources();
  after(async () => {
    await resources.stopOperators();
    await kubectl(['delete', 'scanpolicies.securestack.io', '-l', `${runLabel}=${run}`, '--ignore-not-found'], { allowFail: true });
    await kubectl(['delete', 'validatingwebhookconfiguration', `securestack-cli-${run}`, '--ignore-not-found'], { allowFail: true });
    await resources.deleteNamespaces();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('--cluster against the webhook', () => {
    let namespace = '';
    let env: ScanEnvironment;
    let operator: OperatorProcess;
    const policyName = `cli-agree-${run}`;
    before(async () => {
      env = await requireScanEnvironment();
      const home = await resources.namespace('cli-home');
      namespace = await resources.namespace('cli-agree');
      const webhookPort = await freePort();
      operator = resources.track(startOperator({
        identity: `cli-${run}`,
        namespace: home,
        leaseName: 'cli-agreement',
        env: scanOperatorEnv(env, await freePort(), webhookEnv(webhookPort, `securestack-cli-${run}`)),
      }));
      await waitUntilLeading(operator, home, 'cli-agreement');
      // The variants run as ServiceAccount checkout; without it the API server refuses them first.
      await kubectl(['create', 'serviceaccount', 'checkout'], { namespace });
      // bench/admission's policy: Pod Security restricted, the best practices and a registry list.
      await kubectl(['apply', '-f', '-'], {
        input: policyManifest(policyName, {
          mode: 'Enforce',
          match: { namespaces: [namespace] },
          ruleSets: ['pss-restricted', 'best-practices'],
          rules: [{ id: 'allowed-registries', parameters: { registries: ['registry.example.com'] } }],
        }),
      });
      const probe = JSON.stringify(variants().find((v) => v.name === 'privileged')?.object);
      let last = '';
      await waitFor('the API server to send creates to the webhook with the policy in force', async () => {
        const result = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace, input: probe, allowFail: true });
        last = result.stderr;
        return /\[disallow-privileged\]/.test(result.stderr) ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 300 }).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)}; the last answer: ${last}\n${operator.describe()}`);
      });
    });

    it('gives every variant the verdict and the words the webhook gives the API server\'s dry-run create', async (t) => {
      const all = variants();
      const webhook = new Map<string, { allowed: boolean; lines: string[] }>();
      const refusedByApiServer: string[] = [];
      for (const variant of all) {
        const result = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace, input: JSON.stringify(variant.object), allowFail: true });
        if (result.code === 0) webhook.set(variant.name, { allowed: true, lines: [] });
        else if (result.stderr.includes('admission webhook "validate.securestack.io" denied the request')) webhook.set(variant.name, { allowed: false, lines: denialLines(result.stderr) });
        else refusedByApiServer.push(`${variant.name}: ${result.stderr.trim().slice(0, 200)}`);
      }
      // The API server's own validation refuses a few variants before any webhook (an image
      // reference it cannot parse, say); those are not the webhook's to judge.
      assert.ok(refusedByApiServer.length <= 3, refusedByApiServer.join('\n'));

      const manifests = path.join(dir, 'variants.yaml');
      writeFileSync(manifests, all.map((v: Variant) => dump(v.object, { noRefs: true })).join('---\n'));
      const cliRun = securestack(['audit', '--cluster', '--kubeconfig', kubeconfigPath(), '-n', namespace, '-o', 'json', manifests]);
      assert.ok(cliRun.code === 0 || cliRun.code === 1, cliRun.stderr);
      const report = JSON.parse(cliRun.stdout) as JsonReport;
      assert.equal(report.objects, all.length);

      let denied = 0;
      for (const variant of all) {
        const answer = webhook.get(variant.name);
        if (!answer) continue;
        const name = String((variant.object.metadata as { name: string }).name);
        const cliLines = report.violations.filter((v) => v.name === name && v.mode === 'Enforce').map((v) => `- ScanPolicy ${v.policy}: ${v.text}`);
        assert.equal(cliLines.length === 0, answer.allowed, `${variant.name}: the webhook ${answer.allowed ? 'allows' : 'denies'} it, the CLI reports ${cliLines.length} Enforce violation(s)`);
        assertSameLines(answer.lines, cliLines, variant.name);
        if (!answer.allowed) denied++;
      }
      // Enough of both answers that the comparison means something.
      t.diagnostic(`${webhook.size} of ${all.length} variants compared (${refusedByApiServer.length} refused by the API server itself): ${denied} denied, ${webhook.size - denied} allowed, all alike`);
      assert.ok(denied >= 40, `${denied} variants denied`);
      assert.ok(webhook.size - denied >= 5, `${webhook.size - denied} variants allowed`);
    });

    it('reads namespace labels from the cluster, under the ones given on the command line', async () => {
      const labelled = await createTestNamespace('cli-labels', { labels: { [`cli-${run}`]: 'restricted' } });
      try {
        await kubectl(['apply', '-f', '-'], { input: policyManifest(`cli-selector-${run}`, { mode: 'Enforce', match: { namespaceSelector: { matchLabels: { [`cli-${run}`]: 'restricted' } } }, ruleSets: ['pss-baseline'] }) });
        const pod = dump({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: labelled }, spec: { containers: [{ name: 'c', image: 'registry.example.com/a:1', securityContext: { privileged: true } }] } });
        const withLabels = securestack(['audit', '--cluster', '--kubeconfig', kubeconfigPath(), '-o', 'json', '-'], pod);
        assert.equal(withLabels.code, 1, withLabels.stderr);
        const report = JSON.parse(withLabels.stdout) as JsonReport;
        assert.ok(report.violations.some((v) => v.policy === `cli-selector-${run}` && v.ruleId === 'disallow-privileged'));
        // A label given on the command line replaces what the cluster says about that namespace.
        const overridden = securestack(['audit', '--cluster', '--kubeconfig', kubeconfigPath(), '-o', 'json', '--namespace-label', `${labelled}:cli-${run}=baseline`, '-'], pod);
        assert.ok(!(JSON.parse(overridden.stdout) as JsonReport).violations.some((v) => v.policy === `cli-selector-${run}`), overridden.stdout);
        // A policy file and the cluster's together: both apply.
        const file = path.join(dir, 'extra-policy.yaml');
        writeFileSync(file, dump(load(policyManifest('from-file', { mode: 'Audit', rules: [{ id: 'disallow-latest-tag' }, { id: 'require-image-digest' }] }))));
        const both = JSON.parse(securestack(['audit', '--cluster', '--kubeconfig', kubeconfigPath(), '-p', file, '-o', 'json', '-'], pod).stdout) as JsonReport;
        assert.deepEqual([...new Set(both.violations.map((v) => v.policy))].filter((p) => p === 'from-file' || p === `cli-selector-${run}`).sort(), [`cli-selector-${run}`, 'from-file'].sort());
      } finally {
        await kubectl(['delete', 'scanpolicy', `cli-selector-${run}`, '--ignore-not-found'], { allowFail: true });
        await deleteNamespace(labelled);
      }
    });

    it('chooses the cluster by --kubeconfig and --context as kubectl does, and names the cluster when it cannot reach it', () => {
      const config = load(readFileSync(kubeconfigPath(), 'utf8')) as { contexts: Array<{ name: string; context: { cluster: string; user: string } }>; clusters: Array<{ name: string; cluster: Record<string, unknown> }>; 'current-context': string };
      const current = config.contexts.find((c) => c.name === config['current-context']);
      assert.ok(current);
      // The current context points at a port nothing listens on; --context names the plane's.
      const unreachable = { ...config, clusters: [...config.clusters, { name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } }], contexts: [...config.contexts, { name: 'nowhere', context: { ...current.context, cluster: 'nowhere' } }], 'current-context': 'nowhere' };
      const file = path.join(dir, 'two-contexts.yaml');
      writeFileSync(file, dump(unreachable));
      const manifest = path.join(dir, 'one.yaml');
      writeFileSync(manifest, dump({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }));

      const failed = securestack(['audit', '--cluster', '--kubeconfig', file, manifest]);
      assert.equal(failed.code, 2);
      assert.match(failed.stderr, /reading ScanPolicies, Namespaces and ImageScans from the cluster \([^)]*two-contexts\.yaml[^)]*\): .*127\.0\.0\.1:1/);
      const chosen = securestack(['audit', '--cluster', '--kubeconfig', file, '--context', current.name, manifest]);
      assert.equal(chosen.code, 0, chosen.stderr);
      assert.match(chosen.stdout, /1 object\(s\) checked: 0 violation\(s\), 0 failing the run\./);
      const missing = securestack(['audit', '--cluster', '--kubeconfig', file, '--context', 'nope', manifest]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /context "nope" is not in the kubeconfig/);
      // KUBECONFIG is read when --kubeconfig is not given: its unreachable current context is
      // named, and --context picks the plane's from the same file.
      const fromEnv = (args: readonly string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [cli, 'audit', '--cluster', ...args, manifest], { cwd: dir, encoding: 'utf8', env: { ...process.env, KUBECONFIG: file } });
      const envFailed = fromEnv([]);
      assert.equal(envFailed.status, 2);
      assert.match(String(envFailed.stderr), /from the cluster \([^)]*two-contexts\.yaml[^)]*\): .*127\.0\.0\.1:1/);
      const envChosen = fromEnv(['--context', current.name]);
      assert.equal(envChosen.status, 0, String(envChosen.stderr));
    });

    it('judges images by the cluster\'s ImageScans under a vulnerability gate, as the webhook does', async () => {
      // A unique copy of the Debian fixture (critical findings), so no other test's scan answers for it.
      // Scanned in a namespace of its own: the agreement policy would deny the scan Job's images
      // (tags, not digests) in the other. The gate reads ImageScans of every namespace, as admission does.
      const image = pushUniqueImage(env, `cli-gate/debian-${run}`);
      const scanNamespace = await resources.namespace('cli-scan');
      await kubectl(['apply', '-f', '-'], { namespace: scanNamespace, input: imageScanManifest('gated', image) });
      const scan = await waitForPhase(scanNamespace, 'gated', 'Completed', operator);
      const critical = scan.status?.summary?.critical ?? 0;
      assert.ok(critical > 0, 'the fixture image has critical findings');
      const gate = `cli-gate-${run}`;
      await kubectl(['apply', '-f', '-'], { input: policyManifest(gate, { mode: 'Enforce', match: { namespaces: [namespace] }, vulnerabilityGate: { maxCritical: 0, onMissingScan: 'Allow' } }) });
      try {
        const labels = { app: 'gated' };
        const deployment = (name: string, ref: string): Record<string, unknown> => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: ref }] } } } });
        const scanned = deployment('gated', image);
        const unscanned = deployment('unscanned', `${env.registry}/cli-gate/never-scanned-${run}:1`);
        let answer = '';
        await waitFor('the webhook to apply the gate', async () => {
          answer = (await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace, input: JSON.stringify(scanned), allowFail: true })).stderr;
          return /\[vulnerability-gate\]/.test(answer) ? true : undefined;
        }, { timeoutMs: 60_000, intervalMs: 300 });
        assert.match(answer, new RegExp(`has vulnerabilities over the gate: ${critical} critical \\(max 0\\)`));
        const unscannedAnswer = (await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace, input: JSON.stringify(unscanned), allowFail: true })).stderr;
        assert.doesNotMatch(unscannedAnswer, /vulnerability-gate/, 'onMissingScan Allow');

        const file = path.join(dir, 'gated.yaml');
        writeFileSync(file, [scanned, unscanned].map((object) => dump(object)).join('---\n'));
        const report = JSON.parse(securestack(['audit', '--cluster', '--kubeconfig', kubeconfigPath(), '-o', 'json', file]).stdout) as JsonReport;
        const linesOf = (name: string): string[] => report.violations.filter((v) => v.name === name && v.mode === 'Enforce').map((v) => `- ScanPolicy ${v.policy}: ${v.text}`);
        assert.ok(linesOf('gated').some((line) => line.includes('[vulnerability-gate]')));
        assertSameLines(denialLines(answer), linesOf('gated'), 'the scanned image');
        assertSameLines(denialLines(unscannedAnswer), linesOf('unscanned'), 'the unscanned image');
        // Offline (the same policy as a file, no --cluster) the gate has no ImageScans: it says so.
        const policyFile = path.join(dir, 'gate.yaml');
        writeFileSync(policyFile, dump(load(policyManifest(gate, { mode: 'Enforce', match: { namespaces: [namespace] }, vulnerabilityGate: { maxCritical: 0, onMissingScan: 'Allow' } }))));
        const offline = JSON.parse(securestack(['audit', '-p', policyFile, '-o', 'json', file]).stdout) as JsonReport;
        assert.ok(!offline.violations.some((v) => v.ruleId === 'vulnerability-gate'));
      } finally {
        await kubectl(['delete', 'scanpolicy', gate, '--ignore-not-found'], { allowFail: true });
      }
    });
  });

  describe('rendered manifests on stdin', () => {
    const restricted = path.join(dir, 'restricted.yaml');
    before(() => writeFileSync(restricted, dump(load(policyManifest('restricted', { mode: 'Enforce', ruleSets: ['pss-restricted'] })))));

    it('judges `helm template` output: the chart itself passes restricted, a privileged chart fails at the field\'s line', () => {
      const helm = findHelm();
      assert.ok(helm, HELM_MISSING);
      const rendered = spawnSync(helm, ['template', 'rel', path.join(root, 'charts', 'securestack'), '--namespace', 'securestack-system', '--kube-version', '1.36.0'], { encoding: 'utf8' });
      assert.equal(rendered.status, 0, rendered.stderr);
      const documents = loadAll(rendered.stdout).filter((d) => d !== null && d !== undefined);
      const own = securestack(['audit', '-p', restricted, '-o', 'json', '-'], rendered.stdout);
      assert.equal(own.code, 0, own.stdout + own.stderr);
      assert.equal((JSON.parse(own.stdout) as JsonReport).objects, documents.length);

      const chart = path.join(dir, 'chart');
      mkdirSync(path.join(chart, 'templates'), { recursive: true });
      writeFileSync(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: risky\nversion: 0.1.0\n');
      writeFileSync(path.join(chart, 'values.yaml'), 'privileged: true\n');
      writeFileSync(path.join(chart, 'templates', 'service.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  ports:\n    - port: 80\n');
      writeFileSync(path.join(chart, 'templates', 'deployment.yaml'), [
        'apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: {{ .Release.Name }}-web', 'spec:', '  selector:', '    matchLabels: {app: web}', '  template:', '    metadata:', '      labels: {app: web}', '    spec:', '      containers:', '        - name: web', '          image: registry.example.com/web:1.0.0', '          securityContext:', '            privileged: {{ .Values.privileged }}', '',
      ].join('\n'));
      const risky = spawnSync(helm, ['template', 'rel', chart], { encoding: 'utf8' });
      assert.equal(risky.status, 0, risky.stderr);
      const result = securestack(['audit', '-p', restricted, '-o', 'json', '-'], risky.stdout);
      assert.equal(result.code, 1, result.stderr);
      const report = JSON.parse(result.stdout) as JsonReport;
      assert.equal(report.objects, 2);
      const privileged = report.violations.find((v) => v.ruleId === 'disallow-privileged');
      assert.ok(privileged);
      assert.equal(privileged.name, 'rel-web');
      assert.equal(privileged.source, '<stdin>');
      assert.equal(risky.stdout.split('\n')[privileged.fieldLine - 1]?.trim(), 'privileged: true', `line ${privileged.fieldLine} of the rendered output`);
    });

    it('judges `kubectl kustomize` output: an overlay that makes a base privileged fails at the field\'s line', () => {
      const base = path.join(dir, 'kustomize', 'base');
      const overlay = path.join(dir, 'kustomize', 'overlay');
      mkdirSync(base, { recursive: true });
      mkdirSync(overlay, { recursive: true });
      const hardened = { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
      writeFileSync(path.join(base, 'deployment.yaml'), dump({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api' }, spec: { selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'registry.example.com/api:2.0.0', securityContext: hardened }] } } } }));
      writeFileSync(path.join(base, 'kustomization.yaml'), dump({ resources: ['deployment.yaml'] }));
      writeFileSync(path.join(overlay, 'kustomization.yaml'), dump({ resources: ['../base'], namespace: 'prod', namePrefix: 'prod-', patches: [{ target: { kind: 'Deployment', name: 'api' }, patch: dump([{ op: 'add', path: '/spec/template/spec/hostNetwork', value: true }]) }] }));

      const clean = spawnSync('kubectl', ['kustomize', base], { encoding: 'utf8' });
      assert.equal(clean.status, 0, `kubectl kustomize (kubectl is a prerequisite: bash test/env/prereqs.sh): ${clean.stderr}`);
      assert.equal(securestack(['audit', '-p', restricted, '-'], clean.stdout).code, 0);

      const rendered = spawnSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' });
      assert.equal(rendered.status, 0, rendered.stderr);
      const result = securestack(['audit', '-p', restricted, '-o', 'json', '-'], rendered.stdout);
      assert.equal(result.code, 1, result.stderr);
      const hostNetwork = (JSON.parse(result.stdout) as JsonReport).violations.find((v) => v.ruleId === 'disallow-host-namespaces');
      assert.ok(hostNetwork);
      assert.equal(`${hostNetwork.namespace ?? ''}/${hostNetwork.name}`, 'prod/prod-api');
      assert.equal(rendered.stdout.split('\n')[hostNetwork.fieldLine - 1]?.trim(), 'hostNetwork: true');
    });
  });
});
