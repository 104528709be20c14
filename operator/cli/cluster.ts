/**
 * The cluster a command talks to, chosen as kubectl chooses it: --kubeconfig, else $KUBECONFIG,
 * else ~/.kube/config, with --context naming another context than the current one. The client is
 * the operator's own (operator/platform/kube/client.ts), loaded only by commands that need it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { defaultAccess, kubeConfigAccess } from '../platform/kube/access';
import { KubeClient } from '../platform/kube/client';
import type { Flag, Parsed } from './command';

/** The flags of every command that reads the cluster. */
export const clusterFlags: readonly Flag[] = [
  { long: 'kubeconfig', type: 'string', help: 'Path to the kubeconfig file to use (default $KUBECONFIG, then ~/.kube/config).', files: true },
  { long: 'context', type: 'string', help: 'The name of the kubeconfig context to use (default its current context).' },
];

export function clusterClient(parsed: Parsed, env: NodeJS.ProcessEnv = process.env): KubeClient {
  const kubeconfig = parsed.optional('kubeconfig');
  const context = parsed.optional('context');
  if (!context) return new KubeClient(defaultAccess(kubeconfig ? { ...env, KUBECONFIG: kubeconfig } : env));
  // Another context than the current one: client-node's loader merges files and switches context.
  return new KubeClient(
    kubeConfigAccess(`${kubeconfig ?? '$KUBECONFIG'} (context ${context})`, (config) => {
      if (kubeconfig) config.loadFromFile(kubeconfig);
      else config.loadFromDefault();
      if (!config.getContextObject(context)) throw new Error(`context "${context}" is not in the kubeconfig`);
      config.setCurrentContext(context);
    }),
  );
}

interface KubeConfigContexts {
  'current-context'?: unknown;
  contexts?: unknown;
}

const serviceAccountNamespace = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The namespace kubectl would use without -n: the context's (--context, else the current one),
 * else the pod's own in a cluster, else "default". Several kubeconfig files merge as in kubectl:
 * the first file to set the current context or to define a context wins.
 */
export function contextNamespace(parsed: Parsed, env: NodeJS.ProcessEnv = process.env): string {
  const kubeconfig = parsed.optional('kubeconfig');
  const listed = kubeconfig ? [kubeconfig] : (env.KUBECONFIG ?? '').split(path.delimiter).filter((file) => file !== '');
  const files = (listed.length > 0 ? listed : [path.join(env.HOME ?? homedir(), '.kube', 'config')]).filter((file) => existsSync(file));
  if (files.length === 0) return env.KUBERNETES_SERVICE_HOST && existsSync(serviceAccountNamespace) ? readFileSync(serviceAccountNamespace, 'utf8').trim() || 'default' : 'default';
  let current = parsed.optional('context');
  const namespaces = new Map<string, string>();
  for (const file of files) {
    const config = loadYaml(readFileSync(file, 'utf8')) as KubeConfigContexts | null | undefined;
    if (!current && typeof config?.['current-context'] === 'string' && config['current-context'] !== '') current = config['current-context'];
    for (const entry of Array.isArray(config?.contexts) ? (config.contexts as unknown[]) : []) {
      const { name, context } = (entry ?? {}) as { name?: unknown; context?: { namespace?: unknown } };
      if (typeof name === 'string' && !namespaces.has(name)) namespaces.set(name, typeof context?.namespace === 'string' ? context.namespace : '');
    }
  }
  return (current !== undefined ? namespaces.get(current) : undefined) || 'default';
}
