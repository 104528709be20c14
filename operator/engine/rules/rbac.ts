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
  resourceNames: string[];
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
    views.push({ index, verbs: stringsOf(rule.verbs), apiGroups: stringsOf(rule.apiGroups), resources: stringsOf(rule.resources), resourceNames: stringsOf(rule.resourceNames) });
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

// ---------------------------------------------------------------------------------------------
// Sensitive permissions, however a rule spells them

/** One permission the rules below look for: some verbs on resources of one API group. */
interface Grant {
  group: string;
  /** Resources; subresources as `resource/subresource`. */
  resources: readonly string[];
  /** Verbs that count; "*" always counts. */
  verbs: readonly string[];
  /**
   * The resources are cluster-scoped: a namespaced Role cannot grant them (the API server ignores
   * such rules), so only ClusterRoles are read.
   */
  clusterScoped?: boolean;
  /** A rule limited by resourceNames is the narrow grant the control asks for, and passes. */
  namedResourcesPass?: boolean;
}

/**
 * Whether an entry of a rule's resources covers `resource`, as the RBAC authorizer matches: "*"
 * covers every resource and subresource, "*\/status" one subresource of every resource; there is
 * no other wildcard (`pods/*` names nothing).
 */
export function coversResource(entry: string, resource: string): boolean {
  if (entry === '*' || entry === resource) return true;
  const slash = resource.indexOf('/');
  return slash >= 0 && entry === `*/${resource.slice(slash + 1)}`;
}

function grantFindings(object: KubeObject, parameters: Record<string, unknown>, grant: Grant): Finding[] {
  if (grant.clusterScoped && object.kind === 'Role') return [];
  const findings: Finding[] = [];
  for (const rule of policyRules(object, parameters)) {
    if (!hasAny(rule.apiGroups, [grant.group, '*'])) continue;
    if (grant.namedResourcesPass && rule.resourceNames.length > 0) continue;
    const verbs = rule.verbs.filter((verb) => verb === '*' || grant.verbs.includes(verb));
    if (verbs.length === 0) continue;
    rule.resources.forEach((entry, position) => {
      const covered = grant.resources.filter((resource) => coversResource(entry, resource));
      if (covered.length === 0) return;
      const what = covered.length === 1 && covered[0] === entry ? entry : `${entry} (includes ${covered.join(', ')})`;
      findings.push({
        field: joinPath('', 'rules', rule.index, 'resources', position),
        message: `${describeObject(object)} rule ${rule.index} grants ${verbs.join(', ')} on ${what}`,
      });
    });
  }
  return findings;
}

type GrantRuleSpec = Omit<ObjectRule, 'family' | 'target' | 'kinds' | 'parameters' | 'check'> & { grant: Grant };

/** A rule that reports Roles and ClusterRoles granting `grant`; Kubernetes' own ClusterRoles are exempt by default. */
function grantRule({ grant, ...metadata }: GrantRuleSpec): ObjectRule {
  return {
    ...metadata,
    family,
    target: 'object',
    kinds: grant.clusterScoped ? roleKinds.filter((kind) => kind.kind === 'ClusterRole') : roleKinds,
    parameters: exemptClusterRolesParameter,
    check: (object, parameters) => grantFindings(object, parameters, grant),
  };
}

function exampleRole(kind: 'Role' | 'ClusterRole', name: string, rules: Record<string, unknown>[]): KubeObject {
  const metadata = kind === 'Role' ? { name, namespace: 'team-a' } : { name };
  return { apiVersion: `${rbacGroup}/v1`, kind, metadata, rules };
}

const builtInExemption = 'Kubernetes\' own ClusterRoles are exempt by default.';

