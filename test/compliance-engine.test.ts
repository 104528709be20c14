// The compliance evaluator (issue 10), pure: frameworks compiled into the shared rule engine,
// object verdicts per control, Manual and Skip never Pass, vulnerability controls at their
// bounds, Kubescape's score, the status byte budget, and the same verdict as admission and the
// background audit for every example of the catalog.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScanPolicy, VulnerabilitySummary } from '../operator/api/types.generated';
import { ComplianceTally, compileFramework, customFramework, evaluateObject, imageProblem, summarize, type CompiledFramework, type ControlOutcome } from '../operator/engine/compliance/evaluate';
import type { Control, ControlCheck, Framework } from '../operator/engine/compliance/framework';
import { STATUS_BUDGET_BYTES, fitControls } from '../operator/engine/compliance/status';
import { compilePolicy } from '../operator/engine/compile';
import { evaluateAll, type ImageFacts } from '../operator/engine/evaluate';
import { catalog, exampleFacts } from '../operator/engine/rules';
import type { KubeObject } from '../operator/engine/types';

const now = Date.parse('2026-12-01T00:00:00Z');
const dayMs = 86_400_000;

function control(id: string, check: ControlCheck, severity: Control['severity'] = 'HIGH'): Control {
  return { id, title: `control ${id}`, severity, description: '', remediation: 'fix it', check };
}

function framework(...controls: Control[]): Framework {
  return { id: 'test', title: 'Test framework', version: '1', source: 'test', description: '', controls };
}

function compiled(...controls: Control[]): CompiledFramework {
  const result = compileFramework(framework(...controls));
  assert.ok(result.ok, result.ok ? '' : result.errors.join('; '));
  return result.compiled;
}

type Containers = { containers?: object[]; initContainers?: object[]; ephemeralContainers?: object[] };

function pod(name: string, spec: Containers & Record<string, unknown>, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'team-a', uid: `uid-${name}`, ...extra }, spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1.0' }], ...spec } };
}

function deployment(name: string, spec: Containers): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'team-a' }, spec: { selector: {}, template: { metadata: { labels: { app: name } }, spec } } };
}

const privileged = { name: 'app', image: 'registry.example.com/app:1.0', securityContext: { privileged: true } };
const plain = { name: 'app', image: 'registry.example.com/app:1.0' };

function run(framework: CompiledFramework, objects: readonly KubeObject[], images?: (image: string) => ImageFacts | undefined): ControlOutcome[] {
  const tally = new ComplianceTally(framework);
  for (const object of objects) {
    const verdict = evaluateObject(framework, object, { now, ...(images ? { images } : {}) });
    if (verdict) tally.add(verdict);
  }
  return tally.outcomes();
}

describe('compileFramework', () => {
  it('names the control field of an unknown rule, a duplicate id and a schema RE2 refuses', () => {
    const unknown = compileFramework(framework(control('a', { type: 'rules', rules: ['disallow-privileged', 'no-such-rule'] })), 'latest', (i) => `spec.controls[${i}]`);
    assert.deepEqual(unknown.ok ? [] : unknown.errors, ['spec.controls[0].rules[1]: no built-in rule is called "no-such-rule" (see docs/rules.md)']);
    const twice = compileFramework(framework(control('a', { type: 'manual', reason: 'x' }), control('a', { type: 'manual', reason: 'y' })), 'latest', (i) => `spec.controls[${i}]`);
    assert.deepEqual(twice.ok ? [] : twice.errors, ['spec.controls[1].id: control id "a" appears twice']);
    const backreference = compileFramework(
      framework(control('ok', { type: 'manual', reason: 'x' }), control('bad', { type: 'custom', message: 'm', target: 'Object', schema: { properties: { metadata: { properties: { name: { type: 'string', pattern: '^(a)\\1$' } } } } } })),
      'latest',
      (i) => `spec.controls[${i}]`,
    );
    assert.equal(backreference.ok, false);
    assert.match(backreference.ok ? '' : backreference.errors.join(' '), /^spec\.controls\[1\]\.customRule\.schema: /);
  });
});

