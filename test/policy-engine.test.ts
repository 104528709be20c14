// The ScanPolicy engine without a cluster: compiling policies, matching objects, evaluating pods of
// every pod controller, custom rules, exceptions, the vulnerability gate, the ImageScan facts index
// admission reads, template verdicts and the kinds the background audit lists.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageScan, ScanPolicySpec, VulnerabilitySummary } from '../operator/api/types.generated';
import { auditKinds } from '../operator/features/audit/audit';
import { compilePolicy, gateRuleId, type CompiledPolicy } from '../operator/engine/compile';
import { evaluateAll, policyMatches, subjectOf, type CachedVerdict, type EvaluationInput, type ImageFacts, type PolicyVerdict } from '../operator/engine/evaluate';
import type { Operation } from '../operator/engine/match';
import { ruleSets } from '../operator/engine/rules';
import { TemplateVerdictCache, controlledObject, templateHash } from '../operator/engine/template-verdicts';
import type { KubeObject, PodTemplateView } from '../operator/engine/types';
import { podKinds, podTemplateOf } from '../operator/engine/workload';
import { ImageFactsIndex, normalizeImage, scanDigestIndex, scanDigestIndexFunction, scanReferenceIndexFunction } from '../operator/features/admission/image-facts';
import type { RawObject } from '../operator/platform/kube/informer';
import {
  clusterRoleBinding,
  compileErrors,
  compiled,
  configMap,
  cronJob,
  daemonSet,
  dayMs,
  deployment,
  digestA,
  digestB,
  imageScan,
  iso,
  job,
  namespaceObject,
  now,
  plain,
  pod,
  podSpec,
  privileged,
  replicaSet,
  replicationController,
  scanPolicy,
  statefulSet,
} from './support/policies';

const rbac = 'rbac.authorization.k8s.io';

function verdictOf(policy: CompiledPolicy, object: KubeObject, extra: Partial<EvaluationInput> = {}): PolicyVerdict {
  const verdicts = evaluateAll([policy], { object, operation: 'CREATE', now, ...extra });
  assert.equal(verdicts.length, 1, `policy ${policy.name} should match ${object.kind ?? '?'} ${object.metadata?.name ?? '?'}`);
  return verdicts[0];
}

function matches(policy: CompiledPolicy, object: KubeObject, operation: Operation = 'CREATE', namespaceLabels?: Record<string, string>): boolean {
  return policyMatches(policy, subjectOf(object), { object, operation, now, ...(namespaceLabels ? { namespaceLabels } : {}) });
}

const ids = (verdict: PolicyVerdict): string[] => verdict.violations.map((violation) => violation.ruleId);
const fields = (verdict: PolicyVerdict): string[] => verdict.violations.map((violation) => violation.field);


/**
 * ImageFactsIndex over a fixed set of ImageScans, filed with the real index functions (the shared
 * informer files them the same way; test/informer.test.ts covers refiling and deletion).
 */
function factsIndex(...scans: ImageScan[]): ImageFactsIndex {
  const raw = scans as unknown as RawObject[];
  const indexer = (name: string) => (name === scanDigestIndex ? scanDigestIndexFunction : scanReferenceIndexFunction);
  return new ImageFactsIndex({ byIndex: (name, value) => raw.filter((scan) => indexer(name)(scan).includes(value)) });
}

