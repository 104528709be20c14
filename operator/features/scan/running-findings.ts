/**
 * Findings in the images running pods use right now, per namespace, severity and whether a fix
 * exists: what "fixable critical vulnerabilities in running images" alerts and the dashboard read.
 * securestack_image_vulnerabilities covers every ImageScan, including ones no pod runs; this
 * gauge only the images of running and pending pods that workload scanning follows (the
 * WorkloadIndex), each distinct image counted once per namespace however many pods run it.
 * Computed at scrape time from the caches, so it is never stale and needs no bookkeeping.
 */
import { Gauge, type Registry } from 'prom-client';
import type { ImageScan } from '../../api/types.generated';
import { isOwnScan } from '../../api/own-scans';

const severities = ['critical', 'high', 'medium', 'low', 'unknown'] as const;

export interface RunningFinding {
  namespace: string;
  severity: (typeof severities)[number];
  fixable: 'true' | 'false';
  count: number;
}

export interface RunningImages {
  namespaces(): Iterable<string>;
  imagesIn(namespace: string): Set<string>;
}

/**
 * Sums the Completed ImageScan summaries of the images running in each namespace. An image with no
 * Completed ImageScan yet adds nothing; SecureStack's own (workload) ImageScan wins over a user's
 * for the same image, since it is the one kept current for running pods.
 */
export function runningImageFindings(running: RunningImages, scansIn: (namespace: string) => readonly ImageScan[]): RunningFinding[] {
  const found: RunningFinding[] = [];
  for (const namespace of running.namespaces()) {
    // Completed scans by image, once per namespace (not once per running image).
    const completed = new Map<string, ImageScan[]>();
    for (const scan of scansIn(namespace)) {
      if (scan.status?.phase === 'Completed' && scan.status.summary) completed.set(scan.spec.image, [...(completed.get(scan.spec.image) ?? []), scan]);
    }
    const totals = new Map<string, number>();
    for (const image of running.imagesIn(namespace)) {
      const ofImage = completed.get(image) ?? [];
      const summary = (ofImage.find(isOwnScan) ?? ofImage[0])?.status?.summary;
      if (!summary) continue;
      for (const severity of severities) {
        const all = summary[severity] ?? 0;
        // Results stored before per-severity fixable counts existed lack them: none counted fixable.
        const fixable = Math.min(all, summary.fixableBySeverity?.[severity] ?? 0);
        add(totals, `${severity}/true`, fixable);
        add(totals, `${severity}/false`, all - fixable);
      }
    }
    for (const [key, count] of totals) {
      const [severity, fixable] = key.split('/') as [RunningFinding['severity'], RunningFinding['fixable']];
      found.push({ namespace, severity, fixable, count });
    }
  }
  return found;
}

function add(totals: Map<string, number>, key: string, value: number): void {
  totals.set(key, (totals.get(key) ?? 0) + value);
}

/** securestack_running_image_vulnerabilities, filled from `read` at every scrape. */
export function runningFindingsGauge(registry: Registry, read: () => RunningFinding[]): Gauge<'namespace' | 'severity' | 'fixable'> {
  return new Gauge({
    name: 'securestack_running_image_vulnerabilities',
    help: 'Vulnerabilities in the images running and pending pods use (workload scanning), per namespace, severity and fixable (true: a fixed version exists); each image counted once per namespace.',
    labelNames: ['namespace', 'severity', 'fixable'],
    registers: [registry],
    collect(this: Gauge<'namespace' | 'severity' | 'fixable'>): void {
      // Namespaces whose pods are gone must disappear, not keep their last value.
      this.reset();
      for (const { namespace, severity, fixable, count } of read()) this.set({ namespace, severity, fixable }, count);
    },
  });
}
