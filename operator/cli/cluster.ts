/**
 * The cluster a command talks to, chosen as kubectl chooses it: --kubeconfig, else $KUBECONFIG,
 * else ~/.kube/config, with --context naming another context than the current one. The client is
 * the operator's own (operator/platform/kube/client.ts), loaded only by commands that need it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { load as loadYaml } from 'js-yaml';
import { defaultAccess, kubeConfigAccess, kubeconfigFiles } from '../platform/kube/access';
import { KubeClient } from '../platform/kube/client';
import type { Parsed } from './command';


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

/** The kube context a command uses and its default namespace, read as kubectl reads them. */
export interface KubeContext {
  /** Its name ('' in a pod's service account or a kubeconfig without a current context). */
  name: string;
  /** The context's namespace, else the pod's own, else `default`. */
  namespace: string;
}

/**
 * The context's name and namespace: the KubeClient needs neither, but `-n` defaults to the
 * context's namespace as in kubectl, and exports record which context they came from. The files
 * merge as kubectl merges them: the first to set current-context, or to define a context, wins.
 */
export function kubeContext(parsed: Parsed, env: NodeJS.ProcessEnv = process.env): KubeContext {
  const flag = parsed.optional('kubeconfig');
  const files = (flag ? [flag] : kubeconfigFiles(env).files).filter((file) => existsSync(file));
  const documents = files.map((file) => (loadYaml(readFileSync(file, 'utf8')) ?? {}) as KubeconfigContexts);
  const name = parsed.optional('context') ?? documents.map((doc) => doc['current-context']).find((current) => !!current) ?? '';
  const context = documents.flatMap((doc) => doc.contexts ?? []).find((entry) => entry.name === name);
  const namespace = context?.context?.namespace || (files.length === 0 ? podNamespace() : undefined) || 'default';
  return { name, namespace };
}

interface KubeconfigContexts {
  'current-context'?: string;
  contexts?: Array<{ name: string; context?: { namespace?: string } }>;
}


function podNamespace(): string | undefined {
  const file = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}
