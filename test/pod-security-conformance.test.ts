// Differential conformance of the Pod Security rules with upstream: for every pod of a corpus, at
// both levels and at every version from v1.0 to v1.37, latest and a future v1.99, SecureStack's
// pss-baseline / pss-restricted rule sets must reach the verdict of the upstream Pod Security
// admission evaluator (k8s.io/pod-security-admission, run by test/pss-oracle), and fail for the
// same checks. The corpus: upstream's own test fixtures (every pod of its test/testdata) plus
// mutations for the cases SecureStack once got wrong (capability spellings, hostUsers: false,
// Windows pods, profiles without a type, null fields, each container kind).
//
// Needs the oracle built: test/run.sh builds it (bash test/pss-oracle/build.sh) and passes its
// folder in SECURESTACK_PSS_ORACLE. Without it the test fails, saying so; it never skips.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import yaml from 'js-yaml';
import { compilePolicy, type CompiledPolicy } from '../operator/engine/compile';
import { ruleViolations, subjectOf } from '../operator/engine/evaluate';
import { newestPodSecurityMinor } from '../operator/engine/pod-security-version';
import type { KubeObject } from '../operator/engine/types';

type Level = 'baseline' | 'restricted';
type Json = Record<string, unknown>;

const levels: readonly Level[] = ['baseline', 'restricted'];
const versions: readonly string[] = [...Array.from({ length: newestPodSecurityMinor + 1 }, (_, minor) => `v1.${minor}`), 'latest', 'v1.99'];

const buildCommand = 'SECURESTACK_PSS_ORACLE="$(bash test/pss-oracle/build.sh)" node --test dist/test/pod-security-conformance.test.js';

/** The oracle's folder (binary and upstream fixtures), or a failure naming the command that builds it. */
function oracleFolder(): string {
  const folder = process.env.SECURESTACK_PSS_ORACLE ?? '';
  const ready = folder !== '' && existsSync(path.join(folder, 'pss-oracle')) && existsSync(path.join(folder, 'fixtures'));
  assert.ok(
    ready,
    `the Pod Security oracle is not built${folder ? ` (nothing at ${folder})` : ' (SECURESTACK_PSS_ORACLE is not set)'}: ` +
      `run \`bash test/run.sh --unit\`, which builds it, or build it and run this file with: ${buildCommand}`,
  );
  return folder;
}

// ---------------------------------------------------------------------------------------------
// Corpus

/** Every pod of upstream's fixtures (testdata/<level>/<version>/<pass|fail>/*.yaml), names dropped, without repeats. */
function upstreamPods(fixtures: string): { pods: Json[]; files: number; expected: { pod: string; level: Level; version: string; allowed: boolean }[] } {
  const unique = new Map<string, Json>();
  const expected: { pod: string; level: Level; version: string; allowed: boolean }[] = [];
  let files = 0;
  for (const level of levels) {
    for (const version of readdirSync(path.join(fixtures, level))) {
      for (const verdict of ['pass', 'fail'] as const) {
        const dir = path.join(fixtures, level, version, verdict);
        if (!existsSync(dir)) continue;
        for (const file of readdirSync(dir).filter((name) => name.endsWith('.yaml'))) {
          files++;
          const pod = yaml.load(readFileSync(path.join(dir, file), 'utf8')) as Json;
          const metadata = { ...(pod.metadata as Json) };
          delete metadata.name;
          const key = JSON.stringify({ metadata, spec: pod.spec });
          unique.set(key, { metadata, spec: pod.spec });
          expected.push({ pod: key, level, version, allowed: verdict === 'pass' });
        }
      }
    }
  }
  return { pods: [...unique.values()], files, expected };
}

const image = 'registry.k8s.io/pause';

