/**
 * The full CycloneDX SBOM of an ImageScan, gzip-compressed, in ConfigMaps the ImageScan owns.
 *
 * - Part 0 is named `<imagescan>-sbom`, part i > 0 `<imagescan>-sbom-<i>` (the CRD's sbomRef:
 *   "name of the first part; further parts are suffixed -1, -2"); names that would pass 253
 *   characters are shortened with a hash, deterministically.
 * - Each part holds a slice of one gzip stream in binaryData (base64 in the API, +33 %), sized
 *   so that no ConfigMap, metadata and managedFields included, exceeds 900 KiB serialized.
 * - Every part has the owner's controller ownerReference (the garbage collector deletes the
 *   parts with the ImageScan), labels securestack.io/imagescan=<name> and
 *   securestack.io/sbom-part=<i>, and the SBOM's sha256 as an annotation; part 0 also carries the
 *   part count and sizes. Readers check that every part belongs to the same SBOM and that the
 *   sha256 of the reassembled, decompressed bytes matches.
 * - Writes go parts 1..n-1 first and part 0 last, then stale higher-numbered parts are deleted,
 *   so a reader that finds the new part 0 finds all of its parts. Storing is idempotent.
 * - Compression runs through zlib's asynchronous API (libuv's thread pool): an SBOM can be
 *   200 MiB, and the event loop it would block also answers the deadline-bound admission webhook.
 *   An SBOM that is already gzip (the upload) with its sha256 known (SbomBlob) is stored as given,
 *   without decompressing or compressing anything.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { SBOMRef } from '../../api/types.generated';
import { isAlreadyExists, type KubeClient, type ConfigMap } from '../../platform/kube/client';

/** What storing and reading SBOMs needs of the Kubernetes client (tests wrap the real one to count writes). */
export type SbomClient = Pick<KubeClient, 'getConfigMap' | 'listConfigMapMetadata' | 'createConfigMap' | 'replaceConfigMap' | 'deleteConfigMap'>;

/**
 * gzip and bounded gunzip, off the event loop. Injected so tests can count the calls: a fresh
 * scan's SBOM must not be compressed or decompressed again on its way to storage and status.
 */
export interface GzipCodec {
  gzip(data: Buffer): Promise<Buffer>;
  /** Rejects (RangeError, ERR_BUFFER_TOO_LARGE) past maxOutputLength bytes, as gunzipSync does. */
  gunzip(data: Buffer, maxOutputLength: number): Promise<Buffer>;
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export const asyncGzipCodec: GzipCodec = {
  gzip: (data) => gzipAsync(data, { level: 9 }),
  gunzip: (data, maxOutputLength) => gunzipAsync(data, { maxOutputLength }),
};

/** A gzip-compressed SBOM with what storing it needs to know of the uncompressed bytes. */
export interface SbomBlob {
  gzip: Buffer;
  /** sha256 of the uncompressed SBOM, hex. */
  sha256: string;
  /** Length of the uncompressed SBOM. */
  bytes: number;
}

export const SBOM_LABEL_IMAGESCAN = 'securestack.io/imagescan';
export const SBOM_LABEL_PART = 'securestack.io/sbom-part';
export const SBOM_ANNOTATION_SHA256 = 'securestack.io/sbom-sha256';
export const SBOM_ANNOTATION_PARTS = 'securestack.io/sbom-parts';
export const SBOM_ANNOTATION_BYTES = 'securestack.io/sbom-bytes';
export const SBOM_ANNOTATION_IMAGESCAN = 'securestack.io/imagescan';
export const SBOM_DATA_KEY = 'sbom.cdx.json.gz';

/** No stored object may exceed this, serialized (issue 3). */
export const MAX_OBJECT_BYTES = 900 * 1024;
/** sbomRef.parts maximum in the CRD. */
export const MAX_PARTS = 64;
/** Room left in each object for metadata, managedFields and JSON framing. */
const METADATA_RESERVE_BYTES = 32 * 1024;

/** The ImageScan that owns the SBOM. */
export interface SbomOwner {
  namespace: string;
  name: string;
  uid: string;
}

export interface StoredSbom extends Required<SBOMRef> {
  /** sha256 of the uncompressed SBOM, hex. */
  sha256: string;
  bytes: number;
  compressedBytes: number;
  /** Names of all parts, in order. */
  partNames: string[];
}

export class SbomStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SbomStoreError';
  }
}

