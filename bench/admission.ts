// bench/admission: what SecureStack's admission path costs, alone and behind the real API server.
//
//   bash bench/admission.sh       (starts the plane, builds, runs this, prints the figures)
//
// Part 1, the rule engine on one core: the code path the webhook server runs per request,
// parseReview(Buffer) -> AdmissionHandler.review() -> JSON.stringify of the AdmissionReview and its
// UTF-8 encoding, over a mix of AdmissionReview bodies (compliant and violating Pods, Deployments
// and CronJobs with 1-3 containers, CREATE and UPDATE, real-sized metadata), with one policy:
// ruleSets [pss-restricted, best-practices] plus allowed-registries. Nothing is controlled by a
// controller, so the template verdict cache never answers; a controller-made Pod (cache hit) is
// measured apart. Runs in a child process pinned to one CPU with taskset (when present).
//
// Part 2, Pod creates through the API server on loopback at a fixed rate (open loop), in three
// phases: (a) no policy, (b) the SecureStack webhook (the real operator, Enforce, failurePolicy
// Fail), (c) the same rules as a ValidatingAdmissionPolicy (bench/admission-vap.yaml). Latency is
// timed client-side over HTTPS with the kubeconfig's client certificate. Every created Pod passes
// every rule; each phase starts in a fresh namespace and only once the policy demonstrably
// answers (dry-run creates of compliant and violating objects get the engine's verdicts). Several
// rounds, the phase order rotating, because other work on the machine moves p99 by more than the
// differences measured here.
//
// Knobs (environment): SECURESTACK_BENCH_PARTS (engine,api), SECURESTACK_BENCH_REVIEWS (200000),
// SECURESTACK_BENCH_ENGINE_REPEATS (3), SECURESTACK_BENCH_CPU (1), SECURESTACK_BENCH_RATE (20),
// SECURESTACK_BENCH_SECONDS (30), SECURESTACK_BENCH_ROUNDS (3).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { operatorNodeFlags } from '../operator/platform/node-flags';
import type { ScanPolicy } from '../operator/api/types.generated';
import type { CompiledPolicy } from '../operator/engine/compile';
import { evaluateAll } from '../operator/engine/evaluate';
import { podTemplateOf } from '../operator/engine/workload';
import { templateHash, TemplateVerdictCache } from '../operator/engine/template-verdicts';
import type { KubeObject } from '../operator/engine/types';
import { AdmissionHandler } from '../operator/features/admission/admission';
import { createAdmissionMetrics } from '../operator/features/admission/metrics';
import { PolicyStore } from '../operator/features/admission/policy-store';
import { parseReview } from '../operator/features/admission/server';
import { createTestNamespace, kubeconfigPath, kubectl, repoRoot, waitFor } from '../test/support/cluster';
import { startOperator, waitUntilLeading, type OperatorProcess } from '../test/support/operator';
import { freePort, requireScanEnvironment, scanOperatorEnv, webhookEnv } from '../test/support/scanenv';
import { allowedRegistry, compliantPodSpec, containerAt, contextOf, hex, prng, ctx, type Mutation, variantPod, variants } from '../test/support/manifests';

type Json = Record<string, unknown>;

const settings = {
  parts: (process.env.SECURESTACK_BENCH_PARTS ?? 'engine,api').split(','),
  reviews: Number(process.env.SECURESTACK_BENCH_REVIEWS ?? 200_000),
  engineRepeats: Number(process.env.SECURESTACK_BENCH_ENGINE_REPEATS ?? 3),
  cpu: process.env.SECURESTACK_BENCH_CPU ?? '1',
  rate: Number(process.env.SECURESTACK_BENCH_RATE ?? 20),
  seconds: Number(process.env.SECURESTACK_BENCH_SECONDS ?? 30),
  rounds: Number(process.env.SECURESTACK_BENCH_ROUNDS ?? 3),
};

const benchLabel = { 'securestack.io/bench': 'admission' } as const;
const policyName = 'securestack-bench-admission';
const vapName = 'securestack-bench-restricted';
const vapFile = path.join(repoRoot(), 'bench', 'admission-vap.yaml');

// =============================================================================================
// Manifests (the pod specs and the verdict variants are test/support/manifests.ts)

/** Violations a realistic mix contains: one to three of these per violating object. */
const violations: readonly Mutation[] = [
  (spec) => Object.assign(contextOf(containerAt(spec)), { privileged: true, allowPrivilegeEscalation: undefined }),
  (spec) => Object.assign(containerAt(spec), { image: 'nginx:latest', imagePullPolicy: 'Always' }),
  (spec) => delete (containerAt(spec).resources as Json).limits,
  (spec) => (spec.volumes as Json[]).push({ name: 'host-logs', hostPath: { path: '/var/log', type: 'Directory' } }),
  (spec) => (containerAt(spec).env as Json[]).push({ name: 'STRIPE_SECRET_KEY', value: 'sk_live_0123456789abcdef' }),
  (spec) => Object.assign(spec.securityContext as Json, { runAsUser: 0, runAsNonRoot: false }),
  (spec) => Object.assign(containerAt(spec), { livenessProbe: undefined, readinessProbe: undefined }),
  (spec) => Object.assign(contextOf(containerAt(spec)), { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN', 'NET_ADMIN'] } }),
  (spec) => delete spec.automountServiceAccountToken,
  (spec) => Object.assign(spec, { hostNetwork: true, hostPID: true }),
];

function objectMetadata(name: string, namespace: string, seed: number): Json {
  return {
    name,
    namespace,
    uid: `${hex(seed + 7, 8)}-${hex(seed + 8, 4)}-4${hex(seed + 9, 3)}-8${hex(seed + 10, 3)}-${hex(seed + 11, 12)}`,
    creationTimestamp: '2026-11-26T10:00:00Z',
    labels: {
      'app.kubernetes.io/name': 'checkout',
      'app.kubernetes.io/instance': `checkout-${seed % 9}`,
      'app.kubernetes.io/version': `2.${seed % 13}.1`,
      'app.kubernetes.io/component': 'api',
      'app.kubernetes.io/part-of': 'shop',
      'app.kubernetes.io/managed-by': 'Helm',
      'helm.sh/chart': `checkout-2.${seed % 13}.1`,
      team: 'payments',
      tier: 'backend',
    },
    annotations: {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9090',
      'checksum/config': hex(seed + 3, 64),
      'checksum/secret': hex(seed + 4, 64),
      'kubectl.kubernetes.io/restartedAt': '2026-11-20T08:15:00Z',
      'meta.helm.sh/release-name': `checkout-${seed % 9}`,
      'meta.helm.sh/release-namespace': namespace,
    },
  };
}

/** The fieldsV1 map server-side field management records for an object (same shape and size). */
function fieldsV1(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out: Json = {};
    value.forEach((item: unknown, index) => {
      const key = typeof item === 'object' && item !== null && 'name' in item ? `k:{"name":${JSON.stringify((item as Json).name)}}` : `i:${index}`;
      out[key] = { '.': {}, ...(fieldsV1(item) as Json) };
    });
    return out;
  }
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value as Json).filter(([key]) => key !== 'status').map(([key, entry]) => [`f:${key}`, fieldsV1(entry)]));
}

