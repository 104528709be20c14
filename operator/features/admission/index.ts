/**
 * The admission side of the process. Every replica: watched caches, the rule engine behind
 * AdmissionHandler, the HTTPS server, and the certificate it serves (re-read from the shared
 * Secret). The leader only: certificate rotation and the ValidatingWebhookConfiguration, through
 * one virtual reconciler so both follow the leadership term like every other write.
 */
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { InformerFactory } from '../../platform/kube/informer';
import type { Registry } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OperatorConfig } from '../../platform/config';
import { KubeApiError, type KubeClient, type ObjectKey, type ResourceType } from '../../platform/kube/client';
import type { Logger } from '../../platform/log';
import { installationOwner, type OwnerLookup } from '../../platform/kube/owner';
import type { EventRecorder } from '../../platform/runtime/events';
import { ensureLeading, keyOf, type ReconcileContext, type ReconcileResult, type Reconciler } from '../../platform/runtime/reconciler';
import { TemplateVerdictCache } from '../../engine/template-verdicts';
import { AdmissionHandler } from './admission';
import { AdmissionCaches } from './caches';
import { WebhookCertificates } from './certs';
import { buildWebhookConfiguration, deleteWebhookConfiguration, resourcesForKinds, syncWebhookConfiguration, type GroupKind, type Operation, type WebhookEndpoint } from './configuration';
import { normalizeImage } from './image-facts';
import { createAdmissionMetrics, type AdmissionMetrics } from './metrics';
import { ScanRequester } from './scan-requests';
import { WebhookServer, validatePath } from './server';
import { ResourceValidationHandler, validateResourcesPath, type ResourceValidator } from './resource-validation';
import type { Notifier } from '../../api/notifications';
import type { AdmissionRequest } from './admission';
import type { PolicyVerdict } from '../../engine/evaluate';

export const webhookName = 'validate.securestack.io';
export const resourcesWebhookName = 'resources.validate.securestack.io';
const webhookKind = 'WebhookConfiguration';
const webhookType: ResourceType = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', kind: webhookKind, namespaced: false };
/** Verdicts kept for pod templates: a few hundred bytes each. */
const verdictCacheEntries = 10_000;
const verdictCacheTtlMs = 10 * 60_000;

export interface Admission {
  caches: AdmissionCaches;
  metrics: AdmissionMetrics;
  server: WebhookServer | undefined;
  reconciler: Reconciler;
  /** Queue key of the webhook reconciler, for Manager.periodicKeys and enqueue. */
  queueKey: string;
  stop(): void;
}

export interface AdmissionDeps {
  config: OperatorConfig;
  client: KubeClient;
  /** The process's shared cache; the admission caches listen on it. */
  informers: InformerFactory;
  log: Logger;
  registry: Registry;
  events: EventRecorder;
  /** Checks of SecureStack's own resources beyond their schemas (the ScheduledScan's schedule). */
  resourceValidators?: readonly ResourceValidator[];
  /** Webhook notifications: policy.violation for each Enforce denial (every replica). */
  notifier?: Notifier;
}

/** Names the webhook certificate covers: the Service, and the host of a configured URL. */
export function webhookHosts(config: OperatorConfig): string[] {
  const service = `${config.webhookServiceName}.${config.namespace}.svc`;
  const fromUrl = config.webhookURL ? [new URL(config.webhookURL).hostname.replace(/^\[|\]$/g, '')] : [];
  return [...new Set([...fromUrl, service, `${service}.cluster.local`, 'localhost', '127.0.0.1'])];
}

/** SecureStack's own images (scanner, uploader), which the vulnerability gate does not judge. */
export function ownImages(config: OperatorConfig): (image: string) => boolean {
  const own = new Set([config.scannerImage, config.uploaderImage].map((image) => normalizeImage(image)?.reference ?? image));
  return (image) => own.has(normalizeImage(image)?.reference ?? image);
}

