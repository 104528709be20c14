/**
 * The scan result cache, keyed by image digest, scanner and vulnerability-DB version.
 *
 * Redis (through ioredis) when configured, so replicas and clusters share results; an in-memory
 * LRU otherwise. When Redis is unreachable the memory LRU answers instead: a scan never fails
 * because the cache is down, the fallback is counted and logged once per outage, and Redis is
 * used again as soon as it answers.
 */
import Redis from 'ioredis';
import type { Counter, Gauge } from 'prom-client';
import type { Logger } from '../../platform/log';
import { zeroSeries } from '../../platform/runtime/metrics';

export interface CacheKey {
  digest: string;
  scanner: string;
  dbVersion: string;
}

export interface CachedResult {
  /** JSON of the scan summary (what status shows). */
  summary: string;
  /** The full CycloneDX SBOM, gzip-compressed. */
  sbomGzip: Buffer;
  /** sha256 (hex) and length of the uncompressed SBOM; absent in entries of older versions. */
  sbomSha256?: string;
  sbomBytes?: number;
  /** When the scan ran (ms since epoch); results older than the rescan age are misses. */
  scannedAt: number;
}

export interface CacheMetrics {
  requests: Counter<'backend' | 'result'>;
  backendUp: Gauge<'backend'>;
}

export interface ScanCache {
  get(key: CacheKey): Promise<CachedResult | undefined>;
  set(key: CacheKey, value: CachedResult): Promise<void>;
  close(): Promise<void>;
}

export function cacheKeyString(key: CacheKey): string {
  return `securestack:scan:v1:${key.scanner}:${key.dbVersion}:${key.digest}`;
}

/** Bounded by entry count and by bytes, since an SBOM can be megabytes. */
export class MemoryLru implements ScanCache {
  private readonly entries = new Map<string, CachedResult>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get(key: CacheKey): Promise<CachedResult | undefined> {
    return Promise.resolve(this.getSync(cacheKeyString(key)));
  }

  set(key: CacheKey, value: CachedResult): Promise<void> {
    this.setSync(cacheKeyString(key), value);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  get size(): number {
    return this.entries.size;
  }

  private getSync(id: string): CachedResult | undefined {
    const found = this.entries.get(id);
    if (!found) return undefined;
    // Re-insert so Map order keeps the most recently used last.
    this.entries.delete(id);
    this.entries.set(id, found);
    return found;
  }

  private setSync(id: string, value: CachedResult): void {
    const size = sizeOf(value);
    if (size > this.maxBytes) return;
    this.remove(id);
    this.entries.set(id, value);
    this.bytes += size;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= sizeOf(entry);
    }
  }

  private remove(id: string): void {
    const existing = this.entries.get(id);
    if (!existing) return;
    this.entries.delete(id);
    this.bytes -= sizeOf(existing);
  }
}

function sizeOf(value: CachedResult): number {
  return value.summary.length + value.sbomGzip.length + 64;
}

export interface RedisCacheOptions {
  url: string;
  /** How long Redis keeps an entry; matches the rescan age so stale results expire by themselves. */
  ttlSeconds: number;
  /** Per-command bound: a slow Redis must not slow scans down. */
  commandTimeoutMs: number;
  /** While Redis counts as down, a PING this often tells when it answers again (default 2 s). */
  probeIntervalMs?: number;
}

/**
 * The memory layer in front of Redis: a small LRU, not a second copy of everything (Redis holds
 * that). It also keeps what was stored while Redis was down, within the same bound.
 */
export const redisFrontEntries = 64;
export const redisFrontBytes = 32 * 1024 * 1024;

/**
 * Redis first, a small memory LRU in front of it and as the fallback. Writes go to both, so a
 * Redis outage starts with the most recent results warm, and a Redis recovery (noticed by the
 * connection, or by a PING while it counts as down) is used at once for new results.
 */
