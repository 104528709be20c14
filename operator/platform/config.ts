/**
 * Operator configuration from flags and environment. Every setting has one parser; a bad value
 * stops the process at start with one line naming the setting, instead of failing later in a
 * reconcile where nobody looks.
 *
 * A flag `--workers=4` wins over the environment variable `SECURESTACK_WORKERS=4`.
 */
import { hostname } from 'node:os';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface OperatorConfig {
  /** Namespace the operator runs in: its Lease (and later its certificates) live here. */
  namespace: string;
  /** Unique identity of this process in the leader election. */
  identity: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  metricsPort: number;
  /** Address the health and metrics server binds to. */
  bindAddress: string;
  workers: number;
  resyncPeriodMs: number;
  shutdownTimeoutMs: number;
  logLevel: LogLevel;
  /** Scanner image used when an ImageScan names none; pinned by tag. */
  scannerImage: string;
  /** How long finished scan Jobs stay before the TTL controller removes them. */
  scanJobTtlSeconds: number;
  /**
   * Fault injection for tests: sleep this long between reading an object and writing its
   * status, so a test can edit the object in that window and force a 409 conflict.
   */
  debugReconcileDelayMs: number;
  /** Scan Jobs running at once, cluster-wide. */
  maxConcurrentScans: number;
  /** Failed scan Jobs retried (with backoff) before the ImageScan is Failed for good. */
  scanRetries: number;
  /** First retry delay after a failed scan Job; doubles with every further attempt. */
  scanRetryBackoffMs: number;
  /** A completed result older than this is scanned again. */
  rescanAfterMs: number;
  /** Shared scan cache; empty means the in-memory cache only. */
  redisURL: string;
  cacheMaxEntries: number;
  /** Trivy server for client/server mode; empty means each Job uses its own DB. */
  trivyServerURL: string;
  /** How often the Trivy server's DB version is read; a new version rescans older results. */
  dbPollIntervalMs: number;
  /** OCI repository of the vulnerability DB when there is no Trivy server; empty: Trivy's default. */
  trivyDbRepository: string;
  /** Registries (host[:port]) spoken to over plain HTTP. */
  insecureRegistries: string[];
  /** The report endpoint scan Jobs upload to. */
  reportPort: number;
  /** How scan Jobs reach the report endpoint: https://<service>.<namespace>.svc:<port> by default. */
  reportURL: string;
  /** Image with the uploader: the operator's own image. */
  uploaderImage: string;
  /** ServiceAccount scan pods run as, in the ImageScan's namespace. */
  scanServiceAccount: string;
  /** Secret (in the operator's namespace) holding the CA and the report endpoint's certificate. */
  reportCertSecret: string;
  /** Keep an ImageScan for every image running pods use. */
  workloadScanning: boolean;
  workloadNamespaces: string[];
  workloadExcludeNamespaces: string[];
  /** Pod label requirements: key=value, key!=value, key, !key. */
  workloadPodSelector: string[];
  /** How long an ImageScan the vulnerability gate asked for stays while no running pod uses its image. */
  admissionScanGraceMs: number;
  /** Serve the admission webhook (every replica) and keep its configuration (the leader). */
  webhookEnabled: boolean;
  webhookPort: number;
  /** URL the API server calls; empty means the Service https://<service>.<namespace>.svc:443/validate. */
  webhookURL: string;
  webhookServiceName: string;
  /** Name of the ValidatingWebhookConfiguration the leader keeps. */
  webhookConfigurationName: string;
  /** What the API server does when the webhook cannot answer: Fail (deny) or Ignore (admit). */
  webhookFailurePolicy: 'Fail' | 'Ignore';
  webhookTimeoutSeconds: number;
  /** Evaluation stops after this long and the request follows failurePolicy; below the timeout. */
  webhookDeadlineMs: number;
  webhookMaxBodyBytes: number;
  /** Secret with the webhook's CA and serving certificate. */
  webhookCertSecret: string;
  /** cert-manager writes the webhook certificate Secret; the operator only reads it. */
  webhookCertManager: boolean;
  webhookCaValidityMs: number;
  webhookCertValidityMs: number;
  /**
   * ClusterRole that owns the ValidatingWebhookConfiguration, so deleting the installation (the
   * chart's ClusterRole) garbage-collects it; empty: no owner.
   */
  webhookOwnerClusterRole: string;
  /** Namespaces never sent to the webhook, besides the operator's own. */
  webhookExcludeNamespaces: string[];
  /** How often the background audit re-evaluates existing objects against every Ready policy. */
  auditIntervalMs: number;
  /**
   * The resource controllers this process runs, as kube-controller-manager's --controllers:
   * `*` for all, or a list of imagescan, scanpolicy, compliancereport, scheduledscan. The
   * webhook, certificates and leader election run regardless.
   */
  controllers: ControllerName[];
  /**
   * OpenReports (openreports.io/v1alpha1 Report and ClusterReport) for ComplianceReports: `auto`
   * writes them when the API server serves that API, `off` never.
   */
  openReports: 'auto' | 'off';
  /**
   * Namespaces whose ComplianceReports may cover other namespaces and the whole cluster, besides
   * the operator's own. A report elsewhere covers its own namespace only: results name objects
   * and what is wrong with them, which a tenant must not read about another's.
   */
  complianceClusterNamespaces: string[];
  // ---- signed webhook notifications (docs/notifications.md) ----
  /**
   * The receivers as a JSON array (checked in full at start by features/notify/receivers.ts,
   * which stops the process with a line naming this setting); empty: notifications off.
   */
  notifyReceivers: string;
  /** A file holding that JSON array instead (a mounted ConfigMap, say); not both. */
  notifyReceiversFile: string;
  /** Pending deliveries kept per replica; past it the oldest is dropped (and counted). */
  notifyQueueSize: number;
  /** One attempt (connect, TLS, request, answer) ends after this long. */
  notifyTimeoutMs: number;
  /** Attempts per delivery before it is given up (and counted as failed). */
  notifyMaxAttempts: number;
  /** First retry delay; doubles per failed attempt, with jitter. */
  notifyBackoffMs: number;
  /** Longest retry delay (also the most a receiver's Retry-After is honoured for). */
  notifyBackoffCapMs: number;
  /** Attempts in flight per receiver. */
  notifyConcurrency: number;
  /** How often changed pending deliveries are written to this replica's ConfigMap. */
  notifyFlushIntervalMs: number;
  /** A replica's shard silent this long is adopted by the leader. */
  notifyAdoptAfterMs: number;
  /** Largest delivery body; a larger event is dropped (and counted). */
  notifyMaxBodyBytes: number;
}

