/**
 * The critical and high findings of a ScheduledScan's latest finished image run, kept so the next
 * run can say which of its findings are new. Stored gzipped in ConfigMaps the ScheduledScan owns
 * (platform/kube/parted-blob), not in memory: a new leader compares with the same run, and a
 * history limit of 0 (no run objects kept) still has something to compare with.
 */
import { blobBaseName, readBlob, storeBlob, type BlobClient, type BlobKind, type BlobOwner } from '../../platform/kube/parted-blob';
import { SCHEDULED_BY_LABEL } from './runs';

const findingsKind: BlobKind = {
  noun: 'scheduled scan findings',
  owner: { apiVersion: 'securestack.io/v1alpha1', kind: 'ScheduledScan' },
  suffix: '-findings',
  ownerLabel: SCHEDULED_BY_LABEL,
  ownerAnnotation: 'securestack.io/scheduledscan',
  partLabel: 'securestack.io/findings-part',
  sha256Annotation: 'securestack.io/findings-sha256',
  partsAnnotation: 'securestack.io/findings-parts',
  bytesAnnotation: 'securestack.io/findings-bytes',
  dataKey: 'findings.json.gz',
};

/** One finding as compared across runs: image, vulnerability, package, installed version, severity. */
export interface FindingsSnapshot {
  /** The run these are from (ms since the epoch): an older run finishing late does not replace it. */
  scheduledTime: number;
  /** `<image>\u0000<id>\u0000<package>\u0000<installed version>`, by severity. */
  critical: string[];
  high: string[];
  /** How many of them were new against the run before: what that run's summary said. */
  fresh: { critical: number; high: number };
}

export function findingKey(image: string, finding: { id: string; package: string; installedVersion?: string }): string {
  return [image, finding.id, finding.package, finding.installedVersion ?? ''].join('\u0000');
}

export async function readFindings(client: BlobClient, owner: BlobOwner): Promise<FindingsSnapshot | undefined> {
  const name = blobBaseName(owner.name, findingsKind.suffix);
  // No snapshot yet (no image run has finished): every finding of the first run is new.
  if (!(await client.getConfigMap(owner.namespace, name))) return undefined;
  // Written by this operator only; readBlob checks its sha256.
  return JSON.parse((await readBlob(findingsKind, client, owner.namespace, { name })).toString('utf8')) as FindingsSnapshot;
}

export async function storeFindings(client: BlobClient, owner: BlobOwner, snapshot: FindingsSnapshot): Promise<void> {
  await storeBlob(findingsKind, client, owner, JSON.stringify(snapshot));
}
