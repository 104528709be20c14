// Image scanning end to end on the real plane: ImageScan → digest from the loopback registry →
// scan Job → the node player runs the real Trivy (client mode, against the Trivy server with
// the fixture DB) and the real uploader → HTTPS report endpoint → status, SBOM, Events, metrics.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { KubeClient } from '../operator/platform/kube/client';
import { acceptedSpecVersions } from '../operator/features/scan/intake';
import { parseReport } from '../operator/features/scan/report';
import { readSbom } from '../operator/features/scan/sbom-store';
import { ownScanName } from '../operator/api/own-scans';
import { kubectl, repoRoot, waitFor } from './support/cluster';
import { runDir } from './support/nodeplayer';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import {
  fixtureDigest,
  freePort,
  getScan,
  imageScanManifest,
  pushUniqueImage,
  waitForPhase,
  requireScanEnvironment,
  TestResources,
  scanJobsForDigest,
  scanOperatorEnv,
  type ScanEnvironment,
  type ScanObject,
} from './support/scanenv';

interface ExpectedFinding {
  id: string;
  package: string;
  fixedVersion?: string;
  severity: string;
  published: string;
}

function expectedFor(ecosystem: 'debian' | 'alpine' | 'npm'): ExpectedFinding[] {
  const all = JSON.parse(readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'scan', 'expected.json'), 'utf8')) as Record<string, ExpectedFinding[]>;
  const list = all[ecosystem];
  assert.ok(list && list.length > 0, `expected.json has ${ecosystem} findings`);
  return list;
}

function countsOf(findings: readonly ExpectedFinding[]): { critical: number; high: number; medium: number; low: number; unknown: number; fixable: number; fixableBySeverity: Record<string, number>; oldestFixablePublished: Record<string, string> } {
  const count = (severity: string, list = findings): number => list.filter((finding) => finding.severity === severity).length;
  const fixable = findings.filter((finding) => finding.fixedVersion);
  // Per severity, the earliest publication date among the fixable findings (ISO strings sort by time).
  const oldestFixablePublished: Record<string, string> = {};
  for (const finding of fixable) {
    const level = finding.severity.toLowerCase();
    const oldest = oldestFixablePublished[level];
    if (oldest === undefined || finding.published < oldest) oldestFixablePublished[level] = finding.published;
  }
  return {
    critical: count('CRITICAL'),
    high: count('HIGH'),
    medium: count('MEDIUM'),
    low: count('LOW'),
    unknown: count('UNKNOWN'),
    fixable: fixable.length,
    fixableBySeverity: { critical: count('CRITICAL', fixable), high: count('HIGH', fixable), medium: count('MEDIUM', fixable), low: count('LOW', fixable), unknown: count('UNKNOWN', fixable) },
    oldestFixablePublished,
  };
}

