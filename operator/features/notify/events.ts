/**
 * The port other features call, re-exported from api/notifications.ts where it lives so that
 * publishers need not import this feature (ADR 0015: features do not import each other).
 */
export { noNotifier, notificationEventTypes } from '../../api/notifications';
export type { NotificationEvent, NotificationEventType, NotificationSubject, Notifier } from '../../api/notifications';