/**
 * How heavy an object is: `small` is a one-container pod with little metadata (kubectl run, a
 * quick Job), `typical` a chart-made workload, `applied` the same made by client-side
 * `kubectl apply` (which adds the whole manifest as the last-applied-configuration annotation).
 */
type Profile = 'small' | 'typical' | 'applied';

/** The small profile: one container, three env vars, one volume, two labels, no annotations. */
function slim(spec: Json): void {
  const first = containerAt(spec);
  spec.containers = [first];
  first.env = (first.env as Json[]).slice(0, 3);
  first.volumeMounts = (first.volumeMounts as Json[]).slice(0, 1);
  for (const field of ['startupProbe', 'lifecycle', 'envFrom', 'args']) delete first[field];
  spec.volumes = (spec.volumes as Json[]).slice(0, 1);
  delete spec.affinity;
  delete spec.topologySpreadConstraints;
}

function slimMetadata(metadata: Json): void {
  const labels = metadata.labels as Json;
  metadata.labels = { 'app.kubernetes.io/name': labels['app.kubernetes.io/name'], 'app.kubernetes.io/instance': labels['app.kubernetes.io/instance'] };
  metadata.annotations = {};
}

/** managedFields (every object the API server admits has them) and, for `applied`, the last-applied annotation. */
function finish(object: Json, profile: Profile): Json {
  const metadata = object.metadata as Json;
  if (profile === 'small') slimMetadata(metadata);
  if (profile === 'applied') {
    const rest = Object.fromEntries(Object.entries(object).filter(([key]) => key !== 'metadata'));
    (metadata.annotations as Json)['kubectl.kubernetes.io/last-applied-configuration'] = JSON.stringify({ ...rest, metadata: { name: metadata.name, namespace: metadata.namespace, labels: metadata.labels } });
  }
  const manager = profile === 'applied' ? 'kubectl-client-side-apply' : 'helm';
  metadata.managedFields = [{ manager, operation: 'Update', apiVersion: object.apiVersion, time: '2026-11-26T10:00:00Z', fieldsType: 'FieldsV1', fieldsV1: fieldsV1({ metadata: { labels: metadata.labels, annotations: metadata.annotations }, spec: object.spec }) }];
  return object;
}

function podObject(name: string, namespace: string, seed: number, spec: Json): Json {
  const pod: Json = { apiVersion: 'v1', kind: 'Pod', metadata: objectMetadata(name, namespace, seed), spec };
  // What the DefaultTolerationSeconds plugin adds before validating webhooks run.
  spec.tolerations ??= [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
  return pod;
}

function template(namespace: string, seed: number, spec: Json): Json {
  const metadata = objectMetadata('', namespace, seed);
  return { metadata: { labels: metadata.labels, annotations: metadata.annotations }, spec };
}

function deploymentObject(name: string, namespace: string, seed: number, spec: Json): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { ...objectMetadata(name, namespace, seed), generation: 3 },
    spec: {
      replicas: 3,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'checkout', 'app.kubernetes.io/instance': `checkout-${seed % 9}` } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: template(namespace, seed, spec),
    },
  };
}

function cronJobObject(name: string, namespace: string, seed: number, spec: Json): Json {
  Object.assign(spec, { restartPolicy: 'OnFailure' });
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: objectMetadata(name, namespace, seed),
    spec: {
      schedule: '*/15 * * * *',
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      suspend: false,
      jobTemplate: { metadata: {}, spec: { backoffLimit: 2, activeDeadlineSeconds: 600, template: template(namespace, seed, spec) } },
    },
  };
}

const resourceOf: Record<string, { group: string; version: string; resource: string }> = {
  Pod: { group: '', version: 'v1', resource: 'pods' },
  Deployment: { group: 'apps', version: 'v1', resource: 'deployments' },
  CronJob: { group: 'batch', version: 'v1', resource: 'cronjobs' },
};

let reviews = 0;

/** The AdmissionReview body the API server POSTs for `object` (and `oldObject` on UPDATE). */
function reviewBody(object: Json, operation: 'CREATE' | 'UPDATE', oldObject?: Json): Buffer {
  const kind = String(object.kind);
  const resource = resourceOf[kind] ?? { group: '', version: 'v1', resource: kind.toLowerCase() };
  const metadata = object.metadata as Json;
  const gvk = { group: resource.group, version: resource.version, kind };
  reviews++;
  const request = {
    uid: `7f3c0a52-0000-4000-8000-${reviews.toString(16).padStart(12, '0')}`,
    kind: gvk,
    resource,
    requestKind: gvk,
    requestResource: resource,
    name: metadata.name,
    namespace: metadata.namespace,
    operation,
    userInfo: { username: 'system:serviceaccount:argocd:argocd-application-controller', uid: hex(5, 32), groups: ['system:serviceaccounts', 'system:serviceaccounts:argocd', 'system:authenticated'] },
    object,
    oldObject: oldObject ?? null,
    dryRun: false,
    options: operation === 'CREATE'
      ? { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'argocd-controller' }
      : { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'argocd-controller' },
  };
  return Buffer.from(JSON.stringify({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request }), 'utf8');
}

interface Review {
  body: Buffer;
  label: string;
}

