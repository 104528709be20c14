/**
 * What the reference says about each rule beyond the catalog entry itself: its family's title,
 * the fields it reports, its parameters as a table, the rule sets it belongs to, and what it says
 * about its failing example. docs/rules.md (tools/rules-doc.ts) and `securestack rules explain`
 * render the same data, so the two cannot disagree. Pure: no I/O.
 */
import { exampleFacts, exampleParameters, ruleSetNames, ruleSets } from './index';
import { isRecord } from './util';
import type { Rule, RuleFamily } from '../types';
import { podTemplateOf } from '../workload';

export const familyTitles: Record<RuleFamily, string> = {
  'pod-security-baseline': 'Pod Security Standards: Baseline',
  'pod-security-restricted': 'Pod Security Standards: Restricted',
  'best-practices': 'Best practices',
  rbac: 'RBAC',
  hardening: 'Hardening',
};

const containerLists = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/** The same field under every container list. */
function inEveryContainer(...fields: string[]): string[] {
  return containerLists.flatMap((list) => fields.map((field) => `spec.${list}[*].${field}`));
}

function inContainersAndInit(...fields: string[]): string[] {
  return ['containers', 'initContainers'].flatMap((list) => fields.map((field) => `spec.${list}[*].${field}`));
}

const probeHostFields = ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle.postStart', 'lifecycle.preStop'].flatMap((owner) => [
  `${owner}.httpGet.host`,
  `${owner}.tcpSocket.host`,
]);

/**
 * Fields each rule reports, as paths in a Pod (`[*]` is any index); in a pod controller they sit
 * below the template (spec.template.spec..., spec.jobTemplate.spec.template.spec... for a CronJob).
 * A finding about a field that is not set names the field, or its nearest missing ancestor.
 */
export const reportedFields: Readonly<Record<string, readonly string[]>> = {
  'disallow-host-process': ['spec.securityContext.windowsOptions.hostProcess', ...inEveryContainer('securityContext.windowsOptions.hostProcess')],
  'disallow-host-namespaces': ['spec.hostNetwork', 'spec.hostPID', 'spec.hostIPC'],
  'disallow-privileged': inEveryContainer('securityContext.privileged'),
  'disallow-capabilities': inEveryContainer('securityContext.capabilities.add[*]'),
  'disallow-host-path': ['spec.volumes[*].hostPath'],
  'disallow-host-ports': inEveryContainer('ports[*].hostPort'),
  'disallow-host-probes': inEveryContainer(...probeHostFields),
  'restrict-apparmor': [
    'spec.securityContext.appArmorProfile.type',
    ...inEveryContainer('securityContext.appArmorProfile.type'),
    'metadata.annotations["container.apparmor.security.beta.kubernetes.io/*"]',
  ],
  'restrict-selinux': ['type', 'user', 'role'].flatMap((part) => [
    `spec.securityContext.seLinuxOptions.${part}`,
    ...inEveryContainer(`securityContext.seLinuxOptions.${part}`),
  ]),
  'restrict-proc-mount': inEveryContainer('securityContext.procMount'),
  'restrict-seccomp': [
    'spec.securityContext.seccompProfile.type',
    ...inEveryContainer('securityContext.seccompProfile.type'),
    'metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"]',
    'metadata.annotations["container.seccomp.security.alpha.kubernetes.io/*"]',
  ],
  'restrict-sysctls': ['spec.securityContext.sysctls[*].name'],
  'restrict-volume-types': ['spec.volumes[*].<type>'],
  'disallow-privilege-escalation': inEveryContainer('securityContext.allowPrivilegeEscalation'),
  'run-as-non-root': ['spec.securityContext.runAsNonRoot', ...inEveryContainer('securityContext.runAsNonRoot')],
  'disallow-root-user': ['spec.securityContext.runAsUser', ...inEveryContainer('securityContext.runAsUser')],
  'seccomp-profile': ['spec.securityContext.seccompProfile.type', ...inEveryContainer('securityContext.seccompProfile.type')],
  'restrict-capabilities': inEveryContainer('securityContext.capabilities.drop', 'securityContext.capabilities.add[*]'),
  'require-resource-requests': inContainersAndInit('resources.requests.<resource>'),
  'require-resource-limits': inContainersAndInit('resources.limits.<resource>'),
  'require-probes': inContainersAndInit('livenessProbe', 'readinessProbe', 'startupProbe'),
  'disallow-latest-tag': inEveryContainer('image'),
  'require-image-digest': inEveryContainer('image'),
  'require-image-pull-policy': inEveryContainer('imagePullPolicy'),
  'disallow-automount-service-account-token': ['spec.automountServiceAccountToken'],
  'read-only-root-filesystem': inContainersAndInit('securityContext.readOnlyRootFilesystem'),
  'allowed-registries': inEveryContainer('image'),
  'disallow-secrets-in-env': inEveryContainer('env[*].value'),
  'disallow-cluster-admin-binding': ['subjects[*]'],
  'disallow-wildcard-rbac': ['rules[*].verbs[*]', 'rules[*].apiGroups[*]', 'rules[*].resources[*]'],
  'disallow-pod-exec-attach': ['rules[*].resources[*]'],
  'disallow-rbac-escalation': ['rules[*].verbs[*]'],
  'disallow-secret-access': ['rules[*].resources[*]'],
  'disallow-pod-create': ['rules[*].resources[*]'],
  'disallow-persistent-volume-create': ['rules[*].resources[*]'],
  'disallow-node-proxy': ['rules[*].resources[*]'],
  'disallow-csr-approval': ['rules[*].resources[*]'],
  'disallow-webhook-configuration-write': ['rules[*].resources[*]'],
  'disallow-service-account-token-create': ['rules[*].resources[*]'],
  'disallow-net-raw': inEveryContainer('securityContext.capabilities.drop', 'securityContext.capabilities.add[*]'),
  'disallow-env-from-secrets': inEveryContainer('env[*].valueFrom.secretKeyRef', 'envFrom[*].secretRef'),
  'disallow-default-service-account': ['spec.serviceAccountName', 'spec.serviceAccount', 'spec.volumes[*].projected.sources[*].serviceAccountToken'],
  'disallow-default-namespace': ['metadata.namespace'],
  'require-network-policy': ['metadata.name'],
};

