/**
 * The Baseline level of the Kubernetes Pod Security Standards: one control per row of the
 * standard's Baseline table, each checked by the catalog rule of the same control
 * (rules/pod-security-baseline.ts), so a report and admission judge a pod alike.
 */
import type { BuiltinFramework, Control } from '../framework';

export const pssSource = 'https://kubernetes.io/docs/concepts/security/pod-security-standards/';
/** The Kubernetes release whose Pod Security Standards the controls and the catalog follow. */
export const pssVersion = 'Kubernetes v1.36';

const reference = `${pssSource}#baseline`;

function baseline(id: string, title: string, severity: Control['severity'], rule: string, description: string, remediation: string): Control {
  return { id: `pss-baseline-${id}`, title, severity, description, remediation, reference, check: { type: 'rules', rules: [rule] } };
}

export const baselineControls: readonly Control[] = [
  baseline(
    'host-process',
    'HostProcess',
    'CRITICAL',
    'disallow-host-process',
    'Windows pods must not run HostProcess containers, which have the node\'s privileges.',
    'Remove securityContext.windowsOptions.hostProcess (or set it to false) at pod and container level.',
  ),
  baseline(
    'host-namespaces',
    'Host Namespaces',
    'HIGH',
    'disallow-host-namespaces',
    'Pods must not share the node\'s network, PID or IPC namespace.',
    'Remove hostNetwork, hostPID and hostIPC from the pod spec, or set them to false.',
  ),
  baseline(
    'privileged',
    'Privileged Containers',
    'CRITICAL',
    'disallow-privileged',
    'Privileged containers disable most isolation and must not run.',
    'Remove securityContext.privileged (or set it to false) on every container.',
  ),
  baseline(
    'capabilities',
    'Capabilities',
    'HIGH',
    'disallow-capabilities',
    'Containers may add only capabilities of the runtime\'s default set.',
    'Remove capabilities outside the default set from securityContext.capabilities.add.',
  ),
  baseline(
    'host-path',
    'HostPath Volumes',
    'HIGH',
    'disallow-host-path',
    'Pods must not mount directories of the node through hostPath volumes.',
    'Replace hostPath volumes with emptyDir, ConfigMap, Secret or PersistentVolumeClaim volumes.',
  ),
  baseline(
    'host-ports',
    'Host Ports',
    'MEDIUM',
    'disallow-host-ports',
    'Containers should not bind ports of the node; a known list may be allowed.',
    'Remove hostPort from container ports and expose the pod through a Service.',
  ),
  baseline(
    'host-probes',
    'Host Probes / Lifecycle Hooks',
    'MEDIUM',
    'disallow-host-probes',
    'Probes and lifecycle hooks must not name a host, which would make the kubelet connect anywhere the node reaches.',
    'Remove host from httpGet and tcpSocket handlers of probes and lifecycle hooks.',
  ),
  baseline(
    'apparmor',
    'AppArmor',
    'MEDIUM',
    'restrict-apparmor',
    'The default AppArmor profile must not be overridden or disabled; only RuntimeDefault and Localhost profiles are allowed.',
    'Set appArmorProfile.type to RuntimeDefault or Localhost, or leave it out.',
  ),
  baseline(
    'selinux',
    'SELinux',
    'MEDIUM',
    'restrict-selinux',
    'Pods must not set a custom SELinux user or role, and only the container types the standard lists.',
    'Remove seLinuxOptions.user and role, and use one of the allowed types or none.',
  ),
  baseline(
    'proc-mount',
    '/proc Mount Type',
    'MEDIUM',
    'restrict-proc-mount',
    'The default /proc mask must stay in place: procMount must be Default.',
    'Remove securityContext.procMount or set it to Default.',
  ),
  baseline(
    'seccomp',
    'Seccomp',
    'MEDIUM',
    'restrict-seccomp',
    'Pods and containers must not set the seccomp profile to Unconfined.',
    'Set seccompProfile.type to RuntimeDefault or Localhost, or leave it out.',
  ),
  baseline(
    'sysctls',
    'Sysctls',
    'MEDIUM',
    'restrict-sysctls',
    'Pods may set only the namespaced sysctls the standard lists as safe.',
    'Remove sysctls outside the safe set from spec.securityContext.sysctls.',
  ),
];

export const pssBaseline: BuiltinFramework = {
  id: 'pss-baseline',
  title: 'Pod Security Standards: Baseline',
  version: pssVersion,
  source: pssSource,
  description:
    'The Baseline level of the Kubernetes Pod Security Standards: stops known privilege escalations while admitting ' +
    'a pod that sets nothing special. Every control is checked on Pods and the pod templates of their controllers.',
  controls: baselineControls,
};
