// The admission handler without a cluster: in-memory policies, namespace labels and ImageScan
// facts, a fresh metrics registry per test, and a clock the test controls. Also parseReview, the
// HTTPS server's AdmissionReview parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { ScanPolicySpec } from '../operator/api/types.generated';
import type { CompiledPolicy } from '../operator/engine/compile';
import type { ImageFacts } from '../operator/engine/evaluate';
import { groupOf } from '../operator/engine/workload';
import { TemplateVerdictCache } from '../operator/engine/template-verdicts';
import type { KubeObject } from '../operator/engine/types';
import type { Operation } from '../operator/engine/match';
import { ResourceValidationHandler } from '../operator/features/admission/resource-validation';
import { scheduledScanProblems } from '../operator/features/schedules/validate';
import { AdmissionHandler, maxWildcardKindLabels, type AdmissionOptions, type AdmissionRequest, type AdmissionResponse } from '../operator/features/admission/admission';
import { createAdmissionMetrics } from '../operator/features/admission/metrics';
import { parseReview } from '../operator/features/admission/server';
import { compiled, dayMs, deployment, iso, now, plain, pod, podSpec, privileged, replicaSet } from './support/policies';

interface Harness {
  handler: AdmissionHandler;
  registry: Registry;
  scanRequests: { namespace: string; images: string[] }[];
  verdicts: TemplateVerdictCache;
  review(object: KubeObject | undefined, options?: { operation?: Operation; dryRun?: boolean; oldObject?: KubeObject; namespace?: string }): AdmissionResponse;
  metric(name: string, labels: Record<string, string>): Promise<number | undefined>;
}

interface HarnessOptions {
  policies: CompiledPolicy[];
  images?: Record<string, ImageFacts>;
  namespaces?: Record<string, Record<string, string>>;
  synced?: boolean;
  failurePolicy?: AdmissionOptions['failurePolicy'];
  deadlineMs?: number;
  clock?: () => number;
  gateExempt?: (image: string) => boolean;
}

let uids = 0;

function harness(options: HarnessOptions): Harness {
  const registry = new Registry();
  const scanRequests: Harness['scanRequests'] = [];
  const verdicts = new TemplateVerdictCache(100, 60_000);
  const handler = new AdmissionHandler({
    sources: {
      policies: () => options.policies,
      namespaceLabels: (namespace) => (options.namespaces ?? { 'team-a': { env: 'prod' } })[namespace],
      images: (image) => options.images?.[image],
      ...(options.gateExempt ? { gateExempt: options.gateExempt } : {}),
      synced: () => options.synced ?? true,
    },
    metrics: createAdmissionMetrics(registry),
    verdicts,
    failurePolicy: options.failurePolicy ?? 'Fail',
    deadlineMs: options.deadlineMs ?? 10_000,
    requestScans: (namespace, images) => scanRequests.push({ namespace, images: [...images] }),
    now: options.clock ?? (() => now),
  });
  return {
    handler,
    registry,
    scanRequests,
    verdicts,
    review(object, { operation = 'CREATE', dryRun = false, oldObject, namespace } = {}) {
      const source = object ?? oldObject;
      const uid = `uid-${++uids}`;
      const request: AdmissionRequest = {
        uid,
        kind: { group: groupOf(source?.apiVersion), version: (source?.apiVersion ?? 'v1').split('/').pop() ?? 'v1', kind: source?.kind ?? '' },
        operation,
        dryRun,
        object: object ?? null,
        ...(oldObject ? { oldObject } : {}),
        ...(source?.metadata?.name ? { name: source.metadata.name } : {}),
        ...(namespace ?? source?.metadata?.namespace ? { namespace: namespace ?? source?.metadata?.namespace } : {}),
      };
      const response = handler.review(request);
      assert.equal(response.uid, uid, 'the response answers the request');
      return response;
    },
    async metric(name, labels) {
      const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
      assert.ok(metric, `metric ${name} is registered`);
      const value = metric.values.find((entry) => Object.entries(labels).every(([key, wanted]) => String(entry.labels[key]) === wanted) && Object.keys(entry.labels).length === Object.keys(labels).length);
      return value?.value;
    },
  };
}

const pss = (mode: CompiledPolicy['mode'], name = `pss-${mode.toLowerCase()}`, extra: Partial<ScanPolicySpec> = {}): CompiledPolicy =>
  compiled(name, { mode, rules: [{ id: 'disallow-privileged' }, { id: 'disallow-host-namespaces' }], ...extra });

const riskyPod = (name = 'web', namespace = 'team-a'): KubeObject => pod(name, namespace, { hostPID: true, containers: [privileged('registry.example.com/app:1.0.0')] });

