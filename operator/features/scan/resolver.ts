/**
 * Resolves an ImageScan's reference to the digest to scan, with the pull secrets the ImageScan
 * names, read one by one from its own namespace (never a list or a cluster-wide read).
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { KubeClient } from '../../platform/kube/client';
import { credentialsFor, DOCKER_CONFIG_JSON_TYPE, parseReference, type PullSecretData, type RegistryClient } from '../../platform/registry';

export interface ResolvedScanTarget {
  /** Digest of the image manifest that is scanned (the platform's, for a multi-arch index). */
  digest: string;
  /** registry/repository, without tag or digest. */
  repository: string;
  registry: string;
  /** The dockerconfigjson Secret whose credentials apply, to mount into the scan Job. */
  pullSecret?: string;
}

export class RegistryResolver {
  constructor(
    private readonly client: KubeClient,
    private readonly registry: RegistryClient,
  ) {}

  async resolve(image: string, namespace: string, pullSecretNames: readonly string[]): Promise<ResolvedScanTarget> {
    const ref = parseReference(image);
    const secrets = await this.readPullSecrets(namespace, pullSecretNames);
    const resolved = await this.registry.resolve(ref, { pullSecrets: secrets });
    const source = credentialsFor(secrets, ref.registry, ref.repository)?.source.split('/')[0];
    const mountable = secrets.find((secret) => secret.name === source && secret.type === DOCKER_CONFIG_JSON_TYPE);
    return { digest: resolved.imageDigest, repository: `${ref.registry}/${ref.repository}`, registry: ref.registry, pullSecret: mountable?.name };
  }

  private async readPullSecrets(namespace: string, names: readonly string[]): Promise<PullSecretData[]> {
    const found = await Promise.all(names.map((name) => this.client.getSecret(namespace, name)));
    return found.filter((secret): secret is V1Secret => secret !== undefined).map((secret) => ({ name: secret.metadata?.name, type: secret.type, data: secret.data }));
  }
}
