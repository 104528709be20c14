/**
 * Kubernetes Events for the objects SecureStack manages, so `kubectl describe` tells the story.
 * Recording an Event is best effort: a failure is logged and counted, never fails a reconcile.
 */
import { randomBytes } from 'node:crypto';
import type { ApiObject, KubeClient } from '../kube/client';
import type { Logger } from '../log';

export type EventType = 'Normal' | 'Warning';

/** Events for cluster-scoped objects go here, as kubectl and client-go do. */
const clusterScopedEventNamespace = 'default';

export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly instance: string,
  ) {}

  async record(object: ApiObject, type: EventType, reason: string, message: string, log: Logger): Promise<void> {
    const meta = object.metadata ?? {};
    const namespace = meta.namespace ?? clusterScopedEventNamespace;
    const now = new Date();
    try {
      await this.client.createEvent(namespace, {
        metadata: { name: `${meta.name ?? 'object'}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
        type,
        reason,
        // The API rejects Event messages over 1 KiB.
        message: message.slice(0, 1024),
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: this.instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (err) {
      log.warn({ reason, err: err instanceof Error ? err.message : String(err) }, 'could not record event');
    }
  }
}
