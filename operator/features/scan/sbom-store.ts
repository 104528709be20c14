/**
 * The full CycloneDX SBOM of an ImageScan, gzip-compressed, in ConfigMaps the ImageScan owns
 * (platform/kube/parted-blob has the storage rules). Part 0 is named `<imagescan>-sbom` (the
 * CRD's sbomRef: "name of the first part; further parts are suffixed -1, -2"), labelled
 * securestack.io/imagescan=<name> and securestack.io/sbom-part=<i>.
 */
import type { SBOMRef } from '../../api/types.generated';
import {
  BlobStoreError,
  blobBaseName,
  blobPartName,
  gzipBlob,
  ownerLabelValue,
  readBlob,
  readBlobGzip,
  storeBlob,
  type BlobClient,
  type BlobKind,
  type BlobOwner,
  type GzipBlob,
  type GzipCodec,
  type StoreOptions,
  type StoredBlob,
} from '../../platform/kube/parted-blob';

export { asyncGzipCodec, MAX_OBJECT_BYTES, MAX_PARTS, maxStoredGzipBytes, partPayloadBytes, type GzipCodec } from '../../platform/kube/parted-blob';

export type SbomClient = BlobClient;
export type SbomBlob = GzipBlob;
export type SbomOwner = BlobOwner;
export type StoredSbom = StoredBlob & Required<SBOMRef>;
/** Errors of SBOM storage are the store's own. */
export const SbomStoreError = BlobStoreError;

export const SBOM_LABEL_IMAGESCAN = 'securestack.io/imagescan';
export const SBOM_LABEL_PART = 'securestack.io/sbom-part';
export const SBOM_ANNOTATION_SHA256 = 'securestack.io/sbom-sha256';
export const SBOM_ANNOTATION_PARTS = 'securestack.io/sbom-parts';
export const SBOM_ANNOTATION_BYTES = 'securestack.io/sbom-bytes';
export const SBOM_ANNOTATION_IMAGESCAN = 'securestack.io/imagescan';
export const SBOM_DATA_KEY = 'sbom.cdx.json.gz';

const sbomKind: BlobKind = {
  noun: 'SBOM',
  owner: { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan' },
  suffix: '-sbom',
  ownerLabel: SBOM_LABEL_IMAGESCAN,
  ownerAnnotation: SBOM_ANNOTATION_IMAGESCAN,
  partLabel: SBOM_LABEL_PART,
  sha256Annotation: SBOM_ANNOTATION_SHA256,
  partsAnnotation: SBOM_ANNOTATION_PARTS,
  bytesAnnotation: SBOM_ANNOTATION_BYTES,
  dataKey: SBOM_DATA_KEY,
};

/** Base name (part 0) for an ImageScan: `<name>-sbom`, shortened with a hash when too long. */
export function sbomBaseName(imageScanName: string): string {
  return blobBaseName(imageScanName, sbomKind.suffix);
}

export const sbomPartName = blobPartName;

/** A label value (at most 63 characters) that identifies the ImageScan. */
export const imageScanLabelValue = ownerLabelValue;

/** The SbomBlob of a CycloneDX JSON (compressed here) or of its gzip (kept as given). */
export async function sbomBlob(sbom: Buffer | string, options: { maxSbomBytes?: number; codec?: GzipCodec } = {}): Promise<SbomBlob> {
  return gzipBlob(sbomKind, sbom, { ...(options.maxSbomBytes !== undefined ? { maxBlobBytes: options.maxSbomBytes } : {}), ...(options.codec ? { codec: options.codec } : {}) });
}

/**
 * Stores (or replaces) the SBOM of an ImageScan and returns the sbomRef for its status.
 * `sbom` is the CycloneDX JSON, its gzip, or an SbomBlob; gzip is stored as given.
 */
export async function storeSbom(client: SbomClient, owner: SbomOwner, sbom: Buffer | string | SbomBlob, options: StoreOptions & { maxSbomBytes?: number } = {}): Promise<StoredSbom> {
  const { maxSbomBytes, ...rest } = options;
  return storeBlob(sbomKind, client, owner, sbom, { ...rest, ...(maxSbomBytes !== undefined ? { maxBlobBytes: maxSbomBytes } : {}) });
}

/** Reads an SBOM back, checked whole against its sha256: the exact bytes stored. */
export async function readSbom(client: SbomClient, namespace: string, ref: SBOMRef, codec?: GzipCodec): Promise<Buffer> {
  return readBlob(sbomKind, client, namespace, ref, codec);
}

/** The stored gzip of an SBOM as it is, with its sha256 and size; nothing is decompressed. */
export async function readSbomGzip(client: SbomClient, namespace: string, ref: SBOMRef): Promise<SbomBlob> {
  return readBlobGzip(sbomKind, client, namespace, ref);
}
