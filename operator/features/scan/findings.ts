/**
 * Every critical and high finding of a completed ImageScan, for comparing one scheduled run with
 * the one before. Status keeps only the 20 most severe findings: when they hold every critical and
 * high one (the counts say so) they are the answer; otherwise the stored SBOM is summarized again
 * by the report parser's child process, with the ImageScan's own options, so the counts match the
 * status and a large SBOM is never parsed on the event loop.
 */
import type { ImageScan, VulnerabilityFinding } from '../../api/types.generated';
import { acceptedSpecVersions } from './intake';
import type { ReportParser } from './report-parser';
import { readSbomGzip, type SbomClient } from './sbom-store';

export type SevereFinding = Pick<VulnerabilityFinding, 'id' | 'package' | 'installedVersion'> & { severity: 'CRITICAL' | 'HIGH' };

const severe = (finding: VulnerabilityFinding): finding is VulnerabilityFinding & { severity: 'CRITICAL' | 'HIGH' } => finding.severity === 'CRITICAL' || finding.severity === 'HIGH';

function project(finding: VulnerabilityFinding & { severity: 'CRITICAL' | 'HIGH' }): SevereFinding {
  return { id: finding.id, package: finding.package, severity: finding.severity, ...(finding.installedVersion !== undefined ? { installedVersion: finding.installedVersion } : {}) };
}

/** The critical and high findings of a Completed ImageScan (empty for any other phase). */
export async function severeFindings(scan: ImageScan, deps: { client: SbomClient; parser: Pick<ReportParser, 'parse'> }): Promise<SevereFinding[]> {
  const status = scan.status;
  if (status?.phase !== 'Completed') return [];
  const expected = (status.summary?.critical ?? 0) + (status.summary?.high ?? 0);
  const top = (status.topFindings ?? []).filter(severe);
  if (top.length >= expected) return top.map(project);
  if (!status.sbomRef) throw new Error(`ImageScan ${scan.metadata.namespace ?? ''}/${scan.metadata.name ?? ''} reports ${expected} critical and high findings but has no stored SBOM to list them from`);
  const sbom = await readSbomGzip(deps.client, scan.metadata.namespace ?? '', status.sbomRef);
  const wanted = scan.spec.severities && scan.spec.severities.length > 0 ? scan.spec.severities.filter((severity) => severity === 'CRITICAL' || severity === 'HIGH') : ['CRITICAL' as const, 'HIGH' as const];
  if (wanted.length === 0) return [];
  const facts = await deps.parser.parse(sbom.gzip, {
    specVersions: acceptedSpecVersions,
    topN: Number.MAX_SAFE_INTEGER,
    topFindingsMaxBytes: Number.MAX_SAFE_INTEGER,
    titleMaxChars: 0,
    severities: wanted,
    ...(scan.spec.ignoreUnfixed ? { ignoreUnfixed: true } : {}),
  });
  return facts.summary.topFindings.filter(severe).map(project);
}
