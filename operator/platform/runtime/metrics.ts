/**
 * The operator's own Prometheus metrics. One registry for the process so /metrics serves
 * everything, and tests can create fresh registries without global state leaking between them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface OperatorMetrics {
  registry: Registry;
  reconcileTotal: Counter<'kind' | 'result'>;
  reconcileDuration: Histogram<'kind'>;
  queueDepth: Gauge<'queue'>;
  queueRetries: Counter<'queue'>;
  reconcilesInFlight: Gauge<'queue'>;
  leader: Gauge;
  leaderTransitions: Counter<'event'>;
  kubeRequestErrors: Counter<'verb' | 'code'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    reconcileTotal: new Counter({
      name: 'securestack_reconcile_total',
      help: 'Reconciles by resource kind and result (success, requeue, error, conflict).',
      labelNames: ['kind', 'result'],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'securestack_reconcile_duration_seconds',
      help: 'Duration of one reconcile by resource kind.',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'securestack_workqueue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['queue'],
      registers,
    }),
    queueRetries: new Counter({
      name: 'securestack_workqueue_retries_total',
      help: 'Keys put back in the work queue with backoff after a failed reconcile.',
      labelNames: ['queue'],
      registers,
    }),
    reconcilesInFlight: new Gauge({
      name: 'securestack_workqueue_in_flight',
      help: 'Reconciles running right now.',
      labelNames: ['queue'],
      registers,
    }),
    leader: new Gauge({
      name: 'securestack_leader',
      help: '1 while this process holds the controller Lease, 0 otherwise.',
      registers,
    }),
    leaderTransitions: new Counter({
      name: 'securestack_leader_transitions_total',
      help: 'Times this process started or stopped leading.',
      labelNames: ['event'],
      registers,
    }),
    kubeRequestErrors: new Counter({
      name: 'securestack_kube_request_errors_total',
      help: 'Failed Kubernetes API requests by verb and HTTP status (0 when no response).',
      labelNames: ['verb', 'code'],
      registers,
    }),
  };
}

/**
 * Creates counter series at 0 for label values known up front. A series born at 1 makes
 * `increase()` and `rate()` miss its first event (Prometheus has no earlier sample), so an alert
 * on the first failure would never fire, and a dashboard shows "No data" where 0 is the answer.
 */
export function zeroSeries<T extends string>(counter: Counter<T>, labelSets: ReadonlyArray<Partial<Record<T, string>>>): void {
  for (const labels of labelSets) counter.inc(labels, 0);
}
