/**
 * bench/notify: webhook delivery latency, from publish() to the receiver reading the request, with
 * the receiver up (issue 11: p99 ≤ 1 s).
 *
 * The notifier is the production one (operator/features/notify/notifier.ts) with its durable
 * store writing this process's shard ConfigMap to the test plane's API server every 250 ms, as a
 * replica does; the receiver is a real HTTPS server verifying every signature, in a CHILD process
 * (so its work does not share the notifier's event loop); both stamp times with
 * performance.timeOrigin + performance.now() on the same machine.
 *
 * Phases: events paced at SECURESTACK_BENCH_RATE per second (default 200) for
 * SECURESTACK_BENCH_EVENTS events (default 2,000), then the same number published in one burst.
 *
 *   bash bench/notify.sh
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { KubeClient } from '../operator/platform/kube/client';
import { createLogger } from '../operator/platform/log';
import type { NotificationEvent } from '../operator/features/notify/events';
import { StaticKeys } from '../operator/features/notify/keys';
import { createNotifyMetrics } from '../operator/features/notify/metrics';
import { WebhookNotifier } from '../operator/features/notify/notifier';
import { parseReceivers } from '../operator/features/notify/receivers';
import { ConfigMapDeliveryStore } from '../operator/features/notify/shards';
import { deliveryId } from '../operator/features/notify/signing';
import { createTestNamespace, deleteNamespace, kubeconfigPath } from '../test/support/cluster';
import { receiverCertificates, startTestReceiver } from '../test/support/webhook-receiver';

const events = Number(process.env.SECURESTACK_BENCH_EVENTS ?? 2_000);
const rate = Number(process.env.SECURESTACK_BENCH_RATE ?? 200);
const now = (): number => performance.timeOrigin + performance.now();

type FromParent = { kind: 'start'; key: string; certificates: Awaited<ReturnType<typeof receiverCertificates>> } | { kind: 'collect' };
type FromChild = { kind: 'started'; port: number } | { kind: 'results'; received: Array<[string, number, boolean]> };

/** The receiver side, in the child: answers 204 and remembers the first arrival per id. */
async function receiverMain(): Promise<void> {
  const first = new Map<string, number>();
  const send = (reply: FromChild): boolean => process.send?.(reply) ?? false;
  process.on('message', (message: FromParent) => {
    if (message.kind === 'start') {
      void startTestReceiver(Buffer.from(message.key, 'base64'), { certificates: message.certificates }).then((receiver) => {
        // Stamped as the request reaches the app (headers read), before the body and signature check.
        receiver.behaviour.onRequest = (id) => {
          if (!first.has(id)) first.set(id, now());
        };
        process.on('message', (next: FromParent) => {
          if (next.kind !== 'collect') return;
          const verified = new Map<string, boolean>();
          for (const request of receiver.requests) verified.set(request.id, (verified.get(request.id) ?? false) || request.verified);
          send({ kind: 'results', received: [...first].map(([id, at]) => [id, at, verified.get(id) ?? false]) });
        });
        send({ kind: 'started', port: receiver.port });
      });
    }
  });
  await new Promise<never>(() => undefined);
}

