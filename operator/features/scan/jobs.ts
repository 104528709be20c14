/**
 * Scan Jobs as the dispatcher sees them: which digest, which owner, running or finished and why.
 */
import type { KubernetesObject, V1Job } from '@kubernetes/client-node';
import { imageScanType } from '../../api/resources';
import { componentLabel, digestAnnotation, managedByLabel, managedByValue, scannerComponent } from './scanjob';
import type { KubeClient } from '../../platform/kube/client';
import type { SecondaryWatch } from '../../platform/runtime/manager';
import { keyOf } from '../../platform/runtime/reconciler';
import type { ObservedJob, ScanDispatcher } from './dispatcher';

/**
 * What the dispatcher, the cache and the result store key a scan by: the same digest scanned by
 * another scanner is another scan.
 */
export function scanTargetKey(digest: string, scannerImage: string): string {
  return `${digest}|${scannerImage}`;
}

export const scanJobSelector = `${managedByLabel}=${managedByValue},${componentLabel}=${scannerComponent}`;

/** Reduces a scan Job to what the dispatcher needs; undefined for any other Job. */
export function observedJob(job: V1Job, deleted: boolean): ObservedJob | undefined {
  const labels = job.metadata?.labels ?? {};
  if (labels[managedByLabel] !== managedByValue || labels[componentLabel] !== scannerComponent) return undefined;
  const digest = job.metadata?.annotations?.[digestAnnotation];
  const scanner = job.spec?.template.spec?.initContainers?.find((container) => container.name === 'scanner')?.image;
  const owner = job.metadata?.ownerReferences?.find((ref) => ref.kind === imageScanType.kind && ref.controller);
  if (!digest || !scanner || !owner) return undefined;
  const conditions = job.status?.conditions ?? [];
  const succeeded = conditions.some((condition) => condition.type === 'Complete' && condition.status === 'True');
  const failed = conditions.find((condition) => condition.type === 'Failed' && condition.status === 'True');
  return {
    digest: scanTargetKey(digest, scanner),
    namespace: job.metadata?.namespace ?? '',
    name: job.metadata?.name ?? '',
    owner: owner.name,
    active: !deleted && !succeeded && !failed,
    succeeded,
    failureReason: failed ? `${failed.reason ?? 'Failed'}: ${failed.message ?? ''}`.trim() : deleted && !succeeded ? 'the Job was deleted' : undefined,
    finishedAt: finishedAt(job, failed?.lastTransitionTime),
  };
}

function finishedAt(job: V1Job, failedAt: Date | string | undefined): number | undefined {
  const when = job.status?.completionTime ?? failedAt;
  const ms = when ? new Date(when).getTime() : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** Feeds scan Job events to the dispatcher and reconciles whichever ImageScans they concern. */
export function scanJobWatch(dispatcher: ScanDispatcher): SecondaryWatch {
  return {
    group: 'batch',
    version: 'v1',
    plural: 'jobs',
    // Only scan Jobs, whole: a deletion found by a relist still names its digest and scanner.
    labelSelector: scanJobSelector,
    keep: 'object',
    keysFor(object: KubernetesObject, deleted: boolean): string[] {
      const job = observedJob(object, deleted);
      if (!job) return [];
      const owner = keyOf(imageScanType.kind, { namespace: job.namespace, name: job.owner });
      return [...new Set([owner, ...dispatcher.observe(job)])];
    },
  };
}

/** Every scan Job in the cluster, for a new leader's dispatcher. */
export async function listScanJobs(client: KubeClient): Promise<ObservedJob[]> {
  const jobs = await client.listJobsAllNamespaces(scanJobSelector);
  return jobs.map((job) => observedJob(job, false)).filter((job): job is ObservedJob => job !== undefined);
}
