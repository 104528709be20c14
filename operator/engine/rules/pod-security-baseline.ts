/**
 * The Baseline level of the Kubernetes Pod Security Standards: controls that stop known privilege
 * escalations while admitting a pod that sets nothing special. Every control covers containers,
 * init containers and ephemeral containers, and gives the verdict of the upstream Pod Security
 * admission check it mirrors (k8s.io/pod-security-admission v0.37.2) at the version its `version`
 * parameter names: a check that changed between versions keeps its version table next to it.
 */
import { behaviourAt, levelOfParameter, levelParameter, type VersionedBehaviour } from '../pod-security-version';
import type { Finding, PodRule, PodTemplateView } from '../types';
import { containersOf, isWindowsPod } from '../workload';
import {
  arrayOf,
  booleanParameter,
  containerLabel,
  containerSecurityContext,
  examplePod,
  imageOf,
  isRecord,
  joinPath,
  numberList,
  podSecurityContext,
  podSecurityMinor,
  podSecurityParameters,
  securityContextSites,
  show,
  siteImage,
  stringList,
} from './util';

const family = 'pod-security-baseline' as const;

const disallowHostProcess: PodRule = {
  id: 'disallow-host-process',
  title: 'No Windows HostProcess containers',
  family,
  severity: 'CRITICAL',
  target: 'pod',
  description:
    'A Windows HostProcess container runs directly on the node as a host process, outside any container isolation, ' +
    'with access to the node\'s network, file system and devices. It is the Windows equivalent of a privileged Linux container.',
  remediation: 'Remove securityContext.windowsOptions.hostProcess (or set it to false) on the pod and on every container.',
  // Upstream check windowsHostProcess: one behaviour from v1.0 on.
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('host-agent', {
      os: { name: 'windows' },
      hostNetwork: true,
      securityContext: { windowsOptions: { hostProcess: true, runAsUserName: 'NT AUTHORITY\\SYSTEM' } },
      containers: [{ name: 'agent', image: 'registry.example.com/windows/agent:1.4.0' }],
    }),
    pass: examplePod('windows-app', {
      os: { name: 'windows' },
      containers: [{ name: 'app', image: 'registry.example.com/windows/app:2.1.0' }],
    }),
  },
  check(pod) {
    return securityContextSites(pod, containersOf(pod))
      .filter((site) => site.context.windowsOptions?.hostProcess === true)
      .map((site) => ({
        field: joinPath(site.path, 'windowsOptions', 'hostProcess'),
        message: `${site.owner} sets securityContext.windowsOptions.hostProcess=true`,
        ...siteImage(site),
      }));
  },
};

const hostNamespaceFields = ['hostNetwork', 'hostPID', 'hostIPC'] as const;

const disallowHostNamespaces: PodRule = {
  id: 'disallow-host-namespaces',
  title: 'No sharing of the node\'s network, PID or IPC namespace',
  family,
  severity: 'HIGH',
  target: 'pod',
  description:
    'A pod in the node\'s network namespace can bind node ports and reach services listening on localhost; in the node\'s ' +
    'PID namespace it can see and signal every process on the node; in the node\'s IPC namespace it can read shared memory ' +
    'of other workloads. Each removes a layer of isolation between the pod and the node.',
  remediation: 'Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).',
  // Upstream check hostNamespaces: one behaviour from v1.0 on.
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('node-debugger', {
      hostNetwork: true,
      hostPID: true,
      containers: [{ name: 'shell', image: 'registry.example.com/tools/debug:1.0.0' }],
    }),
    pass: examplePod('web', { containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1' }] }),
  },
  check(pod) {
    return hostNamespaceFields
      .filter((field) => pod.spec[field] === true)
      .map((field) => ({ field: joinPath(pod.specPath, field), message: `pod sets ${field}=true` }));
  },
};

const disallowPrivileged: PodRule = {
  id: 'disallow-privileged',
  title: 'No privileged containers',
  family,
  severity: 'CRITICAL',
  target: 'pod',
  description:
    'A privileged container gets every capability, every device of the node and no seccomp, AppArmor or SELinux ' +
    'confinement. Escaping to the node from it takes one command.',
  remediation: 'Remove securityContext.privileged (or set it to false) on every container; grant only the capabilities the process needs.',
  // Upstream check privileged: one behaviour from v1.0 on.
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('privileged', {
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { privileged: true } }],
    }),
    pass: examplePod('unprivileged', {
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { privileged: false } }],
    }),
  },
  check(pod) {
    return containersOf(pod)
      .filter((view) => containerSecurityContext(view)?.privileged === true)
      .map((view) => ({
        field: joinPath(view.path, 'securityContext', 'privileged'),
        message: `${containerLabel(view)} sets securityContext.privileged=true`,
        ...imageOf(view),
      }));
  },
};

