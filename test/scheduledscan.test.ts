// ScheduledScans on the real test plane at real minute resolution (issue 11): a `* * * * *`
// schedule creates its run within the minute; Forbid skips while a run is active (and starts the
// due run once it ends, as a CronJob does), Replace deletes the active run, Allow runs both;
// suspend stops new runs but not active ones; history limits; missed runs; a leader killed around
// a due minute leaves exactly one run for it; the running-images target scans each image of a
// Deployment with several replicas once, and says what is new in the next run.
//
// Runs of ImageScans stay active here unless a test finishes them: the first operator runs only
// the scheduledscan and compliancereport controllers (SECURESTACK_CONTROLLERS), so the test
// writes the ImageScans' status itself, when it wants a run to end.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { ImageScan, ScheduledScan } from '../operator/api/types.generated';
import { runName, runObjects, SCHEDULED_BY_LABEL, SCHEDULED_TIME_LABEL } from '../operator/features/schedules/runs';
import { kubectl, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { TestResources, fixtureDigest, freePort, requireScanEnvironment, scanJobsForDigest, scanOperatorEnv } from './support/scanenv';
import { startTestReceiver, type TestReceiver } from './support/webhook-receiver';

const run = randomBytes(3).toString('hex');

function manifest(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScheduledScan', metadata: { name }, spec });
}

async function getScheduled(namespace: string, name: string): Promise<ScheduledScan> {
  return JSON.parse((await kubectl(['get', 'scheduledscan', name, '-o', 'json'], { namespace })).stdout) as ScheduledScan;
}

/** The objects of a ScheduledScan's runs, by kind. */
async function runsOf(namespace: string, name: string, kind: 'imagescans' | 'compliancereports' = 'imagescans'): Promise<ImageScan[]> {
  const result = await kubectl(['get', `${kind}.securestack.io`, '-l', `${SCHEDULED_BY_LABEL}=${name}`, '-o', 'json'], { namespace });
  return (JSON.parse(result.stdout) as { items: ImageScan[] }).items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}

async function eventReasons(namespace: string, name: string): Promise<Array<{ reason: string; type: string; message: string }>> {
  const result = await kubectl(['get', 'events', '--field-selector', `involvedObject.name=${name},involvedObject.kind=ScheduledScan`, '-o', 'json'], { namespace });
  return (JSON.parse(result.stdout) as { items: Array<{ reason: string; type: string; message: string }> }).items;
}

/** Sleeps until `offsetMs` after the next whole minute (or this one's, if that is still ahead). */
async function untilMinute(offsetMs: number): Promise<number> {
  const now = Date.now();
  let boundary = Math.floor(now / 60_000) * 60_000;
  if (boundary + offsetMs <= now) boundary += 60_000;
  await sleep(boundary + offsetMs - now);
  return boundary;
}

/** Finishes an ImageScan of a run as its controller would: Completed (or Failed) for its generation. */
async function finish(namespace: string, scan: ImageScan, phase: 'Completed' | 'Failed', at = new Date()): Promise<void> {
  const time = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const status = { phase, observedGeneration: scan.metadata.generation ?? 1, completedAt: time, summary: { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0 }, conditions: [{ type: 'Scanned', status: phase === 'Completed' ? 'True' : 'False', reason: phase === 'Completed' ? 'Scanned' : 'ScanFailed', message: phase === 'Completed' ? 'done' : 'the image could not be pulled', lastTransitionTime: time }] };
  await kubectl(['patch', 'imagescan', scan.metadata.name ?? '', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })], { namespace });
}

const imageTemplate = { spec: { image: 'registry.example.com/app:1.0' } };

