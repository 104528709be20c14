/**
 * Cron schedules as the Kubernetes CronJob controller reads them: a port of robfig/cron v3
 * (`ParseStandard`, `SpecSchedule.Next`, `ConstantDelaySchedule`), the parser and clock the
 * controller uses, so a ScheduledScan runs when a CronJob with the same schedule would (ADR 0020).
 * Time zones come from the tz database through Intl. Daylight saving follows robfig: hours advance
 * by real hours, so a wall-clock time inside a skipped hour does not run that day and one inside
 * a repeated hour runs twice. Pure: no clock is read.
 */

export class CronError extends Error {}

/** When a schedule runs next, strictly after `after`; undefined when never (30 February). */
export interface CronSchedule {
  next(after: Date): Date | undefined;
}

interface Bounds {
  min: number;
  max: number;
  names?: Readonly<Record<string, number>>;
}

const months: Bounds = { min: 1, max: 12, names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 } };
const weekdays: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };
const fieldBounds: readonly Bounds[] = [{ min: 0, max: 59 }, { min: 0, max: 23 }, { min: 1, max: 31 }, months, weekdays];

const descriptors: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** One field: the values it allows, and whether it was `*` or `?` (robfig's star bit). */
interface Field {
  values: ReadonlySet<number>;
  star: boolean;
}

function parseNumberOrName(text: string, bounds: Bounds, expr: string): number {
  const named = bounds.names?.[text.toLowerCase()];
  if (named !== undefined) return named;
  if (!/^\d+$/.test(text)) throw new CronError(`failed to parse int from ${text}: ${expr}`);
  return Number(text);
}

/** One comma-separated part: `*`, `?`, `a`, `a-b`, each optionally `/step` (`a/step` is `a-max/step`). */
function parseRange(expr: string, bounds: Bounds, values: Set<number>): boolean {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = (rangeAndStep[0] ?? '').split('-');
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = bounds.min;
    end = bounds.max;
    star = true;
  } else {
    if (lowAndHigh.length > 2) throw new CronError(`too many hyphens: ${expr}`);
    start = parseNumberOrName(lowAndHigh[0] ?? '', bounds, expr);
    end = lowAndHigh.length === 2 ? parseNumberOrName(lowAndHigh[1] ?? '', bounds, expr) : start;
  }
  let step = 1;
  if (rangeAndStep.length > 2) throw new CronError(`too many slashes: ${expr}`);
  if (rangeAndStep.length === 2) {
    const text = rangeAndStep[1] ?? '';
    if (!/^\d+$/.test(text)) throw new CronError(`failed to parse int from ${text}: ${expr}`);
    step = Number(text);
    if (lowAndHigh.length === 1) end = bounds.max;
    if (step > 1) star = false;
  }
  if (start < bounds.min) throw new CronError(`beginning of range (${start}) below minimum (${bounds.min}): ${expr}`);
  if (end > bounds.max) throw new CronError(`end of range (${end}) above maximum (${bounds.max}): ${expr}`);
  if (start > end) throw new CronError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronError(`step of range should be a positive number: ${expr}`);
  for (let value = start; value <= end; value += step) values.add(value);
  return star;
}

function parseField(text: string, bounds: Bounds): Field {
  const values = new Set<number>();
  let star = false;
  for (const part of text.split(',')) star = parseRange(part, bounds, values) || star;
  return { values, star };
}

