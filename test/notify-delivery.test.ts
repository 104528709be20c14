// Signed notifications against a REAL HTTPS receiver on 127.0.0.1 that verifies every signature
// (test/support/webhook-receiver.ts): delivered; receiver down then up (retried, delivered once by
// id); a slow receiver (timeout, retry; publish never blocked); Retry-After honoured; a URL in
// the metadata range, and a name resolving there, refused with a clear reason and an alert; an
// untrusted certificate refused. No control plane: the notifier runs without a durable store here
// (test/notify-durability.test.ts covers that on the real plane). Every wait is bounded.
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { Writable } from 'node:stream';
import { after, afterEach, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createLogger } from '../operator/platform/log';
import { guardedLookup } from '../operator/features/notify/address-guard';
import type { NotificationEvent } from '../operator/features/notify/events';
import { StaticKeys } from '../operator/features/notify/keys';
import { createNotifyMetrics } from '../operator/features/notify/metrics';
import { WebhookNotifier, payloadOf, type NotifierOptions } from '../operator/features/notify/notifier';
import { parseReceivers } from '../operator/features/notify/receivers';
import { decodeSigningKey, deliveryId } from '../operator/features/notify/signing';
import { receiverCertificates, startTestReceiver, type TestReceiver } from './support/webhook-receiver';

const key = decodeSigningKey(Buffer.alloc(32, 42).toString('base64'));