describe('AdmissionHandler: modes', () => {
  it('Enforce denies with 403, naming every violated rule, its field and the fix', async () => {
    const h = harness({ policies: [pss('Enforce', 'baseline')] });
    const response = h.review(riskyPod());
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.equal(response.status?.reason, 'Forbidden');
    const lines = (response.status?.message ?? '').split('\n');
    assert.equal(lines[0], 'SecureStack denied Pod team-a/web: it violates disallow-privileged, disallow-host-namespaces');
    assert.equal(lines.length, 3);
    assert.match(lines[1] ?? '', /^- ScanPolicy baseline: \[disallow-privileged\] spec\.containers\[0\]\.securityContext\.privileged: container "app" sets securityContext\.privileged=true\. Fix: Remove securityContext\.privileged/);
    assert.match(lines[2] ?? '', /^- ScanPolicy baseline: \[disallow-host-namespaces\] spec\.hostPID: pod sets hostPID=true\. Fix: \S/);
    assert.equal(response.warnings, undefined);
    assert.deepEqual(response.auditAnnotations, { decision: 'deny', 'enforce-violations': 'baseline:disallow-privileged,disallow-host-namespaces' });
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'deny', mode: 'Enforce', kind: 'Pod', operation: 'CREATE' }), 1);
  });

  it('Enforce allows a clean object', async () => {
    const h = harness({ policies: [pss('Enforce', 'baseline')] });
    const response = h.review(pod('web', 'team-a', podSpec(plain())));
    assert.deepEqual(response, { uid: response.uid, allowed: true, auditAnnotations: { decision: 'allow' } });
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'allow', mode: 'None', kind: 'Pod', operation: 'CREATE' }), 1);
  });

  it('Warn admits with one warning per violation, prefixed by the policy name', async () => {
    const h = harness({ policies: [pss('Warn', 'baseline-warn')] });
    const response = h.review(deployment('api', 'team-a', { hostIPC: true, containers: [privileged()] }), { operation: 'UPDATE' });
    assert.equal(response.allowed, true);
    assert.equal(response.status, undefined);
    assert.deepEqual(response.warnings?.map((warning) => warning.replace(/\. Fix: .*$/, '')), [
      'ScanPolicy baseline-warn: [disallow-privileged] spec.template.spec.containers[0].securityContext.privileged: container "app" sets securityContext.privileged=true',
      'ScanPolicy baseline-warn: [disallow-host-namespaces] spec.template.spec.hostIPC: pod sets hostIPC=true',
    ]);
    assert.ok(response.warnings?.every((warning) => warning.includes('. Fix: ')));
    assert.deepEqual(response.auditAnnotations, { decision: 'warn', 'warn-violations': 'baseline-warn:disallow-privileged,disallow-host-namespaces' });
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'warn', mode: 'Warn', kind: 'Deployment', operation: 'UPDATE' }), 1);
  });

  it('Audit admits silently and records policy:rule in the audit annotations', async () => {
    const h = harness({ policies: [pss('Audit', 'baseline-audit')] });
    const response = h.review(riskyPod());
    assert.deepEqual(response, { uid: response.uid, allowed: true, auditAnnotations: { decision: 'allow', 'audit-violations': 'baseline-audit:disallow-privileged,disallow-host-namespaces' } });
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'allow', mode: 'Audit', kind: 'Pod', operation: 'CREATE' }), 1);
  });

  it('records excepted rules with the exception\'s owner', () => {
    const policy = pss('Enforce', 'baseline', {
      exceptions: [{ rules: ['disallow-privileged', 'disallow-host-namespaces'], namespaces: ['team-a'], reason: 'node agent', owner: 'platform@example.com', expiresAt: iso(now + dayMs) }],
    });
    const h = harness({ policies: [policy] });
    const response = h.review(riskyPod());
    assert.equal(response.allowed, true);
    assert.deepEqual(response.auditAnnotations, { decision: 'allow', exceptions: 'baseline:disallow-privileged(platform@example.com);baseline:disallow-host-namespaces(platform@example.com)' });
    // Outside team-a the same pod is denied.
    assert.equal(h.review(riskyPod('web', 'team-b')).allowed, false);
  });

  it('combines several policies of different modes in one answer', async () => {
    const policies = [
      compiled('a-enforce-hostns', { mode: 'Enforce', rules: [{ id: 'disallow-host-namespaces' }] }),
      compiled('b-warn-latest', { mode: 'Warn', rules: [{ id: 'disallow-latest-tag' }] }),
      compiled('c-audit-privileged', { mode: 'Audit', rules: [{ id: 'disallow-privileged' }] }),
      compiled('d-enforce-digest', { mode: 'Enforce', rules: [{ id: 'require-image-digest' }] }),
      compiled('e-enforce-elsewhere', { mode: 'Enforce', rules: [{ id: 'disallow-privileged' }], match: { namespaces: ['prod-*'] } }),
      compiled('f-enforce-passes', { mode: 'Enforce', rules: [{ id: 'disallow-host-path' }] }),
    ];
    const h = harness({ policies });
    const response = h.review(pod('web', 'team-a', { hostNetwork: true, containers: [privileged('nginx:latest', 'web')] }));
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    const message = response.status?.message ?? '';
    assert.equal(message.split('\n')[0], 'SecureStack denied Pod team-a/web: it violates disallow-host-namespaces, require-image-digest');
    assert.match(message, /- ScanPolicy a-enforce-hostns: \[disallow-host-namespaces\] spec\.hostNetwork: /);
    assert.match(message, /- ScanPolicy d-enforce-digest: \[require-image-digest\] spec\.containers\[0\]\.image: /);
    assert.doesNotMatch(message, /b-warn-latest|c-audit-privileged|e-enforce-elsewhere|f-enforce-passes/);
    assert.equal(response.warnings?.length, 1);
    assert.match(response.warnings?.[0] ?? '', /^ScanPolicy b-warn-latest: \[disallow-latest-tag\] spec\.containers\[0\]\.image: /);
    assert.deepEqual(response.auditAnnotations, {
      decision: 'deny',
      'enforce-violations': 'a-enforce-hostns:disallow-host-namespaces;d-enforce-digest:require-image-digest',
      'warn-violations': 'b-warn-latest:disallow-latest-tag',
      'audit-violations': 'c-audit-privileged:disallow-privileged',
    });
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'deny', mode: 'Enforce', kind: 'Pod', operation: 'CREATE' }), 1);
  });
});

