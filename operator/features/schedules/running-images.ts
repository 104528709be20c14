/**
 * The images running in a scope: every container, init container and ephemeral container image of
 * the Pods that have not ended, read page by page from the API server when a run starts (a run is
 * rare; holding every Pod whole in the shared cache for it would cost far more memory).
 */
import { inScope, listTargets, type ResolvedScope } from '../../engine/scope';
import type { KubeObject } from '../../engine/types';
import { imagesOf, podTemplateOf } from '../../engine/workload';
import type { KubeClient } from '../../platform/kube/client';


const pageSize = 500;

/** Unique images of the Pods in scope that are not Succeeded or Failed, sorted. */
export async function runningImages(client: Pick<KubeClient, 'listPage'>, scope: ResolvedScope, signal?: AbortSignal): Promise<string[]> {
  const images = new Set<string>();
  for (const namespace of listTargets(scope)) {
    let continueToken: string | undefined;
    do {
      if (signal?.aborted) throw new Error('listing running images aborted');
      const page = await client.listPage('v1', 'Pod', pageSize, continueToken, namespace);
      for (const item of page.items as KubeObject[]) {
        if (!inScope(scope, item.metadata?.namespace)) continue;
        const phase = (item.status as { phase?: string } | undefined)?.phase;
        if (phase === 'Succeeded' || phase === 'Failed') continue;
        // Lists leave apiVersion and kind off their items; the engine reads a Pod by its kind.
        const pod = podTemplateOf({ ...item, apiVersion: 'v1', kind: 'Pod' });
        for (const image of pod ? imagesOf(pod) : []) images.add(image);
      }
      continueToken = page.continueToken;
    } while (continueToken);
  }
  return [...images].sort();
}
