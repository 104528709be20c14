/**
 * ImageScans the vulnerability gate asks for, created after the admission response (never in the
 * request path) by one background worker: deduplicated, bounded, and skipped when the namespace
 * already has an ImageScan for the image. Names derive from the image alone, so replicas, and
 * workload scanning, asking for the same scan converge on one object (operator/api/own-scans.ts).
 */
import { admissionSource, createOwnImageScan } from '../../api/own-scans';
import type { KubeClient } from '../../platform/kube/client';
import type { Logger } from '../../platform/log';
import type { AdmissionMetrics } from './metrics';

export class ScanRequester {
  private readonly pending = new Map<string, { namespace: string; image: string }>();
  /** Recently requested: not asked for again within the window, whatever the outcome. */
  private readonly recent = new Map<string, number>();
  private draining = false;

  constructor(
    private readonly client: KubeClient,
    private readonly metrics: AdmissionMetrics,
    private readonly log: Logger,
    private readonly alreadyScanned: (namespace: string, image: string) => boolean,
    private readonly maxPending = 1_000,
    private readonly recentMs = 60_000,
  ) {}

  request(namespace: string, images: readonly string[]): void {
    const now = Date.now();
    for (const image of images) {
      const key = `${namespace}\u0000${image}`;
      if (this.pending.has(key) || (this.recent.get(key) ?? 0) > now) continue;
      if (this.pending.size >= this.maxPending) {
        this.metrics.scanRequests.inc({ result: 'dropped' });
        continue;
      }
      this.pending.set(key, { namespace, image });
    }
    if (!this.draining && this.pending.size > 0) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    try {
      for (const [key, { namespace, image }] of this.pending) {
        this.pending.delete(key);
        this.recent.set(key, Date.now() + this.recentMs);
        if (this.alreadyScanned(namespace, image)) {
          this.metrics.scanRequests.inc({ result: 'exists' });
          continue;
        }
        try {
          const created = await createOwnImageScan(this.client, namespace, image, admissionSource);
          this.metrics.scanRequests.inc({ result: created ? 'created' : 'exists' });
          if (created) this.log.info({ namespace, image }, 'requested an ImageScan for the vulnerability gate');
        } catch (err) {
          this.metrics.scanRequests.inc({ result: 'failed' });
          this.log.warn({ namespace, image, err: err instanceof Error ? err.message : String(err) }, 'could not create an ImageScan for the vulnerability gate');
        }
      }
      this.forgetOld();
    } finally {
      this.draining = false;
      if (this.pending.size > 0) this.request('', []);
    }
  }

  private forgetOld(): void {
    const now = Date.now();
    for (const [key, until] of this.recent) if (until <= now) this.recent.delete(key);
  }
}
