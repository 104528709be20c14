/**
 * A large blob (an SBOM, a compliance report's per-object results), gzip-compressed, in
 * ConfigMaps its custom object owns: what each kind of blob is called and labelled comes from a
 * `BlobKind`; the storage rules are the same for all.
 *
 * - Part 0 is named `<owner><suffix>`, part i > 0 `<owner><suffix>-<i>`; names that would pass
 *   253 characters are shortened with a hash, deterministically.
 * - Each part holds a slice of one gzip stream in binaryData (base64 in the API, +33 %), sized so
 *   that no ConfigMap, metadata and managedFields included, exceeds 900 KiB serialized.
 * - Every part has the owner's controller ownerReference (the garbage collector deletes the parts
 *   with the owner), the owner and part-number labels, and the blob's sha256 as an annotation;
 *   part 0 also carries the part count and size. Readers check that every part belongs to the
 *   same blob and that the sha256 of the reassembled, decompressed bytes matches.
 * - Writes go parts 1..n-1 first and part 0 last, then stale higher-numbered parts are deleted,
 *   so a reader that finds the new part 0 finds all of its parts. Storing is idempotent.
 * - Compression runs through zlib's asynchronous API (libuv's thread pool): a blob can be
 *   200 MiB, and the event loop it would block also answers the deadline-bound admission webhook.
 *   A blob that is already gzip with its sha256 known (GzipBlob) is stored as given.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { isAlreadyExists, type ConfigMap, type KubeClient } from './client';

/** What storing and reading blobs needs of the Kubernetes client (tests wrap the real one to count writes). */
export type BlobClient = Pick<KubeClient, 'getConfigMap' | 'listConfigMapMetadata' | 'createConfigMap' | 'replaceConfigMap' | 'deleteConfigMap'>;

/** How one kind of blob is named, labelled and keyed in its ConfigMaps. */
export interface BlobKind {
  /** Used in messages: "SBOM", "compliance results". */
  noun: string;
  owner: { apiVersion: string; kind: string };
  /** Appended to the owner's name for part 0: `-sbom`. */
  suffix: string;
  /** Label holding the owner's name (shortened to 63 characters with a hash). */
  ownerLabel: string;
  /** Annotation holding the owner's full name. */
  ownerAnnotation: string;
  partLabel: string;
  sha256Annotation: string;
  partsAnnotation: string;
  bytesAnnotation: string;
  /** binaryData key of each part. */
  dataKey: string;
}

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

/** A gzip-compressed blob with what storing it needs to know of the uncompressed bytes. */
export interface GzipBlob {
  gzip: Buffer;
  /** sha256 of the uncompressed bytes, hex. */
  sha256: string;
  /** Length of the uncompressed bytes. */
  bytes: number;
}

/** No stored object may exceed this, serialized (issue 3). */
export const MAX_OBJECT_BYTES = 900 * 1024;
/** The most parts a blob may have (the CRDs' parts maximum). */
export const MAX_PARTS = 64;
/** Room left in each object for metadata, managedFields and JSON framing. */
const METADATA_RESERVE_BYTES = 32 * 1024;

/** The custom object that owns the blob. */
export interface BlobOwner {
  namespace: string;
  name: string;
  uid: string;
}

/** Where a blob is: part 0's name and the part count. */
export interface BlobRef {
  name: string;
  parts?: number;
}

export interface StoredBlob {
  name: string;
  parts: number;
  /** sha256 of the uncompressed bytes, hex. */
  sha256: string;
  bytes: number;
  compressedBytes: number;
  /** Names of all parts, in order. */
  partNames: string[];
}

export class BlobStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobStoreError';
  }
}

/** Raw bytes per part: base64 of it plus the reserve stays within maxObjectBytes. */
export function partPayloadBytes(maxObjectBytes = MAX_OBJECT_BYTES): number {
  return Math.floor((maxObjectBytes - METADATA_RESERVE_BYTES) / 4) * 3;
}

/** The most gzip bytes a blob may have: MAX_PARTS parts of the largest payload. */
export function maxStoredGzipBytes(maxObjectBytes = MAX_OBJECT_BYTES): number {
  return MAX_PARTS * partPayloadBytes(maxObjectBytes);
}

/** Base name (part 0) for an owner: `<name><suffix>`, shortened with a hash when too long. */
export function blobBaseName(ownerName: string, suffix: string): string {
  // Room for "-63" on the highest part.
  const max = 253 - `-${MAX_PARTS - 1}`.length;
  const plain = `${ownerName}${suffix}`;
  if (plain.length <= max) return plain;
  const hash = createHash('sha256').update(ownerName).digest('hex').slice(0, 10);
  const keep = ownerName.slice(0, max - suffix.length - hash.length - 1).replace(/[.-]+$/, '');
  return `${keep}-${hash}${suffix}`;
}

