/**
 * The Notifier behind the port: events in (publish, synchronous and O(1)), signed deliveries out,
 * at least once (docs/notifications.md, ADR 0021).
 *
 * - publish() computes each wanted receiver's delivery id, queues it (bounded; a full queue drops
 *   its oldest entry, counted and logged) and schedules a drain on the next turn of the event
 *   loop. Nothing on that path waits for the network or the API server.
 * - Drains send up to `concurrency` deliveries per receiver at once, so a slow receiver holds its
 *   own slots only. A failed attempt comes back after an exponential, jittered, capped back-off
 *   (or the receiver's Retry-After), until `maxAttempts`.
 * - With a DeliveryStore, the pending set is written to this replica's shard every
 *   `flushIntervalMs` when it changed (and at least every `heartbeatMs`); the leader adopts the
 *   shards of replicas that stopped. Immediate delivery never waits for that write.
 */
import type { LookupFunction } from 'node:net';
import type { Logger } from '../../platform/log';
import { backoffDelay, type BackoffPolicy } from './backoff';
import { ReceiverClient, type AttemptOutcome } from './client';
import type { NotificationEvent, NotificationEventType, Notifier } from './events';
import type { KeySource } from './keys';
import type { DeliveryResult, NotifyMetrics } from './metrics';
import { zeroSeries } from '../../platform/runtime/metrics';
import { DeliveryQueue, IdFifo, type Delivery } from './queue';
import type { ReceiverConfig } from './receivers';
import type { DeliveryStore, ShardState } from './shards';
import { deliveryId, signedHeaders } from './signing';

export interface NotifierOptions {
  receivers: readonly ReceiverConfig[];
  keys: KeySource;
  log: Logger;
  metrics: NotifyMetrics;
  queueSize: number;
  timeoutMs: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Attempts in flight per receiver. */
  concurrency: number;
  maxBodyBytes: number;
  maxResponseBytes?: number;
  store?: DeliveryStore;
  flushIntervalMs?: number;
  heartbeatMs?: number;
  adoptIntervalMs?: number;
  /** Only the leader adopts other replicas' shards. */
  isLeader?: () => boolean;
  /** Reports a receiver that cannot be used (a Kubernetes Event); rate-limited here. */
  alert?: (receiver: string, message: string) => void;
  lookup?: LookupFunction;
  random?: () => number;
}

/** The JSON body of a delivery, identical on every attempt and every replica. */
export interface Payload {
  type: NotificationEventType;
  timestamp: string;
  data: Record<string, unknown>;
}

export function payloadOf(event: NotificationEvent): Payload {
  return { type: event.type, timestamp: event.occurredAt, data: { ...event.data, subject: event.subject } };
}

interface Target {
  config: ReceiverConfig;
  client: ReceiverClient;
  ready: IdFifo;
  inFlight: number;
  /** Whether the last attempt failed: state changes are logged at warn, single retries at debug. */
  failing: boolean;
}

const defaultResponseBytes = 64 * 1024;
/** The same alert for the same receiver is raised again after this long at most once. */
const alertRepeatMs = 10 * 60_000;
/** Overflow is logged at most once per this long, with the count since the last line. */
const overflowLogMs = 5_000;

export class WebhookNotifier implements Notifier {
  private readonly queue: DeliveryQueue;
  private readonly targets = new Map<string, Target>();
  private readonly byType = new Map<NotificationEventType, Target[]>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly alerted = new Map<string, number>();
  private drainScheduled = false;
  private dirty = false;
  private saving: Promise<void> | undefined;
  private lastSaveAt = 0;
  /** After failed writes, the next one waits (doubling to 30 s): no log storm when RBAC or the API is off. */
  private persistFailures = 0;
  private persistRetryAt = 0;
  private adopting = false;
  private intervals: NodeJS.Timeout[] = [];
  private overflow = { count: 0, loggedAt: 0 };
  private stopped = false;

