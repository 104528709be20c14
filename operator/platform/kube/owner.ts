/**
 * The installation's owner: the chart's ClusterRole (SECURESTACK_WEBHOOK_OWNER). Everything the
 * operator creates for itself rather than for a custom resource (the webhook configuration, the
 * certificate Secrets, the leader Lease, the notification shards) names it as owner, so
 * `helm uninstall`, which deletes the ClusterRole, lets the garbage collector remove them too.
 * A namespaced object may have a cluster-scoped owner; no blockOwnerDeletion, which would need
 * permission on the owner's finalizers.
 */
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { KubeClient } from './client';

export type OwnerLookup = () => Promise<V1OwnerReference | undefined>;

/** Looks the ClusterRole up until found, then answers from memory. No name: no owner. */
export function installationOwner(client: Pick<KubeClient, 'uidOf'>, clusterRoleName: string): OwnerLookup {
  let found: V1OwnerReference | undefined;
  return async () => {
    if (found || !clusterRoleName) return found;
    const apiVersion = 'rbac.authorization.k8s.io/v1';
    const uid = await client.uidOf(apiVersion, 'ClusterRole', clusterRoleName);
    found = uid ? { apiVersion, kind: 'ClusterRole', name: clusterRoleName, uid } : undefined;
    return found;
  };
}

/** The owner references an object should carry: its own, plus the installation's when missing. */
export function withOwner(existing: readonly V1OwnerReference[] | undefined, owner: V1OwnerReference | undefined): V1OwnerReference[] | undefined {
  if (!owner || (existing ?? []).some((reference) => reference.uid === owner.uid)) return existing ? [...existing] : undefined;
  return [...(existing ?? []), owner];
}