/** Capabilities a container runtime grants by default; adding them back is not an escalation. */
export const baselineCapabilities: readonly string[] = [
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
];

/**
 * Findings for each entry of capabilities.add not in `allowed`. Names are compared exactly, as
 * upstream does: `chown` and `CAP_CHOWN` are not `CHOWN` (a runtime may well read them as CHOWN,
 * but the Pod Security Standards only admit the spelling they list).
 */
export function addedCapabilityFindings(pod: PodTemplateView, allowed: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  for (const view of containersOf(pod)) {
    const added = containerSecurityContext(view)?.capabilities?.add;
    arrayOf(added).forEach((capability, index) => {
      if (typeof capability === 'string' && allowed.has(capability)) return;
      findings.push({
        field: joinPath(view.path, 'securityContext', 'capabilities', 'add', index),
        message: `${containerLabel(view)} adds capability ${show(capability)}`,
        ...imageOf(view),
      });
    });
  }
  return findings;
}

const capabilityName = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z_]+$' };

/**
 * Upstream check capabilities_baseline: one allowed set from v1.0 on. At the Restricted level,
 * capabilities_restricted replaces it from v1.22 (drop ALL, add only NET_BIND_SERVICE: stricter,
 * so the verdict is the same) and from v1.25 exempts Windows pods — so does this rule at level restricted.
 */
const capabilitiesBaselineVersions: readonly VersionedBehaviour<{ allowed: readonly string[] }>[] = [{ since: 0, behaviour: { allowed: baselineCapabilities } }];
const capabilitiesRestrictedOverride: readonly VersionedBehaviour<{ exemptWindows: boolean }>[] = [
  { since: 22, behaviour: { exemptWindows: false } },
  { since: 25, behaviour: { exemptWindows: true } },
];

const disallowCapabilities: PodRule = {
  id: 'disallow-capabilities',
  title: 'Only default capabilities may be added',
  family,
  severity: 'HIGH',
  target: 'pod',
  description:
    'Capabilities beyond the set a container runtime grants by default (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, ' +
    'KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) hand root-like powers to the process: ' +
    'SYS_ADMIN, NET_ADMIN, SYS_PTRACE or SYS_MODULE each open a path to the node. Names are compared exactly, as the ' +
    'Pod Security admission controller compares them: chown or CAP_CHOWN is not the allowed CHOWN.',
  remediation: 'Remove capabilities outside the default set from securityContext.capabilities.add.',
  parameters: podSecurityParameters({
    level: levelParameter,
    additionalAllowed: {
      type: 'array',
      description: 'Capabilities allowed in addition to the default set, for example NET_RAW (compared exactly).',
      maxItems: 64,
      items: capabilityName,
      default: [],
    },
  }),
  examples: {
    fail: examplePod('packet-capture', {
      containers: [
        {
          name: 'tcpdump',
          image: 'registry.example.com/tools/tcpdump:4.99',
          securityContext: { capabilities: { add: ['NET_ADMIN', 'SYS_ADMIN'] } },
        },
      ],
    }),
    pass: examplePod('web', {
      containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1', securityContext: { capabilities: { add: ['NET_BIND_SERVICE'] } } }],
    }),
  },
  check(pod, parameters) {
    const minor = podSecurityMinor(parameters);
    const behaviour = behaviourAt(capabilitiesBaselineVersions, minor);
    if (!behaviour) return [];
    if (levelOfParameter(parameters.level) === 'restricted' && behaviourAt(capabilitiesRestrictedOverride, minor)?.exemptWindows && isWindowsPod(pod)) return [];
    const allowed = new Set([...behaviour.allowed, ...stringList(parameters, 'additionalAllowed', [])]);
    return addedCapabilityFindings(pod, allowed);
  },
};