export class FallbackCache implements ScanCache {
  private readonly redis: Redis;
  private redisDown = false;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: RedisCacheOptions,
    private readonly memory: MemoryLru,
    private readonly metrics: CacheMetrics,
    private readonly log: Logger,
  ) {
    zeroLookups(metrics, ['redis', 'memory']);
    this.redis = new Redis(options.url, {
      lazyConnect: false,
      // Fail fast while disconnected instead of queueing commands for later.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.commandTimeoutMs,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    // ioredis emits 'error' on every failed reconnect; unhandled it would crash the process.
    this.redis.on('error', (err: Error) => this.markDown(err));
    this.redis.on('ready', () => this.markUp());
  }

  async get(key: CacheKey): Promise<CachedResult | undefined> {
    if (!this.redisDown) {
      try {
        const fields = await this.redis.hgetallBuffer(cacheKeyString(key));
        const value = decode(fields);
        this.metrics.requests.inc({ backend: 'redis', result: value ? 'hit' : 'miss' });
        if (value) return value;
        // A result stored while Redis was down lives only in memory.
        const local = await this.memory.get(key);
        if (local) this.metrics.requests.inc({ backend: 'memory', result: 'hit' });
        return local;
      } catch (err) {
        this.markDown(err);
      }
    }
    const fallback = await this.memory.get(key);
    this.metrics.requests.inc({ backend: 'memory', result: fallback ? 'hit' : 'miss' });
    return fallback;
  }

  async set(key: CacheKey, value: CachedResult): Promise<void> {
    await this.memory.set(key, value);
    if (this.redisDown) return;
    try {
      const id = cacheKeyString(key);
      await this.redis
        .multi()
        .hset(id, { summary: value.summary, sbom: value.sbomGzip, scannedAt: String(value.scannedAt), ...sbomFields(value) })
        .expire(id, this.options.ttlSeconds)
        .exec();
    } catch (err) {
      this.markDown(err);
    }
  }

  async close(): Promise<void> {
    this.stopProbe();
    this.redis.disconnect();
    await this.memory.close();
  }

  /** True while the memory fallback answers. */
  get down(): boolean {
    return this.redisDown;
  }

  private markDown(err: unknown): void {
    if (this.redisDown) return;
    this.redisDown = true;
    this.metrics.backendUp.set({ backend: 'redis' }, 0);
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis unreachable; scan cache falls back to memory');
    // A Redis that hangs (frozen, overloaded) times commands out but keeps its connection, so no
    // 'ready' event would ever say it is back: ask it, until it answers.
    this.probe = setInterval(() => void this.probeOnce(), this.options.probeIntervalMs ?? 2_000);
    this.probe.unref();
  }

  private async probeOnce(): Promise<void> {
    try {
      if ((await this.redis.ping()) === 'PONG') this.markUp();
    } catch {
      // still down; the next probe asks again
    }
  }

  private stopProbe(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  private markUp(): void {
    this.metrics.backendUp.set({ backend: 'redis' }, 1);
    if (!this.redisDown) return;
    this.redisDown = false;
    this.stopProbe();
    this.log.info('redis reachable again; scan cache uses it');
  }
}

function sbomFields(value: CachedResult): Record<string, string> {
  return value.sbomSha256 !== undefined && value.sbomBytes !== undefined ? { sbomSha256: value.sbomSha256, sbomBytes: String(value.sbomBytes) } : {};
}

function decode(fields: Record<string, Buffer>): CachedResult | undefined {
  const { summary, sbom, scannedAt, sbomSha256, sbomBytes } = fields;
  if (!summary || !sbom || !scannedAt) return undefined;
  const result: CachedResult = { summary: summary.toString('utf8'), sbomGzip: sbom, scannedAt: Number(scannedAt.toString('utf8')) };
  if (sbomSha256 && sbomBytes) {
    result.sbomSha256 = sbomSha256.toString('utf8');
    result.sbomBytes = Number(sbomBytes.toString('utf8'));
  }
  return result;
}

/** Memory only, counted the same way, for clusters without Redis. */
export class MemoryCache implements ScanCache {
  constructor(
    private readonly memory: MemoryLru,
    private readonly metrics: CacheMetrics,
  ) {
    zeroLookups(metrics, ['memory']);
  }

  async get(key: CacheKey): Promise<CachedResult | undefined> {
    const value = await this.memory.get(key);
    this.metrics.requests.inc({ backend: 'memory', result: value ? 'hit' : 'miss' });
    return value;
  }

  set(key: CacheKey, value: CachedResult): Promise<void> {
    return this.memory.set(key, value);
  }

  close(): Promise<void> {
    return this.memory.close();
  }
}

/** Hits and misses start at 0 for each backend, so the hit rate exists before the first hit. */
function zeroLookups(metrics: CacheMetrics, backends: readonly string[]): void {
  zeroSeries(metrics.requests, backends.flatMap((backend) => [{ backend, result: 'hit' }, { backend, result: 'miss' }]));
}
