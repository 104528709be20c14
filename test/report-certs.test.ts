// The scan report endpoint's serving certificate against the real control plane: the platform's
// rotating certificate (operator/platform/tls/serving.ts) behind the real upload server, two replicas,
// authenticated uploads from "Jobs" that learnt the trust bundle once, when they were created,
// through serving renewals and a full CA rotation with no restart; and the operator renewing a
// report certificate near expiry that an older release wrote.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { Server } from 'node:https';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { loadConfig } from '../operator/platform/config';
import { imageScanUidLabel, reportTokenAudience } from '../operator/features/scan/scanjob';
import { KubeClient } from '../operator/platform/kube/client';
import { createLogger } from '../operator/platform/log';
import { createScanMetrics } from '../operator/features/scan/metrics';
import { reportCertificates, reportHosts, type ReportCertificateTimings } from '../operator/features/scan/report-tls';
import { startUploadServer } from '../operator/features/scan/upload-server';
import { coversHosts, createCaValidFor, issueServingCertValidFor, renewalDue } from '../operator/platform/tls/certs';
import { CertificateRotationReconciler } from '../operator/platform/tls/rotation';
import type { ServingCertificates } from '../operator/platform/tls/serving';
import { kubeconfigPath, kubectl, requireCluster, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';
import { startOperator, waitUntilLeading } from './support/operator';
import { TestResources, freePort, imageScanManifest } from './support/scanenv';

const dayMs = 86_400_000;

interface Peer {
  status: number;
  fingerprint256: string;
  issuer: string;
}

/** One PUT of a report on a fresh connection (no agent, no session reuse), trusting only `ca`. */
function upload(port: number, target: string, token: string, ca: string): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const body = gzipSync('{}');
    const headers = { authorization: `Bearer ${token}`, 'content-encoding': 'gzip', 'content-length': String(body.length) };
    const req = request({ host: '127.0.0.1', port, path: `/v1/reports/${target}`, method: 'PUT', ca, headers, agent: false, timeout: 10_000 }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint256: peer.fingerprint256, issuer: String(peer.issuer.CN) }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

async function secretData(namespace: string, name: string): Promise<Record<string, string>> {
  const res = await kubectl(['get', 'secret', name, '-o', 'json'], { namespace });
  const data = (JSON.parse(res.stdout) as { data: Record<string, string> }).data;
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
}

function signedBy(certPem: string, caPem: string): boolean {
  return new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
}

describe('report endpoint certificates (real control plane)', () => {
  const resources = new TestResources();
  const started: ServingCertificates[] = [];

  before(async () => {
    await requireCluster();
    await ensureCrds();
    process.env.KUBECONFIG = kubeconfigPath();
  });

  after(async () => {
    for (const certs of started) certs.stop();
    await resources.stopOperators();
    await resources.deleteNamespaces();
  });

  it('keeps accepting uploads from Jobs that trust only the bundle they were created with, through serving renewals and a CA rotation, without a restart', async (t) => {
    const namespace = await resources.namespace('report-certs');
    const client = KubeClient.fromDefault();
    const config = loadConfig([], { SECURESTACK_NAMESPACE: namespace });
    const log = createLogger('warn');
    // Real time: CA 16 s (a rotation starts with 5.9 s left), serving 5 s (renewed every ~3.2 s),
    // propagation 1.5 s, replicas re-read every 200 ms. A Job lives 1 s: shorter than the
    // propagation delay minus the refresh interval, as report-tls.ts sizes it in production.
    const timings: ReportCertificateTimings = { caValidityMs: 16_000, servingValidityMs: 5_000, propagationDelayMs: 1_500, refreshIntervalMs: 200 };
    const jobLifetimeMs = 1_000;
    const registry = new Registry();
    const leader = reportCertificates({ config, client, log, registry }, timings);
    const follower = reportCertificates({ config, client, log }, timings);
    started.push(leader, follower);
    await leader.load();
    await follower.load();
    leader.start();
    follower.start();
    const firstBundle = leader.current().caBundlePem;

    const servers: Server[] = [];
    t.after(() => {
      for (const server of servers) server.close();
    });
    for (const certs of [leader, follower]) {
      const onReport = (): Promise<{ status: 201 }> => Promise.resolve({ status: 201 });
      servers.push(await startUploadServer({ port: 0, host: '127.0.0.1', tls: certs, client, log, metrics: createScanMetrics(new Registry()), onReport }));
    }
    const ports = servers.map((server) => (server.address() as AddressInfo).port);

    // The credentials of a scan pod: a token for the report audience bound to a pod that carries
    // the ImageScan's UID, so the upload server answers 201 only after the whole authentication.
    await kubectl(['apply', '-f', '-'], { namespace, input: imageScanManifest('target', 'registry.example/app:1') });
    t.after(() => kubectl(['delete', 'imagescan', 'target', '--wait=false'], { namespace, allowFail: true }));
    const uid = (await kubectl(['get', 'imagescan', 'target', '-o', 'jsonpath={.metadata.uid}'], { namespace })).stdout.trim();
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'scan-pod', labels: { [imageScanUidLabel]: uid } }, spec: { containers: [{ name: 'uploader', image: 'registry.example/uploader:1' }] } };
    await kubectl(['apply', '-f', '-'], { namespace, input: JSON.stringify(pod) });
    await waitFor('the default ServiceAccount', async () => ((await kubectl(['get', 'serviceaccount', 'default'], { namespace, allowFail: true })).code === 0 ? true : undefined));
    const token = (await kubectl(['create', 'token', 'default', '--audience', reportTokenAudience, '--bound-object-kind', 'Pod', '--bound-object-name', 'scan-pod', '--duration', '10m'], { namespace })).stdout.trim();
    const target = `${namespace}/target`;
    assert.equal((await upload(ports[0] ?? 0, target, token, firstBundle)).status, 201, 'an authenticated upload is accepted');

    // The leader's rotation loop, as the manager runs it: the reconciler on its key.
    // Its log lines name the steps it took.
    const rotation = new CertificateRotationReconciler(leader, 'ReportCertificate');
    const steps: string[] = [];
    const reconcileLog = createLogger('info', { write: (line: string) => void steps.push(...((JSON.parse(line) as { steps?: string[] }).steps ?? [])) });
    let rotating = true;
    const rotationLoop = (async () => {
      while (rotating) {
        const result = await rotation.reconcile({ namespace, name: config.reportCertSecret }, { log: reconcileLog, signal: new AbortController().signal, reconcileId: 'test' });
        assert.equal(result.requeueAfterMs, timings.refreshIntervalMs, 'checked again every refresh interval');
        await sleep(100);
      }
    })();

    // Each Job takes the bundle the ImageScan reconciler hands out (reportCaPem) when it is
    // created and never learns another; requests go round-robin over the live Jobs (the oldest
    // one is the hard case) and the two replicas.
    const jobs: Array<{ createdAt: number; bundle: string }> = [];
    const failures: string[] = [];
    const servingCerts = new Set<string>();
    const issuers = new Set<string>();
    let sent = 0;
    let oldestUsedMs = 0;
    const start = Date.now();
    try {
      while (Date.now() - start < 16_000 && sent < 5_000) {
        const now = Date.now();
        if (jobs.length === 0 || now - (jobs.at(-1)?.createdAt ?? 0) >= 200) jobs.push({ createdAt: now, bundle: leader.current().caBundlePem });
        while (jobs.length > 1 && now - (jobs[0]?.createdAt ?? now) > jobLifetimeMs) jobs.shift();
        const job = jobs[sent % jobs.length] ?? { createdAt: now, bundle: '' };
        const port = ports[Math.floor(sent / jobs.length) % ports.length] ?? 0;
        sent++;
        oldestUsedMs = Math.max(oldestUsedMs, now - job.createdAt);
        try {
          const peer = await upload(port, target, token, job.bundle);
          if (peer.status !== 201) throw new Error(`status ${peer.status}`);
          servingCerts.add(peer.fingerprint256);
          issuers.add(peer.issuer);
        } catch (err) {
          failures.push(`${now - start} ms, port ${port}, Job ${now - job.createdAt} ms old: ${err instanceof Error ? err.message : String(err)}`);
        }
        await sleep(10);
      }
    } finally {
      rotating = false;
      await rotationLoop;
    }
    console.log(`${sent} uploads over ${Date.now() - start} ms to 2 replicas, ${failures.length} failures; Jobs up to ${oldestUsedMs} ms old; ${servingCerts.size} serving certificates from ${issuers.size} CAs; steps: ${steps.join(', ')}`);
    assert.deepEqual(failures, []);
    assert.ok(sent >= 200, `a steady stream of uploads (${sent})`);
    assert.deepEqual(steps.filter((step) => step !== 'serving-renewed'), ['ca-added', 'serving-reissued', 'ca-dropped'], `a full CA rotation: ${steps.join(', ')}`);
    assert.ok(steps.filter((step) => step === 'serving-renewed').length >= 2, 'serving renewals too');
    assert.ok(servingCerts.size >= 4 && issuers.size === 2, 'the uploads really saw the rotations');
    const rotations = (await registry.getSingleMetric('securestack_report_certificate_rotations_total')?.get())?.values ?? [];
    assert.equal(rotations.find((value) => value.labels.certificate === 'ca')?.value, 1);

    // The check has teeth: a Job that outlived the rotation with the first bundle is now refused.
    await assert.rejects(upload(ports[0] ?? 0, target, token, firstBundle), /signature|unable to verify|certificate/);
  });

  it('the operator renews a report certificate near expiry, keeps its CA and serves the new one', async () => {
    const home = await resources.namespace('report-renew');
    // What an older release wrote (ca.crt, ca.key, tls.crt, tls.key): a CA good for years and a
    // one-year serving certificate issued 300 days ago, so 65 days (less than a third) are left.
    const issuedAt = new Date(Date.now() - 300 * dayMs);
    const ca = await createCaValidFor('securestack-ca', 3650 * dayMs, new Date(Date.now() - 400 * dayMs));
    const hosts = ['127.0.0.1', 'localhost', `securestack-reports.${home}.svc`, `securestack-reports.${home}.svc.cluster.local`];
    const old = await issueServingCertValidFor(ca, hosts, 365 * dayMs, issuedAt);
    const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
    const secret = {
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
      metadata: { name: 'securestack-reports-tls', labels: { 'app.kubernetes.io/managed-by': 'securestack' } },
      data: { 'ca.crt': b64(ca.certPem), 'ca.key': b64(ca.keyPem), 'tls.crt': b64(old.certPem), 'tls.key': b64(old.keyPem) },
    };
    await kubectl(['create', '-f', '-'], { namespace: home, input: JSON.stringify(secret) });

    const reportPort = await freePort();
    const env = { SECURESTACK_NAMESPACE: home, SECURESTACK_REPORT_PORT: String(reportPort), SECURESTACK_REPORT_URL: `https://127.0.0.1:${reportPort}` };
    assert.ok(coversHosts(old.certPem, reportHosts(loadConfig([], env))) && renewalDue(old.certPem), 'due for its age alone, not for a missing host');
    const operator = resources.track(startOperator({ identity: 'report-renew', namespace: home, leaseName: 'report-renew', env }));
    await waitUntilLeading(operator, home, 'report-renew');
    const renewed = await waitFor('the leader to renew the report certificate', async () => {
      const data = await secretData(home, 'securestack-reports-tls');
      return data['tls.crt'] && data['tls.crt'] !== old.certPem ? data : undefined;
    });
    const cert = new X509Certificate(renewed['tls.crt'] ?? '');
    const lifeDays = (Date.parse(cert.validTo) - Date.now()) / dayMs;
    console.log(`renewed: serving certificate valid ${lifeDays.toFixed(2)} more days (was ${((Date.parse(new X509Certificate(old.certPem).validTo) - Date.now()) / dayMs).toFixed(2)})`);
    assert.equal(renewed['ca.crt'], ca.certPem, 'the CA is kept: running Jobs still trust the endpoint');
    assert.equal(renewed['ca-previous.crt'], undefined, 'no CA rotation was due');
    assert.ok(signedBy(renewed['tls.crt'] ?? '', ca.certPem));
    assert.ok(Math.abs(lifeDays - 365) < 0.01, `a fresh one-year certificate (${lifeDays} days)`);

    // The endpoint serves it to a client that trusts only the CA, without a restart.
    const served = await waitFor('the endpoint to serve the renewed certificate', async () => {
      const peer = await upload(reportPort, `${home}/none`, 'no-token', ca.certPem);
      return peer.fingerprint256 === cert.fingerprint256 ? peer : undefined;
    });
    assert.equal(served.status, 401, 'the endpoint answers (and refuses the made-up token)');
    assert.equal(await operator.metric('securestack_report_certificate_rotations_total', { certificate: 'serving' }), 1);
    assert.equal(await operator.metric('securestack_report_certificate_rotations_total', { certificate: 'ca' }), 0);
    assert.equal(await operator.metric('securestack_report_certificate_expiry_timestamp_seconds', { certificate: 'serving' }), Date.parse(cert.validTo) / 1000);
    assert.equal(operator.child.exitCode, null, 'the operator kept running');
  });
});