  constructor(private readonly options: NotifierOptions) {
    this.queue = new DeliveryQueue(options.queueSize);
    for (const config of options.receivers) {
      const client = new ReceiverClient(config, {
        timeoutMs: options.timeoutMs,
        maxResponseBytes: options.maxResponseBytes ?? defaultResponseBytes,
        maxSockets: options.concurrency,
        ...(options.lookup ? { lookup: options.lookup } : {}),
      });
      const target: Target = { config, client, ready: new IdFifo(), inFlight: 0, failing: false };
      this.targets.set(config.name, target);
      // Each receiver's first failure must be an increase (runtime/metrics.ts).
      zeroSeries(options.metrics.deliveries, (['delivered', 'failed', 'refused', 'dropped'] satisfies DeliveryResult[]).map((result) => ({ receiver: config.name, result })));
      for (const type of config.events) this.byType.set(type, [...(this.byType.get(type) ?? []), target]);
      // A receiver whose URL is refused outright says so at start, not at its first event.
      const refused = client.preflight();
      if (refused) this.problem(config.name, `receiver ${config.name} (${config.url.origin}) will not be called: ${refused}`);
    }
  }

  /** Synchronous, O(1) in the queue's size, never throws, never waits for I/O. */
  publish(event: NotificationEvent): void {
    try {
      const targets = this.byType.get(event.type);
      if (!targets) return;
      const createdAt = Date.now();
      for (const target of targets) {
        this.enqueue({ id: deliveryId(target.config.name, event.dedupeKey), receiver: target.config.name, event, createdAt, attempts: 0 });
      }
    } catch (err) {
      // A publisher must never fail because of notifications.
      this.options.log.error({ err: errorMessage(err), type: event?.type }, 'could not queue a notification');
    }
  }

  /** Pending deliveries right now (tests, metrics). */
  get pending(): number {
    return this.queue.size;
  }

  /**
   * Loads what this identity left in its shard in a previous life, writes the shard (the first
   * heartbeat) and starts the batch writer and, for the leader, adoption.
   */
  async start(): Promise<void> {
    const { store } = this.options;
    if (!store) return;
    try {
      const own = await store.loadOwn();
      for (const delivery of own) this.enqueue(delivery);
      if (own.length > 0) this.options.log.info({ deliveries: own.length }, 'resuming webhook deliveries left by a previous run of this replica');
    } catch (err) {
      this.options.log.warn({ err: errorMessage(err) }, 'could not read this replica\'s pending webhook deliveries');
    }
    // A first write that fails is retried by the batch writer; the process goes on either way.
    await this.save('running').catch(() => undefined);
    const flushMs = this.options.flushIntervalMs ?? 250;
    const flush = setInterval(() => {
      const now = Date.now();
      const heartbeatDue = now - this.lastSaveAt >= (this.options.heartbeatMs ?? 10_000);
      if ((this.dirty || heartbeatDue) && !this.saving && now >= this.persistRetryAt) void this.save('running').catch(() => undefined);
    }, flushMs);
    const adopt = setInterval(() => void this.adoptStale(), this.options.adoptIntervalMs ?? 5_000);
    for (const timer of [flush, adopt]) timer.unref();
    this.intervals = [flush, adopt];
  }

