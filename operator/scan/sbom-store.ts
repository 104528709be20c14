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
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { SBOMRef } from '../api/types.generated';
import { isAlreadyExists, type KubeClient, type ConfigMap } from '../kube/client';

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

/**
 * Stores (or replaces) the SBOM of an ImageScan and returns the sbomRef for its status.
 * `sbom` is the CycloneDX JSON, or its gzip (stored as given). Deletes parts left over from an
 * earlier, larger SBOM.
 */
export async function storeSbom(
  client: KubeClient,
  owner: SbomOwner,
  sbom: Buffer | string,
  options: { maxObjectBytes?: number; maxSbomBytes?: number } = {},
): Promise<StoredSbom> {
  const input = typeof sbom === 'string' ? Buffer.from(sbom, 'utf8') : sbom;
  // Already gzip (the upload arrives compressed): stored as given; JSON never starts with 1f 8b.
  const isGzip = input.length >= 2 && input[0] === 0x1f && input[1] === 0x8b;
  let raw: Buffer;
  try {
    raw = isGzip ? gunzipSync(input, { maxOutputLength: options.maxSbomBytes ?? DEFAULT_MAX_SBOM_BYTES }) : input;
  } catch (err) {
    throw new SbomStoreError(`SBOM does not decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  const sha256 = createHash('sha256').update(raw).digest('hex');
  const compressed = isGzip ? input : gzipSync(raw, { level: 9 });
  const maxObjectBytes = options.maxObjectBytes ?? MAX_OBJECT_BYTES;
  const chunk = partPayloadBytes(maxObjectBytes);
  const parts = Math.max(1, Math.ceil(compressed.length / chunk));
  if (parts > MAX_PARTS) {
    throw new SbomStoreError(`SBOM too large: ${compressed.length} bytes compressed need ${parts} parts, at most ${MAX_PARTS} are allowed`);
  }
  const base = sbomBaseName(owner.name);
  const objects: ConfigMap[] = [];
  for (let i = 0; i < parts; i++) {
    const annotations: Record<string, string> = {
      [SBOM_ANNOTATION_SHA256]: sha256,
      [SBOM_ANNOTATION_IMAGESCAN]: owner.name,
    };
    if (i === 0) {
      annotations[SBOM_ANNOTATION_PARTS] = String(parts);
      annotations[SBOM_ANNOTATION_BYTES] = String(raw.length);
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
      binaryData: { [SBOM_DATA_KEY]: compressed.subarray(i * chunk, (i + 1) * chunk).toString('base64') },
    };
    // Defensive: the server adds uid, resourceVersion, timestamps and managedFields (well under
    // the reserve), so what we send must stay below the limit by that margin.
    const size = Buffer.byteLength(JSON.stringify(object));
    if (size > maxObjectBytes - METADATA_RESERVE_BYTES / 2) {
      throw new SbomStoreError(`internal error: SBOM part ${i} would be ${size} bytes, over the ${maxObjectBytes}-byte limit`);
    }
    objects.push(object);
  }

  // Parts 1..n-1 first, part 0 (which says how many parts there are) last.
  for (const object of [...objects.slice(1), ...objects.slice(0, 1)]) {
    await upsert(client, owner.namespace, object);
  }

  const names = new Set(objects.map((o) => o.metadata?.name));
  const existing = await client.listConfigMaps(owner.namespace, `${SBOM_LABEL_IMAGESCAN}=${imageScanLabelValue(owner.name)}`);
  for (const old of existing) {
    const name = old.metadata?.name ?? '';
    const part = Number(old.metadata?.labels?.[SBOM_LABEL_PART]);
    // Only our own naming scheme, and only this ImageScan's (label values can collide after
    // shortening; the annotation holds the full name).
    if (names.has(name) || !Number.isInteger(part) || name !== sbomPartName(base, part)) continue;
    if (old.metadata?.annotations?.[SBOM_ANNOTATION_IMAGESCAN] !== owner.name) continue;
    await client.deleteConfigMap(owner.namespace, name);
  }
  return { name: base, parts, sha256, bytes: raw.length, compressedBytes: compressed.length, partNames: objects.map((o) => o.metadata?.name ?? '') };
}

async function upsert(client: KubeClient, namespace: string, object: ConfigMap): Promise<void> {
  try {
    await client.createConfigMap(namespace, object);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // ConfigMaps allow unconditional updates: the last writer wins, which is what a re-store wants.
    await client.replaceConfigMap(namespace, object);
  }
}

/**
 * Reads an SBOM back: fetches the parts, checks they belong together, gunzips (bounded by the
 * size recorded at store time) and verifies the sha256. Returns the exact bytes stored.
 */
export async function readSbom(client: KubeClient, namespace: string, ref: SBOMRef): Promise<Buffer> {
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
  let raw: Buffer;
  try {
    raw = gunzipSync(Buffer.concat(chunks), { maxOutputLength: Math.max(bytes, 1) });
  } catch (err) {
    throw new SbomStoreError(`SBOM ${ref.name} does not decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  const actual = createHash('sha256').update(raw).digest('hex');
  if (actual !== sha256) throw new SbomStoreError(`SBOM ${ref.name} is corrupt: sha256 ${actual}, expected ${sha256}`);
  return raw;
}

function partData(object: ConfigMap): Buffer {
  const data = object.binaryData?.[SBOM_DATA_KEY];
  if (data === undefined) throw new SbomStoreError(`SBOM part ${object.metadata?.name ?? '?'} has no ${SBOM_DATA_KEY}`);
  return Buffer.from(data, 'base64');
}