const disallowHostPath: PodRule = {
  id: 'disallow-host-path',
  title: 'No hostPath volumes',
  family,
  severity: 'HIGH',
  target: 'pod',
  description:
    'A hostPath volume mounts a directory of the node into the pod. Writable, it lets the pod plant files the node or ' +
    'other pods execute; even read-only, it exposes kubelet credentials, other pods\' secrets and logs.',
  remediation: 'Replace hostPath volumes with emptyDir, a ConfigMap or Secret, or a PersistentVolumeClaim.',
  // Upstream check hostPathVolumes: one behaviour from v1.0 on. (At the Restricted level upstream
  // reports host paths under restrictedVolumes instead; the verdict is the same.)
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('log-reader', {
      containers: [{ name: 'reader', image: 'registry.example.com/logs/reader:2.0.0', volumeMounts: [{ name: 'varlog', mountPath: '/var/log' }] }],
      volumes: [{ name: 'varlog', hostPath: { path: '/var/log', type: 'Directory' } }],
    }),
    pass: examplePod('cache', {
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }] }],
      volumes: [{ name: 'scratch', emptyDir: {} }],
    }),
  },
  check(pod) {
    const findings: Finding[] = [];
    arrayOf(pod.spec.volumes).forEach((volume, index) => {
      if (!isRecord(volume) || !isRecord(volume.hostPath)) return;
      const hostPath = volume.hostPath.path;
      findings.push({
        field: joinPath(pod.specPath, 'volumes', index, 'hostPath'),
        message: `volume ${show(volume.name)} mounts host path ${show(hostPath)}`,
      });
    });
    return findings;
  },
};

const disallowHostPorts: PodRule = {
  id: 'disallow-host-ports',
  title: 'No host ports, except listed ones',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'A hostPort binds a port on the node\'s own address to the container, bypassing Services and NetworkPolicies that ' +
    'guard the pod network, and limits scheduling to nodes where the port is free.',
  remediation: 'Remove hostPort from the container ports and expose the pod through a Service; or list the port in allowedHostPorts.',
  // Upstream check hostPorts: one behaviour from v1.0 on. allowedHostPorts is SecureStack's own.
  parameters: podSecurityParameters({
    allowedHostPorts: {
      type: 'array',
      description: 'Host ports containers may use; all others are refused.',
      maxItems: 256,
      items: { type: 'integer', minimum: 1, maximum: 65535 },
      default: [],
    },
  }),
  examples: {
    fail: examplePod('ingress', {
      containers: [{ name: 'proxy', image: 'registry.example.com/proxy:1.25', ports: [{ containerPort: 8443, hostPort: 443 }] }],
    }),
    pass: examplePod('ingress', {
      containers: [{ name: 'proxy', image: 'registry.example.com/proxy:1.25', ports: [{ containerPort: 8443 }] }],
    }),
  },
  check(pod, parameters) {
    const allowed = new Set(numberList(parameters, 'allowedHostPorts', []));
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      arrayOf(view.container.ports).forEach((port, index) => {
        if (!isRecord(port)) return;
        const hostPort = port.hostPort;
        if (typeof hostPort !== 'number' || hostPort === 0 || allowed.has(hostPort)) return;
        findings.push({
          field: joinPath(view.path, 'ports', index, 'hostPort'),
          message: `${containerLabel(view)} uses hostPort ${hostPort}`,
          ...imageOf(view),
        });
      });
    }
    return findings;
  },
};

const probeFields = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
const lifecycleHooks = ['postStart', 'preStop'] as const;
const handlerKinds = ['httpGet', 'tcpSocket'] as const;

/** Every probe or lifecycle handler of a container that can name a host: [steps below the container, handler]. */
function hostHandlers(container: Record<string, unknown>): [string[], Record<string, unknown>][] {
  const handlers: [string[], Record<string, unknown>][] = [];
  const collect = (owner: unknown, steps: string[]): void => {
    if (!isRecord(owner)) return;
    for (const kind of handlerKinds) {
      const handler = owner[kind];
      if (isRecord(handler)) handlers.push([[...steps, kind], handler]);
    }
  };
  for (const probe of probeFields) collect(container[probe], [probe]);
  const lifecycle = container.lifecycle;
  if (isRecord(lifecycle)) for (const hook of lifecycleHooks) collect(lifecycle[hook], ['lifecycle', hook]);
  return handlers;
}

/** Upstream check hostProbesAndHostLifecycle: added in v1.34; earlier versions allow any host. */
const hostProbesVersions: readonly VersionedBehaviour<true>[] = [{ since: 34, behaviour: true }];