export class ConfigError extends Error {}

export const controllerNames = ['imagescan', 'scanpolicy', 'compliancereport', 'scheduledscan'] as const;
export type ControllerName = (typeof controllerNames)[number];

function controllerList(raw: string): ControllerName[] {
  if (raw.trim() === '*') return [...controllerNames];
  const items = raw.split(',').map((item) => item.trim());
  const chosen = controllerNames.filter((name) => items.includes(name));
  if (chosen.length !== items.length || items.length === 0) throw new Error('unknown controller');
  return chosen;
}

interface Setting<K extends keyof OperatorConfig> {
  key: K;
  env: string;
  flag: string;
  parse: (raw: string) => OperatorConfig[K];
  fallback: () => OperatorConfig[K];
  /** Human description of what is allowed, used in the error line. */
  expects: string;
}

const dns1123 = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const durationPattern = /^(\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations such as 500ms, 15s, 10m, 1h30m. */
export function parseDuration(raw: string): number {
  if (!durationPattern.test(raw)) throw new Error('not a duration');
  let total = 0;
  for (const [, amount, unit] of raw.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * (unitMs[unit ?? 's'] ?? 0);
  }
  return total;
}

function integer(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw)) throw new Error('not an integer');
    const value = Number(raw);
    if (value < min || value > max) throw new Error('out of range');
    return value;
  };
}