/** A pod that passes Restricted at every version, with one container of each kind. */
function restrictedPod(): Json {
  const context = () => ({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  return {
    metadata: {},
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      initContainers: [{ name: 'init', image, securityContext: context() }],
      containers: [{ name: 'app', image, securityContext: context() }],
      ephemeralContainers: [{ name: 'debug', image, securityContext: context() }],
    },
  };
}

type Mutation = (pod: Json) => void;
const kinds = ['initContainers', 'containers', 'ephemeralContainers'] as const;

function spec(pod: Json): Json {
  return pod.spec as Json;
}
function container(pod: Json, kind: (typeof kinds)[number]): Json {
  return (spec(pod)[kind] as Json[])[0];
}
function containerContext(pod: Json, kind: (typeof kinds)[number]): Json {
  const entry = container(pod, kind);
  entry.securityContext ??= {};
  return entry.securityContext as Json;
}
function podContext(pod: Json): Json {
  spec(pod).securityContext ??= {};
  return spec(pod).securityContext as Json;
}
function annotate(pod: Json, key: string, value: string): void {
  pod.metadata = { annotations: { ...((pod.metadata as Json).annotations as Json | undefined), [key]: value } };
}

/** Changes at one container (of each kind, separately), each a case upstream decides one way or the other. */
const containerMutations: Record<string, (context: Json, entry: Json) => void> = {};
for (const add of ['CHOWN', 'chown', 'CAP_CHOWN', 'NET_BIND_SERVICE', 'net_bind_service', 'cap_net_bind_service', 'CAP_NET_BIND_SERVICE', 'SYS_ADMIN', 'NET_RAW', 'ALL', '']) {
  containerMutations[`add ${add}`] = (context) => void ((context.capabilities as Json).add = [add]);
}
for (const drop of [['all'], ['CAP_ALL'], ['NET_RAW'], [], ['NET_RAW', 'ALL']]) containerMutations[`drop ${drop.join(',')}`] = (context) => void ((context.capabilities as Json).drop = drop);
containerMutations['capabilities null'] = (context) => void (context.capabilities = null);
containerMutations['no securityContext'] = (_context, entry) => void delete entry.securityContext;
containerMutations['securityContext null'] = (_context, entry) => void (entry.securityContext = null);
for (const value of [true, null]) containerMutations[`allowPrivilegeEscalation ${String(value)}`] = (context) => void (context.allowPrivilegeEscalation = value);
for (const value of [true, false, null]) containerMutations[`privileged ${String(value)}`] = (context) => void (context.privileged = value);
for (const value of [false, true, null]) containerMutations[`runAsNonRoot ${String(value)}`] = (context) => void (context.runAsNonRoot = value);
for (const value of [0, 1000]) containerMutations[`runAsUser ${value}`] = (context) => void (context.runAsUser = value);
for (const value of ['Unmasked', 'Default', '']) containerMutations[`procMount ${value}`] = (context) => void (context.procMount = value);
for (const profile of [{ type: 'Unconfined' }, { type: 'Localhost', localhostProfile: 'p.json' }, {}, { type: '' }, null]) {
  containerMutations[`seccompProfile ${JSON.stringify(profile)}`] = (context) => void (context.seccompProfile = profile);
}
for (const profile of [{ type: 'Unconfined' }, { type: 'RuntimeDefault' }, {}, null]) containerMutations[`appArmorProfile ${JSON.stringify(profile)}`] = (context) => void (context.appArmorProfile = profile);
for (const options of [{ type: 'container_engine_t' }, { type: 'container_kvm_t' }, { type: 'spc_t' }, { user: 'root' }, { role: 'sysadm_r' }, { level: 's0:c1,c2' }, {}]) {
  containerMutations[`seLinuxOptions ${JSON.stringify(options)}`] = (context) => void (context.seLinuxOptions = options);
}
for (const value of [true, false]) containerMutations[`hostProcess ${String(value)}`] = (context) => void (context.windowsOptions = { hostProcess: value });
containerMutations['hostPort 8080'] = (_context, entry) => void (entry.ports = [{ containerPort: 80, hostPort: 8080 }]);
containerMutations['hostPort 0'] = (_context, entry) => void (entry.ports = [{ containerPort: 80, hostPort: 0 }]);
containerMutations['probe host'] = (_context, entry) => void (entry.readinessProbe = { httpGet: { host: '10.0.0.1', port: 80 } });
containerMutations['probe empty host'] = (_context, entry) => void (entry.livenessProbe = { tcpSocket: { host: '', port: 80 } });
containerMutations['lifecycle host'] = (_context, entry) => void (entry.lifecycle = { preStop: { httpGet: { host: 'example.com', port: 80 } } });

/** Changes at pod level. */
const podMutations: Record<string, Mutation> = {};
for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) podMutations[`${field}`] = (pod) => void (spec(pod)[field] = true);
for (const value of [false, true]) podMutations[`hostUsers ${String(value)}`] = (pod) => void (spec(pod).hostUsers = value);
for (const name of ['linux', 'windows']) podMutations[`os ${name}`] = (pod) => void (spec(pod).os = { name });
for (const value of [false, null]) podMutations[`pod runAsNonRoot ${String(value)}`] = (pod) => void (podContext(pod).runAsNonRoot = value);
podMutations['pod runAsUser 0'] = (pod) => void (podContext(pod).runAsUser = 0);
podMutations['pod hostProcess'] = (pod) => void (podContext(pod).windowsOptions = { hostProcess: true });
for (const profile of [{ type: 'Unconfined' }, {}, null]) podMutations[`pod seccompProfile ${JSON.stringify(profile)}`] = (pod) => void (podContext(pod).seccompProfile = profile);
for (const profile of [{ type: 'Unconfined' }, {}]) podMutations[`pod appArmorProfile ${JSON.stringify(profile)}`] = (pod) => void (podContext(pod).appArmorProfile = profile);
for (const options of [{ type: 'container_engine_t' }, { type: 'unconfined_t' }, { user: 'u' }]) podMutations[`pod seLinuxOptions ${JSON.stringify(options)}`] = (pod) => void (podContext(pod).seLinuxOptions = options);
const sysctls = [
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem', 'net.ipv4.tcp_slow_start_after_idle', 'net.ipv4.tcp_notsent_lowat', 'net.core.somaxconn', 'kernel.msgmax',
];
for (const name of sysctls) podMutations[`sysctl ${name}`] = (pod) => void (podContext(pod).sysctls = [{ name, value: '1' }]);
for (const key of ['seccomp.security.alpha.kubernetes.io/pod', 'container.seccomp.security.alpha.kubernetes.io/app', 'container.seccomp.security.alpha.kubernetes.io/debug', 'container.seccomp.security.alpha.kubernetes.io/nobody']) {
  for (const value of ['unconfined', 'runtime/default', 'docker/default', 'localhost/p.json', '']) podMutations[`annotation ${key}=${value}`] = (pod) => annotate(pod, key, value);
}
for (const value of ['unconfined', 'runtime/default', 'localhost/p', '']) {
  podMutations[`annotation apparmor=${value}`] = (pod) => annotate(pod, 'container.apparmor.security.beta.kubernetes.io/init', value);
}
const volumeSources: Record<string, Json> = {
  configMap: { name: 'c' }, csi: { driver: 'd' }, downwardAPI: {}, emptyDir: {}, ephemeral: {}, image: { reference: 'r' }, persistentVolumeClaim: { claimName: 'c' },
  projected: {}, secret: {}, hostPath: { path: '/' }, nfs: { server: 's', path: '/' }, gitRepo: { repository: 'r' }, iscsi: { targetPortal: 't', iqn: 'i', lun: 0 },
  flexVolume: { driver: 'd' }, cephfs: { monitors: ['m'] }, fc: {}, azureFile: { secretName: 's', shareName: 's' },
};
for (const [source, value] of Object.entries(volumeSources)) podMutations[`volume ${source}`] = (pod) => void (spec(pod).volumes = [{ name: 'v', [source]: value }]);

