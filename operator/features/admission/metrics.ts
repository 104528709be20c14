/**
 * Admission metrics. Labels are bounded: kinds are those policies name (other kinds are "other";
 * under a policy matching "*", the first 64 kinds seen); operations, decisions and modes are closed
 * sets. (The policies' own metrics are the audit's: features/audit/metrics.ts.)
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { zeroSeries } from '../../platform/runtime/metrics';

/** Why a request was admitted (or refused, under failurePolicy Fail) without a full evaluation. */
export const failOpenReasons = ['not-ready', 'deadline', 'error'] as const;
export type FailOpenReason = (typeof failOpenReasons)[number];

export interface AdmissionMetrics {
  requests: Counter<'decision' | 'mode' | 'kind' | 'operation'>;
  duration: Histogram<'decision'>;
  failOpen: Counter<'reason'>;
  verdictCache: Counter<'result'>;
  scanRequests: Counter<'result'>;
}

export function createAdmissionMetrics(registry: Registry): AdmissionMetrics {
  const registers = [registry];
  const metrics: AdmissionMetrics = {
    requests: new Counter({
      name: 'securestack_admission_requests_total',
      help: 'AdmissionReviews answered, by decision (allow, warn, deny, error), the mode that decided it (Enforce, Warn, Audit, None), kind and operation.',
      labelNames: ['decision', 'mode', 'kind', 'operation'],
      registers,
    }),
    duration: new Histogram({
      name: 'securestack_admission_duration_seconds',
      help: 'Time the webhook takes to decide one AdmissionReview, from the parsed request to the response (body read and JSON parse not included; the API server times the whole call in apiserver_admission_webhook_admission_duration_seconds).',
      labelNames: ['decision'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    failOpen: new Counter({
      name: 'securestack_admission_fail_open_total',
      help: 'Requests admitted without a full evaluation because failurePolicy is Ignore (reason: not-ready, deadline, error).',
      labelNames: ['reason'],
      registers,
    }),
    verdictCache: new Counter({
      name: 'securestack_admission_verdict_cache_total',
      help: 'Pod template verdict cache lookups for Pods made by controllers (hit, miss).',
      labelNames: ['result'],
      registers,
    }),
    scanRequests: new Counter({
      name: 'securestack_admission_scan_requests_total',
      help: 'ImageScans requested by the vulnerability gate for images without one (created, exists, dropped, failed).',
      labelNames: ['result'],
      registers,
    }),
  };
  // The first fail-open must be an increase: the alert on it reads increase() (runtime/metrics.ts).
  zeroSeries(metrics.failOpen, failOpenReasons.map((reason) => ({ reason })));
  return metrics;
}
