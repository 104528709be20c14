/**
 * Hardening the Pod Security Standards leave out and the CIS Kubernetes Benchmark and the
 * NSA/CISA guidance ask for: raw sockets, Secrets handed over as environment variables, the
 * default ServiceAccount and namespace, and namespaces that no NetworkPolicy isolates. In no rule
 * set: turn them on by id, or through a compliance framework that names them.
 */
import type { Finding, KubeObject, ObjectRule, PodRule, PodTemplateView } from '../types';
import { containersOf, groupOf, isWindowsPod, podKinds } from '../workload';
import { arrayOf, containerLabel, containerSecurityContext, exampleDeployment, examplePod, globMatch, imageOf, isRecord, joinPath, pathToward, show, stringList } from './util';

/**
 * A capability name as container runtimes read it: containerd and CRI-O upper-case names and add
 * CAP_ when missing, so `net_raw` and `CAP_NET_RAW` grant NET_RAW too. (Pod Security compares names
 * exactly as upstream does; this rule is about what the container gets.)
 */
function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

const family = 'hardening' as const;

// ---------------------------------------------------------------------------------------------
// Containers

const disallowNetRaw: PodRule = {
  id: 'disallow-net-raw',
  title: 'NET_RAW must be dropped',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'containerd and Docker grant NET_RAW by default. It lets a process forge packets, answer ARP and DNS for its ' +
    'neighbours on the node\'s bridge and intercept their traffic, while few programs need it (ping uses ICMP sockets ' +
    'today). Every container must drop NET_RAW or ALL, and must not add NET_RAW back (an added capability wins over a ' +
    'dropped one). Names are compared case-insensitively, with or without the CAP_ prefix. Windows pods are exempt.',
  remediation: 'Set securityContext.capabilities.drop: ["ALL"] (or at least NET_RAW) on every container, and do not add NET_RAW.',
  examples: {
    fail: examplePod('diagnostics', {
      containers: [
        { name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { capabilities: { drop: ['ALL'] } } },
        { name: 'pinger', image: 'registry.example.com/tools/ping:1.0.0', securityContext: { capabilities: { add: ['NET_RAW'] } } },
      ],
    }),
    pass: examplePod('diagnostics', {
      containers: [
        { name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { capabilities: { drop: ['ALL'] } } },
        { name: 'pinger', image: 'registry.example.com/tools/ping:1.0.0', securityContext: { capabilities: { drop: ['NET_RAW'] } } },
      ],
    }),
  },
  check(pod) {
    if (isWindowsPod(pod)) return [];
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      const capabilities = containerSecurityContext(view)?.capabilities;
      const dropped = arrayOf(capabilities?.drop).some((name) => name === 'ALL' || (typeof name === 'string' && normalizeCapability(name) === 'NET_RAW'));
      if (!dropped) {
        findings.push({
          field: pathToward(view.path, view.container, ['securityContext', 'capabilities', 'drop']),
          message: `${containerLabel(view)} does not drop NET_RAW (or ALL)`,
          ...imageOf(view),
        });
      }
      arrayOf(capabilities?.add).forEach((name, index) => {
        if (typeof name !== 'string' || normalizeCapability(name) !== 'NET_RAW') return;
        findings.push({ field: joinPath(view.path, 'securityContext', 'capabilities', 'add', index), message: `${containerLabel(view)} adds capability ${show(name)}`, ...imageOf(view) });
      });
    }
    return findings;
  },
};

