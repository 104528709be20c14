/**
 * What happens to an authenticated report: validated and summarized, stored in objects owned by
 * the ImageScan whose Job sent it, and put in the shared cache. An invalid report is recorded
 * too, so the ImageScan fails with the reason instead of waiting forever.
 *
 * The SBOM is stored once, as it arrived: the uploader's gzip goes to the result objects and the
 * cache as the same bytes, with the sha256 the parser computed; nothing is compressed again
 * (unless the uploader's gzip is too loose to fit the parts, then once, by the parser).
 * Inflating and parsing run in the parser's child process (report-parser.ts), so the event loop
 * stays free for admission.
 */
import type { ImageScan } from '../../api/types.generated';
import type { Logger } from '../../platform/log';
import { ReportError, isTooLarge } from './report';
import { ReportParser } from './report-parser';
import type { ResultCache } from './result-cache';
import type { ResultStore } from './results';
import { maxStoredGzipBytes } from './sbom-store';
import type { UploadVerdict } from './upload-server';

/**
 * CycloneDX 1.6 as the design says, and 1.7, which Trivy emits from v0.68 on (the Trivy the test
 * plane builds, v0.74.0, writes 1.7); both are validated against their own schema.
 */
export const acceptedSpecVersions = ['1.6', '1.7'] as const;

export interface IntakeOptions {
  /** Where reports are inflated and parsed (a child process); one per process. */
  parser?: Pick<ReportParser, 'parse'>;
  /** Refuse reports that inflate past this (default 200 MiB). */
  maxDecompressedBytes?: number;
}

export function reportIntake(results: ResultStore, cache: ResultCache, log: Logger, defaultScanner: string, options: IntakeOptions = {}) {
  const parser = options.parser ?? new ReportParser();
  /** `gzip`: the upload as it arrived. */
  return async (scan: ImageScan, gzip: Buffer): Promise<UploadVerdict> => {
    const digest = scan.status?.digest;
    if (!digest) return { status: 422, reason: 'the ImageScan has no resolved digest yet' };
    try {
      const facts = await parser.parse(
        gzip,
        { specVersions: acceptedSpecVersions, ignoreUnfixed: scan.spec.ignoreUnfixed, severities: scan.spec.severities },
        // The uploader's gzip (level 6) fits unless a 200 MiB report compresses badly.
        { ...(options.maxDecompressedBytes ? { maxDecompressedBytes: options.maxDecompressedBytes } : {}), recompressOver: maxStoredGzipBytes() },
      );
      const { summary, sha256, bytes } = facts;
      // Trivy's report does not name its DB; the server's version at upload time stands in.
      summary.scanner.dbUpdatedAt ??= cache.dbVersion;
      const sbom = { gzip: facts.gzip ?? gzip, sha256, bytes };
      await results.saveReport(scan, digest, summary, sbom);
      await cache.store(digest, scan.spec.scanner?.image ?? defaultScanner, summary, sbom);
      return { status: 201 };
    } catch (err) {
      // Over the size limit: refused like an oversize upload; the scan Job's uploader fails.
      if (isTooLarge(err)) return { status: 413, reason: err.message };
      // A validator we cannot build is our fault, not the report's: 500, and the uploader retries.
      if (!(err instanceof ReportError) || err.reason === 'ValidatorUnavailable') throw err;
      const reason = err.message;
      log.warn({ namespace: scan.metadata?.namespace, name: scan.metadata?.name, reason }, 'scanner report refused');
      await results.saveInvalid(scan, digest, reason);
      return { status: 422, reason };
    }
  };
}
