// bench/manifests: N realistic Kubernetes manifests for bench/cli-audit, deterministic with a seed.
//
//   npx tsc -p tsconfig.json && node dist/bench/manifests.js [--count 10000] [--seed 13] \
//     [--out manifests.yaml] [--folder DIR]
//
// Writes one multi-document YAML file (what `securestack audit`, kube-score and gator all read) and,
// with --folder, the same documents one file each (for tools that want a tree). The mix is what a
// platform team's repository holds: mostly Deployments with their Services, ConfigMaps and
// Ingresses, some StatefulSets, DaemonSets, Jobs, CronJobs and bare Pods. Containers (1-3, some init
// containers) are sometimes hardened to the Pod Security Standards' restricted level, often left at
// the defaults, and sometimes privileged, on the host's namespaces, with hostPath volumes or root;
// images by tag, by digest, untagged or :latest. The same seed always gives the same bytes, so the
// tools are compared on identical input from run to run.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import { prng as rng, type Json } from '../test/support/manifests';


export class Generator {
  private readonly random: () => number;
  constructor(seed: number) {
    this.random = rng(seed);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.random() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  /** Weighted choice: [weight, value] pairs. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let r = this.random() * total;
    for (const [w, value] of choices) {
      r -= w;
      if (r < 0) return value;
    }
    const last = choices[choices.length - 1];
    if (!last) throw new Error('weighted choice from an empty list');
    return last[1];
  }
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += Math.floor(this.random() * 0x100000000).toString(16).padStart(8, '0');
    return out.slice(0, length);
  }
}

const registries = ['registry.example.com', 'ghcr.io/acme', 'docker.io/library', 'quay.io/acme', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', ''];
const images = ['nginx', 'api-gateway', 'payments', 'orders', 'redis', 'postgres', 'envoy', 'fluent-bit', 'node-exporter', 'busybox', 'python', 'worker', 'frontend', 'search', 'kafka'];
const sidecars = ['envoy', 'fluent-bit', 'oauth2-proxy', 'cloud-sql-proxy', 'vault-agent'];

function image(g: Generator, name: string): string {
  const registry = g.pick(registries);
  const repo = registry ? `${registry}/${name}` : name;
  return g.weighted<string>([
    [45, `${repo}:${g.int(1, 4)}.${g.int(0, 30)}.${g.int(0, 9)}`],
    [25, `${repo}@sha256:${g.hex(64)}`],
    [10, `${repo}:${g.int(1, 4)}.${g.int(0, 30)}@sha256:${g.hex(64)}`],
    [12, `${repo}:latest`],
    [8, repo],
  ]);
}

type Posture = 'hardened' | 'partial' | 'default' | 'risky';

function securityContext(g: Generator, posture: Posture): Json | undefined {
  switch (posture) {
    case 'hardened':
      return {
        runAsNonRoot: true,
        runAsUser: g.pick([1000, 10001, 65532]),
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: g.chance(0.8),
        capabilities: { drop: ['ALL'], ...(g.chance(0.15) ? { add: ['NET_BIND_SERVICE'] } : {}) },
        ...(g.chance(0.5) ? { seccompProfile: { type: 'RuntimeDefault' } } : {}),
      };
    case 'partial':
      return g.weighted<Json>([
        [1, { allowPrivilegeEscalation: false }],
        [1, { runAsNonRoot: true, runAsUser: 1000 }],
        [1, { readOnlyRootFilesystem: true, capabilities: { drop: ['NET_RAW'] } }],
        [1, { runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }],
      ]);
    case 'default':
      return undefined;
    case 'risky':
      return g.weighted<Json>([
        [3, { privileged: true }],
        [2, { runAsUser: 0, allowPrivilegeEscalation: true }],
        [2, { capabilities: { add: [g.pick(['NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE', 'NET_RAW'])] } }],
        [1, { privileged: true, procMount: 'Unmasked', runAsUser: 0 }],
        [1, { seccompProfile: { type: 'Unconfined' }, appArmorProfile: { type: 'Unconfined' } }],
        [1, { seLinuxOptions: { type: 'spc_t' } }],
      ]);
  }
}

function probe(g: Generator, port: number): Json {
  return g.weighted<Json>([
    [3, { httpGet: { path: g.pick(['/healthz', '/ready', '/livez']), port }, periodSeconds: g.pick([5, 10, 15]) }],
    [1, { tcpSocket: { port }, initialDelaySeconds: g.int(0, 30) }],
    [1, { exec: { command: ['sh', '-c', 'test -f /tmp/healthy'] } }],
  ]);
}

function container(g: Generator, name: string, imageName: string, posture: Posture, longRunning: boolean): Json {
  const port = g.pick([80, 8080, 8443, 9090, 3000, 5432, 6379]);
  const env: Json[] = Array.from({ length: g.int(0, 6) }, (_, i) => ({ name: `APP_SETTING_${i}`, value: `value-${g.hex(6)}` }));
  if (g.chance(0.08)) env.push({ name: g.pick(['DB_PASSWORD', 'API_TOKEN', 'AWS_SECRET_ACCESS_KEY']), value: g.hex(24) });
  if (g.chance(0.3)) env.push({ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: `${name}-db`, key: 'password' } } });
  const resources = g.weighted<Json | undefined>([
    [50, { requests: { cpu: `${g.pick([50, 100, 250, 500])}m`, memory: `${g.pick([64, 128, 256, 512])}Mi` }, limits: { cpu: `${g.pick([500, 1000, 2000])}m`, memory: `${g.pick([256, 512, 1024])}Mi` } }],
    [20, { requests: { cpu: '100m', memory: '128Mi' } }],
    [5, { limits: { memory: '512Mi' } }],
    [25, undefined],
  ]);
  const sc = securityContext(g, posture);
  return {
    name,
    image: image(g, imageName),
    ...(g.chance(0.4) ? { imagePullPolicy: g.pick(['Always', 'IfNotPresent', 'IfNotPresent']) } : {}),
    ...(g.chance(0.2) ? { args: ['--port', String(port), '--log-level', g.pick(['info', 'debug'])] } : {}),
    ...(longRunning ? { ports: [{ name: 'http', containerPort: port, protocol: 'TCP', ...(posture === 'risky' && g.chance(0.2) ? { hostPort: port } : {}) }] } : {}),
    ...(env.length > 0 ? { env } : {}),
    ...(g.chance(0.2) ? { envFrom: [{ configMapRef: { name: `${name}-config` } }] } : {}),
    ...(resources ? { resources } : {}),
    ...(longRunning && g.chance(0.6) ? { readinessProbe: probe(g, port) } : {}),
    ...(longRunning && g.chance(0.5) ? { livenessProbe: probe(g, port) } : {}),
    ...(sc ? { securityContext: sc } : {}),
    ...(g.chance(0.5) ? { volumeMounts: [{ name: 'config', mountPath: '/etc/app', readOnly: true }, ...(g.chance(0.3) ? [{ name: 'data', mountPath: '/data' }] : [])] } : {}),
  };
}

function podSpec(g: Generator, app: string, longRunning: boolean, node: boolean): Json {
  // A DaemonSet (node agent) is the usual home of host access; elsewhere it is rarer.
  const posture = g.weighted<Posture>(node ? [[10, 'hardened'], [15, 'partial'], [30, 'default'], [45, 'risky']] : [[30, 'hardened'], [25, 'partial'], [35, 'default'], [10, 'risky']]);
  const containers = [container(g, app, app.replace(/-\d+$/, ''), posture, longRunning)];
  const extra = g.weighted<number>([[60, 0], [30, 1], [10, 2]]);
  for (let i = 0; i < extra; i++) containers.push(container(g, `${g.pick(sidecars)}-${i}`, g.pick(sidecars), g.chance(0.7) ? posture : g.pick<Posture>(['hardened', 'default', 'risky']), true));
  const initContainers = g.chance(0.25) ? [container(g, 'init-migrate', g.pick(['busybox', 'postgres', app.replace(/-\d+$/, '')]), posture, false)] : [];
  const hostPath = posture === 'risky' && g.chance(node ? 0.7 : 0.3);
  const volumes: Json[] = [
    { name: 'config', configMap: { name: `${app}-config` } },
    g.weighted<Json>([
      [4, { name: 'data', emptyDir: {} }],
      [2, { name: 'data', persistentVolumeClaim: { claimName: `${app}-data` } }],
      [1, { name: 'data', secret: { secretName: `${app}-tls` } }],
      [1, { name: 'data', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] } }],
    ]),
    ...(hostPath ? [{ name: 'host', hostPath: { path: g.pick(['/var/log', '/var/run/docker.sock', '/proc', '/']), type: 'Directory' } }] : []),
  ];
  const hardenedPod = posture === 'hardened' || (posture === 'partial' && g.chance(0.3));
  return {
    ...(g.chance(0.6) ? { serviceAccountName: app } : {}),
    ...(g.chance(0.3) ? { automountServiceAccountToken: false } : {}),
    ...(posture === 'risky' && g.chance(node ? 0.6 : 0.2) ? { hostNetwork: true } : {}),
    ...(posture === 'risky' && g.chance(0.15) ? { hostPID: true } : {}),
    ...(posture === 'risky' && g.chance(0.05) ? { hostIPC: true } : {}),
    ...(hardenedPod ? { securityContext: { runAsNonRoot: true, fsGroup: 2000, seccompProfile: { type: 'RuntimeDefault' } } } : g.chance(0.2) ? { securityContext: { fsGroup: 1000 } } : {}),
    ...(posture === 'risky' && g.chance(0.05) ? { securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1024' }] } } : {}),
    ...(initContainers.length > 0 ? { initContainers } : {}),
    containers,
    volumes,
    ...(g.chance(0.3) ? { nodeSelector: { 'kubernetes.io/os': 'linux' } } : {}),
    ...(g.chance(0.2) ? { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'apps', effect: 'NoSchedule' }] } : {}),
    ...(!longRunning ? { restartPolicy: g.pick(['OnFailure', 'Never']) } : {}),
  };
}

function metadata(name: string, namespace: string, g: Generator): Json {
  return {
    name,
    namespace,
    labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': namespace, ...(g.chance(0.5) ? { 'app.kubernetes.io/version': `${g.int(1, 4)}.${g.int(0, 20)}.0` } : {}) },
    ...(g.chance(0.3) ? { annotations: { 'checksum/config': g.hex(64) } } : {}),
  };
}

function template(g: Generator, app: string, longRunning: boolean, node: boolean): Json {
  return { metadata: { labels: { 'app.kubernetes.io/name': app } }, spec: podSpec(g, app, longRunning, node) };
}

type Kind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Job' | 'Pod' | 'Service' | 'ConfigMap' | 'Ingress';

/** The share of each kind, per 100 manifests. */
export const mix: ReadonlyArray<readonly [number, Kind]> = [
  [28, 'Deployment'],
  [6, 'StatefulSet'],
  [4, 'DaemonSet'],
  [6, 'CronJob'],
  [4, 'Job'],
  [4, 'Pod'],
  [22, 'Service'],
  [16, 'ConfigMap'],
  [10, 'Ingress'],
];

/**
 * One manifest. Services, ConfigMaps and Ingresses belong to a workload written before them
 * (`workload`, with its namespace), as in a chart, so that cross-object checks (a Service that
 * selects no pod) see what a real repository gives them.
 */
export function manifest(g: Generator, i: number, kind: Kind, workload?: { app: string; namespace: string }): Json {
  const own = kind === 'Service' || kind === 'ConfigMap' || kind === 'Ingress' ? workload : undefined;
  const namespace = own?.namespace ?? `team-${i % 40}`;
  const app = own?.app ?? `${g.pick(images)}-${i}`;
  const selector = { matchLabels: { 'app.kubernetes.io/name': app } };
  switch (kind) {
    case 'Deployment':
      return { apiVersion: 'apps/v1', kind, metadata: metadata(app, namespace, g), spec: { replicas: g.pick([1, 2, 3, 5]), selector, template: template(g, app, true, false) } };
    case 'StatefulSet':
      return { apiVersion: 'apps/v1', kind, metadata: metadata(app, namespace, g), spec: { replicas: g.pick([1, 3]), serviceName: app, selector, template: template(g, app, true, false) } };
    case 'DaemonSet':
      return { apiVersion: 'apps/v1', kind, metadata: metadata(app, namespace, g), spec: { selector, template: template(g, app, true, true) } };
    case 'Job':
      return { apiVersion: 'batch/v1', kind, metadata: metadata(app, namespace, g), spec: { backoffLimit: 3, template: template(g, app, false, false) } };
    case 'CronJob':
      return { apiVersion: 'batch/v1', kind, metadata: metadata(app, namespace, g), spec: { schedule: `${g.int(0, 59)} ${g.int(0, 23)} * * *`, concurrencyPolicy: 'Forbid', jobTemplate: { spec: { template: template(g, app, false, false) } } } };
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata: metadata(app, namespace, g), spec: podSpec(g, app, true, false) };
    case 'Service':
      return { apiVersion: 'v1', kind, metadata: metadata(app, namespace, g), spec: { type: g.weighted([[8, 'ClusterIP'], [1, 'NodePort'], [1, 'LoadBalancer']]), selector: { 'app.kubernetes.io/name': app }, ports: [{ name: 'http', port: 80, targetPort: g.pick([8080, 'http']), protocol: 'TCP' }] } };
    case 'ConfigMap':
      return { apiVersion: 'v1', kind, metadata: metadata(`${app}-config`, namespace, g), data: { 'LOG_LEVEL': g.pick(['info', 'debug']), 'app.yaml': `server:\n  port: 8080\nfeatures:\n  flag: ${g.chance(0.5)}\n` } };
    case 'Ingress':
      return {
        apiVersion: 'networking.k8s.io/v1',
        kind,
        metadata: metadata(app, namespace, g),
        spec: {
          ingressClassName: 'nginx',
          ...(g.chance(0.6) ? { tls: [{ hosts: [`${app}.example.com`], secretName: `${app}-tls` }] } : {}),
          rules: [{ host: `${app}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: app, port: { number: 80 } } } }] } }],
        },
      };
  }
}

/** The documents, in order, and how many of each kind. */
export function generate(count: number, seed: number): { documents: Json[]; kinds: Map<string, number> } {
  const g = new Generator(seed);
  const kinds = new Map<string, number>();
  const documents: Json[] = [];
  const workloads: Array<{ app: string; namespace: string }> = [];
  const owned = new Set<string>();
  for (let i = 0; i < count; i++) {
    const kind = g.weighted(mix);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    // A recent workload that has no object of this kind yet (names stay unique per kind and namespace).
    const recent = workloads.slice(-8);
    const choice = g.int(0, recent.length);
    const owner = choice < recent.length ? recent[choice] : undefined;
    const key = owner ? `${kind}/${owner.namespace}/${owner.app}` : '';
    const document = manifest(g, i, kind, owner && !owned.has(key) ? owner : undefined);
    if (owner) owned.add(key);
    if (kind !== 'Service' && kind !== 'ConfigMap' && kind !== 'Ingress') {
      const meta = document.metadata as { name: string; namespace: string };
      workloads.push({ app: meta.name, namespace: meta.namespace });
    }
    documents.push(document);
  }
  return { documents, kinds };
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function main(): void {
  const args = process.argv.slice(2);
  const count = Number(flag(args, '--count') ?? 10_000);
  const seed = Number(flag(args, '--seed') ?? 13);
  const out = flag(args, '--out') ?? 'manifests.yaml';
  const folder = flag(args, '--folder');
  if (!Number.isInteger(count) || count <= 0 || !Number.isInteger(seed)) throw new Error('--count and --seed take integers');
  const { documents, kinds } = generate(count, seed);
  // Block style, no line folding, keys in insertion order: how kubectl and Helm write manifests.
  const texts = documents.map((d) => dump(d, { lineWidth: -1, noRefs: true }));
  writeFileSync(out, texts.map((t) => `---\n${t}`).join(''));
  if (folder) {
    mkdirSync(folder, { recursive: true });
    texts.forEach((t, i) => writeFileSync(path.join(folder, `${String(i).padStart(5, '0')}.yaml`), t));
  }
  const summary = [...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  process.stdout.write(`bench/manifests: ${count} manifests (seed ${seed}) in ${out}${folder ? ` and ${folder}/` : ''}: ${summary}\n`);
}

if (require.main === module) main();