function duration(minMs: number, maxMs: number) {
  return (raw: string): number => {
    const value = parseDuration(raw);
    if (value < minMs || value > maxMs) throw new Error('out of range');
    return value;
  };
}

function boolean(raw: string): boolean {
  if (raw !== 'true' && raw !== 'false') throw new Error('not a boolean');
  return raw === 'true';
}

function matching(pattern: RegExp) {
  return (raw: string): string => {
    if (!pattern.test(raw)) throw new Error('bad format');
    return raw;
  };
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    const found = values.find((value) => value === raw);
    if (found === undefined) throw new Error('not allowed');
    return found;
  };
}

function list(pattern: RegExp) {
  return (raw: string): string[] => {
    const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    if (!items.every((item) => pattern.test(item))) throw new Error('bad item');
    return items;
  };
}

function url(protocols: readonly string[]) {
  return (raw: string): string => {
    const parsed = new URL(raw);
    if (!protocols.includes(parsed.protocol)) throw new Error('bad protocol');
    return raw.replace(/\/+$/, '');
  };
}

const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

// Settings are listed as a table so flag names, env names and validation cannot drift apart.
const settings: { [K in keyof OperatorConfig]: Setting<K> } = {
  namespace: {
    key: 'namespace', env: 'SECURESTACK_NAMESPACE', flag: 'namespace',
    parse: matching(dns1123), fallback: () => 'securestack-system',
    expects: 'a DNS-1123 label such as securestack-system',
  },
  identity: {
    key: 'identity', env: 'SECURESTACK_IDENTITY', flag: 'identity',
    parse: matching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
    fallback: () => process.env.POD_NAME ?? `${hostname()}-${process.pid}`,
    expects: 'up to 128 letters, digits, dots, dashes, underscores or colons',
  },
  leaseName: {
    key: 'leaseName', env: 'SECURESTACK_LEASE_NAME', flag: 'lease-name',
    parse: matching(dns1123), fallback: () => 'securestack-controller',
    expects: 'a DNS-1123 label',
  },
  leaseDurationMs: {
    key: 'leaseDurationMs', env: 'SECURESTACK_LEASE_DURATION', flag: 'lease-duration',
    parse: duration(1000, 600_000), fallback: () => 15_000, expects: 'a duration between 1s and 10m, e.g. 15s',
  },
  renewDeadlineMs: {
    key: 'renewDeadlineMs', env: 'SECURESTACK_RENEW_DEADLINE', flag: 'renew-deadline',
    parse: duration(500, 600_000), fallback: () => 10_000, expects: 'a duration between 500ms and 10m, e.g. 10s',
  },
  retryPeriodMs: {
    key: 'retryPeriodMs', env: 'SECURESTACK_RETRY_PERIOD', flag: 'retry-period',
    parse: duration(100, 60_000), fallback: () => 2_000, expects: 'a duration between 100ms and 1m, e.g. 2s',
  },
  metricsPort: {
    key: 'metricsPort', env: 'SECURESTACK_METRICS_PORT', flag: 'metrics-port',
    parse: integer(0, 65535), fallback: () => 8080, expects: 'a TCP port between 0 and 65535',
  },
  bindAddress: {
    key: 'bindAddress', env: 'SECURESTACK_BIND_ADDRESS', flag: 'bind-address',
    parse: matching(/^[0-9a-fA-F:.]+$/), fallback: () => '0.0.0.0', expects: 'an IP address such as 0.0.0.0 or 127.0.0.1',
  },
  workers: {
    key: 'workers', env: 'SECURESTACK_WORKERS', flag: 'workers',
    parse: integer(1, 64), fallback: () => 4, expects: 'an integer between 1 and 64',
  },
  resyncPeriodMs: {
    key: 'resyncPeriodMs', env: 'SECURESTACK_RESYNC_PERIOD', flag: 'resync-period',
    parse: duration(1000, 24 * 3_600_000), fallback: () => 10 * 60_000, expects: 'a duration between 1s and 24h, e.g. 10m',
  },
  shutdownTimeoutMs: {
    key: 'shutdownTimeoutMs', env: 'SECURESTACK_SHUTDOWN_TIMEOUT', flag: 'shutdown-timeout',
    parse: duration(0, 300_000), fallback: () => 20_000, expects: 'a duration up to 5m, e.g. 20s',
  },
  logLevel: {
    key: 'logLevel', env: 'SECURESTACK_LOG_LEVEL', flag: 'log-level',
    parse: oneOf(logLevels), fallback: () => 'info', expects: `one of ${logLevels.join(', ')}`,
  },
  scannerImage: {
    key: 'scannerImage', env: 'SECURESTACK_SCANNER_IMAGE', flag: 'scanner-image',
    parse: matching(/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/),
    // The version the test plane builds and scans with (test/env/versions.sh).
    fallback: () => 'docker.io/aquasec/trivy:0.74.0',
    expects: 'an image reference such as docker.io/aquasec/trivy:0.74.0',
  },
  scanJobTtlSeconds: {
    key: 'scanJobTtlSeconds', env: 'SECURESTACK_SCAN_JOB_TTL', flag: 'scan-job-ttl',
    parse: (raw) => Math.round(duration(0, 7 * 24 * 3_600_000)(raw) / 1000),
    fallback: () => 3600, expects: 'a duration up to 168h, e.g. 1h',
  },
  debugReconcileDelayMs: {
    key: 'debugReconcileDelayMs', env: 'SECURESTACK_DEBUG_RECONCILE_DELAY', flag: 'debug-reconcile-delay',
    parse: duration(0, 60_000), fallback: () => 0, expects: 'a duration up to 1m',
  },
  maxConcurrentScans: {
    key: 'maxConcurrentScans', env: 'SECURESTACK_MAX_CONCURRENT_SCANS', flag: 'max-concurrent-scans',
    parse: integer(1, 500), fallback: () => 5, expects: 'an integer between 1 and 500',
  },
  scanRetries: {
    key: 'scanRetries', env: 'SECURESTACK_SCAN_RETRIES', flag: 'scan-retries',
    parse: integer(0, 20), fallback: () => 3, expects: 'an integer between 0 and 20',
  },
  scanRetryBackoffMs: {
    key: 'scanRetryBackoffMs', env: 'SECURESTACK_SCAN_RETRY_BACKOFF', flag: 'scan-retry-backoff',
    parse: duration(100, 3_600_000), fallback: () => 30_000, expects: 'a duration between 100ms and 1h, e.g. 30s',
  },
  rescanAfterMs: {
    key: 'rescanAfterMs', env: 'SECURESTACK_RESCAN_AFTER', flag: 'rescan-after',
    parse: duration(60_000, 30 * 24 * 3_600_000), fallback: () => 24 * 3_600_000, expects: 'a duration between 1m and 720h, e.g. 24h',
  },
  redisURL: {
    key: 'redisURL', env: 'SECURESTACK_REDIS_URL', flag: 'redis-url',
    parse: url(['redis:', 'rediss:']), fallback: () => '', expects: 'a redis:// or rediss:// URL',
  },
  cacheMaxEntries: {
    key: 'cacheMaxEntries', env: 'SECURESTACK_CACHE_MAX_ENTRIES', flag: 'cache-max-entries',
    parse: integer(1, 1_000_000), fallback: () => 2_000, expects: 'an integer between 1 and 1000000',
  },
  trivyServerURL: {
    key: 'trivyServerURL', env: 'SECURESTACK_TRIVY_SERVER', flag: 'trivy-server',
    parse: url(['http:', 'https:']), fallback: () => '', expects: 'an http(s) URL of a Trivy server',
  },
  dbPollIntervalMs: {
    key: 'dbPollIntervalMs', env: 'SECURESTACK_DB_POLL_INTERVAL', flag: 'db-poll-interval',
    parse: duration(1_000, 24 * 3_600_000), fallback: () => 10 * 60_000, expects: 'a duration between 1s and 24h, e.g. 10m',
  },
  trivyDbRepository: {
    key: 'trivyDbRepository', env: 'SECURESTACK_TRIVY_DB_REPOSITORY', flag: 'trivy-db-repository',
    parse: matching(/^[a-z0-9][a-z0-9._\-/:]*$/), fallback: () => '', expects: 'an OCI repository such as mirror.gcr.io/aquasec/trivy-db:2',
  },
  insecureRegistries: {
    key: 'insecureRegistries', env: 'SECURESTACK_INSECURE_REGISTRIES', flag: 'insecure-registries',
    parse: list(/^[a-zA-Z0-9.-]+(:\d+)?$/), fallback: () => [], expects: 'a comma-separated list of host[:port]',
  },
  reportPort: {
    key: 'reportPort', env: 'SECURESTACK_REPORT_PORT', flag: 'report-port',
    parse: integer(0, 65535), fallback: () => 9444, expects: 'a TCP port between 0 and 65535',
  },
  reportURL: {
    key: 'reportURL', env: 'SECURESTACK_REPORT_URL', flag: 'report-url',
    parse: url(['https:']), fallback: () => '', expects: 'an https URL such as https://securestack-reports.securestack-system.svc:9444',
  },
  uploaderImage: {
    key: 'uploaderImage', env: 'SECURESTACK_UPLOADER_IMAGE', flag: 'uploader-image',
    parse: matching(/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/), fallback: () => 'ghcr.io/securestack/securestack:0.1.0',
    expects: 'an image reference',
  },
  scanServiceAccount: {
    key: 'scanServiceAccount', env: 'SECURESTACK_SCAN_SERVICE_ACCOUNT', flag: 'scan-service-account',
    parse: matching(dns1123), fallback: () => 'default', expects: 'a ServiceAccount name',
  },
  workloadScanning: {
    key: 'workloadScanning', env: 'SECURESTACK_WORKLOAD_SCANNING', flag: 'workload-scanning',
    parse: boolean, fallback: () => true, expects: 'true or false',
  },
  workloadNamespaces: {
    key: 'workloadNamespaces', env: 'SECURESTACK_WORKLOAD_NAMESPACES', flag: 'workload-namespaces',
    parse: list(dns1123), fallback: () => [], expects: 'a comma-separated list of namespaces',
  },
  workloadExcludeNamespaces: {
    key: 'workloadExcludeNamespaces', env: 'SECURESTACK_WORKLOAD_EXCLUDE_NAMESPACES', flag: 'workload-exclude-namespaces',
    parse: list(dns1123), fallback: () => ['kube-system', 'kube-public', 'kube-node-lease'], expects: 'a comma-separated list of namespaces',
  },
  workloadPodSelector: {
    key: 'workloadPodSelector', env: 'SECURESTACK_WORKLOAD_POD_SELECTOR', flag: 'workload-pod-selector',
    parse: list(/^!?[A-Za-z0-9][-A-Za-z0-9_./]*((!=|==?)[-A-Za-z0-9_.]*)?$/), fallback: () => [], expects: 'a comma-separated label selector such as app=web,tier!=test',
  },
  admissionScanGraceMs: {
    key: 'admissionScanGraceMs', env: 'SECURESTACK_ADMISSION_SCAN_GRACE', flag: 'admission-scan-grace',
    parse: duration(1_000, 30 * 24 * 3_600_000), fallback: () => 3_600_000, expects: 'a duration between 1s and 720h, e.g. 1h',
  },
  webhookEnabled: {
    key: 'webhookEnabled', env: 'SECURESTACK_WEBHOOK_ENABLED', flag: 'webhook-enabled',
    parse: boolean, fallback: () => true, expects: 'true or false',
  },
  webhookPort: {
    key: 'webhookPort', env: 'SECURESTACK_WEBHOOK_PORT', flag: 'webhook-port',
    parse: integer(0, 65535), fallback: () => 9443, expects: 'a TCP port between 0 and 65535',
  },
  webhookURL: {
    key: 'webhookURL', env: 'SECURESTACK_WEBHOOK_URL', flag: 'webhook-url',
    parse: url(['https:']), fallback: () => '', expects: 'an https URL such as https://127.0.0.1:9443/validate',
  },
  webhookServiceName: {
    key: 'webhookServiceName', env: 'SECURESTACK_WEBHOOK_SERVICE', flag: 'webhook-service',
    parse: matching(dns1123), fallback: () => 'securestack-webhook', expects: 'a Service name',
  },
  webhookConfigurationName: {
    key: 'webhookConfigurationName', env: 'SECURESTACK_WEBHOOK_CONFIGURATION', flag: 'webhook-configuration',
    parse: matching(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/), fallback: () => 'securestack', expects: 'a DNS-1123 subdomain',
  },
  webhookFailurePolicy: {
    key: 'webhookFailurePolicy', env: 'SECURESTACK_WEBHOOK_FAILURE_POLICY', flag: 'webhook-failure-policy',
    parse: oneOf(['Fail', 'Ignore'] as const), fallback: () => 'Ignore', expects: 'Fail or Ignore',
  },
  webhookTimeoutSeconds: {
    key: 'webhookTimeoutSeconds', env: 'SECURESTACK_WEBHOOK_TIMEOUT', flag: 'webhook-timeout',
    parse: (raw) => Math.round(duration(1_000, 30_000)(raw) / 1000), fallback: () => 10, expects: 'a duration between 1s and 30s, e.g. 10s',
  },
  webhookDeadlineMs: {
    key: 'webhookDeadlineMs', env: 'SECURESTACK_WEBHOOK_DEADLINE', flag: 'webhook-deadline',
    parse: duration(10, 29_000), fallback: () => 2_000, expects: 'a duration between 10ms and 29s, shorter than the webhook timeout, e.g. 2s',
  },
  webhookMaxBodyBytes: {
    key: 'webhookMaxBodyBytes', env: 'SECURESTACK_WEBHOOK_MAX_BODY_BYTES', flag: 'webhook-max-body-bytes',
    parse: integer(65_536, 64 * 1024 * 1024), fallback: () => 8 * 1024 * 1024, expects: 'a byte count between 65536 and 67108864',
  },
  webhookCertSecret: {
    key: 'webhookCertSecret', env: 'SECURESTACK_WEBHOOK_CERT_SECRET', flag: 'webhook-cert-secret',
    parse: matching(dns1123), fallback: () => 'securestack-webhook-tls', expects: 'a Secret name',
  },
  webhookCertManager: {
    key: 'webhookCertManager', env: 'SECURESTACK_WEBHOOK_CERT_MANAGER', flag: 'webhook-cert-manager',
    parse: boolean, fallback: () => false, expects: 'true or false',
  },
  webhookCaValidityMs: {
    key: 'webhookCaValidityMs', env: 'SECURESTACK_WEBHOOK_CA_VALIDITY', flag: 'webhook-ca-validity',
    parse: duration(10_000, 20 * 365 * 24 * 3_600_000), fallback: () => 10 * 365 * 24 * 3_600_000, expects: 'a duration between 10s and 175200h, e.g. 87600h',
  },
  webhookCertValidityMs: {
    key: 'webhookCertValidityMs', env: 'SECURESTACK_WEBHOOK_CERT_VALIDITY', flag: 'webhook-cert-validity',
    parse: duration(5_000, 5 * 365 * 24 * 3_600_000), fallback: () => 365 * 24 * 3_600_000, expects: 'a duration between 5s and 43800h, e.g. 8760h',
  },
  webhookOwnerClusterRole: {
    key: 'webhookOwnerClusterRole', env: 'SECURESTACK_WEBHOOK_OWNER', flag: 'webhook-owner',
    parse: matching(/^[a-z0-9]([-a-z0-9.:]{0,251}[a-z0-9])?$/), fallback: () => '', expects: 'a ClusterRole name',
  },
  webhookExcludeNamespaces: {
    key: 'webhookExcludeNamespaces', env: 'SECURESTACK_WEBHOOK_EXCLUDE_NAMESPACES', flag: 'webhook-exclude-namespaces',
    parse: list(dns1123), fallback: () => ['kube-system'], expects: 'a comma-separated list of namespaces',
  },
  auditIntervalMs: {
    key: 'auditIntervalMs', env: 'SECURESTACK_AUDIT_INTERVAL', flag: 'audit-interval',
    parse: duration(1_000, 7 * 24 * 3_600_000), fallback: () => 3_600_000, expects: 'a duration between 1s and 168h, e.g. 1h',
  },
  controllers: {
    key: 'controllers', env: 'SECURESTACK_CONTROLLERS', flag: 'controllers',
    parse: controllerList, fallback: () => [...controllerNames], expects: `* or a comma-separated list of ${controllerNames.join(', ')}`,
  },
  complianceClusterNamespaces: {
    key: 'complianceClusterNamespaces', env: 'SECURESTACK_COMPLIANCE_CLUSTER_NAMESPACES', flag: 'compliance-cluster-namespaces',
    parse: list(dns1123), fallback: () => [], expects: 'a comma-separated list of namespaces',
  },
  openReports: {
    key: 'openReports', env: 'SECURESTACK_OPENREPORTS', flag: 'openreports',
    parse: oneOf(['auto', 'off'] as const), fallback: () => 'auto' as const, expects: 'auto or off',
  },
  reportCertSecret: {
    key: 'reportCertSecret', env: 'SECURESTACK_REPORT_CERT_SECRET', flag: 'report-cert-secret',
    parse: matching(dns1123), fallback: () => 'securestack-reports-tls', expects: 'a Secret name',
  },
  // ---- signed webhook notifications (docs/notifications.md) ----
  notifyReceivers: {
    key: 'notifyReceivers', env: 'SECURESTACK_NOTIFY_RECEIVERS', flag: 'notify-receivers',
    parse: (raw) => raw.trim(), fallback: () => '', expects: 'a JSON array of receivers (docs/notifications.md)',
  },
  notifyReceiversFile: {
    key: 'notifyReceiversFile', env: 'SECURESTACK_NOTIFY_RECEIVERS_FILE', flag: 'notify-receivers-file',
    parse: matching(/^\/[^\0]*$/), fallback: () => '', expects: 'an absolute path to a file holding the receivers JSON',
  },
  notifyQueueSize: {
    key: 'notifyQueueSize', env: 'SECURESTACK_NOTIFY_QUEUE_SIZE', flag: 'notify-queue-size',
    parse: integer(1, 100_000), fallback: () => 10_000, expects: 'an integer between 1 and 100000',
  },
  notifyTimeoutMs: {
    key: 'notifyTimeoutMs', env: 'SECURESTACK_NOTIFY_TIMEOUT', flag: 'notify-timeout',
    parse: duration(100, 60_000), fallback: () => 10_000, expects: 'a duration between 100ms and 1m, e.g. 10s',
  },
  notifyMaxAttempts: {
    key: 'notifyMaxAttempts', env: 'SECURESTACK_NOTIFY_MAX_ATTEMPTS', flag: 'notify-max-attempts',
    parse: integer(1, 100), fallback: () => 15, expects: 'an integer between 1 and 100',
  },
  notifyBackoffMs: {
    key: 'notifyBackoffMs', env: 'SECURESTACK_NOTIFY_BACKOFF', flag: 'notify-backoff',
    parse: duration(10, 600_000), fallback: () => 1_000, expects: 'a duration between 10ms and 10m, e.g. 1s',
  },
  notifyBackoffCapMs: {
    key: 'notifyBackoffCapMs', env: 'SECURESTACK_NOTIFY_BACKOFF_CAP', flag: 'notify-backoff-cap',
    parse: duration(100, 24 * 3_600_000), fallback: () => 5 * 60_000, expects: 'a duration between 100ms and 24h, e.g. 5m',
  },
  notifyConcurrency: {
    key: 'notifyConcurrency', env: 'SECURESTACK_NOTIFY_CONCURRENCY', flag: 'notify-concurrency',
    parse: integer(1, 64), fallback: () => 4, expects: 'an integer between 1 and 64',
  },
  notifyFlushIntervalMs: {
    key: 'notifyFlushIntervalMs', env: 'SECURESTACK_NOTIFY_FLUSH_INTERVAL', flag: 'notify-flush-interval',
    parse: duration(50, 60_000), fallback: () => 250, expects: 'a duration between 50ms and 1m, e.g. 250ms',
  },
  notifyAdoptAfterMs: {
    key: 'notifyAdoptAfterMs', env: 'SECURESTACK_NOTIFY_ADOPT_AFTER', flag: 'notify-adopt-after',
    parse: duration(1_000, 3_600_000), fallback: () => 30_000, expects: 'a duration between 1s and 1h, e.g. 30s',
  },
  notifyMaxBodyBytes: {
    key: 'notifyMaxBodyBytes', env: 'SECURESTACK_NOTIFY_MAX_BODY_BYTES', flag: 'notify-max-body-bytes',
    parse: integer(1_024, 1_048_576), fallback: () => 256 * 1024, expects: 'a byte count between 1024 and 1048576',
  },
};