/** Raw bytes per part: base64 of it plus the reserve stays within maxObjectBytes. */
export function partPayloadBytes(maxObjectBytes = MAX_OBJECT_BYTES): number {
  return Math.floor((maxObjectBytes - METADATA_RESERVE_BYTES) / 4) * 3;
}

/** Base name (part 0) for an ImageScan: `<name>-sbom`, shortened with a hash when too long. */
export function sbomBaseName(imageScanName: string): string {
  const suffix = '-sbom';
  // Room for "-63" on the highest part.
  const max = 253 - `-${MAX_PARTS - 1}`.length;
  const plain = `${imageScanName}${suffix}`;
  if (plain.length <= max) return plain;
  const hash = createHash('sha256').update(imageScanName).digest('hex').slice(0, 10);
  const keep = imageScanName.slice(0, max - suffix.length - hash.length - 1).replace(/[.-]+$/, '');
  return `${keep}-${hash}${suffix}`;
}

export function sbomPartName(base: string, part: number): string {
  return part === 0 ? base : `${base}-${part}`;
}

/** A label value (at most 63 characters) that identifies the ImageScan. */
export function imageScanLabelValue(name: string): string {
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, 52).replace(/[^A-Za-z0-9]+$/, '')}-${hash}`;
}

/** Upper bound for a gzip SBOM given to storeSbom, decompressed (the upload limit). */
const DEFAULT_MAX_SBOM_BYTES = 200 * 1024 * 1024;

export interface StoreOptions {
  maxObjectBytes?: number;
  maxSbomBytes?: number;
  codec?: GzipCodec;
}

/** The most gzip bytes an SBOM may have: MAX_PARTS parts of the largest payload. */
export function maxStoredGzipBytes(maxObjectBytes = MAX_OBJECT_BYTES): number {
  return MAX_PARTS * partPayloadBytes(maxObjectBytes);
}

/**
 * The SbomBlob of a CycloneDX JSON (compressed here) or of its gzip (kept as given, decompressed
 * once, bounded, for the sha256 and size). JSON never starts with gzip's magic bytes 1f 8b.
 */
export async function sbomBlob(sbom: Buffer | string, options: Pick<StoreOptions, 'maxSbomBytes' | 'codec'> = {}): Promise<SbomBlob> {
  const codec = options.codec ?? asyncGzipCodec;
  const input = typeof sbom === 'string' ? Buffer.from(sbom, 'utf8') : sbom;
  const isGzip = input.length >= 2 && input[0] === 0x1f && input[1] === 0x8b;
  let raw: Buffer;
  try {
    raw = isGzip ? await codec.gunzip(input, options.maxSbomBytes ?? DEFAULT_MAX_SBOM_BYTES) : input;
  } catch (err) {
    throw new SbomStoreError(`SBOM does not decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  const sha256 = createHash('sha256').update(raw).digest('hex');
  return { gzip: isGzip ? input : await codec.gzip(raw), sha256, bytes: raw.length };
}

function isBlob(sbom: Buffer | string | SbomBlob): sbom is SbomBlob {
  return typeof sbom === 'object' && !Buffer.isBuffer(sbom);
}

/**
 * Stores (or replaces) the SBOM of an ImageScan and returns the sbomRef for its status.
 * `sbom` is the CycloneDX JSON, its gzip, or an SbomBlob; gzip is stored as given. Deletes parts
 * left over from an earlier, larger SBOM.
 */