describe('ScheduledScan on the real plane', { concurrency: true }, () => {
  const resources = new TestResources();
  let home: string;
  let operator: OperatorProcess;

  const signingKey = randomBytes(32);
  let receiver: TestReceiver;

  before(async () => {
    await ensureCrds();
    home = await resources.namespace('schedules');
    // Finished runs are also sent to a webhook receiver, signed (docs/notifications.md).
    await kubectl(['create', 'secret', 'generic', 'hook-key', `--from-literal=signingKey=${signingKey.toString('base64')}`], { namespace: home });
    receiver = await startTestReceiver(signingKey);
    operator = resources.track(startOperator({
      identity: `schedules-${run}`, namespace: home, leaseName: 'schedules',
      env: {
        SECURESTACK_CONTROLLERS: 'scheduledscan,compliancereport',
        SECURESTACK_NOTIFY_RECEIVERS: JSON.stringify([{ name: 'hook', url: receiver.url, events: ['schedule.run.completed', 'schedule.run.failed'], secret: { name: 'hook-key' }, caBundle: receiver.ca.certPem }]),
      },
    }));
    await waitUntilLeading(operator, home, 'schedules');
  });

  after(async () => {
    await resources.stopOperators();
    await receiver.stop();
    await resources.deleteNamespaces();
  });

  async function waitForScheduled(name: string, what: string, test: (scheduled: ScheduledScan) => boolean, timeoutMs = 90_000): Promise<ScheduledScan> {
    try {
      return await waitFor(`ScheduledScan ${name}: ${what}`, async () => {
        const scheduled = await getScheduled(home, name);
        return test(scheduled) ? scheduled : undefined;
      }, { timeoutMs, intervalMs: 250 });
    } catch (err) {
      const status = await kubectl(['get', 'scheduledscan', name, '-o', 'jsonpath={.status}'], { namespace: home, allowFail: true });
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${status.stdout}\n${operator.describe()}`);
    }
  }

  it('every minute: a ComplianceReport run created within the minute, completed, with status, Events, metrics and columns', async () => {
    const name = 'every-minute';
    // Something for the report to judge, so it has a score.
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1.0', securityContext: { privileged: true } }] } } } };
    await kubectl(['apply', '-f', '-'], { namespace: home, input: JSON.stringify(deployment) });
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '* * * * *', complianceReportTemplate: { metadata: { labels: { team: 'a' } }, spec: { framework: 'pss-baseline', scope: { namespaces: [home] } } } }) });
    const scheduled = await waitForScheduled(name, 'a run that completed', (object) => (object.status?.recentRuns?.length ?? 0) > 0);
    const status = scheduled.status;
    const lastRun = status?.recentRuns?.[0];
    assert.equal(lastRun?.result, 'Succeeded', JSON.stringify(status));
    assert.equal(lastRun?.kind, 'ComplianceReport');
    const scheduledTime = Date.parse(lastRun?.scheduledTime ?? '');
    assert.equal(scheduledTime % 60_000, 0, 'due on a whole minute');
    assert.equal(lastRun?.name, runName(name, scheduledTime));
    const [report] = await runsOf(home, name, 'compliancereports');
    const reportScore = (report as unknown as { status?: { summary?: { score?: number } } } | undefined)?.status?.summary?.score;
    assert.equal(typeof reportScore, 'number', 'a privileged Deployment gives the report a score');
    assert.equal(lastRun?.score, reportScore);
    assert.equal(report?.metadata.name, lastRun?.name);
    assert.equal(report?.metadata.labels?.team, 'a', 'template labels are copied');
    assert.equal(report?.metadata.labels?.[SCHEDULED_TIME_LABEL], String(scheduledTime / 60_000));
    assert.equal(report?.metadata.ownerReferences?.[0]?.uid, scheduled.metadata.uid);
    const createdAfterMs = Date.parse(report?.metadata.creationTimestamp ?? '') - scheduledTime;
    assert.ok(createdAfterMs >= 0 && createdAfterMs < 60_000, `the run was created ${createdAfterMs} ms after its due time`);
    assert.equal(status?.lastScheduleTime, lastRun?.scheduledTime);
    assert.ok(status?.lastSuccessfulTime && Date.parse(status.lastSuccessfulTime) >= scheduledTime);
    assert.equal(Date.parse(status?.nextScheduleTime ?? '') % 60_000, 0);
    assert.ok(Date.parse(status?.nextScheduleTime ?? '') > scheduledTime);
    const reasons = (await eventReasons(home, name)).map((event) => event.reason);
    assert.ok(reasons.includes('RunStarted') && reasons.includes('RunCompleted'), reasons.join(','));
    assert.ok(await operator.metric('securestack_scheduledscan_runs_total', { scheduledscan: name, result: 'started' }) >= 1);
    assert.ok(await operator.metric('securestack_scheduledscan_runs_total', { scheduledscan: name, result: 'succeeded' }) >= 1);
    assert.ok(await operator.metric('securestack_scheduledscan_next_run_timestamp_seconds', { scheduledscan: name }) > scheduledTime / 1000);
    // The receiver heard about the run, once, signed.
    const delivery = await waitFor('a schedule.run.completed delivery', () => Promise.resolve(receiver.requests.find((request) => {
      const body = JSON.parse(request.body) as { type: string; data: { name?: string } };
      return body.type === 'schedule.run.completed' && body.data.name === lastRun?.name;
    })), { timeoutMs: 30_000, intervalMs: 200 });
    assert.equal(delivery.verified, true);
    const body = JSON.parse(delivery.body) as { data: { subject: { kind: string; name: string; uid?: string }; result: string; score?: number; target: string } };
    assert.deepEqual([body.data.subject.kind, body.data.subject.name, body.data.subject.uid, body.data.result, body.data.target, body.data.score], ['ScheduledScan', name, scheduled.metadata.uid, 'Succeeded', 'compliance', reportScore]);
    assert.equal(receiver.countById().get(delivery.id), 1);
    const columns = await kubectl(['get', 'scheduledscan', name, '--no-headers', '-o', 'custom-columns=S:.spec.schedule,SU:.spec.suspend,L:.status.lastScheduleTime'], { namespace: home });
    assert.equal(columns.stdout.trim().split(/\s+/).join(' '), `* * * * * false ${status?.lastScheduleTime ?? ''}`);
    await kubectl(['delete', 'scheduledscan', name], { namespace: home });
  });

  it('Forbid: skips the due time while a run is active, and starts it once the run ends', async () => {
    const name = 'forbid';
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '* * * * *', concurrencyPolicy: 'Forbid', imageScanTemplate: imageTemplate }) });
    const first = await waitForScheduled(name, 'a first run', (object) => (object.status?.active?.length ?? 0) === 1);
    const firstTime = Date.parse(first.status?.lastScheduleTime ?? '');
    // The next due minute passes while the first run is active.
    await sleep(firstTime + 60_000 + 8_000 - Date.now());
    assert.deepEqual((await runsOf(home, name)).map((scan) => scan.metadata.name), [runName(name, firstTime)]);
    const skipped = (await eventReasons(home, name)).filter((event) => event.reason === 'RunSkipped');
    assert.equal(skipped.length, 1, 'one RunSkipped Event for the skipped due time');
    assert.match(skipped[0]?.message ?? '', /concurrencyPolicy is Forbid/);
    assert.equal((await getScheduled(home, name)).status?.lastScheduleTime, first.status?.lastScheduleTime, 'a skipped due time is not a scheduled one');
    // The active run ends: with no startingDeadlineSeconds the skipped due time still runs, late.
    const [active] = await runsOf(home, name);
    assert.ok(active);
    const endedAt = Date.now();
    await finish(home, active, 'Completed');
    const second = await waitForScheduled(name, 'the late run', (object) => Date.parse(object.status?.lastScheduleTime ?? '') > firstTime, 30_000);
    assert.ok(Date.now() - endedAt < 30_000);
    const secondTime = Date.parse(second.status?.lastScheduleTime ?? '');
    assert.ok(secondTime >= firstTime + 60_000 && secondTime <= Date.now());
    assert.deepEqual(second.status?.active?.map((entry) => entry.name), [runName(name, secondTime)]);
    assert.equal(second.status?.recentRuns?.[0]?.name, runName(name, firstTime));
    assert.equal(second.status?.recentRuns?.[0]?.result, 'Succeeded');
    assert.equal(second.status?.phase, 'Running');
    assert.ok(await operator.metric('securestack_scheduledscan_runs_total', { scheduledscan: name, result: 'skipped' }) >= 1);
    await kubectl(['delete', 'scheduledscan', name], { namespace: home });
  });

  it('Replace: deletes the active run and starts the new one', async () => {
    const name = 'replace';
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '* * * * *', concurrencyPolicy: 'Replace', imageScanTemplate: imageTemplate }) });
    const first = await waitForScheduled(name, 'a first run', (object) => (object.status?.active?.length ?? 0) === 1);
    const firstTime = Date.parse(first.status?.lastScheduleTime ?? '');
    const second = await waitForScheduled(name, 'the replacing run', (object) => Date.parse(object.status?.lastScheduleTime ?? '') === firstTime + 60_000);
    assert.deepEqual(second.status?.active?.map((entry) => entry.name), [runName(name, firstTime + 60_000)]);
    await waitFor('the replaced run to be gone', async () => {
      const names = (await runsOf(home, name)).filter((scan) => !scan.metadata.deletionTimestamp).map((scan) => scan.metadata.name);
      return names.length === 1 && names[0] === runName(name, firstTime + 60_000) ? true : undefined;
    }, { timeoutMs: 20_000 });
    const replaced = (await eventReasons(home, name)).filter((event) => event.reason === 'RunReplaced');
    assert.equal(replaced.length, 1);
    assert.match(replaced[0]?.message ?? '', new RegExp(runName(name, firstTime)));
    await kubectl(['delete', 'scheduledscan', name], { namespace: home });
  });

  it('Allow (the default, as for a CronJob): a second run starts while the first is active', async () => {
    const name = 'allow';
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '* * * * *', imageScanTemplate: imageTemplate }) });
    const both = await waitForScheduled(name, 'two active runs', (object) => (object.status?.active?.length ?? 0) === 2, 150_000);
    assert.equal(both.spec.concurrencyPolicy, 'Allow');
    const times = both.status?.active?.map((entry) => Date.parse(entry.scheduledTime ?? '')) ?? [];
    assert.equal((times[1] ?? 0) - (times[0] ?? 0), 60_000);
    assert.equal((await runsOf(home, name)).length, 2);
    await kubectl(['delete', 'scheduledscan', name], { namespace: home });
  });

  it('suspend: no new runs, the active one goes on; resuming catches up with one run', async () => {
    const name = 'suspend';
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '* * * * *', imageScanTemplate: imageTemplate }) });
    const first = await waitForScheduled(name, 'a first run', (object) => (object.status?.active?.length ?? 0) === 1);
    await kubectl(['patch', 'scheduledscan', name, '--type=merge', '-p', '{"spec":{"suspend":true}}'], { namespace: home });
    const suspended = await waitForScheduled(name, 'Suspended', (object) => object.status?.phase === 'Suspended');
    assert.equal(suspended.status?.nextScheduleTime, undefined);
    assert.equal(suspended.status?.active?.length, 1, 'the active run is still listed');
    const firstTime = Date.parse(first.status?.lastScheduleTime ?? '');
    // A due minute passes while suspended.
    await sleep(Math.max(0, firstTime + 60_000 + 3_000 - Date.now()));
    const during = await runsOf(home, name);
    assert.deepEqual(during.map((scan) => scan.metadata.name), [runName(name, firstTime)], 'no run while suspended, and the active one was not deleted');
    assert.equal((await getScheduled(home, name)).status?.lastScheduleTime, first.status?.lastScheduleTime);
    await kubectl(['patch', 'scheduledscan', name, '--type=merge', '-p', '{"spec":{"suspend":false}}'], { namespace: home });
    const resumed = await waitForScheduled(name, 'a catch-up run', (object) => Date.parse(object.status?.lastScheduleTime ?? '') > firstTime, 20_000);
    const latest = Math.floor(Date.now() / 60_000) * 60_000;
    assert.ok([latest, latest - 60_000].includes(Date.parse(resumed.status?.lastScheduleTime ?? '')), 'the catch-up run is for the most recent due time');
    // (Catching up several missed due times with one run is the missed-runs test's.)
    assert.equal((await runsOf(home, name)).length, 2, 'one catch-up run');
    await kubectl(['delete', 'scheduledscan', name], { namespace: home });
  });

  it('history limits: keeps the newest successful and failed runs, deletes the rest', async () => {
    const name = 'history';
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '0 0 1 1 *', suspend: true, successfulRunsHistoryLimit: 2, failedRunsHistoryLimit: 1, imageScanTemplate: imageTemplate }) });
    const scheduled = await waitForScheduled(name, 'Suspended', (object) => object.status?.phase === 'Suspended');
    // Seven finished runs, as earlier schedules would have left them: four Completed, three Failed.
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
    const outcomes: Array<'Completed' | 'Failed'> = ['Completed', 'Failed', 'Completed', 'Failed', 'Completed', 'Completed', 'Failed'];
    for (const [index, phase] of outcomes.entries()) {
      const time = base + index * 60_000;
      const [object] = runObjects(scheduled, time);
      assert.ok(object);
      const created = JSON.parse((await kubectl(['create', '-o', 'json', '-f', '-'], { namespace: home, input: JSON.stringify(object) })).stdout) as ImageScan;
      await finish(home, created, phase, new Date(time + 30_000));
    }
    // Suspended schedules clean up too; touching the spec brings the reconcile.
    await kubectl(['annotate', 'scheduledscan', name, `touched=${Date.now()}`], { namespace: home });
    await waitFor('the history limits to apply', async () => ((await runsOf(home, name)).filter((scan) => !scan.metadata.deletionTimestamp).length === 3 ? true : undefined), { timeoutMs: 30_000 });
    const kept = (await runsOf(home, name)).filter((scan) => !scan.metadata.deletionTimestamp).map((scan) => scan.metadata.name);
    assert.deepEqual(kept, [runName(name, base + 4 * 60_000), runName(name, base + 5 * 60_000), runName(name, base + 6 * 60_000)].sort());
    const status = (await waitForScheduled(name, 'every run recorded', (object) => (object.status?.recentRuns?.length ?? 0) === 7)).status;
    assert.deepEqual(status?.recentRuns?.map((entry) => entry.result), ['Failed', 'Succeeded', 'Succeeded', 'Failed', 'Succeeded', 'Failed', 'Succeeded']);
    assert.match(status?.recentRuns?.[0]?.message ?? '', /the image could not be pulled/);
    assert.equal(status?.lastSuccessfulTime, new Date(base + 5 * 60_000 + 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const reasons = (await eventReasons(home, name)).map((event) => event.reason);
    assert.equal(reasons.filter((reason) => reason === 'RunCompleted').length, 4);
    assert.equal(reasons.filter((reason) => reason === 'RunFailed').length, 3);
    await kubectl(['delete', 'scheduledscan', name], { namespace: home });
  });

  it('missed runs: more than 100 starts nothing and warns; startingDeadlineSeconds limits the count to its window', async () => {
    const long = Date.now() - 3 * 3_600_000;
    const lastScheduleTime = new Date(Math.floor(long / 60_000) * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const [name, extra] of [['missed-many', {}], ['missed-deadline', { startingDeadlineSeconds: 300 }]] as const) {
      await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '* * * * *', suspend: true, imageScanTemplate: imageTemplate, ...extra }) });
      await waitForScheduled(name, 'Suspended', (object) => object.status?.phase === 'Suspended');
      await kubectl(['patch', 'scheduledscan', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { lastScheduleTime } })], { namespace: home });
      await kubectl(['patch', 'scheduledscan', name, '--type=merge', '-p', '{"spec":{"suspend":false}}'], { namespace: home });
    }
    await waitFor('a TooManyMissedTimes Warning', async () => ((await eventReasons(home, 'missed-many')).some((event) => event.reason === 'TooManyMissedTimes' && event.type === 'Warning') ? true : undefined), { timeoutMs: 20_000 });
    assert.equal((await runsOf(home, 'missed-many')).length, 0, 'no run after more than 100 missed due times');
    assert.ok(await operator.metric('securestack_scheduledscan_missed_runs_total', { scheduledscan: 'missed-many' }) > 100);
    const caught = await waitForScheduled('missed-deadline', 'a run inside the deadline', (object) => object.status?.lastScheduleTime !== lastScheduleTime, 20_000);
    assert.ok(Date.now() - Date.parse(caught.status?.lastScheduleTime ?? '') <= 300_000);
    assert.equal((await runsOf(home, 'missed-deadline')).length, 1, 'one catch-up run for the 4 or 5 due times in the window');
    const started = (await eventReasons(home, 'missed-deadline')).filter((event) => event.reason === 'RunStarted').map((event) => event.message);
    assert.ok(started.some((message) => /\([3-4] earlier due time\(s\) missed\)/.test(message)), started.join('\n'));
    assert.ok(await operator.metric('securestack_scheduledscan_missed_runs_total', { scheduledscan: 'missed-deadline' }) >= 3);
    await kubectl(['delete', 'scheduledscan', 'missed-many', 'missed-deadline'], { namespace: home });
  });

  it('an unknown time zone fails the ScheduledScan with the reason, an Event and a metric (the webhook is off here)', async () => {
    const name = 'bad-zone';
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '@daily', timeZone: 'Mars/Olympus_Mons', imageScanTemplate: imageTemplate }) });
    const failed = await waitForScheduled(name, 'Failed', (object) => object.status?.phase === 'Failed');
    const ready = failed.status?.conditions?.find((condition) => condition.type === 'Ready');
    assert.equal(ready?.reason, 'UnknownTimeZone');
    assert.match(ready?.message ?? '', /spec\.timeZone: unknown time zone Mars\/Olympus_Mons/);
    assert.ok((await eventReasons(home, name)).some((event) => event.reason === 'UnknownTimeZone' && event.type === 'Warning'));
    assert.ok(await operator.metric('securestack_scheduledscan_invalid_total', { reason: 'UnknownTimeZone' }) >= 1);
    await kubectl(['patch', 'scheduledscan', name, '--type=merge', '-p', '{"spec":{"timeZone":"Europe/Berlin"}}'], { namespace: home });
    const fixed = await waitForScheduled(name, 'Scheduled', (object) => object.status?.phase === 'Scheduled');
    assert.match(fixed.status?.conditions?.find((condition) => condition.type === 'Ready')?.message ?? '', /Europe\/Berlin/);
    await kubectl(['delete', 'scheduledscan', name], { namespace: home });
  });
});

describe('ScheduledScan across a leader change', () => {
  const resources = new TestResources();
  after(async () => {
    await resources.stopOperators();
    await resources.deleteNamespaces();
  });

  it('a leader killed around a due minute leaves exactly one run for it', async () => {
    await ensureCrds();
    const home = await resources.namespace('schedules-leader');
    const env = { SECURESTACK_CONTROLLERS: 'scheduledscan', SECURESTACK_LEASE_DURATION: '3s', SECURESTACK_RENEW_DEADLINE: '2s', SECURESTACK_RETRY_PERIOD: '500ms' };
    const first = resources.track(startOperator({ identity: `leader-a-${run}`, namespace: home, leaseName: 'schedules', env: { ...env, SECURESTACK_REPORT_PORT: String(await freePort()) } }));
    await waitUntilLeading(first, home, 'schedules');
    const second = resources.track(startOperator({ identity: `leader-b-${run}`, namespace: home, leaseName: 'schedules', env: { ...env, SECURESTACK_REPORT_PORT: String(await freePort()) } }));
    await second.metricsPort().catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${second.describe()}`);
    });
    const name = 'failover';
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '* * * * *', imageScanTemplate: imageTemplate }) });
    const created = Date.parse((await getScheduled(home, name)).metadata.creationTimestamp ?? '');
    // Kill the leader a moment after a due minute (one after the creation), while it may be creating the run.
    let due = await untilMinute(150);
    if (due <= created) due = await untilMinute(150);
    await first.stop('SIGKILL');
    await waitUntilLeading(second, home, 'schedules', 20_000);
    await waitFor('the run of the due minute', async () => ((await getScheduled(home, name)).status?.lastScheduleTime === new Date(due).toISOString().replace(/\.\d{3}Z$/, 'Z') ? true : undefined), { timeoutMs: 30_000 });
    const names = (await runsOf(home, name)).map((scan) => scan.metadata.name);
    assert.equal(names.filter((object) => object === runName(name, due)).length, 1);
    assert.deepEqual(names, [...new Set(names)], 'no run twice');
    assert.ok(names.every((object) => object === runName(name, due)), `only the due minute's run: ${names.join(', ')}`);
  });
});

