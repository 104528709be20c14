/**
 * The one module through which SecureStack talks to the Kubernetes API.
 *
 * @kubernetes/client-node is still on the 0.22 line (docs/adr/0001-kubernetes-client-pin.md);
 * @dot-i/k8s-operator, which tied it there, is gone (ADR 0013). Its request/response shapes
 * ({ response, body }, HttpError) stay inside this file, so moving to the 1.x client changes
 * this file only.
 */
import {
  AuthenticationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  HttpError,
  KubeConfig,
  KubernetesObjectApi,
  Watch,
  type KubernetesObject,
  type CoreV1Event,
  type V1ConfigMap,
  type V1Job,
  type V1Lease,
  type V1Pod,
  type V1Secret,
  type V1TokenReviewStatus,
} from '@kubernetes/client-node';

export type ConfigMap = V1ConfigMap;

/** Where a resource type lives in the API. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

/**
 * The part of an object this module relies on. Custom objects arrive as raw JSON (timestamps
 * are strings), so this is deliberately looser than client-node's KubernetesObject.
 */
export interface ApiObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
  };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** One page of a list: its objects, the list's resourceVersion, and the token for the next page. */
export interface ListedPage {
  items: unknown[];
  resourceVersion: string;
  continueToken?: string;
}

export interface ObjectKey {
  namespace?: string;
  name: string;
}

