/**
 * Runs the reconcilers, in controller-runtime's shape: the process's shared informers (one
 * list+watch per collection, operator/platform/kube/informer.ts) only enqueue keys into our WorkQueue
 * (dedupe, per-key order, parallel workers, backoff; docs/adr/0003-work-queue.md), and keys are
 * reconciled only while this process holds the Lease. Nothing here ends the process: a lost API
 * server makes the informers relist with back-off until it is back.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { randomUUID } from 'node:crypto';
import type { OperatorConfig } from '../config';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectionPath, isConflict, type KubeClient, type ResourceType } from '../kube/client';
import type { Informer, InformerFactory, Keep } from '../kube/informer';
import { installationOwner } from '../kube/owner';
import type { Logger } from '../log';
import { LeaderElector } from './leader';
import { zeroSeries, type OperatorMetrics } from './metrics';
import { ReconcileAborted, keyOf, parseKey, type Reconciler } from './reconciler';
import { WorkQueue } from './workqueue';

/** A watch on a resource the manager does not reconcile, mapped to keys of one it does. */
export interface SecondaryWatch {
  group: string;
  version: string;
  plural: string;
  /** Only objects with these labels. */
  labelSelector?: string;
  /**
   * What the shared store keeps (default metadata): `object` when keysFor needs more than
   * metadata on a deletion found by a relist; `identity` when the consumer keeps its own view.
   */
  keep?: Keep;
  /** Queue keys to reconcile when this object changes (usually its owner). */
  keysFor(object: KubernetesObject, deleted: boolean): string[];
  /** Every key this watch knows of, queued on each resync (for reconcilers without a resource). */
  allKeys?(): string[];
}

export interface ManagerOptions {
  config: OperatorConfig;
  client: KubeClient;
  /** The process's shared cache; the manager starts it. */
  informers: InformerFactory;
  log: Logger;
  metrics: OperatorMetrics;
  reconcilers: Reconciler[];
  secondaryWatches?: SecondaryWatch[];
  /** Keys of virtual reconcilers queued on every resync (singletons such as the webhook configuration). */
  periodicKeys?: string[];
  /** Runs when this process starts leading, before any reconcile: rebuild in-memory state. */
  beforeTerm?: () => Promise<void>;
}

const queueName = 'controller';
/** How long start-up waits for the CRDs to be served before giving up. */
const crdWaitMs = 60_000;

/** One leadership term: its queue, its workers and the signal that ends them. */
interface Term {
  queue: WorkQueue;
  abort: AbortController;
  workers: Promise<void>[];
  resyncTimer: NodeJS.Timeout;
}

export class Manager {
  private readonly reconcilers = new Map<string, Reconciler>();
  /** The shared informer of each reconciled (non-virtual) kind, by kind: keys come from it, objects are read from it. */
  private readonly caches = new Map<string, Informer>();
  private readonly elector: LeaderElector;
  private term: Term | undefined;
  private watching = false;
  private stopping = false;

