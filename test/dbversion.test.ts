// The scanner's DB version: learnt soon even when the Trivy server is down at start, and a result
// that names no DB counts as older once a version is known. The watcher talks to a real HTTP
// server on loopback that answers /version as Trivy's server does.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { createLogger } from '../operator/platform/log';
import { TrivyDbWatcher } from '../operator/features/scan/dbversion';
import { madeWithOlderDb } from '../operator/features/scan/result-cache';
import { waitFor } from './support/cluster';

const updatedAt = '2026-12-01T06:00:00Z';

/** A /version endpoint that fails its first `failures` requests with 503. */
async function versionServer(failures: number): Promise<{ url: string; requests: () => number; server: Server; publish: (version: string) => void }> {
  let requests = 0;
  let current = updatedAt;
  const server = createServer((_req, res) => {
    requests++;
    if (requests <= failures) {
      res.writeHead(503).end('starting');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Version: '0.74.0', VulnerabilityDB: { UpdatedAt: current } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests, server, publish: (version) => (current = version) };
}

describe('Trivy DB version watcher', () => {
  const cleanups: Array<() => void> = [];
  after(() => cleanups.forEach((cleanup) => cleanup()));

  it('retries soon, backing off, while the version is unknown, instead of waiting the whole interval', async () => {
    const { url, requests, server } = await versionServer(3);
    // A ten-minute interval, as in production: only the retry can learn the version in this test.
    const watcher = new TrivyDbWatcher(url, 600_000, createLogger('error'), 50);
    cleanups.push(() => watcher.stop(), () => server.close());
    await watcher.start(() => undefined);
    assert.equal(watcher.current(), undefined, 'the first answer was a 503');
    await waitFor('the DB version', () => Promise.resolve(watcher.current()), { timeoutMs: 10_000, intervalMs: 20 });
    assert.equal(watcher.current(), updatedAt);
    assert.equal(requests(), 4, 'three failures, then the answer');
    // Known now: the next look is an interval away, not a retry away.
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(requests(), 4);
  });

  it('polls at the interval once the version is known, and reports a change', async () => {
    const { url, requests, server, publish } = await versionServer(0);
    const watcher = new TrivyDbWatcher(url, 100, createLogger('error'), 50);
    cleanups.push(() => watcher.stop(), () => server.close());
    const changes: string[] = [];
    await watcher.start((version) => changes.push(version));
    assert.equal(watcher.current(), updatedAt);
    await waitFor('two more polls', () => Promise.resolve(requests() >= 3 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    assert.deepEqual(changes, [], 'the same version is no change');
    publish('2026-12-02T06:00:00Z');
    await waitFor('the new version', () => Promise.resolve(changes.length > 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    assert.deepEqual(changes, ['2026-12-02T06:00:00Z']);
    assert.equal(watcher.current(), '2026-12-02T06:00:00Z');
    watcher.stop();
    const stoppedAt = requests();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(requests(), stoppedAt, 'stop() stops polling');
  });
});

describe('results made with an older DB', () => {
  it('compares DB update times both ways', () => {
    assert.equal(madeWithOlderDb('2026-11-30T00:00:00Z', updatedAt), true);
    assert.equal(madeWithOlderDb(updatedAt, updatedAt), false);
    assert.equal(madeWithOlderDb('2026-12-02T00:00:00Z', updatedAt), false);
  });

  it('counts a result without a DB version as older once a version is known, and never while none is', () => {
    assert.equal(madeWithOlderDb(undefined, updatedAt), true);
    assert.equal(madeWithOlderDb(undefined, undefined), false);
    assert.equal(madeWithOlderDb(updatedAt, undefined), false);
  });
});