const disallowHostProbes: PodRule = {
  id: 'disallow-host-probes',
  title: 'Probes and lifecycle hooks must not name a host',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'The kubelet runs httpGet and tcpSocket probes and lifecycle hooks from the node. With a host set, the pod makes the ' +
    'kubelet connect to any address the node can reach — a server-side request forgery into the node network, cloud ' +
    'metadata endpoints or the control plane. Checked from Pod Security version v1.34 on.',
  remediation: 'Remove the host field from httpGet and tcpSocket in probes and lifecycle hooks; they then target the pod\'s own IP.',
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('web', {
      containers: [
        {
          name: 'web',
          image: 'registry.example.com/web:3.2.1',
          livenessProbe: { httpGet: { host: '169.254.169.254', path: '/latest/meta-data/', port: 80 } },
        },
      ],
    }),
    pass: examplePod('web', {
      containers: [{ name: 'web', image: 'registry.example.com/web:3.2.1', livenessProbe: { httpGet: { path: '/healthz', port: 8080 } } }],
    }),
  },
  check(pod, parameters) {
    if (!behaviourAt(hostProbesVersions, podSecurityMinor(parameters))) return [];
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      for (const [steps, handler] of hostHandlers(view.container as unknown as Record<string, unknown>)) {
        const host = handler.host;
        if (typeof host !== 'string' || host === '') continue;
        findings.push({
          field: joinPath(view.path, ...steps, 'host'),
          message: `${containerLabel(view)} sets ${steps.join('.')}.host=${JSON.stringify(host)}`,
          ...imageOf(view),
        });
      }
    }
    return findings;
  },
};

const appArmorAnnotationPrefix = 'container.apparmor.security.beta.kubernetes.io/';
const allowedAppArmorTypes: readonly string[] = ['RuntimeDefault', 'Localhost'];

function allowedAppArmorAnnotation(value: string): boolean {
  return value === '' || value === 'runtime/default' || value.startsWith('localhost/');
}

/** The image of the container a legacy per-container annotation names, if the pod has it. */
function imageOfContainerNamed(pod: PodTemplateView, name: string): { image?: string } {
  const view = containersOf(pod).find((candidate) => candidate.container.name === name);
  return view ? imageOf(view) : {};
}

const restrictAppArmor: PodRule = {
  id: 'restrict-apparmor',
  title: 'AppArmor may not be disabled',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'On nodes with AppArmor, containers run under the runtime\'s default profile, which blocks writes to sensitive ' +
    'kernel interfaces and mounts. Setting the profile to Unconfined removes that protection. Checked: ' +
    'securityContext.appArmorProfile.type at pod and container level (RuntimeDefault and Localhost allowed) and the ' +
    'older container.apparmor.security.beta.kubernetes.io/<container> annotations (runtime/default and localhost/<profile> allowed).',
  remediation: 'Set appArmorProfile.type to RuntimeDefault or Localhost, or leave it out; remove unconfined AppArmor annotations.',
  // Upstream check appArmorProfile: one behaviour (fields and annotations) from v1.0 on.
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod(
      'unconfined',
      {
        securityContext: { appArmorProfile: { type: 'Unconfined' } },
        containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
      },
      { annotations: { [`${appArmorAnnotationPrefix}app`]: 'unconfined' } },
    ),
    pass: examplePod('confined', {
      securityContext: { appArmorProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-app' } } }],
    }),
  },
  check(pod) {
    const findings: Finding[] = [];
    for (const site of securityContextSites(pod, containersOf(pod))) {
      // A profile without a type is refused like a bad type: upstream reads the type as "".
      const profile: unknown = site.context.appArmorProfile;
      if (!isRecord(profile)) continue;
      const type = profile.type;
      if (typeof type === 'string' && allowedAppArmorTypes.includes(type)) continue;
      findings.push({
        field: joinPath(site.path, 'appArmorProfile', 'type'),
        message: typeof type === 'string' && type !== '' ? `${site.owner} sets securityContext.appArmorProfile.type=${type}` : `${site.owner} sets securityContext.appArmorProfile without a type`,
        ...siteImage(site),
      });
    }
    for (const [key, value] of Object.entries(pod.annotations)) {
      if (!key.startsWith(appArmorAnnotationPrefix) || allowedAppArmorAnnotation(value)) continue;
      findings.push({
        field: joinPath(pod.metadataPath, 'annotations', key),
        message: `pod annotation ${key}=${JSON.stringify(value)} disables the default AppArmor profile`,
        ...imageOfContainerNamed(pod, key.slice(appArmorAnnotationPrefix.length)),
      });
    }
    return findings;
  },
};