describe('compilePolicy', () => {
  it('names the spec.rules entry of an unknown rule id', () => {
    const errors = compileErrors({ mode: 'Enforce', rules: [{ id: 'disallow-privileged' }, { id: 'no-such-rule' }] });
    assert.deepEqual(errors, ['spec.rules[1].id: no built-in rule is called "no-such-rule" (see docs/rules.md)']);
  });

  it('reports bad parameters with their path: wrong type, unknown property, bad item', () => {
    assert.deepEqual(compileErrors({ mode: 'Enforce', rules: [{ id: 'disallow-capabilities', parameters: { additionalAllowed: 'NET_RAW' } }] }), [
      'spec.rules[0].parameters.additionalAllowed: must be array',
    ]);
    assert.deepEqual(compileErrors({ mode: 'Enforce', rules: [{ id: 'disallow-privileged' }, { id: 'disallow-capabilities', parameters: { additionalAllowed: [], allowAll: true } }] }), [
      'spec.rules[1].parameters: must NOT have additional properties (allowAll)',
    ]);
    const [error, ...rest] = compileErrors({ mode: 'Enforce', rules: [{ id: 'disallow-capabilities', parameters: { additionalAllowed: ['NET_RAW', 'NET ADMIN'] } }] });
    assert.equal(rest.length, 0);
    assert.match(error ?? '', /^spec\.rules\[0\]\.parameters\.additionalAllowed\[1\]: must match pattern/);
    // A rule without parameters accepts none.
    assert.deepEqual(compileErrors({ mode: 'Enforce', rules: [{ id: 'disallow-privileged', parameters: { strict: true } }] }), [
      'spec.rules[0].parameters: must NOT have additional properties (strict)',
    ]);
  });

  it('fills parameter defaults and leaves the ScanPolicy object untouched', () => {
    const spec: ScanPolicySpec = {
      mode: 'Audit',
      ruleSets: ['pss-baseline'],
      rules: [{ id: 'require-image-pull-policy' }, { id: 'disallow-host-ports', parameters: { allowedHostPorts: [8443] } }],
    };
    const before = structuredClone(spec);
    const policy = compiled('defaults', spec);
    const parametersOf = (id: string): Record<string, unknown> | undefined => policy.rules.find((entry) => entry.rule.id === id)?.parameters;
    assert.deepEqual(parametersOf('require-image-pull-policy'), { policy: 'Always', exemptDigests: true });
    assert.deepEqual(parametersOf('disallow-host-ports'), { allowedHostPorts: [8443], version: 'latest' });
    // A rule turned on by its rule set alone still gets its defaults; no restricted rule is on, so the level is baseline.
    assert.deepEqual(parametersOf('disallow-capabilities'), { additionalAllowed: [], level: 'baseline', version: 'latest' });
    assert.deepEqual(spec, before);
  });

  it('applies severity overrides and removes rules with enabled: false from a rule set', () => {
    const policy = compiled('tuned', {
      mode: 'Enforce',
      ruleSets: ['pss-baseline'],
      rules: [{ id: 'disallow-privileged', enabled: false }, { id: 'disallow-host-path', severity: 'CRITICAL' }],
    });
    const ids = policy.rules.map((entry) => entry.rule.id);
    assert.equal(ids.includes('disallow-privileged'), false);
    assert.deepEqual(ids, ruleSets['pss-baseline'].filter((id) => id !== 'disallow-privileged'));
    assert.equal(policy.ruleCount, ruleSets['pss-baseline'].length - 1);
    assert.equal(policy.rules.find((entry) => entry.rule.id === 'disallow-host-path')?.severity, 'CRITICAL');
    assert.equal(policy.rules.find((entry) => entry.rule.id === 'disallow-host-namespaces')?.severity, 'HIGH');
    // The disabled rule really is off: a privileged pod passes.
    assert.deepEqual(verdictOf(policy, pod('p', 'team-a', podSpec(privileged()))).violations, []);
  });

  it('expands pss-baseline as a strict subset of pss-restricted', () => {
    const baseline = compiled('baseline', { mode: 'Audit', ruleSets: ['pss-baseline'] }).rules.map((entry) => entry.rule.id);
    const restricted = compiled('restricted', { mode: 'Audit', ruleSets: ['pss-restricted'] }).rules.map((entry) => entry.rule.id);
    assert.ok(baseline.length >= 10, `baseline has ${baseline.length} rules`);
    for (const id of baseline) assert.ok(restricted.includes(id), `pss-restricted lacks baseline rule ${id}`);
    for (const id of ['run-as-non-root', 'disallow-privilege-escalation', 'seccomp-profile', 'restrict-volume-types']) {
      assert.ok(restricted.includes(id), `pss-restricted has ${id}`);
      assert.equal(baseline.includes(id), false, `pss-baseline does not have ${id}`);
    }
    assert.equal(new Set(restricted).size, restricted.length, 'no rule twice');
    // allowed-registries needs parameters, so no rule set turns it on.
    const all = compiled('all', { mode: 'Audit', ruleSets: ['pss-restricted', 'best-practices', 'rbac'] }).rules.map((entry) => entry.rule.id);
    assert.equal(all.includes('allowed-registries'), false);
    assert.ok(all.includes('disallow-cluster-admin-binding'));
  });

  it('names spec.customRules[i].schema when ajv cannot compile a custom schema', () => {
    const errors = compileErrors({
      mode: 'Enforce',
      customRules: [
        { id: 'fine', message: 'ok', schema: { type: 'object' } },
        { id: 'bad-type', message: 'bad', schema: { type: 'object', properties: { spec: { type: 'strng' } } } },
        { id: 'bad-ref', message: 'bad', schema: { $ref: '#/definitions/missing' } },
      ],
    });
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0] ?? '', /^spec\.customRules\[1\]\.schema: schema is invalid/);
    assert.match(errors[1] ?? '', /^spec\.customRules\[2\]\.schema: .*#\/definitions\/missing/);
  });

  it('refuses a custom rule pattern the linear-time engine cannot run, naming rule and pattern', () => {
    const errors = compileErrors({
      mode: 'Enforce',
      customRules: [
        { id: 'fine', message: 'ok', schema: { properties: { metadata: { properties: { name: { pattern: '^[a-z]+$' } } } } } },
        { id: 'lookahead', message: 'bad', schema: { properties: { metadata: { properties: { name: { pattern: '^(?!kube-)' } } } } } },
        { id: 'backref', message: 'bad', schema: { patternProperties: { '^(x)\\1$': { type: 'string' } } } },
      ],
    });
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0] ?? '', /^spec\.customRules\[1\]\.schema: pattern "\^\(\?!kube-\)" cannot run in linear time/);
    assert.match(errors[1] ?? '', /^spec\.customRules\[2\]\.schema: pattern "\^\(x\)\\\\1\$" cannot run in linear time/);
  });

  it('runs custom rule patterns in linear time: a nested quantifier on a long label answers at once', () => {
    const policy = compiled('redos', {
      mode: 'Enforce',
      customRules: [{
        id: 'tier-label',
        message: 'the tier label must be a run of a',
        schema: { properties: { metadata: { properties: { labels: { properties: { tier: { pattern: '^(a+)+$' } } } } } } },
      }],
    });
    const labelled = (tier: string): KubeObject => pod('p', 'ns', podSpec({ name: 'app', image: 'registry.example.com/app:1' }), { tier });
    // 40 `a` and a `b`: minutes of backtracking for V8's RegExp, one pass for RE2.
    assert.deepEqual(ids(verdictOf(policy, labelled(`${'a'.repeat(40)}b`))), ['tier-label']);
    assert.deepEqual(ids(verdictOf(policy, labelled('a'.repeat(40)))), []);
  });

  it('rejects exceptions naming unknown rules or a bad expiry, but knows custom rules and the gate', () => {
    const exception = { reason: 'legacy', owner: 'team-a', expiresAt: iso(now + dayMs) };
    const errors = compileErrors({
      mode: 'Enforce',
      rules: [{ id: 'disallow-privileged' }],
      customRules: [{ id: 'team-label', message: 'needs a team label', schema: { type: 'object' } }],
      vulnerabilityGate: { maxCritical: 0 },
      exceptions: [
        { ...exception, rules: ['disallow-privileged', 'team-label', gateRuleId] },
        { ...exception, rules: ['disallow-privileged', 'no-such-rule', 'other-typo'] },
        { ...exception, expiresAt: 'next tuesday' },
      ],
    });
    assert.deepEqual(errors, ['spec.exceptions[1].rules: unknown rule id(s) no-such-rule, other-typo', 'spec.exceptions[2].expiresAt: "next tuesday" is not a date-time']);
  });

  it('reports every error of a policy at once', () => {
    const errors = compileErrors({
      mode: 'Enforce',
      rules: [{ id: 'nope' }, { id: 'require-image-pull-policy', parameters: { policy: 'Sometimes' } }],
      customRules: [{ id: 'c', message: 'm', schema: { type: 12 } }],
      exceptions: [{ rules: ['gone'], reason: 'r', owner: 'o', expiresAt: iso(now) }],
    });
    assert.equal(errors.length, 4, errors.join('\n'));
    assert.match(errors[0] ?? '', /^spec\.rules\[0\]\.id:/);
    assert.match(errors[1] ?? '', /^spec\.rules\[1\]\.parameters\.policy: must be equal to one of the allowed values/);
    assert.match(errors[2] ?? '', /^spec\.customRules\[0\]\.schema:/);
    assert.match(errors[3] ?? '', /^spec\.exceptions\[0\]\.rules: unknown rule id\(s\) gone$/);
  });

  it('counts built-in rules once, custom rules and the gate as one each', () => {
    const policy = compiled('count', {
      mode: 'Warn',
      ruleSets: ['pss-baseline'],
      rules: [{ id: 'disallow-privileged', severity: 'HIGH' }, { id: 'disallow-latest-tag' }],
      customRules: [{ id: 'team-label', message: 'm', schema: { type: 'object' } }],
      vulnerabilityGate: { maxCritical: 0 },
    });
    assert.equal(policy.ruleCount, ruleSets['pss-baseline'].length + 1 + 1 + 1);
    assert.equal(compiled('gate-only', { mode: 'Warn', vulnerabilityGate: {} }).ruleCount, 1);
    assert.deepEqual(policy.gate, { max: { critical: 0 }, onMissingScan: 'Warn', ignoreUnfixed: false });
    assert.equal(policy.name, 'count');
    assert.equal(policy.uid, 'uid-count');
    assert.equal(compiled('gen', { mode: 'Warn', vulnerabilityGate: {} }, 7).generation, 7);
  });

  it('marks template verdicts reusable only without Object-target custom rules', () => {
    const container = { id: 'c', message: 'm', target: 'Container' as const, schema: { type: 'object' } };
    const object = { id: 'o', message: 'm', target: 'Object' as const, schema: { type: 'object' } };
    assert.equal(compiled('none', { mode: 'Enforce', ruleSets: ['pss-baseline'] }).templateVerdictsReusable, true);
    assert.equal(compiled('container', { mode: 'Enforce', customRules: [container] }).templateVerdictsReusable, true);
    assert.equal(compiled('object', { mode: 'Enforce', customRules: [container, object] }).templateVerdictsReusable, false);
    // Object is the default target.
    assert.equal(compiled('default-target', { mode: 'Enforce', customRules: [{ id: 'd', message: 'm', schema: { type: 'object' } }] }).templateVerdictsReusable, false);
  });
});

