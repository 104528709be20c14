/**
 * Section 5 ("Policies") of the CIS Kubernetes Benchmark: the recommendations about workloads and
 * RBAC that the API shows, which SecureStack can check from objects. Sections 1 to 4 (control
 * plane, etcd and node configuration files and flags) need access to the hosts and are out of
 * scope. Numbering and titles follow v1.10.0, where the general policies are 5.7 (there is no 5.6).
 */
import type { BuiltinFramework, Control, ControlCheck } from '../framework';

const version = '1.10.0';

function control(id: string, title: string, severity: Control['severity'], check: ControlCheck, description: string, remediation: string): Control {
  return { id, title, severity, description, remediation, reference: `CIS Kubernetes Benchmark v${version}, recommendation ${id}`, check };
}

const rules = (...ids: string[]): ControlCheck => ({ type: 'rules', rules: ids });
const manual = (reason: string): ControlCheck => ({ type: 'manual', reason });

const rbacAndServiceAccounts: readonly Control[] = [
  control(
    '5.1.1',
    'Ensure that the cluster-admin role is only used where required',
    'CRITICAL',
    rules('disallow-cluster-admin-binding'),
    'cluster-admin grants every action on every resource; bindings to it should be few and deliberate.',
    'Bind subjects to a ClusterRole with the permissions they need, then delete their bindings to cluster-admin.',
  ),
  control(
    '5.1.2',
    'Minimize access to secrets',
    'HIGH',
    rules('disallow-secret-access'),
    'Reading Secrets (get, list or watch) discloses the credentials they hold, so few subjects should be able to.',
    'Remove get, list and watch on secrets from Roles and ClusterRoles, or limit them to named Secrets.',
  ),
  control(
    '5.1.3',
    'Minimize wildcard use in Roles and ClusterRoles',
    'HIGH',
    rules('disallow-wildcard-rbac'),
    'A "*" grants every verb, group or resource, including those added later, and cannot be reviewed.',
    'Replace "*" in verbs, apiGroups and resources with the entries the subject needs.',
  ),
  control(
    '5.1.4',
    'Minimize access to create pods',
    'HIGH',
    rules('disallow-pod-create'),
    'Creating a pod gives access to every Secret and ServiceAccount of its namespace, and may lead to the node.',
    'Remove create on pods from Roles and ClusterRoles; let subjects create workload controllers instead.',
  ),
  control(
    '5.1.5',
    'Ensure that default service accounts are not actively used',
    'MEDIUM',
    rules('disallow-default-service-account'),
    'Workloads that call the API should have their own ServiceAccount, not share the namespace\'s default one.',
    'Give each workload that needs the API its own ServiceAccount; set automountServiceAccountToken: false elsewhere.',
  ),
  control(
    '5.1.6',
    'Ensure that Service Account Tokens are only mounted where necessary',
    'MEDIUM',
    rules('disallow-automount-service-account-token'),
    'Pods that do not call the API should not have a ServiceAccount token mounted.',
    'Set automountServiceAccountToken: false in pod specs that do not use the Kubernetes API.',
  ),
  control(
    '5.1.7',
    'Avoid use of system:masters group',
    'HIGH',
    manual(
      'Membership in system:masters is written into client certificates and bypasses RBAC; the API lists neither ' +
        'the certificates issued nor their groups, and a binding naming the group grants nothing it does not already have.',
    ),
    'Members of system:masters have unrestricted access that RBAC cannot remove, even by deleting bindings.',
    'Issue no client certificates with the system:masters organisation beyond the break-glass one; give users RBAC roles instead.',
  ),
  control(
    '5.1.8',
    'Limit use of the Bind, Impersonate and Escalate permissions in the Kubernetes cluster',
    'HIGH',
    rules('disallow-rbac-escalation'),
    'bind, escalate and impersonate let a subject gain permissions it does not hold, up to cluster-admin.',
    'Remove bind, escalate and impersonate (and "*" verbs on roles or identities) from Roles and ClusterRoles.',
  ),
  control(
    '5.1.9',
    'Minimize access to create persistent volumes',
    'HIGH',
    rules('disallow-persistent-volume-create'),
    'A PersistentVolume can expose a directory of the node, out of reach of pod security rules.',
    'Remove create on persistentvolumes; provision storage through StorageClasses.',
  ),
  control(
    '5.1.10',
    'Minimize access to the proxy sub-resource of nodes',
    'HIGH',
    rules('disallow-node-proxy'),
    'nodes/proxy reaches the kubelet API, which runs commands in pods without the API server\'s audit or admission.',
    'Remove nodes/proxy from ClusterRoles.',
  ),
  control(
    '5.1.11',
    'Minimize access to the approval sub-resource of certificatesigningrequests objects',
    'HIGH',
    rules('disallow-csr-approval'),
    'Approving CertificateSigningRequests can issue credentials for privileged identities.',
    'Remove update and patch on certificatesigningrequests/approval from ClusterRoles.',
  ),
  control(
    '5.1.12',
    'Minimize access to webhook configuration objects',
    'HIGH',
    rules('disallow-webhook-configuration-write'),
    'Webhook configurations decide which servers see and may change objects as they are written, and which policies enforce.',
    'Remove write verbs on validatingwebhookconfigurations and mutatingwebhookconfigurations from ClusterRoles.',
  ),
  control(
    '5.1.13',
    'Minimize access to the service account token creation',
    'HIGH',
    rules('disallow-service-account-token-create'),
    'Creating ServiceAccount tokens lets a subject act as any ServiceAccount it can name.',
    'Remove create on serviceaccounts/token from Roles and ClusterRoles.',
  ),
];

