/**
 * The ImageScans SecureStack makes itself, for images running pods use (workload scanning) and for
 * images the admission vulnerability gate met unscanned. Whoever asks, there is one per image and
 * namespace: the name derives from the image alone, so a second request finds the first object.
 * The `securestack.io/source` label says who asked first (workload, admission); the workload
 * reconciler takes over admission ones once pods run the image, and removes them when no pod has
 * used the image for the grace period. It lives with the API types because two features (scan and
 * admission) must agree on it.
 */
import { createHash } from 'node:crypto';
import { apiVersion, type ImageScan } from './types.generated';
import { imageScanType } from './resources';
import { isAlreadyExists, type KubeClient } from '../platform/kube/client';

export const sourceLabel = 'securestack.io/source';
export const workloadSource = 'workload';
export const admissionSource = 'admission';
/** Whether SecureStack made this ImageScan itself (its source label says who asked). */
export function isOwnScan(scan: { metadata?: { labels?: unknown } }): boolean {
  const source = (scan.metadata?.labels as Record<string, string> | undefined)?.[sourceLabel];
  return source === workloadSource || source === admissionSource;
}

/** A stable, DNS-safe ImageScan name for an image reference, prefixed by what it is for. */
export function scanNameFor(image: string, prefix: string): string {
  const repository = image.replace(/@sha256:[a-f0-9]{64}$/, '').replace(/:[^/:]+$/, '').split('/').pop() ?? 'image';
  const stem = repository.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'image';
  return `${prefix}-${stem}-${createHash('sha256').update(image).digest('hex').slice(0, 12)}`;
}

/** The one name of SecureStack's own ImageScan of an image in a namespace, whoever asks. */
export function ownScanName(image: string): string {
  return scanNameFor(image, 'img');
}

/**
 * Creates SecureStack's own ImageScan of an image, labelled with who asked. Returns false when it
 * already existed (made by the other source, or an earlier pass).
 */
export async function createOwnImageScan(client: KubeClient, namespace: string, image: string, source: string): Promise<boolean> {
  try {
    await client.createCustom<ImageScan>(imageScanType, {
      apiVersion,
      kind: 'ImageScan',
      metadata: { name: ownScanName(image), namespace, labels: { [sourceLabel]: source, 'app.kubernetes.io/managed-by': 'securestack' } },
      spec: { image },
    });
    return true;
  } catch (err) {
    if (isAlreadyExists(err)) return false;
    throw err;
  }
}
