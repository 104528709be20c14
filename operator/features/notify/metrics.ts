/**
 * Notification metrics. The `receiver` label is bounded by the configuration (at most 32
 * receivers); results and reasons are closed sets.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a delivery ended. */
export type DeliveryResult = 'delivered' | 'failed' | 'refused' | 'dropped';

export interface NotifyMetrics {
  /** Deliveries that ended, by result: delivered, failed (attempts exhausted), refused, dropped. */
  deliveries: Counter<'receiver' | 'result'>;
  /** Every attempt, by result (delivered, http_error, timeout, network, tls, refused, unusable). */
  attempts: Counter<'receiver' | 'result'>;
  queueDepth: Gauge;
  /** Deliveries dropped without being attempted to the end, by reason (overflow, too_large). */
  dropped: Counter<'receiver' | 'reason'>;
  /** Published events not queued again because the same delivery id was pending or delivered. */
  deduplicated: Counter<'receiver'>;
  /** From the event being published to the receiver's 2xx. */
  latency: Histogram<'receiver'>;
  /** 1 when the receiver has a usable signing key, 0 when not (missing Secret or key, bad key). */
  receiverUsable: Gauge<'receiver'>;
  /** Writes of this process's pending deliveries to its ConfigMap, by result. */
  persists: Counter<'result'>;
  /** Pending deliveries taken over from replicas that stopped (leader only). */
  adopted: Counter;
}

export function createNotifyMetrics(registry: Registry): NotifyMetrics {
  const registers = [registry];
  return {
    deliveries: new Counter({ name: 'securestack_notify_deliveries_total', help: 'Webhook deliveries that ended, by receiver and result (delivered, failed, refused, dropped).', labelNames: ['receiver', 'result'], registers }),
    attempts: new Counter({ name: 'securestack_notify_attempts_total', help: 'Webhook delivery attempts by receiver and result (delivered, http_error, timeout, network, tls, refused, unusable).', labelNames: ['receiver', 'result'], registers }),
    queueDepth: new Gauge({ name: 'securestack_notify_queue_depth', help: 'Webhook deliveries pending in this process (in flight, waiting or backing off).', registers }),
    dropped: new Counter({ name: 'securestack_notify_dropped_total', help: 'Webhook deliveries dropped by receiver and reason (overflow: the queue was full and the oldest went; too_large).', labelNames: ['receiver', 'reason'], registers }),
    deduplicated: new Counter({ name: 'securestack_notify_deduplicated_total', help: 'Published events not queued because a delivery with the same id was pending or already delivered.', labelNames: ['receiver'], registers }),
    latency: new Histogram({
      name: 'securestack_notify_delivery_latency_seconds',
      help: 'Time from an event being published to its receiver answering 2xx, retries included.',
      labelNames: ['receiver'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers,
    }),
    receiverUsable: new Gauge({ name: 'securestack_notify_receiver_usable', help: '1 when the receiver has a usable signing key, 0 when its Secret or key is missing or invalid.', labelNames: ['receiver'], registers }),
    persists: new Counter({ name: 'securestack_notify_persist_total', help: 'Writes of pending deliveries to this replica\'s ConfigMap, by result (success, error).', labelNames: ['result'], registers }),
    adopted: new Counter({ name: 'securestack_notify_adopted_total', help: 'Pending deliveries the leader took over from replicas that stopped.', registers }),
  };
}
