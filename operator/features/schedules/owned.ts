/**
 * A ScheduledScan's runs from the shared cache: an owner index on the ImageScan and
 * ComplianceReport informers (which hold whole objects for their own reconcilers), and watches
 * that bring the owning ScheduledScan back whenever one of its runs' objects changes.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { complianceReportType, imageScanType, scheduledScanType } from '../../api/resources';
import { collectionPath } from '../../platform/kube/client';
import { ownerIndexFunction, type InformerFactory } from '../../platform/kube/informer';
import type { SecondaryWatch } from '../../platform/runtime/manager';
import { keyOf } from '../../platform/runtime/reconciler';
import type { RunObject } from './runs';

const ownerIndex = 'owner';
const runTypes = [imageScanType, complianceReportType];

/** Adds the owner index (before the informers start); returns the lookup by owner uid. */
export function ownedRuns(informers: InformerFactory): (uid: string) => RunObject[] {
  const caches = runTypes.map((type) => {
    const informer = informers.informer(collectionPath(type), { keep: 'object' });
    informer.addIndex(ownerIndex, ownerIndexFunction);
    return informer;
  });
  // Both informers keep whole objects as the API server validated them against the CRD schemas.
  return (uid) => caches.flatMap((cache) => cache.byIndex(ownerIndex, uid) as unknown as RunObject[]);
}

/** A change to a run's object queues the ScheduledScan that controls it. */
export function runWatches(): SecondaryWatch[] {
  return runTypes.map((type) => ({
    group: type.group,
    version: type.version,
    plural: type.plural,
    keep: 'object',
    keysFor: (object: KubernetesObject) => (object.metadata?.ownerReferences ?? [])
      .filter((owner) => owner.controller === true && owner.kind === scheduledScanType.kind && owner.apiVersion === `${scheduledScanType.group}/${scheduledScanType.version}`)
      .map((owner) => keyOf(scheduledScanType.kind, { namespace: object.metadata?.namespace, name: owner.name })),
  }));
}