/** An API error with the HTTP status and the API server's own message. */
export class KubeApiError extends Error {
  constructor(
    readonly verb: string,
    readonly code: number,
    message: string,
    readonly reason?: string,
  ) {
    super(`${verb}: ${code} ${message}`);
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.code === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.code === 409 && err.reason !== 'AlreadyExists';
export const isAlreadyExists = (err: unknown): boolean => err instanceof KubeApiError && err.reason === 'AlreadyExists';
/** 422: the API server's validation (schema, CEL) refused the object. */
export const isInvalid = (err: unknown): boolean => err instanceof KubeApiError && err.code === 422;

/** Called with the verb and status of every failed request, for metrics. */
export type RequestErrorHook = (verb: string, code: number) => void;

/** Bounded so a hung connection cannot hang a reconcile forever. */
const requestTimeoutMs = 30_000;
const listPageSize = 500;

interface StatusBody {
  message?: string;
  reason?: string;
}

function statusBody(body: unknown): StatusBody {
  return typeof body === 'object' && body !== null ? body : {};
}

export class KubeClient {
  private readonly custom: CustomObjectsApi;
  private readonly batch: BatchV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly authentication: AuthenticationV1Api;
  private readonly objects: KubernetesObjectApi;

  constructor(
    readonly config: KubeConfig,
    private readonly onError: RequestErrorHook = () => undefined,
  ) {
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.batch = config.makeApiClient(BatchV1Api);
    this.coordination = config.makeApiClient(CoordinationV1Api);
    this.core = config.makeApiClient(CoreV1Api);
    this.authentication = config.makeApiClient(AuthenticationV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(config);
    for (const api of [this.custom, this.batch, this.coordination, this.core, this.authentication]) {
      // The options are `request`'s, whose types are not installed; only `timeout` is touched.
      api.addInterceptor((options: { timeout?: number }) => {
        options.timeout = requestTimeoutMs;
        return Promise.resolve();
      });
    }
  }

  /** Loads $KUBECONFIG, ~/.kube/config or the in-cluster service account, like kubectl. */
  static fromDefault(onError?: RequestErrorHook): KubeClient {
    const config = new KubeConfig();
    config.loadFromDefault();
    return new KubeClient(config, onError);
  }

  /** Runs one API call and turns client errors into KubeApiError. */
  private async call<T>(verb: string, request: () => Promise<{ body: T }>): Promise<T> {
    try {
      return (await request()).body;
    } catch (err) {
      if (err instanceof HttpError) {
        const code = err.statusCode ?? 0;
        const body = statusBody(err.body);
        this.onError(verb, code);
        throw new KubeApiError(verb, code, body.message ?? err.message, body.reason);
      }
      this.onError(verb, 0);
      throw new KubeApiError(verb, 0, err instanceof Error ? err.message : String(err));
    }
  }

  // ---- custom resources -------------------------------------------------------------------

  async getCustom<T extends ApiObject>(type: ResourceType, key: ObjectKey): Promise<T | undefined> {
    const verb = `get ${type.plural}`;
    try {
      const body = await this.call(verb, () =>
        type.namespaced
          ? this.custom.getNamespacedCustomObject(type.group, type.version, namespaceOf(key), type.plural, key.name)
          : this.custom.getClusterCustomObject(type.group, type.version, type.plural, key.name),
      );
      return asObject<T>(body);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Lists every object of a type (all namespaces unless one is given), page by page. */
  async listCustom<T extends ApiObject>(type: ResourceType, options: { namespace?: string; labelSelector?: string } = {}): Promise<T[]> {
    const items: T[] = [];
    let continueToken: string | undefined;
    do {
      const body = await this.call(`list ${type.plural}`, () =>
        options.namespace
          ? this.custom.listNamespacedCustomObject(type.group, type.version, options.namespace, type.plural, undefined, undefined, continueToken, undefined, options.labelSelector, listPageSize)
          : this.custom.listClusterCustomObject(type.group, type.version, type.plural, undefined, undefined, continueToken, undefined, options.labelSelector, listPageSize),
      );
      const page = asObject<{ items: T[]; metadata?: { continue?: string } }>(body);
      items.push(...page.items);
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    return items;
  }

  /** Lists at most one object: proves the API server serves this type right now. */
  async probeCustom(type: ResourceType): Promise<void> {
    await this.call(`list ${type.plural}`, () =>
      this.custom.listClusterCustomObject(type.group, type.version, type.plural, undefined, undefined, undefined, undefined, undefined, 1),
    );
  }

  // ---- list and watch of any collection (for operator/kube/informer.ts) -------------------------

  /** One page of a cluster-wide list of any collection path. */
  async listPath(path: string, options: { limit: number; labelSelector?: string | undefined; continueToken?: string | undefined }): Promise<ListedPage> {
    const query = new URLSearchParams({ limit: String(options.limit) });
    if (options.labelSelector) query.set('labelSelector', options.labelSelector);
    if (options.continueToken) query.set('continue', options.continueToken);
    const body = await this.getRaw<{ items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } }>(`${path}?${query.toString()}`, `list ${path}`);
    return { items: body.items ?? [], resourceVersion: body.metadata?.resourceVersion ?? '', ...(body.metadata?.continue ? { continueToken: body.metadata.continue } : {}) };
  }

  /**
   * Watches a collection from a resourceVersion, with bookmarks. `done` runs once when the watch
   * ends: with an error, or without one when the server closed it normally. Returns a function
   * that stops the watch (then `done` does not run).
   */
  watchPath(path: string, options: { resourceVersion: string; labelSelector?: string | undefined; timeoutSeconds?: number | undefined }, onEvent: (type: WatchEventType, object: Record<string, unknown> & { metadata?: { name?: string; namespace?: string; resourceVersion?: string } }) => void, done: (err?: Error) => void): () => void {
    const watch = new Watch(this.config);
    let stopped = false;
    let request: { abort(): void } | undefined;
    const finish = (err?: unknown): void => {
      if (stopped) return;
      stopped = true;
      if (err) this.onError('watch', err instanceof KubeApiError ? err.code : 0);
      done(err ? (err instanceof Error ? err : new Error(JSON.stringify(err) ?? 'watch failed')) : undefined);
    };
    watch
      .watch(path, { resourceVersion: options.resourceVersion, allowWatchBookmarks: true, ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}), ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}) }, (type: string, object: Record<string, unknown>) => {
        if (!stopped) onEvent(type as WatchEventType, object);
      }, (err: unknown) => finish(err))
      // watch() resolves to the underlying request (typed any in client-node 0.22); only abort() is used.
      .then((req: { abort(): void }) => {
        request = req;
        if (stopped) req.abort();
      }, (err: unknown) => finish(err));
    return () => {
      stopped = true;
      request?.abort();
    };
  }

  /** UID of any object by apiVersion, kind and name (for owner references); undefined if absent. */
  async uidOf(apiVersion: string, kind: string, name: string, namespace?: string): Promise<string | undefined> {
    try {
      const body = await this.call(`get ${kind}`, () => this.objects.read({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } }));
      return body.metadata?.uid;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * One page of any kind of object, by apiVersion and kind (the resource is found through
   * discovery, which client-node caches). For background work such as the policy audit.
   */
  async listPage(apiVersion: string, kind: string, limit: number, continueToken?: string): Promise<{ items: KubernetesObject[]; continueToken?: string }> {
    const body = await this.call(`list ${kind}`, () => this.objects.list(apiVersion, kind, undefined, undefined, undefined, undefined, undefined, undefined, limit, continueToken));
    // Typed as V1ListMeta (`_continue`), but arrives raw (`continue`) for kinds the serializer does not know.
    const meta = (body.metadata ?? {}) as { _continue?: string; continue?: string };
    const next = meta._continue || meta.continue || undefined;
    return next ? { items: body.items, continueToken: next } : { items: body.items };
  }

  /**
   * Replaces the status subresource. The object's resourceVersion is sent, so a write based on
   * a stale read fails with 409 instead of overwriting someone else's change.
   */
  async replaceCustomStatus<T extends ApiObject>(type: ResourceType, object: T): Promise<T> {
    const name = object.metadata?.name ?? '';
    const body = await this.call(`update ${type.plural}/status`, () =>
      type.namespaced
        ? this.custom.replaceNamespacedCustomObjectStatus(type.group, type.version, object.metadata?.namespace ?? '', type.plural, name, object)
        : this.custom.replaceClusterCustomObjectStatus(type.group, type.version, type.plural, name, object),
    );
    return asObject<T>(body);
  }

  async createCustom<T extends ApiObject>(type: ResourceType, object: T): Promise<T> {
    const body = await this.call(`create ${type.plural}`, () =>
      type.namespaced
        ? this.custom.createNamespacedCustomObject(type.group, type.version, object.metadata?.namespace ?? '', type.plural, object)
        : this.custom.createClusterCustomObject(type.group, type.version, type.plural, object),
    );
    return asObject<T>(body);
  }

  async deleteCustom(type: ResourceType, key: ObjectKey): Promise<void> {
    try {
      await this.call(`delete ${type.plural}`, () =>
        type.namespaced
          ? this.custom.deleteNamespacedCustomObject(type.group, type.version, namespaceOf(key), type.plural, key.name)
          : this.custom.deleteClusterCustomObject(type.group, type.version, type.plural, key.name),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  // ---- jobs -------------------------------------------------------------------------------

  async createJob(namespace: string, job: V1Job): Promise<V1Job> {
    return this.call('create jobs', () => this.batch.createNamespacedJob(namespace, job));
  }

  async listJobs(namespace: string, labelSelector: string): Promise<V1Job[]> {
    const list = await this.call('list jobs', () =>
      this.batch.listNamespacedJob(namespace, undefined, undefined, undefined, undefined, labelSelector, listPageSize),
    );
    return list.items;
  }

  // ---- leases -----------------------------------------------------------------------------

  async getLease(namespace: string, name: string): Promise<V1Lease | undefined> {
    try {
      return await this.call('get leases', () => this.coordination.readNamespacedLease(name, namespace));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createLease(namespace: string, lease: V1Lease): Promise<V1Lease> {
    return this.call('create leases', () => this.coordination.createNamespacedLease(namespace, lease));
  }

  /** Optimistic: fails with 409 when the Lease changed since it was read. */
  async replaceLease(namespace: string, lease: V1Lease): Promise<V1Lease> {
    return this.call('update leases', () => this.coordination.replaceNamespacedLease(lease.metadata?.name ?? '', namespace, lease));
  }

  /** Scan Jobs in every namespace, by label: how a new leader finds the Jobs already running. */
  async listJobsAllNamespaces(labelSelector: string): Promise<V1Job[]> {
    const items: V1Job[] = [];
    let continueToken: string | undefined;
    do {
      const page = await this.call('list jobs', () =>
        this.batch.listJobForAllNamespaces(undefined, continueToken, undefined, labelSelector, listPageSize),
      );
      items.push(...page.items);
      continueToken = page.metadata?._continue || undefined;
    } while (continueToken);
    return items;
  }

  // ---- pods, secrets, token reviews ---------------------------------------------------------

  async getPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    try {
      return await this.call('get pods', () => this.core.readNamespacedPod(name, namespace));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** One named Secret; SecureStack never lists or watches Secrets. */
  async getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.call('get secrets', () => this.core.readNamespacedSecret(name, namespace));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    return this.call('create secrets', () => this.core.createNamespacedSecret(namespace, secret));
  }

  /** Optimistic: fails with 409 when the Secret changed since it was read. */
  async replaceSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    return this.call('update secrets', () => this.core.replaceNamespacedSecret(secret.metadata?.name ?? '', namespace, secret));
  }

  /** Asks the API server who a bearer token belongs to, for the given audiences. */
  async reviewToken(token: string, audiences: string[]): Promise<V1TokenReviewStatus> {
    const review = await this.call('create tokenreviews', () =>
      this.authentication.createTokenReview({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } }),
    );
    return review.status ?? {};
  }

  // ---- config maps (SBOM parts) -------------------------------------------------------------

  async getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    try {
      return await this.call('get configmaps', () => this.core.readNamespacedConfigMap(name, namespace));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async listConfigMaps(namespace: string, labelSelector: string): Promise<ConfigMap[]> {
    const items: ConfigMap[] = [];
    let continueToken: string | undefined;
    do {
      const page = await this.call('list configmaps', () =>
        this.core.listNamespacedConfigMap(namespace, undefined, undefined, continueToken, undefined, labelSelector, listPageSize),
      );
      items.push(...page.items);
      continueToken = page.metadata?._continue || undefined;
    } while (continueToken);
    return items;
  }

  async createConfigMap(namespace: string, configMap: ConfigMap): Promise<ConfigMap> {
    return this.call('create configmaps', () => this.core.createNamespacedConfigMap(namespace, configMap));
  }

  /** Unconditional unless configMap carries a resourceVersion (then 409 on a stale write). */
  async replaceConfigMap(namespace: string, configMap: ConfigMap): Promise<ConfigMap> {
    return this.call('update configmaps', () => this.core.replaceNamespacedConfigMap(configMap.metadata?.name ?? '', namespace, configMap));
  }

  /** Returns false when it was already gone. */
  async deleteConfigMap(namespace: string, name: string): Promise<boolean> {
    try {
      await this.call('delete configmaps', () => this.core.deleteNamespacedConfigMap(name, namespace));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  // ---- events -----------------------------------------------------------------------------

  async createEvent(namespace: string, event: CoreV1Event): Promise<void> {
    await this.call('create events', () => this.core.createNamespacedEvent(namespace, event));
  }

  // ---- whole-object replace, API discovery (admission webhook) ------------------------------

  /**
   * Replaces a whole object of any type (built-in ones too: the REST paths are the same).
   * Optimistic: fails with 409 when the object's resourceVersion is stale.
   */
  async replaceCustom<T extends ApiObject>(type: ResourceType, object: T): Promise<T> {
    const name = object.metadata?.name ?? '';
    const body = await this.call(`update ${type.plural}`, () =>
      type.namespaced
        ? this.custom.replaceNamespacedCustomObject(type.group, type.version, object.metadata?.namespace ?? '', type.plural, name, object)
        : this.custom.replaceClusterCustomObject(type.group, type.version, type.plural, name, object),
    );
    return asObject<T>(body);
  }

  /**
   * Every resource and subresource (plural "pods/ephemeralcontainers") of the preferred version
   * of every API group, like `kubectl api-resources`. A group version that does not answer (an
   * aggregated API that is down) is named in `failed` instead of failing the whole discovery.
   * One request per group: run it in the background, never on a request path.
   */
  async discoverResources(): Promise<{ resources: Array<ResourceType & { verbs: string[] }>; failed: string[] }> {
    const list = await this.getRaw<{ groups?: Array<{ name: string; preferredVersion?: { version: string } }> }>('/apis');
    const groupVersions = [{ group: '', version: 'v1', path: '/api/v1' }];
    for (const group of list.groups ?? []) {
      const version = group.preferredVersion?.version;
      if (version) groupVersions.push({ group: group.name, version, path: `/apis/${group.name}/${version}` });
    }
    type ResourceList = { resources?: Array<{ name: string; kind: string; namespaced: boolean; verbs?: string[] }> };
    const answers = await Promise.allSettled(groupVersions.map((gv) => this.getRaw<ResourceList>(gv.path)));
    const resources: Array<ResourceType & { verbs: string[] }> = [];
    const failed: string[] = [];
    answers.forEach((answer, i) => {
      const { group, version } = groupVersions[i] ?? { group: '', version: '' };
      if (answer.status === 'rejected') failed.push(group ? `${group}/${version}` : version);
      else for (const r of answer.value.resources ?? []) resources.push({ group, version, plural: r.name, kind: r.kind, namespaced: r.namespaced, verbs: r.verbs ?? [] });
    });
    return { resources, failed };
  }

  /**
   * GET of a raw API path with the kubeconfig's credentials: the generated 0.22 clients have
   * discovery calls only per built-in group, not for /apis/<any group>/<version>.
   */
  private async getRaw<T>(path: string, verb = 'get discovery'): Promise<T> {
    const server = this.config.getCurrentCluster()?.server;
    if (!server) throw new KubeApiError(verb, 0, 'the kubeconfig has no current cluster');
    const options: import('node:https').RequestOptions = { method: 'GET', headers: { Accept: 'application/json' }, timeout: requestTimeoutMs };
    await this.config.applyToHTTPSOptions(options);
    // Loaded on first use: only this background discovery needs a raw HTTPS request.
    const https = await import('node:https');
    try {
      return await new Promise<T>((resolve, reject) => {
        const req = https.request(`${server.replace(/\/+$/, '')}${path}`, options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              body = undefined;
            }
            if (code >= 200 && code < 300 && body !== undefined) {
              // Discovery documents are fixed API types; callers declare only the fields they read.
              resolve(body as T);
              return;
            }
            const status = statusBody(body);
            reject(new KubeApiError(`${verb} ${path}`, code, status.message ?? (text.slice(0, 200) || 'no body'), status.reason));
          });
        });
        req.on('timeout', () => req.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)));
        req.on('error', reject);
        req.end();
      });
    } catch (err) {
      this.onError(verb, err instanceof KubeApiError ? err.code : 0);
      throw err instanceof KubeApiError ? err : new KubeApiError(`${verb} ${path}`, 0, err instanceof Error ? err.message : String(err));
    }
  }
}

/**
 * The custom objects API returns untyped JSON. The API server validated it against the CRD
 * schema, which is the same schema our types are generated from, so the cast is sound.
 */
function asObject<T>(body: object): T {
  return body as T;
}

function namespaceOf(key: ObjectKey): string {
  if (!key.namespace) throw new Error(`object ${key.name} has no namespace`);
  return key.namespace;
}

/** The API path of a resource type's cluster-wide collection. */
export function collectionPath(type: { group: string; version: string; plural: string }): string {
  return type.group === '' ? `/api/${type.version}/${type.plural}` : `/apis/${type.group}/${type.version}/${type.plural}`;
}
