/**
 * The ValidatingWebhookConfiguration that sends AdmissionReviews to SecureStack.
 *
 * buildWebhookConfiguration is pure: the same options give the same object, so the leader can
 * rebuild it whenever the CA bundle or the policies' kinds change and syncWebhookConfiguration
 * writes only when something differs. Safety is built in, not optional: the operator's own
 * namespace and kube-system are never sent to the webhook (a broken webhook must not be able to
 * block its own repair or the control plane), and neither are Leases, Events or TokenReviews
 * (leader election, event recording and authentication must never wait on us).
 *
 * resourcesForKinds turns policy kinds into webhook rules through API discovery; it makes
 * several API calls, so it runs in the leader's background loop, never on a request path.
 */
import type { V1LabelSelector, V1LabelSelectorRequirement, V1MatchCondition, V1ValidatingWebhook, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, type KubeClient, type ResourceType } from '../../platform/kube/client';

export type FailurePolicy = 'Fail' | 'Ignore';
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | '*';
export type RuleScope = 'Cluster' | 'Namespaced' | '*';

/** admissionregistration.k8s.io/v1 RuleWithOperations. */
export interface WebhookRule {
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  operations: Operation[];
  scope: RuleScope;
}

/** Where the API server sends AdmissionReviews: the operator's Service, or a URL (tests). */
export type WebhookEndpoint =
  | { service: { namespace: string; name: string; port?: number; path?: string } }
  | { url: string };

export interface WebhookConfigurationOptions {
  /** Name of the ValidatingWebhookConfiguration. */
  name: string;
  /** Name of its one webhook, a fully qualified name such as validate.securestack.io. */
  webhookName: string;
  endpoint: WebhookEndpoint;
  /** PEM of every CA the API server must trust for the webhook's serving certificate. */
  caBundlePem: string;
  failurePolicy: FailurePolicy;
  /** 1 to 30 (the API's limit). */
  timeoutSeconds: number;
  rules: WebhookRule[];
  /** Never sent to the webhook, nor is kube-system. */
  operatorNamespace: string;
  /** More namespaces never sent to the webhook. */
  excludedNamespaces?: string[];
  /** Extra namespace requirements; the exclusions above are always added to them. */
  namespaceSelector?: V1LabelSelector;
  labels?: Record<string, string>;
  /**
   * A second webhook that checks SecureStack's own resources (a ScheduledScan's schedule and time
   * zone) beyond what their CRD schemas can: failurePolicy Ignore, since the controllers check the
   * same again and report it on the status, and no namespace is excluded but kube-system.
   */
  resourceValidation?: { webhookName: string; endpoint: WebhookEndpoint; rules: WebhookRule[] };
}

/** A Kubernetes API group ('' for core, '*' for any) and kind ('*' for any). */
export interface GroupKind {
  group: string;
  kind: string;
}

export type SyncResult = 'created' | 'replaced' | 'unchanged';

/** Namespaces excluded whatever the options say. */
export const alwaysExcludedNamespaces: readonly string[] = ['kube-system'];

/** Resources never sent to the webhook, whatever the rules say: excluded by rules and by matchConditions. */
export const neverSentResources: readonly { group: string; resource: string }[] = [
  { group: 'coordination.k8s.io', resource: 'leases' },
  { group: '', resource: 'events' },
  { group: 'events.k8s.io', resource: 'events' },
  { group: 'authentication.k8s.io', resource: 'tokenreviews' },
];

/**
 * Evaluated by the API server before calling the webhook; any false skips it. They hold even if
 * a rule with wildcards (written by hand or by an older operator) would match these resources.
 */
const safetyMatchConditions: V1MatchCondition[] = [
  { name: 'exclude-leases', expression: "!(request.resource.group == 'coordination.k8s.io' && request.resource.resource == 'leases')" },
  { name: 'exclude-events', expression: "!(request.resource.group in ['', 'events.k8s.io'] && request.resource.resource == 'events')" },
  { name: 'exclude-tokenreviews', expression: "!(request.resource.group == 'authentication.k8s.io' && request.resource.resource == 'tokenreviews')" },
];

const namespaceNameLabel = 'kubernetes.io/metadata.name';

const webhookConfigurations: ResourceType = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'validatingwebhookconfigurations',
  kind: 'ValidatingWebhookConfiguration',
  namespaced: false,
};

