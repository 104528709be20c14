/**
 * Where the API server is and how to prove who we are, loaded as kubectl does: $KUBECONFIG, else
 * ~/.kube/config, else the in-cluster service account.
 *
 * The cases SecureStack meets in practice are read here, in a few dozen lines: the in-cluster
 * service account (its token file re-read, as the kubelet rotates it), and a kubeconfig with a CA,
 * client certificates, a bearer token or a token file. Everything else a kubeconfig can say (exec
 * plugins, auth providers, basic auth, impersonation, proxies, several merged files) goes to
 * @kubernetes/client-node's KubeConfig, loaded only then: its module costs about 85 MiB of memory
 * (it loads every generated API and its HTTP stack), more than the rest of the controller (ADR 0014).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import type * as https from 'node:https';
import { homedir } from 'node:os';
import * as path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { load as loadYaml } from 'js-yaml';

/** TLS material for the agent that talks to the API server. */
export interface TlsMaterial {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** What one request needs: asked for per request, because tokens rotate. */
export interface Credentials {
  server: URL;
  headers: OutgoingHttpHeaders;
  tls: TlsMaterial;
  /** An agent of the loader's own (a proxy's); otherwise the client keeps one per TLS material. */
  agent?: https.Agent;
}

export interface ClusterAccess {
  credentials(): Promise<Credentials>;
  /** Where it came from, for messages. */
  readonly source: string;
  /** The API server, when known without loading anything (not through client-node). */
  readonly server?: URL;
}

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The kubelet rotates projected tokens well before they expire; client-go re-reads every minute. */
export const tokenFileReadMs = 60_000;

/** The kubeconfig files kubectl reads: those $KUBECONFIG lists, else ~/.kube/config (which may not exist). */
export function kubeconfigFiles(env: NodeJS.ProcessEnv = process.env): { files: string[]; fromEnv: boolean } {
  const listed = (env.KUBECONFIG ?? '').split(path.delimiter).filter((file) => file !== '');
  return listed.length > 0 ? { files: listed, fromEnv: true } : { files: [path.join(env.HOME ?? homedir(), '.kube', 'config')], fromEnv: false };
}

/** Loads $KUBECONFIG, ~/.kube/config or the in-cluster service account, like kubectl. */
export function defaultAccess(env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  const { files, fromEnv } = kubeconfigFiles(env);
  if (files.length > 1) return kubeConfigAccess(`$KUBECONFIG (${files.length} files, merged)`, (config) => config.loadFromDefault());
  const file = files[0] ?? '';
  if (fromEnv || existsSync(file)) return fileAccess(file);
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return inClusterAccess(env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT);
  throw new Error(`no kubeconfig (KUBECONFIG unset, ${file} absent) and not in a cluster (KUBERNETES_SERVICE_HOST unset)`);
}

/** The pod's service account: the API server's Service, its CA, and the token the kubelet rotates. */
export function inClusterAccess(host: string, port: string, dir = serviceAccountDir, clock: () => number = Date.now): ClusterAccess {
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  const ca = readFileSync(path.join(dir, 'ca.crt'));
  const token = rereadEvery(path.join(dir, 'token'), tokenFileReadMs, clock);
  return {
    source: 'the in-cluster service account',
    server,
    credentials: () => Promise.resolve({ server, headers: { authorization: `Bearer ${token()}` }, tls: { ca } }),
  };
}

interface KubeConfigFile {
  'current-context'?: string;
  clusters?: Array<{ name: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name: string; user?: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context?: { cluster?: string; user?: string } }>;
}

/** What this module reads itself; any other field of a user or cluster goes to client-node. */
const nativeUserFields = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile']);
const nativeClusterFields = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);

