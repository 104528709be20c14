// Cron schedules as the CronJob controller reads them (issue 11, ADR 0020), pure: next run times
// compared with what robfig/cron v3.0.1 (the controller's parser) computed for the same schedule,
// zone and start, generated once by a Go program over the module (the table is its output, not
// this code's): every field form, descriptors, @every, month ends, leap days, 30 February, and
// both daylight-saving transitions in Europe/Berlin and America/New_York.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronError, parseCron } from '../operator/features/schedules/cron';

/** [schedule, time zone, start, the next runs robfig gives ('never' when it finds none in five years)]. */
const robfig: [string, string, string, string[]][] = [
  ['*/15 * * * *', 'UTC', '2026-01-01T00:07:30Z', ['2026-01-01T00:15:00Z', '2026-01-01T00:30:00Z', '2026-01-01T00:45:00Z', '2026-01-01T01:00:00Z']],
  ['0 3 * * MON-FRI', 'UTC', '2026-01-02T12:00:00Z', ['2026-01-05T03:00:00Z', '2026-01-06T03:00:00Z', '2026-01-07T03:00:00Z', '2026-01-08T03:00:00Z']],
  ['0 0 1 JAN *', 'UTC', '2026-06-01T00:00:00Z', ['2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z', '2029-01-01T00:00:00Z', '2030-01-01T00:00:00Z']],
  ['5/20 * * * *', 'UTC', '2026-01-01T00:00:00Z', ['2026-01-01T00:05:00Z', '2026-01-01T00:25:00Z', '2026-01-01T00:45:00Z', '2026-01-01T01:05:00Z']],
  ['0 8-18/4 * * *', 'UTC', '2026-01-01T00:00:00Z', ['2026-01-01T08:00:00Z', '2026-01-01T12:00:00Z', '2026-01-01T16:00:00Z', '2026-01-02T08:00:00Z']],
  ['0 0 1,15 * 1', 'UTC', '2026-01-01T00:00:00Z', ['2026-01-05T00:00:00Z', '2026-01-12T00:00:00Z', '2026-01-15T00:00:00Z', '2026-01-19T00:00:00Z']],
  ['0 0 */2 * 1', 'UTC', '2026-01-01T00:00:00Z', ['2026-01-03T00:00:00Z', '2026-01-05T00:00:00Z', '2026-01-07T00:00:00Z', '2026-01-09T00:00:00Z']],
  ['0 0 * * 1', 'UTC', '2026-01-01T00:00:00Z', ['2026-01-05T00:00:00Z', '2026-01-12T00:00:00Z', '2026-01-19T00:00:00Z', '2026-01-26T00:00:00Z']],
  ['0 0 ? * SUN', 'UTC', '2026-01-01T00:00:00Z', ['2026-01-04T00:00:00Z', '2026-01-11T00:00:00Z', '2026-01-18T00:00:00Z', '2026-01-25T00:00:00Z']],
  ['0 0 31 * *', 'UTC', '2026-01-31T00:00:00Z', ['2026-03-31T00:00:00Z', '2026-05-31T00:00:00Z', '2026-07-31T00:00:00Z', '2026-08-31T00:00:00Z']],
  ['0 0 29 2 *', 'UTC', '2026-01-01T00:00:00Z', ['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z', '2036-02-29T00:00:00Z', '2040-02-29T00:00:00Z']],
  ['0 0 30 2 *', 'UTC', '2026-01-01T00:00:00Z', ["never"]],
  ['@yearly', 'UTC', '2026-03-01T00:00:00Z', ['2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z', '2029-01-01T00:00:00Z', '2030-01-01T00:00:00Z']],
  ['@monthly', 'UTC', '2026-03-31T10:00:00Z', ['2026-04-01T00:00:00Z', '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', '2026-07-01T00:00:00Z']],
  ['@weekly', 'UTC', '2026-03-04T10:00:00Z', ['2026-03-08T00:00:00Z', '2026-03-15T00:00:00Z', '2026-03-22T00:00:00Z', '2026-03-29T00:00:00Z']],
  ['@daily', 'UTC', '2026-03-04T10:00:00Z', ['2026-03-05T00:00:00Z', '2026-03-06T00:00:00Z', '2026-03-07T00:00:00Z', '2026-03-08T00:00:00Z']],
  ['@hourly', 'UTC', '2026-03-04T10:59:59Z', ['2026-03-04T11:00:00Z', '2026-03-04T12:00:00Z', '2026-03-04T13:00:00Z', '2026-03-04T14:00:00Z']],
  ['@every 90m', 'UTC', '2026-03-04T10:00:00.5Z', ['2026-03-04T11:30:00Z', '2026-03-04T13:00:00Z', '2026-03-04T14:30:00Z', '2026-03-04T16:00:00Z']],
  ['0 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', ['2026-03-30T00:00:00Z', '2026-03-31T00:00:00Z', '2026-04-01T00:00:00Z', '2026-04-02T00:00:00Z']],
  ['30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', ['2026-03-30T00:30:00Z', '2026-03-31T00:30:00Z', '2026-04-01T00:30:00Z', '2026-04-02T00:30:00Z']],
  ['30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', ['2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z', '2026-10-26T01:30:00Z', '2026-10-27T01:30:00Z']],
  ['0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', ['2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z', '2026-10-25T02:00:00Z', '2026-10-25T03:00:00Z']],
  ['0 * * * *', 'Europe/Berlin', '2026-03-29T00:30:00Z', ['2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z', '2026-03-29T03:00:00Z', '2026-03-29T04:00:00Z']],
  ['0 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', ['2026-03-09T06:00:00Z', '2026-03-10T06:00:00Z', '2026-03-11T06:00:00Z', '2026-03-12T06:00:00Z']],
  ['30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', ['2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z', '2026-11-02T06:30:00Z', '2026-11-03T06:30:00Z']],
  ['0 0 * * *', 'America/New_York', '2026-03-07T12:00:00Z', ['2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z', '2026-03-10T04:00:00Z', '2026-03-11T04:00:00Z']],
  ['0 9 * * 1-5', 'Asia/Kolkata', '2026-01-01T00:00:00Z', ['2026-01-01T03:30:00Z', '2026-01-02T03:30:00Z', '2026-01-05T03:30:00Z', '2026-01-06T03:30:00Z']],
  ['45 23 31 12 *', 'Australia/Lord_Howe', '2026-01-01T00:00:00Z', ['2026-12-31T12:45:00Z', '2027-12-31T12:45:00Z', '2028-12-31T12:45:00Z', '2029-12-31T12:45:00Z']],
];

