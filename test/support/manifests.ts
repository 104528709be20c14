/**
 * Realistic pod specs and the admission variants (a compliant object and one-rule violations and
 * near misses for every rule, as Pods, Deployments and CronJobs), shared by bench/admission.ts and
 * the tests that compare verdicts (test/cli-webhook-agreement.test.ts). Pure data, no I/O.
 */
export type Json = Record<string, unknown>;

export const allowedRegistry = 'registry.example.com';

/** Deterministic pseudo-random numbers (mulberry32), so every run reviews the same mix. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hex(seed: number, length: number): string {
  const random = prng(seed);
  return Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('');
}

export function pinnedImage(repository: string, version: string, seed: number): string {
  return `${allowedRegistry}/${repository}:${version}@sha256:${hex(seed, 64)}`;
}

export function probe(path: string, port: string, period: number): Json {
  return { httpGet: { path, port, scheme: 'HTTP' }, initialDelaySeconds: 5, periodSeconds: period, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
}

export const restrictedContext: Json = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

/** The main container of a typical service: env, probes, resources, mounts, restricted context. */
export function appContainer(seed: number): Json {
  return {
    name: 'app',
    image: pinnedImage(`shop/checkout-${seed % 7}`, `2.${seed % 13}.1`, seed),
    imagePullPolicy: 'IfNotPresent',
    args: ['--config=/etc/checkout/config.yaml', '--listen=:8080', '--metrics=:9090'],
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ],
    env: [
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'LOG_FORMAT', value: 'json' },
      { name: 'DB_HOST', value: 'postgres.shop.svc.cluster.local' },
      { name: 'DB_USER', value: 'checkout' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'checkout-db', key: 'password' } } },
      { name: 'PAYMENT_API_TOKEN', valueFrom: { secretKeyRef: { name: 'payment-api', key: 'token' } } },
      { name: 'TLS_KEY_FILE', value: '/etc/tls/tls.key' },
      { name: 'CACHE_URL', value: 'redis://redis.shop.svc.cluster.local:6379/0' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
      { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } },
      { name: 'FEATURE_FLAGS', value: 'new-cart,fast-checkout,async-receipts' },
      { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4317' },
      { name: 'TZ', value: 'UTC' },
    ],
    envFrom: [{ configMapRef: { name: 'checkout-env' } }],
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    livenessProbe: probe('/healthz', 'http', 10),
    readinessProbe: probe('/ready', 'http', 5),
    startupProbe: { ...probe('/healthz', 'http', 2), failureThreshold: 30 },
    lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', 'sleep 5'] } } },
    volumeMounts: [
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'config', mountPath: '/etc/checkout', readOnly: true },
      { name: 'tls', mountPath: '/etc/tls', readOnly: true },
      { name: 'cache', mountPath: '/var/cache/checkout' },
    ],
    securityContext: structuredClone(restrictedContext),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
}

/** A small sidecar (metrics exporter or log shipper); `slot` keeps ports apart within a pod. */
export function sidecar(name: string, seed: number, slot = 1): Json {
  const port = 9000 + slot * 100 + (seed % 50);
  const tcp = (period: number): Json => ({ tcpSocket: { port }, periodSeconds: period, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
  return {
    name,
    image: pinnedImage(`platform/${name}`, `1.${seed % 5}.0`, seed + 1000),
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: `side-${slot}`, containerPort: port, protocol: 'TCP' }],
    env: [{ name: 'TARGET', value: 'http://127.0.0.1:9090/metrics' }],
    resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    livenessProbe: tcp(20),
    readinessProbe: tcp(10),
    securityContext: structuredClone(restrictedContext),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
}

/** A compliant pod spec with 1-3 containers, as the API server holds it after defaulting. */
export function compliantPodSpec(seed: number, containers: number): Json {
  const list = [appContainer(seed), sidecar('metrics-exporter', seed, 1), sidecar('log-shipper', seed, 2)].slice(0, containers);
  return {
    automountServiceAccountToken: false,
    serviceAccountName: 'checkout',
    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
    containers: list,
    volumes: [
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
      { name: 'config', configMap: { name: 'checkout-config', defaultMode: 420 } },
      { name: 'tls', secret: { secretName: 'checkout-tls', defaultMode: 420 } },
      { name: 'cache', emptyDir: { sizeLimit: '1Gi' } },
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    schedulerName: 'default-scheduler',
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
    priority: 0,
    affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'checkout' } } } }] } },
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'checkout' } } }],
  };
}

export type Mutation = (spec: Json) => void;

export function containerAt(spec: Json, index = 0): Json {
  return (spec.containers as Json[])[index] ?? {};
}

export function contextOf(container: Json): Json {
  return (container.securityContext ??= {}) as Json;
}

export interface Variant {
  name: string;
  object: Json;
}