const disallowEnvFromSecrets: PodRule = {
  id: 'disallow-env-from-secrets',
  title: 'Secrets as files, not environment variables',
  family,
  severity: 'LOW',
  target: 'pod',
  description:
    'Environment variables leak: into crash reports and logs that print the environment, into every child process, ' +
    'and to anyone who can read /proc/<pid>/environ or inspect the container. A Secret mounted as a file stays in a ' +
    'tmpfs readable by the container alone and follows updates of the Secret. Reported: env[].valueFrom.secretKeyRef ' +
    'and envFrom[].secretRef in every container. Literal credentials in env[].value are the concern of disallow-secrets-in-env.',
  remediation: 'Mount the Secret as a volume and have the application read the file (many accept a *_FILE variable naming it).',
  examples: {
    fail: exampleDeployment('api', {
      containers: [
        {
          name: 'api',
          image: 'registry.example.com/api:2.3.1',
          env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'api-db', key: 'password' } } }],
          envFrom: [{ secretRef: { name: 'api-keys' } }],
        },
      ],
    }),
    pass: exampleDeployment('api', {
      containers: [
        {
          name: 'api',
          image: 'registry.example.com/api:2.3.1',
          env: [{ name: 'DB_PASSWORD_FILE', value: '/run/secrets/db/password' }],
          volumeMounts: [{ name: 'db', mountPath: '/run/secrets/db', readOnly: true }],
        },
      ],
      volumes: [{ name: 'db', secret: { secretName: 'api-db' } }],
    }),
  },
  check(pod) {
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      arrayOf(view.container.env).forEach((variable, index) => {
        const reference = isRecord(variable) && isRecord(variable.valueFrom) ? variable.valueFrom.secretKeyRef : undefined;
        if (!isRecord(reference)) return;
        findings.push({
          field: joinPath(view.path, 'env', index, 'valueFrom', 'secretKeyRef'),
          message: `${containerLabel(view)} takes env ${show(isRecord(variable) ? variable.name : undefined)} from Secret ${show(reference.name)}`,
          ...imageOf(view),
        });
      });
      arrayOf(view.container.envFrom).forEach((source, index) => {
        const reference = isRecord(source) ? source.secretRef : undefined;
        if (!isRecord(reference)) return;
        findings.push({ field: joinPath(view.path, 'envFrom', index, 'secretRef'), message: `${containerLabel(view)} takes every key of Secret ${show(reference.name)} as env`, ...imageOf(view) });
      });
    }
    return findings;
  },
};

// ---------------------------------------------------------------------------------------------
// Identity

/** The ServiceAccount a pod runs as and the field naming it; none named means "default", as the API server fills in. */
function serviceAccountOf(pod: PodTemplateView): { name: string; field: string; named: boolean } {
  const spec = pod.spec as unknown as Record<string, unknown>;
  // serviceAccount is the deprecated spelling; serviceAccountName wins when both are set.
  for (const field of ['serviceAccountName', 'serviceAccount']) {
    const value = spec[field];
    if (typeof value === 'string' && value !== '') return { name: value, field: joinPath(pod.specPath, field), named: true };
  }
  return { name: 'default', field: joinPath(pod.specPath, 'serviceAccountName'), named: false };
}

/** Projected volume sources that mount a ServiceAccount token explicitly. */
function tokenProjections(pod: PodTemplateView): Finding[] {
  const findings: Finding[] = [];
  arrayOf(pod.spec.volumes).forEach((volume, index) => {
    if (!isRecord(volume) || !isRecord(volume.projected)) return;
    arrayOf(volume.projected.sources).forEach((source, position) => {
      if (!isRecord(source) || !isRecord(source.serviceAccountToken)) return;
      findings.push({
        field: joinPath(pod.specPath, 'volumes', index, 'projected', 'sources', position, 'serviceAccountToken'),
        message: `volume ${show(volume.name)} projects a token of the default ServiceAccount`,
      });
    });
  });
  return findings;
}

