/**
 * Status conditions by Kubernetes convention: one entry per type, and lastTransitionTime moves
 * only when the status value changes, so "since when is this False" stays answerable.
 */
/** A time as metav1.Time serializes it: RFC 3339 in UTC with whole seconds. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** Returns a new list with `update` applied; other conditions are kept as they are. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number | undefined,
  now: Date = new Date(),
): Condition[] {
  const existing = conditions?.find((condition) => condition.type === update.type);
  const lastTransitionTime =
    existing && existing.status === update.status ? existing.lastTransitionTime : rfc3339(now);
  const next: Condition = { ...update, lastTransitionTime, observedGeneration };
  const others = (conditions ?? []).filter((condition) => condition.type !== update.type);
  return [...others, next].sort((a, b) => a.type.localeCompare(b.type));
}
