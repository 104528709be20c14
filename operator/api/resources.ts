/**
 * API coordinates of the resources the controllers reconcile.
 */
import { group, resources, version } from './types.generated';
import type { ResourceType } from '../platform/kube/client';

function resourceType(kind: keyof typeof resources): ResourceType {
  const { plural, namespaced } = resources[kind];
  return { group, version, plural, kind, namespaced };
}

export const imageScanType = resourceType('ImageScan');
export const scanPolicyType = resourceType('ScanPolicy');
export const complianceReportType = resourceType('ComplianceReport');
export const scheduledScanType = resourceType('ScheduledScan');