const disallowDefaultServiceAccount: PodRule = {
  id: 'disallow-default-service-account',
  title: 'No API access as the default ServiceAccount',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'Every pod that names no ServiceAccount runs as its namespace\'s default one, so permissions granted to it for one ' +
    'workload reach all of them, and nothing ties an API call to the workload that made it. A pod is reported when it ' +
    'runs as the default ServiceAccount (named so, or naming none) and can use its token: automountServiceAccountToken ' +
    'is not false in the pod spec, or a projected volume mounts a token. A pod of the default ServiceAccount without a ' +
    'token does not use it, and passes.',
  remediation: 'Create a ServiceAccount per workload and set spec.serviceAccountName; or set automountServiceAccountToken: false when the pod needs no API access.',
  examples: {
    fail: exampleDeployment('api', { containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1' }] }),
    pass: exampleDeployment('api', { serviceAccountName: 'api', containers: [{ name: 'api', image: 'registry.example.com/api:2.3.1' }] }),
  },
  check(pod) {
    const account = serviceAccountOf(pod);
    if (account.name !== 'default') return [];
    const automount = pod.spec.automountServiceAccountToken;
    if (automount === false) return tokenProjections(pod);
    const who = account.named ? 'pod runs as the default ServiceAccount' : 'pod names no ServiceAccount, so runs as the default one,';
    const token = automount === true ? 'sets automountServiceAccountToken=true' : 'does not set automountServiceAccountToken=false';
    return [{ field: account.field, message: `${who} and ${token}` }];
  },
};

// ---------------------------------------------------------------------------------------------
// Namespaces

const defaultNamespaceKinds: readonly { group: string; kind: string }[] = [...podKinds, { group: '', kind: 'Service' }];

function describeNamed(object: KubeObject): string {
  return `${object.kind ?? 'object'} ${JSON.stringify(object.metadata?.name ?? object.metadata?.generateName ?? '?')}`;
}

const disallowDefaultNamespace: ObjectRule = {
  id: 'disallow-default-namespace',
  title: 'Workloads stay out of the default namespace',
  family,
  severity: 'LOW',
  target: 'object',
  kinds: defaultNamespaceKinds,
  description:
    'Objects created without a namespace land in default, where RBAC, NetworkPolicies, quotas and Pod Security labels ' +
    'are rarely set up, and where everything anyone deployed in a hurry meets. Reported: Pods, pod controllers and ' +
    'Services in default, except the kubernetes Service the API server keeps there. The rule reads metadata.namespace, ' +
    'which the API server fills in from the request before admission webhooks see the object.',
  remediation: 'Create a namespace for the application, with its RBAC and NetworkPolicies, and deploy there.',
  examples: {
    fail: { ...exampleDeployment('web', { containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1' }] }), metadata: { name: 'web', namespace: 'default' } },
    pass: { ...exampleDeployment('web', { containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1' }] }), metadata: { name: 'web', namespace: 'shop' } },
  },
  check(object) {
    if (object.metadata?.namespace !== 'default' || !defaultNamespaceKinds.some((kind) => kind.group === groupOf(object.apiVersion) && kind.kind === object.kind)) return [];
    if (object.kind === 'Service' && object.metadata.name === 'kubernetes') return [];
    return [{ field: 'metadata.namespace', message: `${describeNamed(object)} is in the default namespace` }];
  },
};

const defaultExemptNamespaces: readonly string[] = ['kube-public', 'kube-node-lease'];

const requireNetworkPolicy: ObjectRule = {
  id: 'require-network-policy',
  title: 'Every namespace has a NetworkPolicy',
  family,
  severity: 'MEDIUM',
  target: 'object',
  kinds: [{ group: '', kind: 'Namespace' }],
  backgroundOnly: true,
  description:
    'Without a NetworkPolicy selecting them, pods accept connections from every pod in the cluster and reach every ' +
    'other: one compromised workload can talk to all databases. A Namespace is reported when it holds no NetworkPolicy ' +
    'at all; whether the policies it has isolate enough is not judged (a default-deny policy is the usual first). The ' +
    'rule needs the cluster\'s NetworkPolicies, which an evaluation has only when its caller listed them (cluster ' +
    'facts): admission has none and skips the rule, since every Namespace is created before its policies can exist. ' +
    'Namespaces the facts do not cover are not reported. kube-public and kube-node-lease hold no pods and are exempt by default.',
  remediation: 'Add a NetworkPolicy to the namespace: start with a default deny of ingress, then allow what the workloads need.',
  parameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      exemptNamespaces: {
        type: 'array',
        description: 'Namespaces (by name; "*" matches any run of characters) that need no NetworkPolicy.',
        maxItems: 64,
        items: { type: 'string', minLength: 1, maxLength: 63 },
        default: [...defaultExemptNamespaces],
      },
    },
  },
  examples: {
    fail: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    pass: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments' } },
  },
  check(object, parameters, facts) {
    const name = object.metadata?.name;
    if (object.kind !== 'Namespace' || !name) return [];
    if (stringList(parameters, 'exemptNamespaces', defaultExemptNamespaces).some((pattern) => globMatch(pattern, name))) return [];
    if (facts?.networkPolicyCount(name) !== 0) return [];
    return [{ field: 'metadata.name', message: `Namespace ${JSON.stringify(name)} has no NetworkPolicy` }];
  },
};

export const hardeningRules: readonly (PodRule | ObjectRule)[] = [
  disallowNetRaw,
  disallowEnvFromSecrets,
  disallowDefaultServiceAccount,
  disallowDefaultNamespace,
  requireNetworkPolicy,
];
