// `securestack audit` (operator/cli): the webhook's rules over manifests on disk, run as the
// command a CI job runs. Exit codes at each edge, parse errors with file and line, inputs (files,
// folders, stdin, multi-document YAML, JSON, Lists), namespace selectors, --fail-on both ways, a
// file of 10,000 documents, and the same verdict and words as the admission handler on the same
// objects.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { dump } from 'js-yaml';
import { applyApiServerDefaults, loadPolicies } from '../operator/cli/audit';
import { fieldPath, locateField } from '../operator/cli/locate';
import { artifactUri } from '../operator/cli/sarif';
import { csvCell, xmlEscape } from '../operator/cli/tabular';
import { parseDocument, type SourcedObject } from '../operator/cli/documents';
import { TemplateVerdictCache } from '../operator/engine/template-verdicts';
import type { KubeObject } from '../operator/engine/types';
import { AdmissionHandler } from '../operator/features/admission/admission';
import { createAdmissionMetrics } from '../operator/features/admission/metrics';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'operator', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'securestack-cli-'));

function policy(name: string, mode: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name }, spec: { mode, ruleSets: ['pss-restricted'], ...extra } };
}

function write(name: string, documents: readonly unknown[]): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, documents.map((d) => dump(d)).join('---\n'));
  return file;
}

function run(args: readonly string[], input?: string): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

const hardened = { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
const goodPod = (name: string, namespace = 'team-a'): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [{ name: 'app', image: 'registry.example/app@sha256:' + 'a'.repeat(64), securityContext: hardened }] } });
const privilegedPod = (name: string, namespace = 'team-a'): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [{ name: 'app', image: 'busybox:1.36', securityContext: { ...hardened, privileged: true, allowPrivilegeEscalation: true } }] } });

const enforce = write('policies/enforce.yaml', [policy('enforce-restricted', 'Enforce')]);

