/**
 * Which objects a ComplianceReport covers: the namespaces its scope names or selects (from the
 * shared Namespace informer), minus the excluded ones, and cluster-scoped objects only for a
 * cluster-wide report. Listing goes page by page, so memory stays bounded by a page and the
 * verdicts, whatever the cluster's size.
 */
import type { ComplianceScope } from '../../api/types.generated';
import { selectorMatches } from '../../engine/match';
import type { ListableKind } from '../../engine/inventory';
import type { KubeObject } from '../../engine/types';
import type { KubeClient } from '../../platform/kube/client';

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export interface ResolvedScope {
  /** Cluster-scoped objects (ClusterRoles, Namespaces...) are in scope. */
  clusterScoped: boolean;
  /** Namespaces in scope; `all` for a cluster-wide report without exclusions. */
  namespaces: ReadonlySet<string> | 'all';
  excluded: ReadonlySet<string>;
}

export function resolveScope(scope: ComplianceScope, namespaces: readonly NamespaceInfo[]): ResolvedScope {
  const excluded = new Set(scope.excludedNamespaces ?? []);
  if (scope.clusterWide) return { clusterScoped: true, namespaces: excluded.size === 0 ? 'all' : new Set(namespaces.map((ns) => ns.name).filter((name) => !excluded.has(name))), excluded };
  const chosen = scope.namespaces
    ? scope.namespaces
    : namespaces.filter((ns) => selectorMatches(scope.namespaceSelector ?? {}, ns.labels)).map((ns) => ns.name);
  return { clusterScoped: false, namespaces: new Set(chosen.filter((name) => !excluded.has(name))), excluded };
}

/** Whether an object (namespace '' or undefined for cluster-scoped) is in scope. */
export function inScope(scope: ResolvedScope, namespace: string | undefined): boolean {
  if (!namespace) return scope.clusterScoped;
  if (scope.excluded.has(namespace)) return false;
  return scope.namespaces === 'all' || scope.namespaces.has(namespace);
}

/** Above this many namespaces in scope, one cluster-wide list filtered here beats a list per namespace. */
const perNamespaceListLimit = 16;

/** Where to list a namespaced kind for a scope: each namespace in it, or (undefined) once cluster-wide. */
export function listTargets(scope: ResolvedScope): (string | undefined)[] {
  return scope.namespaces !== 'all' && scope.namespaces.size <= perNamespaceListLimit ? [...scope.namespaces].sort() : [undefined];
}

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
