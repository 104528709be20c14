/**
 * Registry credentials from Kubernetes image pull secrets, matched the way the kubelet matches
 * them (pkg/credentialprovider): pure functions over already-read Secret data, no API calls.
 *
 * - `kubernetes.io/dockerconfigjson`: data[".dockerconfigjson"] = {"auths": {"<key>": entry}}
 * - `kubernetes.io/dockercfg`:        data[".dockercfg"]        = {"<key>": entry}
 * - entry: {"auth": base64("user:password")} and/or {"username", "password"}, optionally
 *   "identitytoken" (an OAuth2 refresh token) or "registrytoken" (a bearer token).
 * - key: a host with optional port, scheme and path (`https://index.docker.io/v1/`,
 *   `registry.example.com:5000`, `example.com/team`); `*` globs one DNS label
 *   (`*.example.com`). Host labels and port must match; a key path must be a prefix of the
 *   repository. All Docker Hub names (docker.io, index.docker.io, registry-1.docker.io,
 *   registry.hub.docker.com) match each other.
 * - Several matches: the most specific key first (exact host over glob, longer path over shorter),
 *   ties in Secret order (the order of imagePullSecrets).
 */
import { DOCKER_HUB, DOCKER_HUB_ALIASES } from './reference';
import { wildcardMatch } from '../patterns';

export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson';
export const DOCKER_CFG_TYPE = 'kubernetes.io/dockercfg';
export const DOCKER_CONFIG_JSON_KEY = '.dockerconfigjson';
export const DOCKER_CFG_KEY = '.dockercfg';

/** The parts of a Secret this module reads: its type and its (base64-encoded) data. */
export interface PullSecretData {
  /** Secret name, only used in messages. */
  name?: string;
  type?: string;
  /** Secret.data as the API returns it: base64-encoded values. */
  data?: Record<string, string>;
}

export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (`identitytoken`), exchanged at the token realm. */
  identityToken?: string;
  /** A bearer token to send as it is (`registrytoken`). */
  registryToken?: string;
}

export interface MatchedCredentials extends RegistryCredentials {
  /** Where the credentials came from: `<secret name>/<config key>`; for logs, never secret. */
  source: string;
}

export interface DockerConfigEntry {
  key: string;
  credentials: RegistryCredentials;
}

/**
 * Parses the registry entries of one pull secret. Throws an Error (with the secret and key, never
 * the values) when the secret is of a docker type but its content cannot be read; returns [] for
 * Secrets of other types.
 */
export function parsePullSecret(secret: PullSecretData): DockerConfigEntry[] {
  const label = secret.name ?? 'secret';
  const data = secret.data ?? {};
  let json: string | undefined;
  let wrapped = true;
  if ((secret.type === DOCKER_CONFIG_JSON_TYPE || secret.type === undefined) && data[DOCKER_CONFIG_JSON_KEY] !== undefined) {
    json = decodeBase64(data[DOCKER_CONFIG_JSON_KEY]);
  } else if ((secret.type === DOCKER_CFG_TYPE || secret.type === undefined) && data[DOCKER_CFG_KEY] !== undefined) {
    json = decodeBase64(data[DOCKER_CFG_KEY]);
    wrapped = false;
  } else if (secret.type === DOCKER_CONFIG_JSON_TYPE || secret.type === DOCKER_CFG_TYPE) {
    const key = secret.type === DOCKER_CONFIG_JSON_TYPE ? DOCKER_CONFIG_JSON_KEY : DOCKER_CFG_KEY;
    throw new Error(`pull secret ${label} of type ${secret.type} has no ${key} key`);
  } else {
    return [];
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`pull secret ${label}: its docker config is not valid JSON`);
  }
  // A .dockercfg is the bare map; a .dockerconfigjson wraps it in "auths" (tolerate either).
  let auths: unknown = parsed;
  if (isObject(parsed) && isObject(parsed.auths)) auths = parsed.auths;
  else if (wrapped) auths = undefined;
  if (!isObject(auths)) throw new Error(`pull secret ${label}: its docker config has no "auths" object`);

  const entries: DockerConfigEntry[] = [];
  for (const [key, value] of Object.entries(auths)) {
    if (!isObject(value)) continue;
    const credentials = entryCredentials(value);
    if (credentials) entries.push({ key, credentials });
  }
  return entries;
}

