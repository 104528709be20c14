// SBOM storage in ConfigMaps owned by an ImageScan, against the real control plane: no object
// over 900 KiB as the API server serializes it, byte-identical reassembly, stale parts removed,
// garbage collection with the ImageScan.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '../operator/platform/kube/client';
import { parseReport } from '../operator/features/scan/report';
import { MAX_OBJECT_BYTES, SBOM_LABEL_IMAGESCAN, imageScanLabelValue, readSbom, sbomBaseName, sbomPartName, storeSbom, type SbomClient, type StoredSbom } from '../operator/features/scan/sbom-store';
import { createTestNamespace, deleteNamespace, kubeconfigPath, kubectl, requireCluster, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';
import { generateTrivyReport } from './support/cyclonedx';

interface Owner {
  namespace: string;
  name: string;
  uid: string;
}

async function createImageScan(namespace: string, name: string): Promise<Owner> {
  const manifest = { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name, namespace }, spec: { image: 'registry.local/team/app:1.0' } };
  const res = await kubectl(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(manifest) });
  const created = JSON.parse(res.stdout) as { metadata: { uid: string } };
  return { namespace, name, uid: created.metadata.uid };
}

/** Names and sizes of the SBOM ConfigMaps of an ImageScan, each as `kubectl get -o json` prints it. */
async function sbomConfigMaps(namespace: string, scan: string): Promise<Map<string, number>> {
  const list = await kubectl(['get', 'configmaps', '-l', `${SBOM_LABEL_IMAGESCAN}=${scan}`, '-o', 'name'], { namespace });
  const sizes = new Map<string, number>();
  for (const line of list.stdout.split('\n').filter(Boolean)) {
    const name = line.replace(/^configmap\//, '');
    const one = await kubectl(['get', 'configmap', name, '-o', 'json'], { namespace });
    sizes.set(name, Buffer.byteLength(one.stdout));
  }
  return sizes;
}

function assertWithinLimit(sizes: Map<string, number>, label: string): void {
  for (const [name, size] of sizes) {
    console.log(`${label}: ${name} is ${size} bytes serialized (${(size / 1024).toFixed(0)} KiB)`);
    assert.ok(size < MAX_OBJECT_BYTES, `${name} is ${size} bytes, over 900 KiB`);
  }
}

describe('SBOM store (real control plane)', () => {
  let namespace = '';
  let client: KubeClient;

  before(async () => {
    await requireCluster();
    await ensureCrds();
    namespace = await createTestNamespace('sbom-store');
    // KubeClient loads $KUBECONFIG like kubectl; point it at the test plane's.
    process.env.KUBECONFIG = kubeconfigPath();
    client = KubeClient.fromDefault();
  });

  after(async () => {
    if (namespace) await deleteNamespace(namespace);
  });

  it('stores in parts under 900 KiB, reads back byte-identical, replaces and removes stale parts, and is collected with the ImageScan', async () => {
    const owner = await createImageScan(namespace, 'app-scan');

    // 1. A report big enough to need several parts.
    const huge = generateTrivyReport({ components: 20000, vulnerabilities: 6000, seed: 11 });
    const first = await storeSbom(client, owner, huge.json);
    console.log(`20,000/6,000 report: ${first.bytes} bytes JSON, ${first.compressedBytes} bytes gzip, ${first.parts} parts`);
    assert.ok(first.parts >= 2, `expected several parts, got ${first.parts}`);
    assert.equal(first.name, 'app-scan-sbom');
    assert.deepEqual(first.partNames, Array.from({ length: first.parts }, (_, i) => sbomPartName('app-scan-sbom', i)));
    let sizes = await sbomConfigMaps(namespace, 'app-scan');
    assert.deepEqual([...sizes.keys()].sort(), [...first.partNames].sort());
    assertWithinLimit(sizes, 'huge');
    const hugeBack = await readSbom(client, namespace, first);
    assert.ok(hugeBack.equals(Buffer.from(huge.json)), 'reassembled SBOM is byte-identical');

    // Idempotent: the same SBOM again changes nothing (create answers AlreadyExists; replaced).
    const answers: unknown[] = [];
    const recording: SbomClient = {
      getConfigMap: (ns, name) => client.getConfigMap(ns, name),
      listConfigMapMetadata: (ns, selector) => client.listConfigMapMetadata(ns, selector),
      createConfigMap: async (ns, object, json) => client.createConfigMap(ns, object, json).then((answer) => (answers.push(answer), answer)),
      replaceConfigMap: async (ns, object, json) => client.replaceConfigMap(ns, object, json).then((answer) => (answers.push(answer), answer)),
      deleteConfigMap: (ns, name) => client.deleteConfigMap(ns, name),
    };
    const again = await storeSbom(recording, owner, huge.json);
    assert.deepEqual(again, first);
    // The API server answers each write with the part's metadata only: a 900 KiB part is sent
    // once, not echoed back and decoded on the event loop.
    assert.equal(answers.length, first.parts, 'one replace per part');
    for (const answer of answers as { kind?: string; metadata?: { name?: string; resourceVersion?: string }; binaryData?: unknown }[]) {
      assert.equal(answer.kind, 'PartialObjectMetadata');
      assert.ok(answer.metadata?.name && answer.metadata.resourceVersion, 'name and resourceVersion are in the answer');
      assert.equal(answer.binaryData, undefined, 'no part data in the answer');
    }

    // 2. The 5,000-component, 2,000-vulnerability report replaces it; stale parts go.
    const big = generateTrivyReport({ components: 5000, vulnerabilities: 2000 });
    const second: StoredSbom = await storeSbom(client, owner, big.json);
    console.log(`5,000/2,000 report: ${second.bytes} bytes JSON, ${second.compressedBytes} bytes gzip, ${second.parts} part(s)`);
    assert.ok(second.parts < first.parts);
    sizes = await sbomConfigMaps(namespace, 'app-scan');
    assert.deepEqual([...sizes.keys()].sort(), [...second.partNames].sort(), 'parts of the larger SBOM are deleted');
    // The stale parts were found by a metadata-only list: names, labels and annotations, no data.
    const metadataOnly = await client.listConfigMapMetadata(namespace, `${SBOM_LABEL_IMAGESCAN}=${imageScanLabelValue('app-scan')}`);
    assert.deepEqual(metadataOnly.map((item) => item.metadata?.name).sort(), [...second.partNames].sort());
    assert.ok(metadataOnly.every((item) => !('binaryData' in item) && !('data' in item)), 'no part data in a metadata-only list');
    assert.ok(metadataOnly.every((item) => item.metadata?.annotations?.['securestack.io/imagescan'] === 'app-scan'), 'annotations are there');
    assertWithinLimit(sizes, '5,000/2,000');
    const bigBack = await readSbom(client, namespace, second);
    assert.ok(bigBack.equals(Buffer.from(big.json)), 'reassembled SBOM is byte-identical');
    const parsed = await parseReport(bigBack);
    assert.equal(parsed.summary.specVersion, '1.6');
    assert.deepEqual(parsed.summary.summary, big.counts);
    // A reference from before the replacement is refused, not misread.
    await assert.rejects(readSbom(client, namespace, { name: first.name, parts: first.parts }), /it was replaced since/);

    // 3. Already-gzip input (what the upload delivers) is stored as given.
    const { gzipSync } = await import('node:zlib');
    const small = generateTrivyReport({ components: 40, vulnerabilities: 10 });
    const gz = gzipSync(small.json);
    const third = await storeSbom(client, owner, gz);
    assert.equal(third.parts, 1);
    assert.equal(third.compressedBytes, gz.length);
    assert.ok((await readSbom(client, namespace, third)).equals(Buffer.from(small.json)));

    // 4. Parts carry the ImageScan as controller owner; deleting it lets the GC remove them.
    const part0 = JSON.parse((await kubectl(['get', 'configmap', sbomBaseName('app-scan'), '-o', 'json'], { namespace })).stdout) as {
      metadata: { ownerReferences: { uid: string; controller: boolean; kind: string }[]; labels: Record<string, string> };
    };
    assert.deepEqual(part0.metadata.ownerReferences.map((o) => [o.kind, o.uid, o.controller]), [['ImageScan', owner.uid, true]]);
    assert.equal(part0.metadata.labels['securestack.io/sbom-part'], '0');
    await storeSbom(client, owner, huge.json); // several parts again, so the GC has work
    await kubectl(['delete', 'imagescan', 'app-scan', '--wait=true'], { namespace });
    await waitFor(
      'the garbage collector to delete the SBOM ConfigMaps',
      async () => ((await sbomConfigMaps(namespace, 'app-scan')).size === 0 ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
  });

  it('keeps names valid for long ImageScan names', async () => {
    const longName = `${'a'.repeat(124)}.${'b'.repeat(125)}`; // a 250-character DNS subdomain
    const owner = await createImageScan(namespace, longName);
    const stored = await storeSbom(client, owner, generateTrivyReport({ components: 10, vulnerabilities: 3 }).json);
    assert.ok(stored.name.length + 3 <= 253);
    assert.match(stored.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    assert.ok(await readSbom(client, namespace, stored));
    const listed = await client.listConfigMapMetadata(namespace, `${SBOM_LABEL_IMAGESCAN}=${longName.slice(0, 52)}`);
    assert.equal(listed.length, 0, 'label values are shortened with a hash, not cut');
  });
});