const disallowSecretAccess = grantRule({
  id: 'disallow-secret-access',
  title: 'No reading of Secrets',
  severity: 'HIGH',
  grant: { group: '', resources: ['secrets'], verbs: ['get', 'list', 'watch'], namedResourcesPass: true },
  description:
    'Whoever can read Secrets holds every credential they contain: database passwords, TLS keys, registry credentials ' +
    'and the tokens of legacy ServiceAccount token Secrets. list and watch return the contents too, not only the names. ' +
    'A grant counts when a rule covers the core API group ("" or "*"), secrets (or "*") and get, list, watch or "*". ' +
    `A rule limited by resourceNames (one workload reading its own Secret) passes. ${builtInExemption}`,
  remediation: 'Remove get, list and watch on secrets, or limit the rule to the Secrets the subject needs with resourceNames.',
  examples: {
    fail: exampleRole('Role', 'config-reader', [{ apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'watch'] }]),
    pass: exampleRole('Role', 'config-reader', [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['web-tls'], verbs: ['get'] },
    ]),
  },
});

const disallowPodCreate = grantRule({
  id: 'disallow-pod-create',
  title: 'No creating Pods directly',
  severity: 'HIGH',
  grant: { group: '', resources: ['pods'], verbs: ['create'] },
  description:
    'Creating a Pod lets a subject run any image as any ServiceAccount of the namespace and mount every Secret and ' +
    'ConfigMap in it; only admission policy stands between that and the node. A grant counts when a rule covers the ' +
    'core API group ("" or "*"), pods (or "*") and create (or "*"). Rights to create Deployments, Jobs and other ' +
    'controllers are not reported: their Pods come from the controller and are judged by admission policy like any ' +
    `other. ${builtInExemption}`,
  remediation: 'Remove create on pods; let people and pipelines create Deployments or Jobs, whose pods admission policy judges.',
  examples: {
    fail: exampleRole('Role', 'runner', [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'create', 'delete'] }]),
    pass: exampleRole('Role', 'runner', [
      { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'delete'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create'] },
    ]),
  },
});

const disallowPersistentVolumeCreate = grantRule({
  id: 'disallow-persistent-volume-create',
  title: 'No creating PersistentVolumes',
  severity: 'HIGH',
  grant: { group: '', resources: ['persistentvolumes'], verbs: ['create'], clusterScoped: true },
  description:
    'A PersistentVolume can point at a hostPath or any storage the nodes reach, and pod security rules do not see ' +
    'PersistentVolumes: a subject who creates one and claims it mounts the node\'s file system despite a policy that ' +
    'forbids hostPath volumes. PersistentVolumes are cluster-scoped, so only ClusterRoles are read. A grant counts ' +
    `when a rule covers the core API group, persistentvolumes (or "*") and create (or "*"). ${builtInExemption}`,
  remediation: 'Remove create on persistentvolumes; provision storage through StorageClasses and PersistentVolumeClaims.',
  examples: {
    fail: exampleRole('ClusterRole', 'storage-admin', [{ apiGroups: [''], resources: ['persistentvolumes'], verbs: ['get', 'list', 'create'] }]),
    pass: exampleRole('ClusterRole', 'storage-viewer', [{ apiGroups: [''], resources: ['persistentvolumes'], verbs: ['get', 'list', 'watch'] }]),
  },
});

const disallowNodeProxy = grantRule({
  id: 'disallow-node-proxy',
  title: 'No access to nodes/proxy',
  severity: 'HIGH',
  grant: { group: '', resources: ['nodes/proxy'], verbs: ['get', 'create', 'update', 'patch', 'delete'], clusterScoped: true },
  description:
    'nodes/proxy forwards requests to the kubelet API of any node, which runs commands in every pod on it and skips ' +
    'the API server\'s audit log and admission control for them. Each HTTP method maps to a verb (GET to get, POST to ' +
    'create...), and exec over WebSockets starts with a GET, so any of get, create, update, patch, delete or "*" counts ' +
    'on nodes/proxy, "*/proxy" or "*" in the core API group. Nodes are cluster-scoped, so only ClusterRoles are read. ' +
    builtInExemption,
  remediation: 'Remove nodes/proxy from the ClusterRole; read node metrics through the metrics API or a scraper with its own narrow role.',
  examples: {
    fail: exampleRole('ClusterRole', 'monitoring', [{ apiGroups: [''], resources: ['nodes', 'nodes/proxy', 'nodes/metrics'], verbs: ['get', 'list', 'watch'] }]),
    pass: exampleRole('ClusterRole', 'monitoring', [{ apiGroups: [''], resources: ['nodes', 'nodes/metrics'], verbs: ['get', 'list', 'watch'] }]),
  },
});

