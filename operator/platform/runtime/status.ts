/**
 * The one way a reconciler writes the status of its custom object: the new fields over the status
 * it read, one condition set by convention, nothing sent when nothing changed, an Event when the
 * phase or the generation moved. The resourceVersion read goes with the write, so a write based
 * on a stale copy (the cache may trail the API server) fails with 409 and the key comes back.
 */
import type { ApiObject, KubeClient, ResourceType } from '../kube/client';
import { setCondition, type Condition, type ConditionUpdate } from './conditions';
import type { EventRecorder } from './events';
import { ensureLeading, type ReconcileContext } from './reconciler';

/** What every SecureStack status has. */
export interface ConventionalStatus {
  phase?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface StatusUpdate<S extends ConventionalStatus> {
  /** With `conditions`, the condition is set on those (a reconciler that sets two at once). */
  fields: Partial<Omit<S, 'observedGeneration'>>;
  condition: ConditionUpdate;
  /** Recorded when the phase or the observed generation changes. */
  event?: { type: 'Normal' | 'Warning'; reason: string };
  /** Drops fields that only belong to some phases, after the merge. */
  normalize?: (next: S) => void;
}

/**
 * Writes the status; returns the object as the API server stored it (its new resourceVersion for
 * a later write in the same reconcile), or undefined when nothing changed and nothing was sent.
 */
export async function writeStatus<S extends ConventionalStatus, T extends ApiObject & { status?: S }>(
  deps: { client: KubeClient; events: EventRecorder },
  type: ResourceType,
  object: T,
  context: ReconcileContext,
  update: StatusUpdate<S>,
): Promise<T | undefined> {
  // A status not written yet is empty: every field of S is optional by the CRD's schema.
  const previous = object.status ?? ({} as S);
  const generation = object.metadata?.generation;
  // The fields are a Partial of S itself, so the merge is an S.
  const next = { ...previous, ...update.fields, observedGeneration: generation } as S;
  update.normalize?.(next);
  next.conditions = setCondition(update.fields.conditions ?? previous.conditions, update.condition, generation);
  if (JSON.stringify(next) === JSON.stringify(previous)) return undefined;
  ensureLeading(context);
  const stored = await deps.client.replaceCustomStatus(type, { ...object, status: next });
  if (update.event && (previous.phase !== next.phase || previous.observedGeneration !== generation)) {
    await deps.events.record(object, update.event.type, update.event.reason, update.condition.message, context.log);
  }
  return stored;
}
