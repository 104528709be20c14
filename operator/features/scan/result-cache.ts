/**
 * Scan results in the cache, keyed by digest, scanner and vulnerability-DB version.
 *
 * The DB version of a result is the update time of the DB it was made with: the Trivy server's
 * (TrivyDbWatcher), or what the report names, or "unknown". Lookups use the newest version known,
 * so a DB update turns every older result into a miss and the images are scanned again. Results
 * also expire by age (the rescan period).
 */
import type { ScanCache } from './cache';
import type { ScanSummary } from './report';
import { sbomBlob, type GzipCodec, type SbomBlob } from './sbom-store';

const unknownDb = 'unknown';

/**
 * Whether a result must be rescanned because the scanner's DB is newer than the one it was made
 * with. A result that names no DB (made while the DB version was unknown, say the Trivy server was
 * down when the replica started) counts as older as soon as a version is known: otherwise it
 * would count as current forever and never be rescanned after a DB update.
 */
export function madeWithOlderDb(resultDb: string | undefined, currentDb: string | undefined): boolean {
  if (currentDb === undefined) return false;
  if (resultDb === undefined) return true;
  return Date.parse(resultDb) < Date.parse(currentDb);
}

export interface CachedScan {
  summary: ScanSummary;
  /** The same bytes the upload stored; the status projection copies them as they are. */
  sbom: SbomBlob;
  /** When the scan that produced this result ran (ms since epoch). */
  scannedAt: number;
}

export class ResultCache {
  private newestDb = unknownDb;

  constructor(
    private readonly cache: ScanCache,
    private readonly maxAgeMs: number,
    /** Only for entries written before the cache kept the SBOM's sha256 (tests count its calls). */
    private readonly codec?: GzipCodec,
  ) {}

  /** The DB version the scanner uses now (from the Trivy server). */
  setDbVersion(version: string): void {
    if (this.newestDb === unknownDb || Date.parse(version) > Date.parse(this.newestDb)) this.newestDb = version;
  }

  get dbVersion(): string | undefined {
    return this.newestDb === unknownDb ? undefined : this.newestDb;
  }

  async lookup(digest: string, scanner: string): Promise<CachedScan | undefined> {
    const found = await this.cache.get({ digest, scanner, dbVersion: this.newestDb });
    if (!found || Date.now() - found.scannedAt > this.maxAgeMs) return undefined;
    const { sbomGzip, sbomSha256, sbomBytes } = found;
    // An entry from before sha256 and size were kept (Redis outlives an upgrade): work them out once.
    const sbom = sbomSha256 !== undefined && sbomBytes !== undefined ? { gzip: sbomGzip, sha256: sbomSha256, bytes: sbomBytes } : await sbomBlob(sbomGzip, { codec: this.codec });
    return { summary: JSON.parse(found.summary) as ScanSummary, sbom, scannedAt: found.scannedAt };
  }

  async store(digest: string, scanner: string, summary: ScanSummary, sbom: SbomBlob, scannedAt = Date.now()): Promise<void> {
    const dbVersion = summary.scanner.dbUpdatedAt ?? unknownDb;
    if (dbVersion !== unknownDb) this.setDbVersion(dbVersion);
    await this.cache.set({ digest, scanner, dbVersion }, { summary: JSON.stringify(summary), sbomGzip: sbom.gzip, sbomSha256: sbom.sha256, sbomBytes: sbom.bytes, scannedAt });
  }
}