export async function storeSbom(client: SbomClient, owner: SbomOwner, sbom: Buffer | string | SbomBlob, options: StoreOptions = {}): Promise<StoredSbom> {
  const blob = isBlob(sbom) ? sbom : await sbomBlob(sbom, options);
  const { gzip: compressed, sha256 } = blob;
  const maxObjectBytes = options.maxObjectBytes ?? MAX_OBJECT_BYTES;
  const chunk = partPayloadBytes(maxObjectBytes);
  const parts = Math.max(1, Math.ceil(compressed.length / chunk));
  if (parts > MAX_PARTS) {
    throw new SbomStoreError(`SBOM too large: ${compressed.length} bytes compressed need ${parts} parts, at most ${MAX_PARTS} are allowed`);
  }
  const base = sbomBaseName(owner.name);
  const objects: Array<{ object: ConfigMap; json: Buffer }> = [];
  for (let i = 0; i < parts; i++) {
    const annotations: Record<string, string> = {
      [SBOM_ANNOTATION_SHA256]: sha256,
      [SBOM_ANNOTATION_IMAGESCAN]: owner.name,
    };
    if (i === 0) {
      annotations[SBOM_ANNOTATION_PARTS] = String(parts);
      annotations[SBOM_ANNOTATION_BYTES] = String(blob.bytes);
    }
    const object: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: sbomPartName(base, i),
        namespace: owner.namespace,
        labels: {
          'app.kubernetes.io/managed-by': 'securestack',
          [SBOM_LABEL_IMAGESCAN]: imageScanLabelValue(owner.name),
          [SBOM_LABEL_PART]: String(i),
        },
        annotations,
        ownerReferences: [
          { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true },
        ],
      },
    };
    const json = partJson(object, compressed.subarray(i * chunk, (i + 1) * chunk));
    // Defensive: the server adds uid, resourceVersion, timestamps and managedFields (well under
    // the reserve), so what we send must stay below the limit by that margin. The JSON measured
    // is the JSON sent.
    if (json.length > maxObjectBytes - METADATA_RESERVE_BYTES / 2) {
      throw new SbomStoreError(`internal error: SBOM part ${i} would be ${json.length} bytes, over the ${maxObjectBytes}-byte limit`);
    }
    objects.push({ object, json });
    // Each part is about 1 ms of base64 on the event loop; let admission in between.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // Parts 1..n-1 first, part 0 (which says how many parts there are) last.
  for (const part of [...objects.slice(1), ...objects.slice(0, 1)]) {
    await upsert(client, owner.namespace, part.object, part.json);
  }

  const names = new Set(objects.map((part) => part.object.metadata?.name));
  // Metadata only: the parts' data (up to 64 x 900 KiB) is neither sent nor decoded again.
  const existing = await client.listConfigMapMetadata(owner.namespace, `${SBOM_LABEL_IMAGESCAN}=${imageScanLabelValue(owner.name)}`);
  for (const old of existing) {
    const name = old.metadata?.name ?? '';
    const part = Number(old.metadata?.labels?.[SBOM_LABEL_PART]);
    // Only our own naming scheme, and only this ImageScan's (label values can collide after
    // shortening; the annotation holds the full name).
    if (names.has(name) || !Number.isInteger(part) || name !== sbomPartName(base, part)) continue;
    if (old.metadata?.annotations?.[SBOM_ANNOTATION_IMAGESCAN] !== owner.name) continue;
    await client.deleteConfigMap(owner.namespace, name);
  }
  return { name: base, parts, sha256, bytes: blob.bytes, compressedBytes: compressed.length, partNames: objects.map((part) => part.object.metadata?.name ?? '') };
}

/**
 * A part as the JSON bytes sent to the API server: the object's JSON with its data spliced in as
 * base64, which needs no JSON escaping. Serializing the object with a 1.2 MB string inside would
 * cost the event loop 2-3 ms per part for escaping and encoding; this is a copy.
 */