export async function startAdmission(deps: AdmissionDeps): Promise<Admission> {
  const { config, client, log } = deps;
  const metrics = createAdmissionMetrics(deps.registry);
  const caches = new AdmissionCaches(deps.informers, log.child({ module: 'admission-cache' }));
  caches.start();
  const queueKey = keyOf(webhookKind, { name: config.webhookConfigurationName });
  if (!config.webhookEnabled) {
    return { caches, metrics, server: undefined, reconciler: new DisabledWebhookReconciler(config, client), queueKey, stop: () => caches.stop() };
  }
  const certs = new WebhookCertificates({
    client,
    namespace: config.namespace,
    secretName: config.webhookCertSecret,
    hosts: webhookHosts(config),
    log: log.child({ module: 'webhook-certs' }),
    registry: deps.registry,
    events: deps.events,
    owner: installationOwner(client, config.webhookOwnerClusterRole),
    selfManaged: !config.webhookCertManager,
    caValidityMs: config.webhookCaValidityMs,
    servingValidityMs: config.webhookCertValidityMs,
    ...rotationTimings(config),
  });
  await loadCertificates(certs, config, log);
  certs.start();
  const scans = new ScanRequester(client, metrics, log.child({ module: 'admission-scans' }), (namespace, image) => caches.images.hasScanIn(namespace, image));
  const handler = new AdmissionHandler({
    sources: {
      policies: () => caches.policies.ready(),
      namespaceLabels: (namespace) => caches.namespaceLabels(namespace),
      images: (image) => caches.images.lookup(image),
      gateExempt: ownImages(config),
      synced: () => caches.synced(),
    },
    metrics,
    verdicts: new TemplateVerdictCache(verdictCacheEntries, verdictCacheTtlMs),
    failurePolicy: config.webhookFailurePolicy,
    deadlineMs: config.webhookDeadlineMs,
    requestScans: (namespace, images) => scans.request(namespace, images),
    ...(deps.notifier ? { onDeny: denialPublisher(deps.notifier) } : {}),
  });
  const resources = deps.resourceValidators && deps.resourceValidators.length > 0 ? new ResourceValidationHandler(deps.resourceValidators) : undefined;
  const server = await WebhookServer.start({ port: config.webhookPort, host: config.bindAddress, tls: certs, handler, ...(resources ? { resources } : {}), log, maxBodyBytes: config.webhookMaxBodyBytes });
  const stopListening = certs.onChange(() => log.info('webhook serving certificate reloaded'));
  const reconciler = new WebhookReconciler(config, client, caches, certs, resources);
  return {
    caches,
    metrics,
    server,
    reconciler,
    queueKey,
    stop: () => {
      stopListening();
      certs.stop();
      caches.stop();
    },
  };
}

/**
 * A denial as a policy.violation notification. The AdmissionReview uid identifies the request
 * (the API server sends the same uid when it calls again for it), so it is the dedupe key.
 */
export function denialPublisher(notifier: Notifier): (request: AdmissionRequest, enforced: readonly PolicyVerdict[], message: string) => void {
  return (request, enforced, message) => {
    const object = request.object ?? request.oldObject;
    const { group, version, kind } = request.kind;
    notifier.publish({
      type: 'policy.violation',
      subject: {
        apiVersion: group ? `${group}/${version}` : version,
        kind,
        ...(request.namespace ? { namespace: request.namespace } : {}),
        name: request.name || object?.metadata?.name || `${object?.metadata?.generateName ?? ''}*`,
      },
      occurredAt: new Date().toISOString(),
      dedupeKey: `admission/${request.uid}`,
      data: {
        source: 'admission',
        mode: 'Enforce',
        operation: request.operation,
        policies: enforced.map((verdict) => verdict.policy.name),
        rules: [...new Set(enforced.flatMap((verdict) => verdict.violations.map((violation) => violation.ruleId)))],
        message: message.slice(0, 4096),
      },
    });
  };
}

/**
 * With cert-manager the Secret may not be issued yet when the pod starts: wait for it (the pod
 * stays unready, not crash-looping). A self-managed Secret is created by load() itself, so a
 * failure there is an error worth stopping for.
 */
