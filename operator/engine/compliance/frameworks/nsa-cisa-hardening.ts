/**
 * The NSA/CISA Kubernetes Hardening Guidance (version 1.2, August 2022). The guidance is prose, not
 * numbered controls: the ids here name its sections (pods.*, network.*, authz.*, logging.*,
 * upgrades.*). Recommendations the API shows are checked by catalog rules or ImageScan results;
 * those about control plane flags, hosts and processes are manual and say why.
 */
import type { BuiltinFramework, Control, ControlCheck } from '../framework';

const document = 'NSA/CISA Kubernetes Hardening Guidance v1.2';

function control(id: string, title: string, severity: Control['severity'], section: string, check: ControlCheck, description: string, remediation: string): Control {
  return { id, title, severity, description, remediation, reference: `${document}, "${section}"`, check };
}

const rules = (...ids: string[]): ControlCheck => ({ type: 'rules', rules: ids });
const manual = (reason: string): ControlCheck => ({ type: 'manual', reason });

const podSecurity = 'Kubernetes Pod security';
const networkSeparation = 'Network separation and hardening';
const authz = 'Authentication and authorization';
const logging = 'Audit logging and threat detection';
const upgrades = 'Upgrading and application security practices';

const pods: readonly Control[] = [
  control(
    'pods.non-root',
    'Containers run as non-root users',
    'MEDIUM',
    `${podSecurity}: non-root containers`,
    rules('run-as-non-root', 'disallow-root-user'),
    'A process that breaks out of a container running as root is root on the node; containers should run as unprivileged users.',
    'Set securityContext.runAsNonRoot: true and a non-zero runAsUser; build images with a numeric non-root USER.',
  ),
  control(
    'pods.immutable-filesystem',
    'Container root file systems are read-only',
    'LOW',
    `${podSecurity}: immutable container file systems`,
    rules('read-only-root-filesystem'),
    'A read-only root file system stops an intruder from changing binaries or dropping tools; writes go to declared volumes.',
    'Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the application writes.',
  ),
  control(
    'pods.privileged',
    'No privileged containers',
    'CRITICAL',
    `${podSecurity}: pod security enforcement`,
    rules('disallow-privileged'),
    'Privileged containers have every capability and device of the node.',
    'Remove securityContext.privileged (or set it to false) on every container.',
  ),
  control(
    'pods.host-namespaces',
    'No sharing of host namespaces',
    'HIGH',
    `${podSecurity}: pod security enforcement`,
    rules('disallow-host-namespaces'),
    'Pods should not share the node\'s network, PID or IPC namespace.',
    'Remove hostNetwork, hostPID and hostIPC from pod specs.',
  ),
  control(
    'pods.privilege-escalation',
    'No privilege escalation',
    'MEDIUM',
    `${podSecurity}: pod security enforcement`,
    rules('disallow-privilege-escalation'),
    'Processes should not be able to gain privileges through set-user-ID binaries or file capabilities.',
    'Set securityContext.allowPrivilegeEscalation: false on every container.',
  ),
  control(
    'pods.host-path',
    'No hostPath volumes',
    'HIGH',
    `${podSecurity}: pod security enforcement`,
    rules('disallow-host-path'),
    'hostPath volumes expose the node\'s file system to the pod.',
    'Replace hostPath volumes with emptyDir, ConfigMap, Secret or PersistentVolumeClaim volumes.',
  ),
  control(
    'pods.host-ports',
    'No host ports',
    'MEDIUM',
    `${podSecurity}: pod security enforcement`,
    rules('disallow-host-ports'),
    'Host ports expose containers on the node\'s address, around Services and NetworkPolicies.',
    'Remove hostPort from container ports; expose pods through Services.',
  ),
  control(
    'pods.seccomp',
    'Seccomp confines system calls',
    'MEDIUM',
    `${podSecurity}: hardening container environments`,
    rules('seccomp-profile'),
    'A seccomp profile removes system calls containers do not need from the kernel surface they can reach.',
    'Set spec.securityContext.seccompProfile.type: RuntimeDefault.',
  ),
  control(
    'pods.mandatory-access-control',
    'AppArmor and SELinux stay in force',
    'MEDIUM',
    `${podSecurity}: hardening container environments`,
    rules('restrict-apparmor', 'restrict-selinux'),
    'AppArmor and SELinux confine what a container process may touch; pods must not disable or loosen them.',
    'Leave AppArmor at RuntimeDefault (or a Localhost profile) and do not set SELinux users, roles or custom types.',
  ),
  control(
    'pods.capabilities',
    'Capabilities dropped',
    'MEDIUM',
    `${podSecurity}: hardening container environments`,
    rules('restrict-capabilities'),
    'Containers should run with no Linux capabilities beyond those they need.',
    'Set securityContext.capabilities.drop: ["ALL"] and add back only NET_BIND_SERVICE where needed.',
  ),
  control(
    'pods.service-account-token',
    'ServiceAccount tokens mounted only where needed',
    'MEDIUM',
    `${podSecurity}: protecting Pod service account tokens`,
    rules('disallow-automount-service-account-token'),
    'A token mounted into a pod that never calls the API only serves an intruder.',
    'Set automountServiceAccountToken: false in pods that do not use the Kubernetes API.',
  ),
];

