/**
 * RBAC objects that hand out more power than a workload or a person usually needs. These rules
 * read Roles, ClusterRoles and their bindings as written; they do not resolve aggregation or
 * which subjects end up with which permissions.
 */
import type { Finding, KubeObject, ObjectRule } from '../types';
import { groupOf } from '../workload';
import { arrayOf, globMatch, isRecord, joinPath, recordList, stringList, stringsOf } from './util';

const family = 'rbac' as const;
const rbacGroup = 'rbac.authorization.k8s.io';
const roleKinds = [
  { group: rbacGroup, kind: 'Role' },
  { group: rbacGroup, kind: 'ClusterRole' },
] as const;
const bindingKinds = [
  { group: rbacGroup, kind: 'RoleBinding' },
  { group: rbacGroup, kind: 'ClusterRoleBinding' },
] as const;

function isKind(object: KubeObject, kinds: readonly { group: string; kind: string }[]): boolean {
  return kinds.some((entry) => entry.group === groupOf(object.apiVersion) && entry.kind === object.kind);
}

/** `ClusterRole "ops"`, `Role "team-a/deployer"`, for messages. */
function describeObject(object: KubeObject): string {
  const name = object.metadata?.name ?? object.metadata?.generateName ?? '?';
  const namespace = object.metadata?.namespace;
  return `${object.kind ?? 'object'} ${JSON.stringify(namespace ? `${namespace}/${name}` : name)}`;
}

// ---------------------------------------------------------------------------------------------
// Roles

/** Kubernetes' own user-facing ClusterRoles and the system: ones its components use. */
const defaultExemptClusterRoles: readonly string[] = ['cluster-admin', 'admin', 'edit', 'view', 'system:*'];

const exemptClusterRolesParameter = {
  type: 'object',
  additionalProperties: false,
  properties: {
    exemptClusterRoles: {
      type: 'array',
      description:
        'ClusterRoles (by name; "*" matches any run of characters) the rule skips. Namespaced Roles are never exempt by ' +
        'name, so a Role called "admin" in a team namespace is still checked.',
      maxItems: 64,
      items: { type: 'string', minLength: 1, maxLength: 253 },
      default: [...defaultExemptClusterRoles],
    },
  },
};

interface PolicyRuleView {
  index: number;
  verbs: string[];
  apiGroups: string[];
  resources: string[];
}

/** The policy rules of a Role or ClusterRole, unless it is an exempt ClusterRole. */
function policyRules(object: KubeObject, parameters: Record<string, unknown>): PolicyRuleView[] {
  if (!isKind(object, roleKinds)) return [];
  if (object.kind === 'ClusterRole') {
    const name = object.metadata?.name ?? '';
    if (stringList(parameters, 'exemptClusterRoles', defaultExemptClusterRoles).some((pattern) => globMatch(pattern, name))) return [];
  }
  const views: PolicyRuleView[] = [];
  arrayOf(object.rules).forEach((rule, index) => {
    if (!isRecord(rule)) return;
    views.push({ index, verbs: stringsOf(rule.verbs), apiGroups: stringsOf(rule.apiGroups), resources: stringsOf(rule.resources) });
  });
  return views;
}

function hasAny(values: readonly string[], wanted: readonly string[]): boolean {
  return values.some((value) => wanted.includes(value));
}

const wildcardFields = ['verbs', 'apiGroups', 'resources'] as const;

const disallowWildcardRbac: ObjectRule = {
  id: 'disallow-wildcard-rbac',
  title: 'No wildcards in Roles',
  family,
  severity: 'HIGH',
  target: 'object',
  kinds: roleKinds,
  description:
    'A "*" in verbs, apiGroups or resources grants everything that exists now and everything added later — CRDs ' +
    'installed next year included. Such grants cannot be reviewed and are rarely intended. Only an entry that is exactly ' +
    '"*" counts; pods/* or */scale are narrower and not reported here. Kubernetes\' own ClusterRoles are exempt by default.',
  remediation: 'List the verbs, API groups and resources the subject needs instead of "*".',
  parameters: exemptClusterRolesParameter,
  examples: {
    fail: {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'ops-everything' },
      rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
    },
    pass: {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'deployment-reader' },
      rules: [{ apiGroups: ['apps'], resources: ['deployments', 'replicasets'], verbs: ['get', 'list', 'watch'] }],
    },
  },
  check(object, parameters) {
    const findings: Finding[] = [];
    for (const rule of policyRules(object, parameters)) {
      for (const field of wildcardFields) {
        const position = rule[field].indexOf('*');
        if (position < 0) continue;
        findings.push({ field: joinPath('', 'rules', rule.index, field, position), message: `${describeObject(object)} rule ${rule.index} grants "*" in ${field}` });
      }
    }
    return findings;
  },
};

const execResources: readonly string[] = ['pods/exec', 'pods/attach', 'pods/*', '*/exec', '*/attach', '*'];
// get is included: WebSocket clients could open exec and attach streams with GET before Kubernetes required create.
const execVerbs: readonly string[] = ['create', 'get', '*'];