/**
 * Every credential in the secrets that applies to the repository on the registry, best first.
 * Secrets that cannot be parsed are skipped (use parsePullSecret to report them).
 */
export function matchingCredentials(
  secrets: readonly PullSecretData[],
  registry: string,
  repository = '',
): MatchedCredentials[] {
  const target = splitKey(registry);
  const candidates: { score: [number, number]; order: number; match: MatchedCredentials }[] = [];
  let order = 0;
  secrets.forEach((secret, index) => {
    let entries: DockerConfigEntry[];
    try {
      entries = parsePullSecret(secret);
    } catch {
      return;
    }
    for (const entry of entries) {
      const glob = splitKey(entry.key);
      if (!glob || !target || !keyMatches(glob, target, repository)) continue;
      candidates.push({
        score: [glob.host.includes('*') ? 0 : 1, glob.path.length],
        order: order++,
        match: { ...entry.credentials, source: `${secret.name ?? `secret[${index}]`}/${entry.key}` },
      });
    }
  });
  candidates.sort((a, b) => b.score[0] - a.score[0] || b.score[1] - a.score[1] || a.order - b.order);
  return candidates.map((c) => c.match);
}

/** The best credential for the repository on the registry, or undefined (then: anonymous). */
export function credentialsFor(
  secrets: readonly PullSecretData[],
  registry: string,
  repository = '',
): MatchedCredentials | undefined {
  return matchingCredentials(secrets, registry, repository)[0];
}

// ------------------------------------------------------------------------------------------------

interface SplitKey {
  /** Lower-case host without port; all Docker Hub aliases become docker.io. */
  host: string;
  port: string;
  /** Path without leading or trailing '/', e.g. `team` or '' (`/v1/` of Docker Hub is dropped). */
  path: string;
}

function splitKey(key: string): SplitKey | undefined {
  let rest = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = rest.indexOf('/');
  let path = '';
  if (slash >= 0) {
    path = rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    rest = rest.slice(0, slash);
  }
  let host = rest.toLowerCase();
  let port = '';
  const portMatch = /^(.*):(\d+)$/.exec(host);
  if (portMatch) {
    host = portMatch[1] ?? '';
    port = portMatch[2] ?? '';
  }
  if (host === '') return undefined;
  if (DOCKER_HUB_ALIASES.includes(host) && port === '') {
    host = DOCKER_HUB;
    // Docker's legacy key https://index.docker.io/v1/ names the registry, not a repository path.
    if (/^v[12]$/.test(path)) path = '';
  }
  return { host, port, path };
}

function keyMatches(glob: SplitKey, target: SplitKey, repository: string): boolean {
  if (glob.port !== target.port) return false;
  const globLabels = glob.host.split('.');
  const targetLabels = target.host.split('.');
  if (globLabels.length !== targetLabels.length) return false;
  if (!globLabels.every((label, i) => labelMatches(label, targetLabels[i] ?? ''))) return false;
  if (glob.path === '') return true;
  return repository === glob.path || repository.startsWith(`${glob.path}/`);
}

/** Glob match of one DNS label: `*` is any run of characters within the label. */
function labelMatches(glob: string, label: string): boolean {
  // The label holds no dot (the host was split on them), so `*` cannot run past it.
  return wildcardMatch(glob, label);
}

function entryCredentials(entry: Record<string, unknown>): RegistryCredentials | undefined {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const creds: RegistryCredentials = {};
  const username = str(entry.username);
  const password = str(entry.password);
  const auth = str(entry.auth);
  if (username !== undefined && password !== undefined) {
    creds.username = username;
    creds.password = password;
  } else if (auth !== undefined) {
    const decoded = decodeBase64(auth);
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      creds.username = decoded.slice(0, colon);
      creds.password = decoded.slice(colon + 1);
    }
  }
  const identityToken = str(entry.identitytoken);
  const registryToken = str(entry.registrytoken);
  if (identityToken !== undefined) creds.identityToken = identityToken;
  if (registryToken !== undefined) creds.registryToken = registryToken;
  return Object.keys(creds).length > 0 ? creds : undefined;
}

function decodeBase64(value: string | undefined): string {
  return Buffer.from(value ?? '', 'base64').toString('utf8');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