/** Pods a mutation starts from: restricted-valid, and the same as Windows, in a user namespace, and both. */
const starts: Record<string, Mutation> = {
  plain: () => undefined,
  windows: (pod) => void (spec(pod).os = { name: 'windows' }),
  userNamespace: (pod) => void (spec(pod).hostUsers = false),
  bare: (pod) => {
    spec(pod).securityContext = undefined;
    for (const kind of kinds) delete container(pod, kind).securityContext;
  },
};

function mutatedPods(): Json[] {
  const pods: Json[] = [];
  const make = (start: Mutation, change: Mutation): void => {
    const pod = restrictedPod();
    start(pod);
    change(pod);
    pods.push(JSON.parse(JSON.stringify(pod)) as Json);
  };
  for (const start of Object.values(starts)) {
    make(start, () => undefined);
    for (const change of Object.values(podMutations)) make(start, change);
    for (const change of Object.values(containerMutations)) {
      for (const kind of kinds) {
        make(start, (pod) => {
          const context = containerContext(pod, kind);
          context.capabilities ??= { drop: ['ALL'] };
          change(context, container(pod, kind));
        });
      }
    }
  }
  // Pairs of the user-namespace relaxations with the checks they relax, on the bare pod too.
  for (const start of [starts.plain, starts.bare, starts.windows]) {
    for (const change of ['procMount Unmasked', 'runAsNonRoot false', 'runAsUser 0']) {
      make(start ?? (() => undefined), (pod) => {
        spec(pod).hostUsers = false;
        containerMutations[change]?.(containerContext(pod, 'ephemeralContainers'), container(pod, 'ephemeralContainers'));
      });
    }
  }
  return pods;
}

