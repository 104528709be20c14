/**
 * A small Registry HTTP API v2 client: resolves an image reference to a manifest digest.
 *
 *   HEAD /v2/<repository>/manifests/<tag or digest>   (digest from Docker-Content-Digest)
 *   GET  the same, when HEAD gives no usable digest or media type, or the manifest is an index
 *        (the body names the per-platform manifests); the digest is then checked against the
 *        sha256 of the body.
 *
 * Authentication follows the registry's WWW-Authenticate challenge: anonymous first (or the
 * scheme learned earlier), then Basic, or a Bearer token from the challenge's realm (service and
 * scope as given, Basic credentials or an OAuth2 refresh token towards the realm). Tokens are cached
 * until shortly before they expire.
 *
 * Bounded on purpose: a timeout per HTTP request (body included), a manifest size limit (4 MiB by
 * default), at most a few redirects (Authorization dropped when the host changes), and plain HTTP
 * only for registries listed as insecure. Failures are RegistryErrors (errors.ts).
 */
import { createHash } from 'node:crypto';
import { credentialsFor, type PullSecretData, type RegistryCredentials } from './dockerconfig';
import {
  InvalidResponseError,
  NetworkError,
  NotFoundError,
  RegistryError,
  TooLargeError,
  UnauthorizedError,
} from './errors';
import { apiHost, formatReference, isDigest, manifestReference, parseReference, type ImageReference } from './reference';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList];
const IMAGE_TYPES: readonly string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];
const ACCEPT = [...INDEX_TYPES, ...IMAGE_TYPES].join(', ');

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_REDIRECTS = 3;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** Bound on cached tokens and on registries whose auth challenge is remembered. */
const MAX_CACHED_TOKENS = 1000;
/** Tokens are dropped this long before the registry says they expire. */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;
const DEFAULT_TOKEN_LIFETIME_S = 60;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface PlatformManifest {
  digest: string;
  mediaType: string;
  size?: number;
  /** Absent when the index entry names none. */
  platform?: Platform;
}

export interface ResolvedImage {
  reference: ImageReference;
  /** Digest of the manifest the reference names: for a multi-arch tag, the index's own digest. */
  digest: string;
  /** Media type of that manifest. */
  mediaType: string;
  /** Whether the reference names an image index (OCI index or Docker manifest list). */
  isIndex: boolean;
  /** Digest of the image manifest to scan: the chosen platform's for an index, else `digest`. */
  imageDigest: string;
  /** Media type of that image manifest. */
  imageMediaType: string;
  /** For an index: the platform that was chosen. */
  platform?: Platform;
  /** For an index: every manifest it lists, in index order. */
  manifests?: PlatformManifest[];
}

export interface RegistryClientOptions {
  /**
   * Registries reached over plain HTTP instead of HTTPS: `host:port` (that port only) or `host`
   * (any port). Meant for loopback test registries.
   */
  insecureRegistries?: readonly string[];
  /** Per HTTP request, response body included (default 15 s). */
  timeoutMs?: number;
  /** Largest manifest accepted (default 4 MiB). */
  maxManifestBytes?: number;
  /** Redirects followed per request (default 3). */
  maxRedirects?: number;
  /** Platform picked from an index (default linux/amd64); `os/arch[/variant]` or an object. */
  platform?: Platform | string;
  userAgent?: string;
  /** The fetch implementation (default: Node's global fetch). */
  fetch?: typeof fetch;
  /** Clock for token expiry (tests). */
  now?: () => number;
}

export interface ResolveOptions {
  /** Credentials to use; when absent they are picked from pullSecrets. */
  credentials?: RegistryCredentials & { source?: string };
  /** Already-read pull secrets (kubernetes.io/dockerconfigjson or dockercfg) to pick from. */
  pullSecrets?: readonly PullSecretData[];
  /** Overrides the client's platform for this call. */
  platform?: Platform | string;
  signal?: AbortSignal;
}

