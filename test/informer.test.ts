// The shared informer against the real API server: a first list, changes as they happen, and a
// watch the server ends (here after 1 s, as it does every 30-60 minutes in a cluster) resumed from
// the last version seen: no second list, nothing replayed to the listeners.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '../operator/platform/kube/client';
import { Informer, InformerFactory, labelIndexFunction, ownerIndexFunction, type InformerEvent } from '../operator/platform/kube/informer';
import { createTestNamespace, deleteNamespace, kubeconfigPath, kubectl, requireCluster, waitFor } from './support/cluster';

const run = randomBytes(3).toString('hex');
const selector = `securestack.io/informer-test=${run}`;

function configMap(name: string, value: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { 'securestack.io/informer-test': run } }, data: { value } });
}

describe('informer against the real API server', () => {
  let ns = '';
  let informer: Informer | undefined;

  before(async () => {
    await requireCluster();
    process.env.KUBECONFIG = kubeconfigPath();
    ns = await createTestNamespace('informer');
  });
  after(async () => {
    informer?.stop();
    if (ns) await deleteNamespace(ns);
  });

  it('lists, follows changes, and resumes an ended watch without listing again or replaying', async () => {
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: configMap('a', '1') });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: configMap('b', '1') });
    const events: InformerEvent[] = [];
    informer = new Informer(KubeClient.fromDefault(), { path: '/api/v1/configmaps', labelSelector: selector, keep: 'object', watchTimeoutSeconds: 1 });
    const live = informer;
    live.addListener((event) => events.push(event));
    live.start();
    await live.waitForSync();
    assert.deepEqual(events.map((e) => `${e.namespace}/${e.name}`).sort(), [`${ns}/a`, `${ns}/b`]);
    assert.equal(live.stats.lists, 1);

    // Three or more watch ends go by: each is resumed from the last version, nothing comes again.
    await waitFor('three watches', () => Promise.resolve(live.stats.watches >= 4 ? true : undefined), { timeoutMs: 20_000, intervalMs: 100 });
    assert.equal(events.length, 2, `replayed: ${events.slice(2).map((e) => e.name).join(', ')}`);
    assert.equal(live.stats.lists, 1, 'no second list');
    assert.equal(live.stats.errors, 0);

    // Changes still arrive, once each, across the watch restarts.
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: configMap('a', '2') });
    await kubectl(['delete', 'configmap', 'b'], { namespace: ns });
    await waitFor('the update and the deletion', () => Promise.resolve(events.length >= 4 ? true : undefined), { timeoutMs: 20_000, intervalMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.deepEqual(events.slice(2).map((e) => `${e.name} ${e.deleted ? 'deleted' : String((e.object.data as { value?: string } | undefined)?.value)}`), ['a 2', 'b deleted']);
    assert.deepEqual([...live.values()].map((object) => object.metadata?.name), ['a']);
  });

  it('keeps only metadata unless asked for whole objects', async () => {
    const small = new Informer(KubeClient.fromDefault(), { path: '/api/v1/configmaps', labelSelector: selector });
    small.start();
    await small.waitForSync();
    small.stop();
    const kept = [...small.values()];
    assert.equal(kept.length, 1);
    assert.equal(kept[0]?.data, undefined, 'no data');
    assert.equal(kept[0]?.metadata?.name, 'a');
    assert.equal(kept[0]?.metadata?.managedFields, undefined, 'no managedFields');

    // identity: who the object is and its version, for consumers with views of their own.
    const least = new Informer(KubeClient.fromDefault(), { path: '/api/v1/configmaps', labelSelector: selector, keep: 'identity' });
    least.start();
    await least.waitForSync();
    least.stop();
    const identity = [...least.values()][0];
    assert.deepEqual(Object.keys(identity?.metadata ?? {}).sort(), ['name', 'namespace', 'resourceVersion', 'uid']);
    assert.equal(identity?.metadata?.resourceVersion, kept[0]?.metadata?.resourceVersion);
  });

  it('indexes objects by values computed from what arrived, refiles them on change and unfiles them on deletion', async () => {
    const tier = 'securestack.io/informer-test-tier';
    const apply = (name: string, labels: Record<string, string>, owner?: string): Promise<unknown> =>
      kubectl(['apply', '-f', '-'], {
        namespace: ns,
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name,
            labels: { 'securestack.io/informer-test': run, ...labels },
            ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'a', uid: owner, controller: true }] } : {}),
          },
        }),
      });
    // A real owner: the garbage collector deletes objects whose controlling owner does not exist.
    const owner = (await kubectl(['get', 'configmap', 'a', '-o', 'jsonpath={.metadata.uid}'], { namespace: ns })).stdout.trim();
    await apply('i1', { [tier]: 'web' }, owner);
    await apply('i2', { [tier]: 'db' });
    // identity keeps no labels; the index still sees them, because it reads what arrived.
    const indexed = new Informer(KubeClient.fromDefault(), { path: '/api/v1/configmaps', labelSelector: selector, keep: 'identity' });
    const byTier = labelIndexFunction(tier);
    indexed.addIndex('tier', byTier);
    indexed.addIndex('tier', byTier);
    indexed.addIndex('owner', ownerIndexFunction);
    assert.throws(() => indexed.addIndex('tier', labelIndexFunction(tier)), /already has another index named tier/);
    indexed.start();
    try {
      assert.throws(() => indexed.addIndex('late', byTier), /add index late before start/);
      assert.throws(() => indexed.byIndex('nope', 'x'), /no index named nope/);
      await indexed.waitForSync();
      const names = (name: string, value: string): string[] => indexed.byIndex(name, value).map((object) => object.metadata?.name ?? '').sort();
      assert.deepEqual(names('tier', 'web'), ['i1']);
      assert.deepEqual(names('tier', 'db'), ['i2']);
      assert.deepEqual(indexed.indexValues('tier').sort(), ['db', 'web']);
      assert.deepEqual(names('owner', owner), ['i1']);
      assert.deepEqual(indexed.inNamespace(ns).map((object) => object.metadata?.name).sort(), ['a', 'i1', 'i2']);
      assert.deepEqual(indexed.inNamespace('elsewhere'), []);

      // A label changes: the object moves; the old value goes once nothing is filed under it.
      await apply('i1', { [tier]: 'db' });
      await waitFor('i1 refiled', () => Promise.resolve(names('tier', 'web').length === 0 ? true : undefined), { timeoutMs: 20_000, intervalMs: 50 });
      assert.deepEqual(names('tier', 'db'), ['i1', 'i2']);
      assert.deepEqual(indexed.indexValues('tier'), ['db']);
      assert.deepEqual(names('owner', owner), [], 'the owner reference went with the apply');

      await kubectl(['delete', 'configmap', 'i1', 'i2'], { namespace: ns });
      await waitFor('both unfiled', () => Promise.resolve(names('tier', 'db').length === 0 ? true : undefined), { timeoutMs: 20_000, intervalMs: 50 });
      assert.deepEqual(indexed.indexValues('tier'), []);
      assert.deepEqual(indexed.inNamespace(ns).map((object) => object.metadata?.name), ['a']);
    } finally {
      indexed.stop();
    }
  });

  it('a shared informer keeps whole objects when any consumer asks before the start, and reads one by key', async () => {
    const factory = new InformerFactory(KubeClient.fromDefault());
    const forMetadata = factory.informer('/api/v1/configmaps', { labelSelector: selector });
    const forObjects = factory.informer('/api/v1/configmaps', { labelSelector: selector, keep: 'object' });
    assert.equal(forMetadata, forObjects, 'one informer per collection and selector');
    assert.equal(forObjects.keep, 'object');
    factory.start();
    try {
      await forObjects.waitForSync();
      const a = forObjects.get(ns, 'a');
      assert.deepEqual(a?.data, { value: '2' });
      assert.equal(a?.metadata?.managedFields, undefined, 'no managedFields, even in whole objects');
      assert.equal(forObjects.get(ns, 'b'), undefined, 'deleted');
      assert.equal(forObjects.get('other', 'a'), undefined, 'keyed by namespace too');
      // Asking for metadata later gets the same informer; asking for whole objects of one that
      // started with metadata only is a programming error, said at once.
      assert.equal(factory.informer('/api/v1/configmaps', { labelSelector: selector }), forObjects);
      const started = factory.informer('/api/v1/configmaps', { labelSelector: `${selector},other=1` });
      assert.throws(() => factory.informer('/api/v1/configmaps', { labelSelector: `${selector},other=1`, keep: 'object' }), /already started keeping metadata/);
      assert.equal(started.keep, 'metadata');
    } finally {
      factory.stop();
    }
  });
});
