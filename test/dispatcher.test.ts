import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageScanStatus } from '../operator/api/types.generated';
import { failedDuringAttempt } from '../operator/features/scan/imagescan';
import { scanJobName } from '../operator/features/scan/scanjob';
import { ScanDispatcher, type ObservedJob, type Outcome } from '../operator/features/scan/dispatcher';

function job(digest: string, name: string, owner: string, active: boolean, succeeded = false): ObservedJob {
  return { digest, name, namespace: 'ns', owner, active, succeeded };
}

describe('ScanDispatcher', () => {
  it('starts one Job per digest; every other ImageScan of that digest waits on it', () => {
    const dispatcher = new ScanDispatcher(5);
    assert.deepEqual(dispatcher.admit('a', 'sha256:1', 1), { action: 'start' });
    assert.deepEqual(dispatcher.admit('b', 'sha256:1', 2), { action: 'wait', job: undefined });
    dispatcher.started('sha256:1', { namespace: 'ns', name: 'job-1', owner: 'a' });
    assert.deepEqual(dispatcher.admit('c', 'sha256:1', 3), { action: 'wait', job: { namespace: 'ns', name: 'job-1', owner: 'a' } });
    assert.equal(dispatcher.activeJobs, 1);
    const wake = dispatcher.observe(job('sha256:1', 'job-1', 'a', false, true));
    assert.deepEqual(wake.sort(), ['a', 'b', 'c']);
    assert.equal(dispatcher.outcome('sha256:1')?.succeeded, true);
    assert.equal(dispatcher.activeJobs, 0);
  });

  it('queues digests beyond the concurrency limit by age and admits the head when a slot frees', () => {
    const states: Array<{ active: number; queued: number }> = [];
    const dispatcher = new ScanDispatcher(2, (state) => states.push(state));
    assert.equal(dispatcher.admit('a', 'd1', 1).action, 'start');
    assert.equal(dispatcher.admit('b', 'd2', 2).action, 'start');
    assert.deepEqual(dispatcher.admit('d', 'd4', 4), { action: 'queued', position: 1 });
    assert.deepEqual(dispatcher.admit('c', 'd3', 3), { action: 'queued', position: 1 }, 'older ImageScans go first');
    assert.deepEqual(dispatcher.admit('d', 'd4', 4), { action: 'queued', position: 2 });
    assert.deepEqual(dispatcher.admit('e', 'd3', 5), { action: 'queued', position: 1 }, 'one queue entry per digest');
    assert.equal(dispatcher.queuedDigests, 2);
    dispatcher.started('d1', { namespace: 'ns', name: 'j1', owner: 'a' });
    const wake = dispatcher.observe(job('d1', 'j1', 'a', false));
    assert.deepEqual(wake.sort(), ['a', 'c', 'e'], 'the finished owner and the new queue head');
    assert.deepEqual(dispatcher.admit('c', 'd3', 3), { action: 'start' });
    assert.deepEqual(dispatcher.admit('e', 'd3', 5), { action: 'wait', job: undefined });
    assert.deepEqual(states.at(-1), { active: 2, queued: 1 });
  });

  it('rebuilds running Jobs from the cluster so a new leader starts no duplicate', () => {
    const dispatcher = new ScanDispatcher(1);
    dispatcher.reset([job('d1', 'j1', 'a', true), job('d0', 'old', 'z', false, true)]);
    assert.deepEqual(dispatcher.admit('a', 'd1', 1), { action: 'wait', job: { digest: 'd1', name: 'j1', namespace: 'ns', owner: 'a', active: true, succeeded: false } });
    assert.deepEqual(dispatcher.admit('b', 'd2', 2), { action: 'queued', position: 1 });
  });

  it('frees the slot of a start that failed, and forgets released ImageScans', () => {
    const dispatcher = new ScanDispatcher(1);
    assert.equal(dispatcher.admit('a', 'd1', 1).action, 'start');
    assert.equal(dispatcher.admit('b', 'd2', 2).action, 'queued');
    dispatcher.abandon('d1');
    dispatcher.release('b');
    assert.equal(dispatcher.queuedDigests, 0);
    assert.equal(dispatcher.admit('c', 'd3', 3).action, 'start');
  });

  it('ignores the end of an older Job for a digest that a newer Job is scanning', () => {
    const dispatcher = new ScanDispatcher(2);
    dispatcher.observe(job('d1', 'new', 'a', true));
    assert.deepEqual(dispatcher.observe(job('d1', 'old', 'a', false)), []);
    assert.equal(dispatcher.activeJobs, 1);
  });
});

