/**
 * Image-scanning metrics. Vulnerability counts are one series per image and severity, never per
 * CVE, so cardinality stays bounded by the number of images in use.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CacheMetrics } from './cache';
import { zeroSeries } from '../../platform/runtime/metrics';

export interface ScanMetrics extends CacheMetrics {
  imageVulnerabilities: Gauge<'namespace' | 'image' | 'digest' | 'severity'>;
  scansTotal: Counter<'result'>;
  scanDuration: Histogram;
  queueDepth: Gauge;
  jobsActive: Gauge;
  reportUploads: Counter<'result'>;
  workloadPods: Gauge;
  workloadImagesSkipped: Counter<'reason'>;
}

export function createScanMetrics(registry: Registry): ScanMetrics {
  const registers = [registry];
  const metrics: ScanMetrics = {
    imageVulnerabilities: new Gauge({
      name: 'securestack_image_vulnerabilities',
      help: 'Vulnerabilities found in a scanned image, by severity.',
      labelNames: ['namespace', 'image', 'digest', 'severity'],
      registers,
    }),
    scansTotal: new Counter({
      name: 'securestack_scans_total',
      help: 'Finished ImageScans by result (completed, cached, failed).',
      labelNames: ['result'],
      registers,
    }),
    scanDuration: new Histogram({
      name: 'securestack_scan_duration_seconds',
      help: 'Time from ImageScan creation (or rescan) to Completed.',
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'securestack_scan_queue_depth',
      help: 'Image digests waiting for a free scan Job slot.',
      registers,
    }),
    jobsActive: new Gauge({
      name: 'securestack_scan_jobs_active',
      help: 'Scan Jobs running now, cluster-wide.',
      registers,
    }),
    requests: new Counter({
      name: 'securestack_scan_cache_requests_total',
      help: 'Scan cache lookups by backend (redis, memory) and result (hit, miss).',
      labelNames: ['backend', 'result'],
      registers,
    }),
    backendUp: new Gauge({
      name: 'securestack_scan_cache_backend_up',
      help: '1 while the shared cache backend answers, 0 while the memory fallback serves.',
      labelNames: ['backend'],
      registers,
    }),
    workloadPods: new Gauge({
      name: 'securestack_workload_pods',
      help: 'Running and pending pods workload scanning follows (after its namespace and label filters).',
      registers,
    }),
    workloadImagesSkipped: new Counter({
      name: 'securestack_workload_images_skipped_total',
      help: 'Images of running pods that no ImageScan can be made of (reason: invalid-reference, rejected by the API server); each is reported once with a Warning Event on a pod using it.',
      labelNames: ['reason'],
      registers,
    }),
    reportUploads: new Counter({
      name: 'securestack_report_uploads_total',
      help: 'Scanner report uploads by result (accepted, unauthorized, too_large, invalid, unknown_scan, error).',
      labelNames: ['result'],
      registers,
    }),
  };
  // The first failed scan must be an increase: the alert on it reads increase() (runtime/metrics.ts).
  zeroSeries(metrics.scansTotal, ['completed', 'cached', 'failed'].map((result) => ({ result })));
  return metrics;
}