// ---------------------------------------------------------------------------------------------
// Verdicts

interface Verdict {
  allowed: boolean;
  reasons: string[];
}

interface OracleAnswer {
  allowed: boolean;
  forbidden: { reason: string; detail: string }[] | null;
  error?: string;
}

function askOracle(binary: string, requests: readonly { level: Level; version: string; pod: Json }[]): Verdict[] {
  const input = requests.map((request) => JSON.stringify(request)).join('\n');
  const run = spawnSync(binary, [], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  assert.equal(run.status, 0, `pss-oracle exited with ${String(run.status)}: ${run.stderr}`);
  const lines = run.stdout.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, requests.length, 'pss-oracle answered a different number of requests');
  return lines.map((line, index) => {
    const answer = JSON.parse(line) as OracleAnswer;
    assert.equal(answer.error, undefined, `pss-oracle could not judge ${JSON.stringify(requests[index])}: ${answer.error ?? ''}`);
    return { allowed: answer.allowed, reasons: (answer.forbidden ?? []).map((entry) => entry.reason) };
  });
}

/** Upstream's ForbiddenReason strings each of our rules stands for (overrides included: see docs/adr). */
const upstreamReasons: Readonly<Record<string, readonly string[]>> = {
  'disallow-host-process': ['hostProcess'],
  'disallow-host-namespaces': ['host namespaces'],
  'disallow-privileged': ['privileged'],
  // At Restricted, upstream's capabilities_restricted and restrictedVolumes report what these find.
  'disallow-capabilities': ['non-default capabilities', 'unrestricted capabilities'],
  'disallow-host-path': ['hostPath volumes', 'restricted volume types'],
  'disallow-host-ports': ['hostPort'],
  'disallow-host-probes': ['probe or lifecycle host'],
  'restrict-apparmor': ['forbidden AppArmor profile', 'forbidden AppArmor profiles'],
  'restrict-selinux': ['seLinuxOptions'],
  'restrict-proc-mount': ['procMount'],
  'restrict-seccomp': ['seccompProfile'],
  'restrict-sysctls': ['forbidden sysctls'],
  'restrict-volume-types': ['restricted volume types'],
  'disallow-privilege-escalation': ['allowPrivilegeEscalation != false'],
  'run-as-non-root': ['runAsNonRoot != true'],
  'disallow-root-user': ['runAsUser=0'],
  'seccomp-profile': ['seccompProfile'],
  'restrict-capabilities': ['unrestricted capabilities'],
};

