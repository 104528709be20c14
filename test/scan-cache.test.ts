// The shared scan cache with a real redis-server on loopback: results land in Redis; with Redis
// stopped mid-run scans go on from memory and nothing is lost; once it is back, it is used again,
// and a new controller process completes a known digest from Redis without a Job.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, afterEach, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createLogger } from '../operator/platform/log';
import { FallbackCache, MemoryLru, redisFrontBytes, redisFrontEntries } from '../operator/features/scan/cache';
import { createScanMetrics } from '../operator/features/scan/metrics';
import { kubectl, waitFor } from './support/cluster';
import { startOperator, waitUntilLeading } from './support/operator';
import { freePort, getScan, imageScanManifest, pushUniqueImage, requireScanEnvironment, scanJobsForDigest, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment } from './support/scanenv';

describe('MemoryLru', () => {
  const result = (bytes: number): { summary: string; sbomGzip: Buffer; scannedAt: number } => ({ summary: '{}', sbomGzip: Buffer.alloc(bytes), scannedAt: 0 });
  const key = (digest: string): { digest: string; scanner: string; dbVersion: string } => ({ digest, scanner: 's', dbVersion: 'v' });

  it('evicts the least recently used entry beyond its entry count', async () => {
    const lru = new MemoryLru(2, 1_000_000);
    await lru.set(key('a'), result(1));
    await lru.set(key('b'), result(1));
    assert.ok(await lru.get(key('a')), 'a is used, so b is now the oldest');
    await lru.set(key('c'), result(1));
    assert.ok(await lru.get(key('a')));
    assert.equal(await lru.get(key('b')), undefined);
    assert.ok(await lru.get(key('c')));
  });

  it('stays within its byte budget and refuses an entry larger than all of it', async () => {
    const lru = new MemoryLru(100, 1_000);
    await lru.set(key('a'), result(400));
    await lru.set(key('b'), result(400));
    await lru.set(key('c'), result(400));
    assert.equal(lru.size, 2);
    assert.equal(await lru.get(key('a')), undefined);
    await lru.set(key('huge'), result(5_000));
    assert.equal(await lru.get(key('huge')), undefined);
  });
});

function requireRedisServer(): void {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error('redis-server is missing: apt-get install redis-server (.ci/run installs it)');
}

