// Renders docs/rules.md from the rule catalog, so the reference cannot drift from the code.
// Run: npm run build && npm run gen-rules-doc. test/policy-rules.test.ts fails when the committed
// file differs from renderRulesDoc().
import * as fs from 'node:fs';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { packageRoot } from '../operator/api/schema';
import { catalog, exampleFacts, exampleParameters, ruleSetNames, ruleSets } from '../operator/engine/rules';
import { isRecord } from '../operator/engine/rules/util';
import type { KubeObject, Rule, RuleFamily } from '../operator/engine/types';
import { podTemplateOf } from '../operator/engine/workload';

const familyTitles: Record<RuleFamily, string> = {
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

interface ParameterRow {
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

// ---------------------------------------------------------------------------------------------
// Rendering

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function manifest(object: KubeObject): string {
  return ['```yaml', yaml.dump(object, { lineWidth: 120, noRefs: true }).trimEnd(), '```'].join('\n');
}

function setsOf(rule: Rule): string[] {
  return ruleSetNames.filter((set) => ruleSets[set].includes(rule.id));
}

/** What the rule says about its failing example, with the parameters the examples are judged by. */
function exampleFindings(rule: Rule): string[] {
  const parameters = { ...defaultsOf(rule), ...(exampleParameters(rule.id) ?? {}) };
  const object = rule.examples.fail;
  let findings;
  if (rule.target === 'pod') {
    const pod = podTemplateOf(object);
    findings = pod ? rule.check(pod, parameters) : [];
  } else {
    findings = rule.check(object, parameters, exampleFacts);
  }
  return findings.map((finding) => `- \`${finding.field}\`: ${finding.message}`);
}

/** The schema's top-level defaults, as ajv's useDefaults fills them in. */
function defaultsOf(rule: Rule): Record<string, unknown> {
  const properties = rule.parameters?.properties;
  if (!isRecord(properties)) return {};
  const defaults: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (isRecord(property) && property.default !== undefined) defaults[name] = structuredClone(property.default);
  }
  return defaults;
}

function ruleSection(rule: Rule): string {
  const lines: string[] = [`### ${rule.id}`, '', `**${rule.title}**`, ''];
  const sets = setsOf(rule);
  lines.push(
    `- Family: ${familyTitles[rule.family]}`,
    `- Default severity: ${rule.severity}`,
    `- Rule sets: ${sets.length > 0 ? sets.map((set) => `\`${set}\``).join(', ') : 'none (enable it in `spec.rules`)'}`,
    `- Applies to: ${rule.target === 'pod' ? 'Pods and the pod templates of ReplicationControllers, PodTemplates, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs' : rule.kinds.map((kind) => (kind.group ? `${kind.kind} (${kind.group})` : kind.kind)).join(', ')}`,
    `- Reports: ${(reportedFields[rule.id] ?? []).map((field) => `\`${field}\``).join(', ')}`,
    ...(rule.backgroundOnly ? ['- Background only: needs the cluster\'s state beside the object; admission skips it (see [Background-only rules](#background-only-rules))'] : []),
    '',
    rule.description,
    '',
    `**Remediation:** ${rule.remediation}`,
    '',
  );
  const rows = parameterRows(rule);
  if (rows.length > 0) {
    lines.push('**Parameters:**', '', '| Name | Type | Default | Meaning |', '|---|---|---|---|');
    for (const row of rows) lines.push(`| \`${row.name}\` | ${cell(row.type)} | ${cell(row.default)} | ${cell(row.meaning)} |`);
    lines.push('');
  } else {
    lines.push('**Parameters:** none.', '');
  }
  const parameters = exampleParameters(rule.id);
  if (parameters) lines.push('The examples are judged with these parameters:', '', manifest(parameters), '');
  if (rule.backgroundOnly) lines.push('The examples are judged in a cluster with these NetworkPolicies per namespace:', '', manifest(Object.fromEntries(exampleFacts.networkPolicies)), '');
  lines.push('**Fails:**', '', manifest(rule.examples.fail), '', 'Findings:', '', ...exampleFindings(rule), '');
  lines.push('**Passes:**', '', manifest(rule.examples.pass), '');
  return lines.join('\n');
}

