/**
 * Leader election with a coordination.k8s.io Lease, following client-go's algorithm:
 *
 * - a candidate takes the Lease when nobody holds it, when its holder released it, or when the
 *   holder has not renewed it for leaseDuration as measured on the candidate's own clock
 *   (observed time, not the recorded renewTime, so clock skew between nodes cannot cause two
 *   leaders);
 * - the leader renews every retryPeriod and steps down as soon as it has failed to renew for
 *   renewDeadline, which is shorter than leaseDuration, so it stops before anyone else can start;
 * - on shutdown the leader releases the Lease (empty holder), so a standby takes over on its next
 *   retry instead of waiting for expiry.
 *
 * Every write carries the resourceVersion that was read, so two candidates racing for the same
 * Lease cannot both win: the loser gets a 409.
 */
import type { KubeClient, Lease } from '../kube/client';
import { isAlreadyExists, isConflict } from '../kube/client';
import type { V1OwnerReference } from '@kubernetes/client-node';
import { withOwner, type OwnerLookup } from '../kube/owner';
import type { Logger } from '../log';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  /** The installation's owner, named by the Lease so uninstalling removes it (platform/kube/owner.ts). */
  owner?: OwnerLookup;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface ObservedRecord {
  holder: string;
  renewTime: string;
  /** Local monotonic-ish time at which this record was first seen. */
  observedAt: number;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observed: ObservedRecord | undefined;
  private lastRenewAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning; returns at once. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning and, if leading, releases the Lease so a standby can take over now. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.stepDown('shutting down');
      await this.release();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.tick();
      await this.sleep(this.options.retryPeriodMs);
    }
  }

  private async tick(): Promise<void> {
    const acquired = await this.tryAcquireOrRenewWithin(this.leading ? this.renewBudget() : this.options.retryPeriodMs * 5);
    if (this.stopped) return;
    const now = Date.now();
    if (acquired) {
      this.lastRenewAt = now;
      if (!this.leading) {
        this.leading = true;
        this.options.log.info({ lease: this.options.name, identity: this.options.identity }, 'started leading');
        this.options.onStartedLeading();
      }
      return;
    }
    if (this.leading && now - this.lastRenewAt >= this.options.renewDeadlineMs) {
      this.stepDown(`could not renew the Lease for ${this.options.renewDeadlineMs} ms`);
    }
  }

  /** Time left before the renew deadline passes; a renew that takes longer counts as failed. */
  private renewBudget(): number {
    return Math.max(1, this.lastRenewAt + this.options.renewDeadlineMs - Date.now());
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.options.log.warn({ lease: this.options.name, why }, 'stopped leading');
    this.options.onStoppedLeading();
  }

  private async tryAcquireOrRenewWithin(budgetMs: number): Promise<boolean> {
    let timeout: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timeout = setTimeout(() => resolve(false), budgetMs);
    });
    try {
      return await Promise.race([this.tryAcquireOrRenew(), expired]);
    } finally {
      clearTimeout(timeout);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity } = this.options;
    try {
      const lease = await client.getLease(namespace, name);
      const owner = await this.options.owner?.().catch(() => undefined);
      if (!lease) {
        await client.createLease(namespace, this.leaseFor(undefined, owner));
        return true;
      }
      const holder = lease.spec?.holderIdentity ?? '';
      this.observe(holder, String(lease.spec?.renewTime ?? ''));
      if (holder !== '' && holder !== identity && !this.observedExpired(lease)) return false;
      await client.replaceLease(namespace, this.leaseFor(lease, owner));
      return true;
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err)) {
        this.options.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'lease request failed');
      }
      return false;
    }
  }

  private observe(holder: string, renewTime: string): void {
    if (this.observed?.holder === holder && this.observed.renewTime === renewTime) return;
    this.observed = { holder, renewTime, observedAt: Date.now() };
  }

  private observedExpired(lease: Lease): boolean {
    // The holder's own declared duration, so participants with other settings agree.
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.options.leaseDurationMs / 1000) * 1000;
    return this.observed !== undefined && this.observed.observedAt + durationMs < Date.now();
  }

  /** The Lease as this process writes it: renewed if held, taken over otherwise. */
  private leaseFor(current: Lease | undefined, owner?: V1OwnerReference): Lease {
    const { name, namespace, identity, leaseDurationMs } = this.options;
    const now = microTime();
    const takingOver = current?.spec?.holderIdentity !== identity;
    const transitions = current?.spec?.leaseTransitions ?? 0;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...(current?.metadata ?? {}), name, namespace, ownerReferences: withOwner(current?.metadata?.ownerReferences, owner) },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
        acquireTime: takingOver ? now : current?.spec?.acquireTime,
        renewTime: now,
        leaseTransitions: current && takingOver ? transitions + 1 : transitions,
      },
    };
  }

  /** Empties the holder so the next candidate does not have to wait for expiry. */
  private async release(): Promise<void> {
    const { client, namespace, name, identity } = this.options;
    try {
      const lease = await client.getLease(namespace, name);
      if (!lease?.spec || lease.spec.holderIdentity !== identity) return;
      lease.spec.holderIdentity = '';
      lease.spec.leaseDurationSeconds = 1;
      lease.spec.renewTime = microTime();
      await client.replaceLease(namespace, lease);
      this.options.log.info({ lease: name }, 'released lease');
    } catch (err) {
      this.options.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not release lease; standby takes over after expiry');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }
}

/**
 * Now as a MicroTime, the way the API server parses Lease times: RFC 3339 with exactly six
 * fractional digits. (A string: objects go to the API server as JSON.)
 */
function microTime(now = new Date()): string {
  return now.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