describe('match and exclude', () => {
  const rules: ScanPolicySpec['rules'] = [{ id: 'disallow-privileged' }];

  it('defaults to Pods and pod controllers, not ConfigMaps or RBAC objects', () => {
    const policy = compiled('defaults', { mode: 'Enforce', rules });
    const spec = podSpec(plain());
    for (const object of [pod('p', 'a', spec), deployment('d', 'a', spec), statefulSet('s', 'a', spec), daemonSet('ds', 'a', spec), replicaSet('rs', 'a', spec), replicationController('rc', 'a', spec), job('j', 'a', spec), cronJob('cj', 'a', spec)]) {
      assert.equal(matches(policy, object), true, `${object.kind ?? '?'} is matched by default`);
    }
    assert.equal(matches(policy, configMap('cm', 'a')), false);
    assert.equal(matches(policy, clusterRoleBinding('crb', 'cluster-admin', [])), false);
    assert.equal(matches(policy, namespaceObject('a', {})), false);
    // Same kind name in another group is not a pod controller.
    assert.equal(matches(policy, { ...deployment('d', 'a', spec), apiVersion: 'example.com/v1' }), false);
    assert.deepEqual([...policy.match.kinds], [...podKinds]);
  });

  it('adds the RBAC kinds to the default kinds when RBAC rules are enabled', () => {
    const policy = compiled('rbac-defaults', { mode: 'Enforce', rules: [{ id: 'disallow-privileged' }, { id: 'disallow-cluster-admin-binding' }] });
    assert.equal(matches(policy, clusterRoleBinding('crb', 'cluster-admin', [])), true);
    assert.equal(matches(policy, { ...clusterRoleBinding('rb', 'cluster-admin', []), kind: 'RoleBinding', metadata: { name: 'rb', namespace: 'a' } }), true);
    assert.equal(matches(policy, pod('p', 'a', podSpec(plain()))), true);
    assert.equal(matches(policy, configMap('cm', 'a')), false);
    assert.equal(matches(policy, { ...clusterRoleBinding('cr', 'x', []), kind: 'ClusterRole' }), false, 'only the kinds the enabled rules read');
    assert.equal(policy.match.kinds.length, podKinds.length + 2);
    assert.deepEqual(auditKinds(policy).kinds.map((entry) => entry.kind).filter((kind) => kind.endsWith('Binding')).sort(), ['ClusterRoleBinding', 'RoleBinding']);
  });

  it('defaults operations to CREATE and UPDATE; DELETE only when listed', () => {
    const object = pod('p', 'a', podSpec(plain()));
    const byDefault = compiled('ops', { mode: 'Enforce', rules });
    assert.equal(matches(byDefault, object, 'CREATE'), true);
    assert.equal(matches(byDefault, object, 'UPDATE'), true);
    assert.equal(matches(byDefault, object, 'DELETE'), false);
    assert.equal(matches(byDefault, object, 'CONNECT'), false);
    const deletes = compiled('deletes', { mode: 'Enforce', rules, match: { operations: ['DELETE'] } });
    assert.equal(matches(deletes, object, 'DELETE'), true);
    assert.equal(matches(deletes, object, 'CREATE'), false);
  });

  it('matches namespaces by name glob', () => {
    const policy = compiled('teams', { mode: 'Enforce', rules, match: { namespaces: ['team-*', 'prod'] } });
    const inNamespace = (namespace: string): boolean => matches(policy, pod('p', namespace, podSpec(plain())));
    assert.equal(inNamespace('team-a'), true);
    assert.equal(inNamespace('team-payments-eu'), true);
    assert.equal(inNamespace('prod'), true);
    assert.equal(inNamespace('production'), false, 'a name without * matches exactly');
    assert.equal(inNamespace('teama'), false);
    assert.equal(inNamespace('my-team-a'), false, 'globs are anchored');
  });

  it('matches namespaceSelector with matchLabels and every matchExpressions operator', () => {
    const object = pod('p', 'a', podSpec(plain()));
    const withSelector = (namespaceSelector: NonNullable<ScanPolicySpec['match']>['namespaceSelector']): CompiledPolicy => compiled('ns', { mode: 'Enforce', rules, match: { namespaceSelector } });
    const labels = { env: 'prod', team: 'payments' };

    const byLabels = withSelector({ matchLabels: { env: 'prod' } });
    assert.equal(matches(byLabels, object, 'CREATE', labels), true);
    assert.equal(matches(byLabels, object, 'CREATE', { env: 'dev' }), false);
    assert.equal(matches(byLabels, object, 'CREATE'), false, 'a namespace without labels does not match');

    const cases: [string, NonNullable<ScanPolicySpec['match']>['namespaceSelector'], boolean][] = [
      ['In holds', { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] }, true],
      ['In fails on another value', { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] }, false],
      ['In fails on a missing key', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }, false],
      ['NotIn holds on another value', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, true],
      ['NotIn holds on a missing key', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, true],
      ['NotIn fails', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, false],
      ['Exists holds', { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, true],
      ['Exists fails', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, false],
      ['DoesNotExist holds', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, true],
      ['DoesNotExist fails', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
      ['labels and expressions must all hold', { matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'team', operator: 'Exists' }, { key: 'tier', operator: 'Exists' }] }, false],
      ['an empty selector selects everything', {}, true],
    ];
    for (const [what, selector, expected] of cases) assert.equal(matches(withSelector(selector), object, 'CREATE', labels), expected, what);
  });

  it('matches objectSelector against the object\'s own labels', () => {
    const policy = compiled('obj', { mode: 'Enforce', rules, match: { objectSelector: { matchLabels: { 'securestack.io/enforce': 'true' } } } });
    assert.equal(matches(policy, pod('p', 'a', podSpec(plain()), { 'securestack.io/enforce': 'true' })), true);
    assert.equal(matches(policy, pod('p', 'a', podSpec(plain()), { app: 'p' })), false);
    // A Deployment is selected by its own labels, not its template's.
    const labelledTemplate = deployment('d', 'a', podSpec(plain()), { app: 'd' });
    (labelledTemplate.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels = { 'securestack.io/enforce': 'true' };
    assert.equal(matches(policy, labelledTemplate), false);
  });

  it('excludes by namespace without excluding cluster-scoped objects', () => {
    const policy = compiled('rbac', {
      mode: 'Enforce',
      rules: [{ id: 'disallow-privileged' }, { id: 'disallow-cluster-admin-binding' }],
      match: { kinds: [{ kind: 'Pod' }, { group: rbac, kind: 'ClusterRoleBinding' }, { group: rbac, kind: 'RoleBinding' }] },
      exclude: { namespaces: ['kube-*'] },
    });
    assert.equal(matches(policy, pod('p', 'kube-system', podSpec(plain()))), false);
    assert.equal(matches(policy, pod('p', 'team-a', podSpec(plain()))), true);
    assert.equal(matches(policy, clusterRoleBinding('ops', 'cluster-admin', [])), true);
    const roleBinding: KubeObject = { ...clusterRoleBinding('rb', 'cluster-admin', []), kind: 'RoleBinding', metadata: { name: 'rb', namespace: 'kube-public' } };
    assert.equal(matches(policy, roleBinding), false, 'a namespaced RBAC object is excluded');

    const bySelector = compiled('rbac-selector', {
      mode: 'Enforce',
      rules: [{ id: 'disallow-cluster-admin-binding' }],
      match: { kinds: [{ group: rbac, kind: 'ClusterRoleBinding' }] },
      exclude: { namespaceSelector: {} },
    });
    assert.equal(matches(bySelector, clusterRoleBinding('ops', 'cluster-admin', [])), true);
  });

  it('excludes by kind, operation and object labels; an empty exclude excludes nothing', () => {
    const spec = podSpec(plain());
    const nothing = compiled('nothing', { mode: 'Enforce', rules, exclude: {} });
    assert.equal(matches(nothing, pod('p', 'a', spec)), true);
    const noJobs = compiled('no-jobs', { mode: 'Enforce', rules, exclude: { kinds: [{ group: 'batch', kind: '*' }] } });
    assert.equal(matches(noJobs, job('j', 'a', spec)), false);
    assert.equal(matches(noJobs, cronJob('cj', 'a', spec)), false);
    assert.equal(matches(noJobs, deployment('d', 'a', spec)), true);
    const noUpdates = compiled('no-updates', { mode: 'Enforce', rules, exclude: { operations: ['UPDATE'] } });
    assert.equal(matches(noUpdates, pod('p', 'a', spec), 'UPDATE'), false);
    assert.equal(matches(noUpdates, pod('p', 'a', spec), 'CREATE'), true);
    const noCanaries = compiled('no-canaries', { mode: 'Enforce', rules, exclude: { objectSelector: { matchExpressions: [{ key: 'track', operator: 'In', values: ['canary'] }] } } });
    assert.equal(matches(noCanaries, pod('p', 'a', spec, { track: 'canary' })), false);
    assert.equal(matches(noCanaries, pod('p', 'a', spec, { track: 'stable' })), true);
  });

  it('treats "*" as any group or any kind', () => {
    const spec = podSpec(plain());
    const anyGroup = compiled('any-group', { mode: 'Enforce', rules, match: { kinds: [{ group: '*', kind: 'Deployment' }] } });
    assert.equal(matches(anyGroup, deployment('d', 'a', spec)), true);
    assert.equal(matches(anyGroup, { ...deployment('d', 'a', spec), apiVersion: 'example.com/v1' }), true);
    assert.equal(matches(anyGroup, statefulSet('s', 'a', spec)), false);
    const anyAppsKind = compiled('apps', { mode: 'Enforce', rules, match: { kinds: [{ group: 'apps', kind: '*' }] } });
    assert.equal(matches(anyAppsKind, statefulSet('s', 'a', spec)), true);
    assert.equal(matches(anyAppsKind, pod('p', 'a', spec)), false);
    const anyCoreKind = compiled('core', { mode: 'Enforce', rules, match: { kinds: [{ kind: '*' }] } });
    assert.equal(matches(anyCoreKind, configMap('cm', 'a')), true);
    assert.equal(matches(anyCoreKind, deployment('d', 'a', spec)), false, 'an omitted group is the core group');
    const everything = compiled('everything', { mode: 'Enforce', rules, match: { kinds: [{ group: '*', kind: '*' }] } });
    for (const object of [configMap('cm', 'a'), deployment('d', 'a', spec), clusterRoleBinding('crb', 'view', [])]) assert.equal(matches(everything, object), true);
  });

  it('matches a Namespace by namespaceSelector and namespaces on its own name and labels', () => {
    const policy = compiled('namespaces', {
      mode: 'Enforce',
      rules,
      match: { kinds: [{ kind: 'Namespace' }], namespaceSelector: { matchLabels: { 'securestack.io/managed': 'true' } } },
    });
    assert.equal(matches(policy, namespaceObject('team-a', { 'securestack.io/managed': 'true' })), true);
    assert.equal(matches(policy, namespaceObject('team-b', { other: 'label' })), false);
    // The namespace labels handed in (a stale cache, or another namespace's) do not count for a Namespace.
    assert.equal(matches(policy, namespaceObject('team-b', {}), 'CREATE', { 'securestack.io/managed': 'true' }), false);
    const byName = compiled('namespace-names', { mode: 'Enforce', rules, match: { kinds: [{ kind: 'Namespace' }], namespaces: ['team-*'] } });
    assert.equal(matches(byName, namespaceObject('team-a', {})), true);
    assert.equal(matches(byName, namespaceObject('kube-system', {})), false);
  });

  it('lets cluster-scoped objects through namespace conditions of match', () => {
    const policy = compiled('scoped', {
      mode: 'Enforce',
      rules: [{ id: 'disallow-cluster-admin-binding' }],
      match: { kinds: [{ group: rbac, kind: 'ClusterRoleBinding' }], namespaces: ['team-*'], namespaceSelector: { matchLabels: { env: 'prod' } } },
    });
    assert.equal(matches(policy, clusterRoleBinding('ops', 'cluster-admin', [])), true);
  });
});