describe('securestack audit', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 on a clean manifest, 1 on a violation the webhook would deny, 2 on usage errors', () => {
    const clean = run(['audit', '-p', enforce, write('clean.yaml', [goodPod('ok')])]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /1 object\(s\) checked: 0 violation\(s\), 0 failing the run\./);
    const bad = run(['audit', '-p', enforce, write('bad.yaml', [privilegedPod('bad')])]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /CRITICAL\s+Enforce\s+enforce-restricted\s+disallow-privileged\s+Pod\/team-a\/bad\s+.*bad\.yaml:1/);
    assert.match(bad.stdout, /\[disallow-privileged\] spec\.containers\[0\]\.securityContext\.privileged: container "app" sets securityContext\.privileged=true\. Fix: /);
    assert.equal(run(['audit', write('x.yaml', [goodPod('x')])]).code, 2, 'no policy');
    assert.equal(run(['audit', '-p', enforce]).code, 2, 'no manifests');
    assert.equal(run(['audit', '-p', enforce, '-o', 'xml', write('y.yaml', [goodPod('y')])]).code, 2, 'bad format');
    assert.equal(run(['audit', '--bogus']).code, 2, 'unknown flag');
    assert.equal(run(['frobnicate']).code, 2, 'unknown command');
    assert.equal(run(['audit', '--help']).code, 0);
    // The committed bin, run as a program (its executable bit and the require of the build).
    const bin = spawnSync(path.join(root, 'bin', 'securestack'), ['audit', '--help'], { encoding: 'utf8' });
    assert.equal(bin.status, 0, bin.stderr);
    assert.match(bin.stdout, /^Check Kubernetes manifests against ScanPolicies, as the admission webhook would\.\n/);
    assert.match(bin.stdout, /\nUsage:\n {2}securestack audit /);
    assert.match(run(['audit', '-p', enforce, path.join(dir, 'missing.yaml')]).stderr, /missing\.yaml: no such file or folder/);
  });

  it('names the file and line of a document that does not parse, and still judges the others (exit 2)', () => {
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(file, `${dump(privilegedPod('first'))}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n  labels: [unclosed\nspec: {}\n`);
    const result = run(['audit', '-p', enforce, file]);
    assert.equal(result.code, 2);
    const firstLines = dump(privilegedPod('first')).split('\n').length - 1;
    // The broken document starts after the first one and its `---` (line firstLines + 2); the parser
    // stops on its 6th line, `spec: {}`, where the unclosed flow sequence should have ended.
    assert.match(result.stderr, new RegExp(`broken\\.yaml:${firstLines + 2 + 5}: does not parse`));
    assert.match(result.stdout, /Pod\/team-a\/first/, 'the good document before it is judged');
    const scalar = run(['audit', '-p', enforce, '-'], 'just a string\n');
    assert.match(scalar.stderr, /<stdin>:1: is not a Kubernetes object/);
    assert.equal(scalar.code, 2);
  });

  it('reads folders, stdin, JSON and List objects, and judges pod controllers by their template', () => {
    write('tree/a/one.yaml', [goodPod('one')]);
    writeFileSync(path.join(dir, 'tree/b.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [privilegedPod('in-list'), goodPod('also-in-list')] }, null, 2));
    writeFileSync(path.join(dir, 'tree/notes.txt'), 'not a manifest');
    const deploymentYaml = dump({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team-a' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27', securityContext: { ...hardened, privileged: true } }] } } } });
    const result = run(['audit', '-p', enforce, '-o', 'json', path.join(dir, 'tree'), '-'], deploymentYaml);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout) as { objects: number; violations: Array<{ name: string; source: string; field: string; ruleId: string }> };
    assert.equal(report.objects, 4);
    const privileged = report.violations.filter((v) => v.ruleId === 'disallow-privileged').map((v) => `${v.name}@${path.basename(v.source)}:${v.field}`);
    assert.deepEqual(privileged, ['in-list@b.json:spec.containers[0].securityContext.privileged', 'web@<stdin>:spec.template.spec.containers[0].securityContext.privileged']);
  });

  it('reads namespace labels for selectors from flags, files and Namespace objects before the object', () => {
    const selective = write('policies/selective.yaml', [policy('selective', 'Enforce', { match: { namespaceSelector: { matchLabels: { profile: 'restricted' } } } })]);
    const manifest = write('selective.yaml', [privilegedPod('p', 'team-b')]);
    assert.equal(run(['audit', '-p', selective, manifest]).code, 0, 'an unlabelled namespace is not matched');
    assert.equal(run(['audit', '-p', selective, '--namespace-label', 'team-b:profile=restricted', manifest]).code, 1);
    assert.equal(run(['audit', '-p', selective, '--namespace-label', 'team-b:profile=baseline', manifest]).code, 0);
    const namespaces = write('namespaces.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b', labels: { profile: 'restricted' } } }]);
    assert.equal(run(['audit', '-p', selective, '--namespace-labels', namespaces, manifest]).code, 1);
    const withNamespace = write('with-namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b', labels: { profile: 'restricted' } } }, privilegedPod('p', 'team-b')]);
    assert.equal(run(['audit', '-p', selective, withNamespace]).code, 1);
    assert.equal(run(['audit', '-p', selective, '-n', 'team-b', '--namespace-label', 'team-b:profile=restricted', write('no-ns.yaml', [{ ...privilegedPod('q'), metadata: { name: 'q' } }])]).code, 1, 'objects without a namespace take -n');
    assert.equal(run(['audit', '-p', selective, '--namespace-label', 'nonsense', manifest]).code, 2);
  });

  it('fails on the modes and severities --fail-on names, and not below them', () => {
    const warn = write('policies/warn.yaml', [policy('warn-restricted', 'Warn')]);
    const audit = write('policies/audit.yaml', [policy('audit-restricted', 'Audit')]);
    const bad = write('fail-on.yaml', [privilegedPod('bad')]); // CRITICAL (privileged) and MEDIUM violations
    const medium = write('medium.yaml', [{ ...goodPod('m'), spec: { containers: [{ name: 'app', image: 'x@sha256:' + 'b'.repeat(64), securityContext: { ...hardened, runAsNonRoot: false } }] } }]);
    assert.equal(run(['audit', '-p', warn, bad]).code, 0, 'Warn does not fail under the default (enforce)');
    assert.equal(run(['audit', '-p', warn, '--fail-on', 'warn', bad]).code, 1);
    assert.equal(run(['audit', '-p', enforce, '--fail-on', 'warn', bad]).code, 1, 'warn includes Enforce');
    assert.equal(run(['audit', '-p', audit, '--fail-on', 'warn', bad]).code, 0, 'Audit is below warn');
    assert.equal(run(['audit', '-p', audit, '--fail-on', 'audit', bad]).code, 1);
    assert.equal(run(['audit', '-p', audit, '--fail-on', 'critical', bad]).code, 1, 'a CRITICAL violation at critical');
    assert.equal(run(['audit', '-p', audit, '--fail-on', 'critical', medium]).code, 0, 'MEDIUM is below critical');
    assert.equal(run(['audit', '-p', audit, '--fail-on', 'high', medium]).code, 0, 'MEDIUM is below high');
    assert.equal(run(['audit', '-p', audit, '--fail-on', 'medium', medium]).code, 1, 'MEDIUM at medium');
    assert.equal(run(['audit', '-p', audit, '--fail-on', 'LOW', medium]).code, 1, 'case does not matter');
    assert.equal(run(['audit', '-p', audit, '--fail-on', 'severe', medium]).code, 2);
  });

  it('refuses a policy that is not valid, naming its file and line (exit 2)', () => {
    const file = path.join(dir, 'policies-bad.yaml');
    writeFileSync(file, `${dump(policy('good', 'Enforce'))}---\n${dump(policy('bad-mode', 'Sometimes'))}---\n${dump(policy('bad-rule', 'Enforce', { ruleSets: [], rules: [{ id: 'no-such-rule' }] }))}`);
    const result = run(['audit', '-p', file, write('z.yaml', [goodPod('z')])]);
    assert.equal(result.code, 2);
    const secondStart = dump(policy('good', 'Enforce')).split('\n').length + 1; // its lines, the `---`, then it
    assert.match(result.stderr, new RegExp(`policies-bad\\.yaml:${secondStart}: ScanPolicy bad-mode: .*mode`));
    assert.match(result.stderr, /ScanPolicy bad-rule: .*no-such-rule/);
  });

  it('streams a file of 10,000 documents', () => {
    const file = path.join(dir, 'many.yaml');
    const docs: string[] = [];
    for (let i = 0; i < 10_000; i++) docs.push(dump(i % 100 === 0 ? privilegedPod(`p${i}`) : goodPod(`p${i}`)));
    writeFileSync(file, docs.join('---\n'));
    const result = run(['audit', '-p', enforce, '-o', 'json', file]);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout) as { objects: number; violations: Array<{ name: string; ruleId: string; line: number }> };
    assert.equal(report.objects, 10_000);
    const privileged = report.violations.filter((v) => v.ruleId === 'disallow-privileged');
    assert.equal(privileged.length, 100);
    const linesPerDoc = docs[1]?.split('\n').length ?? 0; // each document plus its `---` line
    const at = privileged.find((v) => v.name === 'p9900');
    assert.equal(at?.line, 1 + 9900 * linesPerDoc, 'the line of the 9,901st document');
  });

  it('writes SARIF 2.1.0: a result per violation at the line of the offending field, levels by mode, rules from the catalog', () => {
    const warn = write('policies/warn-sarif.yaml', [policy('warn-restricted', 'Warn')]);
    const file = write('sarif/app.yaml', [goodPod('ok'), privilegedPod('bad')]);
    const result = spawnSync(process.execPath, [cli, 'audit', '-p', enforce, '-p', warn, '-o', 'sarif', path.relative(dir, file)], { encoding: 'utf8', cwd: dir });
    assert.equal(result.status, 1, result.stderr);
    const log = JSON.parse(result.stdout) as { version: string; runs: Array<{ tool: { driver: { name: string; rules: Array<{ id: string; shortDescription: { text: string }; help: { text: string }; properties: { 'security-severity': string } }> } }; results: Array<{ ruleId: string; ruleIndex: number; level: string; message: { text: string }; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }> }> }> };
    assert.equal(log.version, '2.1.0');
    const run0 = log.runs[0];
    assert.ok(run0);
    assert.equal(run0.tool.driver.name, 'securestack');
    const privileged = run0.results.filter((r) => r.ruleId === 'disallow-privileged');
    assert.deepEqual(privileged.map((r) => r.level).sort(), ['error', 'warning'], 'Enforce is an error, Warn a warning');
    const docLines = dump(goodPod('ok')).split('\n').length; // the first document's lines and its `---`
    const privilegedLine = dump(privilegedPod('bad')).split('\n').findIndex((l) => l.trim().startsWith('privileged:'));
    for (const r of privileged) {
      assert.deepEqual(r.locations[0]?.physicalLocation, { artifactLocation: { uri: 'sarif/app.yaml' }, region: { startLine: docLines + 1 + privilegedLine } });
      assert.equal(run0.tool.driver.rules[r.ruleIndex]?.id, 'disallow-privileged');
      assert.match(r.message.text, /^ScanPolicy (enforce|warn)-restricted: Pod\/team-a\/bad: \[disallow-privileged\] spec\.containers\[0\]\.securityContext\.privileged: /);
    }
    const rule = run0.tool.driver.rules.find((r) => r.id === 'disallow-privileged');
    assert.equal(rule?.properties['security-severity'], '9.5');
    assert.match(rule?.help.text ?? '', /Remove securityContext\.privileged/);
    assert.equal(new Set(run0.tool.driver.rules.map((r) => r.id)).size, run0.tool.driver.rules.length, 'each rule once');
    assert.equal(artifactUri('<stdin>'), 'stdin');
    assert.equal(artifactUri('/elsewhere/a b.yaml', '/work'), 'file:///elsewhere/a%20b.yaml');
    assert.equal(artifactUri('deploy/a b.yaml', '/work'), 'deploy/a%20b.yaml');
  });

  it('writes CSV, a row per violation, quoted and with formulas neutralised, and JUnit, a test case per object', () => {
    const audit = write('policies/audit-tab.yaml', [policy('audit-restricted', 'Audit')]);
    const file = write('tabular.yaml', [goodPod('ok'), privilegedPod('bad')]);
    const csv = run(['audit', '-p', enforce, '-o', 'csv', file]);
    assert.equal(csv.code, 1);
    const rows = csv.stdout.trimEnd().split('\r\n');
    assert.equal(rows[0], 'severity,mode,policy,rule,kind,namespace,name,field,message,remediation,file,line,fieldLine');
    const privilegedRow = rows.find((r) => r.startsWith('CRITICAL,Enforce,enforce-restricted,disallow-privileged,Pod,team-a,bad,spec.containers[0].securityContext.privileged,"container ""app"" sets securityContext.privileged=true",'));
    assert.ok(privilegedRow, rows.join('\n'));
    assert.equal(rows.length, 1 + (JSON.parse(run(['audit', '-p', enforce, '-o', 'json', file]).stdout) as { violations: unknown[] }).violations.length);
    const cells = [csvCell('plain'), csvCell('a,b'), csvCell('say "hi"'), csvCell('=HYPERLINK("x")'), csvCell('-1'), csvCell('line\nbreak'), csvCell(7)];
    assert.deepEqual(cells, ['plain', '"a,b"', '"say ""hi"""', `"'=HYPERLINK(""x"")"`, "'-1", '"line\nbreak"', '7']);

    const junit = run(['audit', '-p', enforce, '-p', audit, '-o', 'junit', file]);
    assert.equal(junit.code, 1);
    assert.match(junit.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="securestack audit" tests="2" failures="1" errors="0">/);
    assert.match(junit.stdout, /<testcase classname="[^"]*tabular\.yaml" name="Pod\/team-a\/ok"\/>/);
    const bad = /<testcase [^>]*name="Pod\/team-a\/bad"[^>]*>([\s\S]*?)<\/testcase>/.exec(junit.stdout)?.[1] ?? '';
    assert.match(bad, /<failure message="Pod\/team-a\/bad violates disallow-privileged, /);
    assert.match(bad, /CRITICAL Enforce ScanPolicy enforce-restricted: \[disallow-privileged\]/);
    assert.match(bad, /<system-out>[^<]*Audit ScanPolicy audit-restricted: /, 'below --fail-on: system-out, not a failure');
    assert.doesNotMatch(bad, /<failure[^>]*>[^<]*Audit ScanPolicy/);
    assert.match(run(['audit', '-p', audit, '--fail-on', 'audit', '-o', 'junit', file]).stdout, /tests="2" failures="1"/, 'at audit, Audit fails too');
    assert.equal(xmlEscape('a<b>&"c\'\u0001'), 'a&lt;b&gt;&amp;&quot;c&apos;');
  });

  it('finds the line of a field in block YAML, indentless sequences included, or the deepest part that exists', () => {
    const text = ['apiVersion: apps/v1', 'kind: Deployment', 'spec:', '  template:', '    spec:', '      initContainers:', '      - name: init', '        image: x', '      containers:', '      - name: a', '        image: b', '      - name: web', '        securityContext:', '          runAsUser: 0', '          privileged: true', ''].join('\n');
    const at = (field: string): number => locateField(text, 10, field);
    assert.equal(at('spec.template.spec.containers[1].securityContext.privileged'), 24);
    assert.equal(at('spec.template.spec.containers[0].image'), 20);
    assert.equal(at('spec.template.spec.initContainers[0].image'), 17);
    assert.equal(at('spec.template.spec.containers[1].securityContext.runAsNonRoot'), 22, 'absent: its mapping');
    assert.equal(at('spec.template.spec.containers[2].image'), 18, 'no third container: the list');
    assert.equal(at('metadata.name'), 10, 'nothing found: the document');
    const indented = ['spec:', '  containers:', '    - name: a', '      securityContext:', '        privileged: true'].join('\n');
    assert.equal(locateField(indented, 1, 'spec.containers[0].securityContext.privileged'), 5);
    assert.deepEqual(fieldPath('spec.containers[10].ports[0].hostPort'), ['spec', 'containers', 10, 'ports', 0, 'hostPort']);
  });

  it('gives the same verdict and the same words as the admission handler on the same objects', () => {
    const objects: KubeObject[] = [
      goodPod('ok'),
      privilegedPod('bad'),
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team-a' }, spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:latest' }], initContainers: [{ name: 'init', image: 'busybox', securityContext: { privileged: true } }] } } } },
      { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'team-a' }, spec: { schedule: '0 0 * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'alpine:3', securityContext: hardened }] } } } } } },
    ];
    const policies = loadPolicies(parseDocument(readFileSync(enforce, 'utf8'), enforce, 1) as SourcedObject[]);
    assert.deepEqual(policies.errors, []);
    const handler = new AdmissionHandler({
      sources: { policies: () => policies.policies, namespaceLabels: () => ({}), images: () => undefined, synced: () => true },
      metrics: createAdmissionMetrics(new Registry()),
      verdicts: new TemplateVerdictCache(100, 60_000),
      failurePolicy: 'Fail',
      deadlineMs: 10_000,
      requestScans: () => undefined,
    });
    const file = write('agreement.yaml', objects);
    const cliReport = JSON.parse(run(['audit', '-p', enforce, '-o', 'json', file]).stdout) as { violations: Array<{ name: string; policy: string; text: string }> };
    for (const [i, object] of objects.entries()) {
      const response = handler.review({ uid: `u${i}`, kind: { group: object.apiVersion?.includes('/') ? object.apiVersion.split('/')[0] ?? '' : '', version: 'v1', kind: object.kind ?? '' }, resource: { group: '', version: 'v1', resource: '' }, operation: 'CREATE', namespace: 'team-a', name: object.metadata?.name ?? '', object, dryRun: true });
      const cliLines = cliReport.violations.filter((v) => v.name === object.metadata?.name).map((v) => `- ScanPolicy ${v.policy}: ${v.text}`);
      const webhookLines = (response.status?.message ?? '').split('\n').slice(1);
      assert.equal(response.allowed, cliLines.length === 0, `${object.kind} ${object.metadata?.name}`);
      assert.deepEqual(cliLines, webhookLines, `${object.kind} ${object.metadata?.name}`);
    }
  });

  it('fills in the defaults the API server gives before admission, in Pods and pod templates', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    const images = ['busybox', 'busybox:latest', 'busybox:1.36', `busybox@${digest}`, `busybox:latest@${digest}`, 'not a reference'];
    const containers = (): Array<Record<string, unknown>> => images.map((image, i) => ({ name: `c${i}`, image, ports: [{ containerPort: 8080 + i }] }));
    const spec = (): Record<string, unknown> => ({ hostNetwork: true, containers: [...containers(), { name: 'set', image: 'busybox', imagePullPolicy: 'Never', resources: { limits: { cpu: '1' } }, ports: [{ containerPort: 9090, hostPort: 9091 }, { containerPort: 7070, hostPort: 0 }] }], initContainers: [{ name: 'i', image: 'busybox:1', ports: [{ containerPort: 53 }] }], ephemeralContainers: [{ name: 'e', image: 'busybox', ports: [{ containerPort: 22 }] }] });
    type Spec = { securityContext?: unknown; containers: Array<{ imagePullPolicy?: string; resources?: unknown; ports: Array<{ hostPort?: number }> }>; initContainers: Array<{ imagePullPolicy?: string; ports: unknown[] }>; ephemeralContainers: Array<{ imagePullPolicy?: string; resources?: unknown; ports: unknown[] }> };
    const pod = applyApiServerDefaults({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: spec() }).spec as Spec;
    // imagePullPolicy: Always for :latest, named or implied (also next to a digest), else IfNotPresent; a set one stays.
    assert.deepEqual(pod.containers.map((c) => c.imagePullPolicy), ['Always', 'Always', 'IfNotPresent', 'IfNotPresent', 'Always', 'IfNotPresent', 'Never']);
    assert.equal(pod.ephemeralContainers[0]?.imagePullPolicy, 'Always');
    assert.deepEqual(pod.containers.map((c) => c.resources), [...images.map(() => ({})), { limits: { cpu: '1' } }]);
    assert.deepEqual(pod.ephemeralContainers[0]?.resources, {});
    assert.deepEqual(pod.securityContext, {});
    // hostNetwork: hostPort = containerPort where unset or 0, in containers and init containers only.
    assert.deepEqual(pod.containers.flatMap((c) => c.ports.map((p) => p.hostPort)), [8080, 8081, 8082, 8083, 8084, 8085, 9091, 7070]);
    assert.deepEqual(pod.initContainers[0]?.ports, [{ containerPort: 53, hostPort: 53 }]);
    assert.deepEqual(pod.ephemeralContainers[0]?.ports, [{ containerPort: 22 }], 'ephemeral containers get no hostPort');

    // A Deployment's template gets the container and pod-spec defaults, but no hostPorts (since v1.28).
    const deployment = applyApiServerDefaults({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: spec() } } });
    const template = (deployment.spec as { template: { spec: Spec } }).template.spec;
    assert.deepEqual(template.containers.map((c) => c.imagePullPolicy), ['Always', 'Always', 'IfNotPresent', 'IfNotPresent', 'Always', 'IfNotPresent', 'Never']);
    assert.deepEqual(template.securityContext, {});
    assert.deepEqual(template.containers[0]?.ports, [{ containerPort: 8080 }]);
    // A CronJob's template too; objects without a pod are left alone.
    const cronJob = applyApiServerDefaults({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'x:1' }] } } } } } });
    assert.equal(JSON.stringify(cronJob).includes('"imagePullPolicy":"IfNotPresent"'), true);
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } };
    assert.deepEqual(applyApiServerDefaults(structuredClone(service)), service);

    // So a hostNetwork Pod fails disallow-host-ports for the port it names, as the webhook sees it.
    const file = write('host-network.yaml', [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hn', namespace: 'team-a' }, spec: { hostNetwork: true, containers: [{ name: 'app', image: 'busybox:1.36', ports: [{ containerPort: 8080 }] }] } }]);
    const report = JSON.parse(run(['audit', '-p', enforce, '-o', 'json', file]).stdout) as { violations: Array<{ ruleId: string; field: string; message: string }> };
    assert.deepEqual(report.violations.filter((v) => v.ruleId === 'disallow-host-ports').map((v) => `${v.field}: ${v.message}`), ['spec.containers[0].ports[0].hostPort: container "app" uses hostPort 8080']);
  });

  it('reads YAML as kubectl does: unquoted dates stay strings, merge keys merge', () => {
    const policyText = (expiresAt: string): string => `apiVersion: securestack.io/v1alpha1
kind: ScanPolicy
metadata: {name: dated}
spec:
  mode: Enforce
  ruleSets: [pss-restricted]
  exceptions:
    - rules: [disallow-privileged]
      names: [bad]
      reason: vendor agent until the end of the contract
      owner: platform@example.com
      expiresAt: ${expiresAt}
`;
    const pod = write('dated-pod.yaml', [privilegedPod('bad')]);
    const ruleIds = (expiresAt: string): string[] => {
      const file = path.join(dir, `dated-${expiresAt.slice(0, 4)}.yaml`);
      writeFileSync(file, policyText(expiresAt));
      const result = run(['audit', '-p', file, '-o', 'json', pod]);
      assert.equal(result.code, 1, result.stderr);
      return (JSON.parse(result.stdout) as { violations: Array<{ ruleId: string }> }).violations.map((v) => v.ruleId);
    };
    assert.ok(!ruleIds('2999-03-31T23:59:59Z').includes('disallow-privileged'), 'an unexpired exception (unquoted date) applies');
    assert.ok(ruleIds('2020-03-31T23:59:59Z').includes('disallow-privileged'), 'an expired one does not');
    const merged = path.join(dir, 'merged.yaml');
    writeFileSync(merged, `apiVersion: v1
kind: Pod
metadata: {name: merged, namespace: team-a}
spec:
  containers:
    - &base
      name: app
      image: registry.example/app@sha256:${'a'.repeat(64)}
      securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}
    - <<: *base
      name: sidecar
      securityContext: {privileged: true}
`);
    const report = JSON.parse(run(['audit', '-p', enforce, '-o', 'json', merged]).stdout) as { violations: Array<{ ruleId: string; field: string }> };
    assert.ok(report.violations.some((v) => v.ruleId === 'disallow-privileged' && v.field === 'spec.containers[1].securityContext.privileged'));
  });
});