describe('AdmissionHandler: vulnerability gate scans and dry-run', () => {
  const image = 'registry.example.com/new:1.0.0';
  const gate = (name: string, onMissingScan: 'Allow' | 'Warn' | 'Deny'): CompiledPolicy => compiled(name, { mode: 'Enforce', vulnerabilityGate: { maxCritical: 0, onMissingScan } });

  it('requests scans for unscanned images outside dry-run only, once per image', () => {
    const h = harness({ policies: [gate('gate-warn', 'Warn'), gate('gate-allow', 'Allow')], images: { 'registry.example.com/known:1.0.0': { scan: 'team-a/known', completed: true, summary: { critical: 0 } } } });
    const object = deployment('web', 'team-a', podSpec(plain(image, 'web'), plain('registry.example.com/known:1.0.0', 'known'), plain(image, 'again')));
    const dry = h.review(object, { dryRun: true });
    assert.equal(dry.allowed, true);
    assert.deepEqual(dry.warnings, [`ScanPolicy gate-warn: image ${image} has no completed ImageScan yet (SecureStack requests one, except for dry-run requests)`]);
    assert.deepEqual(h.scanRequests, [], 'dry-run never requests scans');
    const real = h.review(object, { dryRun: false });
    assert.equal(real.allowed, true);
    assert.deepEqual(h.scanRequests, [{ namespace: 'team-a', images: [image] }]);
  });

  it('neither judges nor requests scans of images the sources exempt from the gate', () => {
    const scanner = 'ghcr.io/aquasecurity/trivy:0.58.1';
    const h = harness({ policies: [gate('gate-deny', 'Deny')], gateExempt: (candidate) => candidate === scanner });
    assert.equal(h.review(pod('scan', 'team-a', podSpec(plain(scanner)))).allowed, true);
    const mixed = h.review(pod('scan', 'team-a', podSpec(plain(scanner), plain(image, 'other'))));
    assert.equal(mixed.allowed, false);
    assert.deepEqual(h.scanRequests, [{ namespace: 'team-a', images: [image] }]);
  });

  it('denies unscanned images under onMissingScan Deny, and still requests their scans', async () => {
    const h = harness({ policies: [gate('gate-deny', 'Deny')] });
    const response = h.review(pod('web', 'team-a', podSpec(plain(image))));
    assert.equal(response.allowed, false);
    assert.match(response.status?.message ?? '', new RegExp(`^SecureStack denied Pod team-a/web: it violates vulnerability-gate\\n- ScanPolicy gate-deny: \\[vulnerability-gate\\] spec\\.containers\\[0\\]\\.image: image ${image.replace(/\./g, '\\.')} has no completed ImageScan yet`));
    assert.deepEqual(h.scanRequests, [{ namespace: 'team-a', images: [image] }]);
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'deny', mode: 'Enforce', kind: 'Pod', operation: 'CREATE' }), 1);
  });

  it('denies a scanned image over the gate, naming the ImageScan', () => {
    const h = harness({ policies: [gate('gate', 'Warn')], images: { [image]: { scan: 'team-a/new-scan', completed: true, summary: { critical: 2 } } } });
    const response = h.review(pod('web', 'team-a', podSpec(plain(image))));
    assert.equal(response.allowed, false);
    assert.match(response.status?.message ?? '', /has vulnerabilities over the gate: 2 critical \(max 0\) \(ImageScan team-a\/new-scan\)/);
    assert.deepEqual(h.scanRequests, []);
  });
});