const disallowPodExecAttach: ObjectRule = {
  id: 'disallow-pod-exec-attach',
  title: 'No exec or attach into pods',
  family,
  severity: 'HIGH',
  target: 'object',
  kinds: roleKinds,
  description:
    'pods/exec and pods/attach give a shell in running containers: their environment, mounted Secrets and ServiceAccount ' +
    'tokens, and whatever the container can reach. A grant counts when a rule covers the core API group ("" or "*"), ' +
    'a resource that matches pods/exec or pods/attach (pods/exec, pods/attach, pods/*, */exec, */attach or "*", since RBAC ' +
    'wildcards match subresources) and a verb among create, get and "*" (get because WebSocket clients could exec with ' +
    'GET before Kubernetes required create). Kubernetes\' own ClusterRoles (admin and edit include exec) are exempt by default.',
  remediation: 'Remove pods/exec and pods/attach from the Role; give debugging access through a separate, time-boxed Role.',
  parameters: exemptClusterRolesParameter,
  examples: {
    fail: {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'Role',
      metadata: { name: 'developer', namespace: 'team-a' },
      rules: [
        { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] },
      ],
    },
    pass: {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'Role',
      metadata: { name: 'developer', namespace: 'team-a' },
      rules: [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }],
    },
  },
  check(object, parameters) {
    const findings: Finding[] = [];
    for (const rule of policyRules(object, parameters)) {
      if (!hasAny(rule.apiGroups, ['', '*']) || !hasAny(rule.verbs, execVerbs)) continue;
      const position = rule.resources.findIndex((resource) => execResources.includes(resource));
      if (position < 0) continue;
      const resource = rule.resources[position] ?? '';
      const covers = resource === 'pods/exec' || resource === 'pods/attach' ? resource : `${resource} (includes pods/exec and pods/attach)`;
      findings.push({
        field: joinPath('', 'rules', rule.index, 'resources', position),
        message: `${describeObject(object)} rule ${rule.index} grants ${rule.verbs.filter((verb) => execVerbs.includes(verb)).join(', ')} on ${covers}`,
      });
    }
    return findings;
  },
};

const escalationVerbs: readonly string[] = ['escalate', 'bind', 'impersonate'];

/** What a "*" verb lets the rule do that escalates, given its groups and resources; empty when nothing. */
function wildcardEscalation(rule: PolicyRuleView): string[] {
  const inGroup = (group: string): boolean => hasAny(rule.apiGroups, [group, '*']);
  const onAny = (resources: readonly string[]): boolean => hasAny(rule.resources, [...resources, '*']);
  const powers: string[] = [];
  if (inGroup(rbacGroup) && onAny(['roles', 'clusterroles'])) powers.push('escalate', 'bind');
  const impersonates =
    (inGroup('') && onAny(['users', 'groups', 'serviceaccounts'])) ||
    (inGroup('authentication.k8s.io') && (onAny(['uids']) || rule.resources.some((resource) => resource.startsWith('userextras/'))));
  if (impersonates) powers.push('impersonate');
  return powers;
}

const disallowRbacEscalation: ObjectRule = {
  id: 'disallow-rbac-escalation',
  title: 'No escalate, bind or impersonate',
  family,
  severity: 'HIGH',
  target: 'object',
  kinds: roleKinds,
  description:
    'RBAC stops a user from granting permissions they do not hold, except through three verbs: escalate (edit a Role to ' +
    'contain more than you have), bind (bind a Role you do not hold) and impersonate (act as another user, group or ' +
    'ServiceAccount). Each leads to cluster-admin. A "*" verb counts too when the rule covers roles or clusterroles ' +
    '(escalate, bind) or users, groups, serviceaccounts, uids or userextras (impersonate). Kubernetes\' own ClusterRoles are exempt by default.',
  remediation: 'Remove escalate, bind and impersonate (and "*" verbs on RBAC roles or identities); grant exactly the permissions needed.',
  parameters: exemptClusterRolesParameter,
  examples: {
    fail: {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'ci-deployer' },
      rules: [
        { apiGroups: [rbacGroup], resources: ['clusterroles'], verbs: ['get', 'bind', 'escalate'] },
        { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
      ],
    },
    pass: {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'ci-deployer' },
      rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'create', 'update', 'patch'] }],
    },
  },
  check(object, parameters) {
    const findings: Finding[] = [];
    for (const rule of policyRules(object, parameters)) {
      rule.verbs.forEach((verb, position) => {
        const field = joinPath('', 'rules', rule.index, 'verbs', position);
        if (escalationVerbs.includes(verb)) {
          findings.push({ field, message: `${describeObject(object)} rule ${rule.index} grants verb "${verb}"` });
        } else if (verb === '*') {
          const powers = wildcardEscalation(rule);
          if (powers.length > 0) findings.push({ field, message: `${describeObject(object)} rule ${rule.index} grants verb "*", which includes ${powers.join(', ')}` });
        }
      });
    }
    return findings;
  },
};

