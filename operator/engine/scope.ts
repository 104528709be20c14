/**
 * Which namespaces a scope covers (a ComplianceReport's, or a ScheduledScan's running-images
 * target): the namespaces it names or selects by label, minus the excluded ones. Pure: the
 * namespaces and their labels are passed in (the shared Namespace informer holds them).
 */
import type { ComplianceScope } from '../api/types.generated';
import { selectorMatches } from './match';

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

/**
 * The namespaces a scope reaches beyond `own`, for messages ("all" when it covers every one), at
 * most five named and "..." after: what a tenant outside the cluster namespaces may not cover.
 */
export function namespacesBeyond(scope: ResolvedScope, own: string): string | undefined {
  const others = scope.namespaces === 'all' ? ['all'] : [...scope.namespaces].filter((namespace) => namespace !== own);
  return others.length === 0 ? undefined : `${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}`;
}
