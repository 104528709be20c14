/**
 * Whether a ScheduledScan's schedule and time zone can be used: the same answer for the admission
 * webhook (which refuses the object at `kubectl apply`) and for the controller (which reports it
 * on the status when the webhook was not asked, for example with failurePolicy Ignore).
 * The CRD schema already refuses most bad schedules; this adds what a pattern cannot see, with
 * the CronJob controller's own reasons (a range that runs backwards, a step of 0, an unknown zone).
 */
import type { ScheduledScanSpec } from '../../api/types.generated';
import { CronError, parseCron, type CronSchedule } from './cron';

export type ScheduleVerdict =
  | { ok: true; schedule: CronSchedule; timeZone: string }
  | { ok: false; reason: 'InvalidSchedule' | 'UnknownTimeZone'; message: string };

/** The zone a schedule without timeZone runs in: this process's, as a CronJob uses the controller manager's. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Parses spec.schedule in spec.timeZone (or `defaultZone`), or says what is wrong with them. */
export function checkSchedule(spec: Pick<ScheduledScanSpec, 'schedule' | 'timeZone'>, defaultZone: string): ScheduleVerdict {
  const zoneProblem = spec.timeZone === undefined ? undefined : timeZoneProblem(spec.timeZone);
  if (zoneProblem) return { ok: false, reason: 'UnknownTimeZone', message: `spec.timeZone: ${zoneProblem}` };
  const timeZone = spec.timeZone ?? defaultZone;
  try {
    return { ok: true, schedule: parseCron(spec.schedule, timeZone), timeZone };
  } catch (err) {
    if (!(err instanceof CronError)) throw err;
    return { ok: false, reason: err.message.startsWith('unknown time zone') ? 'UnknownTimeZone' : 'InvalidSchedule', message: `spec.schedule: ${err.message}` };
  }
}

/**
 * Why a time zone name is not usable, as the CronJob API validation says it: "Local" is not an
 * explicit zone, and the name must be in the tz database. Go looks names up as files, so the case
 * must be exact; Intl would take `europe/berlin` too.
 */
export function timeZoneProblem(timeZone: string): string | undefined {
  if (timeZone.toLowerCase() === 'local') return 'must be an explicit time zone from the tz database, not Local';
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return `unknown time zone ${timeZone}: use a name from the tz database, for example Europe/Berlin or America/New_York`;
  }
  // An alias resolves to another name (US/Eastern to America/New_York); only a change of case is refused.
  if (resolved !== timeZone && resolved.toLowerCase() === timeZone.toLowerCase()) return `unknown time zone ${timeZone}: did you mean ${resolved}? (names are case-sensitive)`;
  return undefined;
}

/**
 * What admission refuses in a ScheduledScan: its schedule or time zone (the rest is the CRD
 * schema's). The object arrives as the API server decoded it, before the schema's defaults.
 */
export function scheduledScanProblems(object: Record<string, unknown>, defaultZone: string): string[] {
  const spec = (object.spec ?? {}) as Partial<ScheduledScanSpec>;
  // A missing or non-string schedule is the schema's to report, with its own message.
  if (typeof spec.schedule !== 'string' || (spec.timeZone !== undefined && typeof spec.timeZone !== 'string')) return [];
  const verdict = checkSchedule({ schedule: spec.schedule, ...(spec.timeZone !== undefined ? { timeZone: spec.timeZone } : {}) }, defaultZone);
  return verdict.ok ? [] : [verdict.message];
}
