/**
 * A list+watch cache of one resource type, in client-go's sense of an informer, that never ends
 * the process: list (in pages), then watch from the list's resourceVersion with bookmarks; when
 * the server closes a watch (it does every 30-60 minutes), watch again from the last version seen,
 * so nothing is replayed; when that version is too old (410 Gone) or anything fails, list again
 * and report what disappeared in between as deletions; errors back off with jitter up to 30 s.
 *
 * What it keeps of each object is what `transform` returns: a controller that only needs keys, or
 * a few fields, does not hold whole objects. Indexes map a value (a namespace, an owner, an image
 * digest) to the keys of the objects that have it.
 */
import type { KubeClient, ListedPage, WatchEventType } from './client';

/** `namespace/name`, or `name` for cluster-scoped objects. */
export type StoreKey = string;

export interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number; [field: string]: unknown };
  [field: string]: unknown;
}

export interface InformerOptions<S> {
  /** API path of the collection, cluster-wide: `/api/v1/pods`, `/apis/batch/v1/jobs`, ... */
  path: string;
  /** Only objects with these labels (a label selector, as kubectl's -l). */
  labelSelector?: string;
  /** What to keep of an object (default: all of it). */
  transform?: (object: RawObject) => S;
  /** Named indexes: each returns the values an object is found under. */
  indexers?: Record<string, (object: S) => readonly string[]>;
  /** Objects per list page. */
  pageSize?: number;
}

/**
 * What happened to one object: `object` is what is kept of it now (undefined once deleted),
 * `previous` what was kept before, and `raw` the object as the API server sent it (not for
 * deletions found by a relist), for listeners that keep their own view.
 */
export interface InformerEvent<S> {
  key: StoreKey;
  namespace?: string;
  name: string;
  object: S | undefined;
  previous: S | undefined;
  raw: RawObject | undefined;
  deleted: boolean;
}

export type InformerListener<S> = (event: InformerEvent<S>) => void;

export interface InformerStats {
  lists: number;
  watches: number;
  /** Watch events received (bookmarks excluded). */
  events: number;
  errors: number;
}

const firstRetryMs = 500;
const maxRetryMs = 30_000;

export function storeKey(namespace: string | undefined, name: string): StoreKey {
  return namespace ? `${namespace}/${name}` : name;
}

export class Informer<S = RawObject> {
  private readonly store = new Map<StoreKey, S>();
  private readonly indexes = new Map<string, Map<string, Set<StoreKey>>>();
  private readonly listeners: InformerListener<S>[] = [];
  private readonly syncWaiters: Array<() => void> = [];
  private readonly transform: (object: RawObject) => S;
  private hasSynced = false;
  private running = false;
  private stopped = false;
  private retryMs = firstRetryMs;
  private timer: NodeJS.Timeout | undefined;
  private abortWatch: (() => void) | undefined;
  private lastError: Error | undefined;
  readonly stats: InformerStats = { lists: 0, watches: 0, events: 0, errors: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions<S>,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    // Without a transform, the object itself is kept: S is RawObject then.
    this.transform = options.transform ?? ((object) => object as S);
    for (const name of Object.keys(options.indexers ?? {})) this.indexes.set(name, new Map());
  }

  get path(): string {
    return this.options.path;
  }