/** PUT to the report endpoint, as a scan Job would, with whatever credentials a test wants. */
function putReport(port: number, target: string, headers: Record<string, string>, body: Buffer | undefined, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/v1/reports/${target}`, method: 'PUT', ca, headers, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('image scanning against the real plane, registry, Trivy and node player', () => {
  let env: ScanEnvironment;
  const resources = new TestResources();
  const namespace = (prefix: string): Promise<string> => resources.namespace(prefix);

  before(async () => {
    env = await requireScanEnvironment();
  });

  afterEach(() => resources.stopOperators());
  after(() => resources.deleteNamespaces());

  async function operator(home: string, lease: string, reportPort: number, extra: Record<string, string> = {}): Promise<OperatorProcess> {
    const process = resources.track(startOperator({ identity: `${lease}-${resources.operators.length}`, namespace: home, leaseName: lease, env: scanOperatorEnv(env, reportPort, extra) }));
    await waitUntilLeading(process, home, lease);
    return process;
  }

  it('completes an ImageScan with the fixture CVEs, a stored and validated CycloneDX SBOM, an Event, metrics and printer columns', async () => {
    const ns = await namespace('scan');
    const op = await operator(ns, 'scan', await freePort());
    const image = `${env.registry}/fixtures/debian-app:1`;
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('debian', image) });
    const scan = await waitForPhase(ns, 'debian', 'Completed', op);

    const expected = expectedFor('debian');
    const status = scan.status ?? {};
    assert.equal(status.digest, fixtureDigest(env, 'fixtures/debian-app:1'));
    assert.deepEqual(status.summary, countsOf(expected));
    assert.deepEqual(new Set(status.topFindings?.map((finding) => `${finding.id}/${finding.package}`)), new Set(expected.slice(0, 20).map((finding) => `${finding.id}/${finding.package}`)));
    assert.equal(status.topFindings?.[0]?.severity, 'CRITICAL', 'most severe first');
    assert.equal(status.scanner?.name, 'trivy');
    assert.ok((status.componentCount ?? 0) >= 3);
    assert.equal(status.observedGeneration, 1);

    const client = KubeClient.fromDefault();
    assert.ok(status.sbomRef, 'sbomRef is set');
    const sbom = await readSbom(client, ns, status.sbomRef);
    // Validated against the CycloneDX schema of its own specVersion (Trivy v0.74.0 writes 1.7).
    const parsed = await parseReport(sbom, { specVersions: acceptedSpecVersions });
    assert.ok((acceptedSpecVersions as readonly string[]).includes(parsed.summary.specVersion));
    // Its content is valid CycloneDX 1.6 too: the same document, labelled 1.6, passes the 1.6 schema.
    const as16 = await parseReport(Buffer.from(JSON.stringify({ ...parsed.bom, specVersion: '1.6' })), { specVersions: ['1.6'] });
    assert.deepEqual(as16.summary.summary, countsOf(expected));
    assert.deepEqual(parsed.summary.summary, countsOf(expected));

    const printed = await kubectl(['get', 'imagescans', 'debian'], { namespace: ns });
    const [header = '', row = ''] = printed.stdout.trim().split('\n');
    assert.match(header, /CRITICAL\s+HIGH/);
    assert.match(row, new RegExp(`Completed\\s+${countsOf(expected).critical}\\s+${countsOf(expected).high}`));

    const events = await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=debian', '-o', 'jsonpath={.items[*].reason}'], { namespace: ns });
    assert.match(events.stdout, /ScanStarted/);
    assert.match(events.stdout, /ScanCompleted/);
    assert.equal(await op.metric('securestack_image_vulnerabilities', { namespace: ns, severity: 'critical' }), countsOf(expected).critical);
    assert.equal(await op.metric('securestack_report_uploads_total', { result: 'accepted' }), 1);
    assert.equal(await op.metric('securestack_scans_total', { result: 'completed' }), 1);
  });

  it('scans a private image with the namespace\'s pull secret, and says Unauthorized without it', async () => {
    const ns = await namespace('private');
    const op = await operator(ns, 'private', await freePort());
    const dockerConfig = path.join(runDir(), 'auth-registry-dockerconfig.json');
    // A digest of its own, so the scan needs a Job (and its pull secret) rather than a reused result.
    const image = pushUniqueImage(env, 'private/unique-app', undefined, { registry: env.authRegistry, dockerConfig });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('no-secret', image) });
    const refused = await waitForPhase(ns, 'no-secret', 'Failed', op);
    assert.equal(refused.status?.conditions?.find((entry) => entry.type === 'Scanned')?.reason, 'Unauthorized');

    await kubectl(['create', 'secret', 'generic', 'regcred', '--type=kubernetes.io/dockerconfigjson', `--from-file=.dockerconfigjson=${dockerConfig}`], { namespace: ns });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('with-secret', image, { imagePullSecrets: [{ name: 'regcred' }] }) });
    const scan = await waitForPhase(ns, 'with-secret', 'Completed', op);
    assert.deepEqual(scan.status?.summary, countsOf(expectedFor('debian')), 'the Debian fixture under a unique layer');
    // The Job pulled the layers with the same secret, mounted as its Docker config.
    const job = JSON.parse((await kubectl(['get', 'job', scan.status?.jobName ?? '', '-o', 'json'], { namespace: ns })).stdout) as {
      spec: { template: { spec: { volumes: Array<{ name: string; secret?: { secretName: string } }> } } };
    };
    assert.ok(job.spec.template.spec.volumes.some((volume) => volume.secret?.secretName === 'regcred'));
  });

  it('ten ImageScans of one digest in three namespaces create exactly one Job and all complete', async () => {
    const spaces = [await namespace('dedupe-a'), await namespace('dedupe-b'), await namespace('dedupe-c')];
    const op = await operator(spaces[0] ?? '', 'dedupe', await freePort());
    const image = `${env.registry}/fixtures/alpine-app:1`;
    const created: Array<[string, string]> = [];
    for (let i = 0; i < 10; i++) {
      const ns = spaces[i % 3] ?? '';
      await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest(`alpine-${i}`, image) });
      created.push([ns, `alpine-${i}`]);
    }
    for (const [ns, name] of created) await waitForPhase(ns, name, 'Completed', op);
    const jobs = await scanJobsForDigest(fixtureDigest(env, 'fixtures/alpine-app:1'));
    assert.equal(jobs.length, 1, `one Job for the digest, found ${jobs.join(', ')}`);
    const expected = countsOf(expectedFor('alpine'));
    for (const [ns, name] of created) assert.deepEqual((await getScan(ns, name))?.status?.summary, expected);
    assert.equal(await op.metric('securestack_scans_total', { result: 'completed' }) + (await op.metric('securestack_scans_total', { result: 'cached' })), 10);
  });

  it('refuses uploads without the scan\'s credentials (401) and oversize ones (413); a malformed report fails the ImageScan and the controller keeps running', async () => {
    const ns = await namespace('refuse');
    const port = await freePort();
    const op = await operator(ns, 'refuse', port);
    const ca = Buffer.from((await kubectl(['get', 'secret', 'securestack-reports-tls', '-o', 'jsonpath={.data.ca\\.crt}'], { namespace: ns })).stdout, 'base64').toString();
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('target', `${env.registry}/fixtures/node-app:1`, { scanner: { image: 'securestack.test/malformed-scanner:1' } }) });
    await waitFor('the ImageScan to exist', () => getScan(ns, 'target'));

    assert.equal(await putReport(port, `${ns}/target`, { 'content-encoding': 'gzip' }, Buffer.from('x'), ca), 401, 'no token');
    const foreign = (await kubectl(['create', 'token', 'default', '--audience', 'securestack-report'], { namespace: ns })).stdout.trim();
    assert.equal(await putReport(port, `${ns}/target`, { authorization: `Bearer ${foreign}`, 'content-encoding': 'gzip' }, Buffer.from('x'), ca), 401, 'a token not bound to the scan pod');
    const otherAudience = (await kubectl(['create', 'token', 'default', '--audience', 'something-else'], { namespace: ns })).stdout.trim();
    assert.equal(await putReport(port, `${ns}/target`, { authorization: `Bearer ${otherAudience}`, 'content-encoding': 'gzip' }, Buffer.from('x'), ca), 401, 'a token for another audience');
    assert.equal(await putReport(port, `${ns}/target`, { 'content-length': String(60 * 1024 * 1024), 'content-encoding': 'gzip' }, undefined, ca), 413, 'over 50 MiB');
    assert.ok((await op.metric('securestack_report_uploads_total', { result: 'unauthorized' })) >= 3);
    assert.ok((await op.metric('securestack_report_uploads_total', { result: 'too_large' })) >= 1);

    const failed = await waitForPhase(ns, 'target', 'Failed', op);
    const condition = failed.status?.conditions?.find((entry) => entry.type === 'Scanned');
    assert.equal(condition?.reason, 'InvalidReport');
    assert.match(condition?.message ?? '', /CycloneDX 1\.6/);
    assert.equal(await op.metric('securestack_report_uploads_total', { result: 'invalid' }), 1);
    const healthz = await fetch(`http://127.0.0.1:${await op.metricsPort()}/healthz`);
    assert.equal(healthz.status, 200, 'the controller keeps running');
  });

  it('a report with 5,000 components and 2,000 vulnerabilities completes with no object over 900 KiB', async () => {
    const ns = await namespace('large');
    const op = await operator(ns, 'large', await freePort());
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('large', `${env.registry}/fixtures/debian-app:1`, { scanner: { image: 'securestack.test/large-scanner:1' } }) });
    const scan = await waitForPhase(ns, 'large', 'Completed', op, 180_000);
    assert.equal(scan.status?.componentCount, 5_001);
    assert.equal(scan.status?.topFindings?.length, 20);
    const sizes: Array<[string, number]> = [];
    for (const kind of ['imagescans', 'configmaps']) {
      const list = JSON.parse((await kubectl(['get', kind, '-o', 'json'], { namespace: ns })).stdout) as { items: Array<{ metadata: { name: string } }> };
      for (const item of list.items) sizes.push([`${kind}/${item.metadata.name}`, Buffer.byteLength(JSON.stringify(item))]);
    }
    const parts = sizes.filter(([name]) => name.includes('sbom'));
    assert.ok(parts.length >= 1, 'the SBOM is stored');
    for (const [name, bytes] of sizes) assert.ok(bytes < 900 * 1024, `${name} is ${bytes} bytes`);
    process.stdout.write(`# large report: ${parts.length} SBOM part(s), largest object ${Math.max(...sizes.map(([, bytes]) => bytes))} bytes\n`);
  });

  it('keeps an ImageScan per image that running pods use, shares one Job across namespaces, and removes it with the pods', async () => {
    const spaces = [await namespace('wl-a'), await namespace('wl-b')];
    // The operator's own namespace is never scanned as a workload: it lives in a third one.
    const op = await operator(await namespace('wl-op'), 'workloads', await freePort(), {
      SECURESTACK_WORKLOAD_SCANNING: 'true',
      SECURESTACK_WORKLOAD_NAMESPACES: spaces.join(','),
    });
    const image = `${env.registry}/fixtures/alpine-app:1`;
    const digest = fixtureDigest(env, 'fixtures/alpine-app:1');
    const jobsBefore = new Set(await scanJobsForDigest(digest));
    const deployment = (name: string): string =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
        },
      });
    for (const ns of spaces) await kubectl(['apply', '-f', '-'], { namespace: ns, input: deployment('shop') });
    const scans = await Promise.all(
      spaces.map((ns) =>
        waitFor(`a workload ImageScan in ${ns}`, async () => {
          const list = JSON.parse((await kubectl(['get', 'imagescans', '-l', 'securestack.io/source=workload', '-o', 'json'], { namespace: ns })).stdout) as { items: ScanObject[] };
          const done = list.items.filter((item) => item.status?.phase === 'Completed');
          return done.length === 1 ? done[0] : undefined;
        }, { timeoutMs: 120_000 }),
      ),
    );
    for (const scan of scans) assert.deepEqual(scan.status?.summary, countsOf(expectedFor('alpine')));
    // A finished Job of an earlier test may already hold this digest's result, which the new
    // leader reuses; either way the two namespaces never cause more than one scan.
    const newJobs = (await scanJobsForDigest(digest)).filter((job) => !jobsBefore.has(job));
    assert.ok(newJobs.length <= 1, `at most one Job for both namespaces: ${newJobs.join(', ')}`);

    await kubectl(['delete', 'deployment', 'shop', '--wait=true'], { namespace: spaces[1] ?? '' });
    await waitFor('the unused workload ImageScan to be removed', async () => {
      const left = (await kubectl(['get', 'imagescans', '-l', 'securestack.io/source=workload', '-o', 'name'], { namespace: spaces[1] ?? '' })).stdout.trim();
      return left === '' ? true : undefined;
    }, { timeoutMs: 60_000 });
    assert.ok((await op.metric('securestack_reconcile_total', { kind: 'WorkloadImages' })) > 0);
  });

  it('skips a pod image no ImageScan can be made of, reports it once, and keeps scanning the rest of the namespace', async () => {
    const ns = await namespace('wl-bad');
    const op = await operator(await namespace('wl-bad-op'), 'workloads-bad', await freePort(), {
      SECURESTACK_WORKLOAD_SCANNING: 'true',
      SECURESTACK_WORKLOAD_NAMESPACES: ns,
    });
    const podOf = (name: string, image: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image }] } });
    // The API server does not check image syntax on Pods: upper case passes there, not in an ImageScan.
    const bad = 'Example.COM/Team/App:1';
    const good = `${env.registry}/fixtures/alpine-app:1`;
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: podOf('bad', bad) });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: podOf('good', good) });
    const workloadScans = async (): Promise<string[]> => {
      const list = JSON.parse((await kubectl(['get', 'imagescans', '-l', 'securestack.io/source=workload', '-o', 'json'], { namespace: ns })).stdout) as { items: Array<{ spec: { image: string } }> };
      return list.items.map((item) => item.spec.image);
    };
    await waitFor('an ImageScan of the good image', async () => ((await workloadScans()).includes(good) ? true : undefined), { timeoutMs: 60_000 });
    const warnings = async (): Promise<string[]> =>
      (await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=bad,reason=ImageNotScannable', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}'], { namespace: ns })).stdout.split('\n').filter((line) => line !== '');
    const reported = await waitFor('a Warning Event on the pod with the bad image', async () => ((await warnings()).length > 0 ? warnings() : undefined), { timeoutMs: 30_000 });
    assert.match(reported[0] ?? '', /SecureStack cannot scan image "Example\.COM\/Team\/App:1": spec\.image: must match pattern/);
    assert.equal(await op.metric('securestack_workload_images_skipped_total', { reason: 'invalid-reference' }), 1);

    // The namespace keeps being reconciled: a new image gets its scan, a removed one loses it,
    // and the bad image is reported once however often the namespace is looked at again.
    const other = `${env.registry}/fixtures/debian-app:1`;
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: podOf('other', other) });
    await waitFor('an ImageScan of the new image', async () => ((await workloadScans()).includes(other) ? true : undefined), { timeoutMs: 60_000 });
    await kubectl(['delete', 'pod', 'good', '--wait=true'], { namespace: ns });
    await waitFor('the ImageScan of the removed image to go', async () => ((await workloadScans()).includes(good) ? undefined : true), { timeoutMs: 60_000 });
    assert.deepEqual(await workloadScans(), [other]);
    assert.equal((await warnings()).length, 1, 'one Event for the bad image');
    assert.equal(await op.metric('securestack_workload_images_skipped_total', { reason: 'invalid-reference' }), 1);
  });

  it('keeps one ImageScan per image and namespace whoever asked: takes over the gate\'s, and removes unused gate scans after the grace period', async () => {
    const ns = await namespace('own-scans');
    // A namespace where the gate asked for a scan and no pod ever ran: no pod event names it, so
    // only the label index of gate-requested ImageScans brings it to the reconciler.
    const gateOnly = await namespace('gate-only');
    const running = `${env.registry}/fixtures/alpine-app:1`;
    const unused = `${env.registry}/fixtures/node-app:1`;
    // What the admission gate creates for an image it met unscanned (operator/features/admission/scan-requests.ts).
    const gateScan = (image: string): string => JSON.stringify({
      apiVersion: 'securestack.io/v1alpha1',
      kind: 'ImageScan',
      metadata: { name: ownScanName(image), labels: { 'securestack.io/source': 'admission', 'app.kubernetes.io/managed-by': 'securestack' } },
      spec: { image },
    });
    await kubectl(['apply', '-f', '-'], { namespace: gateOnly, input: gateScan(unused) });
    const op = await operator(await namespace('own-scans-op'), 'own-scans', await freePort(), {
      SECURESTACK_WORKLOAD_SCANNING: 'true',
      SECURESTACK_WORKLOAD_NAMESPACES: `${ns},${gateOnly}`,
      SECURESTACK_ADMISSION_SCAN_GRACE: '20s',
    });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: gateScan(running) });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: gateScan(unused) });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app' }, spec: { containers: [{ name: 'app', image: running }] } }) });
    const own = async (): Promise<Array<{ name: string; image: string; source: string }>> => {
      const list = JSON.parse((await kubectl(['get', 'imagescans', '-o', 'json'], { namespace: ns })).stdout) as { items: Array<{ metadata: { name: string; labels?: Record<string, string> }; spec: { image: string } }> };
      return list.items.map((item) => ({ name: item.metadata.name, image: item.spec.image, source: item.metadata.labels?.['securestack.io/source'] ?? '' })).sort((a, b) => a.name.localeCompare(b.name));
    };
    await waitFor('workload scanning to take over the gate\'s ImageScan', async () => ((await own()).some((scan) => scan.image === running && scan.source === 'workload') ? true : undefined), { timeoutMs: 60_000 });
    assert.equal((await own()).filter((scan) => scan.image === running).length, 1, 'one ImageScan for the running image, not two');
    // The unused gate scan stays for the grace period (a denied apply may be waiting for it) ...
    assert.ok((await own()).some((scan) => scan.image === unused), 'kept within the grace period');
    // ... and goes after it.
    await waitFor('the unused gate ImageScan to be removed', async () => ((await own()).some((scan) => scan.image === unused) ? undefined : true), { timeoutMs: 90_000 });
    const gateOnlyScans = async (): Promise<number> => (JSON.parse((await kubectl(['get', 'imagescans', '-o', 'json'], { namespace: gateOnly })).stdout) as { items: unknown[] }).items.length;
    await waitFor('the gate ImageScan of the namespace without pods to be removed', async () => ((await gateOnlyScans()) === 0 ? true : undefined), { timeoutMs: 60_000 });
    // The taken-over one follows its pods now.
    await kubectl(['delete', 'pod', 'app', '--wait=true'], { namespace: ns });
    await waitFor('the running image\'s ImageScan to go with its pod', async () => ((await own()).length === 0 ? true : undefined), { timeoutMs: 60_000 });
    assert.ok((await op.metric('securestack_reconcile_total', { kind: 'WorkloadImages' })) > 0);
  });

  it('a failed scan Job gives its reason in status and is retried with backoff up to the limit', async () => {
    const ns = await namespace('retry');
    const op = await operator(ns, 'retry', await freePort(), { SECURESTACK_SCAN_RETRIES: '1', SECURESTACK_SCAN_RETRY_BACKOFF: '2s' });
    // The test shell image runs `sh -c image ...`: there is no `image` command, so it exits 127.
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('broken', `${env.registry}/fixtures/debian-app:1`, { scanner: { image: 'securestack.test/shell:1' } }) });
    const failed = await waitForPhase(ns, 'broken', 'Failed', op);
    const condition = failed.status?.conditions?.find((entry) => entry.type === 'Scanned');
    assert.equal(condition?.reason, 'ScanJobFailed');
    assert.match(condition?.message ?? '', /Scan Job .* failed/);
    assert.equal(failed.status?.attempts, 2, 'the first attempt and one retry');
    const jobs = (JSON.parse((await kubectl(['get', 'jobs', '-l', 'securestack.io/imagescan=broken', '-o', 'json'], { namespace: ns })).stdout) as { items: V1Job[] }).items
      .sort((a, b) => Number(a.metadata?.annotations?.['securestack.io/attempt']) - Number(b.metadata?.annotations?.['securestack.io/attempt']));
    assert.equal(jobs.length, 2, `one Job per attempt: ${jobs.map((job) => job.metadata?.name).join(', ')}`);
    // The retry waits out the back-off (2 s) after the first Job failed (both times whole seconds).
    const firstFailedAt = Date.parse(String(jobs[0].status?.conditions?.find((entry) => entry.type === 'Failed')?.lastTransitionTime ?? ''));
    const retryCreatedAt = Date.parse(String(jobs[1].metadata?.creationTimestamp ?? ''));
    assert.ok(retryCreatedAt - firstFailedAt >= 2000, `retry Job created ${retryCreatedAt - firstFailedAt} ms after the first failed`);
    const reasons = (await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=broken', '-o', 'jsonpath={.items[*].reason}'], { namespace: ns })).stdout;
    assert.match(reasons, /ScanFailed/);
    assert.equal(await op.metric('securestack_scans_total', { result: 'failed' }), 1);
  });

  it('a controller killed while the Job runs resumes after restart: the scan completes with one Job', async () => {
    const ns = await namespace('restart');
    const port = await freePort();
    const first = await operator(ns, 'restart', port);
    const image = `${env.registry}/fixtures/node-app:1`;
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('resume', image) });
    const digest = fixtureDigest(env, 'fixtures/node-app:1');
    await waitFor('the scan Job', async () => ((await scanJobsForDigest(digest)).some((job) => job.startsWith(`${ns}/`)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 100 });
    await first.stop('SIGKILL');
    const second = await operator(ns, 'restart', port);
    const scan = await waitForPhase(ns, 'resume', 'Completed', second);
    assert.deepEqual(scan.status?.summary, countsOf(expectedFor('npm')));
    const jobs = (await scanJobsForDigest(digest)).filter((job) => job.startsWith(`${ns}/`));
    assert.equal(jobs.length, 1, `exactly one Job: ${jobs.join(', ')}`);
  });
});