describe('failedDuringAttempt: which Job failure ends an ImageScan attempt', () => {
  const second = Date.parse('2026-12-06T15:41:06Z');
  const scan = (status: ImageScanStatus) => ({ metadata: { name: 'broken', namespace: 'ns', uid: 'uid-1' }, status });
  const failed = (name: string, finishedAt: number, namespace = 'ns'): Outcome => ({ job: { namespace, name, owner: 'broken' }, succeeded: false, failureReason: 'BackoffLimitExceeded', finishedAt });
  const retry = { phase: 'Queued' as const, attempts: 2, startedAt: '2026-12-06T15:41:06Z', jobName: 'first-job' };
  const attemptJob = scanJobName('broken', 'uid-1', 2, retry.startedAt);

  it('counts the attempt\'s own Job failing in the second the attempt started (Job times have whole seconds)', () => {
    assert.equal(failedDuringAttempt(failed(attemptJob, second), scan(retry)), true);
    assert.equal(failedDuringAttempt(failed(attemptJob, second), scan({ ...retry, phase: 'Scanning', jobName: attemptJob })), true);
  });

  it('does not count the failure that ended the previous attempt, in the same second or before', () => {
    assert.equal(failedDuringAttempt(failed('first-job', second), scan(retry)), false);
    assert.equal(failedDuringAttempt(failed('first-job', second - 1000), scan(retry)), false);
    // The same Job's name from another attempt number, or another ImageScan's uid, is not this attempt's.
    assert.equal(failedDuringAttempt(failed(scanJobName('broken', 'uid-1', 1, retry.startedAt), second), scan(retry)), false);
    assert.equal(failedDuringAttempt(failed(scanJobName('broken', 'uid-2', 2, retry.startedAt), second), scan(retry)), false);
  });

  it('counts the Job status says it waits for, in its namespace, while Scanning only', () => {
    const waiting = { phase: 'Scanning' as const, attempts: 1, startedAt: retry.startedAt, jobName: 'someone-elses' };
    assert.equal(failedDuringAttempt(failed('someone-elses', second), scan(waiting)), true);
    assert.equal(failedDuringAttempt(failed('someone-elses', second, 'other'), scan(waiting)), false);
    assert.equal(failedDuringAttempt(failed('someone-elses', second), scan({ ...waiting, phase: 'Queued' })), false);
  });

  it('counts any other Job by time: one second after the attempt started, not in that second', () => {
    const waiting = { phase: 'Scanning' as const, attempts: 1, startedAt: retry.startedAt };
    assert.equal(failedDuringAttempt(failed('elsewhere', second + 1000, 'other'), scan(waiting)), true);
    assert.equal(failedDuringAttempt(failed('elsewhere', second, 'other'), scan(waiting)), false);
  });

  it('never counts a Job that succeeded', () => {
    assert.equal(failedDuringAttempt({ ...failed(attemptJob, second + 5000), succeeded: true }, scan(retry)), false);
  });
});

describe('ScanDispatcher outcomes', () => {
  const finished = (name: string, owner: string, finishedAt: number, succeeded = false): ObservedJob => ({ digest: 'd', name, namespace: 'ns', owner, active: false, succeeded, finishedAt, ...(succeeded ? {} : { failureReason: 'BackoffLimitExceeded' }) });

  it('keeps the last Job\'s outcome when an older Job\'s deletion (its TTL) or a relist arrives later', () => {
    const dispatcher = new ScanDispatcher(5);
    dispatcher.observe({ ...finished('job-1', 'a', 1_000), active: true });
    dispatcher.observe(finished('job-1', 'a', 1_000));
    assert.equal(dispatcher.admit('a', 'd', 1).action, 'start');
    dispatcher.started('d', { namespace: 'ns', name: 'job-2', owner: 'a' });
    assert.deepEqual(dispatcher.observe(finished('job-2', 'a', 5_000)), ['a']);
    // The TTL controller deletes job-1 afterwards: not news.
    assert.deepEqual(dispatcher.observe(finished('job-1', 'a', 1_000)), []);
    assert.equal(dispatcher.outcome('d')?.job.name, 'job-2');
    // Nor is job-2 itself again (a relist, its own deletion).
    assert.deepEqual(dispatcher.observe(finished('job-2', 'a', 5_000)), []);
    assert.equal(dispatcher.activeJobs, 0, 'nothing counts as running');
  });

  it('takes a newer Job\'s end over an older one, by finish time, one second apart both ways', () => {
    const dispatcher = new ScanDispatcher(5);
    dispatcher.reset([finished('old', 'a', 1_000), finished('new', 'b', 2_000)]);
    assert.equal(dispatcher.outcome('d')?.job.name, 'new');
    const reversed = new ScanDispatcher(5);
    reversed.reset([finished('new', 'b', 2_000), finished('old', 'a', 1_000)]);
    assert.equal(reversed.outcome('d')?.job.name, 'new', 'list order does not matter');
    assert.deepEqual(reversed.observe(finished('newer', 'c', 3_000, true)), ['c']);
    assert.equal(reversed.outcome('d')?.succeeded, true);
  });
});