  /** Listeners see every change, in order; add them before start() to see the first list. */
  addListener(listener: InformerListener<S>): void {
    this.listeners.push(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abortWatch?.();
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  /** True once the first list has been applied. */
  synced(): boolean {
    return this.hasSynced;
  }

  /** The error of the last failed list or watch, until the next list succeeds. */
  error(): Error | undefined {
    return this.lastError;
  }

  /** Resolves once synced (or stopped). */
  waitForSync(): Promise<void> {
    if (this.hasSynced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(namespace: string | undefined, name: string): S | undefined {
    return this.store.get(storeKey(namespace, name));
  }

  keys(): StoreKey[] {
    return [...this.store.keys()];
  }

  values(): IterableIterator<S> {
    return this.store.values();
  }

  get size(): number {
    return this.store.size;
  }

  /** Keys of the objects an indexer maps to `value`. */
  byIndex(index: string, value: string): StoreKey[] {
    const entries = this.indexes.get(index);
    if (!entries) throw new Error(`informer ${this.options.path} has no index "${index}"`);
    return [...(entries.get(value) ?? [])];
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    try {
      const listed = await this.listAll();
      this.stats.lists++;
      const seen = new Set<StoreKey>();
      for (const item of listed.items) seen.add(this.apply(item));
      for (const key of [...this.store.keys()]) if (!seen.has(key)) this.remove(key);
      this.retryMs = firstRetryMs;
      this.lastError = undefined;
      if (!this.hasSynced) {
        this.hasSynced = true;
        for (const resolve of this.syncWaiters.splice(0)) resolve();
      }
      this.watchFrom(listed.resourceVersion);
    } catch (err) {
      this.retry(err);
    }
  }

  private async listAll(): Promise<{ items: RawObject[]; resourceVersion: string }> {
    const items: RawObject[] = [];
    let page: ListedPage | undefined;
    let resourceVersion = '';
    do {
      page = await this.client.listPath(this.options.path, { limit: this.options.pageSize ?? 500, labelSelector: this.options.labelSelector, continueToken: page?.continueToken });
      // Every page of one list is the same snapshot; its version is where the watch starts.
      resourceVersion ||= page.resourceVersion;
      items.push(...(page.items as RawObject[]));
    } while (page.continueToken);
    return { items, resourceVersion };
  }

  private watchFrom(resourceVersion: string): void {
    if (this.stopped) return;
    let lastVersion = resourceVersion;
    let expired = false;
    this.stats.watches++;
    this.abortWatch = this.client.watchPath(
      this.options.path,
      { resourceVersion, labelSelector: this.options.labelSelector },
      (type: WatchEventType, object: RawObject) => {
        if (type === 'ERROR') {
          // Typically 410 Gone: the version is older than etcd keeps. Start over with a list.
          expired = true;
          return;
        }
        lastVersion = object.metadata?.resourceVersion ?? lastVersion;
        if (type === 'BOOKMARK') return;
        this.stats.events++;
        if (type === 'DELETED') this.remove(storeKey(object.metadata?.namespace, object.metadata?.name ?? ''), object);
        else this.apply(object);
      },
      (err) => {
        this.abortWatch = undefined;
        if (this.stopped) return;
        if (err) this.retry(err);
        else if (expired) void this.relist();
        // The server ended the watch normally: go on from where it stopped, replaying nothing.
        else this.watchFrom(lastVersion);
      },
    );
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    const error = err instanceof Error ? err : new Error(String(err));
    this.lastError = error;
    this.stats.errors++;
    this.onError(error);
    // Full jitter around the back-off, so replicas that lost the API server together do not
    // come back in lock step.
    const delay = Math.round(this.retryMs / 2 + Math.random() * (this.retryMs / 2));
    this.retryMs = Math.min(this.retryMs * 2, maxRetryMs);
    this.timer = setTimeout(() => void this.relist(), delay);
    this.timer.unref();
  }

  private apply(object: RawObject): StoreKey {
    const namespace = object.metadata?.namespace;
    const name = object.metadata?.name ?? '';
    const key = storeKey(namespace, name);
    const previous = this.store.get(key);
    const kept = this.transform(object);
    if (previous !== undefined) this.unindex(key, previous);
    this.store.set(key, kept);
    this.index(key, kept);
    this.emit({ key, name, ...(namespace ? { namespace } : {}), object: kept, previous, raw: object, deleted: false });
    return key;
  }

  private remove(key: StoreKey, raw?: RawObject): void {
    const previous = this.store.get(key);
    if (previous === undefined) return;
    this.store.delete(key);
    this.unindex(key, previous);
    const slash = key.indexOf('/');
    const namespace = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    this.emit({ key, name, ...(namespace ? { namespace } : {}), object: undefined, previous, raw, deleted: true });
  }

  private index(key: StoreKey, object: S): void {
    for (const [name, indexer] of Object.entries(this.options.indexers ?? {})) {
      const entries = this.indexes.get(name);
      if (!entries) continue;
      for (const value of indexer(object)) {
        let keys = entries.get(value);
        if (!keys) entries.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  private unindex(key: StoreKey, object: S): void {
    for (const [name, indexer] of Object.entries(this.options.indexers ?? {})) {
      const entries = this.indexes.get(name);
      if (!entries) continue;
      for (const value of indexer(object)) {
        const keys = entries.get(value);
        keys?.delete(key);
        if (keys?.size === 0) entries.delete(value);
      }
    }
  }

  private emit(event: InformerEvent<S>): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        // A listener's bug must not stop the cache for everyone else.
        this.onError(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}

/** What shared informers keep of an object unless told otherwise: its metadata, less managedFields. */
export function keepMetadata(object: RawObject): RawObject {
  const { managedFields: _managedFields, ...metadata } = object.metadata ?? {};
  void _managedFields;
  return { ...(object.apiVersion ? { apiVersion: object.apiVersion } : {}), ...(object.kind ? { kind: object.kind } : {}), metadata };
}

export interface SharedInformerOptions {
  labelSelector?: string;
  /** metadata (default): only metadata is kept; object: the whole object. */
  keep?: 'metadata' | 'object';
}

/**
 * The process's one cache, in controller-runtime's sense: one informer per collection (and label
 * selector), shared by the reconcilers, the webhook, the audit and whatever reads the cluster.
 * Consumers add listeners (which see each object whole as it arrives) and keep their own views.
 */
export class InformerFactory {
  private readonly informers = new Map<string, { informer: Informer; keep: 'metadata' | 'object' }>();
  private started = false;

  constructor(
    private readonly client: KubeClient,
    private readonly onError: (path: string, err: Error) => void = () => undefined,
  ) {}

  /** The shared informer of a collection; started with start(), or at once if already started. */
  informer(path: string, options: SharedInformerOptions = {}): Informer {
    const id = `${path}?${options.labelSelector ?? ''}`;
    const keep = options.keep ?? 'metadata';
    const existing = this.informers.get(id);
    if (existing) {
      if (existing.keep !== keep) throw new Error(`informer ${id} is shared with keep=${existing.keep}; asked for keep=${keep}`);
      return existing.informer;
    }
    const informer = new Informer(this.client, { path, ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}), ...(keep === 'metadata' ? { transform: keepMetadata } : {}) }, (err) => this.onError(id, err));
    this.informers.set(id, { informer, keep });
    if (this.started) informer.start();
    return informer;
  }

  start(): void {
    this.started = true;
    for (const { informer } of this.informers.values()) informer.start();
  }

  stop(): void {
    for (const { informer } of this.informers.values()) informer.stop();
  }

  /** True once every informer has listed once. */
  synced(): boolean {
    return [...this.informers.values()].every(({ informer }) => informer.synced());
  }

  all(): Informer[] {
    return [...this.informers.values()].map(({ informer }) => informer);
  }
}

/** The object an event is about: as it arrived, or (a deletion found by a relist) what was kept. */
export function eventObject(event: InformerEvent<RawObject>): RawObject {
  return event.raw ?? event.previous ?? { metadata: { name: event.name, ...(event.namespace ? { namespace: event.namespace } : {}) } };
}
