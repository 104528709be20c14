/**
 * The one module through which SecureStack talks to the Kubernetes API.
 *
 * Credentials come from operator/platform/kube/access.ts (the in-cluster service account and plain
 * kubeconfigs read there; exec plugins, auth providers and proxies through @kubernetes/client-node,
 * loaded only then), the API types from @kubernetes/client-node. Requests themselves are plain
 * REST over one keep-alive agent per set of TLS credentials (ADR 0014): one path for every call,
 * objects exactly as the API server sent them (timestamps stay strings, as in watch events),
 * bounded time per request, and watches that end when the connection goes quiet.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type {
  KubeConfig,
  KubernetesObject,
  CoreV1Event,
  V1ConfigMap,
  V1Job,
  V1Lease,
  V1ObjectMeta,
  V1Pod,
  V1Secret,
  V1TokenReviewStatus,
} from '@kubernetes/client-node';
import { defaultAccess, fileAccess, kubeConfigAccess, type ClusterAccess, type TlsMaterial } from './access';

export type ConfigMap = V1ConfigMap;
/** An object's metadata alone, as a metadata-only list returns it. */
export interface PartialObjectMetadata {
  metadata?: V1ObjectMeta;
}

/**
 * A Lease as it travels as JSON: client-node types its times as Date subclasses, but the API
 * server sends and takes MicroTime strings (six fractional digits).
 */
export type Lease = Omit<V1Lease, 'spec'> & {
  spec?: Omit<NonNullable<V1Lease['spec']>, 'acquireTime' | 'renewTime'> & { acquireTime?: string; renewTime?: string };
};

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

export interface TransportLimits {
  /** Bounded so a hung connection cannot hang a reconcile forever. */
  requestTimeoutMs: number;
  /**
   * A watch with no byte for this long is treated as dead (a peer gone without a FIN). The API
   * server sends a bookmark about once a minute, so a live watch is never this quiet.
   */
  watchIdleTimeoutMs: number;
  /** Answers larger than this are refused: a page of 500 objects stays far below it. */
  maxResponseBytes: number;
}

const defaultLimits: TransportLimits = { requestTimeoutMs: 30_000, watchIdleTimeoutMs: 5 * 60_000, maxResponseBytes: 256 * 1024 * 1024 };
const listPageSize = 500;
/** 429 answers with Retry-After are tried again this many times, waiting at most this long each. */
const maxThrottleRetries = 3;
const maxThrottleWaitSeconds = 2;

/**
 * Asks for a list as PartialObjectMetadataList (metadata only), falling back to the full list
 * from a server that cannot: the same negotiation `kubectl get -o name` and controller-runtime's
 * metadata client use.
 */
const metadataListAccept = 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json';

/**
 * The same for one object: the answer to a write is its metadata only. The API server echoes a
 * created or replaced object whole, and decoding a 900 KiB SBOM part that was just sent costs
 * the event loop 3-5 ms (a concat, a toString and a JSON.parse) for nothing a caller reads.
 */
const metadataAccept = 'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** The patch types the API server accepts, by their Content-Type. */
export type PatchType = 'application/merge-patch+json' | 'application/strategic-merge-patch+json' | 'application/apply-patch+yaml' | 'application/json-patch+json';

interface StatusBody {
  message?: string;
  reason?: string;
}

function statusBody(body: unknown): StatusBody {
  return typeof body === 'object' && body !== null ? body : {};
}