// ---------------------------------------------------------------------------------------------
// Parameters

export interface ParameterRow {
  name: string;
  type: string;
  default: string;
  meaning: string;
}

function bound(label: string, value: unknown): string {
  return typeof value === 'number' ? `${label} ${value}` : '';
}

function describeType(schema: Record<string, unknown>): string {
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((value) => `\`${String(value)}\``).join(', ')}`;
  const type = typeof schema.type === 'string' ? schema.type : 'any';
  if (type === 'array') {
    const items = !isRecord(schema.items) ? 'any' : Array.isArray(schema.items.enum) ? `values from ${describeType(schema.items).slice('one of '.length)}` : describeType(schema.items);
    const bounds = [bound('at least', schema.minItems), bound('at most', schema.maxItems)].filter((text) => text !== '').join(', ');
    return `list of ${items}${bounds ? ` (${bounds})` : ''}`;
  }
  if (type === 'integer' && typeof schema.minimum === 'number' && typeof schema.maximum === 'number') return `integer ${schema.minimum}–${schema.maximum}`;
  if (type === 'object' && isRecord(schema.properties)) {
    const required = Array.isArray(schema.required) ? schema.required : [];
    const fields = Object.entries(schema.properties).map(([name, property]) => {
      const optional = required.includes(name) ? '' : '?';
      return `${name}${optional}: ${isRecord(property) ? describeType(property) : 'any'}`;
    });
    return `object {${fields.join('; ')}}`;
  }
  return type;
}

function inlineValue(value: unknown): string {
  return `\`${JSON.stringify(value)}\``;
}

export function parameterRows(rule: Rule): ParameterRow[] {
  const schema = rule.parameters;
  if (!schema || !isRecord(schema.properties)) return [];
  const required = Array.isArray(schema.required) ? schema.required : [];
  return Object.entries(schema.properties).map(([name, property]) => {
    const node = isRecord(property) ? property : {};
    return {
      name,
      type: describeType(node),
      default: required.includes(name) ? 'required' : node.default === undefined ? '—' : inlineValue(node.default),
      meaning: typeof node.description === 'string' ? node.description : '',
    };
  });
}

export function setsOf(rule: Rule): string[] {
  return ruleSetNames.filter((set) => ruleSets[set].includes(rule.id));
}

/** What the rule says about its failing example, with the parameters the examples are judged by. */
export function exampleFindings(rule: Rule): Array<{ field: string; message: string }> {
  const parameters = { ...defaultsOf(rule), ...(exampleParameters(rule.id) ?? {}) };
  const object = rule.examples.fail;
  let findings;
  if (rule.target === 'pod') {
    const pod = podTemplateOf(object);
    findings = pod ? rule.check(pod, parameters) : [];
  } else {
    findings = rule.check(object, parameters, exampleFacts);
  }
  return findings.map(({ field, message }) => ({ field, message }));
}

/** The schema's top-level defaults, as ajv's useDefaults fills them in. */
export function defaultsOf(rule: Rule): Record<string, unknown> {
  const properties = rule.parameters?.properties;
  if (!isRecord(properties)) return {};
  const defaults: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (isRecord(property) && property.default !== undefined) defaults[name] = structuredClone(property.default);
  }
  return defaults;
}

/** The kinds a rule reads, as the reference words them. */
export function appliesTo(rule: Rule): string {
  if (rule.target === 'pod') return 'Pods and the pod templates of ReplicationControllers, PodTemplates, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs';
  return rule.kinds.map((kind) => (kind.group ? `${kind.kind} (${kind.group})` : kind.kind)).join(', ');
}
