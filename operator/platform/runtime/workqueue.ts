/**
 * A keyed work queue in the spirit of client-go's workqueue: the watch callback only adds keys,
 * workers take them out one at a time per key.
 *
 * Guarantees:
 * - dedupe: a key added several times before a worker takes it is processed once;
 * - per-key order: a key is never processed by two workers at once; a key added while it is
 *   being processed is processed again after the current run ("dirty");
 * - failures back off exponentially per key, up to a cap, until the key is forgotten;
 * - delayed adds (requeueAfter) keep only the earliest pending deadline per key.
 */

export interface BackoffOptions {
  /** First retry delay after a failure. */
  baseDelayMs: number;
  /** Ceiling for the retry delay. */
  maxDelayMs: number;
}

export interface WorkQueueOptions {
  backoff?: BackoffOptions;
  /** Called whenever the number of waiting keys changes, for the depth metric. */
  onDepthChange?: (depth: number) => void;
}

export const defaultBackoff: BackoffOptions = { baseDelayMs: 500, maxDelayMs: 5 * 60_000 };

/** The longest delay a Node timer keeps (longer ones fire after 1 ms). */
export const maxTimerMs = 2_147_483_647;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: they go back in the queue when done. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private readonly backoff: BackoffOptions;
  private shuttingDown = false;

  constructor(private readonly options: WorkQueueOptions = {}) {
    this.backoff = options.backoff ?? defaultBackoff;
  }

  /** Adds a key now. A key already waiting is not added twice. */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.cancelDelayed(key);
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
    this.reportDepth();
  }

  /** Adds a key after a delay; an earlier pending deadline for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    // Node runs a timer longer than 2^31 - 1 ms at once: wait at most that long, then come back.
    delayMs = Math.min(delayMs, maxTimerMs);
    const due = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    // A pending retry must not keep a stopping process alive.
    timer.unref();
    this.delayed.set(key, { due, timer });
  }

  /** Re-adds a key after its next backoff delay and returns that delay. */
  addRateLimited(key: string): number {
    const attempts = this.failures.get(key) ?? 0;
    this.failures.set(key, attempts + 1);
    const delay = Math.min(this.backoff.baseDelayMs * 2 ** attempts, this.backoff.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the failure count of a key after it succeeded. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * Waits for the next key. Resolves undefined once the queue shuts down. The caller must call
   * done(key) when finished with it.
   */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      this.reportDepth();
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key finished; if it was added meanwhile it goes back in the queue. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Number of keys waiting (not counting those being processed or delayed). */
  get depth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  /** Drops every waiting and delayed key; workers blocked in get() receive undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    this.reportDepth();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  private cancelDelayed(key: string): void {
    const pending = this.delayed.get(key);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.delayed.delete(key);
  }

  private reportDepth(): void {
    this.options.onDepthChange?.(this.queue.length);
  }
}