/** One object of the mix: its kind, profile, container count and violations follow from `seed`. */
function mixObject(seed: number, namespace: string): { object: Json; label: string } {
  const random = prng(seed);
  const draw = random();
  const profile: Profile = draw < 0.3 ? 'small' : draw < 0.8 ? 'typical' : 'applied';
  const spec = compliantPodSpec(seed, 1 + Math.floor(random() * 3));
  if (profile === 'small') slim(spec);
  const containers = (spec.containers as Json[]).length;
  const violating = random() < 0.5;
  const count = violating ? 1 + Math.floor(random() * 3) : 0;
  for (let i = 0; i < count; i++) violations[Math.floor(random() * violations.length)]?.(spec);
  const pick = random();
  const kind = pick < 0.5 ? 'Pod' : pick < 0.85 ? 'Deployment' : 'CronJob';
  const name = `checkout-${seed}`;
  const object = kind === 'Pod' ? podObject(name, namespace, seed, spec) : kind === 'Deployment' ? deploymentObject(name, namespace, seed, spec) : cronJobObject(name, namespace, seed, spec);
  return { object: finish(object, profile), label: `${kind}/${containers}c/${profile}/${violating ? 'violating' : 'compliant'}` };
}

/** The mix: 64 bodies, about half violating; a fifth of the Deployments are UPDATEs (object + oldObject). */
export function mixReviews(namespace: string): Review[] {
  const reviews: Review[] = [];
  for (let seed = 1; seed <= 64; seed++) {
    const { object, label } = mixObject(seed, namespace);
    const update = object.kind === 'Deployment' && seed % 5 === 0;
    reviews.push({ body: update ? reviewBody(object, 'UPDATE', mixObject(seed, namespace).object) : reviewBody(object, 'CREATE'), label: update ? `${label}/UPDATE` : label });
  }
  return reviews;
}