describe('AdmissionHandler: operations', () => {
  it('judges DELETE by oldObject, and only for policies that list DELETE', async () => {
    const deletes = compiled('no-privileged-deletes', { mode: 'Enforce', rules: [{ id: 'disallow-privileged' }], match: { operations: ['DELETE'] } });
    const h = harness({ policies: [deletes] });
    const response = h.review(undefined, { operation: 'DELETE', oldObject: riskyPod() });
    assert.equal(response.allowed, false);
    assert.match(response.status?.message ?? '', /^SecureStack denied Pod team-a\/web: it violates disallow-privileged\n/);
    // object is not what DELETE judges, even when present.
    assert.equal(h.review(pod('web', 'team-a', podSpec(plain())), { operation: 'DELETE', oldObject: riskyPod() }).allowed, false);
    assert.equal(h.review(riskyPod(), { operation: 'DELETE', oldObject: pod('web', 'team-a', podSpec(plain())) }).allowed, true);
    // A CREATE is not matched by a DELETE-only policy.
    assert.equal(h.review(riskyPod()).allowed, true);
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'deny', mode: 'Enforce', kind: 'Pod', operation: 'DELETE' }), 2);

    const byDefault = harness({ policies: [pss('Enforce')] });
    assert.equal(byDefault.review(undefined, { operation: 'DELETE', oldObject: riskyPod() }).allowed, true, 'DELETE is not matched by default');
  });

  it('admits a request without an object', () => {
    const h = harness({ policies: [pss('Enforce')] });
    const response = h.review(undefined, { operation: 'CREATE', namespace: 'team-a' });
    assert.deepEqual(response, { uid: response.uid, allowed: true, auditAnnotations: { decision: 'allow' } });
  });

  it('matches namespaceSelector with the namespace labels of the sources', () => {
    const prodOnly = pss('Enforce', 'prod-only', { match: { namespaceSelector: { matchLabels: { env: 'prod' } } } });
    const h = harness({ policies: [prodOnly], namespaces: { 'team-a': { env: 'prod' }, 'team-b': { env: 'dev' } } });
    assert.equal(h.review(riskyPod('web', 'team-a')).allowed, false);
    assert.equal(h.review(riskyPod('web', 'team-b')).allowed, true);
    assert.equal(h.review(riskyPod('web', 'unknown')).allowed, true, 'a namespace the cache does not know has no labels');
  });
});