/** `os/arch[/variant]` to a Platform; throws on anything else. */
export function parsePlatform(value: Platform | string): Platform {
  if (typeof value !== 'string') return value;
  const parts = value.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new Error(`invalid platform '${value}': expected os/architecture[/variant], e.g. linux/amd64`);
  }
  const [os = '', architecture = '', variant] = parts;
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** Whether `registry` (host or host:port) is listed in `insecure` (entries `host` or `host:port`). */
export function isInsecureRegistry(registry: string, insecure: readonly string[]): boolean {
  const target = registry.toLowerCase();
  const hostOnly = target.replace(/:\d+$/, '');
  return insecure.some((entry) => {
    const e = entry.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    return e === target || (!/:\d+$/.test(e) && e === hostOnly);
  });
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Reads manifests' digests from registries. One instance can serve the whole operator. */
export class RegistryClient {
  private readonly insecure: readonly string[];
  private readonly timeoutMs: number;
  private readonly maxManifestBytes: number;
  private readonly maxRedirects: number;
  private readonly platform: Platform;
  private readonly userAgent: string;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  /** Bearer tokens by registry, scope and credential fingerprint. */
  private readonly tokens = new Map<string, CachedToken>();
  /** The challenge each registry answered last, so later requests authenticate up front. */
  private readonly challenges = new Map<string, Challenge>();

  constructor(options: RegistryClientOptions = {}) {
    this.insecure = options.insecureRegistries ?? [];
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    this.platform = parsePlatform(options.platform ?? 'linux/amd64');
    this.userAgent = options.userAgent ?? 'securestack-operator';
    this.fetchImpl = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
  }

  /** Resolves a reference (string or parsed) to its manifest digest and, for an index, its platforms. */
  async resolve(reference: string | ImageReference, options: ResolveOptions = {}): Promise<ResolvedImage> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const credentials =
      options.credentials ?? credentialsFor(options.pullSecrets ?? [], ref.registry, ref.repository);
    const request = new ManifestRequest(this, ref, credentials, options.signal);
    const platform = options.platform !== undefined ? parsePlatform(options.platform) : this.platform;

    const head = await request.send('HEAD', manifestReference(ref));
    let digest: string | undefined;
    let mediaType: string | undefined;
    if (head.ok) {
      digest = headerDigest(head);
      mediaType = contentType(head);
      if (digest !== undefined && ref.digest !== undefined && digest !== ref.digest) {
        throw new InvalidResponseError(`${this.describe(ref)}: the registry answered digest ${digest} for ${ref.digest}`);
      }
      if (digest !== undefined && mediaType !== undefined && IMAGE_TYPES.includes(mediaType)) {
        return { reference: ref, digest, mediaType, isIndex: false, imageDigest: digest, imageMediaType: mediaType };
      }
    } else if (head.status === 401 || head.status === 403) {
      throw await request.failure(head);
    }
    // No usable HEAD (some registries answer HEAD badly), or an index whose body we need: GET,
    // by digest when HEAD gave one so the tag cannot move in between.
    const get = await request.send('GET', digest ?? manifestReference(ref));
    if (!get.ok) throw await request.failure(get);
    const body = await readLimited(get, this.maxManifestBytes, `manifest of ${this.describe(ref)}`);
    const expected = digest ?? ref.digest ?? headerDigest(get);
    const algorithm = expected?.split(':')[0] ?? 'sha256';
    const actual = `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
    if (expected !== undefined && actual !== expected) {
      throw new InvalidResponseError(
        `${this.describe(ref)}: the manifest's content has digest ${actual}, but the registry announced ${expected}`,
      );
    }
    const manifest = parseJson(body, this.describe(ref));
    mediaType = contentType(get) ?? stringField(manifest, 'mediaType') ?? guessMediaType(manifest);
    if (mediaType === undefined || (!INDEX_TYPES.includes(mediaType) && !IMAGE_TYPES.includes(mediaType))) {
      throw new InvalidResponseError(
        `${this.describe(ref)}: unsupported manifest media type ${mediaType ?? '(none)'} ` +
          '(expected an OCI image manifest or index, or a Docker v2 manifest or manifest list)',
      );
    }
    if (IMAGE_TYPES.includes(mediaType)) {
      return { reference: ref, digest: actual, mediaType, isIndex: false, imageDigest: actual, imageMediaType: mediaType };
    }
    const manifests = indexManifests(manifest, this.describe(ref));
    const chosen = pickPlatform(manifests, platform);
    if (!chosen) {
      const available = manifests.flatMap((m) => (m.platform ? [formatPlatform(m.platform)] : []));
      throw new NotFoundError(
        `${this.describe(ref)} is a multi-platform index without an image for ${formatPlatform(platform)} ` +
          `(it has ${available.length > 0 ? available.join(', ') : 'no platform entries'})`,
      );
    }
    return {
      reference: ref,
      digest: actual,
      mediaType,
      isIndex: true,
      imageDigest: chosen.digest,
      imageMediaType: chosen.mediaType,
      ...(chosen.platform ? { platform: chosen.platform } : {}),
      manifests,
    };
  }

  // ---- internals used by ManifestRequest ------------------------------------------------------

  /** @internal */
  baseUrl(registry: string): string {
    const scheme = isInsecureRegistry(registry, this.insecure) ? 'http' : 'https';
    return `${scheme}://${apiHost(registry)}`;
  }

  /** @internal */
  describe(ref: ImageReference): string {
    return formatReference(ref);
  }

  /** @internal One HTTP exchange with redirects followed (bounded) and a timeout. */
  async http(
    method: string,
    url: URL,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    body?: string,
  ): Promise<Response> {
    let current = url;
    let currentMethod = method;
    let currentBody = body;
    const sendHeaders: Record<string, string> = { 'User-Agent': this.userAgent, ...headers };
    for (let redirects = 0; ; redirects++) {
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let res: Response;
      try {
        res = await this.fetchImpl(current, {
          method: currentMethod,
          headers: sendHeaders,
          redirect: 'manual',
          signal: combined,
          ...(currentBody !== undefined ? { body: currentBody } : {}),
        });
      } catch (err) {
        throw networkError(err, `${currentMethod} ${current.origin}${current.pathname}`, this.timeoutMs);
      }
      const location = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || location === null) return res;
      await discard(res);
      if (redirects >= this.maxRedirects) {
        throw new InvalidResponseError(`${current.host}: more than ${this.maxRedirects} redirects for ${current.pathname}`);
      }
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new InvalidResponseError(`${current.host}: redirect to an invalid location`);
      }
      if (next.protocol !== 'https:' && !(next.protocol === 'http:' && isInsecureRegistry(next.host, this.insecure))) {
        throw new InvalidResponseError(`${current.host}: refusing a redirect to ${next.protocol}//${next.host} (not HTTPS)`);
      }
      // Credentials are for the registry only, never for wherever it redirects (e.g. a CDN).
      if (next.host !== current.host) delete sendHeaders.Authorization;
      if (res.status === 303) {
        currentMethod = currentMethod === 'HEAD' ? 'HEAD' : 'GET';
        currentBody = undefined;
      }
      current = next;
    }
  }

  /** @internal */
  cachedToken(key: string): string | undefined {
    const cached = this.tokens.get(key);
    if (!cached) return undefined;
    if (cached.expiresAt <= this.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return cached.token;
  }

  /** @internal */
  storeToken(key: string, token: string, expiresInS: number): void {
    if (this.tokens.size >= MAX_CACHED_TOKENS) {
      const oldest = this.tokens.keys().next();
      if (!oldest.done) this.tokens.delete(oldest.value);
    }
    this.tokens.set(key, { token, expiresAt: this.now() + expiresInS * 1000 - TOKEN_EXPIRY_MARGIN_MS });
  }

  /** @internal */
  knownChallenge(registry: string): Challenge | undefined {
    return this.challenges.get(registry);
  }

  /** @internal */
  rememberChallenge(registry: string, challenge: Challenge): void {
    if (!this.challenges.has(registry) && this.challenges.size >= MAX_CACHED_TOKENS) {
      const oldest = this.challenges.keys().next();
      if (!oldest.done) this.challenges.delete(oldest.value);
    }
    this.challenges.set(registry, challenge);
  }

  /** @internal */
  isInsecure(host: string): boolean {
    return isInsecureRegistry(host, this.insecure);
  }
}