export function buildWebhookConfiguration(options: WebhookConfigurationOptions): V1ValidatingWebhookConfiguration {
  checkOptions(options);
  const webhook: V1ValidatingWebhook = {
    name: options.webhookName,
    clientConfig: { ...clientConfigOf(options.endpoint), caBundle: Buffer.from(options.caBundlePem, 'utf8').toString('base64') },
    rules: options.rules.map((rule) => ({ ...rule, apiGroups: [...rule.apiGroups], apiVersions: [...rule.apiVersions], resources: [...rule.resources], operations: [...rule.operations] })),
    failurePolicy: options.failurePolicy,
    // Equivalent: a request in another version of a matched resource is converted, not missed.
    matchPolicy: 'Equivalent',
    namespaceSelector: namespaceSelectorOf(options),
    matchConditions: safetyMatchConditions.map((condition) => ({ ...condition })),
    // The webhook may create ImageScans (asynchronously) but never on a dry run.
    sideEffects: 'NoneOnDryRun',
    timeoutSeconds: options.timeoutSeconds,
    admissionReviewVersions: ['v1'],
  };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: options.name, labels: { ...options.labels, 'app.kubernetes.io/managed-by': 'securestack' } },
    webhooks: options.resourceValidation ? [webhook, resourceWebhook(options, options.resourceValidation)] : [webhook],
  };
}

function resourceWebhook(options: WebhookConfigurationOptions, validation: NonNullable<WebhookConfigurationOptions['resourceValidation']>): V1ValidatingWebhook {
  return {
    name: validation.webhookName,
    clientConfig: { ...clientConfigOf(validation.endpoint), caBundle: Buffer.from(options.caBundlePem, 'utf8').toString('base64') },
    rules: validation.rules.map((rule) => ({ ...rule, apiGroups: [...rule.apiGroups], apiVersions: [...rule.apiVersions], resources: [...rule.resources], operations: [...rule.operations] })),
    failurePolicy: 'Ignore',
    matchPolicy: 'Equivalent',
    namespaceSelector: { matchExpressions: [{ key: namespaceNameLabel, operator: 'NotIn', values: [...alwaysExcludedNamespaces] }] },
    sideEffects: 'None',
    timeoutSeconds: options.timeoutSeconds,
    admissionReviewVersions: ['v1'],
  };
}

function checkOptions(options: WebhookConfigurationOptions): void {
  if (!Number.isInteger(options.timeoutSeconds) || options.timeoutSeconds < 1 || options.timeoutSeconds > 30) {
    throw new Error(`timeoutSeconds must be an integer from 1 to 30, got ${options.timeoutSeconds}`);
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(options.caBundlePem)) throw new Error('caBundlePem holds no PEM certificate');
  for (const name of [options.webhookName, ...(options.resourceValidation ? [options.resourceValidation.webhookName] : [])]) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?){2,}$/.test(name)) {
      throw new Error(`webhookName must be a fully qualified name with at least three segments, got '${name}'`);
    }
  }
  for (const endpoint of [options.endpoint, ...(options.resourceValidation ? [options.resourceValidation.endpoint] : [])]) {
    if ('url' in endpoint && new URL(endpoint.url).protocol !== 'https:') throw new Error('the webhook URL must be https');
  }
}

function clientConfigOf(endpoint: WebhookEndpoint): V1ValidatingWebhook['clientConfig'] {
  if ('url' in endpoint) return { url: endpoint.url };
  const { namespace, name, port, path } = endpoint.service;
  return { service: { namespace, name, port: port ?? 443, path: path ?? '/validate' } };
}

function namespaceSelectorOf(options: WebhookConfigurationOptions): V1LabelSelector {
  const excluded = [...new Set([options.operatorNamespace, ...alwaysExcludedNamespaces, ...(options.excludedNamespaces ?? [])])].sort();
  const exclusion: V1LabelSelectorRequirement = { key: namespaceNameLabel, operator: 'NotIn', values: excluded };
  const extra = options.namespaceSelector ?? {};
  return {
    ...(extra.matchLabels ? { matchLabels: { ...extra.matchLabels } } : {}),
    matchExpressions: [...(extra.matchExpressions ?? []).map((requirement) => ({ ...requirement })), exclusion],
  };
}

// ---- sync -----------------------------------------------------------------------------------

/**
 * Creates the configuration or replaces it when it differs from `desired`; labels and
 * annotations others put on it (e.g. cert-manager's inject-ca-from) are kept. A conflict with
 * another writer re-reads and tries again.
 */
export async function syncWebhookConfiguration(client: KubeClient, desired: V1ValidatingWebhookConfiguration, attempts = 5): Promise<SyncResult> {
  const name = desired.metadata?.name ?? '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    const existing = await client.getCustom<V1ValidatingWebhookConfiguration>(webhookConfigurations, { name });
    try {
      if (!existing) {
        await client.createCustom(webhookConfigurations, desired);
        return 'created';
      }
      if (upToDate(existing, desired)) return 'unchanged';
      await client.replaceCustom(webhookConfigurations, merged(existing, desired));
      return 'replaced';
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err)) throw err;
    }
  }
  throw new Error(`could not write ValidatingWebhookConfiguration ${name}: it kept changing under us`);
}

