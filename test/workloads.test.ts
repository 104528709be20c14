import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { WorkloadIndex, matchesSelector, podImages, unscannableImage } from '../operator/features/scan/workloads';
import { ownScanName } from '../operator/api/own-scans';

const digest = `sha256:${'a'.repeat(64)}`;

function pod(namespace: string, name: string, images: string[], extra: Partial<V1Pod> = {}, phase = 'Running'): V1Pod {
  return {
    metadata: { namespace, name, labels: { app: 'web' } },
    spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
    status: { phase },
    ...extra,
  };
}

describe('workload scanning', () => {
  it('takes the digest the kubelet pulled, else the spec reference', () => {
    const withDigest = pod('a', 'p', ['reg.example/app:1.0', 'nginx:1.27'], {});
    withDigest.status = { phase: 'Running', containerStatuses: [{ name: 'c0', image: 'reg.example/app:1.0', imageID: `docker-pullable://reg.example/app@${digest}`, ready: true, restartCount: 0 }] };
    assert.deepEqual(podImages(withDigest), [`reg.example/app@${digest}`, 'nginx:1.27']);
  });

  it('tells which pod images no ImageScan can be made of, and why', () => {
    assert.equal(unscannableImage('reg.example/app:1.0', 'a'), undefined);
    assert.equal(unscannableImage(`reg.example/app@${digest}`, 'a'), undefined);
    assert.match(unscannableImage('Reg.Example/UPPER/App:1', 'a') ?? '', /^spec\.image: must match pattern/);
    assert.match(unscannableImage('app:tag with space', 'a') ?? '', /spec\.image/);
    assert.match(unscannableImage('', 'a') ?? '', /spec\.image/);
    // The repository name (host and path) may be 255 characters, as registries allow, not 256.
    const name = (length: number): string => `reg.example/${'a'.repeat(length - 'reg.example/'.length)}`;
    assert.equal(unscannableImage(`${name(255)}:1`, 'a'), undefined);
    assert.match(unscannableImage(`${name(256)}:1`, 'a') ?? '', /255/);
  });

  it('names a pod that runs an image, for Events about it', () => {
    const index = new WorkloadIndex({ includeNamespaces: [], excludeNamespaces: [], podSelector: [] });
    index.observe(pod('a', 'web-1', ['reg.example/app:1.0']), false);
    index.observe(pod('b', 'api-1', ['Bad/Image']), false);
    assert.equal(index.podUsing('b', 'Bad/Image'), 'api-1');
    assert.equal(index.podUsing('a', 'Bad/Image'), undefined);
    assert.equal(index.podUsing('a', 'reg.example/app:1.0'), 'web-1');
  });

  it('matches pod label selectors', () => {
    const labels = { app: 'web', tier: 'front' };
    assert.equal(matchesSelector(labels, ['app=web', 'tier!=back', 'tier', '!canary']), true);
    assert.equal(matchesSelector(labels, ['app==api']), false);
    assert.equal(matchesSelector(labels, ['!tier']), false);
    assert.equal(matchesSelector(labels, []), true);
  });

  it('indexes running pods by namespace, honours filters, and forgets pods that stop', () => {
    const sizes: number[] = [];
    const index = new WorkloadIndex({ includeNamespaces: [], excludeNamespaces: ['kube-system'], podSelector: ['app=web'] }, (pods) => sizes.push(pods));
    assert.equal(index.observe(pod('a', 'p1', ['img:1']), false), 'a');
    assert.equal(index.observe(pod('a', 'p1', ['img:1']), false), undefined, 'an unchanged pod changes nothing');
    assert.equal(index.observe(pod('a', 'p2', ['img:1', 'img:2']), false), 'a');
    assert.equal(index.observe(pod('kube-system', 'p', ['img:3']), false), undefined);
    assert.equal(index.observe(pod('b', 'other', ['img:4'], { metadata: { namespace: 'b', name: 'other', labels: { app: 'db' } } }), false), undefined);
    assert.equal(index.observe(pod('b', 'own', ['img:5'], { metadata: { namespace: 'b', name: 'own', labels: { app: 'web', 'app.kubernetes.io/managed-by': 'securestack' } } }), false), undefined, 'scan pods are not workloads');
    assert.deepEqual([...index.imagesIn('a')].sort(), ['img:1', 'img:2']);
    // A pod of the same name in another namespace is another pod.
    assert.equal(index.observe(pod('c', 'p1', ['img:6']), false), 'c');
    assert.deepEqual(index.namespaces().sort(), ['a', 'c']);
    assert.deepEqual([...index.imagesIn('c')], ['img:6']);
    assert.equal(index.observe(pod('c', 'p1', ['img:6']), true), 'c');
    assert.deepEqual(index.namespaces(), ['a'], 'a namespace without pods is gone');
    assert.deepEqual([...index.imagesIn('c')], []);
    assert.equal(index.observe(pod('a', 'p2', ['img:1', 'img:2'], {}, 'Succeeded'), false), 'a');
    assert.deepEqual([...index.imagesIn('a')], ['img:1']);
    assert.equal(index.observe(pod('a', 'p1', ['img:1']), true), 'a');
    assert.equal(index.size, 0);
    assert.deepEqual(index.namespaces(), []);
    // The gauge hears each change of the count, not each event.
    assert.deepEqual(sizes, [1, 2, 3, 2, 1, 0]);
  });

  it('names ImageScans stably and DNS-safely', () => {
    const name = ownScanName(`Registry.example:5000/Team/My_App@${digest}`);
    assert.match(name, /^img-my-app-[0-9a-f]{12}$/);
    assert.equal(ownScanName(`Registry.example:5000/Team/My_App@${digest}`), name);
    assert.notEqual(ownScanName('nginx:1.27'), ownScanName('nginx:1.28'));
  });
});