describe('cron schedules match robfig/cron v3 (the CronJob controller)', () => {
  for (const [schedule, zone, start, runs] of robfig) {
    it(`${schedule} in ${zone} after ${start}`, () => {
      const cron = parseCron(schedule, zone);
      const got: string[] = [];
      let at: Date | undefined = new Date(start);
      for (let i = 0; i < runs.length; i++) {
        at = cron.next(at);
        if (!at) {
          got.push('never');
          break;
        }
        got.push(at.toISOString().replace('.000Z', 'Z'));
      }
      assert.deepEqual(got, runs);
    });
  }

  it('skips a wall-clock time in the spring-forward gap and runs a repeated one twice, as the controller does', () => {
    const berlin = parseCron('30 2 * * *', 'Europe/Berlin');
    assert.equal(berlin.next(new Date('2026-03-28T12:00:00Z'))?.toISOString(), '2026-03-30T00:30:00.000Z', 'no 02:30 on 29 March');
    assert.equal(berlin.next(new Date('2026-10-25T00:30:00Z'))?.toISOString(), '2026-10-25T01:30:00.000Z', 'the second 02:30 on 25 October');
  });

  it('refuses what the controller refuses, with its reasons', () => {
    for (const [bad, reason] of [
      ['0 0 * * 7', /end of range \(7\) above maximum \(6\)/],
      ['60 * * * *', /end of range \(60\) above maximum \(59\)/],
      ['* * * *', /expected exactly 5 fields, found 4/],
      ['0 0 1-0 * *', /beginning of range \(1\) beyond end of range \(0\)/],
      ['*/0 * * * *', /step of range should be a positive number/],
      ['0 0 L * *', /failed to parse int from L/],
      ['@reboot', /unrecognized descriptor: @reboot/],
    ] as const) assert.throws(() => parseCron(bad), (err: unknown) => err instanceof CronError && reason.test(err.message), bad);
    assert.throws(() => parseCron('@daily', 'Mars/Olympus'), /unknown time zone Mars\/Olympus/);
    // Names in any case, as robfig lower-cases them.
    assert.equal(parseCron('0 0 * * mon').next(new Date('2026-01-01T00:00:00Z'))?.toISOString(), '2026-01-05T00:00:00.000Z');
  });
});