/** Returns false when it was already gone (or, with `onlyLabelled`, is not one of ours). */
export async function deleteWebhookConfiguration(client: KubeClient, name: string, onlyLabelled?: Record<string, string>): Promise<boolean> {
  const existing = await client.getCustom<V1ValidatingWebhookConfiguration>(webhookConfigurations, { name });
  if (!existing) return false;
  if (onlyLabelled && !contains(existing.metadata?.labels ?? {}, onlyLabelled)) return false;
  await client.deleteCustom(webhookConfigurations, { name });
  return true;
}

function upToDate(existing: V1ValidatingWebhookConfiguration, desired: V1ValidatingWebhookConfiguration): boolean {
  // The API server fills in defaults (objectSelector, service port, ...): compare only what we set.
  return contains(existing.webhooks, desired.webhooks) && contains(existing.metadata?.labels ?? {}, desired.metadata?.labels ?? {}) && contains(existing.metadata?.ownerReferences, desired.metadata?.ownerReferences);
}

function merged(existing: V1ValidatingWebhookConfiguration, desired: V1ValidatingWebhookConfiguration): V1ValidatingWebhookConfiguration {
  const meta = existing.metadata ?? {};
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      // Sent back so a write based on a stale read fails with 409.
      resourceVersion: meta.resourceVersion,
      labels: { ...meta.labels, ...desired.metadata?.labels },
      annotations: { ...meta.annotations, ...desired.metadata?.annotations },
    },
  };
}

/** True when every value set in `wanted` is also in `actual` (arrays: same length, element-wise). */
function contains(actual: unknown, wanted: unknown): boolean {
  if (wanted === undefined) return true;
  if (Array.isArray(wanted)) {
    return Array.isArray(actual) && actual.length === wanted.length && wanted.every((item, i) => contains(actual[i], item));
  }
  if (typeof wanted === 'object' && wanted !== null) {
    if (typeof actual !== 'object' || actual === null) return false;
    const record = actual as Record<string, unknown>;
    return Object.entries(wanted).every(([key, value]) => contains(record[key], value));
  }
  return actual === wanted;
}

// ---- rules from API discovery -------------------------------------------------------------

/** A resource as discovery lists it (plural may name a subresource, "pods/ephemeralcontainers"). */
export type DiscoveredResource = ResourceType & { verbs: string[] };

/**
 * Subresources sent along with their parent: an ephemeral container is a new container in a
 * running Pod, added through this subresource only.
 */
const sentSubresources: Record<string, string[]> = { '/pods': ['ephemeralcontainers'] };

/** Webhook rules for the kinds, from API discovery (several API calls: background only). */
export async function resourcesForKinds(client: KubeClient, kinds: readonly GroupKind[], operations: Operation[] = ['CREATE', 'UPDATE']): Promise<WebhookRule[]> {
  const { resources } = await client.discoverResources();
  return rulesFromDiscovery(resources, kinds, operations);
}

/**
 * The pure part of resourcesForKinds: one rule per group, preferred version and scope, sorted so
 * the same cluster always gives the same rules (and the configuration is not rewritten).
 */
export function rulesFromDiscovery(resources: readonly DiscoveredResource[], kinds: readonly GroupKind[], operations: Operation[]): WebhookRule[] {
  const byRule = new Map<string, WebhookRule>();
  const topLevel = resources.filter((r) => !r.plural.includes('/') && admissible(r) && !neverSent(r));
  for (const resource of topLevel.filter((r) => kinds.some((kind) => matches(kind, r)))) {
    const scope: RuleScope = resource.namespaced ? 'Namespaced' : 'Cluster';
    const key = `${resource.group}/${resource.version}/${scope}`;
    const rule = byRule.get(key) ?? { apiGroups: [resource.group], apiVersions: [resource.version], resources: [], operations: [...operations], scope };
    byRule.set(key, rule);
    rule.resources.push(resource.plural);
    for (const sub of sentSubresources[`${resource.group}/${resource.plural}`] ?? []) {
      const plural = `${resource.plural}/${sub}`;
      if (resources.some((r) => r.group === resource.group && r.version === resource.version && r.plural === plural)) rule.resources.push(plural);
    }
  }
  const rules = [...byRule.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, rule]) => rule);
  for (const rule of rules) rule.resources.sort();
  return rules;
}

function matches(kind: GroupKind, resource: DiscoveredResource): boolean {
  return (kind.group === '*' || kind.group === resource.group) && (kind.kind === '*' || kind.kind === resource.kind);
}

/**
 * Objects that are stored and can be written: not reviews and other create-only virtual
 * resources. Admission configuration itself is never sent to webhooks by the API server, so a
 * rule for it would only mislead the reader.
 */
function admissible(resource: DiscoveredResource): boolean {
  if (resource.group === 'admissionregistration.k8s.io') return false;
  return resource.verbs.includes('get') && ['create', 'update', 'patch', 'delete'].some((verb) => resource.verbs.includes(verb));
}

function neverSent(resource: DiscoveredResource): boolean {
  return neverSentResources.some((never) => never.group === resource.group && never.resource === resource.plural);
}
