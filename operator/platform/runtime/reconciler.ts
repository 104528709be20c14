/**
 * The reconciler contract, after controller-runtime: a key goes in, a result comes out.
 * Reconcilers read the current state from the shared cache and must be idempotent: the same key
 * may be reconciled any number of times, after a restart, a resync or a leadership change.
 */
import type { ApiObject, ObjectKey, ResourceType } from '../kube/client';
import type { Logger } from '../log';

export interface ReconcileResult {
  /** Reconcile this key again after this delay even if nothing changes (polling, schedules). */
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  /** Logger carrying reconcileId, kind and object key on every line. */
  log: Logger;
  /** Aborted when this process stops leading or shuts down: stop before the next write. */
  signal: AbortSignal;
  reconcileId: string;
  /**
   * The object as the shared cache holds it (undefined once deleted; always for virtual kinds).
   * It may trail the API server by a moment: a write based on it sends its resourceVersion, fails
   * with 409 when stale, and the key comes back once the cache has caught up.
   */
  cached?: ApiObject;
}

export interface Reconciler {
  /** The resource this reconciler owns; its keys are `kind/namespace/name`. */
  readonly type: ResourceType;
  /**
   * Keys come only from secondary watches (the type is not a served resource): the manager
   * neither watches nor lists it.
   */
  readonly virtual?: boolean;
  reconcile(key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult>;
}

/**
 * The cached object as the reconciler's own type. The cache holds what the API server sent for
 * this kind, which it validated against the CRD schema the types are generated from.
 */
export function cachedObject<T extends ApiObject>(context: ReconcileContext): T | undefined {
  return context.cached as T | undefined;
}

/** Thrown by a reconciler (via `ensureLeading`) when its context was aborted mid-way. */
export class ReconcileAborted extends Error {}

/** Call before every write: a process that lost the Lease must not write anything more. */
export function ensureLeading(context: ReconcileContext): void {
  if (context.signal.aborted) throw new ReconcileAborted('reconcile aborted: no longer leading');
}

export function keyOf(kind: string, key: ObjectKey): string {
  return `${kind}/${key.namespace ?? ''}/${key.name}`;
}

export function parseKey(queueKey: string): { kind: string; key: ObjectKey } {
  const [kind = '', namespace = '', name = ''] = queueKey.split('/');
  return { kind, key: namespace ? { namespace, name } : { name } };
}