/** The authentication state of one resolve(): which Authorization header to send. */
class ManifestRequest {
  private authorization: string | undefined;
  private triedAuth = false;
  private readonly scope: string;

  constructor(
    private readonly client: RegistryClient,
    private readonly ref: ImageReference,
    private readonly credentials: (RegistryCredentials & { source?: string }) | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.scope = `repository:${ref.repository}:pull`;
  }

  /** Sends a manifest request, authenticating once if the registry challenges it. */
  async send(method: 'HEAD' | 'GET', reference: string): Promise<Response> {
    const url = new URL(`${this.client.baseUrl(this.ref.registry)}/v2/${this.ref.repository}/manifests/${reference}`);
    if (this.authorization === undefined) this.authorization = this.upfrontAuthorization();
    for (;;) {
      const headers: Record<string, string> = { Accept: ACCEPT };
      if (this.authorization !== undefined) headers.Authorization = this.authorization;
      const res = await this.client.http(method, url, headers, this.signal);
      if (res.status !== 401 || this.triedAuth) return res;
      this.triedAuth = true;
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      if (!challenge) return res;
      this.client.rememberChallenge(this.ref.registry, challenge);
      // Basic without credentials cannot do better: this 401 is the answer.
      if (challenge.scheme === 'basic' && this.basicHeader() === undefined) return res;
      await discard(res);
      // A token sent up front was refused (expired or revoked): fetch a fresh one.
      this.authorization = await this.authorize(challenge, this.authorization !== undefined);
    }
  }