const network: readonly Control[] = [
  control(
    'network.namespaces',
    'Resources separated by namespace',
    'LOW',
    `${networkSeparation}: namespaces`,
    rules('disallow-default-namespace'),
    'Namespaces separate teams and applications; the default namespace mixes whatever lands there.',
    'Deploy workloads into namespaces created for them, not into default.',
  ),
  control(
    'network.policies',
    'Every namespace has NetworkPolicies',
    'MEDIUM',
    `${networkSeparation}: network policies`,
    rules('require-network-policy'),
    'NetworkPolicies limit which pods may talk to each other; without one a namespace is open to the cluster.',
    'Add a default-deny NetworkPolicy to every namespace, then allow the traffic workloads need.',
  ),
  control(
    'network.resource-limits',
    'Containers declare resource requests and limits',
    'MEDIUM',
    `${networkSeparation}: resource policies`,
    rules('require-resource-requests', 'require-resource-limits'),
    'Without requests and limits one container can exhaust a node and deny service to the others.',
    'Set resources.requests and resources.limits for CPU and memory on every container; add LimitRanges and ResourceQuotas per namespace.',
  ),
  control(
    'network.secrets-in-env',
    'No credentials written into workload specs',
    'HIGH',
    `${networkSeparation}: secrets`,
    rules('disallow-secrets-in-env'),
    'Credentials belong in Secrets (encrypted at rest), not as literal values in pod specs stored in etcd and Git.',
    'Move literal credentials into Secrets and reference them from the pod.',
  ),
  control(
    'network.control-plane-tls',
    'Control plane traffic is encrypted and firewalled',
    'HIGH',
    `${networkSeparation}: control plane hardening`,
    manual('TLS between control plane components and etcd, and the firewalls around them, are configured on the hosts and networks; the API does not expose them.'),
    'The API server, etcd and kubelets should talk over TLS only, reachable only from where they must be.',
    'Enable TLS on every control plane port, put etcd behind a firewall reachable only by the API servers, and block the API server from the internet where possible.',
  ),
  control(
    'network.etcd-encryption',
    'Secrets are encrypted at rest in etcd',
    'HIGH',
    `${networkSeparation}: encryption`,
    manual('Encryption at rest is set by the API server\'s --encryption-provider-config file, which the API does not expose; a Secret reads the same either way.'),
    'Secrets are stored in etcd in plain text unless the API server encrypts them.',
    'Configure an EncryptionConfiguration with a KMS provider (or aescbc/secretbox) and rewrite existing Secrets.',
  ),
  control(
    'network.worker-node-segmentation',
    'Worker nodes are segmented from the control plane and other networks',
    'MEDIUM',
    `${networkSeparation}: worker node segmentation`,
    manual('Network segmentation of nodes is firewall and cloud network configuration outside Kubernetes.'),
    'Worker nodes should reach only the networks and control plane ports they need.',
    'Place nodes in their own network segment and allow only the kubelet, API server and application ports they need.',
  ),
];

