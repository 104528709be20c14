/**
 * A list+watch cache of one collection, in client-go's sense of an informer, that never ends the
 * process: list (in pages), then watch from the list's resourceVersion with bookmarks; when the
 * server closes a watch (it does every 30-60 minutes), watch again from the last version seen, so
 * nothing is replayed; when that version is too old (410 Gone) or anything fails, list again,
 * report only what changed or disappeared in between, and back off with jitter up to 30 s.
 *
 * The store keeps each object's metadata (or, when a consumer needs it, the whole object);
 * listeners see every object whole as it arrives. Indexes, in client-go's sense, map values
 * computed from each arriving object (a label, an owner, an image digest) to the objects that have
 * them, so readers look up what they need instead of walking the store or keeping a copy of their own.
 */
import type { KubeClient, WatchEventType } from './client';

export interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number; [field: string]: unknown };
  [field: string]: unknown;
}

/**
 * What the store keeps of each object, least first: `identity` (namespace, name, uid and
 * resourceVersion: enough to notice changes and deletions, for consumers that keep their own
 * view, such as the pod index), `metadata` (less managedFields), or the whole `object`.
 */
export type Keep = 'identity' | 'metadata' | 'object';
const keepOrder: readonly Keep[] = ['identity', 'metadata', 'object'];

export interface InformerOptions {
  /** API path of the collection, cluster-wide: `/api/v1/pods`, `/apis/batch/v1/jobs`, ... */
  path: string;
  /** Only objects with these labels (a label selector, as kubectl's -l). */
  labelSelector?: string;
  /** metadata (default): the store keeps metadata only; object: the whole object. */
  keep?: Keep;
  /** Asks the server to end each watch after this long (it picks 30-60 min otherwise). */
  watchTimeoutSeconds?: number;
}

/**
 * One change: `object` is the object as the API server sent it, or, for a deletion found by a
 * relist, what the store kept of it.
 */
export interface InformerEvent {
  namespace?: string;
  name: string;
  object: RawObject;
  deleted: boolean;
}

export interface InformerStats {
  lists: number;
  watches: number;
  /** Changes passed to listeners, from watches and relists alike. */
  events: number;
  errors: number;
}

const firstRetryMs = 500;
const maxRetryMs = 30_000;

/** `namespace/name`, or `name` for cluster-scoped objects. */
function storeKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** The least an informer keeps: who the object is and which version of it was seen. */
export function keepIdentity(object: RawObject): RawObject {
  const { name, namespace, uid, resourceVersion } = object.metadata ?? {};
  return { metadata: { name, ...(namespace ? { namespace } : {}), uid, resourceVersion } };
}

/** What an informer keeps of an object by default: its metadata, less managedFields. */
export function keepMetadata(object: RawObject): RawObject {
  return { ...(object.apiVersion ? { apiVersion: object.apiVersion } : {}), ...(object.kind ? { kind: object.kind } : {}), metadata: metadataWithoutManagedFields(object) };
}

/** The whole object less managedFields, which nothing in SecureStack reads and which is often the largest part. */
export function keepObject(object: RawObject): RawObject {
  return { ...object, metadata: metadataWithoutManagedFields(object) };
}

function metadataWithoutManagedFields(object: RawObject): NonNullable<RawObject['metadata']> {
  const { managedFields: _managedFields, ...metadata } = object.metadata ?? {};
  void _managedFields;
  return metadata;
}

/**
 * The values under which an object is indexed. It sees the object whole as the API server sent it,
 * whatever the store keeps, so an index can read fields the store drops.
 */
export type IndexFunction = (object: RawObject) => readonly string[];

/** The index every informer has: objects by namespace. */
export const namespaceIndex = 'namespace';

/** Indexes objects by the value of one label (objects without it are not in the index). */
export function labelIndexFunction(label: string): IndexFunction {
  return (object) => {
    const value = (object.metadata?.labels as Record<string, string> | undefined)?.[label];
    return value === undefined ? [] : [value];
  };
}

/** Indexes objects by the uid of their controlling owner, as controller-runtime's owner index. */
export function ownerIndexFunction(object: RawObject): readonly string[] {
  const owners = (object.metadata?.ownerReferences as Array<{ uid?: string; controller?: boolean }> | undefined) ?? [];
  return owners.filter((owner) => owner.controller === true && owner.uid).map((owner) => owner.uid as string);
}