const podSecurityStandards: readonly Control[] = [
  control(
    '5.2.1',
    'Ensure that the cluster has at least one active policy control mechanism in place',
    'HIGH',
    manual(
      'Pod Security Admission labels, SecureStack\'s own ScanPolicies in Enforce mode and other admission controllers ' +
        'each satisfy it; whether one covers every namespace with workloads is a property of the cluster\'s admission ' +
        'configuration, not of an object.',
    ),
    'Every namespace with user workloads should be covered by an admission mechanism that enforces pod security.',
    'Label namespaces with pod-security.kubernetes.io/enforce, or apply an Enforce ScanPolicy with the pss-baseline or pss-restricted rule set.',
  ),
  control(
    '5.2.2',
    'Minimize the admission of privileged containers',
    'CRITICAL',
    rules('disallow-privileged'),
    'Privileged containers have every capability and device of the node.',
    'Remove securityContext.privileged (or set it to false) on every container.',
  ),
  control(
    '5.2.3',
    'Minimize the admission of containers wishing to share the host process ID namespace',
    'HIGH',
    { type: 'rules', rules: ['disallow-host-namespaces'], fields: ['hostPID'] },
    'A pod in the node\'s PID namespace sees and can signal every process on the node.',
    'Remove hostPID from the pod spec, or set it to false.',
  ),
  control(
    '5.2.4',
    'Minimize the admission of containers wishing to share the host IPC namespace',
    'HIGH',
    { type: 'rules', rules: ['disallow-host-namespaces'], fields: ['hostIPC'] },
    'A pod in the node\'s IPC namespace can reach the shared memory of processes outside it.',
    'Remove hostIPC from the pod spec, or set it to false.',
  ),
  control(
    '5.2.5',
    'Minimize the admission of containers wishing to share the host network namespace',
    'HIGH',
    { type: 'rules', rules: ['disallow-host-namespaces'], fields: ['hostNetwork'] },
    'A pod in the node\'s network namespace reaches the node\'s loopback services and the traffic of other pods.',
    'Remove hostNetwork from the pod spec, or set it to false.',
  ),
  control(
    '5.2.6',
    'Minimize the admission of containers with allowPrivilegeEscalation',
    'MEDIUM',
    rules('disallow-privilege-escalation'),
    'Unless allowPrivilegeEscalation is false, set-user-ID binaries and file capabilities can raise a process\'s privileges.',
    'Set securityContext.allowPrivilegeEscalation: false on every container.',
  ),
  control(
    '5.2.7',
    'Minimize the admission of root containers',
    'MEDIUM',
    rules('run-as-non-root', 'disallow-root-user'),
    'Containers should run as a non-root user, enforced by runAsNonRoot and never overridden with runAsUser 0.',
    'Set securityContext.runAsNonRoot: true and a non-zero runAsUser; build images that run as a numeric non-root user.',
  ),
  control(
    '5.2.8',
    'Minimize the admission of containers with the NET_RAW capability',
    'MEDIUM',
    rules('disallow-net-raw'),
    'NET_RAW, granted by default, allows forged packets and spoofing attacks on neighbouring pods.',
    'Drop ALL (or at least NET_RAW) in securityContext.capabilities.drop and do not add NET_RAW.',
  ),
  control(
    '5.2.9',
    'Minimize the admission of containers with added capabilities',
    'HIGH',
    rules('disallow-capabilities'),
    'Capabilities beyond the runtime\'s default set give containers root-like powers.',
    'Remove capabilities outside the default set from securityContext.capabilities.add.',
  ),
  control(
    '5.2.10',
    'Minimize the admission of containers with capabilities assigned',
    'MEDIUM',
    rules('restrict-capabilities'),
    'Most applications need no capabilities at all; containers should drop them all.',
    'Set securityContext.capabilities.drop: ["ALL"] and add back only NET_BIND_SERVICE where needed.',
  ),
  control(
    '5.2.11',
    'Minimize the admission of Windows HostProcess containers',
    'CRITICAL',
    rules('disallow-host-process'),
    'HostProcess containers run as processes of the Windows node, outside container isolation.',
    'Remove securityContext.windowsOptions.hostProcess (or set it to false).',
  ),
  control(
    '5.2.12',
    'Minimize the admission of HostPath volumes',
    'HIGH',
    rules('disallow-host-path'),
    'hostPath volumes expose the node\'s file system, credentials and logs to the pod.',
    'Replace hostPath volumes with emptyDir, ConfigMap, Secret or PersistentVolumeClaim volumes.',
  ),
  control(
    '5.2.13',
    'Minimize the admission of containers which use HostPorts',
    'MEDIUM',
    rules('disallow-host-ports'),
    'Host ports bind the node\'s address and bypass Services and NetworkPolicies.',
    'Remove hostPort from container ports; expose the pod through a Service.',
  ),
];