/** One kubeconfig file, its current context. */
export function fileAccess(file: string, clock: () => number = Date.now): ClusterAccess {
  const parsed = loadYaml(readFileSync(file, 'utf8')) as KubeConfigFile | undefined;
  const contextName = parsed?.['current-context'];
  const context = parsed?.contexts?.find((entry) => entry.name === contextName)?.context;
  const cluster = parsed?.clusters?.find((entry) => entry.name === context?.cluster)?.cluster;
  const user = parsed?.users?.find((entry) => entry.name === context?.user)?.user ?? {};
  if (!context || !cluster || typeof cluster.server !== 'string') throw new Error(`${file}: the current context "${contextName ?? ''}" names no cluster with a server`);
  const exotic = Object.keys(user).some((field) => !nativeUserFields.has(field)) || Object.keys(cluster).some((field) => !nativeClusterFields.has(field));
  if (exotic) return kubeConfigAccess(file, (config) => config.loadFromFile(file));
  const dir = path.dirname(file);
  const material = (dataField: string, fileField: string, from: Record<string, unknown>): Buffer | undefined => {
    if (typeof from[dataField] === 'string') return Buffer.from(from[dataField], 'base64');
    if (typeof from[fileField] === 'string') return readFileSync(path.resolve(dir, from[fileField]));
    return undefined;
  };
  const server = new URL(cluster.server);
  const tls: TlsMaterial = {
    ...optional('ca', material('certificate-authority-data', 'certificate-authority', cluster)),
    ...optional('cert', material('client-certificate-data', 'client-certificate', user)),
    ...optional('key', material('client-key-data', 'client-key', user)),
    ...(cluster['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
    ...(typeof cluster['tls-server-name'] === 'string' ? { servername: cluster['tls-server-name'] } : {}),
  };
  const tokenFile = typeof user.tokenFile === 'string' ? rereadEvery(path.resolve(dir, user.tokenFile), tokenFileReadMs, clock) : undefined;
  const staticToken = typeof user.token === 'string' ? user.token : undefined;
  return {
    source: file,
    server,
    credentials: () => {
      const token = staticToken ?? tokenFile?.();
      return Promise.resolve({ server, headers: token ? { authorization: `Bearer ${token}` } : {}, tls });
    },
  };
}

/**
 * Everything else, through client-node's KubeConfig, loaded on first use. `load` fills a new
 * KubeConfig (from a file, the default places, or options in tests).
 */
export function kubeConfigAccess(source: string, load: (config: KubeConfig) => void): ClusterAccess {
  let loaded: Promise<KubeConfig> | undefined;
  const config = (): Promise<KubeConfig> => {
    loaded ??= import('@kubernetes/client-node').then(({ KubeConfig: Loader }) => {
      const instance = new Loader();
      load(instance);
      return instance;
    });
    return loaded;
  };
  return {
    source,
    async credentials(): Promise<Credentials> {
      const kc = await config();
      const cluster = kc.getCurrentCluster();
      if (!cluster?.server) throw new Error(`${source}: the kubeconfig has no current cluster`);
      const options: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(options);
      const headers: OutgoingHttpHeaders = {};
      // Header pairs as an array are an http option this kubeconfig code never produces.
      if (options.headers && !Array.isArray(options.headers)) Object.assign(headers, options.headers);
      if (options.auth) headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
      const tls: TlsMaterial = {
        ...optional('ca', options.ca as string | Buffer | undefined),
        ...optional('cert', options.cert as string | Buffer | undefined),
        ...optional('key', options.key as string | Buffer | undefined),
        ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
        ...optional('servername', options.servername),
      };
      // Through a proxy the client's own agent knows the way.
      const agent = cluster.proxyUrl ? (options.agent as https.Agent | undefined) : undefined;
      return { server: new URL(cluster.server), headers, tls, ...(agent ? { agent } : {}) };
    },
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** A file's trimmed content, read again once `maxAgeMs` old (a token that rotates). */
function rereadEvery(file: string, maxAgeMs: number, clock: () => number): () => string {
  let value = '';
  let readAt = -Infinity;
  return () => {
    if (clock() - readAt >= maxAgeMs) {
      value = readFileSync(file, 'utf8').trim();
      readAt = clock();
    }
    return value;
  };
}
