import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import { packageRoot } from '../operator/api/schema';
import { catalog, exampleFacts, exampleParameters, ruleById, ruleSetNames, ruleSets } from '../operator/engine/rules';
import { renderRulesDoc, reportedFields, rulesDocPath } from '../tools/rules-doc';
import { globMatch, joinPath, pathToward, splitPath } from '../operator/engine/rules/util';
import type { ClusterFacts, Finding, KubeObject, Rule } from '../operator/engine/types';
import { podTemplateOf } from '../operator/engine/workload';

// The engine's settings: schema defaults are filled in before a rule sees its parameters.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });

function rule(id: string): Rule {
  const found = ruleById(id);
  assert.ok(found, `no rule ${id}`);
  return found;
}

/** Parameters as the engine hands them over: validated, with defaults. */
function parametersFor(target: Rule, given: Record<string, unknown> = {}): Record<string, unknown> {
  const parameters = structuredClone(given);
  const validate = ajv.compile(target.parameters ?? { type: 'object', additionalProperties: false });
  assert.ok(validate(parameters), `${target.id} parameters ${JSON.stringify(given)}: ${ajv.errorsText(validate.errors)}`);
  return parameters;
}

function evaluate(target: Rule, object: KubeObject, given: Record<string, unknown> = {}, facts: ClusterFacts | undefined = exampleFacts): Finding[] {
  const parameters = parametersFor(target, given);
  if (target.target === 'object') return target.check(object, parameters, facts);
  const pod = podTemplateOf(object);
  assert.ok(pod, `${target.id}: ${object.kind ?? '?'} carries no pod`);
  return target.check(pod, parameters);
}

function run(id: string, object: KubeObject, given: Record<string, unknown> = {}, facts?: ClusterFacts): Finding[] {
  const findings = evaluate(rule(id), object, given, facts ?? exampleFacts);
  for (const finding of findings) assertPointsInto(object, finding.field);
  return findings;
}

const fieldsOf = (findings: readonly Finding[]): string[] => findings.map((finding) => finding.field);

/** The field exists, or at least its parent does (a finding about a field that must be set). */
function assertPointsInto(object: unknown, field: string): void {
  const steps = splitPath(field);
  let node: unknown = object;
  for (const [index, step] of steps.entries()) {
    const next: unknown =
      typeof step === 'number' ? (Array.isArray(node) ? (node as unknown[])[step] : undefined) : typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[step] : undefined;
    if (next === undefined) {
      assert.equal(index, steps.length - 1, `${field}: ${joinPath('', ...steps.slice(0, index + 1))} does not exist and is not the last step`);
      return;
    }
    node = next;
  }
}

// ---------------------------------------------------------------------------------------------
// Manifest builders

type Spec = Record<string, unknown>;

function c(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: `registry.example.com/${name}:1.0.0`, ...extra };
}

function pod(spec: Spec, metadata: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team-a', ...metadata }, spec };
}

function template(spec: Spec, metadata: Record<string, unknown> = {}): Record<string, unknown> {
  return { metadata: { labels: { app: 'x' }, ...metadata }, spec };
}

/** The same pod spec in each pod controller, with the path its pod spec sits at. */
function controllers(spec: Spec, metadata: Record<string, unknown> = {}): { kind: string; object: KubeObject; specPath: string }[] {
  const selector = { matchLabels: { app: 'x' } };
  const jobSpec = { ...spec, restartPolicy: 'Never' };
  return [
    { kind: 'Pod', object: pod(spec, metadata), specPath: 'spec' },
    { kind: 'Deployment', object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { selector, template: template(spec, metadata) } }, specPath: 'spec.template.spec' },
    { kind: 'StatefulSet', object: { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's' }, spec: { serviceName: 's', selector, template: template(spec, metadata) } }, specPath: 'spec.template.spec' },
    { kind: 'DaemonSet', object: { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds' }, spec: { selector, template: template(spec, metadata) } }, specPath: 'spec.template.spec' },
    { kind: 'Job', object: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: template(jobSpec, metadata) } }, specPath: 'spec.template.spec' },
    {
      kind: 'CronJob',
      object: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj' }, spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: template(jobSpec, metadata) } } } },
      specPath: 'spec.jobTemplate.spec.template.spec',
    },
  ];
}

function deployment(spec: Spec): KubeObject {
  const found = controllers(spec).find((entry) => entry.kind === 'Deployment');
  assert.ok(found);
  return found.object;
}

/** A pod that satisfies the Restricted level, to vary one field at a time. */
function restrictedSpec(extra: Spec = {}): Spec {
  return {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [c('app', { securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } })],
    ...extra,
  };
}

const digest = `sha256:${'0f'.repeat(32)}`;

// ---------------------------------------------------------------------------------------------
// Patterns of reportedFields (docs/rules.md) as regular expressions