  /** The error for a failed manifest response. */
  async failure(res: Response): Promise<RegistryError> {
    const what = this.client.describe(this.ref);
    const detail = await registryMessage(res);
    const registry = this.ref.registry;
    switch (res.status) {
      case 401:
      case 403: {
        const hint = this.credentials
          ? `the credentials${this.credentials.source ? ` from ${this.credentials.source}` : ''} were rejected`
          : `no pull secret has credentials for ${registry}`;
        return new UnauthorizedError(
          `registry ${registry} denied access to ${this.ref.repository} (HTTP ${res.status}${detail}): ${hint}`,
          { status: res.status },
        );
      }
      case 404:
        return new NotFoundError(`${what} not found: registry ${registry} has no such manifest (HTTP 404${detail})`, {
          status: 404,
        });
      case 429:
        return new NetworkError(`registry ${registry} is rate-limiting requests for ${what} (HTTP 429${detail})`, {
          status: 429,
        });
      default:
        if (res.status >= 500) {
          return new NetworkError(`registry ${registry} failed on ${what} (HTTP ${res.status}${detail})`, {
            status: res.status,
          });
        }
        return new InvalidResponseError(`registry ${registry} answered HTTP ${res.status} for ${what}${detail}`, {
          status: res.status,
        });
    }
  }

  private upfrontAuthorization(): string | undefined {
    const known = this.client.knownChallenge(this.ref.registry);
    if (!known) return undefined;
    if (known.scheme === 'basic') return this.basicHeader();
    if (this.credentials?.registryToken) return `Bearer ${this.credentials.registryToken}`;
    const token = this.client.cachedToken(this.tokenKey(known));
    return token !== undefined ? `Bearer ${token}` : undefined;
  }

  private async authorize(challenge: Challenge, skipCache: boolean): Promise<string | undefined> {
    if (challenge.scheme === 'basic') return this.basicHeader();
    if (this.credentials?.registryToken) return `Bearer ${this.credentials.registryToken}`;
    const key = this.tokenKey(challenge);
    const cached = skipCache ? undefined : this.client.cachedToken(key);
    if (cached !== undefined) return `Bearer ${cached}`;
    const { token, expiresIn } = await this.fetchToken(challenge);
    this.client.storeToken(key, token, expiresIn);
    return `Bearer ${token}`;
  }