function policyFor(level: Level, version: string): CompiledPolicy {
  const result = compilePolicy({
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ScanPolicy',
    metadata: { name: `${level}-${version}` },
    spec: { mode: 'Audit', ruleSets: [level === 'baseline' ? 'pss-baseline' : 'pss-restricted'], podSecurityVersion: version },
  });
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  return result.policy;
}

/** The ids of our rules that fail the pod under the policy. */
function failingRules(policy: CompiledPolicy, pod: Json): string[] {
  const object: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n', ...(pod.metadata as Json) }, spec: pod.spec };
  return [...new Set(ruleViolations(policy, subjectOf(object)).map((violation) => violation.ruleId))].sort();
}

/** Why ours and upstream's answers differ, or undefined when they agree (verdict and checks). */
function disagreement(ours: readonly string[], upstream: Verdict): string | undefined {
  if ((ours.length === 0) !== upstream.allowed) return `verdict: ours ${ours.length === 0 ? 'allowed' : 'denied'}, upstream ${upstream.allowed ? 'allowed' : 'denied'}`;
  const explained = new Set(ours.flatMap((id) => upstreamReasons[id] ?? []));
  const unexplained = upstream.reasons.filter((reason) => !explained.has(reason));
  const unfounded = ours.filter((id) => !(upstreamReasons[id] ?? []).some((reason) => upstream.reasons.includes(reason)));
  if (unexplained.length === 0 && unfounded.length === 0) return undefined;
  return `checks: upstream ${JSON.stringify(upstream.reasons)} not matched by ours (${unexplained.join(', ') || '-'}); ours ${ours.join(', ')} without an upstream reason (${unfounded.join(', ') || '-'})`;
}

describe('Pod Security conformance with upstream (k8s.io/pod-security-admission v0.37.2)', () => {
  it('every pod of the corpus gets upstream\'s verdict, for the same checks, at both levels and every version', () => {
    const folder = oracleFolder();
    const upstream = upstreamPods(path.join(folder, 'fixtures'));
    const pods = [...upstream.pods, ...mutatedPods()];
    const requests = pods.flatMap((pod) => levels.flatMap((level) => versions.map((version) => ({ level, version, pod }))));
    const answers = askOracle(path.join(folder, 'pss-oracle'), requests);

    // The oracle agrees with the fixtures' own pass/fail folders (it runs what upstream tests).
    const byRequest = new Map(requests.map((request, index) => [`${request.level} ${request.version} ${JSON.stringify(request.pod)}`, answers[index]]));
    for (const { pod, level, version, allowed } of upstream.expected) {
      assert.equal(byRequest.get(`${level} ${version} ${JSON.stringify(JSON.parse(pod))}`)?.allowed, allowed, `oracle vs upstream fixture ${level}/${version}: ${pod}`);
    }

    const policies = new Map(levels.flatMap((level) => versions.map((version) => [`${level} ${version}`, policyFor(level, version)] as const)));
    const problems: string[] = [];
    let denied = 0;
    requests.forEach((request, index) => {
      const answer = answers[index];
      const policy = policies.get(`${request.level} ${request.version}`);
      assert.ok(answer && policy);
      if (!answer.allowed) denied++;
      const why = disagreement(failingRules(policy, request.pod), answer);
      if (why) problems.push(`${request.level} ${request.version} ${JSON.stringify(request.pod)}\n    ${why}`);
    });
    console.log(`conformance corpus: ${upstream.files} upstream fixture files (${upstream.pods.length} distinct pods) + ${pods.length - upstream.pods.length} mutated pods; ${requests.length} verdicts (${denied} denials)`);
    assert.ok(upstream.pods.length > 300 && requests.length > 50_000, 'the corpus is smaller than expected');
    assert.ok(denied > requests.length / 4 && denied < (requests.length * 3) / 4, 'the corpus should exercise both verdicts');
    assert.deepEqual(problems.slice(0, 25), [], `${problems.length} disagreement(s) with upstream`);
  });
});