describe('AdmissionHandler: failure policy', () => {
  it('before the sources sync, Ignore admits with a warning and counts a fail-open', async () => {
    const h = harness({ policies: [pss('Enforce')], synced: false, failurePolicy: 'Ignore' });
    const response = h.review(riskyPod());
    assert.equal(response.allowed, true);
    assert.equal(response.status, undefined);
    assert.deepEqual(response.warnings, ['SecureStack admitted this request without checking it (not-ready: SecureStack has not loaded its policies yet); failurePolicy is Ignore']);
    assert.deepEqual(response.auditAnnotations, { decision: 'fail-open', reason: 'not-ready' });
    assert.equal(await h.metric('securestack_admission_fail_open_total', { reason: 'not-ready' }), 1);
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'error', mode: 'None', kind: 'Pod', operation: 'CREATE' }), 1);
  });

  it('before the sources sync, Fail denies with 503 and counts no fail-open', async () => {
    const h = harness({ policies: [pss('Enforce')], synced: false, failurePolicy: 'Fail' });
    const response = h.review(pod('web', 'team-a', podSpec(plain())));
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 503);
    assert.equal(response.status?.reason, 'ServiceUnavailable');
    assert.match(response.status?.message ?? '', /not-ready: SecureStack has not loaded its policies yet\); failurePolicy is Fail/);
    assert.deepEqual(response.auditAnnotations, { decision: 'fail-closed', reason: 'not-ready' });
    assert.equal(await h.metric('securestack_admission_fail_open_total', { reason: 'not-ready' }), 0, 'the series exists from the start, at 0 (runtime/metrics.ts zeroSeries)');
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'error', mode: 'None', kind: 'Pod', operation: 'CREATE' }), 1);
  });

  it('past the deadline, follows failurePolicy with reason "deadline"', async () => {
    // A clock that moves 1 ms each time it is read: with deadlineMs 0, the second policy is late.
    const ticking = (): (() => number) => {
      let t = now;
      return () => t++;
    };
    const policies = [pss('Enforce', 'p1'), pss('Enforce', 'p2'), pss('Enforce', 'p3')];
    const ignore = harness({ policies, failurePolicy: 'Ignore', deadlineMs: 0, clock: ticking() });
    const admitted = ignore.review(riskyPod());
    assert.equal(admitted.allowed, true, 'Ignore admits');
    assert.deepEqual(admitted.auditAnnotations, { decision: 'fail-open', reason: 'deadline' });
    assert.match(admitted.warnings?.[0] ?? '', /\(deadline: evaluation took longer than 0 ms\)/);
    assert.equal(await ignore.metric('securestack_admission_fail_open_total', { reason: 'deadline' }), 1);

    const fail = harness({ policies, failurePolicy: 'Fail', deadlineMs: 0, clock: ticking() });
    const refused = fail.review(pod('web', 'team-a', podSpec(plain())));
    assert.equal(refused.allowed, false);
    assert.equal(refused.status?.code, 503);
    assert.match(refused.status?.message ?? '', /deadline: evaluation took longer than 0 ms/);

    // The same clock with time to spare evaluates normally.
    const roomy = harness({ policies, failurePolicy: 'Ignore', deadlineMs: 1000, clock: ticking() });
    const denied = roomy.review(riskyPod());
    assert.equal(denied.allowed, false);
    assert.equal(denied.status?.code, 403);
    assert.equal(await roomy.metric('securestack_admission_fail_open_total', { reason: 'deadline' }), 0);
  });
});

