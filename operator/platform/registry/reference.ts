/**
 * Image references as Docker and the kubelet understand them (distribution's `reference`
 * package, "normalized named" form):
 *
 *   nginx                         -> docker.io/library/nginx:latest
 *   user/app:1.2                  -> docker.io/user/app:1.2
 *   index.docker.io/nginx         -> docker.io/library/nginx:latest
 *   ghcr.io/org/app@sha256:...    -> digest reference (a tag next to a digest is kept, the digest wins)
 *   127.0.0.1:5000/team/app:dev   -> a registry with a port
 *   localhost/app                 -> the registry `localhost`
 *
 * The first path component is a registry host when it contains '.' or ':', is `localhost`, or has
 * upper-case letters; otherwise the image lives on Docker Hub.
 */
import { InvalidReferenceError } from './errors';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's Registry API actually lives. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** Host names that all mean Docker Hub (in references and in docker config keys). */
export const DOCKER_HUB_ALIASES: readonly string[] = [
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
];

export interface ImageReference {
  /** Registry host as written, lower-cased, with its port if any; `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/nginx`. */
  repository: string;
  /** Tag, if the reference names one; `latest` when it names neither tag nor digest. */
  tag?: string;
  /** `algorithm:hex` digest, if the reference names one. */
  digest?: string;
}

// Grammar from github.com/distribution/reference (regexp.go).
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
/** Longest repository name distribution accepts (registry host included). */
const MAX_NAME_LENGTH = 255;
/** Digest algorithms and their hex lengths that we can verify. */
const KNOWN_DIGESTS: Record<string, number> = { sha256: 64, sha512: 128 };

/** Parses and normalizes an image reference; throws InvalidReferenceError with the reason. */
export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (ref === '') throw new InvalidReferenceError(input, 'it is empty');
  if (/\s/.test(ref)) throw new InvalidReferenceError(input, 'it contains white space');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) {
    throw new InvalidReferenceError(input, 'a reference has no URL scheme (write host/repository:tag)');
  }

  let remainder = ref;
  let digest: string | undefined;
  const at = remainder.indexOf('@');
  if (at >= 0) {
    digest = remainder.slice(at + 1);
    remainder = remainder.slice(0, at);
    validateDigest(input, digest);
  }

  let tag: string | undefined;
  const lastColon = remainder.lastIndexOf(':');
  if (lastColon > remainder.lastIndexOf('/')) {
    tag = remainder.slice(lastColon + 1);
    remainder = remainder.slice(0, lastColon);
    if (!TAG_RE.test(tag)) {
      throw new InvalidReferenceError(input, `tag '${tag}' is not valid (letters, digits, '_', '.', '-'; at most 128)`);
    }
  }

  let registry = DOCKER_HUB;
  let repository = remainder;
  const slash = remainder.indexOf('/');
  if (slash >= 0) {
    const first = remainder.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first.toLowerCase();
      repository = remainder.slice(slash + 1);
      if (!HOST_RE.test(first)) throw new InvalidReferenceError(input, `registry host '${first}' is not valid`);
    }
  }
  if (DOCKER_HUB_ALIASES.includes(registry)) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;

  if (repository === '' || !PATH_RE.test(repository)) {
    throw new InvalidReferenceError(
      input,
      `repository '${repository}' is not valid (lower-case letters, digits and separators '.', '_', '__', '-', split by '/')`,
    );
  }
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    throw new InvalidReferenceError(input, `the name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function validateDigest(input: string, digest: string): void {
  if (!DIGEST_RE.test(digest)) throw new InvalidReferenceError(input, `digest '${digest}' is not valid`);
  const [algorithm, hex] = digest.split(':', 2) as [string, string];
  const length = KNOWN_DIGESTS[algorithm];
  if (length === undefined) {
    throw new InvalidReferenceError(input, `digest algorithm '${algorithm}' is not supported (sha256, sha512)`);
  }
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    throw new InvalidReferenceError(input, `digest '${digest}' is not ${length} lower-case hex digits`);
  }
}

/** True for a well-formed `sha256:<64 hex>` or `sha512:<128 hex>` digest. */
export function isDigest(value: string): boolean {
  const [algorithm, hex] = value.split(':', 2);
  const length = algorithm === undefined ? undefined : KNOWN_DIGESTS[algorithm];
  return length !== undefined && hex !== undefined && hex.length === length && /^[a-f0-9]+$/.test(hex);
}

/** The normalized, fully-qualified form: `docker.io/library/nginx:latest`, `host/repo@sha256:...`. */
export function formatReference(ref: ImageReference): string {
  const name = `${ref.registry}/${ref.repository}`;
  if (ref.digest) return ref.tag ? `${name}:${ref.tag}@${ref.digest}` : `${name}@${ref.digest}`;
  return `${name}:${ref.tag ?? 'latest'}`;
}

/** The same image pinned to a digest: `host/repo@sha256:...` (the tag is dropped). */
export function withDigest(ref: ImageReference, digest: string): string {
  return `${ref.registry}/${ref.repository}@${digest}`;
}

/** What /v2/<repository>/manifests/<this> takes: the digest when there is one, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** The host:port the Registry API is served from (Docker Hub's API host differs from its name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}
