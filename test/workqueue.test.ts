import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkQueue, maxTimerMs } from '../operator/platform/runtime/workqueue';

describe('WorkQueue', () => {
  it('dedupes a key added several times before it is taken', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('a');
    queue.add('b');
    assert.equal(queue.depth, 2);
    assert.equal(await queue.get(), 'a');
    assert.equal(await queue.get(), 'b');
    assert.equal(queue.depth, 0);
  });

  it('never hands the same key to two workers; a key added while processing comes back once after done', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    const first = await queue.get();
    assert.equal(first, 'a');
    queue.add('a');
    queue.add('a');
    assert.equal(queue.depth, 0, 'a key in flight is not queued again');
    queue.add('b');
    assert.equal(await queue.get(), 'b');
    queue.done('a');
    assert.equal(queue.depth, 1);
    assert.equal(await queue.get(), 'a');
    queue.done('a');
    assert.equal(queue.depth, 0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.add('late');
    assert.equal(await waiting, 'late');
    queue.add('late');
    assert.equal(queue.depth, 0, 'handed straight to the waiter, so it is in flight');
  });

  it('backs off exponentially up to the cap and forget resets it', () => {
    const queue = new WorkQueue({ backoff: { baseDelayMs: 10, maxDelayMs: 50 } });
    const delays = [1, 2, 3, 4, 5].map(() => queue.addRateLimited('k'));
    assert.deepEqual(delays, [10, 20, 40, 50, 50]);
    assert.equal(queue.retries('k'), 5);
    queue.forget('k');
    assert.equal(queue.retries('k'), 0);
    assert.equal(queue.addRateLimited('k'), 10);
    queue.shutDown();
  });

  it('addAfter keeps the earliest deadline and delivers the key once', async () => {
    const queue = new WorkQueue();
    queue.addAfter('k', 5_000);
    queue.addAfter('k', 20);
    queue.addAfter('k', 10_000);
    await sleep(60);
    assert.equal(queue.depth, 1);
    assert.equal(await queue.get(), 'k');
    queue.done('k');
    assert.equal(queue.depth, 0);
    queue.shutDown();
  });

  it('addAfter longer than a Node timer can wait does not fire at once', async () => {
    const queue = new WorkQueue();
    // 2^31 ms and a year: Node would run such a timer after 1 ms; the queue waits the longest it can.
    queue.addAfter('far', maxTimerMs + 1);
    queue.addAfter('year', 365 * 86_400_000);
    queue.addAfter('edge', maxTimerMs);
    await sleep(50);
    assert.equal(queue.depth, 0);
    queue.shutDown();
  });

  it('reports depth changes and releases waiting workers on shutdown', async () => {
    const depths: number[] = [];
    const queue = new WorkQueue({ onDepthChange: (depth) => depths.push(depth) });
    queue.add('a');
    queue.add('b');
    const taken = await queue.get();
    assert.equal(taken, 'a');
    const waiters = [queue.get(), queue.get()];
    queue.shutDown();
    assert.deepEqual(await Promise.all(waiters), ['b', undefined]);
    assert.equal(await queue.get(), undefined);
    queue.add('c');
    assert.equal(queue.depth, 0, 'nothing is accepted after shutdown');
    assert.deepEqual(depths, [1, 2, 1, 0, 0]);
  });
});