async function waitUntil(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function event(n: number, type: NotificationEvent['type'] = 'scan.completed'): NotificationEvent {
  return {
    type,
    subject: { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', namespace: 'team-a', name: `web-${n}`, uid: `uid-${n}` },
    occurredAt: new Date().toISOString(),
    dedupeKey: `imagescan/uid-${n}/completed`,
    data: { image: `registry.local/web:${n}`, summary: { critical: 0, high: 1 } },
  };
}

interface Harness {
  notifier: WebhookNotifier;
  registry: Registry;
  logs: Array<Record<string, unknown>>;
  alerts: Array<{ receiver: string; message: string }>;
  metric: (name: string, labels?: Record<string, string>) => Promise<number>;
}

const running: WebhookNotifier[] = [];
const receivers: TestReceiver[] = [];

function harness(receiver: Record<string, unknown>, overrides: Partial<NotifierOptions> = {}): Harness {
  const registry = new Registry();
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const alerts: Array<{ receiver: string; message: string }> = [];
  const parsed = parseReceivers(JSON.stringify([{ name: 'test', events: ['*'], secret: { name: 'test-key' }, ...receiver }]));
  const notifier = new WebhookNotifier({
    receivers: parsed,
    keys: new StaticKeys(new Map([['test', key]])),
    log: createLogger('debug', sink),
    metrics: createNotifyMetrics(registry),
    queueSize: 1_000,
    timeoutMs: 2_000,
    maxAttempts: 10,
    backoff: { baseMs: 50, capMs: 400 },
    concurrency: 4,
    maxBodyBytes: 64 * 1024,
    alert: (name, message) => alerts.push({ receiver: name, message }),
    ...overrides,
  });
  running.push(notifier);
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    // A histogram's _count, _sum and _bucket series live under the histogram's own name.
    const base = registry.getSingleMetric(name) ? name : name.replace(/_(count|sum|bucket)$/, '');
    const found = await registry.getSingleMetric(base)?.get();
    return (found?.values ?? []).filter((value) => base === name || (value as { metricName?: string }).metricName === name).filter((value) => Object.entries(labels).every(([label, expected]) => value.labels[label] === expected)).reduce((sum, value) => sum + value.value, 0);
  };
  return { notifier, registry, logs, alerts, metric };
}

async function receiver(options: Parameters<typeof startTestReceiver>[1] = {}): Promise<TestReceiver> {
  const started = await startTestReceiver(key, options);
  receivers.push(started);
  return started;
}

describe('webhook delivery to a real HTTPS receiver', () => {
  afterEach(async () => {
    for (const notifier of running.splice(0)) await notifier.stop();
    for (const started of receivers.splice(0)) await started.stop();
  });
  after(() => undefined);

  it('delivers a signed JSON body the receiver verifies, with the delivery id derived from the dedupe key', async () => {
    const target = await receiver();
    const { notifier, metric } = harness({ url: target.url, caBundle: target.ca.certPem });
    const published = event(1);
    notifier.publish(published);
    await waitUntil('one delivery', () => target.requests.length === 1);
    const [request] = target.requests;
    assert.ok(request);
    assert.equal(request.verified, true, 'the signature verifies at the receiver');
    assert.equal(request.id, deliveryId('test', published.dedupeKey));
    assert.deepEqual(JSON.parse(request.body), payloadOf(published));
    assert.ok(Math.abs(request.timestamp - Date.now() / 1000) < 5, 'webhook-timestamp is the attempt time');
    await waitUntil('the delivered metric', () => notifier.pending === 0);
    assert.equal(await metric('securestack_notify_deliveries_total', { receiver: 'test', result: 'delivered' }), 1);
    assert.equal(await metric('securestack_notify_attempts_total', { result: 'delivered' }), 1);
    assert.equal(await metric('securestack_notify_delivery_latency_seconds_count', { receiver: 'test' }), 1);
    assert.equal(await metric('securestack_notify_queue_depth'), 0);

    // The same logical event published again (a re-reconcile, another replica's view) is not sent twice.
    notifier.publish({ ...published, occurredAt: new Date().toISOString() });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(target.requests.length, 1);
    assert.equal(await metric('securestack_notify_deduplicated_total', { receiver: 'test' }), 1);
  });

  it('only sends the event types a receiver asked for', async () => {
    const target = await receiver();
    const { notifier } = harness({ url: target.url, caBundle: target.ca.certPem, events: ['scan.failed'] });
    notifier.publish(event(1, 'scan.completed'));
    notifier.publish(event(2, 'scan.failed'));
    await waitUntil('the scan.failed delivery', () => target.requests.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(target.requests.map((request) => (JSON.parse(request.body) as { type: string }).type), ['scan.failed']);
  });

  it('receiver down, then up: retried with back-off and delivered exactly once per id', async () => {
    const target = await receiver({ listen: false });
    const { notifier, metric, logs } = harness({ url: target.url, caBundle: target.ca.certPem });
    for (let n = 0; n < 5; n++) notifier.publish(event(n));
    // Every delivery is tried and fails to connect (bounded wait, polled through the metric).
    let failedAttempts = 0;
    for (const deadline = Date.now() + 10_000; failedAttempts < 5 && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
      failedAttempts = await metric('securestack_notify_attempts_total', { result: 'network' });
    }
    assert.ok(failedAttempts >= 5, `every delivery was tried and failed to connect (${failedAttempts})`);
    assert.ok(logs.some((line) => line.msg === 'webhook delivery failed; retrying with back-off'));
    assert.equal(notifier.pending, 5, 'nothing is lost while the receiver is down');
    await target.start();
    await waitUntil('all five delivered', () => notifier.pending === 0, 10_000);
    const counts = target.countById();
    assert.equal(counts.size, 5);
    for (const [id, count] of counts) assert.equal(count, 1, `${id} arrived once`);
    assert.ok(target.requests.every((request) => request.verified));
    assert.equal(await metric('securestack_notify_deliveries_total', { result: 'delivered' }), 5);
  });

  it('a slow receiver: the attempt times out and is retried; publish() and the event loop are never blocked', async () => {
    const target = await receiver();
    // The first request per id is answered after 1.5 s, past the 300 ms attempt timeout.
    target.behaviour.delayMs = (_id, seen) => (seen === 1 ? 1_500 : 0);
    const { notifier, metric } = harness({ url: target.url, caBundle: target.ca.certPem }, { timeoutMs: 300 });
    const started = process.hrtime.bigint();
    for (let n = 0; n < 40; n++) notifier.publish(event(n));
    const publishMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(publishMs < 100, `40 publishes took ${publishMs.toFixed(1)} ms`);
    // While attempts hang on the receiver, the event loop keeps turning.
    let worstLagMs = 0;
    let last = Date.now();
    const ticker = setInterval(() => {
      worstLagMs = Math.max(worstLagMs, Date.now() - last - 10);
      last = Date.now();
    }, 10);
    try {
      await waitUntil('every delivery after its retry', () => notifier.pending === 0, 60_000);
    } finally {
      clearInterval(ticker);
    }
    assert.ok(worstLagMs < 250, `event loop lag ${worstLagMs} ms`);
    assert.ok((await metric('securestack_notify_attempts_total', { result: 'timeout' })) >= 1, 'timeouts counted');
    const counts = target.countById();
    assert.equal(counts.size, 40, 'every id reached the receiver');
    // At least once: an attempt that timed out may have reached the receiver too; ids make that visible.
    assert.ok([...counts.values()].every((count) => count >= 1 && count <= 3), 'each id at most a few times');
  });

  it('honours Retry-After from a 503', async () => {
    const target = await receiver();
    target.behaviour.answer = (_id, seen) => (seen === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 });
    const { notifier, metric } = harness({ url: target.url, caBundle: target.ca.certPem }, { backoff: { baseMs: 50, capMs: 5_000 } });
    notifier.publish(event(1));
    await waitUntil('the second attempt', () => target.requests.length === 2, 10_000);
    const [first, second] = target.requests;
    assert.ok(first && second);
    const gap = second.receivedAt - first.receivedAt;
    assert.ok(gap >= 900, `waited ${gap} ms, Retry-After said 1 s (back-off alone would be ~50 ms)`);
    assert.equal(await metric('securestack_notify_attempts_total', { result: 'http_error' }), 1);
    await waitUntil('delivered', () => notifier.pending === 0);
  });

  it('gives up after maxAttempts and counts it as failed', async () => {
    const target = await receiver();
    target.behaviour.answer = () => ({ status: 500 });
    const { notifier, metric } = harness({ url: target.url, caBundle: target.ca.certPem }, { maxAttempts: 3 });
    notifier.publish(event(1));
    await waitUntil('given up', () => notifier.pending === 0, 10_000);
    assert.equal(target.requests.length, 3);
    assert.equal(await metric('securestack_notify_deliveries_total', { result: 'failed' }), 1);
  });

  it('a URL in the metadata range is refused with a clear reason, an alert and a metric, and never connected', async () => {
    const { notifier, metric, alerts, logs } = harness({ url: 'https://169.254.169.254/latest/meta-data/' });
    assert.match(alerts[0]?.message ?? '', /169\.254\.169\.254 is in the cloud metadata service.*allowAddresses/, 'said at start');
    notifier.publish(event(1));
    await waitUntil('the refusal', () => notifier.pending === 0);
    assert.equal(await metric('securestack_notify_deliveries_total', { result: 'refused' }), 1);
    assert.equal(await metric('securestack_notify_attempts_total', { result: 'refused' }), 1);
    assert.ok(logs.some((line) => line.msg === 'webhook receiver cannot be used' && /metadata/.test(String(line.reason))));
  });

  it('a name that RESOLVES to the metadata address is refused at connect time (DNS rebinding)', async () => {
    const target = await receiver();
    // The name first resolves to the receiver, then (as a rebinding DNS server would) to metadata.
    let answers = ['127.0.0.1'];
    const lookup = guardedLookup([], (_hostname, _options, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
      callback(null, answers.map((address) => ({ address, family: 4 })));
    });
    const url = `https://localhost:${target.port}/hooks`;
    const { notifier, metric, alerts } = harness({ url, caBundle: target.ca.certPem }, { lookup, concurrency: 1 });
    notifier.publish(event(1));
    await waitUntil('the first delivery', () => target.requests.length === 1);
    await waitUntil('idle', () => notifier.pending === 0);
    answers = ['169.254.169.254'];
    // A new connection must resolve again: drop the kept-alive one by waiting it out is slow, so
    // publish to a fresh notifier with the same lookup.
    const second = harness({ url, caBundle: target.ca.certPem }, { lookup });
    second.notifier.publish(event(2));
    await waitUntil('the refusal', () => second.notifier.pending === 0);
    assert.equal(target.requests.length, 1, 'nothing reached the receiver after the rebinding');
    assert.equal(await second.metric('securestack_notify_deliveries_total', { result: 'refused' }), 1);
    assert.match(second.alerts[0]?.message ?? '', /localhost: address 169\.254\.169\.254 is in the cloud metadata service/);
    assert.equal(await metric('securestack_notify_deliveries_total', { result: 'delivered' }), 1);
    assert.equal(alerts.length, 0);
  });

  it('an untrusted certificate is refused (TLS verified), and nothing reaches the receiver', async () => {
    const target = await receiver();
    const other = await receiverCertificates();
    const { notifier, metric, logs } = harness({ url: target.url, caBundle: other.ca.certPem }, { maxAttempts: 2 });
    notifier.publish(event(1));
    await waitUntil('given up', () => notifier.pending === 0, 10_000);
    assert.equal(target.requests.length, 0);
    assert.equal(await metric('securestack_notify_attempts_total', { result: 'tls' }), 2);
    assert.ok(logs.some((line) => /TLS verification failed/.test(String(line.reason))), 'the reason names TLS');
    // Without any bundle the test CA is not trusted either (Node's default CAs only).
    const bare = harness({ url: target.url }, { maxAttempts: 1 });
    bare.notifier.publish(event(2));
    await waitUntil('given up', () => bare.notifier.pending === 0, 10_000);
    assert.equal(await bare.metric('securestack_notify_attempts_total', { result: 'tls' }), 1);
    assert.equal(target.requests.length, 0);
  });

  it('a receiver without a usable key keeps its deliveries until the key comes', async () => {
    const target = await receiver();
    const keys = new Map<string, Buffer>();
    const { notifier, metric } = harness({ url: target.url, caBundle: target.ca.certPem }, { keys: new StaticKeys(keys) });
    notifier.publish(event(1));
    await waitUntil('an unusable attempt', () => notifier.pending === 1 && target.requests.length === 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok((await metric('securestack_notify_attempts_total', { result: 'unusable' })) >= 1);
    keys.set('test', key);
    notifier.keyChanged('test', undefined);
    await waitUntil('delivered once the key is there', () => notifier.pending === 0);
    assert.equal(target.requests.length, 1);
    assert.equal(await metric('securestack_notify_receiver_usable', { receiver: 'test' }), 1);
  });

  it('a full queue drops the oldest, with a metric and a log line', async () => {
    const target = await receiver({ listen: false });
    const { notifier, metric, logs } = harness({ url: target.url, caBundle: target.ca.certPem }, { queueSize: 3, backoff: { baseMs: 5_000, capMs: 5_000 } });
    for (let n = 0; n < 5; n++) notifier.publish(event(n));
    assert.equal(notifier.pending, 3);
    assert.equal(await metric('securestack_notify_dropped_total', { reason: 'overflow' }), 2);
    assert.ok(logs.some((line) => /queue full/.test(String(line.msg))));
  });
});

describe('the batch writer', () => {
  afterEach(async () => {
    for (const notifier of running.splice(0)) await notifier.stop();
    for (const started of receivers.splice(0)) await started.stop();
  });

  it('writes in batches, off the delivery path; a failing store neither stops deliveries nor the process, and is not a log storm', async () => {
    const target = await receiver();
    let saves = 0;
    let failing = true;
    const snapshots: number[] = [];
    const store = {
      loadOwn: () => Promise.resolve([]),
      save: async (deliveries: readonly unknown[]) => {
        saves++;
        snapshots.push(deliveries.length);
        await new Promise((resolve) => setTimeout(resolve, 30));
        if (failing) throw new Error('configmaps is forbidden');
        return deliveries.length;
      },
      adoptStale: () => Promise.resolve([]),
      release: () => Promise.resolve(),
    };
    const { notifier, metric, logs } = harness({ url: target.url, caBundle: target.ca.certPem }, { store, flushIntervalMs: 50, heartbeatMs: 60_000 });
    await notifier.start();
    for (let n = 0; n < 100; n++) notifier.publish(event(n));
    await waitUntil('all delivered while the store fails', () => notifier.pending === 0, 20_000);
    assert.equal(target.countById().size, 100);
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.ok((await metric('securestack_notify_persist_total', { result: 'error' })) >= 2);
    assert.ok(saves < 30, `${saves} writes for 100 events: batched, and spaced out after failures`);
    assert.equal(logs.filter((line) => line.msg === 'could not persist pending webhook deliveries; retrying' && line.level === 'warn').length, 1, 'one warning, then debug');
    failing = false;
    await waitUntil('a successful write of the empty set', () => snapshots.length > 0 && snapshots[snapshots.length - 1] === 0 && saves > 0 && !failing, 40_000);
    await waitUntil('the success counted', () => logs.some((line) => line.msg === 'pending webhook deliveries persisted again'), 40_000);
  });
});