export function blobPartName(base: string, part: number): string {
  return part === 0 ? base : `${base}-${part}`;
}

/** A label value (at most 63 characters) that identifies an owner by name. */
export function ownerLabelValue(name: string): string {
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, 52).replace(/[^A-Za-z0-9]+$/, '')}-${hash}`;
}

/** Upper bound for a gzip blob given to storeBlob, decompressed (the upload limit). */
const DEFAULT_MAX_BLOB_BYTES = 200 * 1024 * 1024;

export interface StoreOptions {
  maxObjectBytes?: number;
  maxBlobBytes?: number;
  codec?: GzipCodec;
}

/**
 * The GzipBlob of some bytes (compressed here) or of their gzip (kept as given, decompressed once,
 * bounded, for the sha256 and size). JSON never starts with gzip's magic bytes 1f 8b.
 */
export async function gzipBlob(kind: BlobKind, data: Buffer | string, options: Pick<StoreOptions, 'maxBlobBytes' | 'codec'> = {}): Promise<GzipBlob> {
  const codec = options.codec ?? asyncGzipCodec;
  const input = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const isGzip = input.length >= 2 && input[0] === 0x1f && input[1] === 0x8b;
  let raw: Buffer;
  try {
    raw = isGzip ? await codec.gunzip(input, options.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES) : input;
  } catch (err) {
    throw new BlobStoreError(`${kind.noun} does not decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  const sha256 = createHash('sha256').update(raw).digest('hex');
  return { gzip: isGzip ? input : await codec.gzip(raw), sha256, bytes: raw.length };
}

function isGzipBlob(data: Buffer | string | GzipBlob): data is GzipBlob {
  return typeof data === 'object' && !Buffer.isBuffer(data);
}

/**
 * Stores (or replaces) an owner's blob and returns where it is. `data` is the bytes, their gzip,
 * or a GzipBlob; gzip is stored as given. Deletes parts left over from an earlier, larger blob.
 */
export async function storeBlob(kind: BlobKind, client: BlobClient, owner: BlobOwner, data: Buffer | string | GzipBlob, options: StoreOptions = {}): Promise<StoredBlob> {
  const blob = isGzipBlob(data) ? data : await gzipBlob(kind, data, options);
  const { gzip: compressed, sha256 } = blob;
  const maxObjectBytes = options.maxObjectBytes ?? MAX_OBJECT_BYTES;
  const chunk = partPayloadBytes(maxObjectBytes);
  const parts = Math.max(1, Math.ceil(compressed.length / chunk));
  if (parts > MAX_PARTS) {
    throw new BlobStoreError(`${kind.noun} too large: ${compressed.length} bytes compressed need ${parts} parts, at most ${MAX_PARTS} are allowed`);
  }
  const base = blobBaseName(owner.name, kind.suffix);
  const objects: Array<{ object: ConfigMap; json: Buffer }> = [];
  for (let i = 0; i < parts; i++) {
    const object = partObject(kind, owner, base, i, blob, parts);
    const json = partJson(kind, object, compressed.subarray(i * chunk, (i + 1) * chunk));
    // Defensive: the server adds uid, resourceVersion, timestamps and managedFields (well under
    // the reserve), so what we send must stay below the limit by that margin. The JSON measured
    // is the JSON sent.
    if (json.length > maxObjectBytes - METADATA_RESERVE_BYTES / 2) {
      throw new BlobStoreError(`internal error: ${kind.noun} part ${i} would be ${json.length} bytes, over the ${maxObjectBytes}-byte limit`);
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
  const existing = await client.listConfigMapMetadata(owner.namespace, `${kind.ownerLabel}=${ownerLabelValue(owner.name)}`);
  for (const old of existing) {
    const name = old.metadata?.name ?? '';
    const part = Number(old.metadata?.labels?.[kind.partLabel]);
    // Only our own naming scheme, and only this owner's (label values can collide after
    // shortening; the annotation holds the full name).
    if (names.has(name) || !Number.isInteger(part) || name !== blobPartName(base, part)) continue;
    if (old.metadata?.annotations?.[kind.ownerAnnotation] !== owner.name) continue;
    await client.deleteConfigMap(owner.namespace, name);
  }
  return { name: base, parts, sha256, bytes: blob.bytes, compressedBytes: compressed.length, partNames: objects.map((part) => part.object.metadata?.name ?? '') };
}

function partObject(kind: BlobKind, owner: BlobOwner, base: string, index: number, blob: GzipBlob, parts: number): ConfigMap {
  const annotations: Record<string, string> = { [kind.sha256Annotation]: blob.sha256, [kind.ownerAnnotation]: owner.name };
  if (index === 0) {
    annotations[kind.partsAnnotation] = String(parts);
    annotations[kind.bytesAnnotation] = String(blob.bytes);
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: blobPartName(base, index),
      namespace: owner.namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'securestack',
        [kind.ownerLabel]: ownerLabelValue(owner.name),
        [kind.partLabel]: String(index),
      },
      annotations,
      ownerReferences: [{ ...kind.owner, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }],
    },
  };
}

