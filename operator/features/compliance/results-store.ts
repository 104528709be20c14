/**
 * Every object's result of a ComplianceReport evaluation, as gzipped JSON in ConfigMaps the
 * report owns (platform/kube/parted-blob: parts of at most 900 KiB, checked by sha256 on read).
 * Status keeps the counts and a few examples; this is the whole list an auditor can export.
 */
import type { Control } from '../../engine/compliance/framework';
import type { ObjectVerdict } from '../../engine/compliance/evaluate';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { readBlob, storeBlob, type BlobClient, type BlobKind, type BlobOwner, type BlobRef, type GzipBlob, type StoredBlob } from '../../platform/kube/parted-blob';

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

/**
 * One evaluation's results as the reconciler holds them: the header, the controls and each
 * object's verdict by control index. Stored and published from this, object by object, with no
 * second copy of the whole document in memory.
 */
export interface ComplianceResults {
  header: Omit<ComplianceResultsDocument, 'apiVersion' | 'kind' | 'controls' | 'objects'>;
  controls: readonly Pick<Control, 'id' | 'title' | 'severity'>[];
  verdicts: readonly ObjectVerdict[];
}

/** One object's entry of the stored document: control ids instead of indices. */
export function resultObject(results: Pick<ComplianceResults, 'controls'>, verdict: ObjectVerdict): ComplianceResultsDocument['objects'][number] {
  const idOf = (index: number): string => results.controls[index]?.id ?? String(index);
  return { ...verdict.object, passed: verdict.passed.map(idOf), failed: verdict.failed.map(({ control, message }) => ({ control: idOf(control), message })) };
}

/** Results read back (or built in a test) as the reconciler holds them. */
export function resultsOf(document: ComplianceResultsDocument): ComplianceResults {
  const index = new Map(document.controls.map((control, i) => [control.id, i]));
  const { controls, objects, report, framework, podSecurityVersion, generatedAt } = document;
  return {
    header: { report, framework, podSecurityVersion, generatedAt },
    controls: controls.map(({ id, title, severity }) => ({ id, title, severity: severity as Control['severity'] })),
    verdicts: objects.map(({ passed, failed, ...object }) => ({ object, passed: passed.map((id) => index.get(id) ?? -1), failed: failed.map(({ control, message }) => ({ control: index.get(control) ?? -1, message })) })),
  };
}

/** Objects serialized between two yields to the event loop. */
const objectsPerSlice = 500;

/**
 * The document as gzip, written object by object into an asynchronous gzip stream with its
 * sha256 and size worked out on the way: 20,000 objects never become one string on the heap.
 */
async function gzipResults(results: ComplianceResults): Promise<GzipBlob> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise<void>((resolve, reject) => gzip.on('end', resolve).on('error', reject));
  const hash = createHash('sha256');
  let bytes = 0;
  // Waits for the stream to drain when zlib falls behind, so the raw JSON is not queued whole.
  const write = async (text: string): Promise<void> => {
    const data = Buffer.from(text, 'utf8');
    hash.update(data);
    bytes += data.length;
    if (!gzip.write(data)) await once(gzip, 'drain');
  };
  const head = { apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceResults', ...results.header, controls: results.controls.map(({ id, title, severity }) => ({ id, title, severity })) };
  await write(`${JSON.stringify(head).slice(0, -1)},"objects":[`);
  for (const [i, verdict] of results.verdicts.entries()) {
    if (i > 0 && i % objectsPerSlice === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    await write(`${i > 0 ? ',' : ''}${JSON.stringify(resultObject(results, verdict))}`);
  }
  await write(']}');
  gzip.end();
  await finished;
  return { gzip: Buffer.concat(chunks), sha256: hash.digest('hex'), bytes };
}

export async function storeResults(client: BlobClient, owner: BlobOwner, results: ComplianceResults): Promise<StoredBlob> {
  return storeBlob(resultsKind, client, owner, await gzipResults(results));
}

export async function readResults(client: BlobClient, namespace: string, ref: BlobRef): Promise<ComplianceResultsDocument> {
  // The operator wrote it; the sha256 check in readBlob makes sure nothing else did.
  return JSON.parse((await readBlob(resultsKind, client, namespace, ref)).toString('utf8')) as ComplianceResultsDocument;
}