describe('evaluate: pod controllers judged by their pod template', () => {
  const policy = compiled('pss', { mode: 'Enforce', rules: [{ id: 'disallow-privileged' }, { id: 'disallow-host-namespaces' }] });
  const spec = (): Record<string, unknown> => ({
    hostPID: true,
    initContainers: [privileged('registry.example.com/init:1.0.0', 'init')],
    containers: [plain('registry.example.com/sidecar:1.0.0', 'sidecar'), privileged('registry.example.com/app:1.0.0', 'app')],
  });
  const cases: [KubeObject, string][] = [
    [pod('p', 'team-a', spec()), 'spec'],
    [deployment('d', 'team-a', spec()), 'spec.template.spec'],
    [statefulSet('s', 'team-a', spec()), 'spec.template.spec'],
    [daemonSet('ds', 'team-a', spec()), 'spec.template.spec'],
    [replicaSet('rs', 'team-a', spec()), 'spec.template.spec'],
    [replicationController('rc', 'team-a', spec()), 'spec.template.spec'],
    [job('j', 'team-a', spec()), 'spec.template.spec'],
    [cronJob('cj', 'team-a', spec()), 'spec.jobTemplate.spec.template.spec'],
  ];
  for (const [object, prefix] of cases) {
    it(`${object.kind ?? '?'}: findings at ${prefix}`, () => {
      const verdict = verdictOf(policy, object);
      assert.deepEqual(
        verdict.violations.map(({ ruleId, field, image, severity }) => ({ ruleId, field, image, severity })),
        [
          { ruleId: 'disallow-privileged', field: `${prefix}.initContainers[0].securityContext.privileged`, image: 'registry.example.com/init:1.0.0', severity: 'CRITICAL' },
          { ruleId: 'disallow-privileged', field: `${prefix}.containers[1].securityContext.privileged`, image: 'registry.example.com/app:1.0.0', severity: 'CRITICAL' },
          { ruleId: 'disallow-host-namespaces', field: `${prefix}.hostPID`, image: undefined, severity: 'HIGH' },
        ],
      );
      assert.equal(verdict.violations[1]?.message, 'container "app" sets securityContext.privileged=true');
      assert.match(verdict.violations[1]?.remediation ?? '', /privileged/);
      assert.deepEqual(verdict.excepted, []);
      assert.equal(verdict.validUntil, Number.POSITIVE_INFINITY);
    });
  }

  it('finds nothing in a clean pod of every kind', () => {
    const clean = podSpec(plain());
    for (const object of [pod('p', 'a', clean), deployment('d', 'a', clean), cronJob('cj', 'a', clean)]) assert.deepEqual(verdictOf(policy, object).violations, []);
  });

  it('reads RBAC objects with object rules, and pod rules skip them', () => {
    const both = compiled('both', {
      mode: 'Enforce',
      rules: [{ id: 'disallow-privileged' }, { id: 'disallow-cluster-admin-binding' }],
      match: { kinds: [{ kind: 'Pod' }, { group: rbac, kind: 'ClusterRoleBinding' }] },
    });
    const binding = clusterRoleBinding('ops-admins', 'cluster-admin', [
      { apiGroup: rbac, kind: 'Group', name: 'system:masters' },
      { apiGroup: rbac, kind: 'Group', name: 'ops' },
    ]);
    const verdict = verdictOf(both, binding);
    assert.deepEqual(ids(verdict), ['disallow-cluster-admin-binding']);
    assert.deepEqual(fields(verdict), ['subjects[1]'], 'system:masters is exempt by default');
    assert.match(verdict.violations[0]?.message ?? '', /cluster-admin/);
    assert.deepEqual(verdictOf(both, clusterRoleBinding('viewers', 'view', [{ kind: 'Group', name: 'ops' }])).violations, []);
    assert.deepEqual(ids(verdictOf(both, pod('p', 'a', podSpec(privileged())))), ['disallow-privileged']);
  });

  it('runs background-only rules only when the input has cluster facts; other rules either way', () => {
    const policy = compiled('isolation', { mode: 'Enforce', rules: [{ id: 'require-network-policy' }, { id: 'disallow-default-namespace' }] });
    assert.ok(policy.match.kinds.some((kind) => kind.kind === 'Namespace'), 'the rule\'s kind joins the default kinds, so the audit can list it');
    const shop = namespaceObject('shop', {});
    assert.deepEqual(verdictOf(policy, shop).violations, [], 'admission has no facts: a new Namespace is not denied');
    const facts = { networkPolicyCount: (namespace: string): number | undefined => (namespace === 'shop' ? 0 : namespace === 'payments' ? 1 : undefined) };
    assert.deepEqual(ids(verdictOf(policy, shop, { facts })), ['require-network-policy']);
    assert.deepEqual(verdictOf(policy, namespaceObject('payments', {}), { facts }).violations, []);
    assert.deepEqual(verdictOf(policy, namespaceObject('unlisted', {}), { facts }).violations, [], 'a namespace the facts do not cover');
    const web = deployment('web', 'default', podSpec(plain()));
    assert.deepEqual(ids(verdictOf(policy, web)), ['disallow-default-namespace']);
    assert.deepEqual(ids(verdictOf(policy, web, { facts })), ['disallow-default-namespace']);
  });
});

describe('evaluate: custom rules', () => {
  it('reports an Object-target violation at the failing instancePath', () => {
    const policy = compiled('labels', {
      mode: 'Enforce',
      customRules: [
        {
          id: 'team-label',
          message: 'every workload needs a team label',
          severity: 'LOW',
          schema: { type: 'object', required: ['metadata'], properties: { metadata: { type: 'object', required: ['labels'], properties: { labels: { type: 'object', required: ['team'] } } } } },
        },
      ],
    });
    const unlabelled = deployment('web', 'a', podSpec(plain()), { app: 'web' });
    const verdict = verdictOf(policy, unlabelled);
    assert.deepEqual(verdict.violations, [
      {
        ruleId: 'team-label',
        title: 'every workload needs a team label',
        severity: 'LOW',
        remediation: 'every workload needs a team label',
        field: 'metadata.labels',
        message: 'metadata.labels must have required property \'team\'',
      },
    ]);
    const noLabels: KubeObject = { ...unlabelled, metadata: { name: 'web', namespace: 'a' } };
    assert.deepEqual(fields(verdictOf(policy, noLabels)), ['metadata']);
    assert.deepEqual(verdictOf(policy, deployment('web', 'a', podSpec(plain()), { app: 'web', team: 'payments' })).violations, []);
    const atRoot = compiled('root', { mode: 'Enforce', customRules: [{ id: 'has-owner', message: 'm', schema: { required: ['owner'] } }] });
    assert.deepEqual(verdictOf(atRoot, unlabelled).violations.map(({ field, message, remediation }) => ({ field, message, remediation })), [
      { field: '(object)', message: '(object) must have required property \'owner\'', remediation: 'm' },
    ]);
  });

  it('checks a Container-target rule on init, regular and ephemeral containers, with their images', () => {
    const policy = compiled('registry', {
      mode: 'Enforce',
      customRules: [{ id: 'internal-registry', message: 'images come from registry.example.com', target: 'Container', schema: { type: 'object', properties: { image: { type: 'string', pattern: '^registry\\.example\\.com/' } } } }],
    });
    const object = pod('debugged', 'a', {
      initContainers: [plain('docker.io/library/busybox:1.36', 'init')],
      containers: [plain('registry.example.com/app:1.0.0', 'app'), plain('quay.io/prometheus/node-exporter:v1.8.0', 'exporter')],
      ephemeralContainers: [plain('docker.io/nicolaka/netshoot:v0.13', 'debugger')],
    });
    const verdict = verdictOf(policy, object);
    assert.deepEqual(
      verdict.violations.map(({ field, image, message, severity }) => ({ field, image, message, severity })),
      [
        { field: 'spec.initContainers[0].image', image: 'docker.io/library/busybox:1.36', message: 'container "init" image must match pattern "^registry\\.example\\.com/"', severity: 'MEDIUM' },
        { field: 'spec.containers[1].image', image: 'quay.io/prometheus/node-exporter:v1.8.0', message: 'container "exporter" image must match pattern "^registry\\.example\\.com/"', severity: 'MEDIUM' },
        { field: 'spec.ephemeralContainers[0].image', image: 'docker.io/nicolaka/netshoot:v0.13', message: 'container "debugger" image must match pattern "^registry\\.example\\.com/"', severity: 'MEDIUM' },
      ],
    );
    assert.ok(verdict.violations.every((violation) => violation.remediation === 'images come from registry.example.com' && violation.ruleId === 'internal-registry'));
    // A container failing at its root names no field.
    const named = compiled('named', { mode: 'Enforce', customRules: [{ id: 'needs-resources', message: 'set resources', target: 'Container', schema: { required: ['resources'] } }] });
    assert.deepEqual(verdictOf(named, pod('p', 'a', podSpec(plain()))).violations.map(({ field, message }) => ({ field, message })), [
      { field: 'spec.containers[0]', message: 'container "app" must have required property \'resources\'' },
    ]);
    // Container rules do nothing for objects without a pod.
    const everything = compiled('registry-all', { mode: 'Enforce', match: { kinds: [{ kind: 'ConfigMap' }] }, customRules: [{ id: 'x', message: 'm', target: 'Container', schema: { required: ['nope'] } }] });
    assert.deepEqual(verdictOf(everything, configMap('cm', 'a')).violations, []);
  });
});

