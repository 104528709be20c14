/**
 * Which objects a ComplianceReport covers: the namespaces its scope names or selects (from the
 * shared Namespace informer), minus the excluded ones, and cluster-scoped objects only for a
 * cluster-wide report (resolved by engine/scope.ts). Listing goes page by page, so memory stays
 * bounded by a page and the verdicts, whatever the cluster's size.
 */
import type { ListableKind } from '../../engine/inventory';
import type { KubeObject } from '../../engine/types';
import { inScope, listTargets, type ResolvedScope } from '../../engine/scope';
import type { KubeClient } from '../../platform/kube/client';

/** Every object of the kinds in scope, a page at a time. */
export async function* objectsInScope(
  client: Pick<KubeClient, 'listPage' | 'namespaced'>,
  kinds: readonly ListableKind[],
  scope: ResolvedScope,
  options: { pageSize?: number; signal?: AbortSignal } = {},
): AsyncGenerator<KubeObject> {
  const pageSize = options.pageSize ?? 500;
  for (const { apiVersion, kind } of kinds) {
    const namespaced = await client.namespaced(apiVersion, kind);
    // A Namespace is cluster-scoped but belongs to the scope that names it.
    const isNamespace = apiVersion === 'v1' && kind === 'Namespace';
    if (!namespaced && !scope.clusterScoped && !isNamespace) continue;
    for (const namespace of namespaced ? listTargets(scope) : [undefined]) {
      let continueToken: string | undefined;
      do {
        if (options.signal?.aborted) throw new Error('evaluation aborted');
        const page = await client.listPage(apiVersion, kind, pageSize, continueToken, namespace);
        for (const item of page.items) {
          // Lists leave apiVersion and kind off their items; listPage puts them back.
          const object = item as KubeObject;
          if (inScope(scope, isNamespace ? object.metadata?.name : object.metadata?.namespace)) yield object;
        }
        continueToken = page.continueToken;
      } while (continueToken);
    }
  }
}

export { inScope, listTargets, resolveScope, type NamespaceInfo, type ResolvedScope } from '../../engine/scope';