/** A Pod as a ReplicaSet of `deployment` creates it: same template, controller ownerReference. */
function controllerMadePod(deployment: Json, index: number): Json {
  const podTemplate = structuredClone((deployment.spec as Json).template as Json);
  const metadata = podTemplate.metadata as Json;
  const hash = '7d9f8c6b5';
  const deploymentMeta = deployment.metadata as Json;
  const spec = podTemplate.spec as Json;
  spec.tolerations = [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }];
  spec.serviceAccount = spec.serviceAccountName;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...metadata,
      name: `${String(deploymentMeta.name)}-${hash}-${index.toString(36).padStart(5, 'x')}`,
      generateName: `${String(deploymentMeta.name)}-${hash}-`,
      namespace: deploymentMeta.namespace,
      labels: { ...(metadata.labels as Json), 'pod-template-hash': hash },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${String(deploymentMeta.name)}-${hash}`, uid: hex(index, 32), controller: true, blockOwnerDeletion: true }],
    },
    spec,
  };
}

// =============================================================================================
// Part 1: the rule engine on one core

function benchPolicy(namespaces?: string[]): ScanPolicy {
  return {
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ScanPolicy',
    metadata: { name: policyName, uid: '5b1f2a62-6c1e-4e0e-9a51-0d7c1e0b5a11', generation: 1, labels: { ...benchLabel } },
    spec: {
      mode: 'Enforce',
      ...(namespaces ? { match: { namespaces } } : {}),
      ruleSets: ['pss-restricted', 'best-practices'],
      rules: [{ id: 'allowed-registries', parameters: { registries: [allowedRegistry] } }],
    },
  };
}

const namespaceLabels = { 'kubernetes.io/metadata.name': 'shop', team: 'payments' };

/** An AdmissionHandler wired like operator/features/admission/index.ts, with in-memory sources holding the bench policy. */
export function benchHandler(namespaces?: string[]): { handler: AdmissionHandler; verdicts: TemplateVerdictCache; policies: readonly CompiledPolicy[] } {
  const store = new PolicyStore();
  store.observe(benchPolicy(namespaces), false);
  const result = store.result(policyName);
  if (!result?.ok) throw new Error(`the bench policy does not compile: ${result ? result.errors.join('; ') : 'missing'}`);
  const verdicts = new TemplateVerdictCache(10_000, 10 * 60_000);
  const handler = new AdmissionHandler({
    sources: {
      policies: () => store.ready(),
      namespaceLabels: () => namespaceLabels,
      images: () => undefined,
      synced: () => true,
    },
    metrics: createAdmissionMetrics(new Registry()),
    verdicts,
    failurePolicy: 'Fail',
    deadlineMs: 2_000,
    requestScans: () => undefined,
  });
  return { handler, verdicts, policies: store.ready() };
}

/** What the webhook server does with one request body, minus the socket. */
function serve(handler: AdmissionHandler, body: Buffer): Buffer {
  const response = handler.review(parseReview(body));
  return Buffer.from(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }), 'utf8');
}

interface EngineFigures {
  workload: string;
  reviews: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  /** Process CPU time over wall time during the measurement. */
  cpuShare: number;
  denied: number;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** Reviews `count` bodies round-robin; per-review latency in µs from hrtime around serve(). */
function measureReviews(handler: AdmissionHandler, bodies: readonly Buffer[], count: number, workload: string): EngineFigures {
  const latencies = new Float64Array(count);
  let denied = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const body = bodies[i % bodies.length];
    const t0 = process.hrtime.bigint();
    const payload = serve(handler, body);
    latencies[i] = Number(process.hrtime.bigint() - t0) / 1000;
    // Reading a byte keeps the work observable; "allowed":false marks denials.
    if (payload.includes('"allowed":false')) denied++;
  }
  const wallUs = Number(process.hrtime.bigint() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort();
  return {
    workload,
    reviews: count,
    perSecond: Math.round(count / (wallUs / 1e6)),
    p50Us: Math.round(percentile(latencies, 50) * 10) / 10,
    p99Us: Math.round(percentile(latencies, 99) * 10) / 10,
    cpuShare: Math.round(((used.user + used.system) / wallUs) * 100) / 100,
    denied,
  };
}

/** Mean µs of `fn` over `count` calls: the lowest of three rounds (after a warm-up round), against noise from other work. */
function meanMicros(count: number, fn: (i: number) => unknown): number {
  let sink = 0;
  let best = Infinity;
  for (let round = 0; round < 4; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i++) sink += fn(i) === undefined ? 0 : 1;
    if (round > 0) best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / count);
  }
  return sink < 0 ? NaN : Math.round(best * 10) / 10;
}

interface Breakdown {
  bytes: number;
  parse: number;
  /** evaluateAll: matching and every rule of the policy, what the verdict cache saves. */
  rules: number;
  templateHash: number;
  review: number;
  stringify: number;
  serve: number;
}

/** Where the time of one real-sized compliant Pod goes (mean µs per step). */
function breakdown(handler: AdmissionHandler, policies: readonly CompiledPolicy[], body: Buffer): Breakdown {
  const request = parseReview(body);
  const pod = podTemplateOf(request.object as KubeObject);
  if (!pod) throw new Error('the real-sized Pod has no pod template');
  const response = handler.review(request);
  const steps = 10_000;
  return {
    bytes: body.length,
    parse: meanMicros(steps, () => parseReview(body)),
    rules: meanMicros(steps, () => evaluateAll(policies, { object: request.object as KubeObject, operation: 'CREATE', now: Date.now(), namespaceLabels })),
    templateHash: meanMicros(steps, () => templateHash(pod)),
    review: meanMicros(steps, () => handler.review(request)),
    stringify: meanMicros(steps, () => Buffer.from(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }), 'utf8')),
    serve: meanMicros(steps, () => serve(handler, body)),
  };
}

interface EngineResult {
  runs: EngineFigures[];
  cacheHit: EngineFigures;
  realSized: EngineFigures;
  breakdown: Breakdown;
  mix: { bodies: number; meanBytes: number; minBytes: number; maxBytes: number; violating: number; kinds: Record<string, number>; profiles: Record<string, number> };
  cacheHits: { during: number; expected: number; mixLookups: number };
  node: string;
}

function mixSummary(reviews: readonly Review[]): EngineResult['mix'] {
  const kinds: Record<string, number> = {};
  const profiles: Record<string, number> = {};
  for (const { label } of reviews) {
    const [kind = '', , profile = ''] = label.split('/');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    profiles[profile] = (profiles[profile] ?? 0) + 1;
  }
  const sizes = reviews.map((review) => review.body.length);
  return {
    bodies: reviews.length,
    meanBytes: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length),
    minBytes: Math.min(...sizes),
    maxBytes: Math.max(...sizes),
    violating: reviews.filter((review) => review.label.includes('violating')).length,
    kinds,
    profiles,
  };
}

/** The cache-hit workload: controller-made Pods of a Deployment whose verdict is cached. */
function cacheHitWorkload(handler: AdmissionHandler, verdicts: TemplateVerdictCache): Buffer[] {
  const deployment = finish(deploymentObject('checkout', 'shop', 3, compliantPodSpec(3, 3)), 'typical');
  serve(handler, reviewBody(deployment, 'CREATE'));
  const bodies = Array.from({ length: 32 }, (_, i) => reviewBody(finish(controllerMadePod(deployment, i), 'typical'), 'CREATE'));
  const before = verdicts.hits;
  for (const body of bodies) serve(handler, body);
  if (verdicts.hits - before !== bodies.length) throw new Error(`controller-made Pods should all hit the verdict cache: ${verdicts.hits - before} of ${bodies.length}`);
  return bodies;
}

function runEngine(): EngineResult {
  const { handler, verdicts, policies } = benchHandler(['shop']);
  const reviews = mixReviews('shop');
  const random = prng(42);
  const bodies = reviews.map((review) => review.body).sort(() => random() - 0.5);
  const lookupsBefore = verdicts.hits + verdicts.misses;
  measureReviews(handler, bodies, Math.min(50_000, settings.reviews), 'warm-up');
  const runs: EngineFigures[] = [];
  for (let run = 0; run < settings.engineRepeats; run++) {
    runs.push(measureReviews(handler, bodies, settings.reviews, `mix, run ${run + 1}`));
    process.stderr.write(`engine: mix run ${run + 1}: ${JSON.stringify(runs[runs.length - 1])}\n`);
  }
  const mixLookups = verdicts.hits + verdicts.misses - lookupsBefore;
  const realBody = reviewBody(finish(podObject('checkout-real', 'shop', 11, compliantPodSpec(11, 3)), 'typical'), 'CREATE');
  const realSized = measureReviews(handler, [realBody], Math.max(20_000, Math.floor(settings.reviews / 4)), 'real-sized compliant Pod, 3 containers');
  const hitBodies = cacheHitWorkload(handler, verdicts);
  const hitsBefore = verdicts.hits;
  measureReviews(handler, hitBodies, 20_000, 'warm-up');
  const cacheHit = measureReviews(handler, hitBodies, Math.max(20_000, Math.floor(settings.reviews / 4)), 'controller-made Pod (verdict cache hit)');
  return {
    runs,
    cacheHit,
    realSized,
    breakdown: breakdown(handler, policies, realBody),
    mix: mixSummary(reviews),
    cacheHits: { during: verdicts.hits - hitsBefore, expected: 20_000 + cacheHit.reviews, mixLookups },
    node: process.version,
  };
}

/** Runs part 1 in a child pinned to one CPU (taskset), so "one core" holds for V8's helper threads too. */
async function engineInChild(): Promise<{ result: EngineResult; pinned: string }> {
  const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((candidate) => existsSync(candidate));
  // With the V8 flags the operator runs with: they change how the heap grows and how code is kept.
  const args = [...operatorNodeFlags, __filename, '--engine'];
  const [command, argv] = taskset ? [taskset, ['-c', settings.cpu, process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = stdout.split('\n').find((entry) => entry.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`the engine benchmark failed (exit ${code}): ${stdout.slice(-500)}`);
  return { result: JSON.parse(line.slice('RESULT '.length)) as EngineResult, pinned: taskset ? `taskset -c ${settings.cpu}` : 'not pinned (no taskset)' };
}

// =============================================================================================
// Part 2: Pod creates through the API server

interface ApiClient {
  server: URL;
  agent: Agent;
}

function apiClient(): ApiClient {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath());
  const cluster = config.getCurrentCluster();
  const user = config.getCurrentUser();
  if (!cluster?.caData || !user?.certData || !user.keyData) throw new Error('the kubeconfig has no embedded CA, client certificate and key');
  const decode = (data: string): Buffer => Buffer.from(data, 'base64');
  return {
    server: new URL(cluster.server),
    agent: new Agent({ keepAlive: true, maxSockets: 32, ca: decode(cluster.caData), cert: decode(user.certData), key: decode(user.keyData) }),
  };
}

interface ApiResponse {
  status: number;
  body: string;
  ms: number;
}

/** POSTs `object` to `apiPath`; resolves with the status (0 on a transport error) and the time taken. */
function post(api: ApiClient, apiPath: string, object: Json): Promise<ApiResponse> {
  const payload = JSON.stringify(object);
  return new Promise((resolve) => {
    const started = performance.now();
    const req = httpsRequest(
      { host: api.server.hostname, port: api.server.port, path: apiPath, method: 'POST', agent: api.agent, headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(payload) }, timeout: 15_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 15 s')));
    req.on('error', (err) => resolve({ status: 0, body: err.message, ms: performance.now() - started }));
    req.end(payload);
  });
}

/** GET `apiPath` (text), for the API server's own /metrics. */
function get(api: ApiClient, apiPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: api.server.hostname, port: api.server.port, path: apiPath, agent: api.agent, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${apiPath}: ${res.statusCode} ${body.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 15 s')));
    req.on('error', reject);
    req.end();
  });
}

const collectionOf: Record<string, string> = { Pod: '/api/v1', Deployment: '/apis/apps/v1', CronJob: '/apis/batch/v1' };

function createPath(object: Json, namespace: string, dryRun: boolean): string {
  const kind = String(object.kind);
  return `${collectionOf[kind] ?? '/api/v1'}/namespaces/${namespace}/${resourceOf[kind]?.resource ?? 'pods'}${dryRun ? '?dryRun=All' : ''}`;
}

/** The Pod every measured create sends: real-sized and compliant with every rule. */
function benchPod(name: string): Json {
  const spec = compliantPodSpec(5, 3);
  const metadata = objectMetadata(name, '', 5);
  delete metadata.uid;
  delete metadata.creationTimestamp;
  delete metadata.namespace;
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

interface Sample {
  ms: number;
  status: number;
  lagMs: number;
  body: string;
}

/** Open loop: create i is sent at start + i/rate whatever the earlier ones are doing. */
async function openLoop(api: ApiClient, namespace: string, prefix: string, count: number, rate: number): Promise<Sample[]> {
  const interval = 1000 / rate;
  const start = performance.now() + 20;
  const pending: Promise<Sample>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const lagMs = performance.now() - due;
    pending.push(post(api, createPath({ kind: 'Pod' }, namespace, false), benchPod(`${prefix}-${i}`)).then((r) => ({ ms: r.ms, status: r.status, lagMs, body: r.status === 201 ? '' : r.body.slice(0, 300) })));
  }
  return Promise.all(pending);
}

/** A namespace for one phase, labelled for the VAP binding, with the ServiceAccount the Pods name. */
async function freshNamespace(): Promise<string> {
  const namespace = await createTestNamespace('bench-admission', { labels: { ...benchLabel } });
  await kubectl(['create', 'serviceaccount', 'checkout'], { namespace });
  return namespace;
}

async function dropNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--wait=true', '--timeout=600s', '--ignore-not-found'], { timeoutMs: 620_000 });
}

// ---------------------------------------------------------------------------------------------
// Verdict checks: the policy in force answers as the engine does

interface VariantVerdict {
  name: string;
  /** What the engine says about the object as the API server stored it (dry-run, no policy). */
  engineAllowed: boolean;
  /** The object as sent, to send again under the policy. */
  object: Json;
}

/** Dry-run creates every variant without a policy; the engine judges what the API server would send. */
async function engineVerdicts(api: ApiClient, namespace: string): Promise<{ verdicts: VariantVerdict[]; rejected: string[] }> {
  const { handler } = benchHandler();
  const verdicts: VariantVerdict[] = [];
  const rejected: string[] = [];
  for (const variant of variants()) {
    const response = await post(api, createPath(variant.object, namespace, true), variant.object);
    if (response.status !== 201) {
      rejected.push(`${variant.name} (${response.status}: ${response.body.slice(0, 160)})`);
      continue;
    }
    const stored = JSON.parse(response.body) as Json;
    const request = parseReview(reviewBody(stored, 'CREATE'));
    verdicts.push({ name: variant.name, engineAllowed: handler.review(request).allowed, object: variant.object });
  }
  return { verdicts, rejected };
}

/** Dry-run creates every variant under the policy in force; the names where it disagrees with the engine. */
async function disagreements(api: ApiClient, namespace: string, verdicts: readonly VariantVerdict[], deniedBy: RegExp): Promise<string[]> {
  const out: string[] = [];
  for (const verdict of verdicts) {
    const response = await post(api, createPath(verdict.object, namespace, true), verdict.object);
    const allowed = response.status === 201;
    if (!allowed && !deniedBy.test(response.body)) out.push(`${verdict.name}: unexpected ${response.status} ${response.body.slice(0, 200)}`);
    else if (allowed !== verdict.engineAllowed) out.push(`${verdict.name}: engine ${verdict.engineAllowed ? 'allows' : 'denies'}, policy ${allowed ? 'allows' : 'denies'} (${response.body.slice(0, 200)})`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The operator's own histogram

type Buckets = Map<number, number>;

/** securestack_admission_duration_seconds buckets (all decisions summed), cumulative by `le`. */
async function durationBuckets(operator: OperatorProcess): Promise<Buckets> {
  const port = await operator.metricsPort();
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const buckets: Buckets = new Map();
  for (const line of text.split('\n')) {
    const match = /^securestack_admission_duration_seconds_bucket\{.*le="([^"]+)".*\}\s+(\S+)$/.exec(line);
    if (!match) continue;
    const le = match[1] === '+Inf' ? Infinity : Number(match[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
  }
  return buckets;
}

/** histogram_quantile over the difference of two snapshots (linear within a bucket), in ms. */
function histogramQuantile(before: Buckets, after: Buckets, q: number): { count: number; ms: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if ((counts[i] ?? 0) < rank) continue;
    const upper = bounds[i] ?? 0;
    const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
    const below = i === 0 ? 0 : (counts[i - 1] ?? 0);
    const inBucket = (counts[i] ?? 0) - below;
    const seconds = upper === Infinity ? lower : lower + (upper - lower) * (inBucket === 0 ? 1 : (rank - below) / inBucket);
    return { count: total, ms: Math.round(seconds * 1e5) / 100 };
  }
  return { count: total, ms: NaN };
}

/** Sum and count of the API server's timing of calls to our webhook (admitted CREATEs). */
async function apiServerWebhookTiming(api: ApiClient): Promise<{ sum: number; count: number }> {
  const text = await get(api, '/metrics');
  const series = (suffix: string): number => {
    const line = text.split('\n').find((entry) => entry.startsWith(`apiserver_admission_webhook_admission_duration_seconds_${suffix}{`) && entry.includes('name="validate.securestack.io"') && entry.includes('operation="CREATE"') && entry.includes('rejected="false"'));
    return Number(line?.split(' ').pop() ?? 0);
  };
  return { sum: series('sum'), count: series('count') };
}

// ---------------------------------------------------------------------------------------------
// Phases

type PhaseName = 'none' | 'webhook' | 'vap';

interface PhaseFigures {
  phase: PhaseName;
  creates: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxLagMs: number;
  agreement: string;
  operator?: { count: number; p50Ms: number; p99Ms: number };
  /** The API server's mean time per call to the webhook (TLS, HTTP, JSON both ways, the handler). */
  apiServerWebhookMeanMs?: number;
}

const violatingProbe = (): Json => variantPod('probe', (s) => Object.assign(ctx(s), { privileged: true, allowPrivilegeEscalation: undefined })).object;

/**
 * Waits until a dry-run create of a privileged Pod gets `expect` (allowed, or denied with a body
 * matching it) while the compliant bench Pod is allowed: the policy of the phase, and only it, answers.
 */
async function waitForPolicy(api: ApiClient, namespace: string, expect: RegExp | 'allowed'): Promise<void> {
  let last = '';
  await waitFor(`dry-run creates in ${namespace} to be ${expect === 'allowed' ? 'allowed' : `denied (${expect.source})`} and the bench Pod allowed`, async () => {
    const violating = await post(api, createPath({ kind: 'Pod' }, namespace, true), violatingProbe());
    const compliant = await post(api, createPath({ kind: 'Pod' }, namespace, true), benchPod('probe-compliant'));
    last = `violating: ${violating.status} ${violating.body.slice(0, 200)}; compliant: ${compliant.status} ${compliant.body.slice(0, 200)}`;
    const enforced = expect === 'allowed' ? violating.status === 201 : violating.status !== 201 && expect.test(violating.body);
    return enforced && compliant.status === 201 ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 250 }).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; last answers: ${last}`);
  });
}

