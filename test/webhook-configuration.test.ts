// The ValidatingWebhookConfiguration: the pure builder and its safety exclusions, rules from API
// discovery, and a real API server that accepts the object, calls a real HTTPS webhook with the
// configured caBundle, and skips the excluded namespaces and resources.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { KubeClient } from '../operator/platform/kube/client';
import { createLogger } from '../operator/platform/log';
import { createCa } from '../operator/platform/tls/certs';
import { WebhookCertificates } from '../operator/features/admission/certs';
import {
  buildWebhookConfiguration,
  deleteWebhookConfiguration,
  resourcesForKinds,
  rulesFromDiscovery,
  syncWebhookConfiguration,
  type DiscoveredResource,
  type WebhookConfigurationOptions,
  type WebhookRule,
} from '../operator/features/admission/configuration';
import { createTestNamespace, deleteNamespace, kubeconfigPath, kubectl, requireCluster, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';

const testLabel = 'securestack.io/webhook-test';

function baseOptions(caBundlePem: string, overrides: Partial<WebhookConfigurationOptions> = {}): WebhookConfigurationOptions {
  return {
    name: 'securestack',
    webhookName: 'validate.securestack.io',
    endpoint: { service: { namespace: 'securestack-system', name: 'securestack' } },
    caBundlePem,
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
    rules: [{ apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }],
    operatorNamespace: 'securestack-system',
    ...overrides,
  };
}

function webhookOf(config: V1ValidatingWebhookConfiguration): NonNullable<V1ValidatingWebhookConfiguration['webhooks']>[number] {
  const webhook = config.webhooks?.[0];
  assert.ok(webhook, 'one webhook');
  return webhook;
}

describe('webhook configuration: builder', () => {
  let caPem = '';
  before(async () => {
    caPem = (await createCa('builder-test', 1)).certPem;
  });

  it('adds the resource-validation webhook: failurePolicy Ignore, only kube-system excluded, no side effects, its own path', () => {
    const rules: WebhookRule[] = [{ apiGroups: ['securestack.io'], apiVersions: ['v1alpha1'], resources: ['scheduledscans'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }];
    const config = buildWebhookConfiguration(baseOptions(caPem, { resourceValidation: { webhookName: 'resources.validate.securestack.io', endpoint: { url: 'https://127.0.0.1:9443/validate-resources' }, rules } }));
    assert.equal(config.webhooks?.length, 2);
    const [policies, resources] = config.webhooks ?? [];
    assert.equal(policies?.name, 'validate.securestack.io');
    assert.equal(resources?.name, 'resources.validate.securestack.io');
    assert.equal(resources?.failurePolicy, 'Ignore');
    assert.equal(resources?.sideEffects, 'None');
    assert.deepEqual(resources?.rules, rules);
    assert.deepEqual(resources?.namespaceSelector, { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }] });
    assert.equal(resources?.clientConfig.url, 'https://127.0.0.1:9443/validate-resources');
    assert.equal(resources?.clientConfig.caBundle, policies?.clientConfig.caBundle);
    assert.equal(buildWebhookConfiguration(baseOptions(caPem)).webhooks?.length, 1, 'none without validators');
    assert.throws(() => buildWebhookConfiguration(baseOptions(caPem, { resourceValidation: { webhookName: 'resources', endpoint: { url: 'https://127.0.0.1:9443/x' }, rules } })), /at least three segments, got 'resources'/);
    assert.throws(() => buildWebhookConfiguration(baseOptions(caPem, { resourceValidation: { webhookName: 'resources.validate.securestack.io', endpoint: { url: 'http://127.0.0.1:9443/x' }, rules } })), /must be https/);
  });

  it('is pure and always excludes the operator namespace, kube-system, Leases, Events and TokenReviews', () => {
    const options = baseOptions(caPem, {
      excludedNamespaces: ['cert-manager', 'kube-system'],
      // Even a selector that asks for kube-system cannot bring it back: requirements are ANDed.
      namespaceSelector: { matchLabels: { team: 'a' }, matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['kube-system', 'apps'] }] },
    });
    const config = buildWebhookConfiguration(options);
    assert.deepEqual(buildWebhookConfiguration(options), config, 'same options, same object');
    const webhook = webhookOf(config);
    assert.deepEqual(webhook.namespaceSelector, {
      matchLabels: { team: 'a' },
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['kube-system', 'apps'] },
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['cert-manager', 'kube-system', 'securestack-system'] },
      ],
    });
    assert.deepEqual(webhook.matchConditions?.map((condition) => condition.name), ['exclude-leases', 'exclude-events', 'exclude-tokenreviews']);
    assert.match(webhook.matchConditions?.[0]?.expression ?? '', /coordination\.k8s\.io.*leases/);
    assert.equal(webhook.sideEffects, 'NoneOnDryRun');
    assert.equal(webhook.matchPolicy, 'Equivalent');
    assert.deepEqual(webhook.admissionReviewVersions, ['v1']);
    assert.equal(webhook.failurePolicy, 'Fail');
    assert.equal(webhook.timeoutSeconds, 10);
    assert.deepEqual(webhook.clientConfig.service, { namespace: 'securestack-system', name: 'securestack', port: 443, path: '/validate' });
    assert.equal(Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8'), caPem);
    assert.equal(config.metadata?.labels?.['app.kubernetes.io/managed-by'], 'securestack');

    const byUrl = webhookOf(buildWebhookConfiguration(baseOptions(caPem, { endpoint: { url: 'https://127.0.0.1:9443/validate' }, failurePolicy: 'Ignore' })));
    assert.deepEqual(byUrl.clientConfig.url, 'https://127.0.0.1:9443/validate');
    assert.equal(byUrl.clientConfig.service, undefined);
  });

  it('refuses options the API server would reject or that would be unsafe', () => {
    assert.throws(() => buildWebhookConfiguration(baseOptions(caPem, { timeoutSeconds: 31 })), /timeoutSeconds/);
    assert.throws(() => buildWebhookConfiguration(baseOptions(caPem, { timeoutSeconds: 0 })), /timeoutSeconds/);
    assert.throws(() => buildWebhookConfiguration(baseOptions(caPem, { endpoint: { url: 'http://127.0.0.1:9443/validate' } })), /https/);
    assert.throws(() => buildWebhookConfiguration(baseOptions('')), /no PEM certificate/);
    assert.throws(() => buildWebhookConfiguration(baseOptions(caPem, { webhookName: 'validate' })), /fully qualified/);
  });

  it('never turns Leases, Events or TokenReviews into rules, and adds pods/ephemeralcontainers only where served', () => {
    const discovered: DiscoveredResource[] = [
      { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, verbs: ['create', 'get', 'update'] },
      { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, verbs: ['create', 'get', 'update'] },
      { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, verbs: ['create', 'get', 'update'] },
      { group: 'authentication.k8s.io', version: 'v1', plural: 'tokenreviews', kind: 'TokenReview', namespaced: false, verbs: ['create'] },
    ];
    assert.deepEqual(rulesFromDiscovery(discovered, [{ group: '*', kind: 'Lease' }, { group: '', kind: 'Event' }, { group: 'authentication.k8s.io', kind: '*' }], ['CREATE']), []);
    assert.deepEqual(rulesFromDiscovery(discovered, [{ group: '*', kind: '*' }], ['CREATE']), [
      { apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: 'Namespaced' },
    ]);
  });
});