/** Upstream check seLinuxOptions: container_engine_t is allowed from v1.31 on. */
const seLinuxVersions: readonly VersionedBehaviour<{ types: readonly string[] }>[] = [
  { since: 0, behaviour: { types: ['', 'container_t', 'container_init_t', 'container_kvm_t'] } },
  { since: 31, behaviour: { types: ['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'] } },
];

const restrictSELinux: PodRule = {
  id: 'restrict-selinux',
  title: 'SELinux options limited to container types',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'A custom SELinux type, user or role can run the container in a domain that is not confined like a container ' +
    '(spc_t, unconfined_t) and thereby reach the node. Allowed types are container_t, container_init_t, container_kvm_t ' +
    'and container_engine_t (from Pod Security version v1.31); user and role must stay unset. The level (MCS categories) is free.',
  remediation: 'Remove seLinuxOptions.user and seLinuxOptions.role and use one of the container SELinux types, or leave the type out.',
  parameters: podSecurityParameters(),
  examples: {
    fail: examplePod('super-privileged', {
      securityContext: { seLinuxOptions: { type: 'spc_t' } },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { seLinuxOptions: { user: 'system_u', role: 'system_r' } } }],
    }),
    pass: examplePod('labelled', {
      securityContext: { seLinuxOptions: { level: 's0:c123,c456' } },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { seLinuxOptions: { type: 'container_t' } } }],
    }),
  },
  check(pod, parameters) {
    const behaviour = behaviourAt(seLinuxVersions, podSecurityMinor(parameters));
    if (!behaviour) return [];
    const findings: Finding[] = [];
    for (const site of securityContextSites(pod, containersOf(pod))) {
      const options: unknown = site.context.seLinuxOptions;
      if (!isRecord(options)) continue;
      const at = (field: string, message: string): void => {
        findings.push({ field: joinPath(site.path, 'seLinuxOptions', field), message: `${site.owner} ${message}`, ...siteImage(site) });
      };
      if (typeof options.type === 'string' && !behaviour.types.includes(options.type)) at('type', `sets securityContext.seLinuxOptions.type=${options.type}`);
      if (typeof options.user === 'string' && options.user !== '') at('user', `sets securityContext.seLinuxOptions.user=${options.user}`);
      if (typeof options.role === 'string' && options.role !== '') at('role', `sets securityContext.seLinuxOptions.role=${options.role}`);
    }
    return findings;
  },
};

/**
 * Upstream check procMount: from v1.35 the Baseline level allows any procMount in a pod with its
 * own user namespace (hostUsers: false). At the Restricted level, procMount_restricted replaces it
 * from v1.35 with the unrelaxed check, so at level restricted nothing is relaxed at any version.
 */
const procMountVersions: readonly VersionedBehaviour<{ relaxInUserNamespaces: boolean }>[] = [
  { since: 0, behaviour: { relaxInUserNamespaces: false } },
  { since: 35, behaviour: { relaxInUserNamespaces: true } },
];

const restrictProcMount: PodRule = {
  id: 'restrict-proc-mount',
  title: 'Default /proc masking required',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'The container runtime hides and write-protects parts of /proc that expose the node\'s kernel. procMount: Unmasked ' +
    'turns that off. From Pod Security version v1.35 the Baseline level allows it in pods with their own user namespace ' +
    '(hostUsers: false) while Restricted still requires Default; this rule follows the level its policy applies ' +
    '(parameter level), and allowInUserNamespaces relaxes it at every level and version.',
  remediation: 'Remove securityContext.procMount or set it to Default.',
  parameters: podSecurityParameters({
    level: levelParameter,
    allowInUserNamespaces: {
      type: 'boolean',
      description: 'Allow any procMount in pods that set hostUsers: false, at every level and version (the Baseline level itself does so from v1.35).',
      default: false,
    },
  }),
  examples: {
    fail: examplePod('unmasked', {
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { procMount: 'Unmasked' } }],
    }),
    pass: examplePod('masked', {
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0', securityContext: { procMount: 'Default' } }],
    }),
  },
  check(pod, parameters) {
    const behaviour = behaviourAt(procMountVersions, podSecurityMinor(parameters));
    if (!behaviour) return [];
    const relaxed =
      booleanParameter(parameters, 'allowInUserNamespaces', false) || (behaviour.relaxInUserNamespaces && levelOfParameter(parameters.level) === 'baseline');
    if (relaxed && pod.spec.hostUsers === false) return [];
    const findings: Finding[] = [];
    for (const view of containersOf(pod)) {
      const procMount = containerSecurityContext(view)?.procMount;
      if (typeof procMount !== 'string' || procMount === 'Default') continue;
      findings.push({
        field: joinPath(view.path, 'securityContext', 'procMount'),
        message: `${containerLabel(view)} sets securityContext.procMount=${procMount}`,
        ...imageOf(view),
      });
    }
    return findings;
  },
};