function waitForMessage<T extends FromChild['kind']>(child: ChildProcess, kind: T): Promise<Extract<FromChild, { kind: T }>> {
  return new Promise((resolve) => {
    const listener = (message: FromChild): void => {
      if (message.kind !== kind) return;
      child.off('message', listener);
      resolve(message as Extract<FromChild, { kind: T }>);
    };
    child.on('message', listener);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function event(phase: string, n: number): NotificationEvent {
  return {
    type: 'scan.completed',
    subject: { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', namespace: 'bench', name: `scan-${n}`, uid: `${phase}-${n}` },
    occurredAt: new Date().toISOString(),
    dedupeKey: `bench/${phase}/${n}`,
    data: { image: `registry.local/app:${n}`, summary: { critical: 0, high: 2, medium: 5, low: 9, unknown: 0, fixable: 4 } },
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === 'receiver') return receiverMain();
  const key = randomBytes(32);
  const certificates = await receiverCertificates();
  const child = fork(__filename, ['receiver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const started = waitForMessage(child, 'started');
  child.send({ kind: 'start', key: key.toString('base64'), certificates } satisfies FromParent);
  const { port } = await started;

  const namespace = await createTestNamespace('bench-notify');
  const client = KubeClient.fromFile(kubeconfigPath());
  const registry = new Registry();
  const metrics = createNotifyMetrics(registry);
  const store = new ConfigMapDeliveryStore({ client, namespace, identity: `bench-${process.pid}`, adoptAfterMs: 30_000 });
  const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const receivers = parseReceivers(JSON.stringify([{ name: 'bench', url: `https://127.0.0.1:${port}/hooks`, events: ['*'], secret: { name: 'unused' }, caBundle: certificates.ca.certPem }]));
  const notifier = new WebhookNotifier({
    receivers,
    keys: new StaticKeys(new Map([['bench', key]])),
    log: createLogger('warn', quiet),
    metrics,
    queueSize: 10_000,
    timeoutMs: 10_000,
    maxAttempts: 15,
    backoff: { baseMs: 1_000, capMs: 300_000 },
    concurrency: 4,
    maxBodyBytes: 256 * 1024,
    store,
    flushIntervalMs: 250,
    heartbeatMs: 10_000,
    adoptIntervalMs: 10_000,
    isLeader: () => false,
  });
  await notifier.start();

  const publishedAt = new Map<string, number>();
  const publishCost: number[] = [];
  const publish = (phase: string, n: number): void => {
    const published = event(phase, n);
    const t0 = now();
    notifier.publish(published);
    const t1 = now();
    publishCost.push(t1 - t0);
    publishedAt.set(deliveryId('bench', published.dedupeKey), t0);
  };

  const rows: string[] = [];
  for (const phase of ['paced', 'burst'] as const) {
    const startedAt = now();
    if (phase === 'paced') {
      for (let n = 0; n < events; n++) {
        publish(phase, n);
        const due = startedAt + ((n + 1) * 1000) / rate;
        const wait = due - now();
        if (wait > 0) await sleep(wait);
      }
    } else {
      for (let n = 0; n < events; n++) publish(phase, n);
    }
    while (notifier.pending > 0) await sleep(20);
    const collected = waitForMessage(child, 'results');
    child.send({ kind: 'collect' } satisfies FromParent);
    const { received } = await collected;
    const mine = received.filter(([id]) => publishedAt.has(id));
    const latencies = mine.map(([id, at]) => at - (publishedAt.get(id) ?? at));
    const wanted = publishedAt.size;
    const verified = mine.every(([, , ok]) => ok);
    const sorted = latencies.sort((a, b) => a - b);
    const wall = (now() - startedAt) / 1000;
    rows.push(`| ${phase === 'paced' ? `${events} events at ${rate}/s` : `${events} events at once`} | ${mine.length}/${wanted} | ${verified ? 'yes' : 'NO'} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${(sorted[sorted.length - 1] ?? NaN).toFixed(1)} | ${wall.toFixed(1)} |`);
    publishedAt.clear();
  }
  const cost = publishCost.sort((a, b) => a - b);
  const persists = (await registry.getSingleMetric('securestack_notify_persist_total')?.get())?.values.map((value) => `${String(value.labels.result)}=${value.value}`).join(', ') ?? '';
  await notifier.stop();
  child.kill();
  await store.release(store.name).catch(() => undefined);
  await deleteNamespace(namespace);

  process.stdout.write(`\n| phase | delivered | signatures verified | p50 ms | p99 ms | max ms | wall s |\n|---|---|---|---|---|---|---|\n${rows.join('\n')}\n\n`);
  process.stdout.write(`publish() cost over ${cost.length} calls: p50 ${(percentile(cost, 50) * 1000).toFixed(1)} µs, p99 ${(percentile(cost, 99) * 1000).toFixed(1)} µs, max ${(cost[cost.length - 1] ?? NaN).toFixed(2)} ms; shard writes: ${persists}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/notify: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
