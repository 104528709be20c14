/**
 * Wiring of signed webhook notifications (docs/notifications.md): receivers from the settings,
 * signing keys from Secrets, this replica's durable shard, the notifier. Without receivers the
 * port is the no-op notifier and nothing else starts.
 */
import type { Registry } from 'prom-client';
import type { OperatorConfig } from '../../platform/config';
import type { KubeClient } from '../../platform/kube/client';
import type { Logger } from '../../platform/log';
import { installationOwner } from '../../platform/kube/owner';
import type { EventRecorder } from '../../platform/runtime/events';
import { noNotifier, type Notifier } from './events';
import { SecretKeys } from './keys';
import { createNotifyMetrics } from './metrics';
import { WebhookNotifier } from './notifier';
import type { ReceiverConfig } from './receivers';
import { ConfigMapDeliveryStore } from './shards';

export { loadReceivers } from './receivers';

/** Signing keys are read again this often (a rotated Secret takes effect without a restart). */
const keyRefreshMs = 60_000;

export type NotifySettings = Pick<
  OperatorConfig,
  'namespace' | 'identity' | 'leaseName' | 'notifyQueueSize' | 'notifyTimeoutMs' | 'notifyMaxAttempts' | 'notifyBackoffMs' | 'notifyBackoffCapMs' | 'notifyConcurrency' | 'notifyFlushIntervalMs' | 'notifyAdoptAfterMs' | 'notifyMaxBodyBytes' | 'webhookOwnerClusterRole'
>;

export interface NotificationsDeps {
  config: NotifySettings;
  receivers: readonly ReceiverConfig[];
  client: KubeClient;
  log: Logger;
  registry: Registry;
  events: EventRecorder;
  /** Whether this process leads now: only the leader adopts the shards of stopped replicas. */
  isLeader(): boolean;
}

export interface Notifications {
  notifier: Notifier;
  stop(): Promise<void>;
}

export async function startNotifications(deps: NotificationsDeps): Promise<Notifications> {
  const { config, receivers, client } = deps;
  if (receivers.length === 0) return { notifier: noNotifier, stop: () => Promise.resolve() };
  const log = deps.log.child({ module: 'notify' });
  const metrics = createNotifyMetrics(deps.registry);
  // Events about receivers go on the operator's Lease: it always exists in the operator's
  // namespace, and `kubectl describe lease` is where operators of the operator look.
  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: config.leaseName, namespace: config.namespace } };
  // The key source reports changes to the notifier, which is made after it (it needs the keys).
  const notifierRef: { current?: WebhookNotifier } = {};
  const keys = new SecretKeys({
    client,
    namespace: config.namespace,
    receivers,
    refreshMs: keyRefreshMs,
    onChange: (receiver, state) => notifierRef.current?.keyChanged(receiver, state.problem),
  });
  const third = Math.max(500, Math.floor(config.notifyAdoptAfterMs / 3));
  const notifier = new WebhookNotifier({
    receivers,
    keys,
    log,
    metrics,
    queueSize: config.notifyQueueSize,
    timeoutMs: config.notifyTimeoutMs,
    maxAttempts: config.notifyMaxAttempts,
    backoff: { baseMs: config.notifyBackoffMs, capMs: config.notifyBackoffCapMs },
    concurrency: config.notifyConcurrency,
    maxBodyBytes: config.notifyMaxBodyBytes,
    store: new ConfigMapDeliveryStore({ client, namespace: config.namespace, identity: config.identity, adoptAfterMs: config.notifyAdoptAfterMs, owner: installationOwner(client, config.webhookOwnerClusterRole) }),
    flushIntervalMs: config.notifyFlushIntervalMs,
    heartbeatMs: third,
    adoptIntervalMs: third,
    isLeader: () => deps.isLeader(),
    alert: (receiver, message) => void deps.events.record(lease, 'Warning', 'NotificationReceiverUnusable', message, log.child({ receiver })),
  });
  notifierRef.current = notifier;
  for (const receiver of receivers) metrics.receiverUsable.set({ receiver: receiver.name }, 0);
  await keys.load();
  keys.start();
  await notifier.start();
  log.info({ receivers: receivers.map((receiver) => ({ name: receiver.name, url: receiver.url.origin + receiver.url.pathname, events: [...receiver.events] })) }, 'webhook notifications on');
  return {
    notifier,
    stop: async () => {
      keys.stop();
      await notifier.stop();
    },
  };
}