// ---------------------------------------------------------------------------------------------
// Bindings

const defaultExemptSubjects: readonly Record<string, unknown>[] = [{ kind: 'Group', name: 'system:masters' }];

function describeSubject(subject: Record<string, unknown>, namespace: string | undefined): string {
  const name = typeof subject.name === 'string' ? subject.name : '?';
  const kind = typeof subject.kind === 'string' ? subject.kind : 'subject';
  const subjectNamespace = typeof subject.namespace === 'string' ? subject.namespace : namespace;
  return kind === 'ServiceAccount' ? `ServiceAccount ${JSON.stringify(`${subjectNamespace ?? '?'}/${name}`)}` : `${kind} ${JSON.stringify(name)}`;
}

function subjectExempt(subject: Record<string, unknown>, namespace: string | undefined, exempt: readonly Record<string, unknown>[]): boolean {
  const name = typeof subject.name === 'string' ? subject.name : '';
  // A ServiceAccount subject without a namespace means the binding's namespace.
  const subjectNamespace = typeof subject.namespace === 'string' ? subject.namespace : (namespace ?? '');
  return exempt.some(
    (entry) =>
      entry.kind === subject.kind &&
      typeof entry.name === 'string' &&
      globMatch(entry.name, name) &&
      (typeof entry.namespace !== 'string' || globMatch(entry.namespace, subjectNamespace)),
  );
}

const disallowClusterAdminBinding: ObjectRule = {
  id: 'disallow-cluster-admin-binding',
  title: 'No bindings to cluster-admin',
  family,
  severity: 'CRITICAL',
  target: 'object',
  kinds: bindingKinds,
  description:
    'cluster-admin allows every action on every resource. Bound by a ClusterRoleBinding it owns the cluster; bound by a ' +
    'RoleBinding it owns the namespace, its Secrets and its RBAC. Each subject that receives it is reported. The built-in ' +
    'binding of the system:masters group is exempt by default; exemptions are by subject, so adding a user to an exempt ' +
    'binding is still reported.',
  remediation: 'Bind a ClusterRole that lists only the permissions the subject needs (admin or edit for namespace owners).',
  parameters: {
    type: 'object',
    additionalProperties: false,
    properties: {
      roles: {
        type: 'array',
        description: 'ClusterRoles treated as cluster-admin, for example a copy under another name.',
        minItems: 1,
        maxItems: 64,
        items: { type: 'string', minLength: 1, maxLength: 253 },
        default: ['cluster-admin'],
      },
      exemptSubjects: {
        type: 'array',
        description: 'Subjects that may hold the role: kind, name and (for ServiceAccounts) namespace; "*" matches any run of characters.',
        maxItems: 64,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['kind', 'name'],
          properties: {
            kind: { type: 'string', enum: ['User', 'Group', 'ServiceAccount'] },
            name: { type: 'string', minLength: 1, maxLength: 253 },
            namespace: { type: 'string', minLength: 1, maxLength: 63 },
          },
        },
        default: defaultExemptSubjects.map((subject) => ({ ...subject })),
      },
    },
  },
  examples: {
    fail: {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'ops-admins' },
      roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [
        { apiGroup: rbacGroup, kind: 'Group', name: 'ops' },
        { kind: 'ServiceAccount', name: 'ci', namespace: 'ci' },
      ],
    },
    pass: {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'RoleBinding',
      metadata: { name: 'team-a-admins', namespace: 'team-a' },
      roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'admin' },
      subjects: [{ apiGroup: rbacGroup, kind: 'Group', name: 'team-a' }],
    },
  },
  check(object, parameters) {
    if (!isKind(object, bindingKinds)) return [];
    const roleRef = object.roleRef;
    if (!isRecord(roleRef) || roleRef.kind !== 'ClusterRole' || typeof roleRef.name !== 'string') return [];
    const role = roleRef.name;
    if (!stringList(parameters, 'roles', ['cluster-admin']).includes(role)) return [];
    const namespace = object.metadata?.namespace;
    const exempt = recordList(parameters, 'exemptSubjects', defaultExemptSubjects);
    const scope = object.kind === 'RoleBinding' ? ` in namespace ${JSON.stringify(namespace ?? '?')}` : '';
    const findings: Finding[] = [];
    arrayOf(object.subjects).forEach((subject, index) => {
      if (!isRecord(subject) || subjectExempt(subject, namespace, exempt)) return;
      findings.push({
        field: joinPath('', 'subjects', index),
        message: `${describeObject(object)} grants ${role}${scope} to ${describeSubject(subject, namespace)}`,
      });
    });
    return findings;
  },
};

export const rbacRules: readonly ObjectRule[] = [disallowClusterAdminBinding, disallowWildcardRbac, disallowPodExecAttach, disallowRbacEscalation];