describe('evaluate: exceptions', () => {
  const rules: ScanPolicySpec['rules'] = [{ id: 'disallow-privileged' }, { id: 'disallow-host-namespaces' }];
  const base = { reason: 'migration in progress', owner: 'team-db@example.com', expiresAt: iso(now + 30 * dayMs) };
  const risky = (name: string, namespace: string, image = 'registry.example.com/app:1.0.0'): KubeObject => deployment(name, namespace, { hostNetwork: true, containers: [privileged(image)] });

  it('covers only the rules it names', () => {
    const policy = compiled('by-rule', { mode: 'Enforce', rules, exceptions: [{ ...base, rules: ['disallow-host-namespaces'] }] });
    const verdict = verdictOf(policy, risky('web', 'team-a'));
    assert.deepEqual(ids(verdict), ['disallow-privileged']);
    assert.deepEqual(verdict.excepted, [{ ruleId: 'disallow-host-namespaces', owner: 'team-db@example.com' }]);
    assert.equal(verdict.validUntil, now + 30 * dayMs);
  });

  it('covers namespaces and names by glob', () => {
    const byNamespace = compiled('by-namespace', { mode: 'Enforce', rules, exceptions: [{ ...base, namespaces: ['legacy-*'] }] });
    assert.deepEqual(ids(verdictOf(byNamespace, risky('web', 'legacy-billing'))), []);
    assert.deepEqual(verdictOf(byNamespace, risky('web', 'legacy-billing')).excepted.map((entry) => entry.ruleId), ['disallow-privileged', 'disallow-host-namespaces']);
    assert.deepEqual(ids(verdictOf(byNamespace, risky('web', 'team-a'))), ['disallow-privileged', 'disallow-host-namespaces']);

    const byName = compiled('by-name', { mode: 'Enforce', rules, exceptions: [{ ...base, names: ['db-*'], namespaces: ['team-a'] }] });
    assert.deepEqual(ids(verdictOf(byName, risky('db-primary', 'team-a'))), []);
    assert.deepEqual(ids(verdictOf(byName, risky('web', 'team-a'))), ['disallow-privileged', 'disallow-host-namespaces']);
    assert.deepEqual(ids(verdictOf(byName, risky('db-primary', 'team-b'))), ['disallow-privileged', 'disallow-host-namespaces'], 'all the lists an exception sets must match');
  });

  it('covers images by glob, and only findings about a container with such an image', () => {
    const policy = compiled('by-image', { mode: 'Enforce', rules, exceptions: [{ ...base, images: ['registry.example.com/legacy/*'] }] });
    const object = deployment('web', 'team-a', { hostNetwork: true, containers: [privileged('registry.example.com/legacy/agent:0.9', 'agent'), privileged('registry.example.com/app:1.0.0', 'app')] });
    const verdict = verdictOf(policy, object);
    assert.deepEqual(fields(verdict), ['spec.template.spec.containers[1].securityContext.privileged', 'spec.template.spec.hostNetwork']);
    assert.deepEqual(verdict.excepted, [{ ruleId: 'disallow-privileged', owner: 'team-db@example.com' }]);
  });

  it('applies until expiresAt (relative to input.now) and not from then on', () => {
    const expiresAt = now + 60_000;
    const policy = compiled('expiry', { mode: 'Enforce', rules, exceptions: [{ ...base, rules: ['disallow-privileged'], expiresAt: iso(expiresAt) }] });
    const object = risky('web', 'team-a');
    assert.deepEqual(ids(verdictOf(policy, object, { now })), ['disallow-host-namespaces']);
    assert.deepEqual(ids(verdictOf(policy, object, { now: expiresAt - 1 })), ['disallow-host-namespaces']);
    assert.deepEqual(ids(verdictOf(policy, object, { now: expiresAt })), ['disallow-privileged', 'disallow-host-namespaces']);
    assert.deepEqual(verdictOf(policy, object, { now: expiresAt + dayMs }).excepted, []);
    const expired = compiled('expired', { mode: 'Enforce', rules, exceptions: [{ ...base, expiresAt: iso(now - 1000) }] });
    assert.deepEqual(ids(verdictOf(expired, object)), ['disallow-privileged', 'disallow-host-namespaces']);
    assert.equal(verdictOf(expired, object).validUntil, Number.POSITIVE_INFINITY);
  });

  it('sets validUntil to the earliest expiry among the exceptions that applied', () => {
    const policy = compiled('earliest', {
      mode: 'Enforce',
      rules,
      exceptions: [
        { ...base, rules: ['disallow-privileged'], namespaces: ['other'], expiresAt: iso(now + 1000) }, // does not apply
        { ...base, rules: ['disallow-privileged'], expiresAt: iso(now + 2 * dayMs), owner: 'a' },
        { ...base, rules: ['disallow-host-namespaces'], expiresAt: iso(now + 3 * dayMs), owner: 'b' },
        { ...base, rules: ['disallow-host-namespaces'], expiresAt: iso(now - 1), owner: 'expired' }, // expired
      ],
    });
    const verdict = verdictOf(policy, risky('web', 'team-a'));
    assert.deepEqual(verdict.violations, []);
    assert.deepEqual(verdict.excepted, [{ ruleId: 'disallow-privileged', owner: 'a' }, { ruleId: 'disallow-host-namespaces', owner: 'b' }]);
    assert.equal(verdict.validUntil, now + 2 * dayMs);
  });
});