function partJson(object: ConfigMap, data: Buffer): Buffer {
  const empty = JSON.stringify({ ...object, binaryData: { [SBOM_DATA_KEY]: '' } });
  // binaryData is the last key and its value the last string: splice between its two quotes.
  const at = empty.length - '"}}'.length;
  return Buffer.concat([Buffer.from(empty.slice(0, at), 'utf8'), Buffer.from(data.toString('base64'), 'latin1'), Buffer.from(empty.slice(at), 'utf8')]);
}

async function upsert(client: SbomClient, namespace: string, object: ConfigMap, json: Buffer): Promise<void> {
  try {
    await client.createConfigMap(namespace, object, json);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // ConfigMaps allow unconditional updates: the last writer wins, which is what a re-store wants.
    await client.replaceConfigMap(namespace, object, json);
  }
}

/**
 * Reads an SBOM back: fetches the parts, checks they belong together, gunzips (bounded by the
 * size recorded at store time, off the event loop) and verifies the sha256. Returns the exact
 * bytes stored.
 */
export async function readSbom(client: SbomClient, namespace: string, ref: SBOMRef, codec: GzipCodec = asyncGzipCodec): Promise<Buffer> {
  const blob = await readSbomGzip(client, namespace, ref);
  let raw: Buffer;
  try {
    raw = await codec.gunzip(blob.gzip, Math.max(blob.bytes, 1));
  } catch (err) {
    throw new SbomStoreError(`SBOM ${ref.name} does not decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  const actual = createHash('sha256').update(raw).digest('hex');
  if (actual !== blob.sha256) throw new SbomStoreError(`SBOM ${ref.name} is corrupt: sha256 ${actual}, expected ${blob.sha256}`);
  return raw;
}

/**
 * The stored gzip of an SBOM as it is, with the sha256 and size part 0 records, after checking
 * that all parts belong to the same SBOM. Nothing is decompressed: copying an SBOM to another
 * ImageScan needs only these bytes, and whoever reads the copy checks the sha256.
 */
export async function readSbomGzip(client: SbomClient, namespace: string, ref: SBOMRef): Promise<SbomBlob> {
  const first = await client.getConfigMap(namespace, ref.name);
  if (!first) throw new SbomStoreError(`SBOM part ${ref.name} not found in namespace ${namespace}`);
  const annotations = first.metadata?.annotations ?? {};
  const sha256 = annotations[SBOM_ANNOTATION_SHA256];
  const parts = Number(annotations[SBOM_ANNOTATION_PARTS]);
  const bytes = Number(annotations[SBOM_ANNOTATION_BYTES]);
  if (!sha256 || !Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS || !Number.isInteger(bytes) || bytes < 0) {
    throw new SbomStoreError(`SBOM part ${ref.name} lacks valid ${SBOM_ANNOTATION_SHA256}, ${SBOM_ANNOTATION_PARTS} or ${SBOM_ANNOTATION_BYTES} annotations`);
  }
  if (ref.parts !== undefined && ref.parts !== parts) {
    throw new SbomStoreError(`SBOM ${ref.name} has ${parts} parts, the reference says ${ref.parts}: it was replaced since; read the status again`);
  }
  const chunks: Buffer[] = [partData(first)];
  for (let i = 1; i < parts; i++) {
    const name = sbomPartName(ref.name, i);
    const part = await client.getConfigMap(namespace, name);
    if (!part) throw new SbomStoreError(`SBOM part ${name} not found in namespace ${namespace}`);
    if (part.metadata?.annotations?.[SBOM_ANNOTATION_SHA256] !== sha256) {
      throw new SbomStoreError(`SBOM part ${name} belongs to another SBOM (it was replaced while being read); read again`);
    }
    chunks.push(partData(part));
  }
  return { gzip: Buffer.concat(chunks), sha256, bytes };
}

function partData(object: ConfigMap): Buffer {
  const data = object.binaryData?.[SBOM_DATA_KEY];
  if (data === undefined) throw new SbomStoreError(`SBOM part ${object.metadata?.name ?? '?'} has no ${SBOM_DATA_KEY}`);
  return Buffer.from(data, 'base64');
}