function patternExpression(pattern: string): RegExp {
  const source = pattern
    .split(/(\[\*\]|<[a-z]+>|\*)/)
    .map((part) => (part === '[*]' ? '\\[\\d+\\]' : /^<[a-z]+>$/.test(part) ? '[^.\\[]+' : part === '*' ? '[^"]*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** Every cut of a pattern at a step boundary, itself included: a finding may name an ancestor. */
function patternAndAncestors(pattern: string): RegExp[] {
  const cuts = [pattern];
  for (let at = 1; at < pattern.length; at++) {
    if ((pattern[at] === '.' || (pattern[at] === '[' && pattern[at + 1] !== '*')) && !pattern.slice(0, at).includes('["')) cuts.push(pattern.slice(0, at));
  }
  return cuts.map(patternExpression);
}

function documentedField(target: Rule, object: KubeObject, field: string): boolean {
  let normalized = field;
  if (target.target === 'pod') {
    const view = podTemplateOf(object);
    assert.ok(view);
    if (normalized.startsWith(view.specPath)) normalized = `spec${normalized.slice(view.specPath.length)}`;
    else if (normalized.startsWith(view.metadataPath)) normalized = `metadata${normalized.slice(view.metadataPath.length)}`;
  }
  return (reportedFields[target.id] ?? []).some((pattern) => patternAndAncestors(pattern).some((expression) => expression.test(normalized)));
}

// ---------------------------------------------------------------------------------------------

describe('rule catalog', () => {
  it('has unique, well-formed ids and complete metadata', () => {
    const ids = new Set<string>();
    for (const entry of catalog) {
      assert.match(entry.id, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, entry.id);
      assert.ok(entry.id.length <= 63, entry.id);
      assert.ok(!ids.has(entry.id), `duplicate id ${entry.id}`);
      ids.add(entry.id);
      for (const field of ['title', 'remediation', 'description'] as const) assert.ok(entry[field].trim().length > 0, `${entry.id}: empty ${field}`);
      assert.ok(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'].includes(entry.severity), entry.id);
      assert.equal(ruleById(entry.id), entry);
      if (entry.target === 'object') assert.ok(entry.kinds.length > 0, entry.id);
    }
    assert.equal(ruleById('no-such-rule'), undefined);
  });

  it('contains the rules the example policies use, and they accept their parameters', () => {
    const required = [
      'disallow-host-process', 'disallow-host-namespaces', 'disallow-privileged', 'disallow-capabilities', 'disallow-host-path', 'disallow-host-ports',
      'disallow-host-probes', 'restrict-apparmor', 'restrict-selinux', 'restrict-proc-mount', 'restrict-seccomp', 'restrict-sysctls',
      'restrict-volume-types', 'disallow-privilege-escalation', 'run-as-non-root', 'disallow-root-user', 'seccomp-profile', 'restrict-capabilities',
      'require-resource-requests', 'require-resource-limits', 'require-probes', 'disallow-latest-tag', 'require-image-digest', 'require-image-pull-policy',
      'disallow-automount-service-account-token', 'read-only-root-filesystem', 'allowed-registries', 'disallow-secrets-in-env',
      'disallow-cluster-admin-binding', 'disallow-wildcard-rbac', 'disallow-pod-exec-attach', 'disallow-rbac-escalation',
    ];
    for (const id of required) assert.ok(ruleById(id), id);
    for (const file of ['scanpolicy-audit.yaml', 'scanpolicy-enforce-restricted.yaml', 'scanpolicy-warn-best-practices.yaml']) {
      const policy = yaml.load(readFileSync(path.join(packageRoot(), 'examples', file), 'utf8')) as { spec: { rules?: { id: string; parameters?: Record<string, unknown> }[] } };
      for (const entry of policy.spec.rules ?? []) {
        const named = ruleById(entry.id);
        assert.ok(named, `${file} names ${entry.id}`);
        parametersFor(named, entry.parameters ?? {});
      }
    }
  });

  it('compiles every parameter schema with ajv (strict, useDefaults) and fills defaults', () => {
    for (const entry of catalog) {
      const schema = entry.parameters ?? { type: 'object', additionalProperties: false };
      const validate = ajv.compile(schema);
      const required = Array.isArray(schema.required) ? schema.required : [];
      const parameters: Record<string, unknown> = {};
      assert.equal(validate(parameters), required.length === 0, `${entry.id}: {} ${required.length === 0 ? 'should' : 'should not'} validate`);
      if (required.length > 0) continue;
      const properties = (schema.properties ?? {}) as Record<string, { default?: unknown }>;
      for (const [name, property] of Object.entries(properties)) {
        if (property.default !== undefined) assert.deepEqual(parameters[name], property.default, `${entry.id}.${name} default`);
      }
      assert.equal(validate({ noSuchParameter: 1 }), false, `${entry.id} accepts unknown parameters`);
    }
  });

  it('fails each failing example and passes each passing one, with findings pointing into the object', () => {
    for (const entry of catalog) {
      const given = exampleParameters(entry.id) ?? {};
      const fail = evaluate(entry, entry.examples.fail, given);
      assert.ok(fail.length >= 1, `${entry.id}: failing example yields no finding`);
      assert.deepEqual(evaluate(entry, entry.examples.pass, given), [], `${entry.id}: passing example yields findings`);
      for (const finding of fail) {
        assertPointsInto(entry.examples.fail, finding.field);
        assert.ok(finding.message.length > 0 && finding.message.length <= 200, `${entry.id}: message length ${finding.message}`);
        assert.ok(documentedField(entry, entry.examples.fail, finding.field), `${entry.id}: ${finding.field} is not among its documented fields`);
        if (/[cC]ontainers\[\d+\]/.test(finding.field)) assert.ok(finding.image, `${entry.id}: container finding ${finding.field} has no image`);
      }
    }
  });

  it('documents the fields of every rule', () => {
    assert.deepEqual(Object.keys(reportedFields).sort(), catalog.map((entry) => entry.id).sort());
  });
});

describe('rule sets', () => {
  it('name existing rules; pss-restricted includes all of pss-baseline', () => {
    assert.deepEqual([...ruleSetNames].sort(), Object.keys(ruleSets).sort());
    for (const set of ruleSetNames) {
      assert.ok(ruleSets[set].length > 0, set);
      for (const id of ruleSets[set]) assert.ok(ruleById(id), `${set}: ${id}`);
    }
    for (const id of ruleSets['pss-baseline']) assert.ok(ruleSets['pss-restricted'].includes(id), id);
    assert.deepEqual(ruleSets['pss-baseline'], catalog.filter((entry) => entry.family === 'pod-security-baseline').map((entry) => entry.id));
    assert.equal(ruleSets['pss-restricted'].length, catalog.filter((entry) => entry.family.startsWith('pod-security-')).length);
    assert.deepEqual(ruleSets.rbac, catalog.filter((entry) => entry.family === 'rbac').map((entry) => entry.id));
  });

  it('leave out rules that cannot run on defaults', () => {
    assert.ok(!Object.values(ruleSets).some((ids) => ids.includes('allowed-registries')));
    const bestPractices = catalog.filter((entry) => entry.family === 'best-practices' && entry.id !== 'allowed-registries').map((entry) => entry.id);
    assert.deepEqual(ruleSets['best-practices'], bestPractices);
  });
});

describe('docs/rules.md', () => {
  it('is the rendering of the current catalog', () => {
    const committed = readFileSync(rulesDocPath(), 'utf8');
    assert.ok(committed === renderRulesDoc(), 'docs/rules.md is stale: run `npm run build && npm run gen-rules-doc` and commit the result');
  });

  it('has a section per rule, with its parameters and examples', () => {
    const text = renderRulesDoc();
    for (const entry of catalog) {
      assert.ok(text.includes(`\n### ${entry.id}\n`), entry.id);
      const section = text.slice(text.indexOf(`\n### ${entry.id}\n`)).split('\n### ')[1] ?? '';
      for (const name of Object.keys(entry.parameters?.properties ?? {})) assert.ok(section.includes(`| \`${name}\` |`), `${entry.id}: ${name}`);
      assert.ok(section.includes('**Fails:**') && section.includes('**Passes:**') && section.includes('```yaml'), entry.id);
    }
  });
});

describe('field paths', () => {
  it('round-trip through joinPath and splitPath, annotation keys included', () => {
    const steps = ['spec', 'template', 'metadata', 'annotations', 'container.apparmor.security.beta.kubernetes.io/app'];
    assert.equal(joinPath('', ...steps), 'spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/app"]');
    assert.deepEqual(splitPath(joinPath('', ...steps)), steps);
    assert.deepEqual(splitPath('spec.containers[1].ports[0].hostPort'), ['spec', 'containers', 1, 'ports', 0, 'hostPort']);
    assert.deepEqual(splitPath('rules[0].verbs[2]'), ['rules', 0, 'verbs', 2]);
    assert.throws(() => splitPath('spec..x'));
  });

  it('stop one step past the last field that exists', () => {
    const container = { name: 'a', securityContext: {} };
    assert.equal(pathToward('spec.containers[0]', container, ['securityContext', 'runAsNonRoot']), 'spec.containers[0].securityContext.runAsNonRoot');
    assert.equal(pathToward('spec.containers[0]', { name: 'a' }, ['securityContext', 'runAsNonRoot']), 'spec.containers[0].securityContext');
  });

  it('match globs on whole values', () => {
    assert.ok(globMatch('system:*', 'system:controller:job-controller'));
    assert.ok(!globMatch('system:*', 'my-system:x'));
    assert.ok(globMatch('*-admin', 'team-admin'));
    assert.ok(globMatch('a*b*c', 'axxbyyc'));
    assert.ok(!globMatch('a*b*c', 'axxc'));
    assert.ok(globMatch('exact', 'exact') && !globMatch('exact', 'exactly'));
  });
});

// ---------------------------------------------------------------------------------------------
// Pod Security Standards: Baseline

describe('pod rules over every pod controller', () => {
  it('report disallow-privileged at the pod template path of each kind', () => {
    const spec = { containers: [c('ok'), c('bad', { securityContext: { privileged: true } })] };
    for (const { kind, object, specPath } of controllers(spec)) {
      const findings = run('disallow-privileged', object);
      assert.deepEqual(fieldsOf(findings), [`${specPath}.containers[1].securityContext.privileged`], kind);
      assert.equal(findings[0]?.message, 'container "bad" sets securityContext.privileged=true');
      assert.equal(findings[0]?.image, 'registry.example.com/bad:1.0.0');
    }
  });

  it('report run-as-non-root and seccomp-profile in CronJobs below jobTemplate', () => {
    const cronJob = controllers({ containers: [c('job')] }).find((entry) => entry.kind === 'CronJob');
    assert.ok(cronJob);
    assert.deepEqual(fieldsOf(run('run-as-non-root', cronJob.object)), ['spec.jobTemplate.spec.template.spec.containers[0].securityContext']);
    assert.deepEqual(fieldsOf(run('seccomp-profile', cronJob.object)), ['spec.jobTemplate.spec.template.spec.containers[0].securityContext']);
  });

  it('pass a restricted pod in every controller under every PSS rule', () => {
    for (const { kind, object } of controllers(restrictedSpec())) {
      for (const id of ruleSets['pss-restricted']) assert.deepEqual(run(id, object), [], `${kind} ${id}`);
    }
  });
});

describe('pod-security-baseline rules', () => {
  it('disallow-host-process: pod and every container level, on Windows pods too', () => {
    const findings = run(
      'disallow-host-process',
      pod({
        os: { name: 'windows' },
        initContainers: [c('init', { securityContext: { windowsOptions: { hostProcess: true } } })],
        containers: [c('app', { securityContext: { windowsOptions: { hostProcess: false } } })],
        ephemeralContainers: [c('debug', { securityContext: { windowsOptions: { hostProcess: true } } })],
      }),
    );
    assert.deepEqual(fieldsOf(findings), ['spec.initContainers[0].securityContext.windowsOptions.hostProcess', 'spec.ephemeralContainers[0].securityContext.windowsOptions.hostProcess']);
    assert.equal(findings[1]?.message, 'ephemeral container "debug" sets securityContext.windowsOptions.hostProcess=true');
  });

  it('disallow-host-namespaces: each namespace, false is fine', () => {
    assert.deepEqual(fieldsOf(run('disallow-host-namespaces', deployment({ hostIPC: true, hostPID: false, hostNetwork: false, containers: [c('a')] }))), ['spec.template.spec.hostIPC']);
    assert.deepEqual(run('disallow-host-namespaces', pod({ hostNetwork: false, containers: [c('a')] })), []);
  });

  it('disallow-privileged: init and ephemeral containers', () => {
    const findings = run(
      'disallow-privileged',
      pod({
        initContainers: [c('init', { securityContext: { privileged: true } })],
        containers: [c('app', { securityContext: { privileged: false } })],
        ephemeralContainers: [c('debug', { securityContext: { privileged: true } })],
      }),
    );
    assert.deepEqual(fieldsOf(findings), ['spec.initContainers[0].securityContext.privileged', 'spec.ephemeralContainers[0].securityContext.privileged']);
    assert.match(findings[0]?.message ?? '', /^init container "init" sets/);
  });

  it('disallow-capabilities: the default set passes as spelled upstream, others fail, the parameter extends (exactly)', () => {
    const defaults = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];
    assert.deepEqual(run('disallow-capabilities', pod({ containers: [c('a', { securityContext: { capabilities: { add: defaults } } })] })), []);
    const spec = {
      initContainers: [c('init', { securityContext: { capabilities: { add: ['CAP_SYS_ADMIN'] } } })],
      containers: [c('app', { securityContext: { capabilities: { add: ['NET_RAW', 'ALL'] } } })],
      ephemeralContainers: [c('debug', { securityContext: { capabilities: { add: ['sys_ptrace'] } } })],
    };
    assert.deepEqual(fieldsOf(run('disallow-capabilities', pod(spec))), [
      'spec.initContainers[0].securityContext.capabilities.add[0]',
      'spec.containers[0].securityContext.capabilities.add[0]',
      'spec.containers[0].securityContext.capabilities.add[1]',
      'spec.ephemeralContainers[0].securityContext.capabilities.add[0]',
    ]);
    const extended = run('disallow-capabilities', pod(spec), { additionalAllowed: ['NET_RAW', 'sys_ptrace'] });
    assert.deepEqual(extended.map((finding) => finding.message), ['init container "init" adds capability "CAP_SYS_ADMIN"', 'container "app" adds capability "ALL"']);
    const spelledOtherwise = run('disallow-capabilities', pod(spec), { additionalAllowed: ['net_raw', 'SYS_PTRACE', 'SYS_ADMIN'] });
    assert.equal(spelledOtherwise.length, 4, 'additionalAllowed is compared exactly too');
  });

  it('disallow-host-path: only hostPath volumes, naming the path', () => {
    const findings = run(
      'disallow-host-path',
      deployment({ containers: [c('a')], volumes: [{ name: 'tmp', emptyDir: {} }, { name: 'sock', hostPath: { path: '/var/run/docker.sock' } }] }),
    );
    assert.deepEqual(fieldsOf(findings), ['spec.template.spec.volumes[1].hostPath']);
    assert.equal(findings[0]?.message, 'volume "sock" mounts host path "/var/run/docker.sock"');
  });

  it('disallow-host-ports: 0 is no host port; allowedHostPorts lets listed ports through', () => {
    const spec = {
      initContainers: [c('init', { ports: [{ containerPort: 80, hostPort: 0 }] })],
      containers: [c('proxy', { ports: [{ containerPort: 8443, hostPort: 443 }, { containerPort: 9090, hostPort: 9090 }] })],
      ephemeralContainers: [c('debug', { ports: [{ containerPort: 22, hostPort: 2222 }] })],
    };
    assert.deepEqual(fieldsOf(run('disallow-host-ports', pod(spec))), [
      'spec.containers[0].ports[0].hostPort',
      'spec.containers[0].ports[1].hostPort',
      'spec.ephemeralContainers[0].ports[0].hostPort',
    ]);
    const allowed = run('disallow-host-ports', pod(spec), { allowedHostPorts: [443, 2222] });
    assert.deepEqual(allowed.map((finding) => finding.message), ['container "proxy" uses hostPort 9090']);
    assert.throws(() => parametersFor(rule('disallow-host-ports'), { allowedHostPorts: [70000] }));
  });

  it('disallow-host-probes: every probe and lifecycle hook, httpGet and tcpSocket; an empty host is fine', () => {
    const spec = {
      initContainers: [c('sidecar', { restartPolicy: 'Always', startupProbe: { tcpSocket: { host: 'db.internal', port: 5432 } } })],
      containers: [
        c('app', {
          readinessProbe: { httpGet: { host: '', path: '/ready', port: 8080 } },
          livenessProbe: { tcpSocket: { port: 8080 } },
          lifecycle: { preStop: { httpGet: { host: '10.0.0.1', path: '/drain', port: 80 } }, postStart: { tcpSocket: { host: 'kubernetes.default', port: 443 } } },
        }),
      ],
      ephemeralContainers: [c('debug', { readinessProbe: { httpGet: { host: '127.0.0.1', port: 10250 } } })],
    };
    const findings = run('disallow-host-probes', pod(spec));
    assert.deepEqual(fieldsOf(findings), [
      'spec.initContainers[0].startupProbe.tcpSocket.host',
      'spec.containers[0].lifecycle.postStart.tcpSocket.host',
      'spec.containers[0].lifecycle.preStop.httpGet.host',
      'spec.ephemeralContainers[0].readinessProbe.httpGet.host',
    ]);
    assert.equal(findings[2]?.message, 'container "app" sets lifecycle.preStop.httpGet.host="10.0.0.1"');
  });

  it('restrict-apparmor: profile types at both levels and the legacy annotations, in templates too', () => {
    const annotations = {
      'container.apparmor.security.beta.kubernetes.io/app': 'localhost/k8s-app',
      'container.apparmor.security.beta.kubernetes.io/init': 'runtime/default',
      'container.apparmor.security.beta.kubernetes.io/debug': 'unconfined',
    };
    const spec = {
      securityContext: { appArmorProfile: { type: 'RuntimeDefault' } },
      initContainers: [c('init', { securityContext: { appArmorProfile: { type: 'Unconfined' } } })],
      containers: [c('app', { securityContext: { appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-app' } } })],
      ephemeralContainers: [c('debug')],
    };
    const deploymentEntry = controllers(spec, { annotations }).find((entry) => entry.kind === 'Deployment');
    assert.ok(deploymentEntry);
    const findings = run('restrict-apparmor', deploymentEntry.object);
    assert.deepEqual(fieldsOf(findings), [
      'spec.template.spec.initContainers[0].securityContext.appArmorProfile.type',
      'spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/debug"]',
    ]);
    assert.equal(findings[1]?.image, 'registry.example.com/debug:1.0.0', 'the annotation finding carries the image of the container it names');
  });

  it('restrict-selinux: allowed container types and levels pass; other types, users and roles fail at either level', () => {
    const allowed = ['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'].map((type, index) => c(`c${index}`, { securityContext: { seLinuxOptions: { type, level: 's0:c1,c2' } } }));
    assert.deepEqual(run('restrict-selinux', pod({ securityContext: { seLinuxOptions: { type: '' } }, containers: allowed })), []);
    const findings = run(
      'restrict-selinux',
      pod({
        securityContext: { seLinuxOptions: { role: 'sysadm_r' } },
        initContainers: [c('init', { securityContext: { seLinuxOptions: { user: 'root' } } })],
        containers: [c('app')],
        ephemeralContainers: [c('debug', { securityContext: { seLinuxOptions: { type: 'unconfined_t' } } })],
      }),
    );
    assert.deepEqual(fieldsOf(findings), [
      'spec.securityContext.seLinuxOptions.role',
      'spec.initContainers[0].securityContext.seLinuxOptions.user',
      'spec.ephemeralContainers[0].securityContext.seLinuxOptions.type',
    ]);
  });

  it('restrict-proc-mount: Default only; user-namespace pods at baseline from v1.35, at restricted only when the parameter says so', () => {
    const spec = { hostUsers: false, containers: [c('app', { securityContext: { procMount: 'Default' } })], ephemeralContainers: [c('debug', { securityContext: { procMount: 'Unmasked' } })] };
    assert.deepEqual(fieldsOf(run('restrict-proc-mount', pod(spec), { level: 'restricted' })), ['spec.ephemeralContainers[0].securityContext.procMount']);
    assert.deepEqual(run('restrict-proc-mount', pod(spec)), [], 'baseline (the default level) relaxes for hostUsers: false');
    assert.deepEqual(run('restrict-proc-mount', pod(spec), { level: 'restricted', allowInUserNamespaces: true }), []);
    assert.equal(run('restrict-proc-mount', pod({ ...spec, hostUsers: true }), { allowInUserNamespaces: true }).length, 1);
  });

  it('restrict-seccomp: Unconfined fails at either level, whatever the other level says', () => {
    assert.deepEqual(run('restrict-seccomp', pod({ securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } }, containers: [c('a')] })), []);
    const findings = run(
      'restrict-seccomp',
      pod({ securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [c('a')], initContainers: [c('init', { securityContext: { seccompProfile: { type: 'Unconfined' } } })] }),
    );
    assert.deepEqual(fieldsOf(findings), ['spec.initContainers[0].securityContext.seccompProfile.type']);
  });

  it('restrict-sysctls: the whole safe set passes; additionalAllowed extends it', () => {
    const safe = [
      'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range',
      'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
      'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem',
    ];
    assert.deepEqual(run('restrict-sysctls', pod({ securityContext: { sysctls: safe.map((name) => ({ name, value: '1' })) }, containers: [c('a')] })), []);
    const spec = { securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1024' }, { name: 'kernel.shm_rmid_forced', value: '1' }] }, containers: [c('a')] };
    assert.deepEqual(fieldsOf(run('restrict-sysctls', deployment(spec))), ['spec.template.spec.securityContext.sysctls[0].name']);
    assert.deepEqual(run('restrict-sysctls', pod(spec), { additionalAllowed: ['net.core.somaxconn'] }), []);
  });
});

// ---------------------------------------------------------------------------------------------
// Pod Security Standards: Restricted

describe('pod-security-restricted rules', () => {
  it('restrict-volume-types: core types (image volumes included) pass, hostPath is left to disallow-host-path', () => {
    const volumes = [
      { name: 'a', configMap: { name: 'x' } },
      { name: 'b', csi: { driver: 'secrets-store.csi.k8s.io' } },
      { name: 'c', downwardAPI: { items: [] } },
      { name: 'd', emptyDir: {} },
      { name: 'e', ephemeral: { volumeClaimTemplate: { spec: {} } } },
      { name: 'f', image: { reference: 'registry.example.com/models/llm:1' } },
      { name: 'g', persistentVolumeClaim: { claimName: 'data' } },
      { name: 'h', projected: { sources: [] } },
      { name: 'i', secret: { secretName: 'x' } },
      { name: 'j' },
      { name: 'k', hostPath: { path: '/etc' } },
    ];
    assert.deepEqual(run('restrict-volume-types', pod({ containers: [c('a')], volumes })), []);
    const findings = run('restrict-volume-types', pod({ containers: [c('a')], volumes: [{ name: 'src', gitRepo: { repository: 'https://example.com/r.git' } }, { name: 'fc', fc: {} }] }));
    assert.deepEqual(fieldsOf(findings), ['spec.volumes[0].gitRepo', 'spec.volumes[1].fc']);
    assert.equal(findings[0]?.message, 'volume "src" uses volume type gitRepo');
  });

  it('disallow-privilege-escalation: must be false on every container; unset and true fail; Windows is exempt', () => {
    const spec = {
      initContainers: [c('init', { securityContext: { allowPrivilegeEscalation: true } })],
      containers: [c('app', { securityContext: { allowPrivilegeEscalation: false } }), c('bare'), c('empty', { securityContext: {} })],
      ephemeralContainers: [c('debug')],
    };
    const findings = run('disallow-privilege-escalation', pod(spec));
    assert.deepEqual(fieldsOf(findings), [
      'spec.initContainers[0].securityContext.allowPrivilegeEscalation',
      'spec.containers[1].securityContext',
      'spec.containers[2].securityContext.allowPrivilegeEscalation',
      'spec.ephemeralContainers[0].securityContext',
    ]);
    assert.equal(findings[0]?.message, 'init container "init" sets securityContext.allowPrivilegeEscalation=true');
    assert.equal(findings[1]?.message, 'container "bare" does not set securityContext.allowPrivilegeEscalation=false');
    assert.deepEqual(run('disallow-privilege-escalation', pod({ ...spec, os: { name: 'windows' } })), []);
    assert.equal(run('disallow-privilege-escalation', pod({ ...spec, os: { name: 'linux' } })).length, 4);
  });

  it('run-as-non-root: the pod level covers containers, a container false overrides, a pod false is reported once', () => {
    const covered = pod({ securityContext: { runAsNonRoot: true }, initContainers: [c('init')], containers: [c('app')], ephemeralContainers: [c('debug')] });
    assert.deepEqual(run('run-as-non-root', covered), []);

    const overridden = run('run-as-non-root', pod({ securityContext: { runAsNonRoot: true }, containers: [c('app'), c('root', { securityContext: { runAsNonRoot: false } })] }));
    assert.deepEqual(fieldsOf(overridden), ['spec.containers[1].securityContext.runAsNonRoot']);

    const podFalse = run('run-as-non-root', pod({ securityContext: { runAsNonRoot: false }, containers: [c('a'), c('b', { securityContext: { runAsNonRoot: true } })] }));
    assert.deepEqual(fieldsOf(podFalse), ['spec.securityContext.runAsNonRoot']);
    assert.equal(podFalse[0]?.message, 'pod sets securityContext.runAsNonRoot=false');

    const unset = run('run-as-non-root', pod({ initContainers: [c('init', { securityContext: { runAsNonRoot: true } })], containers: [c('app', { securityContext: { runAsUser: 1000 } })], ephemeralContainers: [c('debug')] }));
    assert.deepEqual(fieldsOf(unset), ['spec.containers[0].securityContext.runAsNonRoot', 'spec.ephemeralContainers[0].securityContext']);
    assert.equal(unset[0]?.message, 'neither the pod nor container "app" sets securityContext.runAsNonRoot=true');
  });

  it('disallow-root-user: user 0 at either level, even when the other level names another user', () => {
    assert.deepEqual(run('disallow-root-user', pod({ securityContext: { runAsUser: 1000 }, containers: [c('a', { securityContext: { runAsUser: 1001 } })] })), []);
    const findings = run(
      'disallow-root-user',
      pod({ securityContext: { runAsUser: 0 }, containers: [c('a', { securityContext: { runAsUser: 1000 } })], initContainers: [c('init', { securityContext: { runAsUser: 0 } })] }),
    );
    assert.deepEqual(fieldsOf(findings), ['spec.securityContext.runAsUser', 'spec.initContainers[0].securityContext.runAsUser']);
  });

  it('seccomp-profile: pod level covers all, container Unconfined overrides, missing profiles fail, Windows is exempt', () => {
    assert.deepEqual(run('seccomp-profile', pod({ securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } }, initContainers: [c('i')], containers: [c('a')], ephemeralContainers: [c('d')] })), []);
    const overridden = run('seccomp-profile', pod({ securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [c('a', { securityContext: { seccompProfile: { type: 'Unconfined' } } })] }));
    assert.deepEqual(fieldsOf(overridden), ['spec.containers[0].securityContext.seccompProfile.type']);
    const podInvalid = run('seccomp-profile', pod({ securityContext: { seccompProfile: { type: 'Unconfined' } }, containers: [c('a'), c('b')] }));
    assert.deepEqual(fieldsOf(podInvalid), ['spec.securityContext.seccompProfile.type']);
    const perContainer = run('seccomp-profile', pod({ containers: [c('a', { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } })], ephemeralContainers: [c('d', { securityContext: {} })] }));
    assert.deepEqual(fieldsOf(perContainer), ['spec.ephemeralContainers[0].securityContext.seccompProfile']);
    assert.deepEqual(run('seccomp-profile', pod({ os: { name: 'windows' }, containers: [c('a')] })), []);
  });

  it('restrict-capabilities: drop ALL exactly, add only allowedAdd; Windows is exempt', () => {
    const spec = {
      initContainers: [c('init', { securityContext: { capabilities: { drop: ['all'] } } })],
      containers: [c('app', { securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'SYS_TIME'] } } })],
      ephemeralContainers: [c('debug', { securityContext: { capabilities: { drop: ['ALL'] } } })],
    };
    assert.deepEqual(fieldsOf(run('restrict-capabilities', pod(spec))), ['spec.initContainers[0].securityContext.capabilities.drop', 'spec.containers[0].securityContext.capabilities.add[1]']);
    assert.deepEqual(fieldsOf(run('restrict-capabilities', pod(spec), { allowedAdd: [] })), [
      'spec.initContainers[0].securityContext.capabilities.drop',
      'spec.containers[0].securityContext.capabilities.add[0]',
      'spec.containers[0].securityContext.capabilities.add[1]',
    ]);
    assert.equal(run('restrict-capabilities', pod(spec), { allowedAdd: ['NET_BIND_SERVICE', 'SYS_TIME'] }).length, 1);
    assert.equal(run('restrict-capabilities', pod(spec), { allowedAdd: ['NET_BIND_SERVICE', 'CAP_SYS_TIME'] }).length, 2, 'allowedAdd is compared exactly');
    assert.deepEqual(fieldsOf(run('restrict-capabilities', pod({ containers: [c('bare')] }))), ['spec.containers[0].securityContext']);
    assert.deepEqual(run('restrict-capabilities', pod({ ...spec, os: { name: 'windows' } })), []);
  });

  it('Windows pods: exempt from the Linux-only restricted controls, not from the others', () => {
    const windows = pod({ os: { name: 'windows' }, containers: [c('app')] });
    for (const id of ['seccomp-profile', 'restrict-capabilities', 'disallow-privilege-escalation', 'read-only-root-filesystem']) assert.deepEqual(run(id, windows), [], id);
    assert.equal(run('run-as-non-root', windows).length, 1);
    assert.equal(run('disallow-host-process', pod({ os: { name: 'windows' }, containers: [c('app', { securityContext: { windowsOptions: { hostProcess: true } } })] })).length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Best practices

describe('best-practices rules', () => {
  it('require-resource-requests: a limit counts as a request; init containers count, ephemeral ones cannot', () => {
    const spec = {
      initContainers: [c('init', { resources: { limits: { cpu: '1', memory: '64Mi' } } })],
      containers: [c('app', { resources: { requests: { cpu: '100m' } } })],
      ephemeralContainers: [c('debug')],
    };
    const findings = run('require-resource-requests', deployment(spec));
    assert.deepEqual(fieldsOf(findings), ['spec.template.spec.containers[0].resources.requests.memory']);
    assert.equal(findings[0]?.message, 'container "app" has no memory request');
    assert.deepEqual(run('require-resource-requests', deployment(spec), { resources: ['cpu'] }), []);
    assert.throws(() => parametersFor(rule('require-resource-requests'), { resources: ['gpu'] }));
  });

  it('require-resource-limits: by resource, as the warn-best-practices example sets it', () => {
    const spec = { initContainers: [c('init')], containers: [c('app', { resources: { limits: { memory: '128Mi' } } })] };
    assert.deepEqual(fieldsOf(run('require-resource-limits', pod(spec))), [
      'spec.initContainers[0].resources',
      'spec.initContainers[0].resources',
      'spec.containers[0].resources.limits.cpu',
    ]);
    assert.deepEqual(fieldsOf(run('require-resource-limits', pod(spec), { resources: ['memory'] })), ['spec.initContainers[0].resources']);
  });

  it('require-probes: long-running containers and sidecars only; Jobs and CronJobs are exempt', () => {
    const spec = {
      initContainers: [c('migrate'), c('proxy', { restartPolicy: 'Always', readinessProbe: { tcpSocket: { port: 15000 } } })],
      containers: [c('app', { livenessProbe: { httpGet: { path: '/healthz', port: 8080 } } })],
      ephemeralContainers: [c('debug')],
    };
    const findings = run('require-probes', pod(spec));
    assert.deepEqual(fieldsOf(findings), ['spec.initContainers[1].livenessProbe', 'spec.containers[0].readinessProbe']);
    assert.deepEqual(fieldsOf(run('require-probes', pod(spec), { probes: ['readiness'] })), ['spec.containers[0].readinessProbe']);
    assert.deepEqual(fieldsOf(run('require-probes', pod(spec), { probes: ['startup'] })), ['spec.initContainers[1].startupProbe', 'spec.containers[0].startupProbe']);
    for (const { kind, object } of controllers(spec)) {
      const count = run('require-probes', object).length;
      assert.equal(count, kind === 'Job' || kind === 'CronJob' ? 0 : 2, kind);
    }
  });

  it('disallow-latest-tag: no tag or :latest fails unless pinned by digest; a registry port is not a tag', () => {
    const images = ['nginx', 'nginx:latest', `nginx:latest@${digest}`, `nginx@${digest}`, 'localhost:5000/app', 'localhost:5000/app:1.2', 'NOT A REF'];
    const findings = run('disallow-latest-tag', pod({ containers: images.map((image, index) => ({ name: `c${index}`, image })) }));
    assert.deepEqual(fieldsOf(findings), ['spec.containers[0].image', 'spec.containers[1].image', 'spec.containers[4].image', 'spec.containers[6].image']);
    assert.equal(findings[0]?.message, 'container "c0" image "nginx" has no tag (means :latest)');
    assert.equal(findings[1]?.message, 'container "c1" uses image "nginx:latest"');
    assert.match(findings[3]?.message ?? '', /is not a valid reference$/);
  });

  it('require-image-digest: every container list', () => {
    const findings = run('require-image-digest', pod({ initContainers: [{ name: 'i', image: 'busybox:1.36' }], containers: [{ name: 'a', image: `app@${digest}` }], ephemeralContainers: [{ name: 'd', image: 'debug:1' }] }));
    assert.deepEqual(fieldsOf(findings), ['spec.initContainers[0].image', 'spec.ephemeralContainers[0].image']);
  });

  it('require-image-pull-policy: a left-out policy is judged by its Kubernetes default; digests exempt unless told', () => {
    const containers = [
      { name: 'tagged', image: 'app:1.0' },
      { name: 'untagged', image: 'app' },
      { name: 'explicit', image: 'app:1.0', imagePullPolicy: 'Always' },
      { name: 'pinned', image: `app:1.0@${digest}`, imagePullPolicy: 'IfNotPresent' },
      { name: 'never', image: 'app:1.0', imagePullPolicy: 'Never' },
    ];
    const findings = run('require-image-pull-policy', pod({ containers }));
    assert.deepEqual(fieldsOf(findings), ['spec.containers[0].imagePullPolicy', 'spec.containers[4].imagePullPolicy']);
    assert.equal(findings[0]?.message, 'container "tagged" has imagePullPolicy IfNotPresent (by default), not Always');
    assert.equal(run('require-image-pull-policy', pod({ containers }), { exemptDigests: false }).length, 3);
    assert.deepEqual(fieldsOf(run('require-image-pull-policy', pod({ containers }), { policy: 'IfNotPresent' })), [
      'spec.containers[1].imagePullPolicy',
      'spec.containers[2].imagePullPolicy',
      'spec.containers[4].imagePullPolicy',
    ]);
  });

  it('disallow-automount-service-account-token: unset and true fail', () => {
    assert.equal(run('disallow-automount-service-account-token', pod({ automountServiceAccountToken: true, containers: [c('a')] }))[0]?.message, 'pod sets automountServiceAccountToken=true');
    assert.deepEqual(fieldsOf(run('disallow-automount-service-account-token', pod({ containers: [c('a')] }))), ['spec.automountServiceAccountToken']);
    assert.deepEqual(run('disallow-automount-service-account-token', pod({ automountServiceAccountToken: false, containers: [c('a')] })), []);
  });

  it('read-only-root-filesystem: containers and init containers, not ephemeral debug containers', () => {
    const spec = { initContainers: [c('init')], containers: [c('app', { securityContext: { readOnlyRootFilesystem: true } }), c('rw', { securityContext: { readOnlyRootFilesystem: false } })], ephemeralContainers: [c('debug')] };
    assert.deepEqual(fieldsOf(run('read-only-root-filesystem', pod(spec))), ['spec.initContainers[0].securityContext', 'spec.containers[1].securityContext.readOnlyRootFilesystem']);
  });

  it('allowed-registries: references normalised like the kubelet, prefixes on segment boundaries', () => {
    const images = [
      'nginx:1.27',
      'docker.io/library/redis:7',
      'index.docker.io/library/busybox:1.36',
      'registry.example.com/team/app:1',
      'registry.example.com.evil.io/team/app:1',
      'ghcr.io/example-org/tool:2',
      'ghcr.io/example-org-evil/tool:2',
      'Registry.Example.com/x/y:1',
    ];
    const object = pod({ containers: images.map((image, index) => ({ name: `c${index}`, image })) });
    const findings = run('allowed-registries', object, { registries: ['registry.example.com', 'ghcr.io/example-org/', 'index.docker.io/library'] });
    assert.deepEqual(fieldsOf(findings), ['spec.containers[4].image', 'spec.containers[6].image']);
    assert.equal(findings[0]?.message, 'container "c4" image "registry.example.com.evil.io/team/app:1" (registry.example.com.evil.io/team/app) is not from an allowed registry');
    assert.equal(run('allowed-registries', object, { registries: ['registry.example.com'] }).length, 6, 'Docker Hub and ghcr.io images need their own entries');
    assert.throws(() => parametersFor(rule('allowed-registries'), {}), /registries/);
    assert.throws(() => parametersFor(rule('allowed-registries'), { registries: [] }));
    assert.throws(() => parametersFor(rule('allowed-registries'), { registries: ['https://registry.example.com'] }));
  });

  it('disallow-secrets-in-env: names by words, references and files pass, and the value never appears', () => {
    const env = [
      { name: 'dbPassword', value: 'hunter2' },
      { name: 'PASSWORD_FILE', value: '/run/secrets/pw' },
      { name: 'TOKENIZER_MODEL', value: 'bpe' },
      { name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: 'gh', key: 'token' } } },
      { name: 'API_KEY', value: '$(UPSTREAM_API_KEY)' },
      { name: 'STRIPE_API_KEY', value: 'sk_live_abc' },
      { name: 'EMPTY_SECRET', value: '' },
      { name: 'aws.access-key', value: 'AKIA123' },
    ];
    const findings = run('disallow-secrets-in-env', pod({ initContainers: [c('init', { env })], containers: [c('app')] }));
    assert.deepEqual(fieldsOf(findings), ['spec.initContainers[0].env[0].value', 'spec.initContainers[0].env[5].value', 'spec.initContainers[0].env[7].value']);
    assert.equal(findings[0]?.message, 'init container "init" sets env dbPassword to a literal value');
    for (const finding of findings) assert.ok(!/hunter2|sk_live|AKIA/.test(finding.message), finding.message);
    assert.deepEqual(fieldsOf(run('disallow-secrets-in-env', pod({ containers: [c('app', { env })] }), { names: ['MODEL'], ignoredSuffixes: [] })), ['spec.containers[0].env[2].value']);
  });
});

// ---------------------------------------------------------------------------------------------
// RBAC

const rbacApi = 'rbac.authorization.k8s.io/v1';

function clusterRole(name: string, rules: Record<string, unknown>[]): KubeObject {
  return { apiVersion: rbacApi, kind: 'ClusterRole', metadata: { name }, rules };
}

function role(name: string, rules: Record<string, unknown>[]): KubeObject {
  return { apiVersion: rbacApi, kind: 'Role', metadata: { name, namespace: 'team-a' }, rules };
}

function binding(kind: 'RoleBinding' | 'ClusterRoleBinding', roleRef: Record<string, unknown>, subjects: Record<string, unknown>[]): KubeObject {
  const metadata = kind === 'RoleBinding' ? { name: 'b', namespace: 'team-a' } : { name: 'b' };
  return { apiVersion: rbacApi, kind, metadata, roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef }, subjects };
}

describe('rbac rules', () => {
  it('disallow-cluster-admin-binding: every non-exempt subject, in RoleBindings too', () => {
    const builtIn = binding('ClusterRoleBinding', { kind: 'ClusterRole', name: 'cluster-admin' }, [{ kind: 'Group', name: 'system:masters' }]);
    assert.deepEqual(run('disallow-cluster-admin-binding', builtIn), []);
    const tampered = binding('ClusterRoleBinding', { kind: 'ClusterRole', name: 'cluster-admin' }, [{ kind: 'Group', name: 'system:masters' }, { kind: 'User', name: 'mallory' }]);
    assert.deepEqual(fieldsOf(run('disallow-cluster-admin-binding', tampered)), ['subjects[1]']);

    const namespaced = binding('RoleBinding', { kind: 'ClusterRole', name: 'cluster-admin' }, [{ kind: 'ServiceAccount', name: 'deployer' }]);
    const findings = run('disallow-cluster-admin-binding', namespaced);
    assert.equal(findings[0]?.message, 'RoleBinding "team-a/b" grants cluster-admin in namespace "team-a" to ServiceAccount "team-a/deployer"');
    assert.deepEqual(run('disallow-cluster-admin-binding', namespaced, { exemptSubjects: [{ kind: 'ServiceAccount', namespace: 'team-*', name: 'deployer' }] }), []);
    assert.equal(run('disallow-cluster-admin-binding', namespaced, { exemptSubjects: [{ kind: 'ServiceAccount', namespace: 'kube-system', name: 'deployer' }] }).length, 1);

    assert.deepEqual(run('disallow-cluster-admin-binding', binding('RoleBinding', { kind: 'Role', name: 'cluster-admin' }, [{ kind: 'User', name: 'a' }])), [], 'a Role that happens to be called cluster-admin');
    const copy = binding('ClusterRoleBinding', { kind: 'ClusterRole', name: 'root' }, [{ kind: 'User', name: 'a' }]);
    assert.deepEqual(run('disallow-cluster-admin-binding', copy), []);
    assert.equal(run('disallow-cluster-admin-binding', copy, { roles: ['cluster-admin', 'root'] }).length, 1);
    assert.deepEqual(run('disallow-cluster-admin-binding', clusterRole('cluster-admin', [])), [], 'not a binding');
    assert.throws(() => parametersFor(rule('disallow-cluster-admin-binding'), { exemptSubjects: [{ kind: 'Robot', name: 'x' }] }));
  });

  it('disallow-wildcard-rbac: namespaced Roles are never exempt by name; built-in ClusterRoles are by default', () => {
    const everything = [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }];
    assert.deepEqual(run('disallow-wildcard-rbac', clusterRole('cluster-admin', everything)), []);
    assert.deepEqual(run('disallow-wildcard-rbac', clusterRole('system:controller:x', everything)), []);
    assert.equal(run('disallow-wildcard-rbac', role('admin', everything)).length, 3);
    assert.equal(run('disallow-wildcard-rbac', clusterRole('cluster-admin', everything), { exemptClusterRoles: [] }).length, 3);
    const narrow = run('disallow-wildcard-rbac', role('r', [{ apiGroups: ['apps'], resources: ['deployments', 'pods/*'], verbs: ['get'] }, { apiGroups: [''], resources: ['configmaps'], verbs: ['get', '*'] }]));
    assert.deepEqual(fieldsOf(narrow), ['rules[1].verbs[1]']);
  });

  it('disallow-pod-exec-attach: direct grants and wildcards that cover the subresources', () => {
    const cases: [Record<string, unknown>, boolean][] = [
      [{ apiGroups: [''], resources: ['pods/attach'], verbs: ['get'] }, true],
      [{ apiGroups: ['*'], resources: ['*'], verbs: ['create'] }, true],
      [{ apiGroups: [''], resources: ['pods/*'], verbs: ['*'] }, true],
      [{ apiGroups: [''], resources: ['*/exec'], verbs: ['create'] }, true],
      [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['list', 'watch'] }, false],
      [{ apiGroups: ['apps'], resources: ['*'], verbs: ['*'] }, false],
      [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['*'] }, false],
    ];
    for (const [policyRule, flagged] of cases) assert.equal(run('disallow-pod-exec-attach', role('r', [policyRule])).length, flagged ? 1 : 0, JSON.stringify(policyRule));
    assert.equal(run('disallow-pod-exec-attach', role('r', [cases[1]?.[0] ?? {}]))[0]?.message, 'Role "team-a/r" rule 0 grants create on * (includes pods/exec and pods/attach)');
    assert.deepEqual(run('disallow-pod-exec-attach', clusterRole('edit', [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] }])), []);
  });

  it('disallow-rbac-escalation: explicit verbs anywhere, "*" only where it covers RBAC roles or identities', () => {
    const cases: [Record<string, unknown>, number][] = [
      [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['*'] }, 1],
      [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, 1],
      [{ apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] }, 1],
      [{ apiGroups: ['authentication.k8s.io'], resources: ['userextras/scopes'], verbs: ['*'] }, 1],
      [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['*'] }, 1],
      [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }, 0],
      [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['bind', 'escalate'] }, 2],
    ];
    for (const [policyRule, count] of cases) assert.equal(run('disallow-rbac-escalation', role('r', [policyRule])).length, count, JSON.stringify(policyRule));
    assert.equal(run('disallow-rbac-escalation', clusterRole('x', [cases[1]?.[0] ?? {}]))[0]?.message, 'ClusterRole "x" rule 0 grants verb "*", which includes escalate, bind, impersonate');
    assert.deepEqual(run('disallow-rbac-escalation', clusterRole('admin', [cases[2]?.[0] ?? {}])), []);
  });

  it('sensitive grants: RBAC wildcards as the authorizer reads them ("*", "*/sub"; not "pods/*")', () => {
    // [rule, policy rule, findings]: each grant both ways, in verbs, apiGroups and resources.
    const cases: [string, Record<string, unknown>, number][] = [
      ['disallow-secret-access', { apiGroups: [''], resources: ['secrets'], verbs: ['list'] }, 1],
      ['disallow-secret-access', { apiGroups: [''], resources: ['secrets'], verbs: ['watch'] }, 1],
      ['disallow-secret-access', { apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, 1],
      ['disallow-secret-access', { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'delete'] }, 0],
      ['disallow-secret-access', { apiGroups: ['apps'], resources: ['secrets'], verbs: ['get'] }, 0],
      ['disallow-secret-access', { apiGroups: [''], resources: ['secrets'], resourceNames: ['web-tls'], verbs: ['get', 'list'] }, 0],
      ['disallow-secret-access', { apiGroups: [''], resources: ['configmaps', 'secrets', '*'], verbs: ['get'] }, 2],
      ['disallow-pod-create', { apiGroups: [''], resources: ['pods'], verbs: ['*'] }, 1],
      ['disallow-pod-create', { apiGroups: [''], resources: ['pods'], verbs: ['get', 'update'] }, 0],
      ['disallow-pod-create', { apiGroups: [''], resources: ['pods/*', '*/exec', 'pods/exec'], verbs: ['create'] }, 0],
      ['disallow-pod-create', { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create'] }, 0],
      ['disallow-service-account-token-create', { apiGroups: [''], resources: ['*/token'], verbs: ['create'] }, 1],
      ['disallow-service-account-token-create', { apiGroups: [''], resources: ['serviceaccounts/*'], verbs: ['create'] }, 0],
      ['disallow-service-account-token-create', { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['create'] }, 0],
      ['disallow-service-account-token-create', { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['get'] }, 0],
    ];
    for (const [id, policyRule, count] of cases) assert.equal(run(id, role('r', [policyRule])).length, count, `${id} ${JSON.stringify(policyRule)}`);
    const all = run('disallow-secret-access', role('r', [cases[6]?.[1] ?? {}]));
    assert.deepEqual(fieldsOf(all), ['rules[0].resources[1]', 'rules[0].resources[2]']);
    assert.equal(all[1]?.message, 'Role "team-a/r" rule 0 grants get on * (includes secrets)');
    assert.equal(run('disallow-pod-create', role('r', [cases[7]?.[1] ?? {}]))[0]?.message, 'Role "team-a/r" rule 0 grants * on pods');
  });

  it('sensitive grants on cluster-scoped resources: ClusterRoles only, every listed verb', () => {
    const cases: [string, Record<string, unknown>, number][] = [
      ['disallow-persistent-volume-create', { apiGroups: [''], resources: ['persistentvolumes'], verbs: ['create'] }, 1],
      ['disallow-persistent-volume-create', { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['create'] }, 0],
      ['disallow-node-proxy', { apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }, 1],
      ['disallow-node-proxy', { apiGroups: [''], resources: ['*/proxy'], verbs: ['create'] }, 1],
      ['disallow-node-proxy', { apiGroups: [''], resources: ['nodes/proxy'], verbs: ['list', 'watch'] }, 0],
      ['disallow-node-proxy', { apiGroups: [''], resources: ['nodes', 'services/proxy'], verbs: ['get'] }, 0],
      ['disallow-csr-approval', { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval'], verbs: ['patch'] }, 1],
      ['disallow-csr-approval', { apiGroups: ['*'], resources: ['*/approval'], verbs: ['*'] }, 1],
      ['disallow-csr-approval', { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['update'] }, 0],
      ['disallow-csr-approval', { apiGroups: [''], resources: ['certificatesigningrequests/approval'], verbs: ['update'] }, 0],
      ['disallow-webhook-configuration-write', { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'], verbs: ['delete'] }, 2],
      ['disallow-webhook-configuration-write', { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], verbs: ['deletecollection'] }, 1],
      ['disallow-webhook-configuration-write', { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], verbs: ['get', 'list', 'watch'] }, 0],
      ['disallow-webhook-configuration-write', { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingadmissionpolicies'], verbs: ['create'] }, 0],
    ];
    for (const [id, policyRule, count] of cases) {
      assert.equal(run(id, clusterRole('c', [policyRule])).length, count, `${id} ${JSON.stringify(policyRule)}`);
      assert.deepEqual(run(id, role('r', [policyRule])), [], `${id}: a namespaced Role cannot grant cluster-scoped resources`);
    }
    for (const id of ['disallow-persistent-volume-create', 'disallow-node-proxy', 'disallow-csr-approval', 'disallow-webhook-configuration-write']) {
      const target = rule(id);
      assert.ok(target.target === 'object' && target.kinds.every((kind) => kind.kind === 'ClusterRole'), id);
    }
  });

  it('sensitive grants: Kubernetes\' own ClusterRoles are exempt by default, namespaced Roles never by name', () => {
    const grant = { apiGroups: [''], resources: ['pods'], verbs: ['create'] };
    assert.deepEqual(run('disallow-pod-create', clusterRole('edit', [grant])), []);
    assert.deepEqual(run('disallow-pod-create', clusterRole('system:controller:job-controller', [grant])), []);
    assert.equal(run('disallow-pod-create', clusterRole('edit', [grant]), { exemptClusterRoles: [] }).length, 1);
    assert.equal(run('disallow-pod-create', role('edit', [grant])).length, 1);
    assert.equal(run('disallow-pod-create', clusterRole('ci-runner', [grant]), { exemptClusterRoles: ['ci-*'] }).length, 0);
  });

  it('ignore objects of other kinds', () => {
    for (const id of ruleSets.rbac) assert.deepEqual(run(id, pod({ containers: [c('a')] })), [], id);
  });
});

// ---------------------------------------------------------------------------------------------
// Hardening

describe('hardening rules', () => {
  it('are in no rule set', () => {
    const hardening = catalog.filter((entry) => entry.family === 'hardening').map((entry) => entry.id);
    assert.equal(hardening.length, 5);
    for (const id of hardening) assert.ok(!Object.values(ruleSets).some((ids) => ids.includes(id)), id);
  });

  it('disallow-net-raw: drop NET_RAW or ALL in every container list, never add it; Windows is exempt', () => {
    const drop = (...names: string[]): Record<string, unknown> => ({ securityContext: { capabilities: { drop: names } } });
    const spec = {
      initContainers: [c('init', drop('cap_net_raw'))],
      containers: [c('all', drop('ALL')), c('none'), c('lower', drop('all')), c('other', drop('SYS_ADMIN')), c('net', drop('net_raw'))],
      ephemeralContainers: [c('debug', { securityContext: { capabilities: { drop: ['ALL'], add: ['CHOWN', 'CAP_NET_RAW'] } } })],
    };
    const findings = run('disallow-net-raw', pod(spec));
    assert.deepEqual(fieldsOf(findings), [
      'spec.containers[1].securityContext',
      'spec.containers[2].securityContext.capabilities.drop',
      'spec.containers[3].securityContext.capabilities.drop',
      'spec.ephemeralContainers[0].securityContext.capabilities.add[1]',
    ]);
    assert.equal(findings[0]?.message, 'container "none" does not drop NET_RAW (or ALL)');
    assert.equal(findings[3]?.message, 'ephemeral container "debug" adds capability "CAP_NET_RAW"');
    assert.equal(findings[3]?.image, 'registry.example.com/debug:1.0.0');
    assert.deepEqual(run('disallow-net-raw', pod({ ...spec, os: { name: 'windows' } })), []);
  });

  it('disallow-env-from-secrets: secretKeyRef and envFrom secretRef in every container list; literals and ConfigMaps pass', () => {
    const env = [
      { name: 'A', value: 'x' },
      { name: 'B', valueFrom: { configMapKeyRef: { name: 'cm', key: 'b' } } },
      { name: 'C', valueFrom: { secretKeyRef: { name: 's', key: 'c' } } },
    ];
    const envFrom = [{ configMapRef: { name: 'cm' } }, { secretRef: { name: 's' } }];
    const findings = run('disallow-env-from-secrets', pod({ initContainers: [c('init', { env })], containers: [c('app', { envFrom })], ephemeralContainers: [c('debug', { env, envFrom })] }));
    assert.deepEqual(fieldsOf(findings), [
      'spec.initContainers[0].env[2].valueFrom.secretKeyRef',
      'spec.containers[0].envFrom[1].secretRef',
      'spec.ephemeralContainers[0].env[2].valueFrom.secretKeyRef',
      'spec.ephemeralContainers[0].envFrom[1].secretRef',
    ]);
    assert.equal(findings[0]?.message, 'init container "init" takes env "C" from Secret "s"');
    assert.equal(findings[1]?.message, 'container "app" takes every key of Secret "s" as env');
    assert.deepEqual(run('disallow-env-from-secrets', pod({ containers: [c('app', { env: env.slice(0, 2), envFrom: envFrom.slice(0, 1) })] })), []);
  });

  it('disallow-default-service-account: default (named or implied) with a token fails; another account or no token passes', () => {
    const app = [c('app')];
    const unset = run('disallow-default-service-account', deployment({ containers: app }));
    assert.deepEqual(fieldsOf(unset), ['spec.template.spec.serviceAccountName']);
    assert.equal(unset[0]?.message, 'pod names no ServiceAccount, so runs as the default one, and does not set automountServiceAccountToken=false');
    const named = run('disallow-default-service-account', pod({ serviceAccountName: 'default', automountServiceAccountToken: true, containers: app }));
    assert.equal(named[0]?.message, 'pod runs as the default ServiceAccount and sets automountServiceAccountToken=true');
    assert.deepEqual(fieldsOf(run('disallow-default-service-account', pod({ serviceAccount: 'default', containers: app }))), ['spec.serviceAccount']);
    assert.deepEqual(run('disallow-default-service-account', pod({ serviceAccountName: 'api', containers: app })), []);
    assert.deepEqual(run('disallow-default-service-account', pod({ serviceAccount: 'api', containers: app })), [], 'the deprecated field names it too');
    assert.deepEqual(run('disallow-default-service-account', pod({ serviceAccountName: '', serviceAccount: 'api', containers: app })), []);
    assert.deepEqual(run('disallow-default-service-account', pod({ automountServiceAccountToken: false, containers: app })), [], 'no token: not used');
    const projected = {
      automountServiceAccountToken: false,
      containers: app,
      volumes: [{ name: 'cfg', projected: { sources: [{ configMap: { name: 'cfg' } }] } }, { name: 'token', projected: { sources: [{ configMap: { name: 'ca' } }, { serviceAccountToken: { path: 'token' } }] } }],
    };
    const explicit = run('disallow-default-service-account', pod(projected));
    assert.deepEqual(fieldsOf(explicit), ['spec.volumes[1].projected.sources[1].serviceAccountToken']);
    assert.equal(explicit[0]?.message, 'volume "token" projects a token of the default ServiceAccount');
    assert.deepEqual(run('disallow-default-service-account', pod({ ...projected, serviceAccountName: 'api' })), []);
  });

  it('disallow-default-namespace: workloads and Services in default, except the kubernetes Service', () => {
    const service = (name: string, namespace: string): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports: [{ port: 443 }] } });
    for (const { kind, object } of controllers({ containers: [c('a')] })) {
      const inDefault = { ...object, metadata: { ...object.metadata, namespace: 'default' } };
      const findings = run('disallow-default-namespace', inDefault);
      assert.deepEqual(fieldsOf(findings), ['metadata.namespace'], kind);
      assert.match(findings[0]?.message ?? '', new RegExp(`^${kind} ".+" is in the default namespace$`));
      assert.deepEqual(run('disallow-default-namespace', { ...object, metadata: { ...object.metadata, namespace: 'shop' } }), [], kind);
    }
    assert.deepEqual(run('disallow-default-namespace', service('kubernetes', 'default')), []);
    assert.equal(run('disallow-default-namespace', service('web', 'default'))[0]?.message, 'Service "web" is in the default namespace');
    assert.deepEqual(run('disallow-default-namespace', service('kubernetes', 'shop')), []);
    assert.deepEqual(run('disallow-default-namespace', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' } }), [], 'not a kind it reads');
  });

  it('require-network-policy: zero policies fail; some, unknown or no facts pass; exemptions by glob', () => {
    const namespace = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    const counts: Record<string, number> = { empty: 0, guarded: 1, 'kube-public': 0, 'team-x': 0 };
    const facts: ClusterFacts = { networkPolicyCount: (name) => counts[name] };
    const findings = run('require-network-policy', namespace('empty'), {}, facts);
    assert.deepEqual(fieldsOf(findings), ['metadata.name']);
    assert.equal(findings[0]?.message, 'Namespace "empty" has no NetworkPolicy');
    assert.deepEqual(run('require-network-policy', namespace('guarded'), {}, facts), []);
    assert.deepEqual(run('require-network-policy', namespace('unlisted'), {}, facts), [], 'a namespace the facts do not cover');
    assert.deepEqual(evaluate(rule('require-network-policy'), namespace('empty'), {}, undefined), [], 'no facts at all');
    assert.deepEqual(run('require-network-policy', namespace('kube-public'), {}, facts), [], 'exempt by default');
    assert.equal(run('require-network-policy', namespace('kube-public'), { exemptNamespaces: [] }, facts).length, 1);
    assert.deepEqual(run('require-network-policy', namespace('team-x'), { exemptNamespaces: ['team-*'] }, facts), []);
    assert.deepEqual(run('require-network-policy', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'empty', namespace: 'empty' } }, {}, facts), []);
    parametersFor(rule('require-network-policy'), { exemptNamespaces: Array.from({ length: 64 }, (_, index) => `n${index}`) });
    assert.throws(() => parametersFor(rule('require-network-policy'), { exemptNamespaces: Array.from({ length: 65 }, (_, index) => `n${index}`) }));
    parametersFor(rule('require-network-policy'), { exemptNamespaces: ['a'.repeat(63)] });
    assert.throws(() => parametersFor(rule('require-network-policy'), { exemptNamespaces: ['a'.repeat(64)] }));
    assert.throws(() => parametersFor(rule('require-network-policy'), { exemptNamespaces: [''] }));
    assert.equal(rule('require-network-policy').backgroundOnly, true);
    assert.ok(catalog.filter((entry) => entry.backgroundOnly).every((entry) => entry.id === 'require-network-policy'), 'only rules that read facts are background-only');
  });
});