/** Reads `--name=value` and `--name value` flags. Unknown flags are an error. */
function parseFlags(argv: readonly string[]): Map<string, string> {
  const known = new Set(Object.values(settings).map((setting) => setting.flag));
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match?.[1]) throw new ConfigError(`unexpected argument '${arg}'`);
    const name = match[1];
    if (!known.has(name)) throw new ConfigError(`unknown flag --${name}`);
    let value = match[2];
    if (value === undefined) {
      value = argv[i + 1];
      i++;
      if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
    }
    flags.set(name, value);
  }
  return flags;
}

function readSetting<K extends keyof OperatorConfig>(
  setting: Setting<K>,
  flags: Map<string, string>,
  env: NodeJS.ProcessEnv,
): OperatorConfig[K] {
  const fromFlag = flags.get(setting.flag);
  const raw = fromFlag ?? env[setting.env];
  if (raw === undefined || raw === '') return setting.fallback();
  try {
    return setting.parse(raw);
  } catch {
    const source = fromFlag !== undefined ? `--${setting.flag}` : setting.env;
    throw new ConfigError(`invalid setting ${source}: expected ${setting.expects}, got '${raw}'`);
  }
}

export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const flags = parseFlags(argv);
  const entries = Object.values(settings).map((setting) => [setting.key, readSetting(setting, flags, env)] as const);
  const config = Object.fromEntries(entries) as unknown as OperatorConfig;
  checkLeaderTimings(config);
  if (config.webhookDeadlineMs >= config.webhookTimeoutSeconds * 1000) {
    throw new ConfigError('invalid setting SECURESTACK_WEBHOOK_DEADLINE: must be shorter than SECURESTACK_WEBHOOK_TIMEOUT, so an answer (per failurePolicy) reaches the API server in time');
  }
  if (config.notifyBackoffMs > config.notifyBackoffCapMs) {
    throw new ConfigError('invalid setting SECURESTACK_NOTIFY_BACKOFF: must not be longer than SECURESTACK_NOTIFY_BACKOFF_CAP');
  }
  if (!config.reportURL) config.reportURL = `https://securestack-reports.${config.namespace}.svc:${config.reportPort}`;
  return config;
}

/** The same ordering client-go enforces, so a standby can never steal a lease being renewed. */
function checkLeaderTimings(config: OperatorConfig): void {
  if (config.renewDeadlineMs >= config.leaseDurationMs) {
    throw new ConfigError('invalid setting SECURESTACK_RENEW_DEADLINE: must be shorter than SECURESTACK_LEASE_DURATION');
  }
  if (config.retryPeriodMs >= config.renewDeadlineMs) {
    throw new ConfigError('invalid setting SECURESTACK_RETRY_PERIOD: must be shorter than SECURESTACK_RENEW_DEADLINE');
  }
}
