/**
 * API coordinates of the resources the controllers reconcile, and the watches that map other
 * objects (scan Jobs) back to them.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { group, resources, version } from '../api/types.generated';
import { imageScanUidLabel, managedByLabel, managedByValue } from '../jobs/scanjob';
import type { ResourceType } from '../kube/client';
import type { SecondaryWatch } from '../runtime/manager';
import { keyOf } from '../runtime/reconciler';

function resourceType(kind: keyof typeof resources): ResourceType {
  const { plural, namespaced } = resources[kind];
  return { group, version, plural, kind, namespaced };
}

export const imageScanType = resourceType('ImageScan');
export const scanPolicyType = resourceType('ScanPolicy');
export const complianceReportType = resourceType('ComplianceReport');
export const scheduledScanType = resourceType('ScheduledScan');

/** A scan Job's progress reconciles the ImageScan that owns it. */
export const imageScanJobWatch: SecondaryWatch = {
  group: 'batch',
  version: 'v1',
  plural: 'jobs',
  keysFor(job: KubernetesObject): string[] {
    const labels = job.metadata?.labels ?? {};
    if (labels[managedByLabel] !== managedByValue || !labels[imageScanUidLabel]) return [];
    const owner = job.metadata?.ownerReferences?.find((ref) => ref.kind === imageScanType.kind && ref.controller);
    return owner ? [keyOf(imageScanType.kind, { namespace: job.metadata?.namespace, name: owner.name })] : [];
  },
};
