/**
 * ScheduledScan metrics: runs by result, missed due times, each schedule's next run and how long
 * runs take. Per-schedule series go with the ScheduledScan.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type RunResult = 'started' | 'succeeded' | 'failed' | 'skipped' | 'replaced';

export interface ScheduleMetrics {
  runs: Counter<'namespace' | 'scheduledscan' | 'result'>;
  missed: Counter<'namespace' | 'scheduledscan'>;
  nextRun: Gauge<'namespace' | 'scheduledscan'>;
  runDuration: Histogram<'target' | 'result'>;
  invalid: Counter<'reason'>;
}

export function createScheduleMetrics(registry: Registry): ScheduleMetrics {
  const registers = [registry];
  return {
    runs: new Counter({
      name: 'securestack_scheduledscan_runs_total',
      help: 'ScheduledScan runs by result: started, succeeded, failed, skipped (concurrencyPolicy Forbid while a run was active) and replaced (an active run deleted by concurrencyPolicy Replace).',
      labelNames: ['namespace', 'scheduledscan', 'result'],
      registers,
    }),
    missed: new Counter({
      name: 'securestack_scheduledscan_missed_runs_total',
      help: 'Due times of a ScheduledScan that were not run: older ones when a run caught up after a gap, and all of them when more than 100 were missed.',
      labelNames: ['namespace', 'scheduledscan'],
      registers,
    }),
    nextRun: new Gauge({
      name: 'securestack_scheduledscan_next_run_timestamp_seconds',
      help: 'When a ScheduledScan runs next, in seconds since the epoch (no series while suspended or when it never runs again).',
      labelNames: ['namespace', 'scheduledscan'],
      registers,
    }),
    runDuration: new Histogram({
      name: 'securestack_scheduledscan_run_duration_seconds',
      help: 'Time from a run being created to its last object finishing, by target (image, compliance, running-images) and result.',
      labelNames: ['target', 'result'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    invalid: new Counter({
      name: 'securestack_scheduledscan_invalid_total',
      help: 'Reconciles of a ScheduledScan that could not be scheduled, by reason (InvalidSchedule, UnknownTimeZone, ScopeNotAllowed).',
      labelNames: ['reason'],
      registers,
    }),
  };
}