/** Creates before the measurement (not counted): connections, caches and JITs warm up. */
async function warmUp(api: ApiClient, namespace: string, phase: PhaseName): Promise<void> {
  const samples = await openLoop(api, namespace, `warm-${phase}`, settings.rate * 2, settings.rate);
  const failed = samples.filter((sample) => sample.status !== 201);
  if (failed.length > 0) throw new Error(`${phase}: ${failed.length} warm-up creates failed, first: ${failed[0]?.status} ${failed[0]?.body}`);
}

async function measurePhase(api: ApiClient, namespace: string, phase: PhaseName): Promise<Omit<PhaseFigures, 'agreement'>> {
  const samples = await openLoop(api, namespace, `bench-${phase}`, settings.rate * settings.seconds, settings.rate);
  const failed = samples.filter((sample) => sample.status !== 201);
  if (failed.length > 0) process.stderr.write(`${phase}: ${failed.length} creates failed, first: ${failed[0]?.status} ${failed[0]?.body}\n`);
  const latencies = samples.filter((sample) => sample.status === 201).map((sample) => sample.ms).sort((a, b) => a - b);
  return {
    phase,
    creates: samples.length,
    errors: failed.length,
    p50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
    p99Ms: Math.round(percentile(latencies, 99) * 100) / 100,
    maxLagMs: Math.round(Math.max(...samples.map((sample) => sample.lagMs)) * 10) / 10,
  };
}

