/**
 * The Restricted level of the Kubernetes Pod Security Standards, on top of Baseline: current pod
 * hardening practice. Each control gives the verdict of the upstream Pod Security admission check
 * it mirrors (k8s.io/pod-security-admission v0.37.2) at the version its `version` parameter names,
 * with the check's version table next to it. From v1.25, pods that declare spec.os.name=windows
 * are exempt from the seccomp, capabilities and privilege-escalation controls, which have no
 * meaning on Windows; from v1.35, pods with their own user namespace (hostUsers: false) are exempt
 * from the runAsNonRoot and runAsUser controls.
 */
import { behaviourAt, type VersionedBehaviour } from '../pod-security-version';
import type { Finding, PodRule, PodTemplateView } from '../types';
import { containersOf, isWindowsPod } from '../workload';
import { addedCapabilityFindings, allowedSeccompProfile, seccompProfileMessage } from './pod-security-baseline';
import {
  arrayOf,
  containerLabel,
  containerSecurityContext,
  examplePod,
  imageOf,
  isRecord,
  isUnset,
  joinPath,
  pathToward,
  podSecurityContext,
  podSecurityMinor,
  podSecurityParameters,
  securityContextSites,
  siteImage,
  stringList,
} from './util';

/** A row of the Windows exemption tables: whether spec.os.name=windows exempts the pod. */
type WindowsExemption = VersionedBehaviour<{ exemptWindows: boolean }>;

/** A row of the user-namespace tables: whether hostUsers: false exempts the pod. */
type UserNamespaceExemption = VersionedBehaviour<{ exemptUserNamespaces: boolean }>;

/**
 * Whether a check applies to the pod at the minor: it exists then, and neither a Windows nor a
 * user-namespace exemption of that version covers the pod.
 */
function applies(table: readonly VersionedBehaviour<{ exemptWindows?: boolean; exemptUserNamespaces?: boolean }>[], pod: PodTemplateView, minor: number): boolean {
  const behaviour = behaviourAt(table, minor);
  if (!behaviour) return false;
  if (behaviour.exemptWindows === true && isWindowsPod(pod)) return false;
  return !(behaviour.exemptUserNamespaces === true && pod.spec.hostUsers === false);
}

const family = 'pod-security-restricted' as const;

/**
 * Volume sources the Restricted level allows. `image` (OCI image volumes) is allowed by the Pod
 * Security admission controller since Kubernetes 1.33 though the published table does not list it yet.
 */
export const allowedVolumeTypes: readonly string[] = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
];

const restrictVolumeTypes: PodRule = {
  id: 'restrict-volume-types',
  title: 'Only core volume types',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'Inline volume sources such as nfs, iscsi, rbd, cephfs, gitRepo or flexVolume let a pod author attach storage (and run ' +
    'node-side plugins) that a cluster administrator never provisioned; storage should come through PersistentVolumeClaims ' +
    `instead. Allowed: ${allowedVolumeTypes.join(', ')}. hostPath volumes are reported by disallow-host-path, which every ` +
    'rule set with this rule contains, so that one exception or severity governs host paths.',
  remediation: 'Replace the volume with a PersistentVolumeClaim (or a CSI ephemeral volume) backed by the same storage.',
  // Upstream check restrictedVolumes: one behaviour from v1.0 on.
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('nfs-client', {
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', volumeMounts: [{ name: 'shared', mountPath: '/data' }] }],
      volumes: [{ name: 'shared', nfs: { server: 'nfs.example.com', path: '/exports/shared' } }],
    }),
    pass: examplePod('pvc-client', {
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', volumeMounts: [{ name: 'shared', mountPath: '/data' }] }],
      volumes: [{ name: 'shared', persistentVolumeClaim: { claimName: 'shared-data' } }],
    }),
  },
  check(pod) {
    const findings: Finding[] = [];
    arrayOf(pod.spec.volumes).forEach((volume, index) => {
      if (!isRecord(volume)) return;
      for (const type of Object.keys(volume)) {
        // A null source is no source (the API server drops it); hostPath is disallow-host-path's.
        if (type === 'name' || type === 'hostPath' || isUnset(volume[type]) || allowedVolumeTypes.includes(type)) continue;
        findings.push({
          field: joinPath(pod.specPath, 'volumes', index, type),
          message: `volume ${JSON.stringify(String(volume.name))} uses volume type ${type}`,
        });
      }
    });
    return findings;
  },
};

/** Upstream check allowPrivilegeEscalation: from v1.8 (when the field came), Windows pods exempt from v1.25. */
const privilegeEscalationVersions: readonly WindowsExemption[] = [
  { since: 8, behaviour: { exemptWindows: false } },
  { since: 25, behaviour: { exemptWindows: true } },
];

