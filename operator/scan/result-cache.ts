/**
 * Scan results in the cache, keyed by digest, scanner and vulnerability-DB version.
 *
 * The DB version of a result is the update time its report names (or "unknown"). Lookups use
 * the newest DB version this process has seen in any report, so the first report made with a
 * newer DB turns every older result into a miss and the images are scanned again. Results also
 * expire by age (the rescan period).
 */
import type { ScanCache } from './cache';
import type { ScanSummary } from './report';

const unknownDb = 'unknown';

export interface CachedScan {
  summary: ScanSummary;
  sbomGzip: Buffer;
  /** When the scan that produced this result ran (ms since epoch). */
  scannedAt: number;
}

export class ResultCache {
  private newestDb = unknownDb;

  constructor(
    private readonly cache: ScanCache,
    private readonly maxAgeMs: number,
  ) {}

  async lookup(digest: string, scanner: string): Promise<CachedScan | undefined> {
    const found = await this.cache.get({ digest, scanner, dbVersion: this.newestDb });
    if (!found || Date.now() - found.scannedAt > this.maxAgeMs) return undefined;
    return { summary: JSON.parse(found.summary) as ScanSummary, sbomGzip: found.sbomGzip, scannedAt: found.scannedAt };
  }

  async store(digest: string, scanner: string, summary: ScanSummary, sbomGzip: Buffer, scannedAt = Date.now()): Promise<void> {
    const dbVersion = summary.scanner.dbUpdatedAt ?? unknownDb;
    if (dbVersion !== unknownDb && (this.newestDb === unknownDb || dbVersion > this.newestDb)) this.newestDb = dbVersion;
    await this.cache.set({ digest, scanner, dbVersion }, { summary: JSON.stringify(summary), sbomGzip, scannedAt });
  }
}