/** Seccomp profile types allowed where a profile is set, at both levels. */
export const allowedSeccompTypes: readonly string[] = ['RuntimeDefault', 'Localhost'];

/** Whether a seccompProfile that is set names an allowed type; one without a type does not (upstream reads ""). */
export function allowedSeccompProfile(profile: Record<string, unknown>): boolean {
  return typeof profile.type === 'string' && allowedSeccompTypes.includes(profile.type);
}

/** How a seccompProfile that is not allowed reads in a finding. */
export function seccompProfileMessage(owner: string, profile: Record<string, unknown>): string {
  return typeof profile.type === 'string' && profile.type !== ''
    ? `${owner} sets securityContext.seccompProfile.type=${profile.type}`
    : `${owner} sets securityContext.seccompProfile without a type`;
}

const seccompPodAnnotation = 'seccomp.security.alpha.kubernetes.io/pod';
const seccompContainerAnnotationPrefix = 'container.seccomp.security.alpha.kubernetes.io/';

function allowedSeccompAnnotation(value: string): boolean {
  return value === 'runtime/default' || value === 'docker/default' || value.startsWith('localhost/');
}

/**
 * Upstream check seccompProfile_baseline: before v1.19 it reads the alpha annotations (the pod's
 * and one per container of the pod), from v1.19 the securityContext fields. At the Restricted level
 * seccompProfile_restricted replaces it from v1.19 (stricter: same verdict) and from v1.25 exempts
 * Windows pods — so does this rule at level restricted.
 */
const seccompBaselineVersions: readonly VersionedBehaviour<{ reads: 'annotations' | 'fields' }>[] = [
  { since: 0, behaviour: { reads: 'annotations' } },
  { since: 19, behaviour: { reads: 'fields' } },
];
const seccompRestrictedOverride: readonly VersionedBehaviour<{ exemptWindows: boolean }>[] = [
  { since: 19, behaviour: { exemptWindows: false } },
  { since: 25, behaviour: { exemptWindows: true } },
];

function seccompAnnotationFindings(pod: PodTemplateView): Finding[] {
  const findings: Finding[] = [];
  const judge = (key: string, image: { image?: string }): void => {
    const value = pod.annotations[key];
    if (value === undefined || allowedSeccompAnnotation(value)) return;
    findings.push({
      field: joinPath(pod.metadataPath, 'annotations', key),
      message: `pod annotation ${key}=${JSON.stringify(value)} is not runtime/default, docker/default or localhost/<profile>`,
      ...image,
    });
  };
  judge(seccompPodAnnotation, {});
  for (const view of containersOf(pod)) judge(`${seccompContainerAnnotationPrefix}${view.container.name ?? ''}`, imageOf(view));
  return findings;
}

const restrictSeccomp: PodRule = {
  id: 'restrict-seccomp',
  title: 'Seccomp may not be disabled',
  family,
  severity: 'HIGH',
  target: 'pod',
  description:
    'Seccomp filters the system calls a container may make; the runtime default profile blocks dozens that are only ' +
    'useful for attacking the kernel. A profile at pod or container level other than RuntimeDefault or Localhost ' +
    '(Unconfined) removes the filter. Before Pod Security version v1.19 the check reads the alpha annotations ' +
    'seccomp.security.alpha.kubernetes.io/pod and container.seccomp.security.alpha.kubernetes.io/<container> instead ' +
    '(runtime/default, docker/default and localhost/<profile> allowed).',
  remediation: 'Set seccompProfile.type to RuntimeDefault or Localhost, or leave it out, at pod and container level.',
  parameters: podSecurityParameters({ level: levelParameter }),
  examples: {
    fail: examplePod('no-seccomp', {
      securityContext: { seccompProfile: { type: 'Unconfined' } },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
    }),
    pass: examplePod('seccomp', {
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
    }),
  },
  check(pod, parameters) {
    const minor = podSecurityMinor(parameters);
    const behaviour = behaviourAt(seccompBaselineVersions, minor);
    if (!behaviour) return [];
    if (levelOfParameter(parameters.level) === 'restricted' && behaviourAt(seccompRestrictedOverride, minor)?.exemptWindows && isWindowsPod(pod)) return [];
    if (behaviour.reads === 'annotations') return seccompAnnotationFindings(pod);
    const findings: Finding[] = [];
    for (const site of securityContextSites(pod, containersOf(pod))) {
      const profile: unknown = site.context.seccompProfile;
      if (!isRecord(profile) || allowedSeccompProfile(profile)) continue;
      findings.push({ field: joinPath(site.path, 'seccompProfile', 'type'), message: seccompProfileMessage(site.owner, profile), ...siteImage(site) });
    }
    return findings;
  },
};

