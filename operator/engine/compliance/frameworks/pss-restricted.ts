/**
 * The Restricted level of the Kubernetes Pod Security Standards: every Baseline control (the
 * standard's Restricted level includes them) and the Restricted table's own, each checked by the
 * catalog rule of the same control (rules/pod-security-restricted.ts).
 */
import type { BuiltinFramework, Control } from '../framework';
import { baselineControls, pssSource, pssVersion } from './pss-baseline';

const reference = `${pssSource}#restricted`;

function restricted(id: string, title: string, rules: readonly string[], description: string, remediation: string): Control {
  return { id: `pss-restricted-${id}`, title, severity: 'MEDIUM', description, remediation, reference, check: { type: 'rules', rules } };
}

const restrictedOnly: readonly Control[] = [
  restricted(
    'volume-types',
    'Volume Types',
    // The standard's allowed list leaves hostPath out; the catalog reports hostPath under one rule.
    ['restrict-volume-types', 'disallow-host-path'],
    'Pods may use only the core volume types: configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret.',
    'Replace other inline volume sources with a PersistentVolumeClaim or a CSI volume.',
  ),
  restricted(
    'privilege-escalation',
    'Privilege Escalation',
    ['disallow-privilege-escalation'],
    'Every container must set allowPrivilegeEscalation to false (Linux pods).',
    'Set securityContext.allowPrivilegeEscalation: false on every container.',
  ),
  restricted(
    'running-as-non-root',
    'Running as Non-root',
    ['run-as-non-root'],
    'Containers must run with runAsNonRoot true, set on the pod or on each container.',
    'Set securityContext.runAsNonRoot: true on the pod and remove runAsNonRoot: false from containers.',
  ),
  restricted(
    'running-as-non-root-user',
    'Running as Non-root user',
    ['disallow-root-user'],
    'Pods and containers must not set runAsUser to 0.',
    'Set runAsUser to a non-zero user ID, or leave it out.',
  ),
  restricted(
    'seccomp',
    'Seccomp',
    ['seccomp-profile'],
    'A seccomp profile of type RuntimeDefault or Localhost must be set, on the pod or on every container (Linux pods).',
    'Set spec.securityContext.seccompProfile.type: RuntimeDefault.',
  ),
  restricted(
    'capabilities',
    'Capabilities',
    ['restrict-capabilities'],
    'Containers must drop ALL capabilities and may add back only NET_BIND_SERVICE (Linux pods).',
    'Set securityContext.capabilities.drop: ["ALL"] on every container; add only NET_BIND_SERVICE.',
  ),
];

export const pssRestricted: BuiltinFramework = {
  id: 'pss-restricted',
  title: 'Pod Security Standards: Restricted',
  version: pssVersion,
  source: pssSource,
  description:
    'The Restricted level of the Kubernetes Pod Security Standards: current pod hardening practice, at some cost to ' +
    'compatibility. Like the standard, it contains every Baseline control.',
  controls: [...baselineControls, ...restrictedOnly],
};
