/**
 * Where a scan's outcome lives until the reconciler projects it into status: objects owned by
 * the ImageScan whose Job produced it, so the result survives an operator restart, reaches the
 * leader whichever replica received the upload, and goes away with the ImageScan.
 *
 * - the SBOM (the full report) in gzip-compressed ConfigMap parts (sbom-store.ts);
 * - a small `<imagescan>-scan-result` ConfigMap: the summary, or why the report was refused.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { ImageScan, SBOMRef } from '../api/types.generated';
import { isAlreadyExists, type ConfigMap, type KubeClient } from '../kube/client';
import type { ScanSummary } from './report';
import { SBOM_ANNOTATION_SHA256, readSbom, storeSbom } from './sbom-store';

export type StoredOutcome =
  | { kind: 'result'; summary: ScanSummary; sbomGzip: Buffer; at: number }
  | { kind: 'invalid'; reason: string; at: number };

const resultLabel = 'securestack.io/scan-result';
const digestAnnotation = 'securestack.io/digest';
const outcomeAnnotation = 'securestack.io/outcome';
const atAnnotation = 'securestack.io/at';
const sbomNameAnnotation = 'securestack.io/sbom-name';
const sbomPartsAnnotation = 'securestack.io/sbom-parts';

/** Decompressed reports above this are refused before they reach storage. */
const maxSbomBytes = 200 * 1024 * 1024;

export function resultName(scanName: string): string {
  const suffix = '-scan-result';
  if (scanName.length + suffix.length <= 253) return `${scanName}${suffix}`;
  const hash = createHash('sha256').update(scanName).digest('hex').slice(0, 8);
  return `${scanName.slice(0, 253 - suffix.length - 9).replace(/[-.]+$/, '')}-${hash}${suffix}`;
}

function ownerOf(scan: ImageScan): { namespace: string; name: string; uid: string } {
  return { namespace: scan.metadata?.namespace ?? '', name: scan.metadata?.name ?? '', uid: scan.metadata?.uid ?? '' };
}

export class ResultStore {
  constructor(private readonly client: KubeClient) {}

  /** Stores an accepted report: its SBOM parts first, then the summary that points at them. */
  async saveReport(scan: ImageScan, digest: string, summary: ScanSummary, report: Buffer): Promise<void> {
    const sbom = await storeSbom(this.client, ownerOf(scan), report);
    await this.writeResult(scan, digest, 'result', { 'summary.json': JSON.stringify(summary) }, { [sbomNameAnnotation]: sbom.name, [sbomPartsAnnotation]: String(sbom.parts) });
  }

  /** Records that the scanner's report was refused, so the ImageScan fails with the reason. */
  async saveInvalid(scan: ImageScan, digest: string, reason: string): Promise<void> {
    await this.writeResult(scan, digest, 'invalid', { reason: reason.slice(0, 4_000) }, {});
  }

  /** The outcome stored for the ImageScan `namespace/name`, if it is for `digest`. */
  async load(namespace: string, name: string, digest: string): Promise<StoredOutcome | undefined> {
    if (!namespace || !name) return undefined;
    const object = await this.client.getConfigMap(namespace, resultName(name));
    const annotations = object?.metadata?.annotations ?? {};
    if (!object || annotations[digestAnnotation] !== digest) return undefined;
    const at = Number(annotations[atAnnotation] ?? 0);
    if (annotations[outcomeAnnotation] === 'invalid') return { kind: 'invalid', reason: object.data?.reason ?? 'invalid report', at };
    const summaryJson = object.data?.['summary.json'];
    const sbomName = annotations[sbomNameAnnotation];
    if (!summaryJson || !sbomName) return undefined;
    const report = await readSbom(this.client, namespace, { name: sbomName, parts: Number(annotations[sbomPartsAnnotation]) });
    return { kind: 'result', summary: JSON.parse(summaryJson) as ScanSummary, sbomGzip: gzipSync(report), at };
  }

  /**
   * Gives an ImageScan its own copy of an SBOM (a cached result or another namespace's scan);
   * a no-op when it already holds exactly this one.
   */
  async storeSbom(scan: ImageScan, sbomGzip: Buffer): Promise<Required<SBOMRef>> {
    const report = gunzipSync(sbomGzip, { maxOutputLength: maxSbomBytes });
    const sha256 = createHash('sha256').update(report).digest('hex');
    const existing = scan.status?.sbomRef;
    if (existing?.name && existing.parts) {
      const first = await this.client.getConfigMap(scan.metadata?.namespace ?? '', existing.name);
      if (first?.metadata?.annotations?.[SBOM_ANNOTATION_SHA256] === sha256) return { name: existing.name, parts: existing.parts };
    }
    const stored = await storeSbom(this.client, ownerOf(scan), report);
    return { name: stored.name, parts: stored.parts };
  }

  private async writeResult(scan: ImageScan, digest: string, outcome: string, data: Record<string, string>, annotations: Record<string, string>): Promise<void> {
    const owner = ownerOf(scan);
    const object: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: resultName(owner.name),
        namespace: owner.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'securestack', [resultLabel]: 'true' },
        annotations: { ...annotations, [digestAnnotation]: digest, [outcomeAnnotation]: outcome, [atAnnotation]: String(Date.now()) },
        ownerReferences: [{ apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }],
      },
      data,
    };
    try {
      await this.client.createConfigMap(owner.namespace, object);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await this.client.replaceConfigMap(owner.namespace, object);
    }
  }
}