/**
 * A part as the JSON bytes sent to the API server: the object's JSON with its data spliced in as
 * base64, which needs no JSON escaping. Serializing the object with a 1.2 MB string inside would
 * cost the event loop 2-3 ms per part for escaping and encoding; this is a copy.
 */
function partJson(kind: BlobKind, object: ConfigMap, data: Buffer): Buffer {
  const empty = JSON.stringify({ ...object, binaryData: { [kind.dataKey]: '' } });
  // binaryData is the last key and its value the last string: splice between its two quotes.
  const at = empty.length - '"}}'.length;
  return Buffer.concat([Buffer.from(empty.slice(0, at), 'utf8'), Buffer.from(data.toString('base64'), 'latin1'), Buffer.from(empty.slice(at), 'utf8')]);
}

async function upsert(client: BlobClient, namespace: string, object: ConfigMap, json: Buffer): Promise<void> {
  try {
    await client.createConfigMap(namespace, object, json);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // ConfigMaps allow unconditional updates: the last writer wins, which is what a re-store wants.
    await client.replaceConfigMap(namespace, object, json);
  }
}

/**
 * Reads a blob back: fetches the parts, checks they belong together, gunzips (bounded by the
 * size recorded at store time, off the event loop) and verifies the sha256. Returns the exact
 * bytes stored.
 */
export async function readBlob(kind: BlobKind, client: BlobClient, namespace: string, ref: BlobRef, codec: GzipCodec = asyncGzipCodec): Promise<Buffer> {
  const blob = await readBlobGzip(kind, client, namespace, ref);
  let raw: Buffer;
  try {
    raw = await codec.gunzip(blob.gzip, Math.max(blob.bytes, 1));
  } catch (err) {
    throw new BlobStoreError(`${kind.noun} ${ref.name} does not decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  const actual = createHash('sha256').update(raw).digest('hex');
  if (actual !== blob.sha256) throw new BlobStoreError(`${kind.noun} ${ref.name} is corrupt: sha256 ${actual}, expected ${blob.sha256}`);
  return raw;
}

/**
 * The stored gzip of a blob as it is, with the sha256 and size part 0 records, after checking
 * that all parts belong to the same blob. Nothing is decompressed: copying a blob to another
 * owner needs only these bytes, and whoever reads the copy checks the sha256.
 */
export async function readBlobGzip(kind: BlobKind, client: BlobClient, namespace: string, ref: BlobRef): Promise<GzipBlob> {
  const first = await client.getConfigMap(namespace, ref.name);
  if (!first) throw new BlobStoreError(`${kind.noun} part ${ref.name} not found in namespace ${namespace}`);
  const annotations = first.metadata?.annotations ?? {};
  const sha256 = annotations[kind.sha256Annotation];
  const parts = Number(annotations[kind.partsAnnotation]);
  const bytes = Number(annotations[kind.bytesAnnotation]);
  if (!sha256 || !Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS || !Number.isInteger(bytes) || bytes < 0) {
    throw new BlobStoreError(`${kind.noun} part ${ref.name} lacks valid ${kind.sha256Annotation}, ${kind.partsAnnotation} or ${kind.bytesAnnotation} annotations`);
  }
  if (ref.parts !== undefined && ref.parts !== parts) {
    throw new BlobStoreError(`${kind.noun} ${ref.name} has ${parts} parts, the reference says ${ref.parts}: it was replaced since; read the status again`);
  }
  const chunks: Buffer[] = [partData(kind, first)];
  for (let i = 1; i < parts; i++) {
    const name = blobPartName(ref.name, i);
    const part = await client.getConfigMap(namespace, name);
    if (!part) throw new BlobStoreError(`${kind.noun} part ${name} not found in namespace ${namespace}`);
    if (part.metadata?.annotations?.[kind.sha256Annotation] !== sha256) {
      throw new BlobStoreError(`${kind.noun} part ${name} belongs to another ${kind.noun} (it was replaced while being read); read again`);
    }
    chunks.push(partData(kind, part));
  }
  return { gzip: Buffer.concat(chunks), sha256, bytes };
}

function partData(kind: BlobKind, object: ConfigMap): Buffer {
  const data = object.binaryData?.[kind.dataKey];
  if (data === undefined) throw new BlobStoreError(`${kind.noun} part ${object.metadata?.name ?? '?'} has no ${kind.dataKey}`);
  return Buffer.from(data, 'base64');
}
