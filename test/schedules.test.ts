// ScheduledScan scheduling, pure, with a fake clock (issue 11): which due time runs, how missed
// runs are counted (one catch-up; more than 100 starts nothing; startingDeadlineSeconds bounds the
// window), daylight-saving days, leap days and a date that never exists; how runs are named,
// grouped from their objects and judged finished; which schedules and zones are refused, with the
// CronJob controller's reasons.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ComplianceReport, ImageScan, ScheduledScan } from '../operator/api/types.generated';
import { parseCron } from '../operator/features/schedules/cron';
import { dueRun, maxMissedRuns, maxRequeueMs, nextScheduleDeltaMs, requeueDelay } from '../operator/features/schedules/due';
import { groupRuns, imageObjectName, objectOutcome, runName, runObjects, SCHEDULED_BY_LABEL, SCHEDULED_TIME_ANNOTATION, SCHEDULED_TIME_LABEL } from '../operator/features/schedules/runs';
import { checkSchedule, timeZoneProblem } from '../operator/features/schedules/validate';

const at = (text: string): number => Date.parse(text);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const everyMinute = parseCron('* * * * *');

describe('dueRun: which due time runs now', () => {
  const createdAt = at('2026-05-01T10:00:30Z');

  it('runs nothing before the first due time, and the due time itself at exactly that instant', () => {
    assert.deepEqual(dueRun(everyMinute, { createdAt }, at('2026-05-01T10:00:59.999Z')), { kind: 'none', next: at('2026-05-01T10:01:00Z') });
    assert.deepEqual(dueRun(everyMinute, { createdAt }, at('2026-05-01T10:01:00Z')), { kind: 'run', scheduledTime: at('2026-05-01T10:01:00Z'), missed: 0, next: at('2026-05-01T10:02:00Z') });
  });

  it('counts from lastScheduleTime, not the creation time, and never runs the last scheduled time again', () => {
    const history = { createdAt, lastScheduleTime: at('2026-05-01T11:00:00Z') };
    assert.equal(dueRun(everyMinute, history, at('2026-05-01T11:00:30Z')).kind, 'none');
    assert.deepEqual(dueRun(everyMinute, history, at('2026-05-01T11:01:00Z')), { kind: 'run', scheduledTime: at('2026-05-01T11:01:00Z'), missed: 0, next: at('2026-05-01T11:02:00Z') });
  });

  it('catches up with one run, the most recent due time, and counts the others as missed', () => {
    const due = dueRun(everyMinute, { createdAt, lastScheduleTime: at('2026-05-01T11:00:00Z') }, at('2026-05-01T11:05:30Z'));
    assert.deepEqual(due, { kind: 'run', scheduledTime: at('2026-05-01T11:05:00Z'), missed: 4, next: at('2026-05-01T11:06:00Z') });
  });

  it('starts exactly 100 missed due times (one run), but not 101', () => {
    assert.equal(maxMissedRuns, 100);
    const last = at('2026-05-01T11:00:00Z');
    const hundred = dueRun(everyMinute, { createdAt, lastScheduleTime: last }, last + 100 * 60_000);
    assert.deepEqual(hundred, { kind: 'run', scheduledTime: last + 100 * 60_000, missed: 99, next: last + 101 * 60_000 });
    const hundredAndOne = dueRun(everyMinute, { createdAt, lastScheduleTime: last }, last + 101 * 60_000);
    assert.deepEqual(hundredAndOne, { kind: 'tooManyMissed', missed: 101, next: last + 102 * 60_000 });
  });

  it('with startingDeadlineSeconds counts only the due times inside the deadline', () => {
    const last = at('2026-05-01T00:00:00Z');
    const now = at('2026-05-01T12:00:30Z');
    // 720 due times since the last run: too many without a deadline...
    assert.equal(dueRun(everyMinute, { createdAt, lastScheduleTime: last }, now).kind, 'tooManyMissed');
    // ...but a deadline of 200 s leaves 11:58, 11:59 and 12:00 (the window starts at 11:57:10).
    assert.deepEqual(dueRun(everyMinute, { createdAt, lastScheduleTime: last, startingDeadlineSeconds: 200 }, now), { kind: 'run', scheduledTime: at('2026-05-01T12:00:00Z'), missed: 2, next: at('2026-05-01T12:01:00Z') });
  });

  it('a due time exactly startingDeadlineSeconds old is too late; one second younger still runs', () => {
    const last = at('2026-05-01T00:00:00Z');
    const hourly = parseCron('0 * * * *');
    assert.deepEqual(dueRun(hourly, { createdAt, lastScheduleTime: last, startingDeadlineSeconds: 60 }, at('2026-05-01T05:01:00Z')), { kind: 'none', next: at('2026-05-01T06:00:00Z') });
    assert.deepEqual(dueRun(hourly, { createdAt, lastScheduleTime: last, startingDeadlineSeconds: 60 }, at('2026-05-01T05:00:59Z')), { kind: 'run', scheduledTime: at('2026-05-01T05:00:00Z'), missed: 0, next: at('2026-05-01T06:00:00Z') });
  });

  it('a startingDeadlineSeconds of 0 runs only a due time seen at its exact instant', () => {
    const last = at('2026-05-01T00:00:00Z');
    assert.equal(dueRun(everyMinute, { createdAt, lastScheduleTime: last, startingDeadlineSeconds: 0 }, at('2026-05-01T00:01:00.001Z')).kind, 'none');
  });

  it('runs the repeated hour twice when clocks go back (Europe/Berlin), and skips the missing hour when they go forward', () => {
    const fallBack = parseCron('30 2 * * *', 'Europe/Berlin');
    const first = dueRun(fallBack, { createdAt: at('2026-10-24T12:00:00Z') }, at('2026-10-25T00:30:00Z'));
    assert.deepEqual(first, { kind: 'run', scheduledTime: at('2026-10-25T00:30:00Z'), missed: 0, next: at('2026-10-25T01:30:00Z') });
    const second = dueRun(fallBack, { createdAt: at('2026-10-24T12:00:00Z'), lastScheduleTime: at('2026-10-25T00:30:00Z') }, at('2026-10-25T01:30:00Z'));
    assert.equal(second.kind === 'run' ? iso(second.scheduledTime) : second.kind, '2026-10-25T01:30:00.000Z');
    // The two runs of that day get different names: they are two runs, not one run twice.
    assert.notEqual(runName('nightly', at('2026-10-25T00:30:00Z')), runName('nightly', at('2026-10-25T01:30:00Z')));
    const springForward = parseCron('30 2 * * *', 'Europe/Berlin');
    const skipped = dueRun(springForward, { createdAt: at('2026-03-28T12:00:00Z') }, at('2026-03-29T12:00:00Z'));
    assert.deepEqual(skipped, { kind: 'none', next: at('2026-03-30T00:30:00Z') });
  });

  it('America/New_York: midnight after spring forward is at 04:00 UTC, and 01:30 runs twice in November', () => {
    const midnight = parseCron('0 0 * * *', 'America/New_York');
    const due = dueRun(midnight, { createdAt: at('2026-03-08T04:00:00Z'), lastScheduleTime: at('2026-03-08T05:00:00Z') }, at('2026-03-09T04:00:00Z'));
    assert.deepEqual(due, { kind: 'run', scheduledTime: at('2026-03-09T04:00:00Z'), missed: 0, next: at('2026-03-10T04:00:00Z') });
    const early = parseCron('30 1 * * *', 'America/New_York');
    const both = dueRun(early, { createdAt: at('2026-10-31T12:00:00Z') }, at('2026-11-01T07:00:00Z'));
    assert.deepEqual(both, { kind: 'run', scheduledTime: at('2026-11-01T06:30:00Z'), missed: 1, next: at('2026-11-02T06:30:00Z') });
  });

  it('month ends and leap days: the 31st skips short months, 29 February waits for a leap year', () => {
    const monthEnd = parseCron('0 0 31 * *');
    assert.deepEqual(dueRun(monthEnd, { createdAt: at('2026-01-31T00:00:00Z') }, at('2026-03-01T00:00:00Z')), { kind: 'none', next: at('2026-03-31T00:00:00Z') });
    const leap = parseCron('0 0 29 2 *');
    assert.deepEqual(dueRun(leap, { createdAt: at('2026-01-01T00:00:00Z') }, at('2027-06-01T00:00:00Z')), { kind: 'none', next: at('2028-02-29T00:00:00Z') });
  });

  it('30 February never comes: nothing to run and no next time', () => {
    assert.deepEqual(dueRun(parseCron('0 0 30 2 *'), { createdAt: at('2026-01-01T00:00:00Z') }, at('2026-06-01T00:00:00Z')), { kind: 'none' });
  });

  it('an @every schedule counts its due times from the creation time', () => {
    const every = parseCron('@every 90m');
    const due = dueRun(every, { createdAt: at('2026-05-01T10:00:00.500Z') }, at('2026-05-01T14:31:00Z'));
    assert.deepEqual(due, { kind: 'run', scheduledTime: at('2026-05-01T14:30:00Z'), missed: 2, next: at('2026-05-01T16:00:00Z') });
  });

  it('requeues 100 ms after the next due time, like the CronJob controller, and at least every hour', () => {
    assert.equal(nextScheduleDeltaMs, 100);
    assert.equal(requeueDelay(at('2026-05-01T10:01:00Z'), at('2026-05-01T10:00:30Z')), 30_100);
    assert.equal(requeueDelay(at('2026-05-01T10:01:00Z'), at('2026-05-01T10:01:05Z')), 100);
    assert.equal(requeueDelay(undefined, 0), undefined);
    // At most an hour: a @yearly schedule's next run is further than a Node timer can wait.
    assert.equal(maxRequeueMs, 3_600_000);
    assert.equal(requeueDelay(at('2026-05-01T11:00:00Z') - nextScheduleDeltaMs, at('2026-05-01T10:00:00Z')), 3_600_000);
    assert.equal(requeueDelay(at('2026-05-01T11:00:00Z') - nextScheduleDeltaMs + 1, at('2026-05-01T10:00:00Z')), 3_600_000);
    assert.equal(requeueDelay(at('2026-05-01T11:00:00Z') - nextScheduleDeltaMs - 1, at('2026-05-01T10:00:00Z')), 3_599_999);
    assert.equal(requeueDelay(at('2027-01-01T00:00:00Z'), at('2026-05-01T10:00:00Z')), 3_600_000);
  });
});

