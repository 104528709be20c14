/**
 * The cluster a command talks to, chosen as kubectl chooses it: --kubeconfig, else $KUBECONFIG,
 * else ~/.kube/config, with --context naming another context than the current one. The client is
 * the operator's own (operator/platform/kube/client.ts), loaded only by commands that need it.
 */
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