/** The engine's verdict on every variant, as the API server stores it, in a namespace without any policy. */
async function judgeVariants(api: ApiClient): Promise<VariantVerdict[]> {
  const namespace = await freshNamespace();
  try {
    await waitForPolicy(api, namespace, 'allowed');
    const { verdicts, rejected } = await engineVerdicts(api, namespace);
    if (rejected.length > 0) process.stderr.write(`the API server itself refused ${rejected.length} variants (not compared): ${rejected.join('; ')}\n`);
    const denied = verdicts.filter((verdict) => !verdict.engineAllowed).length;
    process.stderr.write(`${verdicts.length} variants judged by the engine: ${denied} denied, ${verdicts.length - denied} allowed\n`);
    return verdicts;
  } finally {
    await dropNamespace(namespace);
  }
}

async function phaseNone(api: ApiClient, namespace: string): Promise<PhaseFigures> {
  await waitForPolicy(api, namespace, 'allowed');
  await warmUp(api, namespace, 'none');
  return { ...(await measurePhase(api, namespace, 'none')), agreement: 'no policy: a privileged Pod is admitted' };
}

interface BenchOperator {
  operator: OperatorProcess;
  home: string;
  configuration: string;
}

/** The real operator with its webhook on loopback, as test/admission.test.ts starts it (Fail, info logs). */
async function startBenchOperator(): Promise<BenchOperator> {
  const env = await requireScanEnvironment();
  const home = await createTestNamespace('bench-admission-op');
  const run = randomBytes(3).toString('hex');
  const configuration = `securestack-bench-${run}`;
  const webhookPort = await freePort();
  const operator = startOperator({
    identity: `bench-admission-${run}`,
    namespace: home,
    leaseName: 'bench-admission',
    env: scanOperatorEnv(env, await freePort(), {
      ...webhookEnv(webhookPort, configuration),
      SECURESTACK_WEBHOOK_FAILURE_POLICY: 'Fail',
      SECURESTACK_LOG_LEVEL: 'info',
    }),
  });
  return { operator, home, configuration };
}

/** Stops the operator, then deletes its webhook configuration, the ScanPolicy and its namespace. */
async function stopBenchOperator({ operator, home, configuration }: BenchOperator): Promise<void> {
  await operator.stop('SIGTERM');
  await kubectl(['delete', 'validatingwebhookconfiguration', configuration, '--ignore-not-found'], { allowFail: true });
  await kubectl(['delete', 'scanpolicy', policyName, '--ignore-not-found'], { allowFail: true });
  await kubectl(['delete', 'namespace', home, '--wait=false', '--ignore-not-found'], { allowFail: true });
}