  private basicHeader(): string | undefined {
    const { username, password } = this.credentials ?? {};
    if (username === undefined || password === undefined) return undefined;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  private tokenKey(challenge: Challenge): string {
    const c = this.credentials;
    const identity = c
      ? createHash('sha256')
          .update(`${c.username ?? ''}\0${c.password ?? ''}\0${c.identityToken ?? ''}`)
          .digest('hex')
      : 'anonymous';
    return `${this.ref.registry}\0${challenge.params.realm ?? ''}\0${this.tokenScope(challenge)}\0${identity}`;
  }

  private tokenScope(challenge: Challenge): string {
    return challenge.params.scope ?? this.scope;
  }

  /** The Docker token flow: GET realm?service&scope (Basic creds if any), or the OAuth2 refresh flow. */
  private async fetchToken(challenge: Challenge): Promise<{ token: string; expiresIn: number }> {
    const registry = this.ref.registry;
    const realmValue = challenge.params.realm;
    if (!realmValue) throw new InvalidResponseError(`registry ${registry}: Bearer challenge without a realm`);
    let realm: URL;
    try {
      realm = new URL(realmValue);
    } catch {
      throw new InvalidResponseError(`registry ${registry}: token realm '${realmValue}' is not a URL`);
    }
    const plainOk = realm.protocol === 'http:' && (this.client.isInsecure(realm.host) || this.client.isInsecure(registry));
    if (realm.protocol !== 'https:' && !plainOk) {
      throw new InvalidResponseError(`registry ${registry}: token realm ${realm.origin} is not HTTPS`);
    }
    const service = challenge.params.service;
    const scope = this.tokenScope(challenge);
    const c = this.credentials;
    let res: Response;
    if (c?.identityToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: c.identityToken,
        client_id: 'securestack',
        scope,
        ...(service !== undefined ? { service } : {}),
      });
      res = await this.client.http(
        'POST',
        realm,
        { 'Content-Type': 'application/x-www-form-urlencoded' },
        this.signal,
        form.toString(),
      );
    } else {
      if (service !== undefined) realm.searchParams.set('service', service);
      realm.searchParams.set('scope', scope);
      const basic = this.basicHeader();
      res = await this.client.http('GET', realm, basic !== undefined ? { Authorization: basic } : {}, this.signal);
    }
    if (res.status === 401 || res.status === 403) {
      const detail = await registryMessage(res);
      const hint = c
        ? `the credentials${c.source ? ` from ${c.source}` : ''} were rejected`
        : `anonymous access is not allowed and no pull secret has credentials for ${registry}`;
      throw new UnauthorizedError(
        `token service ${realm.host} refused a token for ${this.ref.repository} on ${registry} (HTTP ${res.status}${detail}): ${hint}`,
        { status: res.status },
      );
    }
    if (!res.ok) {
      const detail = await registryMessage(res);
      const Err = res.status >= 500 || res.status === 429 ? NetworkError : InvalidResponseError;
      throw new Err(`token service ${realm.host} answered HTTP ${res.status}${detail}`, { status: res.status });
    }
    const body = parseJson(await readLimited(res, MAX_TOKEN_RESPONSE_BYTES, `token from ${realm.host}`), `token from ${realm.host}`);
    const token = stringField(body, 'token') ?? stringField(body, 'access_token');
    if (!token) throw new InvalidResponseError(`token service ${realm.host} answered without a token`);
    const expires = body.expires_in;
    const expiresIn = typeof expires === 'number' && expires > 0 ? expires : DEFAULT_TOKEN_LIFETIME_S;
    return { token, expiresIn };
  }
}

// ------------------------------------------------------------------------------------------------
// helpers