describe('AdmissionHandler: template verdict cache', () => {
  /** A template as the API server stores it, with a volume of its own. */
  const templateSpec = (image = 'registry.example.com/web:1.4.2', extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    containers: [
      {
        ...privileged(image, 'web'),
        volumeMounts: [{ name: 'config', mountPath: '/etc/web' }],
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      },
    ],
    volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
    serviceAccountName: 'web',
    serviceAccount: 'web',
    restartPolicy: 'Always',
    dnsPolicy: 'ClusterFirst',
    schedulerName: 'default-scheduler',
    ...extra,
  });

  /** The Pod a ReplicaSet makes from the template, with what controllers and admission plugins add. */
  function podOf(spec: Record<string, unknown>, name: string, owner: { controller?: boolean } | undefined): KubeObject {
    const made = structuredClone(spec) as { containers: { volumeMounts: unknown[] }[]; volumes: unknown[] } & Record<string, unknown>;
    for (const container of made.containers) container.volumeMounts.push({ name: 'kube-api-access-abcde', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' });
    made.volumes.push({ name: 'kube-api-access-abcde', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }] } });
    Object.assign(made, {
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      priority: 0,
      enableServiceLinks: true,
      nodeName: 'kwok-node-0',
    });
    const ownerReferences = owner ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: 'uid-rs', ...owner }] : undefined;
    return pod(name, 'team-a', made, { app: 'web', 'pod-template-hash': '5d8f7c9b4' }, ownerReferences ? { ownerReferences } : {});
  }

  it('reuses the Deployment\'s verdict for a Pod made from its template', async () => {
    const h = harness({ policies: [pss('Enforce', 'baseline')] });
    const fromDeployment = h.review(deployment('web', 'team-a', templateSpec()));
    assert.equal(fromDeployment.allowed, false);
    assert.equal(h.verdicts.size, 1);
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'hit' }), undefined, 'a Deployment is not looked up');

    const fromPod = h.review(podOf(templateSpec(), 'web-5d8f7c9b4-x7k2p', { controller: true }));
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'hit' }), 1);
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'miss' }), undefined);
    assert.equal(fromPod.allowed, false);
    assert.equal(fromPod.status?.code, 403);
    const detail = (response: AdmissionResponse): string[] => (response.status?.message ?? '').split('\n').slice(1);
    assert.deepEqual(detail(fromPod), detail(fromDeployment), 'the same violations, at the template\'s fields');
    assert.deepEqual(fromPod.auditAnnotations, fromDeployment.auditAnnotations);
  });

  it('reuses an exception the Deployment got for its Pods, but judges an uncontrolled Pod afresh', async () => {
    const policy = pss('Enforce', 'baseline', { exceptions: [{ names: ['web'], reason: 'legacy', owner: 'team-web', expiresAt: iso(now + dayMs) }] });
    const h = harness({ policies: [policy] });
    assert.equal(h.review(deployment('web', 'team-a', templateSpec())).allowed, true);

    const controlled = h.review(podOf(templateSpec(), 'web-5d8f7c9b4-x7k2p', { controller: true }));
    assert.equal(controlled.allowed, true);
    assert.deepEqual(controlled.auditAnnotations, { decision: 'allow', exceptions: 'baseline:disallow-privileged(team-web)' });
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'hit' }), 1);

    // Same template, no controller: evaluated afresh, and its own name is not excepted.
    const uncontrolled = h.review(podOf(templateSpec(), 'web-by-hand', undefined));
    assert.equal(uncontrolled.allowed, false);
    assert.match(uncontrolled.status?.message ?? '', /^SecureStack denied Pod team-a\/web-by-hand: it violates disallow-privileged\n/);
    // An ownerReference that is not the controller does not count either.
    assert.equal(h.review(podOf(templateSpec(), 'web-adopted', { controller: false })).allowed, false);
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'hit' }), 1);
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'miss' }), undefined);
  });

  it('misses for a controlled Pod whose template differs, and judges it afresh', async () => {
    const h = harness({ policies: [pss('Enforce', 'baseline')] });
    h.review(deployment('web', 'team-a', templateSpec()));
    const clean = templateSpec();
    delete (clean.containers as { securityContext?: unknown }[])[0]?.securityContext;
    const response = h.review(podOf(clean, 'web-5d8f7c9b4-x7k2p', { controller: true }));
    assert.equal(response.allowed, true);
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'miss' }), 1);
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'hit' }), undefined);
  });

  it('does not reuse verdicts of policies with Object-target custom rules', async () => {
    const policy = compiled('object-rule', { mode: 'Enforce', customRules: [{ id: 'needs-team', message: 'needs a team label', schema: { required: ['metadata'], properties: { metadata: { required: ['labels'], properties: { labels: { required: ['team'] } } } } } }] });
    const h = harness({ policies: [policy] });
    assert.equal(h.review(deployment('web', 'team-a', templateSpec(), { app: 'web', team: 'a' })).allowed, true);
    // The Pod has no team label: a reused Deployment verdict would wrongly admit it.
    assert.equal(h.review(podOf(templateSpec(), 'web-5d8f7c9b4-x7k2p', { controller: true })).allowed, false);
    assert.equal(h.verdicts.size, 0);
    assert.equal(await h.metric('securestack_admission_verdict_cache_total', { result: 'hit' }), undefined);
  });

  it('does not reuse a clean verdict for a Pod that adds a hostPath volume named kube-api-access-*', () => {
    // A Pod claiming a controller (ownerReferences are not verified) that copies an admitted
    // template and adds a hostPath volume named like the token volume must not reuse the verdict.
    const policy = compiled('host-path', { mode: 'Enforce', rules: [{ id: 'disallow-host-path' }] });
    const h = harness({ policies: [policy] });
    const clean = templateSpec('registry.example.com/web:1.4.2');
    delete (clean.containers as { securityContext?: unknown }[])[0]?.securityContext;
    assert.equal(h.review(deployment('web', 'team-a', clean)).allowed, true);
    const sneaky = podOf(clean, 'web-5d8f7c9b4-evil1', { controller: true });
    const spec = sneaky.spec as { volumes: unknown[]; containers: { volumeMounts: unknown[] }[] };
    spec.volumes.push({ name: 'kube-api-access-zzzzz', hostPath: { path: '/' } });
    spec.containers[0]?.volumeMounts.push({ name: 'kube-api-access-zzzzz', mountPath: '/host' });
    const response = h.review(sneaky);
    assert.equal(response.allowed, false, 'a hostPath volume must be judged, not hidden by its name');
  });

  it('admits the ReplicaSet of a Deployment excepted by name', () => {
    // Exceptions by name cover what the named controller makes: the ReplicaSet web-5d8f7c9b4 is
    // evaluated afresh (verdicts are reused for Pods only), and must not be denied.
    const policy = pss('Enforce', 'baseline', { exceptions: [{ names: ['web'], reason: 'legacy', owner: 'team-web', expiresAt: iso(now + dayMs) }] });
    const h = harness({ policies: [policy] });
    assert.equal(h.review(deployment('web', 'team-a', templateSpec())).allowed, true);
    const rs = replicaSet('web-5d8f7c9b4', 'team-a', templateSpec(), { app: 'web', 'pod-template-hash': '5d8f7c9b4' }, {
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-deploy-web', controller: true }],
    });
    const response = h.review(rs);
    assert.equal(response.allowed, true, response.status?.message);
  });
});

