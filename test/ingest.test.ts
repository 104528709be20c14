// The report intake against the real control plane: a fresh scan's SBOM is stored once, as it
// arrived (the uploader's gzip, never compressed or decompressed again on its way to the result
// objects, the cache and the status projection), and inflating and parsing run in the parser's child
// process with parseReport's answers. The ConfigMaps are written to and read back from the API server; the only wrappers count
// calls and delegate to the real KubeClient and the real gzip codec.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { ImageScan } from '../operator/api/types.generated';
import { imageScanType } from '../operator/api/resources';
import { KubeClient } from '../operator/platform/kube/client';
import { createLogger } from '../operator/platform/log';
import { MemoryLru } from '../operator/features/scan/cache';
import { reportIntake } from '../operator/features/scan/intake';
import { parseReport, readCompressedBody } from '../operator/features/scan/report';
import { ReportParser } from '../operator/features/scan/report-parser';
import { ResultCache } from '../operator/features/scan/result-cache';
import { ResultStore } from '../operator/features/scan/results';
import { SBOM_ANNOTATION_BYTES, SBOM_DATA_KEY, SbomStoreError, asyncGzipCodec, readSbom, sbomBaseName, sbomBlob, sbomPartName, type GzipCodec, type SbomClient } from '../operator/features/scan/sbom-store';
import { createTestNamespace, deleteNamespace, kubeconfigPath, kubectl, requireCluster } from './support/cluster';
import { ensureCrds } from './support/crds';
import { generateTrivyReport } from './support/cyclonedx';

/** The real async codec, counting its calls. */
function countingCodec(): GzipCodec & { gzips: number; gunzips: number } {
  const codec = {
    gzips: 0,
    gunzips: 0,
    gzip(data: Buffer): Promise<Buffer> {
      codec.gzips++;
      return asyncGzipCodec.gzip(data);
    },
    gunzip(data: Buffer, max: number): Promise<Buffer> {
      codec.gunzips++;
      return asyncGzipCodec.gunzip(data, max);
    },
  };
  return codec;
}

/** The real client's ConfigMap calls, counting create and replace calls: a spy, not a stand-in. */
function countingClient(kube: KubeClient): SbomClient & { writes: number } {
  const spy = {
    writes: 0,
    getConfigMap: (namespace: string, name: string) => kube.getConfigMap(namespace, name),
    listConfigMapMetadata: (namespace: string, labelSelector: string) => kube.listConfigMapMetadata(namespace, labelSelector),
    createConfigMap: (namespace: string, configMap: Parameters<KubeClient['createConfigMap']>[1], serialized?: Buffer) => {
      spy.writes++;
      return kube.createConfigMap(namespace, configMap, serialized);
    },
    replaceConfigMap: (namespace: string, configMap: Parameters<KubeClient['replaceConfigMap']>[1], serialized?: Buffer) => {
      spy.writes++;
      return kube.replaceConfigMap(namespace, configMap, serialized);
    },
    deleteConfigMap: (namespace: string, name: string) => kube.deleteConfigMap(namespace, name),
  };
  return spy;
}

/** The gzip bytes of an SBOM as the API server holds them: the parts' binaryData, decoded and joined in order. */
async function storedGzip(kube: KubeClient, namespace: string, base: string, parts: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < parts; i++) {
    const part = await kube.getConfigMap(namespace, sbomPartName(base, i));
    const data = part?.binaryData?.[SBOM_DATA_KEY];
    assert.ok(data !== undefined, `part ${i} of ${namespace}/${base} is missing`);
    chunks.push(Buffer.from(data, 'base64'));
  }
  return Buffer.concat(chunks);
}

const digest = `sha256:${'c'.repeat(64)}`;
const scanner = 'trivy:test';

