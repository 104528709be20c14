// The Pod Security rules version by version, without the oracle: version parsing, the version and
// level a policy hands its rules, and for every check at every version where its behaviour
// changes, a pod at the boundary and one version before, passing and failing both ways, in each
// container kind the check reads. test/pod-security-conformance.test.ts compares whole levels with
// upstream; this file pins the boundaries so a broken table is named by the check it breaks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { validateSpec } from '../operator/api/schema';
import type { ScanPolicySpec } from '../operator/api/types.generated';
import { compilePolicy, type CompiledPolicy } from '../operator/engine/compile';
import { ruleViolations, subjectOf } from '../operator/engine/evaluate';
import { behaviourAt, effectiveMinor, minorOfParameter, newestPodSecurityMinor, parsePodSecurityVersion, podSecurityVersionPattern } from '../operator/engine/pod-security-version';
import { catalog, ruleById, ruleSets } from '../operator/engine/rules';
import { safeSysctlsAt } from '../operator/engine/rules/pod-security-baseline';
import type { Finding, KubeObject } from '../operator/engine/types';
import { podTemplateOf } from '../operator/engine/workload';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });

type Json = Record<string, unknown>;
type Kind = 'initContainers' | 'containers' | 'ephemeralContainers';
const kinds: readonly Kind[] = ['initContainers', 'containers', 'ephemeralContainers'];

function run(id: string, spec: Json, given: Json = {}, metadata: Json = {}): Finding[] {
  const rule = ruleById(id);
  assert.ok(rule && rule.target === 'pod', id);
  const parameters = structuredClone(given);
  const validate = ajv.compile(rule.parameters ?? {});
  assert.ok(validate(parameters), `${id} ${JSON.stringify(given)}: ${ajv.errorsText(validate.errors)}`);
  const pod = podTemplateOf({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ...metadata }, spec });
  assert.ok(pod);
  return rule.check(pod, parameters);
}

const image = 'registry.example.com/app:1.0.0';

/** A pod that passes every PSS rule at every version, one container of each kind; `at` changes one of them. */
function podWith(at: Kind | undefined, container: Json = {}, pod: Json = {}): Json {
  const entry = (name: string, kind: Kind): Json => ({
    name,
    image,
    ...(at === kind ? container : {}),
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, ...((at === kind ? container.securityContext : undefined) as Json | undefined) },
  });
  return {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    initContainers: [entry('init', 'initContainers')],
    containers: [entry('app', 'containers')],
    ephemeralContainers: [entry('debug', 'ephemeralContainers')],
    ...pod,
  };
}

const v = (minor: number): string => `v1.${minor}`;

// ---------------------------------------------------------------------------------------------