describe('AdmissionHandler: metrics', () => {
  it('counts requests by decision, mode, kind and operation', async () => {
    const h = harness({ policies: [pss('Enforce', 'enforce'), compiled('warn', { mode: 'Warn', rules: [{ id: 'disallow-latest-tag' }] })] });
    h.review(riskyPod());
    h.review(riskyPod(), { operation: 'UPDATE' });
    h.review(pod('ok', 'team-a', podSpec(plain('nginx:latest'))));
    h.review(deployment('ok', 'team-a', podSpec(plain())));
    h.review(deployment('ok', 'team-a', podSpec(plain())));
    const metric = (await h.registry.getMetricsAsJSON()).find((entry) => entry.name === 'securestack_admission_requests_total');
    assert.ok(metric);
    const series = metric.values.map((entry) => `${String(entry.labels.decision)} ${String(entry.labels.mode)} ${String(entry.labels.kind)} ${String(entry.labels.operation)} = ${entry.value}`).sort();
    assert.deepEqual(series, ['allow None Deployment CREATE = 2', 'deny Enforce Pod CREATE = 1', 'deny Enforce Pod UPDATE = 1', 'warn Warn Pod CREATE = 1']);
    const duration = await h.registry.getSingleMetricAsString('securestack_admission_duration_seconds');
    assert.match(duration, /securestack_admission_duration_seconds_count\{decision="deny"\} 2/);
    assert.match(duration, /securestack_admission_duration_seconds_count\{decision="allow"\} 2/);
    assert.match(duration, /securestack_admission_duration_seconds_count\{decision="warn"\} 1/);
  });

  const kindSeries = async (h: Harness): Promise<string[]> => {
    const metric = (await h.registry.getMetricsAsJSON()).find((entry) => entry.name === 'securestack_admission_requests_total');
    return [...new Set((metric?.values ?? []).map((entry) => String(entry.labels.kind)))].sort();
  };
  const madeUp = (i: number): KubeObject => ({ apiVersion: 'example.com/v1', kind: `Made${i}`, metadata: { name: `x${i}`, namespace: 'team-a' } });

  it('labels kinds no policy names as "other": 20,000 made-up kinds add one series', async () => {
    const h = harness({ policies: [pss('Enforce', 'enforce')] });
    h.review(riskyPod());
    for (let i = 0; i < 20_000; i++) h.review(madeUp(i));
    assert.deepEqual(await kindSeries(h), ['Pod', 'other']);
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'allow', mode: 'None', kind: 'other', operation: 'CREATE' }), 20_000);
  });

  it('under a policy matching every kind, names the first 64 kinds and counts the 65th on as "other"', async () => {
    const everything = compiled('everything', { mode: 'Audit', match: { kinds: [{ group: '*', kind: '*' }] }, rules: [{ id: 'disallow-privileged' }] });
    const h = harness({ policies: [everything] });
    for (let i = 0; i < maxWildcardKindLabels; i++) h.review(madeUp(i));
    assert.equal((await kindSeries(h)).length, maxWildcardKindLabels);
    h.review(madeUp(maxWildcardKindLabels));
    h.review(madeUp(0)); // one of the first 64 keeps its own label
    const kinds = await kindSeries(h);
    assert.equal(kinds.length, maxWildcardKindLabels + 1);
    assert.ok(kinds.includes('other'));
    assert.ok(!kinds.includes(`Made${maxWildcardKindLabels}`));
    assert.equal(await h.metric('securestack_admission_requests_total', { decision: 'allow', mode: 'None', kind: 'Made0', operation: 'CREATE' }), 2);
  });

  it('names a kind only when the policy names its group too', async () => {
    const h = harness({ policies: [pss('Enforce', 'enforce')] });
    h.review({ apiVersion: 'example.com/v1', kind: 'Pod', metadata: { name: 'fake', namespace: 'team-a' } });
    assert.deepEqual(await kindSeries(h), ['other']);
  });
});

