/**
 * The watched state admission and the audit read: ScanPolicies (compiled), Namespace labels and
 * ImageScan facts. Every replica keeps its own, fed by watches, so answering an AdmissionReview
 * never waits on the API server.
 */
import type { ScanPolicy } from '../../api/types.generated';
import { imageScanType, scanPolicyType } from '../../api/resources';
import { collectionPath } from '../../platform/kube/client';
import type { Informer, InformerFactory, RawObject } from '../../platform/kube/informer';
import type { Logger } from '../../platform/log';
import { ImageFactsIndex } from './image-facts';
import { PolicyStore } from './policy-store';

const namespacesPath = collectionPath({ group: '', version: 'v1', plural: 'namespaces' });

export class AdmissionCaches {
  readonly policies = new PolicyStore();
  readonly images: ImageFactsIndex;
  /** Namespaces as the shared informer keeps them (metadata, labels included). */
  private readonly namespaces: Informer;
  private readonly informers: Informer[] = [];

  /** Listens on the process's shared informers: no watch of its own. */
  constructor(private readonly factory: InformerFactory, private readonly log: Logger) {
    // Whole ImageScans (their status says what was found), indexed before the informers start.
    this.images = ImageFactsIndex.on(factory.informer(collectionPath(imageScanType), { keep: 'object' }));
    this.namespaces = factory.informer(namespacesPath);
  }

  start(): void {
    const listen = (path: string, what: string, observe?: (object: RawObject, deleted: boolean) => void): void => {
      const informer = this.factory.informer(path);
      if (observe) informer.addListener((event) => observe(event.object, event.deleted));
      void informer.waitForSync().then(() => this.log.info({ watch: what }, 'admission cache synced'));
      this.informers.push(informer);
    };
    // The custom objects arrive as the API server validated them against the CRD schema that the
    // types are generated from.
    listen(collectionPath(scanPolicyType), 'scanpolicies', (policy, deleted) => this.policies.observe(policy as unknown as ScanPolicy, deleted));
    // Namespaces and ImageScans: read from the shared store and its indexes; waited for like the others.
    listen(namespacesPath, 'namespaces');
    listen(collectionPath(imageScanType), 'imagescans');
  }

  /** The informers are the factory's: stopping them is its owner's business. */
  stop(): void {
    this.informers.splice(0);
  }

  synced(): boolean {
    return this.informers.length > 0 && this.informers.every((informer) => informer.synced());
  }

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    const known = this.namespaces.get(undefined, namespace);
    return known ? ((known.metadata?.labels as Record<string, string> | undefined) ?? {}) : undefined;
  }
}
