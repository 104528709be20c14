// The admission webhook's certificates against the real control plane: one Secret shared by
// replicas, serving renewal, the staged CA rotation (add -> re-issue -> drop), a TLS server that
// keeps answering a client trusting only the published bundle through a full rotation, metrics,
// and cert-manager mode never writing.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { KubeClient } from '../operator/platform/kube/client';
import { createLogger, type Logger } from '../operator/platform/log';
import { EventRecorder } from '../operator/platform/runtime/events';
import { createCaValidFor, issueServingCertValidFor } from '../operator/platform/tls/certs';
import { WebhookCertificates, splitPemBundle, type RotationStep, type WebhookCertificateMaterial, type WebhookCertificatesOptions } from '../operator/features/admission/certs';
import { createTestNamespace, deleteNamespace, kubeconfigPath, kubectl, requireCluster, waitFor } from './support/cluster';

const hosts = ['127.0.0.1', 'localhost'];

interface StoredSecret {
  type: string;
  resourceVersion: string;
  annotations: Record<string, string>;
  data: Record<string, string>;
}

async function readSecret(namespace: string, name: string): Promise<StoredSecret> {
  const res = await kubectl(['get', 'secret', name, '-o', 'json'], { namespace });
  const secret = JSON.parse(res.stdout) as { type: string; metadata: { resourceVersion: string; annotations?: Record<string, string> }; data: Record<string, string> };
  const data = Object.fromEntries(Object.entries(secret.data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  return { type: secret.type, resourceVersion: secret.metadata.resourceVersion, annotations: secret.metadata.annotations ?? {}, data };
}

/** A logger whose JSON lines the test can read. */
function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger('info', { write: (line: string) => void lines.push(line) }), lines };
}

function subject(pem: string): string {
  return new X509Certificate(pem).subject;
}

function signedBy(certPem: string, caPem: string): boolean {
  return new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
}

function notAfterSeconds(pem: string): number {
  return Date.parse(new X509Certificate(pem).validTo) / 1000;
}

async function metric(registry: Registry, name: string, certificate: string): Promise<number | undefined> {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((value) => value.labels.certificate === certificate)?.value;
}