const disallowCsrApproval = grantRule({
  id: 'disallow-csr-approval',
  title: 'No approving CertificateSigningRequests',
  severity: 'HIGH',
  grant: { group: 'certificates.k8s.io', resources: ['certificatesigningrequests/approval'], verbs: ['update', 'patch'], clusterScoped: true },
  description:
    'Approving a CertificateSigningRequest lets a client certificate be issued for any user or group the request names ' +
    'that the signer accepts, which can be an administrator. A grant counts when a rule covers certificates.k8s.io ' +
    '(or "*"), certificatesigningrequests/approval (or "*/approval", "*") and update, patch or "*". ' +
    `CertificateSigningRequests are cluster-scoped, so only ClusterRoles are read. ${builtInExemption}`,
  remediation: 'Remove update and patch on certificatesigningrequests/approval; leave approval to the controllers that need it.',
  examples: {
    fail: exampleRole('ClusterRole', 'csr-approver', [
      { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval'], verbs: ['update'] },
    ]),
    pass: exampleRole('ClusterRole', 'csr-viewer', [{ apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['get', 'list', 'watch'] }]),
  },
});

const disallowWebhookConfigurationWrite = grantRule({
  id: 'disallow-webhook-configuration-write',
  title: 'No changing admission webhook configurations',
  severity: 'HIGH',
  grant: {
    group: 'admissionregistration.k8s.io',
    resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
    verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'],
    clusterScoped: true,
  },
  description:
    'Admission webhooks see and may change every object they are registered for. Whoever can write their ' +
    'configurations can send Secrets to a server of their choosing, rewrite Pods as they are created, or delete the ' +
    'configuration of a policy webhook (SecureStack\'s included) to turn enforcement off. A grant counts when a rule ' +
    'covers admissionregistration.k8s.io (or "*"), validatingwebhookconfigurations or mutatingwebhookconfigurations ' +
    `(or "*") and create, update, patch, delete, deletecollection or "*". Only ClusterRoles are read. ${builtInExemption}`,
  remediation: 'Remove write verbs on validatingwebhookconfigurations and mutatingwebhookconfigurations; keep get, list and watch if needed.',
  examples: {
    fail: exampleRole('ClusterRole', 'platform-operator', [{ apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], verbs: ['get', 'list', 'patch'] }]),
    pass: exampleRole('ClusterRole', 'platform-viewer', [
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'], verbs: ['get', 'list', 'watch'] },
    ]),
  },
});

const disallowServiceAccountTokenCreate = grantRule({
  id: 'disallow-service-account-token-create',
  title: 'No minting ServiceAccount tokens',
  severity: 'HIGH',
  grant: { group: '', resources: ['serviceaccounts/token'], verbs: ['create'] },
  description:
    'create on serviceaccounts/token issues a token for a ServiceAccount through the TokenRequest API: the subject ' +
    'acts with everything that ServiceAccount may do, for as long as the token lives. A grant counts when a rule ' +
    `covers the core API group, serviceaccounts/token (or "*/token", "*") and create (or "*"). ${builtInExemption}`,
  remediation: 'Remove create on serviceaccounts/token; let the kubelet mount projected tokens into the pods that need them.',
  examples: {
    fail: exampleRole('Role', 'ci', [{ apiGroups: [''], resources: ['serviceaccounts', 'serviceaccounts/token'], verbs: ['get', 'create'] }]),
    pass: exampleRole('Role', 'ci', [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list'] }]),
  },
});

export const rbacRules: readonly ObjectRule[] = [
  disallowClusterAdminBinding,
  disallowWildcardRbac,
  disallowPodExecAttach,
  disallowRbacEscalation,
  disallowSecretAccess,
  disallowPodCreate,
  disallowPersistentVolumeCreate,
  disallowNodeProxy,
  disallowCsrApproval,
  disallowWebhookConfigurationWrite,
  disallowServiceAccountTokenCreate,
];