/** Built-in types this module reads and writes (custom ones come from operator/api). */
const builtin = {
  jobs: { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  pods: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  secrets: { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  configmaps: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  events: { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  tokenreviews: { group: 'authentication.k8s.io', version: 'v1', plural: 'tokenreviews', kind: 'TokenReview', namespaced: false },
} satisfies Record<string, ResourceType>;

/** Where a request goes and with which credentials, from the kubeconfig. */
interface Connection {
  server: URL;
  headers: http.OutgoingHttpHeaders;
  agent: http.Agent;
}

export class KubeClient {
  /** Keep-alive agents by TLS material: a rotated client certificate gets a new agent. */
  private agent: { key: string; agent: http.Agent } | undefined;
  /** apiVersion/kind → resource, from discovery (for owner references and the audit). */
  private readonly kinds = new Map<string, ResourceType>();
  private readonly limits: TransportLimits;

  constructor(
    readonly access: ClusterAccess,
    private readonly onError: RequestErrorHook = () => undefined,
    limits: Partial<TransportLimits> = {},
  ) {
    this.limits = { ...defaultLimits, ...limits };
  }

  /** Loads $KUBECONFIG, ~/.kube/config or the in-cluster service account, like kubectl. */
  static fromDefault(onError?: RequestErrorHook): KubeClient {
    return new KubeClient(defaultAccess(), onError);
  }

  /** One kubeconfig file (its current context). */
  static fromFile(file: string, onError?: RequestErrorHook): KubeClient {
    return new KubeClient(fileAccess(file), onError);
  }

  /** A KubeConfig filled by `load` (client-node's loader, for anything access.ts does not read). */
  static fromKubeConfig(load: (config: KubeConfig) => void, onError?: RequestErrorHook, limits?: Partial<TransportLimits>): KubeClient {
    return new KubeClient(kubeConfigAccess('a KubeConfig', load), onError, limits);
  }

  // ---- transport ----------------------------------------------------------------------------

  /**
   * The kubeconfig's server, auth headers and TLS material, asked for on every request: a
   * token file or exec plugin may hand out a new token at any time.
   */
  private async connection(verb: string): Promise<Connection> {
    let credentials;
    try {
      credentials = await this.access.credentials();
    } catch (err) {
      throw new KubeApiError(verb, 0, `credentials from ${this.access.source}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const { server, headers, tls, agent } = credentials;
    return { server, headers, agent: agent ?? this.keepAliveAgent(server, tls) };
  }

  private keepAliveAgent(server: URL, tls: TlsMaterial): http.Agent {
    const key = JSON.stringify([server.protocol, tls]);
    if (this.agent?.key !== key) {
      this.agent?.agent.destroy();
      const agent = server.protocol === 'http:' ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true, ...tls });
      this.agent = { key, agent };
    }
    return this.agent.agent;
  }

  /**
   * Sends one request and returns the parsed JSON answer. A non-2xx answer becomes a
   * KubeApiError with the API server's own message and reason; so does a transport error
   * (code 0). Every failure is reported to the error hook.
   */
  async request<T>(verb: string, method: Method, path: string, body?: unknown, contentType = 'application/json', accept = 'application/json'): Promise<T> {
    try {
      const { server, headers, agent } = await this.connection(verb);
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const options = { method, agent, headers: { ...headers, accept, ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}) } };
      let { code, text, retryAfterSeconds } = await send(server, path, this.limits, options, payload);
      // Like client-go: a 429 that says when to come back (the API server's storage for a CRD just
      // established is "(re)initializing"; priority and fairness throttling) is tried again then,
      // a bounded number of times and never past a few seconds in all.
      for (let retry = 1; code === 429 && retryAfterSeconds !== undefined && retry <= maxThrottleRetries; retry++) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfterSeconds ?? 1, maxThrottleWaitSeconds) * 1000));
        ({ code, text, retryAfterSeconds } = await send(server, path, this.limits, options, payload));
      }
      const parsed = parseJson(text);
      if (code >= 200 && code < 300 && parsed !== undefined) {
        // The API server's answer for this path; callers declare the type they asked for.
        return parsed as T;
      }
      const status = statusBody(parsed);
      throw new KubeApiError(verb, code, status.message ?? (text.slice(0, 200) || 'no body'), status.reason);
    } catch (err) {
      const failure = err instanceof KubeApiError ? err : new KubeApiError(verb, 0, err instanceof Error ? err.message : String(err));
      this.onError(verb, failure.code);
      throw failure;
    }
  }

  /** GET that answers undefined for 404. */
  private async getOrUndefined<T>(verb: string, path: string): Promise<T | undefined> {
    try {
      return await this.request<T>(verb, 'GET', path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Every item of a collection, page by page, and the list's resourceVersion (every page of one
   * list is the same snapshot; a watch starts from its version).
   */
  async listCollection<T>(path: string, labelSelector?: string, verb = `list ${path}`, accept = 'application/json'): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let resourceVersion = '';
    let continueToken: string | undefined;
    do {
      const page = await this.request<{ items?: T[]; metadata?: { resourceVersion?: string; continue?: string } }>(verb, 'GET', `${path}?${listQuery(listPageSize, labelSelector, continueToken)}`, undefined, undefined, accept);
      resourceVersion ||= page.metadata?.resourceVersion ?? '';
      items.push(...(page.items ?? []));
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    return { items, resourceVersion };
  }

  // ---- custom resources -------------------------------------------------------------------

  async getCustom<T extends ApiObject>(type: ResourceType, key: ObjectKey): Promise<T | undefined> {
    return this.getOrUndefined<T>(`get ${type.plural}`, objectPath(type, type.namespaced ? namespaceOf(key) : undefined, key.name));
  }

  /** Lists every object of a type (all namespaces unless one is given), page by page. */
  async listCustom<T extends ApiObject>(type: ResourceType, options: { namespace?: string; labelSelector?: string } = {}): Promise<T[]> {
    return (await this.listCollection<T>(objectPath(type, options.namespace), options.labelSelector, `list ${type.plural}`)).items;
  }

  /** Names, labels and annotations of every object of a type that matches, without the rest (metadata-only list). */
  async listCustomMetadata(type: ResourceType, options: { namespace?: string; labelSelector?: string } = {}): Promise<PartialObjectMetadata[]> {
    return (await this.listCollection<PartialObjectMetadata>(objectPath(type, options.namespace), options.labelSelector, `list ${type.plural}`, metadataListAccept)).items;
  }

  /** Lists at most one object: proves the API server serves this type right now. */
  async probeCustom(type: ResourceType): Promise<void> {
    await this.request(`list ${type.plural}`, 'GET', `${collectionPath(type)}?limit=1`);
  }

  // ---- watch of any collection (for operator/platform/kube/informer.ts) ------------------------

  /**
   * Watches a collection from a resourceVersion, with bookmarks. `done` runs once when the watch
   * ends: with an error, or without one when the server closed it normally. Returns a function
   * that stops the watch (then `done` does not run).
   */
  watchPath(path: string, options: { resourceVersion: string; labelSelector?: string | undefined; timeoutSeconds?: number | undefined }, onEvent: (type: WatchEventType, object: Record<string, unknown> & { metadata?: { name?: string; namespace?: string; resourceVersion?: string } }) => void, done: (err?: Error) => void): () => void {
    const query = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', resourceVersion: options.resourceVersion });
    if (options.labelSelector) query.set('labelSelector', options.labelSelector);
    if (options.timeoutSeconds) query.set('timeoutSeconds', String(options.timeoutSeconds));
    let stopped = false;
    let request: http.ClientRequest | undefined;
    const finish = (err?: Error): void => {
      if (stopped) return;
      stopped = true;
      request?.destroy();
      if (err) this.onError('watch', err instanceof KubeApiError ? err.code : 0);
      done(err);
    };
    this.connection('watch').then(({ server, headers, agent }) => {
      if (stopped) return;
      request = openWatch(server, `${path}?${query.toString()}`, this.limits.watchIdleTimeoutMs, { headers, agent }, (type, object) => {
        if (!stopped) onEvent(type, object);
      }, finish);
    }, (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
    return () => {
      stopped = true;
      request?.destroy();
    };
  }

  // ---- any kind, found through discovery -------------------------------------------------------

  /** UID of any object by apiVersion, kind and name (for owner references); undefined if absent. */
  async uidOf(apiVersion: string, kind: string, name: string, namespace?: string): Promise<string | undefined> {
    const type = await this.resourceOf(apiVersion, kind);
    const object = await this.getOrUndefined<ApiObject>(`get ${kind}`, objectPath(type, type.namespaced ? namespace : undefined, name));
    return object?.metadata?.uid;
  }

  /** One page of any kind of object, by apiVersion and kind. For background work such as the policy audit. */
  /** One page of a kind, cluster-wide or (for a namespaced kind) in one namespace. */
  async listPage(apiVersion: string, kind: string, limit: number, continueToken?: string, namespace?: string): Promise<{ items: KubernetesObject[]; continueToken?: string }> {
    const type = await this.resourceOf(apiVersion, kind);
    const path = namespace !== undefined && type.namespaced ? objectPath(type, namespace) : collectionPath(type);
    const body = await this.request<{ items?: KubernetesObject[]; metadata?: { continue?: string } }>(`list ${kind}`, 'GET', `${path}?${listQuery(limit, undefined, continueToken)}`);
    const next = body.metadata?.continue || undefined;
    const items = (body.items ?? []).map((item) => ({ apiVersion, kind, ...item }));
    return next ? { items, continueToken: next } : { items };
  }

  /**
   * How many objects of a namespaced kind each namespace holds (all namespaces, or one), from
   * metadata-only pages: what a rule over several objects needs (NetworkPolicies per namespace)
   * without holding them.
   */
  async countPerNamespace(apiVersion: string, kind: string, namespace?: string): Promise<Map<string, number>> {
    const type = await this.resourceOf(apiVersion, kind);
    const path = namespace !== undefined ? objectPath(type, namespace) : collectionPath(type);
    const counts = new Map<string, number>();
    for (const item of (await this.listCollection<PartialObjectMetadata>(path, undefined, `list ${type.plural}`, metadataListAccept)).items) {
      const at = item.metadata?.namespace ?? '';
      counts.set(at, (counts.get(at) ?? 0) + 1);
    }
    return counts;
  }

  /** Whether a kind's objects live in namespaces, from discovery (cached). */
  async namespaced(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resourceOf(apiVersion, kind)).namespaced;
  }

  /** The resource serving a kind, from the discovery document of its group version (cached). */
  private async resourceOf(apiVersion: string, kind: string): Promise<ResourceType> {
    const known = this.kinds.get(`${apiVersion}/${kind}`);
    if (known) return known;
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) as [string, string] : ['', apiVersion];
    const list = await this.request<{ resources?: Array<{ name: string; kind: string; namespaced: boolean }> }>(`get discovery`, 'GET', group ? `/apis/${group}/${version}` : `/api/${version}`);
    const found = list.resources?.find((resource) => resource.kind === kind && !resource.name.includes('/'));
    if (!found) throw new KubeApiError(`get discovery`, 404, `${apiVersion} serves no kind ${kind}`, 'NotFound');
    const type: ResourceType = { group, version, plural: found.name, kind, namespaced: found.namespaced };
    this.kinds.set(`${apiVersion}/${kind}`, type);
    return type;
  }

  /**
   * Replaces the status subresource. The object's resourceVersion is sent, so a write based on
   * a stale read fails with 409 instead of overwriting someone else's change.
   */
  async replaceCustomStatus<T extends ApiObject>(type: ResourceType, object: T): Promise<T> {
    return this.request<T>(`update ${type.plural}/status`, 'PUT', `${objectPath(type, type.namespaced ? object.metadata?.namespace : undefined, object.metadata?.name ?? '')}/status`, object);
  }

  async createCustom<T extends ApiObject>(type: ResourceType, object: T): Promise<T> {
    return this.request<T>(`create ${type.plural}`, 'POST', objectPath(type, type.namespaced ? object.metadata?.namespace : undefined), object);
  }

  /**
   * Server-side apply: creates the object or makes the fields this manager owns what `object`
   * says, in one request and without a resourceVersion (force: the operator owns what it writes).
   */
  async applyCustom<T extends ApiObject>(type: ResourceType, object: T, fieldManager: string): Promise<T> {
    const path = objectPath(type, type.namespaced ? object.metadata?.namespace : undefined, object.metadata?.name ?? '');
    return this.request<T>(`apply ${type.plural}`, 'PATCH', `${path}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`, object, 'application/apply-patch+yaml');
  }

  async deleteCustom(type: ResourceType, key: ObjectKey): Promise<void> {
    await this.deleteIfPresent(`delete ${type.plural}`, objectPath(type, type.namespaced ? namespaceOf(key) : undefined, key.name));
  }

  /** Returns false when it was already gone. */
  private async deleteIfPresent(verb: string, path: string): Promise<boolean> {
    try {
      await this.request(verb, 'DELETE', path);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  // ---- jobs -------------------------------------------------------------------------------

  async getJob(namespace: string, name: string): Promise<V1Job | undefined> {
    return this.getOrUndefined<V1Job>('get jobs', objectPath(builtin.jobs, namespace, name));
  }

  async createJob(namespace: string, job: V1Job): Promise<V1Job> {
    return this.request<V1Job>('create jobs', 'POST', objectPath(builtin.jobs, namespace), job);
  }

  /** Scan Jobs in every namespace, by label: how a new leader finds the Jobs already running. */
  async listJobsAllNamespaces(labelSelector: string): Promise<V1Job[]> {
    return (await this.listCollection<V1Job>(collectionPath(builtin.jobs), labelSelector, 'list jobs')).items;
  }

  // ---- leases -----------------------------------------------------------------------------

  async getLease(namespace: string, name: string): Promise<Lease | undefined> {
    return this.getOrUndefined<Lease>('get leases', objectPath(builtin.leases, namespace, name));
  }

  async createLease(namespace: string, lease: Lease): Promise<Lease> {
    return this.request<Lease>('create leases', 'POST', objectPath(builtin.leases, namespace), lease);
  }

  /** Optimistic: fails with 409 when the Lease changed since it was read. */
  async replaceLease(namespace: string, lease: Lease): Promise<Lease> {
    return this.request<Lease>('update leases', 'PUT', objectPath(builtin.leases, namespace, lease.metadata?.name ?? ''), lease);
  }

  // ---- pods, secrets, token reviews ---------------------------------------------------------

  async getPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return this.getOrUndefined<V1Pod>('get pods', objectPath(builtin.pods, namespace, name));
  }

  /** One named Secret; SecureStack never lists or watches Secrets. */
  async getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return this.getOrUndefined<V1Secret>('get secrets', objectPath(builtin.secrets, namespace, name));
  }

  async createSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    return this.request<V1Secret>('create secrets', 'POST', objectPath(builtin.secrets, namespace), secret);
  }

  /** Optimistic: fails with 409 when the Secret changed since it was read. */
  async replaceSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    return this.request<V1Secret>('update secrets', 'PUT', objectPath(builtin.secrets, namespace, secret.metadata?.name ?? ''), secret);
  }

  /** Asks the API server who a bearer token belongs to, for the given audiences. */
  async reviewToken(token: string, audiences: string[]): Promise<V1TokenReviewStatus> {
    const review = await this.request<{ status?: V1TokenReviewStatus }>('create tokenreviews', 'POST', collectionPath(builtin.tokenreviews), {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences },
    });
    return review.status ?? {};
  }

  // ---- config maps (SBOM parts) -------------------------------------------------------------

  async getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    return this.getOrUndefined<ConfigMap>('get configmaps', objectPath(builtin.configmaps, namespace, name));
  }

  /**
   * The metadata of matching ConfigMaps, without their data: the API server answers a
   * PartialObjectMetadataList, so SBOM parts of up to 900 KiB each are neither sent nor decoded.
   */
  async listConfigMapMetadata(namespace: string, labelSelector: string): Promise<PartialObjectMetadata[]> {
    return (await this.listCollection<PartialObjectMetadata>(objectPath(builtin.configmaps, namespace), labelSelector, 'list configmaps', metadataListAccept)).items;
  }

  /**
   * `serialized`, when given, is configMap as JSON bytes already (a caller that built and measured
   * them sends those bytes instead of serializing a 900 KiB object again on the event loop).
   */
  async createConfigMap(namespace: string, configMap: ConfigMap, serialized?: Buffer): Promise<PartialObjectMetadata> {
    return this.request<PartialObjectMetadata>('create configmaps', 'POST', objectPath(builtin.configmaps, namespace), serialized ?? configMap, undefined, metadataAccept);
  }

  /** Unconditional unless configMap carries a resourceVersion (then 409 on a stale write). */
  async replaceConfigMap(namespace: string, configMap: ConfigMap, serialized?: Buffer): Promise<PartialObjectMetadata> {
    return this.request<PartialObjectMetadata>('update configmaps', 'PUT', objectPath(builtin.configmaps, namespace, configMap.metadata?.name ?? ''), serialized ?? configMap, undefined, metadataAccept);
  }

  /** Returns false when it was already gone. */
  async deleteConfigMap(namespace: string, name: string): Promise<boolean> {
    return this.deleteIfPresent('delete configmaps', objectPath(builtin.configmaps, namespace, name));
  }

  // ---- events -----------------------------------------------------------------------------

  async createEvent(namespace: string, event: CoreV1Event): Promise<void> {
    await this.request('create events', 'POST', objectPath(builtin.events, namespace), event);
  }

  // ---- whole-object replace, API discovery (admission webhook) ------------------------------

  /**
   * Replaces a whole object of any type (built-in ones too: the REST paths are the same).
   * Optimistic: fails with 409 when the object's resourceVersion is stale.
   */
  async replaceCustom<T extends ApiObject>(type: ResourceType, object: T): Promise<T> {
    return this.request<T>(`update ${type.plural}`, 'PUT', objectPath(type, type.namespaced ? object.metadata?.namespace : undefined, object.metadata?.name ?? ''), object);
  }

  /**
   * Every resource and subresource (plural "pods/ephemeralcontainers") of the preferred version
   * of every API group, like `kubectl api-resources`. A group version that does not answer (an
   * aggregated API that is down) is named in `failed` instead of failing the whole discovery.
   * One request per group: run it in the background, never on a request path.
   */
  async discoverResources(): Promise<{ resources: Array<ResourceType & { verbs: string[] }>; failed: string[] }> {
    const list = await this.request<{ groups?: Array<{ name: string; preferredVersion?: { version: string } }> }>('get discovery', 'GET', '/apis');
    const groupVersions = [{ group: '', version: 'v1', path: '/api/v1' }];
    for (const group of list.groups ?? []) {
      const version = group.preferredVersion?.version;
      if (version) groupVersions.push({ group: group.name, version, path: `/apis/${group.name}/${version}` });
    }
    type ResourceList = { resources?: Array<{ name: string; kind: string; namespaced: boolean; verbs?: string[] }> };
    const answers = await Promise.allSettled(groupVersions.map((gv) => this.request<ResourceList>('get discovery', 'GET', gv.path)));
    const resources: Array<ResourceType & { verbs: string[] }> = [];
    const failed: string[] = [];
    answers.forEach((answer, i) => {
      const { group, version } = groupVersions[i] ?? { group: '', version: '' };
      if (answer.status === 'rejected') failed.push(group ? `${group}/${version}` : version);
      else for (const r of answer.value.resources ?? []) resources.push({ group, version, plural: r.name, kind: r.kind, namespaced: r.namespaced, verbs: r.verbs ?? [] });
    });
    return { resources, failed };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function listQuery(limit: number, labelSelector: string | undefined, continueToken: string | undefined): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (labelSelector) query.set('labelSelector', labelSelector);
  if (continueToken) query.set('continue', continueToken);
  return query.toString();
}

/** One request with a bounded time and body: the status code and the body as text. */
function send(server: URL, path: string, limits: TransportLimits, options: http.RequestOptions, payload: Buffer | undefined): Promise<{ code: number; text: string; retryAfterSeconds?: number }> {
  const { requestTimeoutMs, maxResponseBytes } = limits;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const req = (server.protocol === 'http:' ? http : https).request(new URL(joinPath(server, path)), { ...options, timeout: requestTimeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= maxResponseBytes) chunks.push(chunk);
        else if (!settled) {
          fail(new Error(`answer larger than ${maxResponseBytes} bytes`));
          req.destroy();
        }
      });
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        const retryAfter = Number(res.headers['retry-after']);
        resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ...(Number.isInteger(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}) });
      });
    });
    req.on('timeout', () => {
      fail(new Error(`no answer within ${requestTimeoutMs} ms`));
      req.destroy();
    });
    req.on('error', fail);
    req.end(payload);
  });
}

/**
 * Opens a watch and feeds its newline-delimited events to `onEvent`; `finish` runs with an
 * error for a non-2xx answer, a broken or quiet connection, and without one at a normal end.
 */
function openWatch(server: URL, path: string, watchIdleTimeoutMs: number, options: http.RequestOptions, onEvent: (type: WatchEventType, object: Record<string, unknown>) => void, finish: (err?: Error) => void): http.ClientRequest {
  const req = (server.protocol === 'http:' ? http : https).request(new URL(joinPath(server, path)), { ...options, method: 'GET', headers: { ...options.headers, accept: 'application/json' } }, (res) => {
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const status = statusBody(parseJson(Buffer.concat(chunks).toString('utf8')));
        finish(new KubeApiError('watch', code, status.message ?? 'watch refused', status.reason));
      });
      res.on('error', (err) => finish(err));
      return;
    }
    let buffered = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) {
          const event = parseJson(line) as { type?: WatchEventType; object?: Record<string, unknown> } | undefined;
          if (event?.type && event.object) onEvent(event.type, event.object);
        }
        newline = buffered.indexOf('\n');
      }
    });
    res.on('end', () => finish());
    res.on('error', (err) => finish(err));
    // A connection cut mid-stream ends without 'end': that is an error, not a normal close.
    res.on('close', () => {
      if (!res.complete) finish(new Error('watch connection closed mid-stream'));
    });
  });
  req.setTimeout(watchIdleTimeoutMs, () => req.destroy(new Error(`watch quiet for ${watchIdleTimeoutMs} ms`)));
  req.on('error', (err) => finish(err));
  req.end();
  return req;
}

function joinPath(server: URL, path: string): string {
  return `${server.origin}${server.pathname.replace(/\/+$/, '')}${path}`;
}

/** The path of a namespaced or cluster-scoped object, or of its collection when name is absent. */
function objectPath(type: Pick<ResourceType, 'group' | 'version' | 'plural' | 'namespaced'>, namespace: string | undefined, name?: string): string {
  const base = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  const scope = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${scope}/${type.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

function namespaceOf(key: ObjectKey): string {
  if (!key.namespace) throw new Error(`object ${key.name} has no namespace`);
  return key.namespace;
}

/** The API path of a resource type's cluster-wide collection. */
export function collectionPath(type: Pick<ResourceType, 'group' | 'version' | 'plural'>): string {
  return objectPath({ ...type, namespaced: false }, undefined);
}