describe('ScheduledScan of the images running in a namespace', () => {
  const resources = new TestResources();
  after(async () => {
    await resources.stopOperators();
    await resources.deleteNamespaces();
  });

  it('scans each image of a Deployment with several replicas once, and says what is new in the next run', async () => {
    const env = await requireScanEnvironment();
    const home = await resources.namespace('schedules-images');
    const apps = await resources.namespace('schedules-apps');
    const debian = `${env.registry}/fixtures/debian-app:1`;
    const alpine = `${env.registry}/fixtures/alpine-app:1`;
    const deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { initContainers: [{ name: 'init', image: debian }], containers: [{ name: 'app', image: debian }, { name: 'sidecar', image: alpine }] } } },
    };
    await kubectl(['apply', '-f', '-'], { namespace: apps, input: JSON.stringify(deployment) });
    await waitFor('three running replicas', async () => {
      const result = await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.status.phase}{"\\n"}{end}'], { namespace: apps });
      return result.stdout.split('\n').filter((phase) => phase === 'Running').length === 3 ? true : undefined;
    }, { timeoutMs: 60_000 });
    const operator = resources.track(startOperator({ identity: `images-${run}`, namespace: home, leaseName: 'schedules-images', env: scanOperatorEnv(env, await freePort()) }));
    await waitUntilLeading(operator, home, 'schedules-images');
    const name = 'running';
    await kubectl(['apply', '-f', '-'], { namespace: home, input: manifest(name, { schedule: '* * * * *', concurrencyPolicy: 'Forbid', runningImagesTemplate: { spec: { scope: { namespaces: [apps] } } } }) });
    const waitRuns = async (count: number): Promise<ScheduledScan> => {
      try {
        return await waitFor(`${count} finished run(s)`, async () => {
          const scheduled = await getScheduled(home, name);
          return (scheduled.status?.recentRuns?.length ?? 0) >= count ? scheduled : undefined;
        }, { timeoutMs: 180_000, intervalMs: 500 });
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${operator.describe()}`);
      }
    };
    const afterFirst = await waitRuns(1);
    const first = afterFirst.status?.recentRuns?.[0];
    assert.equal(first?.result, 'Succeeded', JSON.stringify(afterFirst.status));
    assert.equal(first?.images, 2, 'two unique images across 3 replicas x 3 containers');
    const scans = (await runsOf(home, name)).filter((scan) => scan.metadata.labels?.[SCHEDULED_TIME_LABEL] === String(Date.parse(first?.scheduledTime ?? '') / 60_000));
    assert.deepEqual(scans.map((scan) => scan.spec.image).sort(), [alpine, debian].sort());
    const critical = scans.reduce((sum, scan) => sum + (scan.status?.summary?.critical ?? 0), 0);
    const high = scans.reduce((sum, scan) => sum + (scan.status?.summary?.high ?? 0), 0);
    assert.ok(critical + high > 0, 'the fixtures have critical or high vulnerabilities');
    assert.deepEqual([first?.critical, first?.high, first?.newCritical, first?.newHigh], [critical, high, critical, high], 'every finding of a first run is new');
    // One scan Job per digest, however many ImageScans and replicas.
    assert.equal((await scanJobsForDigest(fixtureDigest(env, 'fixtures/debian-app:1'))).length, 1);
    assert.equal((await scanJobsForDigest(fixtureDigest(env, 'fixtures/alpine-app:1'))).length, 1);

    const afterSecond = await waitRuns(2);
    const second = afterSecond.status?.recentRuns?.[0];
    assert.equal(second?.result, 'Succeeded');
    assert.deepEqual([second?.images, second?.critical, second?.high, second?.newCritical, second?.newHigh], [2, critical, high, 0, 0], 'nothing new in an unchanged image with an unchanged DB');
    assert.equal((await scanJobsForDigest(fixtureDigest(env, 'fixtures/debian-app:1'))).length, 1, 'the second run answered from the scan cache');
    const completed = (await eventReasons(home, name)).filter((event) => event.reason === 'RunCompleted').map((event) => event.message);
    assert.ok(completed.some((message) => /2 image\(s\) scanned/.test(message) && /new since the previous run: 0 critical, 0 high/.test(message)), completed.join('\n'));
  });
});