describe('webhook configuration (real control plane)', () => {
  let client: KubeClient;
  let operatorNs = '';
  let appNs = '';
  const id = randomBytes(4).toString('hex');
  const names = [`securestack-test-${id}`, `securestack-test-${id}-control`];
  const certs: WebhookCertificates[] = [];
  let server: Server | undefined;
  /** AdmissionReviews the test webhook received: path, resource, namespace. */
  const reviews: Array<{ path: string; group: string; resource: string; namespace: string; name: string }> = [];
  const conflicts: string[] = [];

  before(async () => {
    await requireCluster();
    await ensureCrds();
    process.env.KUBECONFIG = kubeconfigPath();
    client = KubeClient.fromDefault((verb, code) => {
      if (code === 409) conflicts.push(verb);
    });
    // Both namespaces carry the test label the configurations select on, so only the
    // operator-namespace exclusion can keep the first one out.
    operatorNs = await createTestNamespace('webhook-operator', { labels: { [testLabel]: id } });
    appNs = await createTestNamespace('webhook-app', { labels: { [testLabel]: id } });
  });

  after(async () => {
    for (const name of names) {
      await deleteWebhookConfiguration(client, name).catch(() => undefined);
      await kubectl(['delete', 'validatingwebhookconfiguration', name, '--ignore-not-found']);
    }
    server?.close();
    for (const c of certs) c.stop();
    for (const ns of [operatorNs, appNs]) if (ns) await deleteNamespace(ns);
  });

  it('maps kinds to rules through API discovery', async () => {
    const pods = await resourcesForKinds(client, [{ group: '', kind: 'Pod' }]);
    assert.deepEqual(pods, [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'pods/ephemeralcontainers'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }]);
    const deployments = await resourcesForKinds(client, [{ group: 'apps', kind: 'Deployment' }], ['CREATE', 'UPDATE', 'DELETE']);
    assert.deepEqual(deployments, [{ apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'], operations: ['CREATE', 'UPDATE', 'DELETE'], scope: 'Namespaced' }]);
    const bindings = await resourcesForKinds(client, [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRoleBinding' }, { group: 'rbac.authorization.k8s.io', kind: 'RoleBinding' }]);
    assert.deepEqual(bindings, [
      { apiGroups: ['rbac.authorization.k8s.io'], apiVersions: ['v1'], resources: ['clusterrolebindings'], operations: ['CREATE', 'UPDATE'], scope: 'Cluster' },
      { apiGroups: ['rbac.authorization.k8s.io'], apiVersions: ['v1'], resources: ['rolebindings'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' },
    ]);
    const ours = await resourcesForKinds(client, [{ group: 'securestack.io', kind: '*' }]);
    assert.deepEqual(ours.map((rule) => `${rule.scope}:${rule.resources.join(',')}`), ['Cluster:scanpolicies', 'Namespaced:compliancereports,imagescans,scheduledscans']);

    const everything = await resourcesForKinds(client, [{ group: '*', kind: '*' }]);
    const listed = everything.flatMap((rule) => rule.resources.map((resource) => `${rule.apiGroups[0]}/${resource}:${rule.scope}`));
    console.log(`"*" maps to ${everything.length} rules over ${listed.length} resources`);
    for (const want of ['/pods:Namespaced', '/pods/ephemeralcontainers:Namespaced', 'apps/deployments:Namespaced', 'rbac.authorization.k8s.io/clusterroles:Cluster', 'rbac.authorization.k8s.io/clusterrolebindings:Cluster', 'securestack.io/imagescans:Namespaced']) {
      assert.ok(listed.includes(want), `"*" includes ${want}`);
    }
    for (const never of ['coordination.k8s.io/leases', '/events', 'events.k8s.io/events', 'authentication.k8s.io/tokenreviews']) {
      assert.ok(!listed.some((entry) => entry.startsWith(`${never}:`)), `"*" excludes ${never}`);
    }
    assert.ok(everything.every((rule) => rule.apiVersions.length === 1 && rule.scope !== '*'));

    // The API server accepts the full generated object (validated, not stored).
    const caPem = (await createCa('discovery-test', 1)).certPem;
    const config = buildWebhookConfiguration(baseOptions(caPem, { name: names[0] ?? '', rules: everything, failurePolicy: 'Ignore' }));
    await kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(config) });
  });

  it('is accepted, created and replaced by sync, and the API server calls the webhook only where allowed', async () => {
    const [name = '', controlName = ''] = names;
    const webhookCerts = new WebhookCertificates({ client, namespace: operatorNs, secretName: 'webhook-tls', hosts: ['127.0.0.1'], log: createLogger('warn') });
    certs.push(webhookCerts);
    const material = await webhookCerts.load();
    server = createServer({ cert: material.certPem, key: material.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string; resource: { group: string; resource: string }; namespace?: string; name?: string } };
        const { uid, resource, namespace = '', name: objectName = '' } = review.request;
        // The API server appends ?timeout=5s.
        reviews.push({ path: new URL(req.url ?? '/', 'https://webhook').pathname, group: resource.group, resource: resource.resource, namespace, name: objectName });
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;

    // Rules that name the excluded resources on purpose: only the safety conditions keep them out.
    const rules: WebhookRule[] = [
      { apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps', 'events'], operations: ['CREATE'], scope: 'Namespaced' },
      { apiGroups: ['coordination.k8s.io'], apiVersions: ['v1'], resources: ['leases'], operations: ['CREATE'], scope: 'Namespaced' },
      { apiGroups: ['events.k8s.io'], apiVersions: ['v1'], resources: ['events'], operations: ['CREATE'], scope: 'Namespaced' },
      // Cluster-scoped: the namespaceSelector does not apply, only the matchConditions do.
      { apiGroups: ['authentication.k8s.io'], apiVersions: ['v1'], resources: ['tokenreviews'], operations: ['CREATE'], scope: '*' },
    ];
    const options = (caBundlePem: string, overrides: Partial<WebhookConfigurationOptions> = {}): WebhookConfigurationOptions => ({
      name,
      webhookName: 'validate.securestack.io',
      endpoint: { url: `https://127.0.0.1:${port}/validate` },
      caBundlePem,
      // Safe for the other tests sharing this plane: fail open, and only the test's namespaces.
      failurePolicy: 'Ignore',
      timeoutSeconds: 5,
      rules,
      operatorNamespace: operatorNs,
      namespaceSelector: { matchLabels: { [testLabel]: id } },
      ...overrides,
    });

    assert.equal(await syncWebhookConfiguration(client, buildWebhookConfiguration(options(material.caBundlePem))), 'created');
    assert.equal(await syncWebhookConfiguration(client, buildWebhookConfiguration(options(material.caBundlePem))), 'unchanged', 'API defaults do not count as a difference');
    const stored = JSON.parse((await kubectl(['get', 'validatingwebhookconfiguration', name, '-o', 'json'])).stdout) as V1ValidatingWebhookConfiguration;
    const webhook = webhookOf(stored);
    assert.equal(webhook.matchConditions?.length, 3, 'the API server kept the matchConditions');
    assert.deepEqual(webhook.namespaceSelector?.matchExpressions?.at(-1), { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [operatorNs, 'kube-system'].sort() });
    assert.equal(webhook.sideEffects, 'NoneOnDryRun');

    let probes = 0;
    const reviewed = (ns: string, resource: string, objectName: string, path = '/validate'): boolean =>
      reviews.some((r) => r.namespace === ns && r.resource === resource && r.name === objectName && r.path === path);
    const createConfigMap = async (ns: string, objectName: string): Promise<void> => {
      await kubectl(['create', 'configmap', objectName], { namespace: ns });
    };
    const probeUntilReviewed = async (what: string): Promise<void> => {
      await waitFor(what, async () => {
        const probe = `probe-${++probes}`;
        await createConfigMap(appNs, probe);
        return reviewed(appNs, 'configmaps', probe) ? true : undefined;
      }, { timeoutMs: 30_000, intervalMs: 300 });
    };
    const started = Date.now();
    await probeUntilReviewed('the API server to call the webhook');
    console.log(`webhook called ${Date.now() - started} ms after the configuration was created (${probes} probe ConfigMaps)`);

    // Everything below runs through admission synchronously: had the webhook been called, it
    // would have recorded the review before kubectl returned.
    await createConfigMap(operatorNs, 'in-operator-namespace');
    await kubectl(['create', '-f', '-'], { namespace: appNs, input: JSON.stringify(lease('excluded-lease')) });
    await kubectl(['create', '-f', '-'], { namespace: appNs, input: JSON.stringify(coreEvent('excluded-core-event', appNs)) });
    await kubectl(['create', '-f', '-'], { namespace: appNs, input: JSON.stringify(eventsV1('excluded-event', appNs)) });
    await kubectl(['create', '-f', '-', '-o', 'name'], { input: JSON.stringify(tokenReview()) });
    await createConfigMap(appNs, 'after-exclusions');
    assert.ok(reviewed(appNs, 'configmaps', 'after-exclusions'));
    assert.deepEqual(reviews.filter((r) => r.resource !== 'configmaps' || r.namespace !== appNs), [], 'nothing from the operator namespace, no Leases, no Events');

    // Control: the same configuration without the matchConditions does receive them, so it is
    // the conditions (not the rules) that keep them out.
    const control = buildWebhookConfiguration(options(material.caBundlePem, { name: controlName, endpoint: { url: `https://127.0.0.1:${port}/control` } }));
    delete webhookOf(control).matchConditions;
    assert.equal(await syncWebhookConfiguration(client, control), 'created');
    let leases = 0;
    await waitFor('the control webhook to receive a Lease', async () => {
      const leaseName = `control-lease-${++leases}`;
      await kubectl(['create', '-f', '-'], { namespace: appNs, input: JSON.stringify(lease(leaseName)) });
      return reviewed(appNs, 'leases', leaseName, '/control') ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 300 });
    await kubectl(['create', '-f', '-'], { namespace: appNs, input: JSON.stringify(coreEvent('control-core-event', appNs)) });
    assert.ok(reviewed(appNs, 'events', 'control-core-event', '/control'), 'the control webhook receives Events');
    await kubectl(['create', '-f', '-', '-o', 'name'], { input: JSON.stringify(tokenReview()) });
    assert.ok(reviews.some((r) => r.path === '/control' && r.resource === 'tokenreviews'), 'the control webhook receives TokenReviews (cluster-scoped)');
    assert.ok(!reviews.some((r) => r.path === '/validate' && r.resource !== 'configmaps'), 'the real one still receives none');
    await createConfigMap(operatorNs, 'in-operator-namespace-2');
    assert.ok(!reviews.some((r) => r.namespace === operatorNs), 'the namespaceSelector alone keeps the operator namespace out');
    await deleteWebhookConfiguration(client, controlName);

    // A new CA: until the configuration carries it, the API server cannot reach the webhook
    // (fail open, nothing recorded); sync replaces the caBundle and calls resume.
    await kubectl(['annotate', 'validatingwebhookconfiguration', name, 'example.com/kept=yes']);
    const rotated = new WebhookCertificates({ client, namespace: operatorNs, secretName: 'webhook-tls-2', hosts: ['127.0.0.1'], log: createLogger('warn') });
    certs.push(rotated);
    const next = await rotated.load();
    server.setSecureContext({ cert: next.certPem, key: next.keyPem });
    // The API server keeps connections alive; a handshake (with the new certificate) needs a new one.
    server.closeAllConnections();
    await createConfigMap(appNs, 'untrusted-certificate');
    assert.ok(!reviewed(appNs, 'configmaps', 'untrusted-certificate'), 'the old caBundle does not trust the new certificate');
    assert.equal(await syncWebhookConfiguration(client, buildWebhookConfiguration(options(next.caBundlePem))), 'replaced');
    const replacedAt = Date.now();
    await probeUntilReviewed('calls with the new caBundle');
    console.log(`webhook reachable again ${Date.now() - replacedAt} ms after the caBundle was replaced`);
    const replaced = JSON.parse((await kubectl(['get', 'validatingwebhookconfiguration', name, '-o', 'json'])).stdout) as V1ValidatingWebhookConfiguration;
    assert.equal(Buffer.from(webhookOf(replaced).clientConfig.caBundle ?? '', 'base64').toString('utf8'), next.caBundlePem);
    assert.equal(replaced.metadata?.annotations?.['example.com/kept'], 'yes', 'annotations others set are kept');

    // Writers racing on one object: each retries on conflict, none fails.
    const conflictsBefore = conflicts.length;
    const results = await Promise.all([3, 4, 6].map((timeoutSeconds) => syncWebhookConfiguration(client, buildWebhookConfiguration(options(next.caBundlePem, { timeoutSeconds })))));
    console.log(`three concurrent syncs: ${results.join(', ')}; ${conflicts.length - conflictsBefore} conflicts retried`);
    assert.ok(results.every((result) => result === 'replaced' || result === 'unchanged'));
  });
});

function tokenReview(): object {
  return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'not-a-real-token' } };
}

function lease(name: string): object {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: 'test' } };
}

function coreEvent(name: string, namespace: string): object {
  return {
    apiVersion: 'v1', kind: 'Event', metadata: { name },
    involvedObject: { kind: 'ConfigMap', name: 'after-exclusions', namespace, apiVersion: 'v1' },
    reason: 'Test', message: 'test event', type: 'Normal', source: { component: 'webhook-configuration-test' },
  };
}

function eventsV1(name: string, namespace: string): object {
  return {
    apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name },
    eventTime: new Date().toISOString().replace(/Z$/, '000Z'), reportingController: 'securestack.io/test', reportingInstance: 'test',
    action: 'Test', reason: 'Test', type: 'Normal', note: 'test event',
    regarding: { kind: 'ConfigMap', name: 'after-exclusions', namespace, apiVersion: 'v1' },
  };
}