describe('parseReview', () => {
  const body = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  const request = { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'team-a', object: { kind: 'Pod' } };

  it('returns the request of an AdmissionReview v1', () => {
    assert.deepEqual(parseReview(body({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request })), request);
  });

  it('rejects bodies that are not JSON', () => {
    assert.throws(() => parseReview(body('{"apiVersion": ')), /^Error: the body is not JSON: /);
    assert.throws(() => parseReview(Buffer.alloc(0)), /the body is not JSON/);
  });

  it('rejects another apiVersion or kind', () => {
    assert.throws(() => parseReview(body({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request })), { message: 'expected an AdmissionReview of admission.k8s.io/v1' });
    assert.throws(() => parseReview(body({ apiVersion: 'admission.k8s.io/v1', kind: 'ConversionReview', request })), { message: 'expected an AdmissionReview of admission.k8s.io/v1' });
    assert.throws(() => parseReview(body([1, 2])), { message: 'expected an AdmissionReview of admission.k8s.io/v1' });
  });

  it('rejects a JSON null body with a message saying what is wrong', () => {
    // A JSON body that is not an object gets the same message as any other wrong shape.
    assert.throws(() => parseReview(body('null')), { message: 'expected an AdmissionReview of admission.k8s.io/v1' });
  });

  it('rejects a request without uid, kind or operation', () => {
    const missing = 'the AdmissionReview has no request with uid, kind and operation';
    const review = (value: unknown): Buffer => body({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: value });
    assert.throws(() => parseReview(body({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' })), { message: missing });
    assert.throws(() => parseReview(review({ ...request, uid: undefined })), { message: missing });
    assert.throws(() => parseReview(review({ ...request, uid: 42 })), { message: missing });
    assert.throws(() => parseReview(review({ ...request, kind: undefined })), { message: missing });
    assert.throws(() => parseReview(review({ ...request, kind: { group: '', version: 'v1' } })), { message: missing });
    assert.throws(() => parseReview(review({ ...request, operation: undefined })), { message: missing });
  });

  it('accepts the four operations an AdmissionReview can carry, and no other', () => {
    const review = (operation: string): Buffer => body({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...request, operation } });
    for (const operation of ['CREATE', 'UPDATE', 'DELETE', 'CONNECT']) assert.equal(parseReview(review(operation)).operation, operation);
    for (const operation of ['create', 'PATCH', '', 'X'.repeat(1000)]) {
      assert.throws(() => parseReview(review(operation)), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /^the AdmissionReview's operation must be one of CREATE, UPDATE, DELETE, CONNECT, got "/);
        assert.ok(err.message.length < 200, 'the message does not echo a long body');
        return true;
      });
    }
  });
});

describe('resource validation (SecureStack\'s own resources beyond their schemas)', () => {
  const handler = new ResourceValidationHandler([{ group: 'securestack.io', version: 'v1alpha1', resource: 'scheduledscans', validate: (object) => scheduledScanProblems(object, 'UTC') }]);
  const review = (operation: 'CREATE' | 'UPDATE' | 'DELETE', spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => handler.review({
    uid: 'u1', kind: { group: 'securestack.io', version: 'v1alpha1', kind: 'ScheduledScan' }, resource: { group: 'securestack.io', version: 'v1alpha1', resource: 'scheduledscans' },
    name: 'nightly', namespace: 'team-a', operation, object: { apiVersion: 'securestack.io/v1alpha1', kind: 'ScheduledScan', metadata: { name: 'nightly' }, spec }, ...extra,
  });

  it('refuses a create or an update with the problem, 422 Invalid', () => {
    for (const operation of ['CREATE', 'UPDATE'] as const) {
      assert.deepEqual(review(operation, { schedule: '0 5-3 * * *' }), { uid: 'u1', allowed: false, status: { code: 422, reason: 'Invalid', message: 'ScheduledScan nightly is invalid: spec.schedule: beginning of range (5) beyond end of range (3): 5-3' } });
    }
    assert.match(review('CREATE', { schedule: '@daily', timeZone: 'Local' }).status?.message ?? '', /spec\.timeZone: must be an explicit time zone/);
  });

  it('admits a good object, deletions, status writes, other resources, and leaves a missing schedule to the schema', () => {
    assert.deepEqual(review('CREATE', { schedule: '0 2 * * mon', timeZone: 'Europe/Berlin' }), { uid: 'u1', allowed: true });
    assert.equal(review('DELETE', { schedule: '0 5-3 * * *' }).allowed, true);
    assert.equal(review('UPDATE', { schedule: '0 5-3 * * *' }, { subResource: 'status' }).allowed, true);
    assert.equal(review('CREATE', { schedule: '0 5-3 * * *' }, { resource: { group: 'securestack.io', version: 'v1alpha1', resource: 'imagescans' } }).allowed, true);
    assert.equal(review('CREATE', {}).allowed, true);
    assert.deepEqual(handler.rules(), [{ apiGroups: ['securestack.io'], apiVersions: ['v1alpha1'], resources: ['scheduledscans'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }]);
  });
});
