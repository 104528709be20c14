/**
 * What a compiled policy reads from a cluster: the kinds to list (with the apiVersion to list them
 * at) and which listed objects are judged through their controller instead. Shared by the
 * background audit and compliance reports, so both count the same objects.
 */
import type { CompiledPolicy } from './compile';
import { catalog } from './rules';
import type { ClusterFacts, KubeObject } from './types';
import { podKinds } from './workload';

/** apiVersion per API group for the kinds built-in rules read (all built-in, all served at v1). */
const groupVersions: Readonly<Record<string, string>> = {
  '': 'v1',
  apps: 'apps/v1',
  batch: 'batch/v1',
  'rbac.authorization.k8s.io': 'rbac.authorization.k8s.io/v1',
  'networking.k8s.io': 'networking.k8s.io/v1',
  'admissionregistration.k8s.io': 'admissionregistration.k8s.io/v1',
};

export interface ListableKind {
  apiVersion: string;
  group: string;
  kind: string;
}

/** The kinds that can be listed: those that carry a pod and those any catalog rule reads. */
function listableKinds(): ListableKind[] {
  const kinds = new Map<string, ListableKind>();
  const add = (group: string, kind: string): void => {
    const apiVersion = groupVersions[group];
    if (apiVersion) kinds.set(`${group}/${kind}`, { apiVersion, group, kind });
  };
  for (const { group, kind } of podKinds) add(group, kind);
  for (const rule of catalog) if (rule.target === 'object') for (const { group, kind } of rule.kinds) add(group, kind);
  return [...kinds.values()];
}

const listable = listableKinds();

/** Every kind the audit and compliance reports may list (the chart's ClusterRole must allow each). */
export function listableKindList(): readonly ListableKind[] {
  return listable;
}

/** The kinds to list for a policy, with apiVersions; wildcards expand to the listable kinds. */
export function policyKinds(policy: CompiledPolicy): { kinds: ListableKind[]; skipped: string[] } {
  const kinds = new Map<string, ListableKind>();
  const skipped: string[] = [];
  for (const entry of policy.match.kinds) {
    const group = entry.group ?? '';
    const candidates = listable.filter((known) => (group === '*' || group === known.group) && (entry.kind === '*' || entry.kind === known.kind));
    if (candidates.length === 0) skipped.push(group ? `${entry.kind}.${group}` : entry.kind);
    for (const candidate of candidates) kinds.set(`${candidate.group}/${candidate.kind}`, candidate);
  }
  return { kinds: [...kinds.values()], skipped };
}

/** True when a controller that the policy also matches owns the object (it is judged through that controller). */
export function judgedThroughController(object: KubeObject, policy: CompiledPolicy): boolean {
  const owner = object.metadata?.ownerReferences?.find((reference) => reference.controller === true);
  if (!owner?.kind) return false;
  const group = (owner.apiVersion ?? '').includes('/') ? (owner.apiVersion ?? '').split('/')[0] ?? '' : '';
  return policy.match.kinds.some((kind) => ((kind.group ?? '') === '*' || (kind.group ?? '') === group) && (kind.kind === '*' || kind.kind === owner.kind));
}

/**
 * The facts background-only rules read, from NetworkPolicy counts per namespace that cover every
 * namespace judged: one without an entry has none, not an unknown number.
 */
export function networkPolicyFacts(counts: ReadonlyMap<string, number>): ClusterFacts {
  return { networkPolicyCount: (namespace) => counts.get(namespace) ?? 0 };
}