describe('Pod Security versions', () => {
  it('parse like upstream: latest and v1.N; newer than the newest known behaves as latest', () => {
    assert.deepEqual(parsePodSecurityVersion('latest'), { latest: true });
    assert.deepEqual(parsePodSecurityVersion('v1.0'), { latest: false, minor: 0 });
    assert.deepEqual(parsePodSecurityVersion('v1.37'), { latest: false, minor: 37 });
    assert.deepEqual(parsePodSecurityVersion('v1.99'), { latest: false, minor: 99 });
    assert.equal(newestPodSecurityMinor, 37);
    assert.equal(effectiveMinor({ latest: true }), 37);
    assert.equal(effectiveMinor({ latest: false, minor: 99 }), 37);
    assert.equal(effectiveMinor({ latest: false, minor: 0 }), 0);
    assert.equal(minorOfParameter('v1.99'), minorOfParameter('latest'));
    assert.equal(minorOfParameter(undefined), 37);
  });

  it('refuse malformed versions, in the parser and in the schema pattern alike', () => {
    const pattern = new RegExp(podSecurityVersionPattern);
    for (const bad of ['', 'Latest', 'v1', 'v1.', 'v1.01', 'v1.x', 'v1.-1', '1.30', 'v2.0', 'v0.9', 'v1.30.1', ' v1.30', 'v1.30 ']) {
      assert.equal(parsePodSecurityVersion(bad), undefined, bad);
      assert.equal(pattern.test(bad), false, bad);
    }
    for (const good of ['latest', 'v1.0', 'v1.9', 'v1.10', 'v1.37', 'v1.99']) assert.ok(pattern.test(good), good);
  });

  it('pick the last table row at or below the minor; none before the first', () => {
    const table = [{ since: 8, behaviour: 'a' }, { since: 25, behaviour: 'b' }];
    assert.equal(behaviourAt(table, 7), undefined);
    assert.equal(behaviourAt(table, 8), 'a');
    assert.equal(behaviourAt(table, 24), 'a');
    assert.equal(behaviourAt(table, 25), 'b');
    assert.equal(behaviourAt(table, 37), 'b');
  });

  it('are a parameter of every Pod Security rule, validated by its schema, default latest', () => {
    for (const rule of catalog.filter((entry) => entry.family.startsWith('pod-security-'))) {
      const validate = ajv.compile(rule.parameters ?? {});
      const filled: Json = {};
      assert.ok(validate(filled), rule.id);
      assert.equal(filled.version, 'latest', rule.id);
      for (const good of ['v1.0', 'v1.37', 'v1.99']) assert.ok(validate({ version: good }), `${rule.id} ${good}`);
      for (const bad of ['v1.01', 'v2.0', '1.30', 'v1.99999999999999']) assert.equal(validate({ version: bad }), false, `${rule.id} ${bad}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// ScanPolicy.spec.podSecurityVersion

function compiled(spec: Partial<ScanPolicySpec>): CompiledPolicy {
  const result = compilePolicy({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: 'p' }, spec: { mode: 'Audit', ...spec } });
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  return result.policy;
}

function compileErrors(spec: Partial<ScanPolicySpec>): string[] {
  const result = compilePolicy({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: 'p' }, spec: { mode: 'Audit', ...spec } });
  assert.equal(result.ok, false);
  return result.ok ? [] : result.errors;
}

function parametersOf(policy: CompiledPolicy, id: string): Json {
  const entry = policy.rules.find((candidate) => candidate.rule.id === id);
  assert.ok(entry, id);
  return entry.parameters;
}

function denies(policy: CompiledPolicy, spec: Json): string[] {
  const object: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n' }, spec };
  return [...new Set(ruleViolations(policy, subjectOf(object)).map((violation) => violation.ruleId))];
}

describe('ScanPolicy podSecurityVersion', () => {
  it('goes to every pod-security rule as its version, unless the rule sets its own; other rules are untouched', () => {
    const policy = compiled({
      ruleSets: ['pss-restricted', 'best-practices'],
      podSecurityVersion: 'v1.30',
      rules: [{ id: 'restrict-sysctls', parameters: { version: 'v1.37' } }],
    });
    for (const id of ruleSets['pss-restricted']) assert.equal(parametersOf(policy, id).version, id === 'restrict-sysctls' ? 'v1.37' : 'v1.30', id);
    assert.equal(parametersOf(policy, 'require-image-pull-policy').version, undefined);
    assert.equal(parametersOf(compiled({ ruleSets: ['pss-baseline'] }), 'restrict-sysctls').version, 'latest', 'absent means latest');
  });

  it('sets the level: restricted when any pod-security-restricted rule is on, baseline otherwise, unless the rule sets it', () => {
    assert.equal(parametersOf(compiled({ ruleSets: ['pss-restricted'] }), 'restrict-proc-mount').level, 'restricted');
    assert.equal(parametersOf(compiled({ ruleSets: ['pss-baseline'] }), 'restrict-proc-mount').level, 'baseline');
    assert.equal(parametersOf(compiled({ ruleSets: ['pss-baseline'], rules: [{ id: 'run-as-non-root' }] }), 'restrict-seccomp').level, 'restricted');
    assert.equal(parametersOf(compiled({ ruleSets: ['pss-baseline'], rules: [{ id: 'disallow-capabilities', parameters: { level: 'restricted' } }] }), 'disallow-capabilities').level, 'restricted');
    const disabled = compiled({ ruleSets: ['pss-restricted'], rules: ruleSets['pss-restricted'].filter((id) => ruleById(id)?.family === 'pod-security-restricted').map((id) => ({ id, enabled: false })) });
    assert.equal(parametersOf(disabled, 'restrict-proc-mount').level, 'baseline', 'restricted rules that are all disabled do not count');
  });

  it('judges a user-namespace pod with procMount Unmasked like upstream: baseline admits it from v1.35, restricted never', () => {
    const spec = podWith('containers', { securityContext: { procMount: 'Unmasked' } }, { hostUsers: false });
    for (const [version, baseline] of [['v1.34', ['restrict-proc-mount']], ['v1.35', []], ['latest', []], ['v1.99', []]] as const) {
      assert.deepEqual(denies(compiled({ ruleSets: ['pss-baseline'], podSecurityVersion: version }), spec), baseline, `baseline ${version}`);
      assert.deepEqual(denies(compiled({ ruleSets: ['pss-restricted'], podSecurityVersion: version }), spec), ['restrict-proc-mount'], `restricted ${version}`);
    }
  });

  it('refuses a malformed version with a message naming the field, in compile and in the CRD schema', () => {
    assert.deepEqual(compileErrors({ ruleSets: ['pss-baseline'], podSecurityVersion: 'v1.01' }), ['spec.podSecurityVersion: "v1.01" is not "latest" or "v1.<minor>" (for example v1.35)']);
    const ruleLevel = compileErrors({ rules: [{ id: 'restrict-sysctls', parameters: { version: '1.30' } }] });
    assert.equal(ruleLevel.length, 1);
    assert.match(ruleLevel[0] ?? '', /^spec\.rules\[0\]\.parameters\.version: must match pattern/);
    const object = { apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: 'p' }, spec: { mode: 'Audit', ruleSets: ['pss-baseline'], podSecurityVersion: 'v2.0' } };
    const validation = validateSpec('ScanPolicy', object);
    assert.equal(validation.ok, false);
    assert.ok(!validation.ok && validation.errors.some((error) => error.startsWith('spec.podSecurityVersion: ')), JSON.stringify(validation));
    assert.deepEqual(validateSpec('ScanPolicy', { ...object, spec: { ...object.spec, podSecurityVersion: 'v1.99' } }), { ok: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Boundaries

interface Boundary {
  /** What the case shows, for messages. */
  name: string;
  rule: string;
  /** The first minor with the new behaviour; the case is judged there and one minor before. */
  since: number;
  parameters?: Json;
  /** The pod whose verdict flips at the boundary, with the offending setting in a container of `kind` (or at pod level). */
  flips: (kind: Kind) => Json;
  /** Whether `flips` fails before the boundary (and passes from it), or the other way round. */
  failsBefore: boolean;
  /** A pod that fails on both sides, showing the rule still works where the flipping pod passes. */
  alwaysFails?: (kind: Kind) => Json;
  /** Whether the rule reads containers: then each case runs with the setting in each container kind. */
  perContainer: boolean;
  metadata?: (kind: Kind) => Json;
}

const windows = { os: { name: 'windows' } };
const userNamespace = { hostUsers: false };
const sc = (securityContext: Json): Json => ({ securityContext });

const boundaries: Boundary[] = [
  {
    name: 'probe and lifecycle hosts are checked from v1.34',
    rule: 'disallow-host-probes',
    since: 34,
    flips: (kind) => podWith(kind, { readinessProbe: { httpGet: { host: '169.254.169.254', port: 80 } } }),
    failsBefore: false,
    perContainer: true,
  },
  {
    name: 'container_engine_t is allowed from v1.31',
    rule: 'restrict-selinux',
    since: 31,
    flips: (kind) => podWith(kind, sc({ seLinuxOptions: { type: 'container_engine_t' } })),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ seLinuxOptions: { type: 'spc_t' } })),
    perContainer: true,
  },
  {
    name: 'baseline admits any procMount with hostUsers: false from v1.35',
    rule: 'restrict-proc-mount',
    since: 35,
    flips: (kind) => podWith(kind, sc({ procMount: 'Unmasked' }), userNamespace),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ procMount: 'Unmasked' }), { hostUsers: true }),
    perContainer: true,
  },
  {
    name: 'the seccomp fields replace the alpha annotations at v1.19 (a container annotation)',
    rule: 'restrict-seccomp',
    since: 19,
    flips: () => podWith(undefined),
    metadata: (kind) => ({ annotations: { [`container.seccomp.security.alpha.kubernetes.io/${{ initContainers: 'init', containers: 'app', ephemeralContainers: 'debug' }[kind]}`]: 'unconfined' } }),
    failsBefore: true,
    perContainer: true,
  },
  {
    name: 'the seccomp fields replace the alpha annotations at v1.19 (a field)',
    rule: 'restrict-seccomp',
    since: 19,
    flips: (kind) => podWith(kind, sc({ seccompProfile: { type: 'Unconfined' } })),
    failsBefore: false,
    perContainer: true,
  },
  {
    name: 'at restricted, Windows pods are exempt from the seccomp check from v1.25',
    rule: 'restrict-seccomp',
    since: 25,
    parameters: { level: 'restricted' },
    flips: (kind) => podWith(kind, sc({ seccompProfile: { type: 'Unconfined' } }), windows),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ seccompProfile: { type: 'Unconfined' } })),
    perContainer: true,
  },
  {
    name: 'at restricted, Windows pods are exempt from the baseline capabilities check from v1.25',
    rule: 'disallow-capabilities',
    since: 25,
    parameters: { level: 'restricted' },
    flips: (kind) => podWith(kind, sc({ capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } }), windows),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } })),
    perContainer: true,
  },
  {
    name: 'allowPrivilegeEscalation is checked from v1.8',
    rule: 'disallow-privilege-escalation',
    since: 8,
    flips: (kind) => podWith(kind, sc({ allowPrivilegeEscalation: true })),
    failsBefore: false,
    perContainer: true,
  },
  {
    name: 'Windows pods are exempt from allowPrivilegeEscalation from v1.25',
    rule: 'disallow-privilege-escalation',
    since: 25,
    flips: (kind) => podWith(kind, sc({ allowPrivilegeEscalation: true }), windows),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ allowPrivilegeEscalation: null })),
    perContainer: true,
  },
  {
    name: 'hostUsers: false exempts from runAsNonRoot from v1.35',
    rule: 'run-as-non-root',
    since: 35,
    flips: (kind) => podWith(kind, sc({ runAsNonRoot: false }), userNamespace),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ runAsNonRoot: false }), { hostUsers: true }),
    perContainer: true,
  },
  {
    name: 'runAsUser is checked from v1.23',
    rule: 'disallow-root-user',
    since: 23,
    flips: (kind) => podWith(kind, sc({ runAsUser: 0 })),
    failsBefore: false,
    perContainer: true,
  },
  {
    name: 'hostUsers: false exempts from runAsUser from v1.35',
    rule: 'disallow-root-user',
    since: 35,
    flips: (kind) => podWith(kind, sc({ runAsUser: 0 }), userNamespace),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ runAsUser: 0 })),
    perContainer: true,
  },
  {
    name: 'a seccomp profile is required from v1.19',
    rule: 'seccomp-profile',
    since: 19,
    flips: (kind) => podWith(kind, {}, { securityContext: { runAsNonRoot: true } }),
    failsBefore: false,
    perContainer: false,
  },
  {
    name: 'Windows pods are exempt from the seccomp profile requirement from v1.25',
    rule: 'seccomp-profile',
    since: 25,
    flips: (kind) => podWith(kind, sc({ seccompProfile: { type: 'Unconfined' } }), windows),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ seccompProfile: {} })),
    perContainer: true,
  },
  {
    name: 'drop ALL is required from v1.22',
    rule: 'restrict-capabilities',
    since: 22,
    flips: (kind) => podWith(kind, sc({ capabilities: { drop: ['all'] } })),
    failsBefore: false,
    perContainer: true,
  },
  {
    name: 'Windows pods are exempt from the capabilities requirement from v1.25',
    rule: 'restrict-capabilities',
    since: 25,
    flips: (kind) => podWith(kind, sc({ capabilities: { drop: ['ALL'], add: ['CAP_NET_BIND_SERVICE'] } }), windows),
    failsBefore: true,
    alwaysFails: (kind) => podWith(kind, sc({ capabilities: { drop: ['ALL'], add: ['net_bind_service'] } })),
    perContainer: true,
  },
  // Each sysctl the safe set gained, at the version that added it.
  ...[27, 29, 32, 37].flatMap((since) =>
    safeSysctlsAt(since)
      .filter((name) => !safeSysctlsAt(since - 1).includes(name))
      .map(
        (name): Boundary => ({
          name: `sysctl ${name} is safe from v1.${since}`,
          rule: 'restrict-sysctls',
          since,
          flips: () => podWith(undefined, {}, { securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, sysctls: [{ name, value: '1' }] } }),
          failsBefore: true,
          alwaysFails: () => podWith(undefined, {}, { securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1' }] } }),
          perContainer: false,
        }),
      ),
  ),
];

describe('Pod Security rules at the versions where they change', () => {
  for (const boundary of boundaries) {
    it(`${boundary.rule}: ${boundary.name}`, () => {
      for (const kind of boundary.perContainer ? kinds : (['containers'] as const)) {
        const metadata = boundary.metadata?.(kind) ?? {};
        const judge = (pod: Json, version: string, withMetadata = metadata): number => run(boundary.rule, pod, { ...boundary.parameters, version }, withMetadata).length;
        const flips = boundary.flips(kind);
        const [before, at] = [judge(flips, v(boundary.since - 1)), judge(flips, v(boundary.since))];
        assert.equal(before > 0, boundary.failsBefore, `${kind}: v1.${boundary.since - 1} ${boundary.failsBefore ? 'should fail' : 'should pass'}`);
        assert.equal(at > 0, !boundary.failsBefore, `${kind}: v1.${boundary.since} ${boundary.failsBefore ? 'should pass' : 'should fail'}`);
        if (boundary.alwaysFails) {
          const always = boundary.alwaysFails(kind);
          for (const version of [v(boundary.since - 1), v(boundary.since)]) assert.ok(judge(always, version) > 0, `${kind}: the always-failing pod passes at ${version}`);
        }
        // The compliant pod passes on both sides.
        for (const version of [v(boundary.since - 1), v(boundary.since)]) assert.equal(judge(podWith(undefined), version, {}), 0, `${kind}: the compliant pod fails at ${version}`);
      }
    });
  }

  it('every boundary of every table is covered above', () => {
    const covered = new Set(boundaries.map((boundary) => `${boundary.rule}@${boundary.since}`));
    const expected = [
      'disallow-host-probes@34', 'restrict-selinux@31', 'restrict-proc-mount@35', 'restrict-seccomp@19', 'restrict-seccomp@25', 'disallow-capabilities@25',
      'disallow-privilege-escalation@8', 'disallow-privilege-escalation@25', 'run-as-non-root@35', 'disallow-root-user@23', 'disallow-root-user@35',
      'seccomp-profile@19', 'seccomp-profile@25', 'restrict-capabilities@22', 'restrict-capabilities@25',
      'restrict-sysctls@27', 'restrict-sysctls@29', 'restrict-sysctls@32', 'restrict-sysctls@37',
    ];
    assert.deepEqual(expected.filter((key) => !covered.has(key)), []);
  });
});

describe('Pod Security rules: cases upstream decides differently from what SecureStack did before', () => {
  it('capability names are compared exactly: chown and CAP_CHOWN are not CHOWN, cap_net_bind_service is not NET_BIND_SERVICE', () => {
    for (const kind of kinds) {
      for (const add of ['chown', 'CAP_CHOWN', 'Chown']) assert.equal(run('disallow-capabilities', podWith(kind, sc({ capabilities: { add: [add] } }))).length, 1, `${kind} ${add}`);
      assert.equal(run('disallow-capabilities', podWith(kind, sc({ capabilities: { add: ['CHOWN'] } }))).length, 0, kind);
      for (const add of ['cap_net_bind_service', 'net_bind_service', 'CAP_NET_BIND_SERVICE']) {
        assert.equal(run('restrict-capabilities', podWith(kind, sc({ capabilities: { drop: ['ALL'], add: [add] } }))).length, 1, `${kind} ${add}`);
      }
      assert.equal(run('restrict-capabilities', podWith(kind, sc({ capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }))).length, 0, kind);
      assert.equal(run('restrict-capabilities', podWith(kind, sc({ capabilities: { drop: ['all'] } }))).length, 1, `${kind}: drop all`);
    }
  });

  it('the 1.37 sysctls fail at v1.36 and pass at v1.37 and latest', () => {
    for (const name of ['net.ipv4.tcp_slow_start_after_idle', 'net.ipv4.tcp_notsent_lowat']) {
      const pod = podWith(undefined, {}, { securityContext: { sysctls: [{ name, value: '1' }] } });
      assert.deepEqual(
        ['v1.36', 'v1.37', 'latest', 'v1.99'].map((version) => run('restrict-sysctls', pod, { version }).length),
        [1, 0, 0, 0],
        name,
      );
    }
  });

  it('hostUsers: false relaxes runAsNonRoot and runAsUser from v1.35 at any level, procMount only at baseline', () => {
    const pod = (kind: Kind, hostUsers: boolean): Json => podWith(kind, sc({ runAsNonRoot: false, runAsUser: 0, procMount: 'Unmasked' }), { hostUsers });
    for (const kind of kinds) {
      for (const version of ['v1.34', 'v1.35', 'latest']) {
        const relaxed = version !== 'v1.34';
        for (const id of ['run-as-non-root', 'disallow-root-user']) {
          assert.equal(run(id, pod(kind, false), { version }).length === 0, relaxed, `${kind} ${id} ${version}`);
          assert.ok(run(id, pod(kind, true), { version }).length > 0, `${kind} ${id} ${version} hostUsers: true`);
        }
        assert.equal(run('restrict-proc-mount', pod(kind, false), { version, level: 'baseline' }).length === 0, relaxed, `${kind} procMount baseline ${version}`);
        assert.ok(run('restrict-proc-mount', pod(kind, false), { version, level: 'restricted' }).length > 0, `${kind} procMount restricted ${version}`);
        assert.equal(run('restrict-proc-mount', pod(kind, false), { version, level: 'restricted', allowInUserNamespaces: true }).length, 0, 'the extension relaxes at any version');
      }
    }
  });

  it('profiles set without a type are refused; null fields count as unset', () => {
    for (const kind of kinds) {
      assert.equal(run('restrict-seccomp', podWith(kind, sc({ seccompProfile: {} }))).length, 1, kind);
      assert.equal(run('restrict-apparmor', podWith(kind, sc({ appArmorProfile: {} }))).length, 1, kind);
      assert.equal(run('restrict-apparmor', podWith(kind, sc({ appArmorProfile: null }))).length, 0, kind);
      assert.equal(run('run-as-non-root', podWith(kind, sc({ runAsNonRoot: null }))).length, 0, `${kind}: null inherits the pod's true`);
      assert.equal(run('disallow-privilege-escalation', podWith(kind, sc({ allowPrivilegeEscalation: null }))).length, 1, kind);
    }
    const podLevel = run('seccomp-profile', podWith(undefined, {}, { securityContext: { runAsNonRoot: true, seccompProfile: {} } }));
    assert.deepEqual(podLevel.map((finding) => finding.field), ['spec.securityContext.seccompProfile.type']);
    assert.equal(podLevel[0]?.message, 'pod sets securityContext.seccompProfile without a type');
  });

  it('the pre-1.19 seccomp annotations: pod and per container, runtime/default, docker/default and localhost/ allowed', () => {
    const judge = (annotations: Json): Finding[] => run('restrict-seccomp', podWith(undefined), { version: 'v1.18' }, { annotations });
    assert.deepEqual(judge({ 'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default', 'container.seccomp.security.alpha.kubernetes.io/app': 'docker/default', 'container.seccomp.security.alpha.kubernetes.io/init': 'localhost/p.json' }), []);
    const findings = judge({ 'seccomp.security.alpha.kubernetes.io/pod': '', 'container.seccomp.security.alpha.kubernetes.io/debug': 'unconfined', 'container.seccomp.security.alpha.kubernetes.io/gone': 'unconfined' });
    assert.deepEqual(findings.map((finding) => finding.field), ['metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"]', 'metadata.annotations["container.seccomp.security.alpha.kubernetes.io/debug"]']);
    assert.equal(findings[1]?.image, image, 'a container annotation finding carries its image');
    assert.deepEqual(run('restrict-seccomp', podWith(undefined), { version: 'v1.19' }, { annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' } }), [], 'ignored from v1.19');
  });
});
