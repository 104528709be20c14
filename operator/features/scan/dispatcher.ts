/**
 * Decides, for an ImageScan that needs a scan, whether it starts a Job, waits for one that is
 * already scanning the same digest, or queues for a free slot.
 *
 * - never two Jobs for one digest at a time, cluster-wide: every ImageScan of that digest, in any
 *   namespace, waits on the one Job and completes from its result;
 * - at most `maxConcurrent` scan Jobs at once; the rest queue by age, one queue entry per digest;
 * - all state is rebuilt from the cluster's scan Jobs when a process starts leading (`reset`), so
 *   a restart neither loses a running scan nor starts a duplicate.
 *
 * Synchronous on purpose: reconciles of different ImageScans run in parallel, and admit() must
 * reserve a digest atomically so two of them cannot both start a Job for it.
 */

export interface JobRef {
  namespace: string;
  name: string;
  /** The ImageScan that owns the Job; its result objects hold the report. */
  owner: string;
}

export interface ObservedJob extends JobRef {
  digest: string;
  /** False once the Job finished (Complete or Failed) or was deleted. */
  active: boolean;
  succeeded: boolean;
  failureReason?: string;
  /** When the Job finished, from its status (ms since epoch). */
  finishedAt?: number;
}

export type Admission =
  | { action: 'start' }
  | { action: 'wait'; job: JobRef | undefined }
  | { action: 'queued'; position: number };

export interface Outcome {
  job: JobRef;
  succeeded: boolean;
  failureReason?: string;
  finishedAt: number;
}

interface QueueEntry {
  digest: string;
  createdAt: number;
  keys: Set<string>;
}

export class ScanDispatcher {
  /** digest → the running Job (undefined while a start is reserved but not yet created). */
  private readonly running = new Map<string, JobRef | undefined>();
  private readonly waiters = new Map<string, Set<string>>();
  private readonly queue: QueueEntry[] = [];
  private readonly outcomes = new Map<string, Outcome>();

  constructor(
    private readonly maxConcurrent: number,
    private readonly onChange: (state: { active: number; queued: number }) => void = () => undefined,
  ) {}

  /** Replaces all state with what the cluster's scan Jobs say (a new leadership term). */
  reset(jobs: readonly ObservedJob[]): void {
    this.running.clear();
    this.waiters.clear();
    this.queue.length = 0;
    for (const job of jobs) this.observe(job);
    this.report();
  }

  /**
   * Asks for a scan of `digest` on behalf of ImageScan `key`, created at `createdAt` (queue order).
   * `start` reserves the digest: the caller must call started() or abandon().
   */
  admit(key: string, digest: string, createdAt: number): Admission {
    if (this.running.has(digest)) {
      this.addWaiter(digest, key);
      this.dequeueKey(key);
      return { action: 'wait', job: this.running.get(digest) };
    }
    const entry = this.enqueue(key, digest, createdAt);
    const position = this.queue.indexOf(entry) + 1;
    if (position <= this.freeSlots()) {
      this.queue.splice(this.queue.indexOf(entry), 1);
      this.running.set(digest, undefined);
      for (const waiting of entry.keys) this.addWaiter(digest, waiting);
      this.report();
      return { action: 'start' };
    }
    this.report();
    return { action: 'queued', position };
  }

  /** The Job for a reserved digest now exists. */
  started(digest: string, job: JobRef): void {
    this.running.set(digest, job);
    this.outcomes.delete(digest);
    this.report();
  }

  /** A reserved start did not happen (the create failed): free the slot. */
  abandon(digest: string): Set<string> {
    if (this.running.get(digest) === undefined) this.running.delete(digest);
    this.report();
    return this.takeWaiters(digest);
  }

  /**
   * Records a Job's state from a watch event or a list. Returns the ImageScan keys to reconcile
   * now: the Job's waiters when it finished, and the queue heads that a freed slot admits.
   */
  observe(job: ObservedJob): string[] {
    if (job.active) {
      this.running.set(job.digest, job);
      this.report();
      return [];
    }
    const current = this.running.get(job.digest);
    if (current && current.name !== job.name) return [];
    // Late news about a Job that already ended (its deletion after the TTL, a relist) or about an
    // older one must not replace the outcome of the last Job: the ImageScan would take that
    // Job's end for an old one and wait forever.
    const previous = this.outcomes.get(job.digest);
    if (!current && previous && (previous.job.name === job.name || (job.finishedAt ?? 0) <= previous.finishedAt)) return [];
    this.running.delete(job.digest);
    this.outcomes.set(job.digest, {
      job,
      succeeded: job.succeeded,
      failureReason: job.failureReason,
      // The Job's own time: a watch replaying an old Job must not look like a new failure.
      finishedAt: job.finishedAt ?? Date.now(),
    });
    const wake = [...this.takeWaiters(job.digest), job.owner];
    for (const entry of this.queue.slice(0, this.freeSlots())) wake.push(...entry.keys);
    this.report();
    return [...new Set(wake)];
  }

  /** The Job scanning the digest now, or else the last one that did. */
  lastJob(digest: string): JobRef | undefined {
    return this.running.get(digest) ?? this.outcomes.get(digest)?.job;
  }

  /** How the last Job for a digest ended, if it ended while this process watched. */
  outcome(digest: string): Outcome | undefined {
    return this.outcomes.get(digest);
  }

  /** The ImageScan no longer needs a scan (completed, failed for good, or deleted). */
  release(key: string): void {
    this.dequeueKey(key);
    for (const keys of this.waiters.values()) keys.delete(key);
    this.report();
  }

  get activeJobs(): number {
    return this.running.size;
  }

  get queuedDigests(): number {
    return this.queue.length;
  }

  private freeSlots(): number {
    return Math.max(0, this.maxConcurrent - this.running.size);
  }

  private enqueue(key: string, digest: string, createdAt: number): QueueEntry {
    let entry = this.queue.find((candidate) => candidate.digest === digest);
    if (!entry) {
      entry = { digest, createdAt, keys: new Set() };
      const at = this.queue.findIndex((candidate) => candidate.createdAt > createdAt);
      this.queue.splice(at === -1 ? this.queue.length : at, 0, entry);
    }
    entry.keys.add(key);
    return entry;
  }

  private dequeueKey(key: string): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const entry = this.queue[i];
      if (!entry) continue;
      entry.keys.delete(key);
      if (entry.keys.size === 0) this.queue.splice(i, 1);
    }
  }

  private addWaiter(digest: string, key: string): void {
    const keys = this.waiters.get(digest) ?? new Set<string>();
    keys.add(key);
    this.waiters.set(digest, keys);
  }

  private takeWaiters(digest: string): Set<string> {
    const keys = this.waiters.get(digest) ?? new Set<string>();
    this.waiters.delete(digest);
    return keys;
  }

  private report(): void {
    this.onChange({ active: this.running.size, queued: this.queue.length });
  }
}
