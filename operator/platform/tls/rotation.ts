/**
 * Leader only: keeps one ServingCertificates Secret renewed. A virtual reconciler on one key,
 * queued on every leadership term (Manager.periodicKeys) and re-queued every refresh interval,
 * so rotations follow the Lease like every other write and stop when leadership is lost.
 */
import type { ObjectKey, ResourceType } from '../kube/client';
import { ensureLeading, keyOf, type ReconcileContext, type ReconcileResult, type Reconciler } from '../runtime/reconciler';
import type { ServingCertificates } from './serving';

export class CertificateRotationReconciler implements Reconciler {
  readonly type: ResourceType;
  readonly virtual = true;
  /** The one key this reconciler handles, for Manager.periodicKeys. */
  readonly queueKey: string;

  /** `kind` must be unique among the manager's reconcilers, e.g. ReportCertificate. */
  constructor(
    private readonly certs: ServingCertificates,
    kind: string,
  ) {
    this.type = { group: '', version: 'v1', plural: 'secrets', kind, namespaced: true };
    this.queueKey = keyOf(kind, { namespace: certs.namespace, name: certs.secretName });
  }

  async reconcile(_key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    ensureLeading(context);
    const steps = await this.certs.rotateIfDue();
    if (steps.length > 0) context.log.info({ steps }, 'serving certificates rotated');
    return { requeueAfterMs: this.certs.refreshIntervalMs };
  }
}