  /**
   * Shutdown: no new attempts; the pending set (in-flight attempts included: their outcome is not
   * known) goes to the shard marked stopped, so the leader adopts it at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.intervals) clearInterval(timer);
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    await this.saving;
    if (this.options.store) await this.save('stopped').catch(() => undefined);
    for (const target of this.targets.values()) target.client.close();
  }

  private enqueue(delivery: Delivery): void {
    const target = this.targets.get(delivery.receiver);
    if (!target) {
      // Adopted from a replica configured with a receiver this one does not know.
      this.options.metrics.deliveries.inc({ receiver: 'unknown', result: 'dropped' });
      this.options.log.warn({ receiver: delivery.receiver, deliveryId: delivery.id }, 'dropping a webhook delivery for a receiver this replica is not configured with');
      return;
    }
    const result = this.queue.add(delivery);
    if (!result.added) {
      this.options.metrics.deduplicated.inc({ receiver: delivery.receiver });
      return;
    }
    if (result.dropped) this.dropOverflow(result.dropped);
    target.ready.push(delivery.id);
    this.changed();
    this.scheduleDrain();
  }

  private dropOverflow(dropped: Delivery): void {
    const timer = this.retryTimers.get(dropped.id);
    if (timer) clearTimeout(timer);
    this.retryTimers.delete(dropped.id);
    this.options.metrics.dropped.inc({ receiver: dropped.receiver, reason: 'overflow' });
    this.options.metrics.deliveries.inc({ receiver: dropped.receiver, result: 'dropped' });
    this.overflow.count++;
    const now = Date.now();
    if (now - this.overflow.loggedAt >= overflowLogMs) {
      this.options.log.warn({ dropped: this.overflow.count, queueSize: this.queue.limit, oldest: { receiver: dropped.receiver, deliveryId: dropped.id, type: dropped.event.type } }, 'webhook queue full: dropped the oldest deliveries (SECURESTACK_NOTIFY_QUEUE_SIZE)');
      this.overflow = { count: 0, loggedAt: now };
    }
  }

  private changed(): void {
    this.dirty = true;
    this.options.metrics.queueDepth.set(this.queue.size);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.stopped) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    if (this.stopped) return;
    for (const target of this.targets.values()) {
      while (target.inFlight < this.options.concurrency) {
        const id = target.ready.shift();
        if (id === undefined) break;
        const delivery = this.queue.get(id);
        if (!delivery) continue; // dropped or done meanwhile
        target.inFlight++;
        void this.attempt(target, delivery).finally(() => {
          target.inFlight--;
          this.scheduleDrain();
        });
      }
    }
  }

  private async attempt(target: Target, delivery: Delivery): Promise<void> {
    const receiver = target.config.name;
    try {
      const key = this.options.keys.get(receiver);
      if (!key.key) {
        this.options.metrics.attempts.inc({ receiver, result: 'unusable' });
        this.retryLater(target, delivery, { result: 'network', permanent: false, message: `no usable signing key: ${key.problem}` });
        return;
      }
      const text = JSON.stringify(payloadOf(delivery.event));
      const body = Buffer.from(text);
      if (body.length > this.options.maxBodyBytes) {
        this.finish(delivery, 'dropped');
        this.options.metrics.dropped.inc({ receiver, reason: 'too_large' });
        this.options.log.warn({ receiver, deliveryId: delivery.id, type: delivery.event.type, bytes: body.length, limit: this.options.maxBodyBytes }, 'webhook payload too large: dropped (SECURESTACK_NOTIFY_MAX_BODY_BYTES)');
        return;
      }
      const headers = signedHeaders(key.key, delivery.id, Math.floor(Date.now() / 1000), text);
      const outcome = await target.client.send(headers, body);
      this.options.metrics.attempts.inc({ receiver, result: outcome.result });
      if (outcome.result === 'delivered') {
        this.finish(delivery, 'delivered');
        this.options.metrics.latency.observe({ receiver }, Math.max(0, Date.now() - delivery.createdAt) / 1000);
        if (target.failing) this.options.log.info({ receiver }, 'webhook receiver answers again');
        target.failing = false;
        return;
      }
      if (outcome.permanent) {
        this.finish(delivery, 'refused');
        this.problem(receiver, `receiver ${receiver} (${target.config.url.origin}) refused: ${outcome.message}`, { deliveryId: delivery.id, type: delivery.event.type });
        return;
      }
      this.retryLater(target, delivery, outcome);
    } catch (err) {
      // Nothing above should throw; if it does, the delivery is retried rather than lost.
      this.retryLater(target, delivery, { result: 'network', permanent: false, message: errorMessage(err) });
    }
  }

  private finish(delivery: Delivery, result: DeliveryResult): void {
    this.queue.remove(delivery.id, result === 'delivered');
    this.options.metrics.deliveries.inc({ receiver: delivery.receiver, result });
    this.changed();
  }

  private retryLater(target: Target, delivery: Delivery, outcome: AttemptOutcome): void {
    const receiver = target.config.name;
    delivery.attempts++;
    this.changed();
    const context = { receiver, deliveryId: delivery.id, type: delivery.event.type, attempts: delivery.attempts, reason: outcome.message };
    if (delivery.attempts >= this.options.maxAttempts) {
      this.finish(delivery, 'failed');
      this.options.log.warn(context, 'webhook delivery failed for good: attempts exhausted (SECURESTACK_NOTIFY_MAX_ATTEMPTS)');
      return;
    }
    if (this.stopped) return;
    const delayMs = backoffDelay(this.options.backoff, delivery.attempts, this.options.random, outcome.retryAfterMs);
    if (!target.failing) this.options.log.warn({ ...context, retryInMs: delayMs }, 'webhook delivery failed; retrying with back-off');
    else this.options.log.debug({ ...context, retryInMs: delayMs }, 'webhook delivery failed again');
    target.failing = true;
    const timer = setTimeout(() => {
      this.retryTimers.delete(delivery.id);
      if (!this.queue.has(delivery.id)) return;
      target.ready.push(delivery.id);
      this.scheduleDrain();
    }, delayMs);
    timer.unref();
    this.retryTimers.set(delivery.id, timer);
  }

  /** A log line, always; a Kubernetes Event, at most once per receiver and message per 10 minutes. */
  private problem(receiver: string, message: string, extra: Record<string, unknown> = {}): void {
    this.options.log.warn({ receiver, ...extra, reason: message }, 'webhook receiver cannot be used');
    const key = `${receiver}\u0000${message}`;
    const last = this.alerted.get(key);
    if (last !== undefined && Date.now() - last < alertRepeatMs) return;
    this.alerted.set(key, Date.now());
    this.options.alert?.(receiver, message);
  }