async function loadCertificates(certs: WebhookCertificates, config: OperatorConfig, log: Logger): Promise<Awaited<ReturnType<WebhookCertificates['load']>>> {
  for (let delay = 1_000; ; delay = Math.min(delay * 2, 30_000)) {
    try {
      return await certs.load();
    } catch (err) {
      if (!config.webhookCertManager) throw err;
      log.warn({ secret: `${config.namespace}/${config.webhookCertSecret}`, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'waiting for cert-manager to issue the webhook certificate');
      await sleep(delay);
    }
  }
}

/**
 * Short validities (tests, demos) need rotation checks and Secret re-reads well inside them;
 * production validities keep the defaults of a minute.
 */
function rotationTimings(config: OperatorConfig): { refreshIntervalMs: number; propagationDelayMs: number } {
  const shortest = Math.min(config.webhookCertValidityMs, config.webhookCaValidityMs);
  const refreshIntervalMs = Math.max(500, Math.min(60_000, Math.floor(shortest / 20)));
  return { refreshIntervalMs, propagationDelayMs: Math.max(2 * refreshIntervalMs, Math.min(5 * 60_000, Math.floor(shortest / 8))) };
}

/**
 * Leader, with the webhook turned off: removes the configuration SecureStack made earlier, so no
 * request keeps going to a webhook nobody serves (fatal under failurePolicy Fail).
 */
class DisabledWebhookReconciler implements Reconciler {
  readonly type = webhookType;
  readonly virtual = true;

  constructor(private readonly config: OperatorConfig, private readonly client: KubeClient) {}

  async reconcile(_key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    ensureLeading(context);
    try {
      if (await deleteWebhookConfiguration(this.client, this.config.webhookConfigurationName, managedBy)) {
        context.log.info('deleted the webhook configuration: the webhook is disabled');
      }
    } catch (err) {
      // An installation that never had the webhook may not grant access to configurations.
      if (!(err instanceof KubeApiError && err.code === 403)) throw err;
      context.log.debug({ err: err.message }, 'may not read webhook configurations; nothing to clean up');
    }
    return {};
  }
}

const managedBy = { 'app.kubernetes.io/managed-by': 'securestack' };

/** Where the API server sends reviews for `path`: the Service, or the configured URL's origin (tests, out-of-cluster). */
function endpointAt(config: OperatorConfig, path: string): WebhookEndpoint {
  if (!config.webhookURL) return { service: { namespace: config.namespace, name: config.webhookServiceName, port: 443, path } };
  // The configured URL names the policy endpoint; other paths are served beside it.
  return { url: path === validatePath ? config.webhookURL : new URL(path, config.webhookURL).toString() };
}

/** Kinds and operations the Ready policies need sent to the webhook. */
export function webhookScope(policies: ReturnType<AdmissionCaches['policies']['ready']>): { kinds: GroupKind[]; operations: Operation[] } {
  const kinds = new Map<string, GroupKind>();
  const operations = new Set<Operation>();
  for (const policy of policies) {
    for (const kind of policy.match.kinds) kinds.set(`${kind.group ?? ''}/${kind.kind}`, { group: kind.group ?? '', kind: kind.kind });
    for (const operation of policy.match.operations) operations.add(operation);
  }
  return { kinds: [...kinds.values()], operations: [...operations].sort() };
}

/** Leader: rotates certificates when due and keeps the ValidatingWebhookConfiguration current. */
class WebhookReconciler implements Reconciler {
  readonly type = webhookType;
  readonly virtual = true;

  constructor(
    private readonly config: OperatorConfig,
    private readonly client: KubeClient,
    private readonly caches: AdmissionCaches,
    private readonly certs: WebhookCertificates,
    private readonly resources: ResourceValidationHandler | undefined,
  ) {}

  async reconcile(_key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    if (!this.caches.synced()) return { requeueAfterMs: 500 };
    ensureLeading(context);
    const steps = this.config.webhookCertManager ? [] : await this.certs.rotateIfDue();
    if (steps.length > 0) context.log.info({ steps }, 'webhook certificates rotated');
    const { kinds, operations } = webhookScope(this.caches.policies.ready());
    const rules = kinds.length > 0 ? await resourcesForKinds(this.client, kinds, operations) : [];
    const config = this.config;
    const desired = buildWebhookConfiguration({
      name: config.webhookConfigurationName,
      webhookName,
      endpoint: endpointAt(config, validatePath),
      ...(this.resources ? { resourceValidation: { webhookName: resourcesWebhookName, endpoint: endpointAt(config, validateResourcesPath), rules: this.resources.rules() } } : {}),
      caBundlePem: this.certs.current().caBundlePem,
      failurePolicy: config.webhookFailurePolicy,
      timeoutSeconds: config.webhookTimeoutSeconds,
      rules,
      operatorNamespace: config.namespace,
      excludedNamespaces: config.webhookExcludeNamespaces,
      labels: managedBy,
    });
    const owner = await this.owner();
    if (owner && desired.metadata) desired.metadata.ownerReferences = [owner];
    ensureLeading(context);
    const result = await syncWebhookConfiguration(this.client, desired);
    if (result !== 'unchanged') context.log.info({ result, rules: rules.length }, 'webhook configuration synced');
    return { requeueAfterMs: rotationTimings(config).refreshIntervalMs };
  }

  /** The installation's ClusterRole as owner: deleting the release garbage-collects the configuration. */
  private owner(): Promise<V1OwnerReference | undefined> {
    this.ownerLookup ??= installationOwner(this.client, this.config.webhookOwnerClusterRole);
    return this.ownerLookup();
  }

  private ownerLookup: OwnerLookup | undefined;
}