/**
 * Upstream check sysctls: sysctls namespaced to the pod and isolated from other pods on the node,
 * by the version that added them to the safe set.
 */
const sysctlVersions: readonly VersionedBehaviour<{ added: readonly string[] }>[] = [
  { since: 0, behaviour: { added: ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start'] } },
  { since: 27, behaviour: { added: ['net.ipv4.ip_local_reserved_ports'] } },
  { since: 29, behaviour: { added: ['net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'] } },
  { since: 32, behaviour: { added: ['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem'] } },
  { since: 37, behaviour: { added: ['net.ipv4.tcp_slow_start_after_idle', 'net.ipv4.tcp_notsent_lowat'] } },
];

/** The safe sysctls at a Kubernetes minor: every name added at or before it. */
export function safeSysctlsAt(minor: number): string[] {
  return sysctlVersions.filter((row) => row.since <= minor).flatMap((row) => row.behaviour.added);
}

/** The safe sysctls at the newest version (latest). */
export const safeSysctls: readonly string[] = safeSysctlsAt(Number.MAX_SAFE_INTEGER);

const restrictSysctls: PodRule = {
  id: 'restrict-sysctls',
  title: 'Only safe sysctls',
  family,
  severity: 'MEDIUM',
  target: 'pod',
  description:
    'A sysctl outside the safe set either is not namespaced — setting it changes the kernel for every pod on the node — ' +
    'or can be used to exhaust node resources or weaken protections. The safe set at the latest version: ' +
    `${safeSysctls.join(', ')}. Older versions allow fewer: ${sysctlVersions
      .slice(1)
      .map((row) => `${row.behaviour.added.join(', ')} from v1.${row.since}`)
      .join('; ')}.`,
  remediation: 'Remove sysctls outside the safe set from spec.securityContext.sysctls, or tune them on the node instead.',
  parameters: podSecurityParameters({
    additionalAllowed: {
      type: 'array',
      description: 'Sysctl names allowed in addition to the safe set (the kubelet must allow them too: --allowed-unsafe-sysctls).',
      maxItems: 64,
      items: { type: 'string', minLength: 1, maxLength: 253 },
      default: [],
    },
  }),
  examples: {
    fail: examplePod('tuned', {
      securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '4096' }, { name: 'kernel.msgmax', value: '65536' }] },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
    }),
    pass: examplePod('tuned', {
      securityContext: { sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: '1024 65000' }] },
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
    }),
  },
  check(pod, parameters) {
    const allowed = new Set([...safeSysctlsAt(podSecurityMinor(parameters)), ...stringList(parameters, 'additionalAllowed', [])]);
    const findings: Finding[] = [];
    arrayOf(podSecurityContext(pod)?.sysctls).forEach((sysctl, index) => {
      const name = isRecord(sysctl) ? sysctl.name : undefined;
      if (typeof name === 'string' && allowed.has(name)) return;
      findings.push({
        field: joinPath(pod.specPath, 'securityContext', 'sysctls', index, 'name'),
        message: `pod sets sysctl ${show(name)}`,
      });
    });
    return findings;
  },
};

export const baselineRules: readonly PodRule[] = [
  disallowHostProcess,
  disallowHostNamespaces,
  disallowPrivileged,
  disallowCapabilities,
  disallowHostPath,
  disallowHostPorts,
  disallowHostProbes,
  restrictAppArmor,
  restrictSELinux,
  restrictProcMount,
  restrictSeccomp,
  restrictSysctls,
];