describe('evaluate: vulnerability gate', () => {
  const facts = (entries: Record<string, ImageFacts>) => (image: string): ImageFacts | undefined => entries[image];
  const scanned = (scan: string, summary: VulnerabilitySummary): ImageFacts => ({ scan, completed: true, summary });
  const app = 'registry.example.com/app:1.0.0';
  const worker = 'registry.example.com/worker:2.0.0';

  it('denies counts over a maximum, naming the image, the counts and the ImageScan', () => {
    const policy = compiled('gate', { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0, maxHigh: 2 } });
    const images = facts({ [app]: scanned('team-a/app-scan', { critical: 1, high: 3, medium: 40, low: 100 }), [worker]: scanned('team-a/worker-scan', { critical: 0, high: 2, medium: 99 }) });
    const verdict = verdictOf(policy, deployment('web', 'team-a', podSpec(plain(worker, 'worker'), plain(app, 'app'))), { images });
    assert.deepEqual(verdict.violations, [
      {
        ruleId: 'vulnerability-gate',
        title: 'Image vulnerabilities within the policy gate',
        severity: 'CRITICAL',
        remediation: 'rebuild the image on patched packages, or pin a version whose ImageScan passes the gate',
        field: 'spec.template.spec.containers[1].image',
        message: `image ${app} has vulnerabilities over the gate: 1 critical (max 0), 3 high (max 2) (ImageScan team-a/app-scan)`,
        image: app,
      },
    ]);
    assert.deepEqual(verdict.unscannedImages, []);
    assert.deepEqual(verdict.warnings, []);
    const highOnly = verdictOf(policy, pod('p', 'team-a', podSpec(plain(app))), { images: facts({ [app]: scanned('team-a/s', { critical: 0, high: 5 }) }) });
    assert.equal(highOnly.violations[0]?.severity, 'HIGH');
  });

  it('with ignoreUnfixed counts fixable findings per severity, and everything when those counts are missing', () => {
    const policy = compiled('fixable', { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0, maxHigh: 0, ignoreUnfixed: true } });
    const object = pod('p', 'team-a', podSpec(plain(app)));
    const unfixable = scanned('team-a/s', { critical: 2, high: 4, fixable: 0, fixableBySeverity: { critical: 0, high: 0 } });
    assert.deepEqual(verdictOf(policy, object, { images: facts({ [app]: unfixable }) }).violations, []);
    const someFixable = scanned('team-a/s', { critical: 2, high: 4, fixable: 1, fixableBySeverity: { high: 1 } });
    assert.deepEqual(verdictOf(policy, object, { images: facts({ [app]: someFixable }) }).violations.map((violation) => violation.message), [
      `image ${app} has fixable vulnerabilities over the gate: 1 high (max 0) (ImageScan team-a/s)`,
    ]);
    const legacy = scanned('team-a/old', { critical: 2, high: 0, fixable: 0 });
    assert.deepEqual(verdictOf(policy, object, { images: facts({ [app]: legacy }) }).violations.map((violation) => violation.message), [
      `image ${app} has fixable vulnerabilities over the gate: 2 critical (max 0) (ImageScan team-a/old)`,
    ]);
    const counted = compiled('all-counted', { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0 } });
    assert.equal(verdictOf(counted, object, { images: facts({ [app]: unfixable }) }).violations.length, 1, 'without ignoreUnfixed the unfixable ones count');
  });

  it('onMissingScan Allow, Warn (the default) and Deny, listing every unscanned image once', () => {
    const object = deployment('web', 'team-a', {
      initContainers: [plain(worker, 'migrate')],
      containers: [plain(app, 'app'), plain(worker, 'worker'), plain('registry.example.com/ok:1.0.0', 'ok')],
    });
    const inProgress: ImageFacts = { scan: 'team-a/app-scan', completed: false, summary: { critical: 0 } };
    const images = facts({ [app]: inProgress, 'registry.example.com/ok:1.0.0': scanned('team-a/ok', { critical: 0 }) });

    const allow = verdictOf(compiled('allow', { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0, onMissingScan: 'Allow' } }), object, { images });
    assert.deepEqual(allow.violations, []);
    assert.deepEqual(allow.warnings, []);
    assert.deepEqual(allow.unscannedImages, [worker, app]);

    const warn = verdictOf(compiled('warn', { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0 } }), object, { images });
    assert.deepEqual(warn.violations, []);
    assert.deepEqual(warn.warnings, [
      `ScanPolicy warn: image ${worker} has no completed ImageScan yet (SecureStack requests one, except for dry-run requests)`,
      `ScanPolicy warn: image ${app} has no completed ImageScan yet (SecureStack requests one, except for dry-run requests)`,
    ], 'one warning per image, however many containers use it');
    assert.deepEqual(warn.unscannedImages, [worker, app]);

    const deny = verdictOf(compiled('deny', { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0, onMissingScan: 'Deny' } }), object, { images });
    assert.deepEqual(fields(deny), ['spec.template.spec.initContainers[0].image', 'spec.template.spec.containers[0].image', 'spec.template.spec.containers[1].image']);
    assert.deepEqual(ids(deny), [gateRuleId, gateRuleId, gateRuleId]);
    assert.equal(deny.violations[1]?.message, `image ${app} has no completed ImageScan yet; the policy denies unscanned images`);
    assert.deepEqual(deny.warnings, []);
    assert.deepEqual(deny.unscannedImages, [worker, app]);
  });

  it('looks a digest-pinned image up by digest, through a tag-based ImageScan', () => {
    const index = factsIndex(imageScan('team-a', 'app-1-0', 'registry.example.com/app:1.0.0', { phase: 'Completed', digest: digestA, completedAt: iso(now - dayMs), summary: { critical: 3 } }));
    const policy = compiled('pinned', { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0, onMissingScan: 'Deny' } });
    const pinned = `registry.example.com/app@${digestA}`;
    const verdict = verdictOf(policy, pod('p', 'team-a', podSpec(plain(pinned))), { images: (image) => index.lookup(image) });
    assert.deepEqual(verdict.violations.map((violation) => violation.message), [`image ${pinned} has vulnerabilities over the gate: 3 critical (max 0) (ImageScan team-a/app-1-0)`]);
    const other = `registry.example.com/app@${digestB}`;
    assert.deepEqual(verdictOf(policy, pod('p', 'team-a', podSpec(plain(other))), { images: (image) => index.lookup(image) }).unscannedImages, [other]);
  });

  it('leaves images the caller exempts (SecureStack\'s own) out of the gate', () => {
    const policy = compiled('gate-exempt', { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0, onMissingScan: 'Deny' } });
    const scanner = 'ghcr.io/aquasecurity/trivy:0.58.1';
    const object = pod('scan-job-x', 'securestack', podSpec(plain(scanner, 'trivy'), plain(app, 'app')));
    const gateExempt = (image: string): boolean => image === scanner;
    const verdict = verdictOf(policy, object, { images: facts({}), gateExempt });
    assert.deepEqual(verdict.unscannedImages, [app]);
    assert.deepEqual(fields(verdict), ['spec.containers[1].image']);
  });

  it('lets an exception cover the gate for some images', () => {
    const policy = compiled('gate-exception', {
      mode: 'Enforce',
      vulnerabilityGate: { maxCritical: 0 },
      exceptions: [{ rules: [gateRuleId], images: ['registry.example.com/app:*'], reason: 'no fix upstream', owner: 'sec', expiresAt: iso(now + dayMs) }],
    });
    const images = facts({ [app]: scanned('a/app', { critical: 1 }), [worker]: scanned('a/worker', { critical: 1 }) });
    const verdict = verdictOf(policy, pod('p', 'a', podSpec(plain(app, 'app'), plain(worker, 'worker'))), { images });
    assert.deepEqual(verdict.violations.map((violation) => violation.image), [worker]);
    assert.deepEqual(verdict.excepted, [{ ruleId: gateRuleId, owner: 'sec' }]);
  });
});

describe('ImageFactsIndex', () => {
  const completed = (summary: VulnerabilitySummary, completedAt: number, digest = digestA): Parameters<typeof imageScan>[3] => ({ phase: 'Completed', digest, completedAt: iso(completedAt), summary });

  it('treats nginx and docker.io/library/nginx:latest as one image', () => {
    assert.deepEqual(normalizeImage('nginx'), { reference: 'docker.io/library/nginx:latest' });
    assert.deepEqual(normalizeImage('docker.io/library/nginx:latest'), { reference: 'docker.io/library/nginx:latest' });
    assert.equal(normalizeImage('not a reference'), undefined);
    const index = factsIndex(imageScan('a', 'nginx', 'nginx', completed({ critical: 1 }, now)));
    for (const image of ['nginx', 'nginx:latest', 'library/nginx', 'docker.io/library/nginx:latest', 'index.docker.io/library/nginx:latest']) {
      assert.equal(index.lookup(image)?.scan, 'a/nginx', image);
    }
    assert.equal(index.lookup('nginx:1.27'), undefined);
    assert.equal(index.lookup('registry.example.com/nginx:latest'), undefined);
    assert.equal(index.lookup('Not A Reference!'), undefined);
  });

  it('finds a tag-based ImageScan by the digest in its status', () => {
    const index = factsIndex(imageScan('a', 'app', 'registry.example.com/app:1.0.0', completed({ high: 2 }, now)));
    const facts = index.lookup(`registry.example.com/app@${digestA}`);
    assert.deepEqual(facts, { scan: 'a/app', completed: true, digest: digestA, completedAt: iso(now), summary: { high: 2 } });
    assert.equal(index.lookup(`registry.example.com/app:1.0.0@${digestA}`)?.scan, 'a/app');
    assert.equal(index.lookup(`registry.example.com/app@${digestB}`), undefined);
  });

  it('prefers the latest completed ImageScan over older and incomplete ones, whatever the order seen', () => {
    const older = imageScan('a', 'older', 'registry.example.com/app:1.0.0', completed({ critical: 5 }, now - dayMs));
    const newer = imageScan('b', 'newer', 'registry.example.com/app:1.0.0', completed({ critical: 0 }, now));
    const rescanning = imageScan('c', 'rescanning', 'registry.example.com/app:1.0.0', { phase: 'Scanning', digest: digestA });
    const failedLater = imageScan('d', 'failed', 'registry.example.com/app:1.0.0', { phase: 'Failed', digest: digestA, completedAt: iso(now + dayMs) });
    for (const order of [[older, newer, rescanning, failedLater], [failedLater, rescanning, newer, older], [newer, failedLater, rescanning, older]]) {
      const index = factsIndex(...order);
      assert.equal(index.lookup('registry.example.com/app:1.0.0')?.scan, 'b/newer');
      assert.equal(index.lookup(`registry.example.com/app@${digestA}`)?.scan, 'b/newer');
    }
    const onlyIncomplete = factsIndex(rescanning);
    assert.deepEqual(onlyIncomplete.lookup('registry.example.com/app:1.0.0'), { scan: 'c/rescanning', completed: false, digest: digestA });
  });

  it('files an ImageScan under the image it names now and the digest its status resolved', () => {
    const tagged = imageScan('a', 'older', 'registry.example.com/app:2.0.0', completed({ critical: 0 }, now, digestB));
    assert.deepEqual(scanReferenceIndexFunction(tagged as unknown as RawObject), ['registry.example.com/app:2.0.0']);
    assert.deepEqual(scanDigestIndexFunction(tagged as unknown as RawObject), [digestB], 'the digest its tag resolved to');
    const pinned = imageScan('a', 'pinned', `registry.example.com/app@${digestA}`, completed({}, now, digestB));
    assert.deepEqual(scanDigestIndexFunction(pinned as unknown as RawObject), [digestA], 'a pinned digest wins over status');
    const pending = imageScan('a', 'pending', 'registry.example.com/app:3.0.0', { phase: 'Pending' });
    assert.deepEqual(scanDigestIndexFunction(pending as unknown as RawObject), [], 'no digest yet: not in the digest index');
    assert.deepEqual(scanReferenceIndexFunction(imageScan('a', 'bad', 'Not A Reference!') as unknown as RawObject), []);
    const index = factsIndex(tagged);
    assert.equal(index.lookup('registry.example.com/app:1.0.0'), undefined);
    assert.equal(index.lookup(`registry.example.com/app@${digestA}`), undefined);
    assert.equal(index.lookup('registry.example.com/app:2.0.0')?.scan, 'a/older');
    assert.equal(index.lookup(`registry.example.com/app@${digestB}`)?.scan, 'a/older');
  });

  it('answers hasScanIn per namespace', () => {
    const index = factsIndex(imageScan('team-a', 'app', 'registry.example.com/app:1.0.0', { phase: 'Pending' }), imageScan('team-b', 'nginx', 'nginx', completed({}, now, digestB)));
    assert.equal(index.hasScanIn('team-a', 'registry.example.com/app:1.0.0'), true, 'a pending ImageScan counts');
    assert.equal(index.hasScanIn('team-b', 'registry.example.com/app:1.0.0'), false);
    assert.equal(index.hasScanIn('team', 'registry.example.com/app:1.0.0'), false, 'a namespace prefix is not the namespace');
    assert.equal(index.hasScanIn('team-b', 'docker.io/library/nginx:latest'), true);
    assert.equal(index.hasScanIn('team-b', `nginx@${digestB}`), true);
    assert.equal(index.hasScanIn('team-a', 'nginx'), false);
  });
});

