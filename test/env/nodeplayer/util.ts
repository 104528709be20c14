// Pure helpers of the node player: image map lookup, container path mapping, Kubernetes $(VAR)
// expansion and resource quantities. No I/O here, so they can be unit-tested without a cluster.

/** One entry of the image map (SECURESTACK_NODEPLAYER_IMAGES): what an image would run. */
export interface ImageEntry {
  /** The image's ENTRYPOINT as a local argv prefix, e.g. ["/path/to/trivy"] or ["node"]. */
  entrypoint: string[];
  /** The image's CMD: default arguments when the container sets neither command nor args. */
  cmd?: string[];
  /** The image's WORKDIR as a local folder (as the folder inside the image for `rootfs` entries). */
  workingDir?: string;
  /**
   * The image's unpacked root file system: the container then runs chrooted into it (chroot.ts)
   * with `entrypoint`, `cmd` and `workingDir` as the image's own, instead of as local processes.
   */
  rootfs?: string;
  /** The image's USER ("uid" or "uid:gid"), for rootfs entries when the pod sets none. */
  user?: string;
  /** The image's ENV ("NAME=value"), for rootfs entries. */
  env?: string[];
}

export type ImageMap = Record<string, ImageEntry>;

/** Parses and checks an image map file's content; throws with a message naming the bad entry. */
export function parseImageMap(text: string, source: string): ImageMap {
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object mapping image repositories to entries`);
  }
  const out: ImageMap = {};
  for (const [repo, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null) {
      throw new Error(`${source}: entry ${repo} is not an object`);
    }
    const v = value as Record<string, unknown>;
    const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
    if (!isStrings(v.entrypoint)) {
      throw new Error(`${source}: entry ${repo}: entrypoint must be an array of strings`);
    }
    if (v.cmd !== undefined && !isStrings(v.cmd)) {
      throw new Error(`${source}: entry ${repo}: cmd must be an array of strings`);
    }
    for (const key of ['workingDir', 'rootfs', 'user'] as const) {
      if (v[key] !== undefined && typeof v[key] !== 'string') {
        throw new Error(`${source}: entry ${repo}: ${key} must be a string`);
      }
    }
    if (v.env !== undefined && !isStrings(v.env)) {
      throw new Error(`${source}: entry ${repo}: env must be an array of strings`);
    }
    out[repo] = {
      entrypoint: v.entrypoint,
      cmd: v.cmd,
      workingDir: v.workingDir as string | undefined,
      rootfs: v.rootfs as string | undefined,
      user: v.user as string | undefined,
      env: v.env,
    };
  }
  return out;
}

/** The repository part of an image reference: without `@digest` and without `:tag`. */
export function imageRepository(image: string): string {
  let ref = image.split('@')[0] ?? image;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) {
    ref = ref.slice(0, colon);
  }
  return ref;
}

/**
 * Looks an image up in the map by repository, trying the Docker Hub spellings of the same
 * repository too (`trivy` = `library/trivy` = `docker.io/library/trivy`, `aquasec/trivy` =
 * `docker.io/aquasec/trivy`).
 */
export function lookupImage(map: ImageMap, image: string): ImageEntry | undefined {
  const repo = imageRepository(image);
  const candidates = [repo];
  const first = repo.split('/')[0] ?? '';
  const hasRegistry = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) {
    candidates.push(`docker.io/${repo}`);
    if (!repo.includes('/')) {
      candidates.push(`library/${repo}`, `docker.io/library/${repo}`);
    }
  } else if (first === 'docker.io' || first === 'index.docker.io') {
    const rest = repo.slice(first.length + 1);
    candidates.push(rest, `docker.io/${rest}`);
    if (rest.startsWith('library/')) {
      candidates.push(rest.slice('library/'.length));
    }
  }
  for (const c of candidates) {
    if (Object.prototype.hasOwnProperty.call(map, c)) {
      return map[c];
    }
  }
  return undefined;
}

/** A container path (a volumeMount's mountPath) and the local folder that backs it. */
export interface PathMapping {
  from: string;
  to: string;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function normalisePath(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/**
 * Rewrites every occurrence of a mount path in `value` to its local folder. An occurrence counts
 * only as a whole path prefix: it starts the string or follows a character that cannot be part of
 * a path (`=`, `:`, `,`, space, quote, ...), and it ends the string or is followed by `/` or such a
 * character. So with /tmp mounted, `--output=/tmp/r.json` and `HOME=/tmp` are rewritten while
 * `/var/tmp` and `/tmpfoo` are not. Longer mount paths win over shorter ones (/tmp/cache before
 * /tmp), and every position is rewritten at most once. A mount at `/` is never rewritten.
 */
export function rewritePaths(value: string, mappings: readonly PathMapping[]): string {
  const usable = mappings
    .map((m) => ({ from: normalisePath(m.from), to: normalisePath(m.to) }))
    .filter((m) => m.from.startsWith('/') && m.from !== '/')
    .sort((a, b) => b.from.length - a.from.length);
  if (usable.length === 0) {
    return value;
  }
  const byFrom = new Map(usable.map((m) => [m.from, m.to]));
  const alternation = usable.map((m) => escapeRegExp(m.from)).join('|');
  const re = new RegExp(`(^|[^A-Za-z0-9._/~-])(${alternation})(?=$|[^A-Za-z0-9._~-])`, 'g');
  return value.replace(re, (_all, before: string, from: string) => `${before}${byFrom.get(from) ?? from}`);
}

/**
 * Kubernetes' $(VAR_NAME) expansion, as the kubelet applies it to env values, command and args:
 * `$(NAME)` becomes the variable's value when it is defined and stays as written otherwise; `$$`
 * is an escaped `$`, so `$$(NAME)` yields the literal `$(NAME)`.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '(') {
      const end = input.indexOf(')', i + 2);
      if (end < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, end);
      out += lookup(name) ?? `$(${name})`;
      i = end;
      continue;
    }
    out += c;
  }
  return out;
}

const QUANTITY_SUFFIXES: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes resource quantity ("500m", "1Gi", "2") as a number; NaN when unparseable. */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') {
    return q;
  }
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) {
    return NaN;
  }
  const factor = QUANTITY_SUFFIXES[m[2] ?? ''];
  return factor === undefined ? NaN : Number(m[1]) * factor;
}

/** "<ns>_<name>_<container>" made safe as one file name. */
export function safeFileName(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9._-]/g, '-')).join('_');
}

/** A TCP listener of the node that a pod's sandbox mirrors inside the pod. */
export interface LoopbackListener {
  address: string;
  port: number;
}

/**
 * The IPv4 listeners a pod should reach on the node, from the text of /proc/<pid>/net/tcp:
 * sockets in state LISTEN (0A) bound to a loopback address (127.0.0.0/8) as they are, and those
 * bound to every address (0.0.0.0) as 127.0.0.1. Each address and port once.
 */
export function hostLoopbackListeners(procNetTcp: string): LoopbackListener[] {
  const out = new Map<string, LoopbackListener>();
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (fields[3] !== '0A' || !local) continue;
    const [hexAddress = '', hexPort = ''] = local.split(':');
    if (hexAddress.length !== 8) continue;
    // The kernel prints the address as one little-endian 32-bit word.
    const octets = [6, 4, 2, 0].map((i) => parseInt(hexAddress.slice(i, i + 2), 16));
    const port = parseInt(hexPort, 16);
    let address = octets.join('.');
    if (address === '0.0.0.0') address = '127.0.0.1';
    else if (octets[0] !== 127) continue;
    out.set(`${address}:${port}`, { address, port });
  }
  return [...out.values()];
}