const authentication: readonly Control[] = [
  control(
    'authz.anonymous-auth',
    'Anonymous requests are refused',
    'HIGH',
    `${authz}: authentication`,
    manual('--anonymous-auth of the API server and kubelets is a process flag; the API does not report it.'),
    'Anonymous requests reach the API server and kubelets as system:anonymous unless turned off.',
    'Run the API server and every kubelet with --anonymous-auth=false (or an AuthenticationConfiguration that limits anonymous access to health endpoints).',
  ),
  control(
    'authz.rbac-enabled',
    'RBAC authorizes requests',
    'HIGH',
    `${authz}: role-based access control`,
    manual('--authorization-mode of the API server and the kubelets\' authorization mode are process flags the API does not report.'),
    'RBAC should decide every request, on the API server and on kubelets (Webhook mode).',
    'Run the API server with --authorization-mode=Node,RBAC and kubelets with --authorization-mode=Webhook.',
  ),
  control(
    'authz.cluster-admin',
    'cluster-admin granted sparingly',
    'CRITICAL',
    `${authz}: role-based access control`,
    rules('disallow-cluster-admin-binding'),
    'Bindings to cluster-admin give complete control of the cluster or namespace.',
    'Bind subjects to roles with the permissions they need instead of cluster-admin.',
  ),
  control(
    'authz.least-privilege',
    'Roles grant only what is needed',
    'HIGH',
    `${authz}: role-based access control`,
    rules('disallow-wildcard-rbac', 'disallow-rbac-escalation', 'disallow-secret-access'),
    'Roles should list the verbs and resources a subject needs: no wildcards, no paths to more permissions, no blanket access to Secrets.',
    'Replace wildcards with explicit entries, remove bind, escalate and impersonate, and limit access to Secrets by resourceNames.',
  ),
  control(
    'authz.exec-attach',
    'Exec and attach into pods restricted',
    'HIGH',
    `${authz}: role-based access control`,
    rules('disallow-pod-exec-attach'),
    'pods/exec and pods/attach give a shell in running containers and access to what they hold.',
    'Remove pods/exec and pods/attach from Roles; grant debugging access separately and for a limited time.',
  ),
];

const auditing: readonly Control[] = [
  control(
    'logging.audit',
    'API server audit logging is enabled',
    'HIGH',
    `${logging}: Kubernetes native audit logging configuration`,
    manual('The audit policy and log backend are API server flags and files; the API does not report whether requests are audited.'),
    'Audit logs record who did what through the API, which incident response depends on.',
    'Run the API server with --audit-policy-file and a log or webhook backend, recording at least metadata for every request and request bodies for Secrets access changes and exec.',
  ),
  control(
    'logging.threat-detection',
    'Logs are collected and monitored for threats',
    'MEDIUM',
    `${logging}: threat detection`,
    manual('Log collection, retention and alerting run outside the cluster\'s API objects (or in tools SecureStack cannot judge).'),
    'Node, container and audit logs should be kept off the cluster and watched for signs of compromise.',
    'Ship audit, node and container logs to a central store outside the cluster and alert on anomalies (exec into pods, new privileged pods, failed authentication).',
  ),
];

const patching: readonly Control[] = [
  control(
    'upgrades.fixable-critical-vulnerabilities',
    'No fixable critical vulnerabilities in running images',
    'CRITICAL',
    `${upgrades}`,
    // A critical vulnerability with a fix available fails straight away, without a patch window:
    // the guidance asks for prompt patching, and HIGH and below are left to a report's own controls.
    { type: 'vulnerabilities', vulnerabilities: { fixableAtOrAbove: 'CRITICAL' } },
    'Images should be rebuilt as soon as a fix exists for a critical vulnerability in them.',
    'Rebuild the image on patched packages (or update the base image) and roll the workloads out again.',
  ),
  control(
    'upgrades.vulnerability-scanning',
    'Running images are scanned at least daily',
    'MEDIUM',
    `${upgrades}`,
    // A day matches the daily refresh of the vulnerability databases Trivy reads: an older scan
    // may miss what was published since.
    { type: 'vulnerabilities', vulnerabilities: { maxScanAgeHours: 24 } },
    'Every image in use should have a completed vulnerability scan less than a day old, so new advisories are noticed.',
    'Let SecureStack rescan images on a schedule of a day or less (or request an ImageScan) for every image that runs.',
  ),
  control(
    'upgrades.kubernetes-patched',
    'Kubernetes components are kept up to date',
    'HIGH',
    `${upgrades}`,
    manual('The versions of the control plane, kubelets and container runtimes are node and cluster facts outside the objects SecureStack judges.'),
    'Kubernetes releases and their patch releases fix vulnerabilities; unsupported versions receive none.',
    'Stay on a supported Kubernetes minor version and apply patch releases promptly, for the control plane, the kubelets and the container runtime.',
  ),
];

export const nsaCisaHardening: BuiltinFramework = {
  id: 'nsa-cisa-hardening',
  title: 'NSA/CISA Kubernetes Hardening Guidance',
  version: '1.2',
  source: 'NSA and CISA, Cybersecurity Technical Report "Kubernetes Hardening Guidance", version 1.2 (August 2022)',
  description:
    'The hardening measures of the NSA/CISA guidance: pod security, network separation, authentication and ' +
    'authorization, audit logging and patching. Measures the Kubernetes API shows are checked; those about control ' +
    'plane flags, hosts and networks are listed as manual.',
  controls: [...pods, ...network, ...authentication, ...auditing, ...patching],
};