describe('template verdicts', () => {
  const viewOf = (object: KubeObject): PodTemplateView => {
    const view = podTemplateOf(object);
    assert.ok(view, `${object.kind ?? '?'} carries a pod`);
    return view;
  };

  /** A Deployment's pod template as the API server stores it (defaults filled in). */
  function defaultedTemplateSpec(options: { ownVolume: boolean; serviceAccount: boolean }): Record<string, unknown> {
    return {
      ...(options.serviceAccount ? { serviceAccountName: 'web', serviceAccount: 'web' } : {}),
      containers: [
        {
          name: 'web',
          image: 'registry.example.com/web:1.4.2',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } },
          securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true },
          ...(options.ownVolume ? { volumeMounts: [{ name: 'config', mountPath: '/etc/web', readOnly: true }] } : {}),
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      ...(options.ownVolume ? { volumes: [{ name: 'config', configMap: { name: 'web-config', defaultMode: 420 } }] } : {}),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      schedulerName: 'default-scheduler',
    };
  }

  /**
   * The Pod a ReplicaSet makes from that template, as a validating webhook sees it: what the
   * ReplicaSet controller, the API server's Pod defaults, the ServiceAccount, Priority and
   * DefaultTolerationSeconds admission plugins and (on later updates) the scheduler add.
   */
  function podFromTemplate(template: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject {
    const spec = structuredClone(template) as { containers: Record<string, unknown>[]; volumes?: unknown[] } & Record<string, unknown>;
    const token = 'kube-api-access-x2x9q';
    for (const container of spec.containers) {
      container.volumeMounts = [...((container.volumeMounts as unknown[] | undefined) ?? []), { name: token, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }];
    }
    spec.volumes = [
      ...(spec.volumes ?? []),
      {
        name: token,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ];
    Object.assign(spec, {
      nodeName: 'kwok-node-1',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
      enableServiceLinks: true,
      ...extra,
    });
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'web-7d4b9c6f5d-x2x9q',
        generateName: 'web-7d4b9c6f5d-',
        namespace: 'team-a',
        uid: 'uid-pod',
        labels: { 'pod-template-hash': '7d4b9c6f5d', app: 'web' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c6f5d', uid: 'uid-rs', controller: true }],
      },
      spec,
    };
  }

  it('hashes a Deployment\'s template and the Pod its ReplicaSet makes alike', () => {
    const template = defaultedTemplateSpec({ ownVolume: true, serviceAccount: true });
    const controller = deployment('web', 'team-a', template, { app: 'web' });
    const made = podFromTemplate(template);
    assert.equal(templateHash(viewOf(made)), templateHash(viewOf(controller)));
    // ...and the ReplicaSet in between.
    const between = replicaSet('web-7d4b9c6f5d', 'team-a', template, { app: 'web', 'pod-template-hash': '7d4b9c6f5d' });
    assert.equal(templateHash(viewOf(between)), templateHash(viewOf(controller)));
    // The hash is of the pod, not of the wrapper: the same template in a CronJob hashes alike.
    assert.equal(templateHash(viewOf({ ...cronJob('web', 'team-a', {}), spec: { schedule: '@daily', jobTemplate: { spec: { template: { metadata: { labels: { app: 'web' } }, spec: template } } } } })), templateHash(viewOf(controller)));
  });

  it('changes the hash when a securityContext, an image, a label or a volume changes', () => {
    const template = defaultedTemplateSpec({ ownVolume: true, serviceAccount: true });
    const reference = templateHash(viewOf(podFromTemplate(template)));
    const variants: [string, (spec: { containers: Record<string, unknown>[]; volumes: Record<string, unknown>[] } & Record<string, unknown>) => void][] = [
      ['container securityContext', (spec) => { (spec.containers[0] as { securityContext: Record<string, unknown> }).securityContext.privileged = true; }],
      ['pod securityContext', (spec) => { spec.securityContext = { runAsUser: 0 }; }],
      ['image', (spec) => { (spec.containers[0] as { image: string }).image = 'registry.example.com/web:1.4.3'; }],
      ['hostPath volume', (spec) => { spec.volumes.push({ name: 'host', hostPath: { path: '/' } }); }],
      ['hostNetwork', (spec) => { spec.hostNetwork = true; }],
    ];
    for (const [what, change] of variants) {
      const spec = structuredClone(template) as Parameters<(typeof variants)[number][1]>[0];
      change(spec);
      assert.notEqual(templateHash(viewOf(podFromTemplate(spec))), reference, what);
    }
    const relabelled = podFromTemplate(template);
    relabelled.metadata = { ...relabelled.metadata, labels: { app: 'web', tier: 'privileged' } };
    assert.notEqual(templateHash(viewOf(relabelled)), reference, 'labels');
  });

  it('hashes a template without volumes like its Pod', () => {
    // Regression (fixed in caa5d6e): the token volume and mount left emptied lists behind, and a
    // template with no volumes/volumeMounts hashed apart from its Pod.
    const template = defaultedTemplateSpec({ ownVolume: false, serviceAccount: true });
    assert.equal(templateHash(viewOf(podFromTemplate(template))), templateHash(viewOf(deployment('web', 'team-a', template, { app: 'web' }))));
  });

  it('hashes a template without serviceAccountName like its Pod', () => {
    // Regression (fixed in caa5d6e): the ServiceAccount admission plugin sets serviceAccountName
    // (and the deprecated serviceAccount) to "default" on every Pod that names none.
    const template = defaultedTemplateSpec({ ownVolume: true, serviceAccount: false });
    const made = podFromTemplate(template, { serviceAccountName: 'default', serviceAccount: 'default' });
    assert.equal(templateHash(viewOf(made)), templateHash(viewOf(deployment('web', 'team-a', template, { app: 'web' }))));
  });

  it('does not let a hostPath volume hide behind a kube-api-access- name', () => {
    // Only the exact token volume the ServiceAccount plugin adds is left out of the hash: a hostPath
    // volume borrowing its name must change the hash, or a cached "allowed" verdict would cover it.
    const template = defaultedTemplateSpec({ ownVolume: true, serviceAccount: true });
    const clean = deployment('web', 'team-a', template, { app: 'web' });
    const sneaky = structuredClone(template) as { containers: Record<string, unknown>[]; volumes: unknown[] };
    sneaky.volumes.push({ name: 'kube-api-access-pwned', hostPath: { path: '/' } });
    (sneaky.containers[0] as { volumeMounts: unknown[] }).volumeMounts.push({ name: 'kube-api-access-pwned', mountPath: '/host' });
    assert.notEqual(templateHash(viewOf(pod('web-manual', 'team-a', sneaky, { app: 'web' }))), templateHash(viewOf(clean)));
  });

  it('templateHash is deterministic and ignores label order; other key orders can only cause a miss', () => {
    const one = pod('p', 'a', { containers: [{ name: 'c', image: 'i:1', securityContext: { runAsNonRoot: true } }], hostNetwork: false }, { a: '1', b: '2' });
    const two = pod('p', 'a', { containers: [{ name: 'c', image: 'i:1', securityContext: { runAsNonRoot: true } }], hostNetwork: false }, { b: '2', a: '1' });
    assert.equal(templateHash(viewOf(one)), templateHash(viewOf(one)));
    assert.equal(templateHash(viewOf(one)), templateHash(viewOf(two)), 'labels are sorted');
    // The API server serializes in one canonical order, so this never happens for real objects;
    // if it did, the verdict would be evaluated afresh, never reused for different content.
    const reordered = pod('p', 'a', { hostNetwork: false, containers: [{ securityContext: { runAsNonRoot: true }, image: 'i:1', name: 'c' }] }, { a: '1', b: '2' });
    assert.notEqual(templateHash(viewOf(one)), templateHash(viewOf(pod('p', 'a', { containers: [{ name: 'c', image: 'i:2', securityContext: { runAsNonRoot: true } }], hostNetwork: false }, { a: '1', b: '2' }))));
    assert.ok(typeof templateHash(viewOf(reordered)) === 'string');
  });

  const verdict = (validUntil = Number.POSITIVE_INFINITY): CachedVerdict => ({ violations: [], warnings: [], excepted: [], unscannedImages: [], validUntil });

  it('TemplateVerdictCache keeps at most maxEntries, evicting the least recently used', () => {
    const cache = new TemplateVerdictCache(2, 60_000);
    cache.set('a', verdict(), now);
    cache.set('b', verdict(), now);
    assert.ok(cache.get('a', now), 'a is cached');
    cache.set('c', verdict(), now);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b', now), undefined, 'b was least recently used');
    assert.ok(cache.get('a', now));
    assert.ok(cache.get('c', now));
    assert.deepEqual({ hits: cache.hits, misses: cache.misses }, { hits: 3, misses: 1 });
    // Setting a key again refreshes it rather than adding one.
    cache.set('a', verdict(), now);
    cache.set('d', verdict(), now);
    assert.equal(cache.get('c', now), undefined);
    assert.ok(cache.get('a', now));
  });

  it('TemplateVerdictCache entries end after the TTL, or at validUntil when that is earlier', () => {
    const cache = new TemplateVerdictCache(10, 1000);
    cache.set('ttl', verdict(), now);
    assert.ok(cache.get('ttl', now + 999));
    assert.equal(cache.get('ttl', now + 1000), undefined);
    assert.equal(cache.size, 0, 'an expired entry is dropped');
    cache.set('exception', verdict(now + 300), now);
    assert.ok(cache.get('exception', now + 299));
    assert.equal(cache.get('exception', now + 300), undefined);
    cache.set('late-exception', verdict(now + 5000), now);
    assert.equal(cache.get('late-exception', now + 1000), undefined, 'the TTL still applies');
    assert.notEqual(TemplateVerdictCache.key('uid', 1, 'ns', 'h'), TemplateVerdictCache.key('uid', 2, 'ns', 'h'));
    assert.notEqual(TemplateVerdictCache.key('uid', 1, 'ns', 'h'), TemplateVerdictCache.key('uid', 1, 'ns2', 'h'));
  });

  it('controlledObject: only a controller ownerReference counts', () => {
    const owned = (controller: boolean | undefined): KubeObject => pod('p', 'a', podSpec(plain()), {}, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', ...(controller === undefined ? {} : { controller }) }] });
    assert.equal(controlledObject(owned(true)), true);
    assert.equal(controlledObject(owned(false)), false);
    assert.equal(controlledObject(owned(undefined)), false);
    assert.equal(controlledObject(pod('p', 'a', podSpec(plain()))), false);
  });
});

describe('auditKinds', () => {
  it('expands a wildcard kind to every kind a catalog rule reads: pod kinds, RBAC kinds, Namespaces and Services', () => {
    const policy = compiled('everything', { mode: 'Audit', ruleSets: ['rbac'], match: { kinds: [{ group: '*', kind: '*' }] } });
    const { kinds, skipped } = auditKinds(policy);
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      kinds.map((entry) => `${entry.apiVersion} ${entry.kind}`).sort(),
      [
        'apps/v1 DaemonSet',
        'apps/v1 Deployment',
        'apps/v1 ReplicaSet',
        'apps/v1 StatefulSet',
        'batch/v1 CronJob',
        'batch/v1 Job',
        'rbac.authorization.k8s.io/v1 ClusterRole',
        'rbac.authorization.k8s.io/v1 ClusterRoleBinding',
        'rbac.authorization.k8s.io/v1 Role',
        'rbac.authorization.k8s.io/v1 RoleBinding',
        'v1 Namespace',
        'v1 Pod',
        'v1 PodTemplate',
        'v1 ReplicationController',
        'v1 Service',
      ],
    );
    const rbacOnly = auditKinds(compiled('rbac', { mode: 'Audit', ruleSets: ['rbac'], match: { kinds: [{ group: rbac, kind: '*' }] } }));
    assert.deepEqual(rbacOnly.kinds.map((entry) => entry.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  });

  it('lists the default pod kinds once, and skips kinds it cannot list', () => {
    const defaults = auditKinds(compiled('defaults', { mode: 'Audit', ruleSets: ['pss-baseline'] }));
    assert.equal(defaults.kinds.length, podKinds.length);
    assert.deepEqual(defaults.skipped, []);
    const mixed = auditKinds(
      compiled('mixed', {
        mode: 'Audit',
        ruleSets: ['pss-baseline'],
        match: { kinds: [{ group: 'apps', kind: 'Deployment' }, { group: '*', kind: 'Deployment' }, { group: 'example.com', kind: 'Widget' }, { kind: 'ConfigMap' }, { group: 'example.com', kind: '*' }] },
      }),
    );
    assert.deepEqual(mixed.kinds, [{ apiVersion: 'apps/v1', group: 'apps', kind: 'Deployment' }]);
    assert.deepEqual(mixed.skipped, ['Widget.example.com', 'ConfigMap', '*.example.com']);
  });
});

describe('compilePolicy input', () => {
  it('keeps the identity fields of the ScanPolicy', () => {
    const result = compilePolicy({ ...scanPolicy('p', { mode: 'Warn', ruleSets: ['pss-baseline'] }), metadata: { name: 'p' } });
    assert.ok(result.ok);
    assert.deepEqual([result.policy.uid, result.policy.generation, result.policy.mode], ['', 0, 'Warn']);
  });
});

describe('exceptions by name reach what the named controller makes', () => {
  const privilegedPod = (name: string, owner?: { kind: string; name: string }): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'team-a', ...(owner ? { ownerReferences: [{ apiVersion: owner.kind === 'Job' ? 'batch/v1' : 'apps/v1', kind: owner.kind, name: owner.name, uid: 'u', controller: true }] } : {}) },
    spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { privileged: true } }] },
  });
  const policy = (names: string[]): CompiledPolicy => {
    const result = compilePolicy({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: 'p', uid: 'p-uid', generation: 1 }, spec: { mode: 'Enforce', rules: [{ id: 'disallow-privileged' }], exceptions: [{ names, reason: 'legacy agent until SEC-1', owner: 'team-a', expiresAt: '2099-01-01T00:00:00Z' }] } });
    assert.ok(result.ok);
    return result.policy;
  };
  const violated = (object: KubeObject, names: string[]): boolean => verdictOf(policy(names), object).violations.length > 0;

  it('covers a Pod of the excepted Deployment (through its ReplicaSet) and of the excepted CronJob (through its Job)', () => {
    assert.equal(violated(privilegedPod('web-5d8f7c9b4-x7k2p', { kind: 'ReplicaSet', name: 'web-5d8f7c9b4' }), ['web']), false);
    assert.equal(violated(privilegedPod('nightly-29000000-abcde', { kind: 'Job', name: 'nightly-29000000' }), ['nightly']), false);
    assert.equal(violated(privilegedPod('agent-0', { kind: 'StatefulSet', name: 'agent' }), ['agent']), false);
  });

  it('does not cover other workloads whose names merely start alike, nor Pods without an owner', () => {
    assert.equal(violated(privilegedPod('web-api-6f9c8d7b5-q2w3e', { kind: 'ReplicaSet', name: 'web-api-6f9c8d7b5' }), ['web']), true);
    assert.equal(violated(privilegedPod('web-5d8f7c9b4-x7k2p'), ['web']), true);
    assert.equal(violated(privilegedPod('batch-1', { kind: 'Job', name: 'batch-1' }), ['batch']), true, 'a Job name without a scheduled-time suffix is not shortened');
  });
});