  /** A key source reports a change of a receiver's key (called by the wiring). */
  keyChanged(receiver: string, problem: string | undefined): void {
    this.options.metrics.receiverUsable.set({ receiver }, problem ? 0 : 1);
    if (problem) this.problem(receiver, `receiver ${receiver} has no usable signing key: ${problem}`);
    else {
      this.options.log.info({ receiver }, 'webhook receiver signing key loaded');
      // Deliveries that waited for the key need not wait out their back-off.
      const target = this.targets.get(receiver);
      if (!target) return;
      for (const delivery of this.queue.values()) {
        if (delivery.receiver !== receiver) continue;
        const timer = this.retryTimers.get(delivery.id);
        if (!timer) continue;
        clearTimeout(timer);
        this.retryTimers.delete(delivery.id);
        target.ready.push(delivery.id);
      }
      this.scheduleDrain();
    }
  }

  /** One write of the pending set at a time; a change during a write is written by the next. */
  private save(state: ShardState): Promise<void> {
    const { store } = this.options;
    if (!store) return Promise.resolve();
    const run = async (): Promise<void> => {
      this.dirty = false;
      const snapshot = [...this.queue.values()];
      try {
        const saved = await store.save(snapshot, state);
        this.lastSaveAt = Date.now();
        this.options.metrics.persists.inc({ result: 'success' });
        if (this.persistFailures > 0) this.options.log.info({ failures: this.persistFailures }, 'pending webhook deliveries persisted again');
        this.persistFailures = 0;
        this.persistRetryAt = 0;
        if (saved < snapshot.length) this.options.log.warn({ pending: snapshot.length, persisted: saved }, 'pending webhook deliveries exceed one shard: only the newest are persisted');
      } catch (err) {
        this.dirty = true;
        this.persistFailures++;
        const retryInMs = Math.min(30_000, 500 * 2 ** Math.min(6, this.persistFailures - 1));
        this.persistRetryAt = Date.now() + retryInMs;
        this.options.metrics.persists.inc({ result: 'error' });
        const level = this.persistFailures === 1 || this.persistFailures % 20 === 0 ? 'warn' : 'debug';
        this.options.log[level]({ err: errorMessage(err), failures: this.persistFailures, retryInMs }, 'could not persist pending webhook deliveries; retrying');
        throw err;
      }
    };
    const previous = this.saving ?? Promise.resolve();
    const next = previous.then(run, run);
    const tracked = next.then(() => undefined, () => undefined).finally(() => {
      if (this.saving === tracked) this.saving = undefined;
    });
    this.saving = tracked;
    return next;
  }

  /** Leader: take over the pending deliveries of replicas that stopped. */
  async adoptStale(): Promise<number> {
    const { store } = this.options;
    if (!store || this.adopting || this.stopped || !(this.options.isLeader?.() ?? false)) return 0;
    this.adopting = true;
    let adopted = 0;
    try {
      for (const shard of await store.adoptStale()) {
        const before = this.queue.size;
        for (const delivery of shard.deliveries) this.enqueue({ ...delivery });
        const added = Math.max(0, this.queue.size - before);
        // Saved in our own shard before theirs goes: a crash in between duplicates, never loses.
        await this.save('running');
        await store.release(shard.name);
        this.options.metrics.adopted.inc(added);
        adopted += added;
        this.options.log.info({ shard: shard.name, owner: shard.owner, deliveries: shard.deliveries.length, queued: added }, 'adopted the pending webhook deliveries of a stopped replica');
      }
    } catch (err) {
      this.options.log.warn({ err: errorMessage(err) }, 'could not adopt pending webhook deliveries of stopped replicas; trying again');
    } finally {
      this.adopting = false;
    }
    return adopted;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