/** The measured creates, with the operator's histogram and the API server's webhook timing over exactly them. */
async function measureWebhook(api: ApiClient, namespace: string, operator: OperatorProcess): Promise<Omit<PhaseFigures, 'agreement'>> {
  const before = { buckets: await durationBuckets(operator), calls: await apiServerWebhookTiming(api) };
  const figures = await measurePhase(api, namespace, 'webhook');
  const after = { buckets: await durationBuckets(operator), calls: await apiServerWebhookTiming(api) };
  const calls = after.calls.count - before.calls.count;
  const p50 = histogramQuantile(before.buckets, after.buckets, 0.5);
  const p99 = histogramQuantile(before.buckets, after.buckets, 0.99);
  return {
    ...figures,
    operator: { count: p50.count, p50Ms: p50.ms, p99Ms: p99.ms },
    apiServerWebhookMeanMs: calls > 0 ? round2(((after.calls.sum - before.calls.sum) / calls) * 1000) : NaN,
  };
}

async function phaseWebhook(api: ApiClient, namespace: string, verdicts: readonly VariantVerdict[]): Promise<PhaseFigures> {
  const bench = await startBenchOperator();
  try {
    await waitUntilLeading(bench.operator, bench.home, 'bench-admission');
    await applyScanPolicy(namespace);
    await waitForPolicy(api, namespace, /validate\.securestack\.io.*disallow-privileged/s);
    const disagree = await disagreements(api, namespace, verdicts, /validate\.securestack\.io/);
    if (disagree.length > 0) throw new Error(`the webhook disagrees with the engine:\n${disagree.join('\n')}`);
    await warmUp(api, namespace, 'webhook');
    return { ...(await measureWebhook(api, namespace, bench.operator)), agreement: `webhook = engine on ${verdicts.length}/${verdicts.length} variants` };
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${bench.operator.describe()}`);
  } finally {
    await stopBenchOperator(bench);
  }
}

async function applyScanPolicy(namespace: string): Promise<void> {
  const policy = benchPolicy([namespace]);
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ ...policy, metadata: { name: policyName, labels: { ...benchLabel } } }) });
  await waitFor(`ScanPolicy ${policyName} to be Ready`, async () => {
    const ready = await kubectl(['get', 'scanpolicy', policyName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { allowFail: true });
    return ready.stdout === 'True' ? true : undefined;
  });
}

async function phaseVap(api: ApiClient, namespace: string, verdicts: readonly VariantVerdict[]): Promise<PhaseFigures> {
  try {
    await kubectl(['apply', '-f', vapFile]);
    const denied = new RegExp(`ValidatingAdmissionPolicy '${vapName}'`);
    await waitForPolicy(api, namespace, denied);
    const disagree = await disagreements(api, namespace, verdicts, denied);
    const agreement = disagree.length === 0 ? `VAP = engine on ${verdicts.length}/${verdicts.length} variants` : `VAP differs from the engine on ${disagree.length}/${verdicts.length} variants`;
    if (disagree.length > 0) process.stderr.write(`vap: disagreements with the engine:\n${disagree.join('\n')}\n`);
    const warnings = await kubectl(['get', 'validatingadmissionpolicy', vapName, '-o', 'jsonpath={.status.typeChecking}']);
    if (warnings.stdout.includes('warning')) process.stderr.write(`vap: type checking warnings: ${warnings.stdout}\n`);
    await warmUp(api, namespace, 'vap');
    return { ...(await measurePhase(api, namespace, 'vap')), agreement };
  } finally {
    await kubectl(['delete', '-f', vapFile, '--ignore-not-found'], { allowFail: true });
  }
}

/** One round: the three phases, each in a fresh namespace; the order rotates from round to round. */
async function runRound(api: ApiClient, round: number, verdicts: readonly VariantVerdict[]): Promise<PhaseFigures[]> {
  const phases: PhaseName[] = ['none', 'webhook', 'vap'];
  const order = [...phases.slice((round - 1) % 3), ...phases.slice(0, (round - 1) % 3)];
  const results: PhaseFigures[] = [];
  for (const phase of order) {
    const namespace = await freshNamespace();
    try {
      const figures = phase === 'none' ? await phaseNone(api, namespace) : phase === 'webhook' ? await phaseWebhook(api, namespace, verdicts) : await phaseVap(api, namespace, verdicts);
      results.push(figures);
      report(round, figures);
    } finally {
      await dropNamespace(namespace);
    }
  }
  return results;
}

function report(round: number, figures: PhaseFigures): void {
  process.stderr.write(`round ${round} ${figures.phase}: ${JSON.stringify(figures)}\n`);
}

/** Leftovers of an interrupted run would change what the API server does. */
async function cleanLeftovers(): Promise<void> {
  await kubectl(['delete', '-f', vapFile, '--ignore-not-found'], { allowFail: true });
  await kubectl(['delete', 'scanpolicy', policyName, '--ignore-not-found'], { allowFail: true });
  const configs = await kubectl(['get', 'validatingwebhookconfigurations', '-o', 'name'], { allowFail: true });
  for (const name of configs.stdout.split('\n').filter((line) => line.includes('securestack-bench-'))) {
    await kubectl(['delete', name, '--ignore-not-found'], { allowFail: true });
  }
}

// =============================================================================================
// Output

const fmt = (value: number, digits = 0): string => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const range = (values: readonly number[], digits = 0): string => {
  const low = Math.min(...values);
  const high = Math.max(...values);
  return low === high ? fmt(low, digits) : `${fmt(low, digits)}–${fmt(high, digits)}`;
};

function printEngine(engine: EngineResult, pinned: string): void {
  const { mix, runs } = engine;
  const out = process.stdout;
  out.write(`\n### Rule engine, one core (${pinned}, Node ${engine.node})\n\n`);
  out.write(`Mix: ${mix.bodies} AdmissionReview bodies (${Object.entries(mix.kinds).map(([k, n]) => `${n} ${k}`).join(', ')}; ${mix.violating} violating; ${Object.entries(mix.profiles).map(([k, n]) => `${n} ${k}`).join(', ')}; 1–3 containers; a fifth of the Deployments are UPDATEs with oldObject), ${fmt(mix.minBytes)}–${fmt(mix.maxBytes)} bytes, ${fmt(mix.meanBytes)} on average; policy: pss-restricted + best-practices + allowed-registries, Enforce.\n\n`);
  out.write('| workload | reviews | reviews/s | p50 (µs) | p99 (µs) | CPU/wall | denied |\n|---|---|---|---|---|---|---|\n');
  for (const figures of [...runs, engine.realSized, engine.cacheHit]) {
    out.write(`| ${figures.workload} | ${fmt(figures.reviews)} | ${fmt(figures.perSecond)} | ${fmt(figures.p50Us, 1)} | ${fmt(figures.p99Us, 1)} | ${figures.cpuShare.toFixed(2)} | ${fmt(figures.denied)} |\n`);
  }
  const b = engine.breakdown;
  out.write(`\nReal-sized compliant Pod (${fmt(b.bytes)} bytes, 3 containers), mean µs per step: parseReview ${b.parse}, AdmissionHandler.review ${b.review} (the rules themselves, evaluateAll, ${b.rules}), response JSON.stringify + encode ${b.stringify}; whole serve() ${b.serve}. templateHash of the same pod (the verdict cache key, computed when a verdict can be stored or reused) ${b.templateHash}.\n`);
  out.write(`Verdict cache: ${engine.cacheHits.mixLookups} lookups during the mix (uncontrolled objects never look up); ${fmt(engine.cacheHits.during)} hits of ${fmt(engine.cacheHits.expected)} controller-made Pod reviews.\n`);
  const lowest = Math.min(...runs.map((run) => run.perSecond));
  out.write(`Target ≥ 5,000 reviews/s on one core: ${lowest >= 5000 ? 'holds' : 'MISSED'} (mix ${range(runs.map((run) => run.perSecond))} reviews/s over ${runs.length} runs).\n`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;
const signed = (value: number): string => `${value >= 0 ? '+' : ''}${round2(value)}`;

/** Per round: what the webhook and the VAP add to p50 and p99 over the round's no-policy phase. */
function added(phases: readonly PhaseFigures[]): { webhookP50: number; webhookP99: number; vapP50: number; vapP99: number } {
  const find = (phase: PhaseName): PhaseFigures | undefined => phases.find((figures) => figures.phase === phase);
  const none = find('none');
  const delta = (phase: PhaseName, key: 'p50Ms' | 'p99Ms'): number => (find(phase)?.[key] ?? NaN) - (none?.[key] ?? NaN);
  return { webhookP50: delta('webhook', 'p50Ms'), webhookP99: delta('webhook', 'p99Ms'), vapP50: delta('vap', 'p50Ms'), vapP99: delta('vap', 'p99Ms') };
}

function printApi(rounds: PhaseFigures[][]): void {
  const out = process.stdout;
  out.write(`\n### Pod creates through the API server (${settings.rate}/s open loop, ${settings.seconds} s per phase, loopback)\n\n`);
  out.write('| round | phase | creates | errors | p50 (ms) | p99 (ms) | added p50 / p99 vs none (ms) | client stall max (ms) | operator histogram p50 / p99 (ms) | verdict check |\n|---|---|---|---|---|---|---|---|---|---|\n');
  rounds.forEach((phases, index) => {
    const none = phases.find((figures) => figures.phase === 'none');
    for (const figures of phases) {
      const operator = figures.operator ? `${figures.operator.p50Ms} / ${figures.operator.p99Ms} (n=${figures.operator.count}); API server's mean per call ${figures.apiServerWebhookMeanMs ?? ''}` : '';
      const delta = figures.phase === 'none' || !none ? '' : `${signed(figures.p50Ms - none.p50Ms)} / ${signed(figures.p99Ms - none.p99Ms)}`;
      out.write(`| ${index + 1} | ${figures.phase} | ${figures.creates} | ${figures.errors} | ${figures.p50Ms} | ${figures.p99Ms} | ${delta} | ${figures.maxLagMs} | ${operator} | ${figures.agreement} |\n`);
    }
  });
  const deltas = rounds.map(added);
  const lines = deltas.map((d, index) => `round ${index + 1}: SecureStack ${signed(d.webhookP99)} ms, VAP ${signed(d.vapP99)} ms → ${d.webhookP99 - d.vapP99 <= 2 ? 'holds' : 'does NOT hold'} (SecureStack − VAP = ${signed(d.webhookP99 - d.vapP99)} ms)`);
  const webhook = median(deltas.map((d) => d.webhookP99));
  const vap = median(deltas.map((d) => d.vapP99));
  lines.push(`median over ${deltas.length} round(s): SecureStack ${signed(webhook)} ms, VAP ${signed(vap)} ms → ${webhook - vap <= 2 ? 'holds' : 'does NOT hold'}`);
  out.write(`\np99 added by SecureStack within 2 ms of what the VAP adds (SecureStack's added p99 ≤ the VAP's + 2 ms):\n${lines.map((line) => `- ${line}`).join('\n')}\n`);
  out.write(`Added p50 (median over rounds): SecureStack ${signed(median(deltas.map((d) => d.webhookP50)))} ms, VAP ${signed(median(deltas.map((d) => d.vapP50)))} ms.\n`);
}

function printCommand(): void {
  const knobs = Object.entries(process.env).filter(([key]) => key.startsWith('SECURESTACK_BENCH_')).map(([key, value]) => `${key}=${value ?? ''}`);
  process.stdout.write(`\nCommand: \`${[...knobs, 'bash bench/admission.sh'].join(' ')}\` (${new Date().toISOString().slice(0, 10)}, ${settings.reviews.toLocaleString('en-US')} reviews × ${settings.engineRepeats}, ${settings.rounds} API round(s))\n`);
}

// =============================================================================================

async function main(): Promise<void> {
  if (process.argv.includes('--engine')) {
    process.stdout.write(`RESULT ${JSON.stringify(runEngine())}\n`);
    return;
  }
  if (settings.parts.includes('engine')) {
    const { result, pinned } = await engineInChild();
    printEngine(result, pinned);
  }
  if (settings.parts.includes('api')) {
    await requireScanEnvironment();
    await cleanLeftovers();
    const api = apiClient();
    const verdicts = await judgeVariants(api);
    const rounds: PhaseFigures[][] = [];
    for (let round = 1; round <= settings.rounds; round++) rounds.push(await runRound(api, round, verdicts));
    api.agent.destroy();
    printApi(rounds);
  }
  printCommand();
}

// Only when run, not when bench/ingest.ts borrows the handler and the review mix.
if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench/admission: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
