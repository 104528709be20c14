// A SecureStack release installed with helm on the test plane, its pods run by the node player
// from the image test/env/image.sh builds: what test/helm-install.test.ts and bench/helm-install.ts
// share.
import * as path from 'node:path';
import { kubectl, repoRoot } from './cluster';
import { helm } from './helm';
import { buildAndPushImage, inspectImage, mountImage, playImageFromRoot } from './image';
import type { ScanEnvironment } from './scanenv';
import { imageRepository } from '../env/nodeplayer/util';

export const chart = path.join(repoRoot(), 'charts', 'securestack');
export const release = 'sshelm';
export const releaseNamespace = 'securestack-helm-test';
export const fullname = `${release}-securestack`;
export const leaseName = 'securestack-controller';

/**
 * Builds the image, pushes it to the plane's registry (the tag image.test.ts pushes: blobs already
 * there make the push quick) and has the node player run it from its root file system. Returns the
 * pushed reference@digest and the clean-up.
 */
export function prepareOperatorImage(env: ScanEnvironment): { imageRef: string; cleanup: () => void } {
  const { image, pushed = '' } = buildAndPushImage(`${env.registry}/securestack/operator:test`);
  const mounted = mountImage(image);
  const forget = playImageFromRoot('helm-install-test', imageRepository(pushed), mounted, inspectImage(image));
  return { imageRef: pushed, cleanup: () => { forget(); mounted.remove(); } };
}

/** The values of the first install, as a platform team would pass them (docs/install.md). */
export function installValues(env: ScanEnvironment, imageRef: string): string[] {
  const [reference = '', digest] = imageRef.split('@');
  return [
    `image.repository=${imageRepository(reference)}`,
    `image.digest=${digest}`,
    'replicaCount=2',
    `scanning.trivyServer=${env.trivyServer}`,
    `scanning.insecureRegistries={${env.registry}}`,
    // Fail closed: a webhook that stops answering shows up as refused requests, not as silence.
    'webhook.failurePolicy=Fail',
  ];
}

/**
 * The release namespace as docs/install.md has it: Pod Security restricted enforced by the API
 * server's own PodSecurity admission, so the chart's pods must meet it to be created at all.
 */
export async function createReleaseNamespace(): Promise<void> {
  const labels = Object.fromEntries(['enforce', 'audit', 'warn'].map((mode) => [`pod-security.kubernetes.io/${mode}`, 'restricted']));
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: releaseNamespace, labels } }) });
}

export async function installRelease(env: ScanEnvironment, imageRef: string): Promise<void> {
  await createReleaseNamespace();
  await helm(['install', release, chart, '--wait', '--timeout', '180s', ...installValues(env, imageRef).flatMap((v) => ['--set', v])], { namespace: releaseNamespace, timeoutMs: 200_000 });
}

export const privilegedPod = (name: string): string[] => ['run', name, '--image=busybox:1.36', '--privileged=true', '--restart=Never', '--dry-run=server'];

/** Denied, allowed, or not answered (the webhook unreachable under failurePolicy Fail). */
export async function admissionAnswer(namespace: string): Promise<'denied' | 'allowed' | 'unanswered'> {
  const result = await kubectl(privilegedPod('probe'), { namespace, allowFail: true, timeoutMs: 20_000 });
  if (result.code === 0) return 'allowed';
  if (/admission webhook "validate\.securestack\.io" denied the request/.test(result.stderr) && /disallow-privileged/.test(result.stderr)) return 'denied';
  return 'unanswered';
}

/**
 * What the release left: every cluster-scoped object (CRDs excepted) whose name or instance label
 * is the release's, and in the release namespace every object of the kinds it creates, apart from
 * what Kubernetes puts in any namespace (the default ServiceAccount, kube-root-ca.crt).
 */
export async function releaseLeftovers(): Promise<string[]> {
  const left: string[] = [];
  const clusterKinds = (await kubectl(['api-resources', '--namespaced=false', '--verbs=list', '-o', 'name'])).stdout.split('\n').filter((k) => k && !k.startsWith('customresourcedefinitions') && !k.startsWith('namespaces') && !k.startsWith('componentstatuses'));
  const clusterObjects = await kubectl(['get', clusterKinds.join(','), '-o', 'json'], { timeoutMs: 60_000 });
  for (const item of (JSON.parse(clusterObjects.stdout) as { items: Array<{ kind: string; metadata: { name: string; labels?: Record<string, string> } }> }).items) {
    if (item.metadata.name.includes(release) || item.metadata.labels?.['app.kubernetes.io/instance'] === release) left.push(`${item.kind}/${item.metadata.name}`);
  }
  const namespaced = await kubectl(['get', 'deployments,replicasets,pods,services,secrets,configmaps,leases.coordination.k8s.io,serviceaccounts,roles,rolebindings,networkpolicies,poddisruptionbudgets,endpointslices', '-o', 'json'], { namespace: releaseNamespace, allowFail: true });
  if (namespaced.code === 0) {
    for (const item of (JSON.parse(namespaced.stdout) as { items: Array<{ kind: string; metadata: { name: string } }> }).items) {
      const expected = (item.kind === 'ServiceAccount' && item.metadata.name === 'default') || (item.kind === 'ConfigMap' && item.metadata.name === 'kube-root-ca.crt');
      if (!expected) left.push(`${item.kind}/${releaseNamespace}/${item.metadata.name}`);
    }
  }
  return left;
}
