/**
 * What every ImageScan in the cluster says about its image, indexed for the vulnerability gate:
 * by digest (a pinned image, or the digest a tag resolved to) and by normalized reference
 * (`nginx` and `docker.io/library/nginx:latest` are the same key). Indexes of the shared
 * ImageScan informer every replica keeps, so admission never calls the API server.
 */
import type { ImageScan } from '../../api/types.generated';
import type { ImageFacts } from '../../engine/evaluate';
import type { Informer, RawObject } from '../../platform/kube/informer';
import { formatReference, parseReference } from '../../platform/registry/reference';

/** The normalized reference, or undefined when the text is not an image reference. */
export function normalizeImage(image: string): { reference: string; digest?: string } | undefined {
  try {
    const ref = parseReference(image);
    return ref.digest ? { reference: formatReference(ref), digest: ref.digest } : { reference: formatReference(ref) };
  } catch {
    return undefined;
  }
}

/** The indexes ImageFactsIndex reads: ImageScans by the digest they cover and by normalized reference. */
export const scanDigestIndex = 'imagescan-digest';
export const scanReferenceIndex = 'imagescan-reference';

function scanOf(object: RawObject): ImageScan {
  // The ImageScan informer holds objects as the API server validated them against the CRD schema
  // the type is generated from.
  return object as unknown as ImageScan;
}

/** The digest an ImageScan covers: the one its reference pins, or the one its tag resolved to. */
export function scanDigestIndexFunction(object: RawObject): readonly string[] {
  const scan = scanOf(object);
  const digest = normalizeImage(scan.spec?.image ?? '')?.digest ?? scan.status?.digest;
  return digest ? [digest] : [];
}

export function scanReferenceIndexFunction(object: RawObject): readonly string[] {
  const reference = normalizeImage(scanOf(object).spec?.image ?? '')?.reference;
  return reference ? [reference] : [];
}

/** What ImageFactsIndex needs of a store of ImageScans: lookups by the two indexes above. */
export interface IndexedImageScans {
  byIndex(name: string, value: string): RawObject[];
}

/**
 * What every ImageScan in the cluster says about its image, for the vulnerability gate: lookups
 * on two indexes of the process's shared ImageScan informer, so admission keeps no copy of its own.
 */
export class ImageFactsIndex {
  /**
   * Facts and rank of each stored ImageScan, worked out on its first lookup. The informer replaces
   * a stored object whenever it changes, so an entry never goes stale and goes with its object:
   * a review parses no timestamps or references of the ImageScans it compares.
   */
  private readonly derived = new WeakMap<RawObject, { facts: ImageFacts; rank: number }>();

  constructor(private readonly scans: IndexedImageScans) {}

  /**
   * The same lookups over ImageScans listed once (`securestack audit --cluster`), indexed by the
   * informer's own index functions, so the audit's gate answers as admission's.
   */
  static of(scans: readonly RawObject[]): ImageFactsIndex {
    const indexes = new Map<string, Map<string, RawObject[]>>();
    for (const [name, indexOf] of [[scanDigestIndex, scanDigestIndexFunction], [scanReferenceIndex, scanReferenceIndexFunction]] as const) {
      const index = new Map<string, RawObject[]>();
      for (const scan of scans) for (const value of indexOf(scan)) index.set(value, [...(index.get(value) ?? []), scan]);
      indexes.set(name, index);
    }
    return new ImageFactsIndex({ byIndex: (name, value) => indexes.get(name)?.get(value) ?? [] });
  }

  /** Adds the indexes to the shared ImageScan informer (before it starts) and reads from them. */
  static on(informer: Informer): ImageFactsIndex {
    informer.addIndex(scanDigestIndex, scanDigestIndexFunction);
    informer.addIndex(scanReferenceIndex, scanReferenceIndexFunction);
    return new ImageFactsIndex(informer);
  }

  /**
   * Facts for an image: by digest when the reference pins one, else by reference. Among several
   * ImageScans of the same image the latest completed one wins; without any completed one, an
   * incomplete one is returned so the caller knows a scan exists.
   */
  lookup(image: string): ImageFacts | undefined {
    let best: { facts: ImageFacts; rank: number } | undefined;
    for (const scan of this.candidates(normalizeImage(image))) {
      const known = this.derivedOf(scan);
      if (!best || known.rank > best.rank) best = known;
    }
    return best?.facts;
  }

  /** True when some ImageScan in the namespace is for this image (so no new one is needed). */
  hasScanIn(namespace: string, image: string): boolean {
    const normalized = normalizeImage(image);
    if (!normalized) return true;
    return this.candidates(normalized).some((scan) => scan.metadata?.namespace === namespace);
  }

  private candidates(normalized: ReturnType<typeof normalizeImage>): RawObject[] {
    if (!normalized) return [];
    return normalized.digest ? this.scans.byIndex(scanDigestIndex, normalized.digest) : this.scans.byIndex(scanReferenceIndex, normalized.reference);
  }

  private derivedOf(object: RawObject): { facts: ImageFacts; rank: number } {
    let known = this.derived.get(object);
    if (!known) {
      const scan = scanOf(object);
      const status = scan.status;
      const digest = scanDigestIndexFunction(object)[0];
      known = {
        facts: {
          scan: `${scan.metadata?.namespace ?? ''}/${scan.metadata?.name ?? ''}`,
          completed: status?.phase === 'Completed',
          ...(digest ? { digest } : {}),
          ...(status?.completedAt ? { completedAt: status.completedAt } : {}),
          ...(status?.summary ? { summary: status.summary } : {}),
        },
        rank: (status?.phase === 'Completed' ? 1e15 : 0) + (Date.parse(status?.completedAt ?? '') || 0),
      };
      this.derived.set(object, known);
    }
    return known;
  }
}