const intro = `# Built-in rules

<!-- Generated from the rule catalog by tools/rules-doc.ts. Do not edit by hand:
     run \`npm run build && npm run gen-rules-doc\`. -->

A ScanPolicy applies built-in rules to the objects it matches. The same rules answer in admission,
in the background audit, in ComplianceReports and in the CLI. Pod rules read the pod of a Pod or of
a pod controller's template (ReplicationController, PodTemplate, Deployment, ReplicaSet,
StatefulSet, DaemonSet, Job, CronJob), so a Deployment is judged at \`kubectl apply\`, not only its
Pods later. Every pod rule looks at containers, init containers and ephemeral containers unless its
section says otherwise.

## Turning rules on

\`spec.ruleSets\` turns on whole rule sets; \`spec.rules\` turns on single rules and tunes rules of
the sets:

\`\`\`yaml
apiVersion: securestack.io/v1alpha1
kind: ScanPolicy
metadata:
  name: restricted-workloads
spec:
  mode: Enforce
  ruleSets: [pss-restricted]
  rules:
    - id: restrict-capabilities        # tune a rule of the set
      parameters:
        allowedAdd: []
    - id: disallow-host-path           # raise its severity
      severity: CRITICAL
    - id: restrict-seccomp             # turn a rule of the set off
      enabled: false
    - id: allowed-registries           # a rule outside the set
      parameters:
        registries: [registry.example.com]
\`\`\`

Each entry of \`spec.rules\` has:

- \`id\`: the rule, as in the headings below.
- \`enabled\`: \`false\` turns the rule off, including when a rule set turned it on. Default \`true\`.
- \`severity\`: overrides the rule's default severity (\`CRITICAL\`, \`HIGH\`, \`MEDIUM\`, \`LOW\`).
- \`parameters\`: the rule's parameters, checked against the rule's schema when the policy is
  compiled; a parameter left out takes its default. A policy with invalid parameters is not applied
  and says why in its status.

A violation carries the rule id, the field path in the object (for example
\`spec.template.spec.containers[1].securityContext.privileged\`), a message naming the offending
value and, for container findings, the container's image, which exceptions by image match.
When a field that must be set is missing, the path names the field if its parent exists, else
the nearest missing ancestor (\`spec.containers[0].securityContext\`).

## Background-only rules

A few rules judge an object by what else the cluster holds: \`require-network-policy\` reports a
Namespace without NetworkPolicies. They run only in evaluations given cluster facts (what the caller
listed beside the object) and are skipped in the others: admission never runs them, because a
Namespace is always created before its NetworkPolicies and would otherwise be denied every time.
The ScanPolicy background audit and ComplianceReports count NetworkPolicies per namespace and run
them. A namespace the facts do not cover is not reported. Their sections say "Background only".

## Pod Security Standards versions

The pod-security rules give, check by check, the verdict of the Kubernetes Pod Security admission
controller (k8s.io/pod-security-admission, as of Kubernetes 1.37) at a version of the standard:
\`spec.podSecurityVersion\` (\`latest\`, the default, or \`v1.<minor>\`, like the
\`pod-security.kubernetes.io/enforce-version\` namespace label) is handed to every pod-security rule
as its \`version\` parameter, unless the rule's own parameters set one. A version newer than the
newest known behaves as \`latest\`; checks a version did not have yet (for example the probe host
check before v1.34) pass everything. Where the Restricted level replaces a Baseline check with its
own (capabilities, seccomp, procMount), the Baseline rule takes a \`level\` parameter: the policy
sets it to \`restricted\` when any pod-security-restricted rule is on, else \`baseline\`.
test/pod-security-conformance.test.ts compares both rule sets with the upstream evaluator at every
version.

## Rule sets

| Rule set | Rules |
|---|---|
`;

function ruleSetTable(): string {
  const notes: Record<string, string> = {
    'pss-baseline': 'The Baseline level of the Pod Security Standards.',
    'pss-restricted': 'The Restricted level of the Pod Security Standards; like the standard, it includes every Baseline rule.',
    'best-practices': 'Workload hygiene. Rules that need parameters (allowed-registries) are in no set.',
    rbac: 'Roles, ClusterRoles and bindings that grant too much. An omitted `spec.match.kinds` selects the kinds the enabled rules read, so these rules see Roles, ClusterRoles, RoleBindings and ClusterRoleBindings without listing them.',
  };
  return ruleSetNames.map((set) => `| \`${set}\` | ${notes[set] ?? ''} ${ruleSets[set].map((id) => `[${id}](#${id})`).join(', ')} |`).join('\n');
}

function ruleTable(): string {
  const lines = ['| Rule | Title | Family | Severity | Rule sets |', '|---|---|---|---|---|'];
  for (const rule of catalog) {
    lines.push(`| [\`${rule.id}\`](#${rule.id}) | ${cell(rule.title)} | ${familyTitles[rule.family]} | ${rule.severity} | ${setsOf(rule).join(', ') || '—'} |`);
  }
  return lines.join('\n');
}

/** The full text of docs/rules.md. */
export function renderRulesDoc(): string {
  const parts = [intro + ruleSetTable(), '', '## All rules', '', ruleTable(), ''];
  for (const family of Object.keys(familyTitles) as RuleFamily[]) {
    const rules = catalog.filter((rule) => rule.family === family);
    if (rules.length === 0) continue;
    parts.push(`## ${familyTitles[family]}`, '', ...rules.map(ruleSection));
  }
  return `${parts.join('\n').trimEnd()}\n`;
}

export function rulesDocPath(): string {
  return path.join(packageRoot(), 'docs', 'rules.md');
}

if (require.main === module) {
  const file = rulesDocPath();
  fs.writeFileSync(file, renderRulesDoc());
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