/** A real ImageScan with its digest resolved in status, as the reconciler leaves it before the scan Job runs. */
async function imageScan(kube: KubeClient, namespace: string, name: string): Promise<ImageScan> {
  const created = await kube.createCustom<ImageScan>(imageScanType, { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { namespace, name }, spec: { image: 'registry.local/team/app:1.0' } });
  return kube.replaceCustomStatus<ImageScan>(imageScanType, { ...created, status: { digest } });
}

function chunks(data: Buffer, size = 7_000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

describe('report intake (real control plane)', () => {
  const parser = new ReportParser();
  let kube: KubeClient;
  let team = '';
  let other = '';

  before(async () => {
    await requireCluster();
    await ensureCrds();
    team = await createTestNamespace('ingest');
    other = await createTestNamespace('ingest-other');
    // KubeClient loads $KUBECONFIG like kubectl; point it at the test plane's.
    process.env.KUBECONFIG = kubeconfigPath();
    kube = KubeClient.fromDefault();
  });

  after(async () => {
    await parser.close();
    for (const namespace of [team, other]) if (namespace) await deleteNamespace(namespace);
  });

  it('stores a fresh scan SBOM once, as it arrived, and the cache and status projection reuse those bytes', async () => {
    const report = generateTrivyReport({ components: 300, vulnerabilities: 80 });
    const gzip = gzipSync(report.json, { level: 6 }); // what the uploader's createGzip() sends
    const upload = await readCompressedBody(chunks(gzip));
    assert.ok(upload.equals(gzip), 'the upload is kept exactly as it arrived');

    const codec = countingCodec();
    const client = countingClient(kube);
    const results = new ResultStore(client, codec);
    const cache = new ResultCache(new MemoryLru(10, 64 * 1024 * 1024), 3_600_000, codec);
    const intake = reportIntake(results, cache, createLogger('error'), scanner, { parser });
    const owner = await imageScan(kube, team, 'app');

    assert.deepEqual(await intake(owner, upload), { status: 201 });
    const base = sbomBaseName('app');
    const part0 = await kube.getConfigMap(team, base);
    assert.equal(part0?.metadata?.ownerReferences?.[0]?.uid, owner.metadata?.uid, 'the part is owned by the real ImageScan');
    assert.ok((await storedGzip(kube, team, base, 1)).equals(gzip), 'the stored SBOM is the uploaded gzip, byte for byte');
    assert.equal(part0?.metadata?.annotations?.[SBOM_ANNOTATION_BYTES], String(Buffer.byteLength(report.json)));
    const writesAfterUpload = client.writes;
    assert.equal(writesAfterUpload, 2, 'one SBOM part and the result object');

    const cached = await cache.lookup(digest, scanner);
    assert.ok(cached);
    assert.equal(cached.sbom.gzip, upload, 'the cache holds the very same buffer, not a copy or a recompression');
    assert.deepEqual(cached.summary.summary, report.counts);

    // The reconciler's projection into the owner's status: it already holds this SBOM.
    assert.deepEqual(await results.storeSbom(owner, cached.sbom), { name: base, parts: 1 });
    assert.equal(client.writes, writesAfterUpload, 'the owner SBOM is not written a second time');

    // Another namespace's ImageScan of the same digest gets a copy of the same bytes.
    const copy = await imageScan(kube, other, 'app-too');
    const ref = await results.storeSbom(copy, cached.sbom);
    assert.ok(client.writes > writesAfterUpload, 'the other ImageScan gets its own copy');
    assert.ok((await storedGzip(kube, other, ref.name, ref.parts)).equals(gzip));

    // A leader that did not receive the upload reads the stored gzip as it is.
    const loaded = await results.load(team, 'app', digest);
    assert.equal(loaded?.kind, 'result');
    assert.ok(loaded.kind === 'result' && loaded.sbom.gzip.equals(gzip) && loaded.sbom.sha256 === cached.sbom.sha256);

    assert.deepEqual({ gzips: codec.gzips, gunzips: codec.gunzips }, { gzips: 0, gunzips: 0 }, 'nothing compressed or decompressed between upload and status');
    // A reader decompresses once and gets the report back.
    assert.ok((await readSbom(client, other, ref, codec)).equals(Buffer.from(report.json)));
    assert.equal(codec.gunzips, 1);
  });

  it('records a report the parser refuses, with the reason', async () => {
    const results = new ResultStore(kube);
    const cache = new ResultCache(new MemoryLru(10, 1024 * 1024), 3_600_000);
    const intake = reportIntake(results, cache, createLogger('error'), scanner, { parser });
    const verdict = await intake(await imageScan(kube, team, 'broken'), gzipSync('{"bomFormat": "CycloneDX", '));
    assert.equal(verdict.status, 422);
    assert.match(verdict.status === 422 ? verdict.reason : '', /^InvalidReport: not JSON: /);
    const outcome = await results.load(team, 'broken', digest);
    assert.equal(outcome?.kind, 'invalid');
  });

  it('answers 413 for a report that inflates past the limit and records nothing for it', async () => {
    const json = generateTrivyReport({ components: 20, vulnerabilities: 5 }).json;
    const size = Buffer.byteLength(json);
    const results = new ResultStore(kube);
    const cache = new ResultCache(new MemoryLru(10, 1024 * 1024), 3_600_000);
    const tight = reportIntake(results, cache, createLogger('error'), scanner, { parser, maxDecompressedBytes: size - 1 });
    const verdict = await tight(await imageScan(kube, team, 'bomb'), gzipSync(json));
    assert.deepEqual(verdict, { status: 413, reason: `TooLarge: decompressed report exceeds ${size - 1} bytes` });
    assert.equal(await results.load(team, 'bomb', digest), undefined, 'neither a result nor an invalid report is recorded');
    const exact = reportIntake(results, cache, createLogger('error'), scanner, { parser, maxDecompressedBytes: size });
    assert.deepEqual(await exact(await imageScan(kube, team, 'exact'), gzipSync(json)), { status: 201 });
  });

  it('works out sha256 and size for a cache entry without them, with one bounded gunzip', async () => {
    const json = Buffer.from(generateTrivyReport({ components: 20, vulnerabilities: 5 }).json);
    const codec = countingCodec();
    const lru = new MemoryLru(10, 1024 * 1024);
    const key = { digest, scanner, dbVersion: 'unknown' };
    const gzip = gzipSync(json);
    await lru.set(key, { summary: JSON.stringify((await parseReport(json)).summary), sbomGzip: gzip, scannedAt: Date.now() });
    const found = await new ResultCache(lru, 3_600_000, codec).lookup(digest, scanner);
    const fresh = await sbomBlob(json);
    assert.deepEqual(found?.sbom, { gzip, sha256: fresh.sha256, bytes: json.length }, 'the cached gzip as it is, with its sha256 and size');
    assert.deepEqual({ gzips: codec.gzips, gunzips: codec.gunzips }, { gzips: 0, gunzips: 1 });
    await assert.rejects(sbomBlob(gzip, { maxSbomBytes: json.length - 1 }), (err: unknown) => err instanceof SbomStoreError && /does not decompress/.test(err.message));
  });

  it('refuses to read back an SBOM that inflates past the size recorded at store time', async () => {
    const json = generateTrivyReport({ components: 20, vulnerabilities: 5 }).json;
    const results = new ResultStore(kube);
    const ref = await results.storeSbom(await imageScan(kube, team, 'small'), await sbomBlob(json));
    assert.ok((await readSbom(kube, team, ref)).equals(Buffer.from(json)), 'as stored, it reads back');
    // Someone with write access to ConfigMaps lowers the recorded size through the API.
    await kubectl(['annotate', '--overwrite', 'configmap', ref.name, `${SBOM_ANNOTATION_BYTES}=${Buffer.byteLength(json) - 1}`], { namespace: team });
    await assert.rejects(readSbom(kube, team, ref), /does not decompress: .*larger than/);
  });
});