/**
 * Parses a WWW-Authenticate header into its first Basic or Bearer challenge (Bearer preferred).
 * Handles quoted values with commas and several comma-joined challenges.
 */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  const re = /\s*(?:([A-Za-z][\w!#$%&'*+.^`|~-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))|([A-Za-z][\w!#$%&'*+.^`|~-]*))\s*,?/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < header.length && (m = re.exec(header)) !== null) {
    if (m[0] === '') break;
    const [, key, quoted, bare, scheme] = m;
    if (scheme !== undefined) {
      const s = scheme.toLowerCase();
      current = s === 'basic' || s === 'bearer' ? { scheme: s, params: {} } : undefined;
      if (current) challenges.push(current);
    } else if (key !== undefined && current) {
      current.params[key.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '');
    }
  }
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges[0];
}

function headerDigest(res: Response): string | undefined {
  const value = res.headers.get('docker-content-digest')?.trim();
  return value !== undefined && isDigest(value) ? value : undefined;
}

function contentType(res: Response): string | undefined {
  const value = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  return value ? value : undefined;
}

function guessMediaType(manifest: Record<string, unknown>): string | undefined {
  if (Array.isArray(manifest.manifests)) return MEDIA_TYPES.ociIndex;
  if (Array.isArray(manifest.layers)) return MEDIA_TYPES.ociManifest;
  return undefined;
}

function indexManifests(index: Record<string, unknown>, what: string): PlatformManifest[] {
  if (!Array.isArray(index.manifests)) throw new InvalidResponseError(`${what}: the index has no manifests list`);
  const result: PlatformManifest[] = [];
  for (const entry of index.manifests as unknown[]) {
    if (!isObject(entry)) continue;
    const digest = stringField(entry, 'digest');
    const mediaType = stringField(entry, 'mediaType');
    if (digest === undefined || !isDigest(digest) || mediaType === undefined) {
      throw new InvalidResponseError(`${what}: an index entry lacks a valid digest or media type`);
    }
    const item: PlatformManifest = { digest, mediaType };
    if (typeof entry.size === 'number') item.size = entry.size;
    if (isObject(entry.platform)) {
      const os = stringField(entry.platform, 'os');
      const architecture = stringField(entry.platform, 'architecture');
      const variant = stringField(entry.platform, 'variant');
      if (os !== undefined && architecture !== undefined) {
        item.platform = variant !== undefined ? { os, architecture, variant } : { os, architecture };
      }
    }
    result.push(item);
  }
  return result;
}

/** The entry for the platform: os and architecture equal; variant equal when one is asked for. */
function pickPlatform(manifests: readonly PlatformManifest[], want: Platform): PlatformManifest | undefined {
  const candidates = manifests.filter(
    (m) =>
      m.platform !== undefined &&
      IMAGE_TYPES.includes(m.mediaType) &&
      m.platform.os === want.os &&
      m.platform.architecture === want.architecture,
  );
  if (want.variant !== undefined) return candidates.find((m) => m.platform?.variant === want.variant);
  return candidates[0];
}

async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await discard(res);
    throw new TooLargeError(`${what} is ${declared} bytes, over the limit of ${max}`);
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        throw new TooLargeError(`${what} is over the limit of ${max} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw networkError(err, `reading ${what}`, undefined);
  }
  return Buffer.concat(chunks);
}

/** ": <code>: <message>" from a registry's {"errors": [...]} body, or '' (bounded, single line). */
async function registryMessage(res: Response): Promise<string> {
  let text = '';
  try {
    text = (await readLimited(res, MAX_ERROR_BODY_BYTES, 'error body')).toString('utf8');
  } catch {
    return '';
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed) && Array.isArray(parsed.errors)) {
      const parts = (parsed.errors as unknown[]).filter(isObject).map((e) => {
        const code = stringField(e, 'code');
        const message = stringField(e, 'message');
        return [code, message].filter((x) => x !== undefined).join(': ');
      });
      const joined = parts.filter((p) => p !== '').join('; ');
      return joined ? `: ${truncate(joined)}` : '';
    }
  } catch {
    // not JSON; fall through
  }
  const line = text.replace(/\s+/g, ' ').trim();
  return line && !line.startsWith('<') ? `: ${truncate(line)}` : '';
}

function truncate(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // already consumed or aborted
  }
}

function networkError(err: unknown, what: string, timeoutMs: number | undefined): NetworkError {
  const e = err instanceof Error ? err : new Error(String(err));
  if (e.name === 'TimeoutError') {
    return new NetworkError(`${what}: timed out${timeoutMs !== undefined ? ` after ${timeoutMs} ms` : ''}`, { cause: err });
  }
  if (e.name === 'AbortError') return new NetworkError(`${what}: aborted`, { cause: err });
  const cause = e.cause instanceof Error ? e.cause.message : '';
  return new NetworkError(`${what}: cannot reach the registry (${cause || e.message})`, { cause: err });
}

function parseJson(body: Buffer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidResponseError(`${what}: the registry's answer is not valid JSON`);
  }
  if (!isObject(parsed)) throw new InvalidResponseError(`${what}: the registry's answer is not a JSON object`);
  return parsed;
}

function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const value = obj[key];
  return typeof value === 'string' ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