const disallowPrivilegeEscalation: PodRule = {
  id: 'disallow-privilege-escalation',
  title: 'Privilege escalation must be turned off',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'Unless allowPrivilegeEscalation is false, a process can gain privileges its parent did not have, through set-user-ID ' +
    'binaries or file capabilities; a compromised non-root process can become root in the container. The field defaults ' +
    'to allowing escalation, so it must be set explicitly. Checked from Pod Security version v1.8; Windows pods are exempt from v1.25.',
  remediation: 'Set securityContext.allowPrivilegeEscalation: false on every container.',
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('app', { containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }] }),
    pass: examplePod('app', {
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { allowPrivilegeEscalation: false } }],
    }),
  },
  check(pod, parameters) {
    if (!applies(privilegeEscalationVersions, pod, podSecurityMinor(parameters))) return [];
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      const value = containerSecurityContext(view)?.allowPrivilegeEscalation;
      if (value === false) continue;
      findings.push({
        field: pathToward(view.path, view.container, ['securityContext', 'allowPrivilegeEscalation']),
        message:
          value === true
            ? `${containerLabel(view)} sets securityContext.allowPrivilegeEscalation=true`
            : `${containerLabel(view)} does not set securityContext.allowPrivilegeEscalation=false`,
        ...imageOf(view),
      });
    }
    return findings;
  },
};

/** Upstream check runAsNonRoot: from v1.0; pods with hostUsers: false exempt from v1.35. */
const runAsNonRootVersions: readonly UserNamespaceExemption[] = [
  { since: 0, behaviour: { exemptUserNamespaces: false } },
  { since: 35, behaviour: { exemptUserNamespaces: true } },
];

const runAsNonRoot: PodRule = {
  id: 'run-as-non-root',
  title: 'Containers must run as non-root',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'With runAsNonRoot true the kubelet refuses to start a container whose user is root, whatever the image says. Root in ' +
    'a container is root on the node once any isolation fails. The pod-level setting covers containers that do not set ' +
    'their own; a container setting false overrides the pod, and a pod setting false is refused even when every container sets true. ' +
    'From Pod Security version v1.35, pods with their own user namespace (hostUsers: false) are exempt: root there is not root on the node.',
  remediation: 'Set securityContext.runAsNonRoot: true on the pod (and remove runAsNonRoot: false from containers); run the image as a numeric non-root user.',
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('root', {
      securityContext: { runAsNonRoot: true },
      containers: [
        { name: 'app', image: 'registry.example.com/app:1.0.0' },
        { name: 'sidecar', image: 'registry.example.com/sidecar:1.0.0', securityContext: { runAsNonRoot: false } },
      ],
    }),
    pass: examplePod('non-root', {
      securityContext: { runAsNonRoot: true, runAsUser: 10001 },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
    }),
  },
  check(pod, parameters) {
    if (!applies(runAsNonRootVersions, pod, podSecurityMinor(parameters))) return [];
    const findings: Finding[] = [];
    const podValue = podSecurityContext(pod)?.runAsNonRoot;
    if (podValue === false) {
      findings.push({ field: joinPath(pod.specPath, 'securityContext', 'runAsNonRoot'), message: 'pod sets securityContext.runAsNonRoot=false' });
    }
    for (const view of containersOf(pod)) {
      const value = containerSecurityContext(view)?.runAsNonRoot;
      if (value === true || (isUnset(value) && podValue === true)) continue;
      // A pod-level false is reported once above; containers inheriting it add nothing.
      if (isUnset(value) && podValue === false) continue;
      findings.push({
        field: pathToward(view.path, view.container, ['securityContext', 'runAsNonRoot']),
        message:
          value === false
            ? `${containerLabel(view)} sets securityContext.runAsNonRoot=false`
            : `neither the pod nor ${containerLabel(view)} sets securityContext.runAsNonRoot=true`,
        ...imageOf(view),
      });
    }
    return findings;
  },
};

/** Upstream check runAsUser: from v1.23; pods with hostUsers: false exempt from v1.35. */
const runAsUserVersions: readonly UserNamespaceExemption[] = [
  { since: 23, behaviour: { exemptUserNamespaces: false } },
  { since: 35, behaviour: { exemptUserNamespaces: true } },
];

const disallowRootUser: PodRule = {
  id: 'disallow-root-user',
  title: 'No user ID 0',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'runAsUser: 0 runs the container as root explicitly. It is refused at pod and container level, even when the other ' +
    'level names a different user, because the setting documents an intent to run as root. Checked from Pod Security ' +
    'version v1.23; from v1.35 pods with their own user namespace (hostUsers: false) are exempt.',
  remediation: 'Set runAsUser to a non-zero user ID (for example 10001) or leave it out and set runAsNonRoot: true.',
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('root', {
      securityContext: { runAsUser: 0 },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
    }),
    pass: examplePod('non-root', {
      securityContext: { runAsUser: 10001, runAsGroup: 10001 },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
    }),
  },
  check(pod, parameters) {
    if (!applies(runAsUserVersions, pod, podSecurityMinor(parameters))) return [];
    return securityContextSites(pod, containersOf(pod))
      .filter((site) => site.context.runAsUser === 0)
      .map((site) => ({ field: joinPath(site.path, 'runAsUser'), message: `${site.owner} sets securityContext.runAsUser=0`, ...siteImage(site) }));
  },
};

