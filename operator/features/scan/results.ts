/**
 * Where a scan's outcome lives until the reconciler projects it into status: objects owned by
 * the ImageScan whose Job produced it, so the result survives an operator restart, reaches the
 * leader whichever replica received the upload, and goes away with the ImageScan.
 *
 * - the SBOM (the full report) in gzip-compressed ConfigMap parts (sbom-store.ts);
 * - a small `<imagescan>-scan-result` ConfigMap: the summary, or why the report was refused.
 *
 * An SBOM travels as an SbomBlob (the gzip the uploader sent, its sha256 and size) from the
 * upload through the cache to every ImageScan's copy: nothing here compresses or decompresses it.
 */
import { createHash } from 'node:crypto';
import type { ImageScan, SBOMRef } from '../../api/types.generated';
import { isAlreadyExists, type ConfigMap } from '../../platform/kube/client';
import type { ScanSummary } from './report';
import { SBOM_ANNOTATION_IMAGESCAN, SBOM_ANNOTATION_PARTS, SBOM_ANNOTATION_SHA256, readSbomGzip, sbomBaseName, storeSbom, type GzipCodec, type SbomBlob, type SbomClient } from './sbom-store';

export type StoredOutcome =
  | { kind: 'result'; summary: ScanSummary; sbom: SbomBlob; at: number }
  | { kind: 'invalid'; reason: string; at: number };

const resultLabel = 'securestack.io/scan-result';
const digestAnnotation = 'securestack.io/digest';
const outcomeAnnotation = 'securestack.io/outcome';
const atAnnotation = 'securestack.io/at';
const sbomNameAnnotation = 'securestack.io/sbom-name';
const sbomPartsAnnotation = 'securestack.io/sbom-parts';

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
  /** `codec` only for SBOMs that arrive without their sha256 (tests count its calls). */
  constructor(
    private readonly client: SbomClient,
    private readonly codec?: GzipCodec,
  ) {}

  /** Stores an accepted report: its SBOM parts first, then the summary that points at them. */
  async saveReport(scan: ImageScan, digest: string, summary: ScanSummary, report: SbomBlob): Promise<void> {
    const sbom = await storeSbom(this.client, ownerOf(scan), report, { codec: this.codec });
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
    const sbom = await readSbomGzip(this.client, namespace, { name: sbomName, parts: Number(annotations[sbomPartsAnnotation]) });
    return { kind: 'result', summary: JSON.parse(summaryJson) as ScanSummary, sbom, at };
  }

  /**
   * Gives an ImageScan its own copy of an SBOM (a cached result or another namespace's scan);
   * a no-op when it already holds exactly this one: the copy its status names, or the one the
   * upload of its own Job stored (a fresh scan, whose status names no SBOM yet).
   */
  async storeSbom(scan: ImageScan, sbom: SbomBlob): Promise<Required<SBOMRef>> {
    const held = await this.heldSbom(scan, sbom.sha256);
    if (held) return held;
    const stored = await storeSbom(this.client, ownerOf(scan), sbom, { codec: this.codec });
    return { name: stored.name, parts: stored.parts };
  }

  /** The sbomRef of the SBOM with this sha256 that the ImageScan already holds, if any. */
  private async heldSbom(scan: ImageScan, sha256: string): Promise<Required<SBOMRef> | undefined> {
    const existing = scan.status?.sbomRef;
    const name = existing?.name || sbomBaseName(scan.metadata?.name ?? '');
    const first = await this.client.getConfigMap(scan.metadata?.namespace ?? '', name);
    const annotations = first?.metadata?.annotations ?? {};
    // Part 0 is written last, so a part 0 with this sha256 means every part of it was written.
    const parts = Number(annotations[SBOM_ANNOTATION_PARTS]);
    if (annotations[SBOM_ANNOTATION_SHA256] !== sha256 || annotations[SBOM_ANNOTATION_IMAGESCAN] !== scan.metadata?.name) return undefined;
    if (!Number.isInteger(parts) || parts < 1) return undefined;
    if (existing?.parts && existing.parts !== parts) return undefined;
    return { name, parts };
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
