/**
 * API coordinates of the resources the controllers reconcile, and the watches that map other
 * objects (scan Jobs) back to them.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { group, version } from '../api/types.generated';
import { imageScanUidLabel, managedByLabel, managedByValue } from '../jobs/scanjob';
import type { ResourceType } from '../kube/client';
import type { SecondaryWatch } from '../runtime/manager';
import { keyOf } from '../runtime/reconciler';

export const imageScanType: ResourceType = { group, version, plural: 'imagescans', kind: 'ImageScan', namespaced: true };
export const scanPolicyType: ResourceType = { group, version, plural: 'scanpolicies', kind: 'ScanPolicy', namespaced: false };
export const complianceReportType: ResourceType = { group, version, plural: 'compliancereports', kind: 'ComplianceReport', namespaced: true };
export const scheduledScanType: ResourceType = { group, version, plural: 'scheduledscans', kind: 'ScheduledScan', namespaced: true };

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