const networkAndSecrets: readonly Control[] = [
  control(
    '5.3.1',
    'Ensure that the CNI in use supports Network Policies',
    'MEDIUM',
    manual('Which CNI plugin runs, and whether it enforces NetworkPolicies, is node configuration the API does not show: NetworkPolicy objects are accepted either way.'),
    'NetworkPolicies only isolate pods when the network plugin enforces them.',
    'Use a CNI plugin that enforces NetworkPolicies (Calico, Cilium, Antrea...) and test that a default-deny policy blocks traffic.',
  ),
  control(
    '5.3.2',
    'Ensure that all Namespaces have Network Policies defined',
    'MEDIUM',
    rules('require-network-policy'),
    'Namespaces without NetworkPolicies accept traffic from everywhere in the cluster.',
    'Add at least a default-deny NetworkPolicy to every namespace, then allow the traffic workloads need.',
  ),
  control(
    '5.4.1',
    'Prefer using secrets as files over secrets as environment variables',
    'LOW',
    rules('disallow-env-from-secrets'),
    'Secrets in environment variables leak into logs, crash reports and child processes; files do not.',
    'Mount Secrets as volumes and have applications read the files.',
  ),
  control(
    '5.4.2',
    'Consider external secret storage',
    'LOW',
    manual('Whether credentials live in an external secret manager is an architecture choice; nothing in the API tells a Secret synced from one apart from one created by hand.'),
    'An external secret manager adds access control, auditing and rotation beyond what Secrets provide.',
    'Keep credentials in an external secret manager (a cloud KMS-backed store, Vault...) and deliver them through its CSI driver or operator.',
  ),
  control(
    '5.5.1',
    'Configure Image Provenance using ImagePolicyWebhook admission controller',
    'MEDIUM',
    manual(
      'Provenance needs signature or attestation checks configured in the API server or an admission webhook, which ' +
        'the API does not expose. SecureStack\'s allowed-registries and require-image-digest rules restrict where images ' +
        'come from, but need the organisation\'s registries as parameters.',
    ),
    'Only images from trusted sources, verified before they run, should be admitted.',
    'Configure an admission controller that verifies image signatures; enable allowed-registries with your registries in a ScanPolicy.',
  ),
];

const generalPolicies: readonly Control[] = [
  control(
    '5.7.1',
    'Create administrative boundaries between resources using namespaces',
    'LOW',
    manual('Which namespaces make sensible boundaries (per team, per application, per environment) is an organisational decision the objects do not record.'),
    'Namespaces scope RBAC, quotas, NetworkPolicies and admission policy; resources that need different rules belong in different namespaces.',
    'Create namespaces per team or application and give each its own RBAC, quotas and NetworkPolicies.',
  ),
  control(
    '5.7.2',
    'Ensure that the seccomp profile is set to docker/default in your pod definitions',
    'MEDIUM',
    rules('seccomp-profile'),
    'Without a seccomp profile containers reach the whole system call surface of the kernel; RuntimeDefault is today\'s name for docker/default.',
    'Set spec.securityContext.seccompProfile.type: RuntimeDefault in pod specs.',
  ),
  control(
    '5.7.3',
    'Apply Security Context to Your Pods and Containers',
    'MEDIUM',
    rules('run-as-non-root', 'disallow-privilege-escalation', 'restrict-capabilities', 'read-only-root-filesystem'),
    'Pods and containers should declare a hardened security context: non-root, no privilege escalation, no capabilities, read-only root file system.',
    'Set runAsNonRoot, allowPrivilegeEscalation: false, capabilities.drop: ["ALL"] and readOnlyRootFilesystem: true in every pod.',
  ),
  control(
    '5.7.4',
    'The default namespace should not be used',
    'LOW',
    rules('disallow-default-namespace'),
    'The default namespace rarely has the RBAC, quotas and NetworkPolicies a deliberate namespace gets.',
    'Deploy workloads and Services into namespaces created for them.',
  ),
];

export const cisKubernetesWorkloads: BuiltinFramework = {
  id: 'cis-kubernetes-workloads',
  title: 'CIS Kubernetes Benchmark: Policies',
  version,
  source: `CIS Kubernetes Benchmark v${version}, section 5 (https://www.cisecurity.org/benchmark/kubernetes)`,
  description:
    'The Policies section of the CIS Kubernetes Benchmark: RBAC and service accounts, pod security, network policies, ' +
    'secrets, admission control and general policies. Control plane and node recommendations (sections 1 to 4) need ' +
    'host access and are not part of it.',
  controls: [...rbacAndServiceAccounts, ...podSecurityStandards, ...networkAndSecrets, ...generalPolicies],
};
