// The watched caches every webhook replica answers from, against the real API server: what they
// hold follows creates, edits and deletes of ScanPolicies, Namespaces and ImageScans, and a
// policy that stops compiling leaves the set in force.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '../operator/platform/kube/client';
import { InformerFactory } from '../operator/platform/kube/informer';
import { createLogger } from '../operator/platform/log';
import { createTestNamespace, kubeconfigPath, kubectl, requireCluster, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';
import { AdmissionCaches } from '../operator/features/admission/caches';

const run = randomBytes(3).toString('hex');
const runLabel = 'securestack.io/test-run';

describe('admission caches fed by watches', () => {
  let caches: AdmissionCaches;
  let informers: InformerFactory;

  before(async () => {
    await requireCluster();
    await ensureCrds();
    process.env.KUBECONFIG = kubeconfigPath();
    informers = new InformerFactory(KubeClient.fromDefault());
    caches = new AdmissionCaches(informers, createLogger('warn'));
    caches.start();
    informers.start();
    await waitFor('the caches to list once', () => Promise.resolve(caches.synced() ? true : undefined));
  });

  after(async () => {
    caches.stop();
    informers.stop();
    await kubectl(['delete', 'scanpolicies.securestack.io', '-l', `${runLabel}=${run}`, '--ignore-not-found'], { allowFail: true });
  });

  it('follows ScanPolicies: compiled when created, recompiled when edited, dropped when invalid or deleted', async () => {
    const name = `cache-${run}`;
    const manifest = (rules: unknown[]): string => JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name, labels: { [runLabel]: run } }, spec: { mode: 'Warn', rules } });
    const ruleIds = (): string[] | undefined => caches.policies.ready().find((policy) => policy.name === name)?.rules.map((rule) => rule.rule.id);

    await kubectl(['apply', '-f', '-'], { input: manifest([{ id: 'disallow-privileged' }]) });
    assert.deepEqual(await waitFor('the policy in force', () => Promise.resolve(ruleIds())), ['disallow-privileged']);
    await kubectl(['apply', '-f', '-'], { input: manifest([{ id: 'disallow-privileged' }, { id: 'disallow-host-path' }]) });
    await waitFor('the edit to be compiled', () => Promise.resolve(ruleIds()?.length === 2 ? true : undefined));
    await kubectl(['apply', '-f', '-'], { input: manifest([{ id: 'no-such-rule' }]) });
    await waitFor('the invalid policy to leave the set in force', () => Promise.resolve(ruleIds() === undefined ? true : undefined));
    const result = caches.policies.result(name);
    assert.ok(result && !result.ok && result.errors.some((error) => error.includes('no-such-rule')));
    await kubectl(['delete', 'scanpolicy', name]);
    await waitFor('the deleted policy to be forgotten', () => Promise.resolve(caches.policies.result(name) === undefined ? true : undefined));
  });

  it('follows Namespace labels and ImageScans', async () => {
    // Deleted by the test itself: its deletion is part of what is checked.
    const ns = await createTestNamespace('cache', { labels: { team: 'a' } });
    assert.equal((await waitFor('the namespace', () => Promise.resolve(caches.namespaceLabels(ns))))?.team, 'a');
    await kubectl(['label', 'namespace', ns, 'team=b', '--overwrite']);
    await waitFor('the new label', () => Promise.resolve(caches.namespaceLabels(ns)?.team === 'b' ? true : undefined));

    const image = `registry.example.com/cache/app-${run}:1.0.0`;
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name: 'app' }, spec: { image } }) });
    const facts = await waitFor('the ImageScan', () => Promise.resolve(caches.images.lookup(image)));
    assert.equal(facts.scan, `${ns}/app`);
    assert.equal(facts.completed, false, 'nobody scans it here');
    assert.ok(caches.images.hasScanIn(ns, image));
    await kubectl(['delete', 'imagescan', 'app'], { namespace: ns });
    await waitFor('the deleted ImageScan to be forgotten', () => Promise.resolve(caches.images.lookup(image) === undefined ? true : undefined));

    await kubectl(['delete', 'namespace', ns, '--wait=true'], { timeoutMs: 120_000 });
    await waitFor('the deleted namespace to be forgotten', () => Promise.resolve(caches.namespaceLabels(ns) === undefined ? true : undefined), { timeoutMs: 60_000 });
  });
});