/** Upstream check seccompProfile_restricted: from v1.19 (when the fields came), Windows pods exempt from v1.25. */
const seccompVersions: readonly WindowsExemption[] = [
  { since: 19, behaviour: { exemptWindows: false } },
  { since: 25, behaviour: { exemptWindows: true } },
];

const seccompProfile: PodRule = {
  id: 'seccomp-profile',
  title: 'A seccomp profile is required',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'Kubernetes runs containers without a seccomp filter unless one is requested, leaving the whole kernel system-call ' +
    'surface reachable. The Restricted level requires RuntimeDefault or Localhost, set on the pod (covering every ' +
    'container) or on each container. Checked from Pod Security version v1.19; Windows pods are exempt from v1.25.',
  remediation: 'Set spec.securityContext.seccompProfile.type: RuntimeDefault on the pod (or Localhost with a profile installed on the nodes).',
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('app', {
      containers: [
        { name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { seccompProfile: { type: 'RuntimeDefault' } } },
        { name: 'sidecar', image: 'registry.example.com/sidecar:1.0.0' },
      ],
    }),
    pass: examplePod('app', {
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        { name: 'app', image: 'registry.example.com/app:1.0.0' },
        { name: 'sidecar', image: 'registry.example.com/sidecar:1.0.0', securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/sidecar.json' } } },
      ],
    }),
  },
  check(pod, parameters) {
    if (!applies(seccompVersions, pod, podSecurityMinor(parameters))) return [];
    const findings: Finding[] = [];
    const containers = containersOf(pod);
    for (const site of securityContextSites(pod, containers)) {
      const profile: unknown = site.context.seccompProfile;
      if (!isRecord(profile) || allowedSeccompProfile(profile)) continue;
      findings.push({ field: joinPath(site.path, 'seccompProfile', 'type'), message: seccompProfileMessage(site.owner, profile), ...siteImage(site) });
    }
    // Containers without their own profile inherit the pod's; an invalid pod profile is reported once above.
    if (isRecord(podSecurityContext(pod)?.seccompProfile)) return findings;
    for (const view of containers) {
      if (isRecord(containerSecurityContext(view)?.seccompProfile)) continue;
      findings.push({
        field: pathToward(view.path, view.container, ['securityContext', 'seccompProfile', 'type']),
        message: `neither the pod nor ${containerLabel(view)} sets securityContext.seccompProfile.type`,
        ...imageOf(view),
      });
    }
    return findings;
  },
};

/** Upstream check capabilities_restricted: from v1.22, Windows pods exempt from v1.25. */
const capabilitiesVersions: readonly WindowsExemption[] = [
  { since: 22, behaviour: { exemptWindows: false } },
  { since: 25, behaviour: { exemptWindows: true } },
];

const restrictCapabilities: PodRule = {
  id: 'restrict-capabilities',
  title: 'Drop all capabilities',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'Even the default capability set lets a process change file ownership, bypass file permissions and send raw packets. ' +
    'Every container must drop ALL and may add back only the capabilities in allowedAdd (by default NET_BIND_SERVICE, to ' +
    'listen on ports below 1024). Names are compared exactly (not net_bind_service, not CAP_NET_BIND_SERVICE; drop needs "ALL"). ' +
    'Checked from Pod Security version v1.22; Windows pods are exempt from v1.25.',
  remediation: 'Set securityContext.capabilities.drop: ["ALL"] on every container and add back only what allowedAdd permits.',
  parameters: podSecurityParameters({
    allowedAdd: {
      type: 'array',
      description: 'Capabilities containers may add after dropping ALL (compared exactly).',
      maxItems: 64,
      items: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z_]+$' },
      default: ['NET_BIND_SERVICE'],
    },
  }),
  examples: {
    fail: examplePod('app', {
      containers: [
        { name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { capabilities: { drop: ['NET_RAW'], add: ['CHOWN'] } } },
      ],
    }),
    pass: examplePod('app', {
      containers: [
        { name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } },
      ],
    }),
  },
  check(pod, parameters) {
    if (!applies(capabilitiesVersions, pod, podSecurityMinor(parameters))) return [];
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      // Runtimes differ on spelling for drop; only the exact "ALL" is understood everywhere.
      if (arrayOf(containerSecurityContext(view)?.capabilities?.drop).includes('ALL')) continue;
      findings.push({
        field: pathToward(view.path, view.container, ['securityContext', 'capabilities', 'drop']),
        message: `${containerLabel(view)} does not drop ALL capabilities`,
        ...imageOf(view),
      });
    }
    const allowed = new Set(stringList(parameters, 'allowedAdd', ['NET_BIND_SERVICE']));
    return [...findings, ...addedCapabilityFindings(pod, allowed)];
  },
};

export const restrictedRules: readonly PodRule[] = [
  restrictVolumeTypes,
  disallowPrivilegeEscalation,
  runAsNonRoot,
  disallowRootUser,
  seccompProfile,
  restrictCapabilities,
];