  constructor(private readonly options: ManagerOptions) {
    for (const reconciler of options.reconcilers) this.reconcilers.set(reconciler.type.kind, reconciler);
    // The first reconcile error must be an increase: the error-rate panel and alert read rate().
    zeroSeries(options.metrics.reconcileTotal, [...this.reconcilers.keys()].map((kind) => ({ kind, result: 'error' })));
    const { config } = options;
    this.elector = new LeaderElector({
      client: options.client,
      namespace: config.namespace,
      name: config.leaseName,
      identity: config.identity,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      log: options.log,
      owner: installationOwner(options.client, config.webhookOwnerClusterRole),
      onStartedLeading: () => this.startTerm(),
      onStoppedLeading: () => this.endTerm(),
    });
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  ready(): { ok: boolean; reason: string } {
    if (this.stopping) return { ok: false, reason: 'shutting down' };
    if (!this.watching) return { ok: false, reason: 'watches not started' };
    return { ok: true, reason: this.isLeader ? 'leading' : 'standby' };
  }

  /**
   * Waits until the CRDs are served, starts the shared informers (reconciled kinds and secondary
   * watches only enqueue keys), waits for their first list, then campaigns for the Lease.
   */
  async start(): Promise<void> {
    const { informers } = this.options;
    const served = [...this.reconcilers.values()].filter((reconciler) => !reconciler.virtual);
    for (const reconciler of served) await this.waitUntilServed(reconciler.type);
    for (const reconciler of served) {
      const { kind } = reconciler.type;
      // Whole objects: reconcilers read them from here instead of asking the API server.
      const cache = informers.informer(collectionPath(reconciler.type), { keep: 'object' });
      this.caches.set(kind, cache);
      // Standbys drop events: a new leader lists everything when its term starts.
      cache.addListener((event) => this.term?.queue.add(keyOf(kind, { namespace: event.namespace, name: event.name })));
    }
    for (const watch of this.options.secondaryWatches ?? []) {
      const informer = informers.informer(collectionPath(watch), { ...(watch.labelSelector ? { labelSelector: watch.labelSelector } : {}), keep: watch.keep ?? 'metadata' });
      informer.addListener((event) => {
        // Secondary watches keep indexes of their own (the pod index, the dispatcher), so they see
        // every event, leader or not; only the keys are dropped by a standby.
        for (const key of watch.keysFor(event.object, event.deleted)) this.term?.queue.add(key);
      });
    }
    informers.start();
    await Promise.all(informers.all().map((informer) => informer.waitForSync()));
    this.watching = true;
    this.elector.start();
  }

  /**
   * A CRD that was just installed answers 429 or 404 for a few moments; a CRD that is not
   * installed at all is a set-up error worth one clear message at start rather than an informer
   * that retries forever.
   */
  private async waitUntilServed(type: ResourceType): Promise<void> {
    const deadline = Date.now() + crdWaitMs;
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.options.client.probeCustom(type);
        return;
      } catch (err) {
        if (Date.now() + delay > deadline) {
          throw new Error(`${type.plural}.${type.group} is not served by the API server (${errorMessage(err)}); install the CRDs from crds/`);
        }
        this.options.log.info({ resource: `${type.plural}.${type.group}`, err: errorMessage(err), retryInMs: delay }, 'waiting for the resource to be served');
        await sleep(delay);
      }
    }
  }

  /**
   * SIGTERM: stop watching and taking work, let in-flight reconciles finish within the deadline,
   * then release the Lease so a standby takes over at once.
   */
  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // The informers stay open until the process exits (the webhook keeps answering from them
    // while in-flight reconciles finish); their events are dropped once the term has ended.
    const term = this.term;
    if (term) {
      term.queue.shutDown();
      clearInterval(term.resyncTimer);
      const finished = await settleWithin(Promise.all(term.workers), this.options.config.shutdownTimeoutMs);
      if (!finished) this.options.log.warn({ timeoutMs: this.options.config.shutdownTimeoutMs }, 'in-flight reconciles did not finish before the shutdown deadline');
    }
    await this.elector.stop();
  }

  private startTerm(): void {
    void this.beginTerm();
  }

  private async beginTerm(): Promise<void> {
    if (this.stopping) return;
    const { metrics, config } = this.options;
    // Without its state the term would act on a wrong picture (e.g. start duplicate Jobs), so
    // no reconcile runs until the preparation succeeds.
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        await this.options.beforeTerm?.();
        break;
      } catch (err) {
        this.options.log.error({ err: errorMessage(err), retryInMs: delay }, 'could not prepare the leadership term');
        await sleep(delay);
        if (this.stopping || !this.elector.isLeader) return;
      }
    }
    if (this.stopping || !this.elector.isLeader) return;
    metrics.leader.set(1);
    metrics.leaderTransitions.inc({ event: 'started' });
    const queue = new WorkQueue({ onDepthChange: (depth) => metrics.queueDepth.set({ queue: queueName }, depth) });
    // Idle workers take keys before they queue, so the depth may never change: show 0 from the start.
    metrics.queueDepth.set({ queue: queueName }, queue.depth);
    const abort = new AbortController();
    const resyncTimer = setInterval(() => this.resync(), config.resyncPeriodMs);
    resyncTimer.unref();
    const workers = Array.from({ length: config.workers }, () => this.work(queue, abort.signal));
    this.term = { queue, abort, workers, resyncTimer };
    this.resync();
  }

  /** Lost the Lease: stop at once. In-flight reconciles see the aborted signal before writing. */
  private endTerm(): void {
    const term = this.term;
    this.term = undefined;
    this.options.metrics.leader.set(0);
    this.options.metrics.leaderTransitions.inc({ event: 'stopped' });
    if (!term) return;
    term.abort.abort();
    term.queue.shutDown();
    clearInterval(term.resyncTimer);
  }

  /** Queues one key now, if this process leads (a no-op otherwise: the next term resyncs). */
  enqueue(queueKey: string): void {
    this.term?.queue.add(queueKey);
  }

  /** Queues every object again now (for example after the vulnerability DB changed). */
  requestResync(): void {
    if (this.term) this.resync();
  }

  /** Queues every object of every reconciled kind; covers missed events. */
  private resync(): void {
    for (const watch of this.options.secondaryWatches ?? []) {
      for (const key of watch.allKeys?.() ?? []) this.term?.queue.add(key);
    }
    for (const key of this.options.periodicKeys ?? []) this.term?.queue.add(key);
    // From the shared cache, not a list call: the informers are current (or relisting).
    for (const [kind, cache] of this.caches) {
      for (const object of cache.values()) this.term?.queue.add(keyOf(kind, { namespace: object.metadata?.namespace, name: object.metadata?.name ?? '' }));
    }
  }

  private async work(queue: WorkQueue, signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      this.options.metrics.reconcilesInFlight.inc({ queue: queueName });
      try {
        await this.reconcileKey(queue, key, signal);
      } finally {
        this.options.metrics.reconcilesInFlight.dec({ queue: queueName });
        queue.done(key);
      }
    }
  }

  private async reconcileKey(queue: WorkQueue, queueKey: string, signal: AbortSignal): Promise<void> {
    const { kind, key } = parseKey(queueKey);
    const reconciler = this.reconcilers.get(kind);
    if (!reconciler) return;
    const { metrics } = this.options;
    const reconcileId = randomUUID();
    const log = this.options.log.child({ reconcileId, kind, namespace: key.namespace, name: key.name });
    const stopTimer = metrics.reconcileDuration.startTimer({ kind });
    log.debug('reconciling');
    try {
      const cached = this.caches.get(kind)?.get(key.namespace, key.name);
      const result = await reconciler.reconcile(key, { log, signal, reconcileId, ...(cached ? { cached } : {}) });
      queue.forget(queueKey);
      if (result.requeueAfterMs !== undefined) queue.addAfter(queueKey, result.requeueAfterMs);
      metrics.reconcileTotal.inc({ kind, result: result.requeueAfterMs !== undefined ? 'requeue' : 'success' });
    } catch (err) {
      if (err instanceof ReconcileAborted || signal.aborted) {
        metrics.reconcileTotal.inc({ kind, result: 'aborted' });
        return;
      }
      const conflict = isConflict(err);
      const delayMs = queue.addRateLimited(queueKey);
      metrics.queueRetries.inc({ queue: queueName });
      metrics.reconcileTotal.inc({ kind, result: conflict ? 'conflict' : 'error' });
      // A conflict is the normal outcome of racing a user's edit: retry quietly.
      const level = conflict ? 'info' : 'error';
      log[level]({ err: errorMessage(err), retryInMs: delayMs, retries: queue.retries(queueKey) }, conflict ? 'conflict, retrying' : 'reconcile failed');
    } finally {
      stopTimer();
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves true if `work` settled within the time limit, false otherwise. */
async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true, () => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
