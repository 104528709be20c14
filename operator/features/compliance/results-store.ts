/**
 * Every object's result of a ComplianceReport evaluation, as gzipped JSON in ConfigMaps the
 * report owns (platform/kube/parted-blob: parts of at most 900 KiB, checked by sha256 on read).
 * Status keeps the counts and a few examples; this is the whole list an auditor can export.
 */
import type { Control } from '../../engine/compliance/framework';
import type { ObjectVerdict } from '../../engine/compliance/evaluate';
import { readBlob, storeBlob, type BlobClient, type BlobKind, type BlobOwner, type BlobRef, type StoredBlob } from '../../platform/kube/parted-blob';

export const RESULTS_LABEL_REPORT = 'securestack.io/compliancereport';
export const RESULTS_LABEL_PART = 'securestack.io/results-part';
export const RESULTS_DATA_KEY = 'results.json.gz';

const resultsKind: BlobKind = {
  noun: 'compliance results',
  owner: { apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceReport' },
  suffix: '-results',
  ownerLabel: RESULTS_LABEL_REPORT,
  ownerAnnotation: 'securestack.io/compliancereport',
  partLabel: RESULTS_LABEL_PART,
  sha256Annotation: 'securestack.io/results-sha256',
  partsAnnotation: 'securestack.io/results-parts',
  bytesAnnotation: 'securestack.io/results-bytes',
  dataKey: RESULTS_DATA_KEY,
};

/** The stored document: which controls, and per object the ids it passed and failed (with why). */
export interface ComplianceResultsDocument {
  apiVersion: 'securestack.io/v1alpha1';
  kind: 'ComplianceResults';
  report: { namespace: string; name: string };
  framework: { id: string; title: string; version: string };
  podSecurityVersion: string;
  generatedAt: string;
  controls: { id: string; title: string; severity: string }[];
  objects: (ObjectVerdict['object'] & { passed: string[]; failed: { control: string; message: string }[] })[];
}

export function resultsDocument(
  header: Omit<ComplianceResultsDocument, 'apiVersion' | 'kind' | 'controls' | 'objects'>,
  controls: readonly Control[],
  verdicts: readonly ObjectVerdict[],
): ComplianceResultsDocument {
  const idOf = (index: number): string => controls[index]?.id ?? String(index);
  return {
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ComplianceResults',
    ...header,
    controls: controls.map(({ id, title, severity }) => ({ id, title, severity })),
    objects: verdicts.map(({ object, passed, failed }) => ({
      ...object,
      passed: passed.map(idOf),
      failed: failed.map(({ control, message }) => ({ control: idOf(control), message })),
    })),
  };
}

export async function storeResults(client: BlobClient, owner: BlobOwner, document: ComplianceResultsDocument): Promise<StoredBlob> {
  return storeBlob(resultsKind, client, owner, JSON.stringify(document));
}

export async function readResults(client: BlobClient, namespace: string, ref: BlobRef): Promise<ComplianceResultsDocument> {
  // The operator wrote it; the sha256 check in readBlob makes sure nothing else did.
  return JSON.parse((await readBlob(resultsKind, client, namespace, ref)).toString('utf8')) as ComplianceResultsDocument;
}
