/**
 * The notification port: what a feature calls to say something happened that webhook receivers
 * may want to hear about (docs/notifications.md). It lives in api/ because several features
 * publish (scan, compliance, audit, admission, schedules) and one feature may not import another
 * (ADR 0015); operator/features/notify/ implements it and re-exports it from its events.ts.
 */

export type NotificationEventType =
  | 'scan.completed'
  | 'scan.failed'
  | 'finding.critical'
  | 'compliance.score.dropped'
  | 'policy.violation'
  | 'schedule.run.completed'
  | 'schedule.run.failed';

/** Every event type, in the order the docs list them. */
export const notificationEventTypes: readonly NotificationEventType[] = [
  'scan.completed',
  'scan.failed',
  'finding.critical',
  'compliance.score.dropped',
  'policy.violation',
  'schedule.run.completed',
  'schedule.run.failed',
];

export interface NotificationSubject {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
}

export interface NotificationEvent {
  type: NotificationEventType;
  /** The object the event is about. */
  subject: NotificationSubject;
  /** RFC 3339 time the event happened (the state transition, not the delivery). */
  occurredAt: string;
  /**
   * Same logical event => same key: the delivery id derives from it and the receiver, so a
   * re-reconcile or a new leader re-seeing the same state produces the same delivery id.
   */
  dedupeKey: string;
  /** Event-specific fields, JSON-serializable. */
  data: Record<string, unknown>;
}

export interface Notifier {
  /** Synchronous, O(1), never throws, never waits for I/O: safe inside a reconcile or an admission review. */
  publish(event: NotificationEvent): void;
}

/** For callers with notifications turned off, and for tests. */
export const noNotifier: Notifier = { publish: () => undefined };