describe('webhook certificates (real control plane)', () => {
  let namespace = '';
  let client: KubeClient;
  const started: WebhookCertificates[] = [];

  function certificates(secretName: string, options: Partial<WebhookCertificatesOptions> = {}): WebhookCertificates {
    const certs = new WebhookCertificates({ client, namespace, secretName, hosts, log: createLogger('warn'), ...options });
    started.push(certs);
    return certs;
  }

  before(async () => {
    await requireCluster();
    // Stands in for the operator's namespace.
    namespace = await createTestNamespace('webhook-certs');
    process.env.KUBECONFIG = kubeconfigPath();
    client = KubeClient.fromDefault();
  });

  after(async () => {
    for (const certs of started) certs.stop();
    if (namespace) await deleteNamespace(namespace);
  });

  it('creates the Secret once and shares it between replicas', async () => {
    const [a, b] = [certificates('shared'), certificates('shared')];
    const [fromA, fromB] = await Promise.all([a.load(), b.load()]);
    assert.deepEqual(fromA, fromB, 'both replicas serve the same certificate');

    const stored = await readSecret(namespace, 'shared');
    assert.equal(stored.type, 'kubernetes.io/tls');
    assert.deepEqual(Object.keys(stored.data).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    assert.equal(stored.data['tls.crt'], fromA.certPem);
    assert.equal(stored.data['ca.crt'], fromA.caBundlePem);
    assert.ok(signedBy(fromA.certPem, fromA.caBundlePem));
    const serving = new X509Certificate(fromA.certPem);
    assert.ok(serving.checkIP('127.0.0.1') && serving.checkHost('localhost'));
    const lifeDays = (Date.parse(serving.validTo) - Date.parse(serving.validFrom)) / 86_400_000;
    const caLifeDays = (notAfterSeconds(fromA.caBundlePem) * 1000 - Date.now()) / 86_400_000;
    console.log(`defaults: serving certificate ${lifeDays.toFixed(2)} days (with 5 min backdate), CA ${(caLifeDays / 365).toFixed(2)} years left`);
    assert.ok(Math.abs(lifeDays - 365) < 0.01 && Math.abs(caLifeDays - 3650) < 1);

    // A third replica starting later reads it and writes nothing.
    const c = certificates('shared');
    assert.deepEqual(await c.load(), fromA);
    assert.deepEqual(await c.rotateIfDue(), [], 'nothing is due');
    assert.equal((await readSecret(namespace, 'shared')).resourceVersion, stored.resourceVersion, 'the Secret was not written again');
  });

  it('renews the serving certificate when due, keeps the CA, logs and records it without key material', async () => {
    const { log, lines } = capturingLogger();
    const events = new EventRecorder(client, 'securestack-webhook', 'test');
    const leader = certificates('serving-renewal', { log, events, servingValidityMs: 6_000, propagationDelayMs: 2_000, refreshIntervalMs: 300 });
    const follower = certificates('serving-renewal', { propagationDelayMs: 2_000, refreshIntervalMs: 300 });
    const first = await leader.load();
    await follower.load();
    follower.start();
    const seen: WebhookCertificateMaterial[] = [];
    follower.onChange((material) => seen.push(material));

    // Due once a third of the lifetime is left: about 3.8 s after issue for 6 s backdated by 0.6 s
    // (certificate times have whole seconds, so the exact point is read from the certificate).
    const window = new X509Certificate(first.certPem);
    const [from, to] = [Date.parse(window.validFrom), Date.parse(window.validTo)];
    const due = to - (to - from) / 3;
    let steps: RotationStep[] = [];
    while (steps.length === 0) {
      assert.ok(Date.now() < to, 'renewed before the certificate expired');
      await sleep(100);
      steps = await leader.rotateIfDue();
    }
    const lateMs = Math.round(Date.now() - due);
    console.log(`serving certificate (${(to - from) / 1000} s incl. backdate) renewed ${lateMs} ms after it became due, ${to - Date.now()} ms before expiry`);
    assert.deepEqual(steps, ['serving-renewed']);
    assert.ok(lateMs >= 0 && lateMs < 1_000, `renewed ${lateMs} ms after due`);

    const renewed = leader.current();
    assert.notEqual(renewed.certPem, first.certPem);
    assert.equal(renewed.caBundlePem, first.caBundlePem, 'the CA is kept');
    assert.ok(signedBy(renewed.certPem, first.caBundlePem));
    const stored = await readSecret(namespace, 'serving-renewal');
    assert.equal(stored.data['tls.crt'], renewed.certPem);
    assert.equal(stored.data['ca.crt'], first.caBundlePem);
    assert.equal(stored.data['ca-previous.crt'], undefined);

    await waitFor('the follower to re-read the renewed certificate', () => Promise.resolve(seen.length > 0 ? true : undefined), { timeoutMs: 2_000, intervalMs: 50 });
    assert.deepEqual(seen.at(-1), renewed);

    // A host the certificate does not cover: renewed at once.
    const moreHosts = certificates('serving-renewal', { log, hosts: [...hosts, 'webhook.securestack-system.svc'], servingValidityMs: 6_000, propagationDelayMs: 2_000, refreshIntervalMs: 300 });
    await moreHosts.load();
    assert.deepEqual(await moreHosts.rotateIfDue(), ['serving-renewed']);
    assert.ok(new X509Certificate(moreHosts.current().certPem).checkHost('webhook.securestack-system.svc'));

    const rotationLines = lines.filter((line) => line.includes('rotated webhook certificates'));
    assert.equal(rotationLines.length, 2);
    for (const line of rotationLines) {
      const entry = JSON.parse(line) as { level: string; secret: string; steps: string[] };
      assert.equal(entry.level, 'info');
      assert.equal(entry.secret, `${namespace}/serving-renewal`);
    }
    const keyBodies = [first.keyPem, renewed.keyPem].map((pem) => pem.split('\n')[1] ?? '');
    for (const line of lines) {
      assert.doesNotMatch(line, /PRIVATE KEY/);
      for (const body of keyBodies) assert.ok(!line.includes(body), 'no key material in logs');
    }
    const recorded = await waitFor('a CertificateRotated Event on the Secret', async () => {
      const res = await kubectl(['get', 'events', '--field-selector', 'involvedObject.kind=Secret,involvedObject.name=serving-renewal,reason=CertificateRotated', '-o', 'json'], { namespace });
      const items = (JSON.parse(res.stdout) as { items: { message: string }[] }).items;
      return items.length > 0 ? items : undefined;
    });
    assert.match(recorded[0]?.message ?? '', /serving-renewed/);
  });

  it('rotates the CA in three steps: add to the bundle, re-issue the serving certificate, drop the old CA', async () => {
    const registry = new Registry();
    // A simulated clock from a whole second: certificate times have whole seconds.
    const t0 = Math.ceil(Date.now() / 1000) * 1000;
    const at = (seconds: number): Date => new Date(t0 + seconds * 1000);
    // CA 60 s (due when 22 s are left: at 38 s), serving 30 s (due at 19 s), propagation 5 s.
    const options = { caValidityMs: 60_000, servingValidityMs: 30_000, propagationDelayMs: 5_000, refreshIntervalMs: 1_000, registry };
    const leader = certificates('ca-rotation', options);
    const follower = certificates('ca-rotation', options);
    const initial = await leader.load(at(0));
    await follower.load();
    const ca1 = initial.caBundlePem;
    const stored = (): Promise<StoredSecret> => readSecret(namespace, 'ca-rotation');
    const bundle = (): string[] => splitPemBundle(leader.current().caBundlePem);
    const followerAgrees = async (): Promise<void> => {
      await follower.refresh();
      assert.deepEqual(follower.current(), leader.current(), 'the follower reads the same state');
    };

    assert.deepEqual(await leader.rotateIfDue(at(1)), []);
    assert.deepEqual(await leader.rotateIfDue(at(20)), ['serving-renewed'], 'a serving renewal before the CA is due');
    assert.deepEqual(bundle(), [ca1]);

    // (a) the new CA joins the bundle; the serving certificate stays with the old CA.
    assert.deepEqual(await leader.rotateIfDue(at(38.5)), ['ca-added']);
    const [ca2, old] = bundle();
    assert.ok(ca2 && old === ca1 && ca2 !== ca1, 'bundle = [new CA, old CA]');
    assert.notEqual(subject(ca2), subject(ca1), 'each CA has its own subject');
    assert.ok(signedBy(leader.current().certPem, ca1));
    let secret = await stored();
    assert.equal(secret.data['ca.crt'], ca2);
    assert.equal(secret.data['ca-previous.crt'], ca1);
    assert.ok(secret.data['ca-previous.key']);
    assert.equal(secret.annotations['securestack.io/ca-added-at'], at(38.5).toISOString());
    await followerAgrees();
    assert.equal(await metric(registry, 'securestack_webhook_certificate_expiry_timestamp_seconds', 'ca'), notAfterSeconds(ca1), 'ca gauge: the earlier-expiring CA');

    // Due again while the new CA propagates: renewed by the old CA, which everyone trusts.
    assert.deepEqual(await leader.rotateIfDue(at(40)), ['serving-renewed']);
    assert.ok(signedBy(leader.current().certPem, ca1));
    assert.equal(Date.parse(new X509Certificate(leader.current().certPem).validTo) / 1000, notAfterSeconds(ca1), 'capped at the old CA expiry');
    assert.deepEqual(await leader.rotateIfDue(at(42)), [], 'the bundle has been published for 3.5 s only');

    // (b) after the propagation delay: re-issued by the new CA, both CAs still trusted.
    assert.deepEqual(await leader.rotateIfDue(at(44)), ['serving-reissued']);
    assert.ok(signedBy(leader.current().certPem, ca2) && !signedBy(leader.current().certPem, ca1));
    assert.deepEqual(bundle(), [ca2, ca1]);
    secret = await stored();
    assert.equal(secret.annotations['securestack.io/serving-reissued-at'], at(44).toISOString());
    await followerAgrees();
    assert.deepEqual(await leader.rotateIfDue(at(46)), [], 'replicas may still serve the old-CA certificate');

    // (c) once no old-CA certificate can be in use: the old CA is dropped.
    assert.deepEqual(await leader.rotateIfDue(at(49.5)), ['ca-dropped']);
    assert.deepEqual(bundle(), [ca2]);
    secret = await stored();
    assert.deepEqual(Object.keys(secret.data).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    assert.equal(secret.annotations['securestack.io/ca-added-at'], undefined);
    assert.equal(secret.annotations['securestack.io/serving-reissued-at'], undefined);
    await followerAgrees();
    assert.deepEqual(await leader.rotateIfDue(at(50)), []);

    const gauge = (name: string): Promise<number | undefined> => metric(registry, 'securestack_webhook_certificate_expiry_timestamp_seconds', name);
    assert.equal(await gauge('ca'), notAfterSeconds(ca2));
    assert.equal(await gauge('serving'), notAfterSeconds(leader.current().certPem));
    const rotations = (name: string): Promise<number | undefined> => metric(registry, 'securestack_webhook_certificate_rotations_total', name);
    assert.equal(await rotations('ca'), 1);
    assert.equal(await rotations('serving'), 3, 'renewed at 20 s and 40 s, re-issued at 44 s');
    console.log(`metrics after the rotation: ${(await registry.metrics()).split('\n').filter((line) => line.startsWith('securestack_webhook')).join('; ')}`);
  });

  it('keeps a TLS server answering a client that trusts only the published bundle through a full CA and serving rotation', async (t) => {
    // Real time: CA 16 s (due with 5.9 s left, at ~10 s), serving 5 s (renewed every ~3.2 s),
    // propagation 1.5 s, replicas re-read every 200 ms, the client gets the bundle 500 ms late.
    const options = { caValidityMs: 16_000, servingValidityMs: 5_000, propagationDelayMs: 1_500, refreshIntervalMs: 200 };
    const leader = certificates('tls-rotation', options);
    const follower = certificates('tls-rotation', options);
    await leader.load();
    await follower.load();
    follower.start();
    const firstCa = leader.current().caBundlePem;

    const servers: Server[] = [];
    t.after(() => {
      for (const server of servers) server.close();
    });
    for (const certs of [leader, follower]) {
      const { certPem, keyPem } = certs.current();
      const server = createServer({ cert: certPem, key: keyPem }, (_req, res) => res.end('ok'));
      certs.onChange((material) => server.setSecureContext({ cert: material.certPem, key: material.keyPem }));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
    }
    const ports = servers.map((server) => (server.address() as AddressInfo).port);

    // The API server learns the bundle from the webhook configuration the leader writes.
    let trusted = leader.current().caBundlePem;
    leader.onChange((material) => void sleep(500).then(() => (trusted = material.caBundlePem)));

    const steps: string[] = [];
    let rotating = true;
    const rotation = (async () => {
      while (rotating) {
        for (const step of await leader.rotateIfDue()) steps.push(step);
        await sleep(100);
      }
    })();

    const failures: string[] = [];
    const servingCerts = new Set<string>();
    const issuers = new Set<string>();
    let sent = 0;
    const start = Date.now();
    try {
      while (Date.now() - start < 16_000 && sent < 5_000) {
        const port = ports[sent % ports.length] ?? 0;
        sent++;
        try {
          const peer = await get(port, trusted);
          servingCerts.add(peer.fingerprint256);
          issuers.add(peer.issuer);
        } catch (err) {
          failures.push(`${Date.now() - start} ms, port ${port}: ${err instanceof Error ? err.message : String(err)}`);
        }
        await sleep(10);
      }
    } finally {
      rotating = false;
      await rotation;
    }
    console.log(`${sent} requests over ${Date.now() - start} ms to 2 replicas, ${failures.length} failures; ${servingCerts.size} serving certificates seen from ${issuers.size} CAs; leader steps: ${steps.join(', ')}`);
    assert.deepEqual(failures, []);
    assert.ok(sent >= 300, `a steady stream of requests (${sent})`);
    const rotationSteps = steps.filter((step) => step !== 'serving-renewed');
    assert.deepEqual(rotationSteps, ['ca-added', 'serving-reissued', 'ca-dropped'], `add -> re-issue -> drop in order: ${steps.join(', ')}`);
    assert.ok(steps.filter((step) => step === 'serving-renewed').length >= 2, 'serving renewals too');
    assert.ok(servingCerts.size >= 4 && issuers.size === 2, 'the client really saw the rotations');

    // The check has teeth: a client still trusting only the first CA is now refused.
    await assert.rejects(get(ports[0] ?? 0, firstCa), /signature|unable to verify|certificate/);
  });

  it('in cert-manager mode only reads the Secret, never writes it', async () => {
    const registry = new Registry();
    const external = certificates('issued-by-cert-manager', { selfManaged: false, registry, refreshIntervalMs: 200 });
    await assert.rejects(external.load(), /no usable tls\.crt, tls\.key and ca\.crt/);
    const missing = await kubectl(['get', 'secret', 'issued-by-cert-manager'], { namespace, allowFail: true });
    assert.notEqual(missing.code, 0, 'a missing Secret is not created');

    // What cert-manager writes: tls.crt, tls.key and ca.crt (no CA key). Short-lived on purpose.
    const ca = await createCaValidFor('cert-manager-ca', 60_000);
    const serving = await issueServingCertValidFor(ca, hosts, 2_000);
    const manifest = (cert: { certPem: string; keyPem: string }): string => JSON.stringify({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
      metadata: { name: 'issued-by-cert-manager', namespace },
      data: { 'tls.crt': b64(cert.certPem), 'tls.key': b64(cert.keyPem), 'ca.crt': b64(ca.certPem) },
    });
    await kubectl(['create', '-f', '-'], { input: manifest(serving) });
    const before = await readSecret(namespace, 'issued-by-cert-manager');

    // Self-managed mode pointed at it by mistake: refuses instead of replacing cert-manager's CA.
    const mistaken = certificates('issued-by-cert-manager');
    await assert.rejects(mistaken.load(), /was not created by SecureStack/);
    await assert.rejects(mistaken.rotateIfDue(), /was not created by SecureStack/);

    assert.deepEqual(await external.load(), { certPem: serving.certPem, keyPem: serving.keyPem, caBundlePem: ca.certPem });
    await sleep(2_100);
    assert.deepEqual(await external.rotateIfDue(), [], 'nothing rotated even with the certificate expired');
    assert.deepEqual(await external.rotateIfDue(new Date(Date.now() + 365 * 86_400_000)), []);
    const afterRotate = await readSecret(namespace, 'issued-by-cert-manager');
    assert.equal(afterRotate.resourceVersion, before.resourceVersion, 'never written');
    assert.deepEqual(Object.keys(afterRotate.data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    assert.equal(await metric(registry, 'securestack_webhook_certificate_expiry_timestamp_seconds', 'serving'), notAfterSeconds(serving.certPem));

    // cert-manager renews: every replica picks it up on its timer.
    const changes: WebhookCertificateMaterial[] = [];
    external.onChange((material) => changes.push(material));
    external.start();
    const renewed = await issueServingCertValidFor(ca, hosts, 30_000);
    await kubectl(['replace', '-f', '-'], { input: manifest(renewed) });
    await waitFor('the renewed certificate', () => Promise.resolve(changes.length > 0 ? true : undefined), { timeoutMs: 3_000, intervalMs: 50 });
    assert.equal(external.current().certPem, renewed.certPem);
    assert.equal(await metric(registry, 'securestack_webhook_certificate_rotations_total', 'serving'), undefined, 'rotations are cert-manager\'s, not counted here');
  });
});

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** One HTTPS GET on a fresh connection (no agent, no session reuse), trusting only `ca`. */
function get(port: number, ca: string): Promise<{ fingerprint256: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', ca, agent: false, timeout: 5_000 }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve({ fingerprint256: peer.fingerprint256, issuer: String(peer.issuer.CN) }) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
