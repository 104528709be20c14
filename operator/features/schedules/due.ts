/**
 * Which run of a schedule is due, as the Kubernetes CronJob controller decides it (ADR 0020).
 * Pure: the clock and the schedule's history are passed in.
 *
 * Due times are looked for after the last scheduled time (or the creation time), and never before
 * `now - startingDeadlineSeconds`: a time older than the deadline is not run at all. Of the due
 * times found, only the most recent is run: one catch-up run however many were missed. More than
 * 100 due times (the CronJob documentation's limit, for a controller that was down for days or a
 * wrong clock) start nothing and are reported instead.
 */
import type { CronSchedule } from './cron';

/** The CronJob controller's limit: more missed due times than this start nothing. */
export const maxMissedRuns = 100;

/** What the CronJob controller adds to the next due time before looking again (nextScheduleDelta). */
export const nextScheduleDeltaMs = 100;

export interface ScheduleHistory {
  /** metadata.creationTimestamp, ms since the epoch. */
  createdAt: number;
  /** status.lastScheduleTime, ms since the epoch. */
  lastScheduleTime?: number;
  startingDeadlineSeconds?: number;
}

export type DueRun =
  /** Nothing due now; `next` is when to look again (undefined: the schedule never fires again). */
  | { kind: 'none'; next?: number }
  /** Run `scheduledTime`, the most recent due time; `missed` older due times are not run. */
  | { kind: 'run'; scheduledTime: number; missed: number; next?: number }
  /** More than maxMissedRuns due times: nothing is started (the count stops at maxMissedRuns + 1). */
  | { kind: 'tooManyMissed'; missed: number; next?: number };

/**
 * The run due at `now`, if any. Due times are counted one by one (at most maxMissedRuns + 1 steps)
 * rather than estimated from the gap between two of them as the controller's code does: the two
 * agree for regular schedules, and counting is also right for `0 9 * * 1-5` or `0 0 1,15 * *`.
 */
export function dueRun(schedule: CronSchedule, history: ScheduleHistory, now: number): DueRun {
  let earliest = history.lastScheduleTime ?? history.createdAt;
  if (history.startingDeadlineSeconds !== undefined) earliest = Math.max(earliest, now - history.startingDeadlineSeconds * 1000);
  let mostRecent: number | undefined;
  let due = 0;
  let t = nextAfter(schedule, earliest);
  while (t !== undefined && t <= now) {
    due += 1;
    if (due > maxMissedRuns) return { kind: 'tooManyMissed', missed: due, ...withNext(nextAfter(schedule, now)) };
    mostRecent = t;
    t = nextAfter(schedule, t);
  }
  if (mostRecent === undefined) return { kind: 'none', ...withNext(t) };
  return { kind: 'run', scheduledTime: mostRecent, missed: due - 1, ...withNext(t) };
}

/**
 * The longest wait before looking again: a @yearly schedule's next run is months away, more than
 * a Node timer can wait (about 24.8 days; a longer one fires at once), and an hourly look costs
 * nothing.
 */
export const maxRequeueMs = 3_600_000;

/** How long to wait before looking again for a run after `now`, or undefined when there is none. */
export function requeueDelay(next: number | undefined, now: number): number | undefined {
  return next === undefined ? undefined : Math.min(maxRequeueMs, Math.max(0, next - now) + nextScheduleDeltaMs);
}

function nextAfter(schedule: CronSchedule, after: number): number | undefined {
  return schedule.next(new Date(after))?.getTime();
}

function withNext(next: number | undefined): { next?: number } {
  return next === undefined ? {} : { next };
}