function scheduled(spec: Partial<ScheduledScan['spec']>, name = 'nightly'): ScheduledScan {
  return {
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ScheduledScan',
    metadata: { name, namespace: 'team-a', uid: 'uid-1', creationTimestamp: '2026-05-01T10:00:00Z' },
    spec: { schedule: '@daily', ...spec },
  };
}

describe('runs: names, objects and outcomes', () => {
  it('names a run <scheduledscan>-<minutes since the epoch>, as a CronJob names its Jobs', () => {
    assert.equal(runName('nightly', at('2026-05-01T10:01:00Z')), `nightly-${at('2026-05-01T10:01:00Z') / 60_000}`);
  });

  it('keeps names within 253 characters with room for an image suffix: at the limit as is, one past shortened with a hash', () => {
    const time = at('2026-05-01T10:01:00Z');
    const suffix = `-${time / 60_000}`;
    const longest = 'a'.repeat(253 - 11 - suffix.length);
    assert.equal(runName(longest, time), `${longest}${suffix}`);
    const onePast = `${longest}b`;
    const shortened = runName(onePast, time);
    assert.ok(shortened.length <= 253 - 11, `${shortened.length}`);
    assert.notEqual(shortened, runName(`${longest}c`, time), 'two long names must not share a run name');
    assert.ok(imageObjectName(shortened, 'registry.example.com/app:1').length <= 253);
  });

  it('builds an ImageScan run from its template: labels, annotations, owner, spec', () => {
    const scan = scheduled({ imageScanTemplate: { metadata: { labels: { team: 'a' }, annotations: { note: 'x' } }, spec: { image: 'registry.example.com/app:1.0', severities: ['CRITICAL'] } } });
    const [object, ...rest] = runObjects(scan, at('2026-05-01T10:01:00Z'));
    assert.equal(rest.length, 0);
    assert.equal(object?.kind, 'ImageScan');
    assert.equal(object?.metadata.name, runName('nightly', at('2026-05-01T10:01:00Z')));
    assert.deepEqual(object?.metadata.labels, { team: 'a', [SCHEDULED_BY_LABEL]: 'nightly', [SCHEDULED_TIME_LABEL]: String(at('2026-05-01T10:01:00Z') / 60_000) });
    assert.deepEqual(object?.metadata.annotations, { note: 'x', [SCHEDULED_TIME_ANNOTATION]: '2026-05-01T10:01:00Z' });
    assert.deepEqual(object?.metadata.ownerReferences, [{ apiVersion: 'securestack.io/v1alpha1', kind: 'ScheduledScan', name: 'nightly', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(object?.spec, { image: 'registry.example.com/app:1.0', severities: ['CRITICAL'] });
  });

  it('a running-images run is one ImageScan per unique image, with the template options and without the scope', () => {
    const scan = scheduled({ runningImagesTemplate: { spec: { scope: { clusterWide: true }, ignoreUnfixed: true, timeout: '5m' } } });
    const objects = runObjects(scan, at('2026-05-01T10:01:00Z'), ['b.example/x:1', 'a.example/y:2', 'b.example/x:1']);
    assert.deepEqual(objects.map((object) => object.kind === 'ImageScan' && object.spec), [{ ignoreUnfixed: true, timeout: '5m', image: 'a.example/y:2' }, { ignoreUnfixed: true, timeout: '5m', image: 'b.example/x:1' }]);
    assert.equal(new Set(objects.map((object) => object.metadata.name)).size, 2);
    assert.deepEqual(runObjects(scan, at('2026-05-01T10:01:00Z'), []), []);
  });

  it('an object counts as finished only for its current generation, Completed or Failed', () => {
    const base = { apiVersion: 'securestack.io/v1alpha1' as const, kind: 'ComplianceReport' as const, metadata: { name: 'r', generation: 2 }, spec: { framework: 'pss-baseline' as const, scope: { clusterWide: true } } };
    const stale: ComplianceReport = { ...base, status: { phase: 'Completed', observedGeneration: 1, generatedAt: '2026-05-01T10:02:00Z' } };
    assert.deepEqual(objectOutcome(stale), { finished: false, failed: false });
    const done: ComplianceReport = { ...base, status: { phase: 'Completed', observedGeneration: 2, generatedAt: '2026-05-01T10:02:00Z' } };
    assert.deepEqual(objectOutcome(done), { finished: true, failed: false, at: at('2026-05-01T10:02:00Z') });
    const running: ComplianceReport = { ...base, status: { phase: 'Running', observedGeneration: 2 } };
    assert.equal(objectOutcome(running).finished, false);
    const failed: ImageScan = { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name: 's', generation: 1 }, spec: { image: 'x' }, status: { phase: 'Failed', observedGeneration: 1, completedAt: '2026-05-01T10:03:00Z', conditions: [{ type: 'Scanned', status: 'False', reason: 'X', message: 'no such image', lastTransitionTime: '2026-05-01T10:03:00Z' }] } };
    assert.deepEqual(objectOutcome(failed), { finished: true, failed: true, at: at('2026-05-01T10:03:00Z'), message: 'ImageScan s: no such image' });
    // Answered from the scan cache: completedAt names when the cached scan ran; the run ended when this ImageScan got it.
    const cached: ImageScan = { ...failed, status: { phase: 'Completed', observedGeneration: 1, completedAt: '2026-05-01T04:00:00Z', conditions: [{ type: 'Scanned', status: 'True', reason: 'Cached', message: 'from the cache', lastTransitionTime: '2026-05-01T10:04:00Z' }] } };
    assert.deepEqual(objectOutcome(cached), { finished: true, failed: false, at: at('2026-05-01T10:04:00Z') });
    // A report's generatedAt after its condition's transition (a second evaluation, Ready all along) wins.
    const again: ComplianceReport = { ...base, status: { phase: 'Completed', observedGeneration: 2, generatedAt: '2026-05-01T11:00:00Z', conditions: [{ type: 'Ready', status: 'True', reason: 'Evaluated', message: 'ok', lastTransitionTime: '2026-05-01T10:02:00Z' }] } };
    assert.deepEqual(objectOutcome(again), { finished: true, failed: false, at: at('2026-05-01T11:00:00Z') });
  });

  it('groups owned objects into runs by scheduled time, oldest first; a run is done when every object is', () => {
    const scan = scheduled({ runningImagesTemplate: { spec: { scope: { clusterWide: true } } } });
    const t1 = at('2026-05-01T10:01:00Z');
    const t2 = at('2026-05-01T10:02:00Z');
    const finish = (object: ImageScan, phase: 'Completed' | 'Failed', time: string): ImageScan => ({ ...object, metadata: { ...object.metadata, generation: 1 }, status: { phase, observedGeneration: 1, completedAt: time } });
    const [a, b] = runObjects(scan, t2, ['a:1', 'b:1']) as ImageScan[];
    const [c] = runObjects(scan, t1, ['c:1']) as ImageScan[];
    assert.ok(a && b && c);
    const runs = groupRuns(scan, [finish(a, 'Completed', '2026-05-01T10:05:00Z'), { ...b, metadata: { ...b.metadata, generation: 1 } }, finish(c, 'Failed', '2026-05-01T10:03:00Z')]);
    assert.deepEqual(runs.map((run) => [run.name, run.objects.length, run.finished, run.failed, run.done, iso(run.completionTime)]), [
      [runName('nightly', t1), 1, 1, 1, true, '2026-05-01T10:03:00.000Z'],
      [runName('nightly', t2), 2, 1, 0, false, undefined],
    ]);
  });
});

describe('checkSchedule: refused with the reason the CronJob controller gives', () => {
  it('accepts every field form and names in any case', () => {
    for (const schedule of ['*/5 * * * *', '0 9 * * mon-fri', '0 0 1 JAN,jul *', '15 3 ? * SUN', '@weekly', '@every 1h30m']) {
      assert.equal(checkSchedule({ schedule }, 'UTC').ok, true, schedule);
    }
  });

  it('refuses a range that runs backwards, a step of 0, and out-of-range values', () => {
    const cases: [string, RegExp][] = [['0 5-3 * * *', /beyond end of range/], ['*/0 * * * *', /step of range should be a positive number/], ['0 0 * * 7', /above maximum/], ['60 * * * *', /above maximum/]];
    for (const [schedule, reason] of cases) {
      const verdict = checkSchedule({ schedule }, 'UTC');
      assert.equal(verdict.ok, false, schedule);
      if (!verdict.ok) {
        assert.equal(verdict.reason, 'InvalidSchedule');
        assert.match(verdict.message, /^spec\.schedule: /);
        assert.match(verdict.message, reason);
      }
    }
  });

  it('takes the tz database name, an alias and the default zone; refuses Local, a wrong case and unknown names', () => {
    assert.deepEqual(checkSchedule({ schedule: '@daily', timeZone: 'Europe/Berlin' }, 'UTC').ok && 'Europe/Berlin', 'Europe/Berlin');
    const fallback = checkSchedule({ schedule: '@daily' }, 'America/New_York');
    assert.equal(fallback.ok && fallback.timeZone, 'America/New_York');
    assert.equal(timeZoneProblem('US/Eastern'), undefined);
    assert.match(timeZoneProblem('Local') ?? '', /explicit time zone/);
    assert.match(timeZoneProblem('local') ?? '', /explicit time zone/);
    assert.match(timeZoneProblem('europe/berlin') ?? '', /did you mean Europe\/Berlin/);
    assert.match(timeZoneProblem('Mars/Olympus_Mons') ?? '', /unknown time zone Mars\/Olympus_Mons/);
    const verdict = checkSchedule({ schedule: '@daily', timeZone: 'Mars/Olympus_Mons' }, 'UTC');
    assert.deepEqual(verdict.ok ? undefined : [verdict.reason, verdict.message.startsWith('spec.timeZone: ')], ['UnknownTimeZone', true]);
  });
});
