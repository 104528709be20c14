/**
 * What every ImageScan in the cluster says about its image, indexed for the vulnerability gate:
 * by digest (a pinned image, or the digest a tag resolved to) and by normalized reference
 * (`nginx` and `docker.io/library/nginx:latest` are the same key). Fed by a watch in every
 * replica, so admission never calls the API server.
 */
import type { ImageScan } from '../../api/types.generated';
import type { ImageFacts } from '../../engine/evaluate';
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

interface Known {
  key: string;
  facts: ImageFacts;
  reference: string;
  digest?: string;
  completedAt: number;
}

export class ImageFactsIndex {
  /** By ImageScan namespace/name. */
  private readonly scans = new Map<string, Known>();
  private readonly byReference = new Map<string, Set<Known>>();
  private readonly byDigest = new Map<string, Set<Known>>();

  observe(scan: ImageScan, deleted: boolean): void {
    const key = `${scan.metadata.namespace ?? ''}/${scan.metadata.name ?? ''}`;
    const previous = this.scans.get(key);
    if (previous) this.forget(previous);
    if (deleted) return;
    const normalized = normalizeImage(scan.spec.image);
    if (!normalized) return;
    const status = scan.status;
    const digest = normalized.digest ?? status?.digest;
    const known: Known = {
      key,
      reference: normalized.reference,
      completedAt: Date.parse(status?.completedAt ?? '') || 0,
      facts: { scan: key, completed: status?.phase === 'Completed', ...(digest ? { digest } : {}), ...(status?.summary ? { summary: status.summary } : {}) },
      ...(digest ? { digest } : {}),
    };
    this.scans.set(key, known);
    add(this.byReference, known.reference, known);
    if (known.digest) add(this.byDigest, known.digest, known);
  }

  private forget(known: Known): void {
    this.scans.delete(known.key);
    remove(this.byReference, known.reference, known);
    if (known.digest) remove(this.byDigest, known.digest, known);
  }

  /**
   * Facts for an image: by digest when the reference pins one, else by reference. Among several
   * ImageScans of the same image the latest completed one wins; without any completed one, an
   * incomplete one is returned so the caller knows a scan exists.
   */
  lookup(image: string): ImageFacts | undefined {
    const normalized = normalizeImage(image);
    if (!normalized) return undefined;
    const candidates = normalized.digest ? this.byDigest.get(normalized.digest) : this.byReference.get(normalized.reference);
    let best: Known | undefined;
    for (const known of candidates ?? []) {
      if (!best || rank(known) > rank(best)) best = known;
    }
    return best?.facts;
  }

  /** True when some ImageScan in the namespace is for this image (so no new one is needed). */
  hasScanIn(namespace: string, image: string): boolean {
    const normalized = normalizeImage(image);
    if (!normalized) return true;
    const candidates = normalized.digest ? this.byDigest.get(normalized.digest) : this.byReference.get(normalized.reference);
    return [...(candidates ?? [])].some((known) => known.key.startsWith(`${namespace}/`));
  }

  get size(): number {
    return this.scans.size;
  }
}

function rank(known: Known): number {
  return (known.facts.completed ? 1e15 : 0) + known.completedAt;
}

function add(index: Map<string, Set<Known>>, key: string, known: Known): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(known);
}

function remove(index: Map<string, Set<Known>>, key: string, known: Known): void {
  const set = index.get(key);
  set?.delete(known);
  if (set && set.size === 0) index.delete(key);
}