async function startRedis(port: number): Promise<ChildProcess> {
  const redis = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(`redis-server on ${port}`, () => Promise.resolve(spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG' ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 });
  return redis;
}

async function stopRedis(redis: ChildProcess): Promise<void> {
  if (redis.exitCode !== null) return;
  redis.kill('SIGKILL');
  await once(redis, 'exit');
}

function redisKeys(port: number): string[] {
  return spawnSync('redis-cli', ['-p', String(port), '--scan', '--pattern', 'securestack:scan:*'], { encoding: 'utf8' }).stdout.split('\n').filter((line) => line !== '');
}

describe('FallbackCache and a Redis that hangs (no control plane)', () => {
  const key = { digest: `sha256:${'b'.repeat(64)}`, scanner: 's', dbVersion: 'v' };
  const value = { summary: '{"total":1}', sbomGzip: Buffer.from('sbom'), scannedAt: 1 };
  let redis: ChildProcess | undefined;
  let cache: FallbackCache | undefined;

  afterEach(async () => {
    await cache?.close();
    if (redis) {
      redis.kill('SIGCONT');
      await stopRedis(redis);
    }
  });

  it('notices a frozen Redis that answers again without a reconnect, and writes to it once more', async () => {
    requireRedisServer();
    const port = await freePort();
    redis = await startRedis(port);
    const registry = new Registry();
    const metrics = createScanMetrics(registry);
    const up = async (): Promise<number | undefined> => (await registry.getMetricsAsJSON()).find((m) => m.name === 'securestack_scan_cache_backend_up')?.values[0]?.value;
    cache = new FallbackCache({ url: `redis://127.0.0.1:${port}`, ttlSeconds: 60, commandTimeoutMs: 200, probeIntervalMs: 100 }, new MemoryLru(redisFrontEntries, redisFrontBytes), metrics, createLogger('error'));
    const live = cache;
    await waitFor('the connection', async () => ((await up()) === 1 ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });

    // Frozen, not killed: the connection stays open and commands time out.
    redis.kill('SIGSTOP');
    assert.equal(await live.get(key), undefined, 'a miss, from memory');
    assert.equal(live.down, true);
    assert.equal(await up(), 0);
    await live.set(key, value);
    assert.deepEqual(await live.get(key), value, 'stored in memory meanwhile');

    redis.kill('SIGCONT');
    await waitFor('Redis to count as up again', () => Promise.resolve(live.down ? undefined : true), { timeoutMs: 10_000, intervalMs: 50 });
    assert.equal(await up(), 1);
    await live.set({ ...key, digest: `sha256:${'c'.repeat(64)}` }, value);
    assert.deepEqual(redisKeys(port), [`securestack:scan:v1:s:v:sha256:${'c'.repeat(64)}`], 'new results reach Redis again');
  });
});

describe('scan cache with a real Redis', () => {
  let env: ScanEnvironment;
  const resources = new TestResources();
  const namespace = (prefix: string): Promise<string> => resources.namespace(prefix);
  let redis: ChildProcess | undefined;

  before(async () => {
    requireRedisServer();
    env = await requireScanEnvironment();
  });

  afterEach(async () => {
    await resources.stopOperators();
    if (redis) await stopRedis(redis);
  });

  after(() => resources.deleteNamespaces());

  it('survives Redis stopping mid-run and uses it again once it is back', async () => {
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    const home = await namespace('cache-op');
    const reportPort = await freePort();
    const redisEnv = { SECURESTACK_REDIS_URL: `redis://127.0.0.1:${redisPort}` };
    const first = startOperator({ identity: 'cache-a', namespace: home, leaseName: 'cache', env: scanOperatorEnv(env, reportPort, redisEnv) });
    resources.track(first);
    await waitUntilLeading(first, home, 'cache');
    const [one, two, three] = ['cache-one', 'cache-two', 'cache-three'].map((name) => pushUniqueImage(env, `cache-test/${name}`));
    const ns = await namespace('cache');

    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('one', one ?? '') });
    const firstScan = await waitForPhase(ns, 'one', 'Completed', first);
    assert.ok(redisKeys(redisPort).some((key) => key.endsWith(firstScan.status?.digest ?? '-')), 'the result is in Redis');

    // Redis goes away in the middle of the run.
    await stopRedis(redis);
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('two', two ?? '') });
    await waitForPhase(ns, 'two', 'Completed', first);
    const other = await namespace('cache-other');
    await kubectl(['apply', '-f', '-'], { namespace: other, input: imageScanManifest('one-again', one ?? '') });
    const again = await waitForPhase(other, 'one-again', 'Completed', first);
    assert.equal(again.status?.conditions?.find((condition) => condition.type === 'Scanned')?.reason, 'CachedResult');
    assert.equal(await first.metric('securestack_scan_cache_backend_up', { backend: 'redis' }), 0);
    assert.ok((await first.metric('securestack_scan_cache_requests_total', { backend: 'memory' })) >= 1, 'memory answered while Redis was down');
    assert.ok(first.logs.some((line) => line.msg === 'redis unreachable; scan cache falls back to memory'));
    assert.equal(first.child.exitCode, null, 'the controller kept running');

    // Redis is back (empty): new results go there again.
    redis = await startRedis(redisPort);
    await waitFor('the controller to see Redis again', async () => ((await first.metric('securestack_scan_cache_backend_up', { backend: 'redis' })) === 1 ? true : undefined), { timeoutMs: 30_000 });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('three', three ?? '') });
    const thirdScan = await waitForPhase(ns, 'three', 'Completed', first);
    assert.ok(redisKeys(redisPort).some((key) => key.endsWith(thirdScan.status?.digest ?? '-')), 'the new result is in Redis');
    await first.stop('SIGKILL');

    // A new controller, with nothing in memory, completes the same digest from Redis.
    const second = startOperator({ identity: 'cache-b', namespace: home, leaseName: 'cache', env: scanOperatorEnv(env, reportPort, redisEnv) });
    resources.track(second);
    await waitUntilLeading(second, home, 'cache');
    const third = await namespace('cache-third');
    await kubectl(['apply', '-f', '-'], { namespace: third, input: imageScanManifest('three-again', three ?? '') });
    const fromRedis = await waitForPhase(third, 'three-again', 'Completed', second);
    assert.equal(fromRedis.status?.conditions?.find((condition) => condition.type === 'Scanned')?.reason, 'CachedResult');
    assert.ok((await second.metric('securestack_scan_cache_requests_total', { backend: 'redis', result: 'hit' })) >= 1, 'answered by Redis');
    assert.equal((await scanJobsForDigest(thirdScan.status?.digest ?? '')).length, 1, 'no second Job for the digest');
    for (const [space, name] of [[ns, 'one'], [ns, 'two'], [ns, 'three'], [other, 'one-again'], [third, 'three-again']] as const) {
      assert.equal((await getScan(space, name))?.status?.phase, 'Completed', `${space}/${name} was not lost`);
    }
  });
});