/** Go duration text (`1h30m`, `90s`) in milliseconds. */
function parseGoDuration(text: string): number {
  const units: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const match = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.exec(text);
  if (!match) throw new CronError(`failed to parse duration ${text}`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(amount) * (units[unit ?? 's'] ?? 0);
  return total;
}

/** Parses a schedule as the CronJob controller does (`cron.ParseStandard`), in a tz database zone. */
export function parseCron(spec: string, timeZone = 'UTC'): CronSchedule {
  const zone = new ZoneClock(timeZone);
  if (spec.startsWith('@every ')) {
    // robfig: at least a second, whole seconds, and the next run on a whole second.
    const delay = Math.max(1_000, Math.floor(parseGoDuration(spec.slice('@every '.length)) / 1_000) * 1_000);
    return { next: (after) => new Date(after.getTime() - (after.getTime() % 1_000) + delay) };
  }
  let expression = spec;
  if (spec.startsWith('@')) {
    const expanded = descriptors[spec];
    if (!expanded) throw new CronError(`unrecognized descriptor: ${spec}`);
    expression = expanded;
  }
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw new CronError(`expected exactly 5 fields, found ${fields.length}: ${spec}`);
  const [minute, hour, dom, month, dow] = fields.map((text, index) => parseField(text, fieldBounds[index])) as [Field, Field, Field, Field, Field];
  return { next: (after) => nextTime({ minute, hour, dom, month, dow }, zone, after) };
}

/** Wall-clock reading of an instant in a zone, and the instant of a wall-clock time, as Go's time package gives them. */
class ZoneClock {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    try {
      this.format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
    } catch {
      throw new CronError(`unknown time zone ${timeZone}`);
    }
  }

  /** Year, month (1-12), day, hour, minute, second and weekday (0 = Sunday) at an instant. */
  wall(instant: number): { year: number; month: number; day: number; hour: number; minute: number; second: number; weekday: number } {
    const parts: Record<string, string> = {};
    for (const part of this.format.formatToParts(new Date(instant))) parts[part.type] = part.value;
    const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday ?? '');
    return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second), weekday };
  }

  /** Offset from UTC (ms) in force at an instant. */
  offset(instant: number): number {
    const w = this.wall(instant);
    const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
    return asUtc - (instant - (((instant % 1_000) + 1_000) % 1_000));
  }

  /**
   * The instant of a wall-clock time, normalized like Go's time.Date (month 13 is January of the
   * next year, day 32 the 1st of the next month): the offset at the wall time read as UTC, and if
   * the result falls where another offset holds, that one (inside a gap this lands after it, in
   * an overlap on the first occurrence, as Go does).
   */
  date(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
    const wallAsUtc = Date.UTC(year, month - 1, day, hour, minute, second);
    const first = this.offset(wallAsUtc);
    const second_ = this.offset(wallAsUtc - first);
    return wallAsUtc - (second_ === first ? first : second_);
  }
}

interface Fields {
  minute: Field;
  hour: Field;
  dom: Field;
  month: Field;
  dow: Field;
}

/** robfig's dayMatches: both day fields must match unless both are restricted, then either. */
function dayMatches(fields: Fields, day: number, weekday: number): boolean {
  const domMatch = fields.dom.values.has(day);
  const dowMatch = fields.dow.values.has(weekday);
  return fields.dom.star || fields.dow.star ? domMatch && dowMatch : domMatch || dowMatch;
}

const minuteMs = 60_000;
const hourMs = 3_600_000;

/** robfig's SpecSchedule.Next, step for step (seconds are always 0 in a five-field schedule). */
function nextTime(fields: Fields, zone: ZoneClock, after: Date): Date | undefined {
  // The upcoming whole second.
  let t = after.getTime() - (((after.getTime() % 1_000) + 1_000) % 1_000) + 1_000;
  let added = false;
  const yearLimit = zone.wall(t).year + 5;
  wrap: for (;;) {
    let w = zone.wall(t);
    if (w.year > yearLimit) return undefined;
    while (!fields.month.values.has(w.month)) {
      if (!added) {
        added = true;
        t = zone.date(w.year, w.month, 1);
        w = zone.wall(t);
      }
      t = zone.date(w.year, w.month + 1, w.day, w.hour, w.minute, w.second);
      w = zone.wall(t);
      if (w.month === 1) continue wrap;
    }
    while (!dayMatches(fields, w.day, w.weekday)) {
      if (!added) {
        added = true;
        t = zone.date(w.year, w.month, w.day);
        w = zone.wall(t);
      }
      t = zone.date(w.year, w.month, w.day + 1, w.hour, w.minute, w.second);
      w = zone.wall(t);
      // Where DST moved midnight, come back to it (robfig: add an hour at 23, subtract at 1).
      if (w.hour !== 0) {
        t += w.hour > 12 ? (24 - w.hour) * hourMs : -w.hour * hourMs;
        w = zone.wall(t);
      }
      if (w.day === 1) continue wrap;
    }
    while (!fields.hour.values.has(w.hour)) {
      if (!added) {
        added = true;
        t = zone.date(w.year, w.month, w.day, w.hour);
        w = zone.wall(t);
      }
      t += hourMs;
      w = zone.wall(t);
      if (w.hour === 0) continue wrap;
    }
    while (!fields.minute.values.has(w.minute)) {
      if (!added) {
        added = true;
        t -= t % minuteMs;
        w = zone.wall(t);
      }
      t += minuteMs;
      w = zone.wall(t);
      if (w.minute === 0) continue wrap;
    }
    if (w.second !== 0) {
      // Five-field schedules run at second 0: robfig steps seconds until the minute turns.
      if (!added) {
        added = true;
        t -= t % 1_000;
      }
      t += (60 - w.second) * 1_000;
      continue wrap;
    }
    return new Date(t);
  }
}
