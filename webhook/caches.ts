/**
 * The watched state admission and the audit read: ScanPolicies (compiled), Namespace labels and
 * ImageScan facts. Every replica keeps its own, fed by watches, so answering an AdmissionReview
 * never waits on the API server.
 */
import type { V1Namespace } from '@kubernetes/client-node';
import type { ImageScan, ScanPolicy } from '../operator/api/types.generated';
import { imageScanType, scanPolicyType } from '../operator/controllers/types';
import type { KubeClient, StopWatch } from '../operator/kube/client';
import type { Logger } from '../operator/log';
import { ImageFactsIndex } from './image-facts';
import { PolicyStore } from './policy-store';

export class AdmissionCaches {
  readonly policies = new PolicyStore();
  readonly images = new ImageFactsIndex();
  private readonly namespaces = new Map<string, Record<string, string>>();
  private readonly pending = new Set(['scanpolicies', 'namespaces', 'imagescans']);
  private readonly stops: StopWatch[] = [];

  constructor(private readonly client: KubeClient, private readonly log: Logger) {}

  start(): void {
    const errorLogger = (what: string) => (err: Error): void => this.log.warn({ watch: what, err: err.message }, 'watch failed; relisting');
    const synced = (what: string) => (): void => {
      if (this.pending.delete(what)) this.log.info({ watch: what }, 'admission cache synced');
    };
    this.stops.push(
      this.client.watchCustom<ScanPolicy>(scanPolicyType, {
        onChange: (policy, deleted) => this.policies.observe(policy, deleted),
        onSynced: synced('scanpolicies'),
        onError: errorLogger('scanpolicies'),
      }),
      this.client.watchNamespaces({
        onChange: (namespace: V1Namespace, deleted) => {
          const name = namespace.metadata?.name ?? '';
          if (deleted) this.namespaces.delete(name);
          else this.namespaces.set(name, namespace.metadata?.labels ?? {});
        },
        onSynced: synced('namespaces'),
        onError: errorLogger('namespaces'),
      }),
      this.client.watchCustom<ImageScan>(imageScanType, {
        onChange: (scan, deleted) => this.images.observe(scan, deleted),
        onSynced: synced('imagescans'),
        onError: errorLogger('imagescans'),
      }),
    );
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  synced(): boolean {
    return this.pending.size === 0;
  }

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    return this.namespaces.get(namespace);
  }
}