export function variantPod(name: string, mutate: Mutation = () => undefined, kind: 'Pod' | 'Deployment' | 'CronJob' = 'Pod'): Variant {
  const spec = compliantPodSpec(21, 2);
  mutate(spec);
  const labels = { 'app.kubernetes.io/name': 'checkout' };
  const metadata = { name: `v-${name}`, labels };
  if (kind === 'Pod') return { name, object: { apiVersion: 'v1', kind, metadata, spec } };
  const podTemplate = { metadata: { labels }, spec };
  if (kind === 'Deployment') return { name, object: { apiVersion: 'apps/v1', kind, metadata, spec: { replicas: 1, selector: { matchLabels: labels }, template: podTemplate } } };
  Object.assign(spec, { restartPolicy: 'OnFailure' });
  return { name, object: { apiVersion: 'batch/v1', kind, metadata, spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: podTemplate } } } } };
}

const digest = `sha256:${'c3'.repeat(32)}`;
export const ctx = (spec: Json, index = 0): Json => contextOf(containerAt(spec, index));
const podCtx = (spec: Json): Json => spec.securityContext as Json;
const env = (spec: Json, name: string, value: string): void => {
  (containerAt(spec).env as Json[]).push({ name, value });
};

/** Compliant objects and one-rule violations (and near misses that must pass), for every rule. */
export function variants(): Variant[] {
  const v = variantPod;
  return [
    v('compliant'), v('compliant-deployment', undefined, 'Deployment'), v('compliant-cronjob', undefined, 'CronJob'),
    v('privileged-deployment', (s) => Object.assign(ctx(s), { privileged: true, allowPrivilegeEscalation: undefined }), 'Deployment'),
    v('privileged-cronjob', (s) => Object.assign(ctx(s), { privileged: true, allowPrivilegeEscalation: undefined }), 'CronJob'),
    v('sidecar-init', (s) => (s.initContainers = [{ ...sidecar('proxy', 9, 3), restartPolicy: 'Always' }])),
    v('sidecar-init-no-probes', (s) => (s.initContainers = [{ ...sidecar('proxy', 9, 3), restartPolicy: 'Always', livenessProbe: undefined }])),
    v('init-no-probes', (s) => (s.initContainers = [{ ...sidecar('migrate', 9, 3), livenessProbe: undefined, readinessProbe: undefined }])),
    v('init-writable-root', (s) => (s.initContainers = [{ ...sidecar('migrate', 9, 3), livenessProbe: undefined, readinessProbe: undefined, securityContext: { ...restrictedContext, readOnlyRootFilesystem: false } }])),
    v('privileged', (s) => Object.assign(ctx(s), { privileged: true, allowPrivilegeEscalation: undefined })),
    v('host-network', (s) => (s.hostNetwork = true)), v('host-pid', (s) => (s.hostPID = true)), v('host-ipc', (s) => (s.hostIPC = true)),
    v('cap-add-sys-admin', (s) => ((ctx(s).capabilities as Json).add = ['SYS_ADMIN'])),
    v('cap-add-chown', (s) => ((ctx(s).capabilities as Json).add = ['CHOWN'])),
    v('cap-add-net-bind-lower', (s) => ((ctx(s).capabilities as Json).add = ['cap_net_bind_service'])),
    v('cap-drop-lowercase-all', (s) => ((ctx(s).capabilities as Json).drop = ['all'])),
    v('cap-no-drop', (s) => delete ctx(s).capabilities),
    v('host-path', (s) => (s.volumes as Json[]).push({ name: 'logs', hostPath: { path: '/var/log' } })),
    v('nfs-volume', (s) => (s.volumes as Json[]).push({ name: 'shared', nfs: { server: 'nfs.example.com', path: '/x' } })),
    v('pvc-volume', (s) => (s.volumes as Json[]).push({ name: 'data', persistentVolumeClaim: { claimName: 'data' } })),
    v('host-port', (s) => ((containerAt(s).ports as Json[])[0] = { containerPort: 8080, hostPort: 8080, protocol: 'TCP' })),
    v('probe-host', (s) => (containerAt(s).livenessProbe = { httpGet: { host: '169.254.169.254', path: '/', port: 80 } })),
    v('prestop-host', (s) => (containerAt(s).lifecycle = { preStop: { tcpSocket: { host: '10.0.0.1', port: 80 } } })),
    v('apparmor-unconfined', (s) => (podCtx(s).appArmorProfile = { type: 'Unconfined' })),
    v('apparmor-localhost', (s) => (ctx(s).appArmorProfile = { type: 'Localhost', localhostProfile: 'k8s-app' })),
    v('selinux-spc', (s) => (podCtx(s).seLinuxOptions = { type: 'spc_t' })),
    v('selinux-user', (s) => (ctx(s).seLinuxOptions = { user: 'system_u' })),
    v('selinux-level', (s) => (ctx(s).seLinuxOptions = { type: 'container_t', level: 's0:c1,c2' })),
    v('proc-mount-unmasked', (s) => Object.assign(s, { hostUsers: false }) && (ctx(s).procMount = 'Unmasked')),
    v('seccomp-unconfined-pod', (s) => (podCtx(s).seccompProfile = { type: 'Unconfined' })),
    v('seccomp-unconfined-container', (s) => (ctx(s).seccompProfile = { type: 'Unconfined' })),
    v('seccomp-unset', (s) => delete podCtx(s).seccompProfile),
    v('seccomp-per-container', (s) => delete podCtx(s).seccompProfile && (ctx(s, 0).seccompProfile = { type: 'RuntimeDefault' }) && (ctx(s, 1).seccompProfile = { type: 'Localhost', localhostProfile: 'p.json' })),
    v('sysctl-unsafe', (s) => (podCtx(s).sysctls = [{ name: 'kernel.msgmax', value: '65536' }])),
    v('sysctl-safe', (s) => (podCtx(s).sysctls = [{ name: 'net.ipv4.tcp_syncookies', value: '1' }])),
    v('escalation-unset', (s) => delete ctx(s).allowPrivilegeEscalation),
    v('escalation-true', (s) => (ctx(s).allowPrivilegeEscalation = true)),
    v('non-root-unset', (s) => delete podCtx(s).runAsNonRoot && delete ctx(s, 0).runAsNonRoot),
    v('non-root-container-false', (s) => (ctx(s).runAsNonRoot = false)),
    v('non-root-pod-false', (s) => Object.assign(podCtx(s), { runAsNonRoot: false, runAsUser: 10001 })),
    v('root-user-pod', (s) => (podCtx(s).runAsUser = 0)),
    v('root-user-container', (s) => (ctx(s).runAsUser = 0)),
    v('no-memory-request', (s) => Object.assign(containerAt(s).resources as Json, { requests: { cpu: '100m' }, limits: { cpu: '1' } })),
    v('limits-only', (s) => Object.assign(containerAt(s).resources as Json, { requests: undefined, limits: { cpu: '1', memory: '1Gi' } })),
    v('no-cpu-limit', (s) => ((containerAt(s).resources as Json).limits = { memory: '512Mi' })),
    v('no-liveness', (s) => delete containerAt(s).livenessProbe),
    v('no-probes-never', (s) => Object.assign(s, { restartPolicy: 'Never' }) && delete containerAt(s).livenessProbe),
    v('image-latest', (s) => Object.assign(containerAt(s), { image: `${allowedRegistry}/shop/app:latest`, imagePullPolicy: 'Always' })),
    v('image-untagged-digest', (s) => (containerAt(s).image = `${allowedRegistry}/shop/app@${digest}`)),
    v('image-latest-digest', (s) => (containerAt(s).image = `${allowedRegistry}/shop/app:latest@${digest}`)),
    v('image-tag-only', (s) => Object.assign(containerAt(s), { image: `${allowedRegistry}/shop/app:1.0`, imagePullPolicy: 'Always' })),
    v('image-docker-hub', (s) => (containerAt(s).image = `nginx@${digest}`)),
    v('image-other-port', (s) => (containerAt(s).image = `${allowedRegistry}:443/shop/app@${digest}`)),
    v('image-upper-host', (s) => (containerAt(s).image = `REGISTRY.example.com/shop/app:2@${digest}`)),
    v('image-prefix-host', (s) => (containerAt(s).image = `${allowedRegistry}.evil.io/shop/app@${digest}`)),
    v('image-invalid-repo', (s) => (containerAt(s).image = `${allowedRegistry}/Shop/App@${digest}`)),
    v('image-short-digest', (s) => (containerAt(s).image = `${allowedRegistry}/shop/app@sha256:abc`)),
    v('automount-unset', (s) => delete s.automountServiceAccountToken),
    v('automount-true', (s) => (s.automountServiceAccountToken = true)),
    v('writable-root', (s) => (ctx(s).readOnlyRootFilesystem = false)),
    v('env-db-password', (s) => env(s, 'DB_PASSWORD', 'hunter2')),
    v('env-camel-password', (s) => env(s, 'dbPassword', 'hunter2')),
    v('env-dotted-api-key', (s) => env(s, 'stripe.api.key', 'k')),
    v('env-password-file', (s) => env(s, 'DB_PASSWORD_FILE', '/run/secrets/db')),
    v('env-password-ref', (s) => env(s, 'DB_PASSWORD', '$(OTHER_PASSWORD) ')),
    v('env-token-url', (s) => env(s, 'TOKEN_URL', 'https://auth/token')),
    v('env-secret-name', (s) => env(s, 'secretName', 'db-creds')),
    v('env-mysecret', (s) => env(s, 'MYSECRET', 'x')),
    v('env-api-key-id', (s) => env(s, 'MY_API_KEY_ID', 'x')),
    v('env-empty-password', (s) => env(s, 'PASSWORD', '')),
  ];
}