describe('evaluateObject', () => {
  const privilegedControl = control('5.2.2', { type: 'rules', rules: ['disallow-privileged'] });

  for (const list of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    it(`fails a rule-checked control for a privileged container in ${list}, and passes it without`, () => {
      const spec: Containers = list === 'containers' ? { containers: [privileged] } : { containers: [plain], [list]: [{ ...privileged, name: 'extra' }] };
      const [outcome] = run(compiled(privilegedControl), [pod('bad', spec), pod('good', { containers: [plain] })]);
      assert.equal(outcome?.result, 'Fail');
      assert.equal(outcome?.failed, 1);
      assert.equal(outcome?.passed, 1);
      assert.equal(outcome?.examples[0]?.name, 'bad');
      assert.match(outcome?.examples[0]?.message ?? '', new RegExp(`spec\\.${list}\\[0\\]\\.securityContext\\.privileged`));
    });
  }

  it('judges Pods through the controller that owns them, and counts the controller once', () => {
    const framework = compiled(privilegedControl);
    const owned = pod('web-7d9c-abcde', { containers: [privileged] }, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c', uid: 'rs', controller: true }] });
    assert.equal(evaluateObject(framework, owned, { now }), undefined);
    const [outcome] = run(framework, [deployment('web', { containers: [privileged] }), owned]);
    assert.deepEqual([outcome?.failed, outcome?.passed, outcome?.examples[0]?.kind], [1, 0, 'Deployment']);
  });

  it('reports a manual control Manual and a control with nothing in scope Skip, never Pass', () => {
    const framework = compiled(
      control('manual', { type: 'manual', reason: 'audit logs are not visible through the API' }),
      control('rbac', { type: 'rules', rules: ['disallow-cluster-admin-binding'] }),
      privilegedControl,
    );
    const outcomes = run(framework, [pod('good', { containers: [plain] })]);
    assert.deepEqual(outcomes.map((outcome) => outcome.result), ['Manual', 'Skip', 'Pass']);
    assert.deepEqual(run(framework, []).map((outcome) => outcome.result), ['Manual', 'Skip', 'Skip']);
  });

  it('reads RBAC objects with the object rules', () => {
    const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'everyone-admin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'Group', name: 'developers', apiGroup: 'rbac.authorization.k8s.io' }] };
    const [outcome] = run(compiled(control('5.1.1', { type: 'rules', rules: ['disallow-cluster-admin-binding'] })), [binding, pod('p', { containers: [plain] })]);
    assert.deepEqual([outcome?.result, outcome?.failed, outcome?.passed], ['Fail', 1, 0]);
  });

  it('runs a custom control over the object and over each container, init and ephemeral included', () => {
    const custom = customFramework({
      title: 'Team rules',
      controls: [
        { id: 'team-1', title: 'Pods carry a team label', severity: 'LOW', customRule: { schema: { properties: { metadata: { required: ['labels'], properties: { labels: { required: ['team'] } } } } } } },
        { id: 'team-2', title: 'Images come from our registry', severity: 'HIGH', customRule: { target: 'Container', message: 'use registry.example.com', schema: { properties: { image: { type: 'string', pattern: '^registry\\.example\\.com/' } } } } },
      ],
    }, 'custom:team');
    const result = compileFramework(custom);
    assert.ok(result.ok);
    for (const list of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
      const foreign = { name: 'x', image: 'docker.io/library/busybox:1.36' };
      const spec: Containers = list === 'containers' ? { containers: [foreign] } : { containers: [plain], [list]: [foreign] };
      const outcomes = run(result.compiled, [pod('labelled', spec, { labels: { team: 'a' } })]);
      assert.deepEqual(outcomes.map((outcome) => outcome.result), ['Pass', 'Fail'], list);
      assert.match(outcomes[1]?.examples[0]?.message ?? '', new RegExp(`spec\\.${list}\\[0\\]`));
    }
    assert.deepEqual(run(result.compiled, [pod('unlabelled', { containers: [plain] })]).map((outcome) => outcome.result), ['Fail', 'Pass']);
  });
});

describe('vulnerability controls', () => {
  const image = 'registry.example.com/app:1.0';
  const facts = (summary: VulnerabilitySummary, completedAt = now - 3_600_000): ImageFacts => ({ scan: 'team-a/app', completed: true, completedAt: new Date(completedAt).toISOString(), summary });
  const check = (vulnerabilities: Extract<ControlCheck, { type: 'vulnerabilities' }>['vulnerabilities'], found: ImageFacts | undefined): string | undefined =>
    imageProblem(vulnerabilities, image, { now, images: () => found });

  it('fails an image without a completed ImageScan, whatever the condition', () => {
    assert.match(check({ maxScanAgeHours: 24 }, undefined) ?? '', /has no completed ImageScan/);
    assert.match(check({ fixableAtOrAbove: 'CRITICAL' }, { scan: 'a/b', completed: false }) ?? '', /has no completed ImageScan/);
  });

  it('compares fixable counts at and above the severity, both ways', () => {
    const summary = { critical: 0, high: 2, medium: 5, fixableBySeverity: { critical: 0, high: 1, medium: 5 } };
    assert.equal(check({ fixableAtOrAbove: 'CRITICAL' }, facts(summary)), undefined);
    assert.match(check({ fixableAtOrAbove: 'HIGH' }, facts(summary)) ?? '', /1 fixable high vulnerability/);
    assert.match(check({ fixableAtOrAbove: 'LOW' }, facts(summary)) ?? '', /fixable high/);
    // Without per-severity fixable counts (older results), every vulnerability counts.
    assert.match(check({ fixableAtOrAbove: 'CRITICAL' }, facts({ critical: 1 })) ?? '', /1 fixable critical/);
  });

  it('lets a fixable vulnerability through for exactly maxFixAgeDays, and fails it one millisecond later', () => {
    const at = (published: number): ImageFacts => facts({ high: 1, fixableBySeverity: { high: 1 }, oldestFixablePublished: { high: new Date(published).toISOString() } });
    assert.equal(check({ fixableAtOrAbove: 'HIGH', maxFixAgeDays: 30 }, at(now - 30 * dayMs)), undefined);
    assert.match(check({ fixableAtOrAbove: 'HIGH', maxFixAgeDays: 30 }, at(now - 30 * dayMs - 1)) ?? '', /published 30 days ago, over 30/);
    assert.match(check({ fixableAtOrAbove: 'HIGH', maxFixAgeDays: 30 }, facts({ high: 1, fixableBySeverity: { high: 1 } })) ?? '', /of unknown age/);
  });

  it('lets a scan through for exactly maxScanAgeHours, and fails it one millisecond later', () => {
    assert.equal(check({ maxScanAgeHours: 24 }, facts({}, now - 24 * 3_600_000)), undefined);
    assert.match(check({ maxScanAgeHours: 24 }, facts({}, now - 24 * 3_600_000 - 1)) ?? '', /last scanned 24 h ago/);
  });

  it('leaves exempt images (the scanner\'s own) out, and skips a workload that runs nothing else', () => {
    const framework = compiled(control('vuln', { type: 'vulnerabilities', vulnerabilities: { fixableAtOrAbove: 'CRITICAL' } }));
    const scanner = { name: 'scan', image: 'ghcr.io/securestack/scanner:1.0' };
    const exemptImages = (reference: string): boolean => reference.startsWith('ghcr.io/securestack/');
    const scanJob = pod('scan', { containers: [scanner] });
    assert.equal(evaluateObject(framework, scanJob, { now, images: () => undefined, exemptImages }), undefined);
    assert.equal(run(framework, [scanJob], () => undefined)[0]?.result, 'Fail', 'not exempt: an unscanned image fails');
    const mixed = evaluateObject(framework, pod('mixed', { containers: [scanner, plain] }), { now, images: () => undefined, exemptImages });
    assert.match(mixed?.failed[0]?.message ?? '', /registry\.example\.com\/app:1\.0 has no completed ImageScan/);
  });

  for (const list of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    it(`reads the images of ${list}`, () => {
      const framework = compiled(control('vuln', { type: 'vulnerabilities', vulnerabilities: { fixableAtOrAbove: 'CRITICAL' } }));
      const bad = { name: 'bad', image: 'registry.example.com/bad:1.0' };
      const spec: Containers = list === 'containers' ? { containers: [bad] } : { containers: [plain], [list]: [bad] };
      const lookup = (reference: string): ImageFacts => facts(reference.includes('bad') ? { critical: 1, fixableBySeverity: { critical: 1 } } : {});
      const [outcome] = run(framework, [pod('p', spec)], lookup);
      assert.equal(outcome?.result, 'Fail');
      assert.match(outcome?.examples[0]?.message ?? '', /registry\.example\.com\/bad:1\.0/);
      assert.equal(run(framework, [pod('q', { containers: [plain] })], lookup)[0]?.result, 'Pass');
    });
  }
});

describe('summarize', () => {
  it('scores as Kubescape: the mean over evaluated controls of passed / evaluated x 100', () => {
    const outcome = (result: ControlOutcome['result'], passed: number, failed: number): ControlOutcome => ({ control: control(`c${passed}${failed}${result}`, { type: 'manual', reason: 'x' }), result, passed, failed, examples: [] });
    const summary = summarize([outcome('Fail', 3, 1), outcome('Pass', 5, 0), outcome('Manual', 0, 0), outcome('Skip', 0, 0), outcome('Fail', 1, 2)], 9);
    assert.deepEqual(summary, { pass: 1, fail: 2, manual: 1, skip: 1, objects: 9, score: Math.round(((75 + 100 + 100 / 3) / 3) * 100) / 100 });
    assert.equal(summarize([outcome('Manual', 0, 0)], 0).score, undefined, 'nothing evaluated: no score, not 0 or 100');
  });
});

describe('fitControls', () => {
  const outcomes = (count: number, examples: number, messageLength: number): ControlOutcome[] =>
    Array.from({ length: count }, (_, index) => ({
      control: control(`c-${index}`, { type: 'manual', reason: 'x' }),
      result: 'Fail',
      passed: 1,
      failed: examples,
      examples: Array.from({ length: examples }, (_, e) => ({ kind: 'Deployment', namespace: 'team-a', name: `web-${e}`, message: 'm'.repeat(messageLength) })),
    }));

  it('keeps 256 controls with 5 long examples each under 64 KiB', () => {
    const { controls, examplesCut } = fitControls(outcomes(256, 5, 2000), { summary: {} });
    assert.ok(examplesCut);
    assert.equal(controls.length, 256);
    assert.ok(Buffer.byteLength(JSON.stringify(controls)) <= STATUS_BUDGET_BYTES);
    assert.ok(controls.every((entry) => entry.failed === 5), 'counts are never cut');
  });

  it('cuts nothing at exactly the budget, and cuts one byte below it', () => {
    const few = outcomes(3, 5, 100);
    const rest = { summary: { pass: 0 } };
    const whole = fitControls(few, rest, Number.MAX_SAFE_INTEGER).controls;
    const exact = Buffer.byteLength(JSON.stringify(rest)) + Buffer.byteLength(JSON.stringify(whole));
    assert.deepEqual(fitControls(few, rest, exact), { controls: whole, examplesCut: false });
    const below = fitControls(few, rest, exact - 1);
    assert.equal(below.examplesCut, true);
    assert.ok(Buffer.byteLength(JSON.stringify(below.controls)) + Buffer.byteLength(JSON.stringify(rest)) <= exact - 1);
  });
});

describe('the same verdict in admission, audit and compliance', () => {
  // Admission and the background audit both call evaluatePolicy on the compiled ScanPolicy; a
  // compliance control over the same rule must fail exactly the objects they flag.
  for (const rule of catalog) {
    const parameters = rule.parameters && Array.isArray(rule.parameters.required) && rule.parameters.required.length > 0;
    if (parameters) continue;
    it(rule.id, () => {
      const policy: ScanPolicy = { apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: 'p', uid: 'u' }, spec: { mode: 'Audit', rules: [{ id: rule.id }] } };
      const admission = compilePolicy(policy);
      assert.ok(admission.ok);
      const framework = compiled(control('c', { type: 'rules', rules: [rule.id] }));
      // A background-only rule runs where the facts are (audit and compliance), with the same facts.
      const facts = rule.backgroundOnly ? { facts: exampleFacts } : {};
      for (const [kind, object] of Object.entries(rule.examples)) {
        const admitted: string[] = evaluateAll([admission.policy], { object, operation: 'CREATE', now, ...facts }).flatMap((found) => found.violations.map((violation) => violation.ruleId));
        const verdict = evaluateObject(framework, object, { now, ...facts });
        assert.equal(admitted.includes(rule.id), (verdict?.failed.length ?? 0) > 0, `${kind} example`);
        assert.equal(admitted.includes(rule.id), kind === 'fail', `${kind} example as the catalog says`);
      }
    });
  }
});
