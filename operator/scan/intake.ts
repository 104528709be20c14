/**
 * What happens to an authenticated report: validated and summarized, stored in objects owned by
 * the ImageScan whose Job sent it, and put in the shared cache. An invalid report is recorded
 * too, so the ImageScan fails with the reason instead of waiting forever.
 */
import { gzipSync } from 'node:zlib';
import type { ImageScan } from '../api/types.generated';
import type { Logger } from '../log';
import { ReportError, parseReport } from './report';
import type { ResultCache } from './result-cache';
import type { ResultStore } from './results';
import type { UploadVerdict } from './upload-server';

/**
 * CycloneDX 1.6 as the design says, and 1.7, which Trivy emits from v0.68 on (the Trivy the test
 * plane builds, v0.74.0, writes 1.7); both are validated against their own schema.
 */
export const acceptedSpecVersions = ['1.6', '1.7'] as const;

export function reportIntake(results: ResultStore, cache: ResultCache, log: Logger, defaultScanner: string) {
  return async (scan: ImageScan, report: Buffer): Promise<UploadVerdict> => {
    const digest = scan.status?.digest;
    if (!digest) return { status: 422, reason: 'the ImageScan has no resolved digest yet' };
    try {
      const parsed = await parseReport(report, { specVersions: acceptedSpecVersions, ignoreUnfixed: scan.spec.ignoreUnfixed, severities: scan.spec.severities });
      // Trivy's report does not name its DB; the server's version at upload time stands in.
      parsed.summary.scanner.dbUpdatedAt ??= cache.dbVersion;
      await results.saveReport(scan, digest, parsed.summary, report);
      await cache.store(digest, scan.spec.scanner?.image ?? defaultScanner, parsed.summary, gzipSync(report));
      return { status: 201 };
    } catch (err) {
      // A validator we cannot build is our fault, not the report's: 500, and the uploader retries.
      if (!(err instanceof ReportError) || err.reason === 'ValidatorUnavailable') throw err;
      const reason = err.message;
      log.warn({ namespace: scan.metadata?.namespace, name: scan.metadata?.name, reason }, 'scanner report refused');
      await results.saveInvalid(scan, digest, reason);
      return { status: 422, reason };
    }
  };
}