export class Informer {
  private readonly store = new Map<string, RawObject>();
  private readonly indexers = new Map<string, IndexFunction>([[namespaceIndex, (object) => (object.metadata?.namespace ? [object.metadata.namespace] : [])]]);
  /** index name → value → store keys. */
  private readonly indexes = new Map<string, Map<string, Set<string>>>([[namespaceIndex, new Map()]]);
  /**
   * store key → the values it is filed under, one entry per index in the indexers' order, to unfile
   * exactly those on change (an array, not a map: this costs a few dozen bytes per object).
   */
  private readonly filed = new Map<string, Array<readonly string[]>>();
  private readonly listeners: Array<(event: InformerEvent) => void> = [];
  private readonly syncWaiters: Array<() => void> = [];
  private hasSynced = false;
  private running = false;
  private stopped = false;
  private retryMs = firstRetryMs;
  private timer: NodeJS.Timeout | undefined;
  private abortWatch: (() => void) | undefined;
  readonly stats: InformerStats = { lists: 0, watches: 0, events: 0, errors: 0 };

  constructor(
    private readonly client: KubeClient,
    private options: InformerOptions,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  get keep(): Keep {
    return this.options.keep ?? 'metadata';
  }

  /** Keeps at least `keep` from now on; only before start(), when the store is still empty. */
  keepAtLeast(keep: Keep): void {
    if (keepOrder.indexOf(keep) <= keepOrder.indexOf(this.keep)) return;
    if (this.running) throw new Error(`informer ${this.options.path} already started keeping ${this.keep}`);
    this.options = { ...this.options, keep };
  }

  /** What the store keeps of an object (undefined when it is not there). */
  get(namespace: string | undefined, name: string): RawObject | undefined {
    return this.store.get(storeKey(namespace, name));
  }

  /** Listeners see every change, in order; add them before start() to see the first list. */
  addListener(listener: (event: InformerEvent) => void): void {
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

  /** Resolves once synced (or stopped). */
  waitForSync(): Promise<void> {
    if (this.hasSynced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  values(): IterableIterator<RawObject> {
    return this.store.values();
  }

  /**
   * Adds an index; only before start(), so that every object is filed. Consumers of a shared
   * informer may add the same index (same name and function) more than once.
   */
  addIndex(name: string, indexer: IndexFunction): void {
    const existing = this.indexers.get(name);
    if (existing === indexer) return;
    if (existing) throw new Error(`informer ${this.options.path} already has another index named ${name}`);
    if (this.running) throw new Error(`informer ${this.options.path} already started: add index ${name} before start()`);
    this.indexers.set(name, indexer);
    this.indexes.set(name, new Map());
  }

  /** What the store keeps of every object filed under `value` in index `name`. */
  byIndex(name: string, value: string): RawObject[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`informer ${this.options.path} has no index named ${name}`);
    const objects: RawObject[] = [];
    for (const key of index.get(value) ?? []) {
      const object = this.store.get(key);
      if (object) objects.push(object);
    }
    return objects;
  }

  /** The values some object is filed under in index `name` (for example every namespace with objects). */
  indexValues(name: string): string[] {
    return [...(this.indexes.get(name)?.keys() ?? [])];
  }

  /** Every object in one namespace, from the namespace index. */
  inNamespace(namespace: string): RawObject[] {
    return this.byIndex(namespaceIndex, namespace);
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    try {
      const listed = await this.client.listCollection<RawObject>(this.options.path, this.options.labelSelector);
      this.stats.lists++;
      const seen = new Set<string>();
      for (const item of listed.items) seen.add(this.apply(item));
      for (const [key, kept] of [...this.store]) if (!seen.has(key)) this.remove(key, kept);
      this.retryMs = firstRetryMs;
      if (!this.hasSynced) {
        this.hasSynced = true;
        for (const resolve of this.syncWaiters.splice(0)) resolve();
      }
      this.watchFrom(listed.resourceVersion);
    } catch (err) {
      this.retry(err);
    }
  }

  private watchFrom(resourceVersion: string): void {
    if (this.stopped) return;
    let lastVersion = resourceVersion;
    let expired = false;
    this.stats.watches++;
    this.abortWatch = this.client.watchPath(
      this.options.path,
      { resourceVersion, labelSelector: this.options.labelSelector, timeoutSeconds: this.options.watchTimeoutSeconds },
      (type: WatchEventType, object: RawObject) => {
        if (type === 'ERROR') {
          // Typically 410 Gone: the version is older than etcd keeps. Start over with a list.
          expired = true;
          return;
        }
        lastVersion = object.metadata?.resourceVersion ?? lastVersion;
        if (type === 'BOOKMARK') return;
        const key = storeKey(object.metadata?.namespace, object.metadata?.name ?? '');
        if (type === 'DELETED') this.remove(key, object);
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
    this.stats.errors++;
    this.onError(err instanceof Error ? err : new Error(String(err)));
    // Full jitter around the back-off, so replicas that lost the API server together do not
    // come back in lock step.
    const delay = Math.round(this.retryMs / 2 + Math.random() * (this.retryMs / 2));
    this.retryMs = Math.min(this.retryMs * 2, maxRetryMs);
    this.timer = setTimeout(() => void this.relist(), delay);
    this.timer.unref();
  }

  /** Stores an object and tells the listeners, unless the store already has this version. */
  private apply(object: RawObject): string {
    const namespace = object.metadata?.namespace;
    const name = object.metadata?.name ?? '';
    const key = storeKey(namespace, name);
    const version = object.metadata?.resourceVersion;
    // A relist after an error returns every object again; only what changed is news.
    if (version !== undefined && this.store.get(key)?.metadata?.resourceVersion === version) return key;
    this.store.set(key, this.keep === 'identity' ? keepIdentity(object) : this.keep === 'metadata' ? keepMetadata(object) : keepObject(object));
    this.file(key, object);
    this.emit({ name, ...(namespace ? { namespace } : {}), object, deleted: false });
    return key;
  }

  private remove(key: string, object: RawObject): void {
    if (!this.store.delete(key)) return;
    this.unfile(key);
    const namespace = object.metadata?.namespace;
    this.emit({ name: object.metadata?.name ?? '', ...(namespace ? { namespace } : {}), object, deleted: true });
  }

  /** Files a stored object under its current index values, unfiling it from its previous ones. */
  private file(key: string, object: RawObject): void {
    this.unfile(key);
    const filed: Array<readonly string[]> = [];
    for (const [name, indexer] of this.indexers) {
      const values = indexer(object);
      filed.push(values);
      const index = this.indexes.get(name);
      for (const value of values) {
        const keys = index?.get(value);
        if (keys) keys.add(key);
        else index?.set(value, new Set([key]));
      }
    }
    this.filed.set(key, filed);
  }

  private unfile(key: string): void {
    const filed = this.filed.get(key);
    if (!filed) return;
    let position = 0;
    for (const name of this.indexers.keys()) {
      const index = this.indexes.get(name);
      for (const value of filed[position++] ?? []) {
        const keys = index?.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index?.delete(value);
      }
    }
    this.filed.delete(key);
  }

  private emit(event: InformerEvent): void {
    this.stats.events++;
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

export interface SharedInformerOptions {
  labelSelector?: string;
  keep?: Keep;
}

/**
 * The process's one cache, in controller-runtime's sense: one informer per collection (and label
 * selector), shared by the reconcilers, the webhook, the audit and whatever reads the cluster.
 */
export class InformerFactory {
  private readonly informers = new Map<string, Informer>();
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
      // More serves a consumer of less; the reverse only before the start.
      existing.keepAtLeast(keep);
      return existing;
    }
    const informer = new Informer(this.client, { path, keep, ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}) }, (err) => this.onError(id, err));
    this.informers.set(id, informer);
    if (this.started) informer.start();
    return informer;
  }

  start(): void {
    this.started = true;
    for (const informer of this.informers.values()) informer.start();
  }

  stop(): void {
    for (const informer of this.informers.values()) informer.stop();
  }

  all(): Informer[] {
    return [...this.informers.values()];
  }
}
