/**
 * SecureStack operator entry point: configuration, logging, metrics, then the manager.
 *
 *   node dist/operator/main.js [--workers=4] [--metrics-port=8080] ...
 *
 * Every setting also reads from SECURESTACK_* environment variables (operator/platform/config.ts).
 */
import type { Server } from 'node:http';
import type { ImageScan } from './api/types.generated';
import { ConfigError, loadConfig, type ControllerName, type OperatorConfig } from './platform/config';
import type { Reconciler } from './platform/runtime/reconciler';
import { ImageScanReconciler } from './features/scan/imagescan';
import { WorkloadIndex, WorkloadReconciler, podWatch } from './features/scan/workloads';
import { runningFindingsGauge, runningImageFindings } from './features/scan/running-findings';
import { KubeClient, collectionPath } from './platform/kube/client';
import { RegistryClient } from './platform/registry';
import { createLogger, type Logger } from './platform/log';
import { EventRecorder } from './platform/runtime/events';
import { InformerFactory, labelIndexFunction } from './platform/kube/informer';
import { imageScanType, scheduledScanType } from './api/resources';
import { admissionSource, sourceLabel } from './api/own-scans';
import { boundPort, startHttpServer } from './platform/runtime/http';
import { Manager } from './platform/runtime/manager';
import { createMetrics } from './platform/runtime/metrics';
import { FallbackCache, MemoryCache, MemoryLru, redisFrontBytes, redisFrontEntries, type ScanCache } from './features/scan/cache';
import { ScanDispatcher } from './features/scan/dispatcher';
import { reportIntake } from './features/scan/intake';
import { listScanJobs, scanJobWatch } from './features/scan/jobs';
import { createScanMetrics, type ScanMetrics } from './features/scan/metrics';
import { TrivyDbWatcher } from './features/scan/dbversion';
import { ReportParser } from './features/scan/report-parser';
import { RegistryResolver } from './features/scan/resolver';
import { ResultCache } from './features/scan/result-cache';
import { ResultStore } from './features/scan/results';
import { reportCertificates } from './features/scan/report-tls';
import { startUploadServer } from './features/scan/upload-server';
import { CertificateRotationReconciler } from './platform/tls/rotation';
import { ScanPolicyReconciler } from './features/audit/scanpolicy';
import { ComplianceReportReconciler } from './features/compliance/compliancereport';
import { createComplianceMetrics } from './features/compliance/metrics';
import { openReportsWriter } from './features/compliance/openreports';
import type { NamespaceInfo } from './engine/scope';
import { frameworkById } from './engine/compliance/frameworks';
import { createPolicyMetrics } from './features/audit/metrics';
import { ownImages, startAdmission } from './features/admission';
import { alwaysExcludedNamespaces } from './features/admission/configuration';
import { ScheduledScanReconciler } from './features/schedules/scheduledscan';
import { createScheduleMetrics } from './features/schedules/metrics';
import { ownedRuns, runWatches } from './features/schedules/owned';
import { runningImages } from './features/schedules/running-images';
import { localTimeZone, scheduledScanProblems } from './features/schedules/validate';
import { severeFindings } from './features/scan/findings';
import { loadReceivers, startNotifications, type Notifications } from './features/notify';
import type { ReceiverConfig } from './features/notify/receivers';

/** Memory the in-process scan cache may hold (SBOMs are stored compressed). */
const memoryCacheBytes = 256 * 1024 * 1024;

function readConfig(): { config: OperatorConfig; receivers: ReceiverConfig[] } {
  try {
    const config = loadConfig();
    // The receivers list is checked in full here, so a mistake in it stops the start like any setting.
    return { config, receivers: loadReceivers(config.notifyReceivers, config.notifyReceiversFile) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`securestack: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const { config, receivers } = readConfig();
  const log = createLogger(config.logLevel);
  const metrics = createMetrics();
  const scanMetrics = createScanMetrics(metrics.registry);
  const client = KubeClient.fromDefault((verb, code) => metrics.kubeRequestErrors.inc({ verb, code: String(code) }));
  const events = new EventRecorder(client, 'securestack-controller', config.identity);
  // The one cache of this process: reconcilers, the webhook and the audit all listen on it.
  const informers = new InformerFactory(client, (path, err) => log.warn({ watch: path, err: err.message }, 'list or watch failed; relisting with back-off'));

  // Reports are inflated and parsed in a child process; its validator is checked (and compiled) at start.
  // Webhook notifications: every replica publishes (admission denials happen on standbys too);
  // the leader also adopts the pending deliveries of replicas that stopped.
  let leading = (): boolean => false;
  const notifications = await startNotifications({ config, receivers, client, log, registry: metrics.registry, events, isLeader: () => leading() });
  const notifier = notifications.notifier;
  const reportParser = new ReportParser();
  await reportParser.checkValidator();
  const cache = new ResultCache(createScanCache(config, scanMetrics, log), config.rescanAfterMs);
  const results = new ResultStore(client);
  const dispatcher = new ScanDispatcher(config.maxConcurrentScans, ({ active, queued }) => {
    scanMetrics.jobsActive.set(active);
    scanMetrics.queueDepth.set(queued);
  });
  // Every replica serves the report endpoint from the shared Secret and re-reads it; the leader
  // renews it (reportRotation below).
  const reportTls = reportCertificates({ config, client, log, registry: metrics.registry, events });
  await reportTls.load();
  reportTls.start();
  const reports = await startUploadServer({
    port: config.reportPort,
    host: config.bindAddress,
    tls: reportTls,
    client,
    log,
    metrics: scanMetrics,
    onReport: reportIntake(results, cache, log, config.scannerImage, { parser: reportParser }),
  });
  const registry = new RegistryClient({ insecureRegistries: config.insecureRegistries });
  const imageScans = new ImageScanReconciler({
    client,
    events,
    config,
    dispatcher,
    results,
    cache,
    resolver: new RegistryResolver(client, registry),
    metrics: scanMetrics,
    notifier,
    // The whole bundle (two CAs during a rotation), so the Job trusts the endpoint for its life.
    reportCaPem: () => reportTls.current().caBundlePem,
  });
  const workloads = new WorkloadIndex({
    includeNamespaces: config.workloadNamespaces,
    // Its own namespace is never scanned as a workload.
    excludeNamespaces: [...config.workloadExcludeNamespaces, config.namespace],
    podSelector: config.workloadPodSelector,
  }, (pods) => scanMetrics.workloadPods.set(pods));
  runningFindingsGauge(metrics.registry, () => runningImageFindings(workloads, (namespace) => cachedImageScans(informers, namespace)));
  // Health first: while admission waits (for cert-manager's certificate, say) the pod is alive
  // but not ready, instead of crash-looping.
  let readiness = (): { ok: boolean; reason: string } => ({ ok: false, reason: 'starting' });
  const server = await startHttpServer({ port: config.metricsPort, host: config.bindAddress, registry: metrics.registry, health: { ready: () => readiness() } });
  const defaultTimeZone = localTimeZone();
  const admission = await startAdmission({
    config, client, informers, log, registry: metrics.registry, events,
    notifier,
    resourceValidators: [{ group: scheduledScanType.group, version: scheduledScanType.version, resource: scheduledScanType.plural, validate: (object) => scheduledScanProblems(object, defaultTimeZone) }],
  });
  const policies = new ScanPolicyReconciler({
    client,
    events,
    metrics: createPolicyMetrics(metrics.registry),
    audit: { namespaceLabels: (namespace) => admission.caches.namespaceLabels(namespace), images: (image) => admission.caches.images.lookup(image), gateExempt: ownImages(config), excludedNamespaces: [config.namespace, ...alwaysExcludedNamespaces, ...config.webhookExcludeNamespaces] },
    auditIntervalMs: config.auditIntervalMs,
    cachesSynced: () => admission.caches.synced(),
    notifier,
  });
  const mayCoverCluster = (namespace: string): boolean => namespace === config.namespace || config.complianceClusterNamespaces.includes(namespace);
  const compliance = new ComplianceReportReconciler({
    client,
    events,
    metrics: createComplianceMetrics(metrics.registry),
    frameworks: frameworkById,
    namespaces: () => namespacesOf(informers),
    images: (image) => admission.caches.images.lookup(image),
    exemptImages: ownImages(config),
    cachesSynced: () => admission.caches.synced(),
    ...(config.openReports === 'auto' ? { openReports: openReportsWriter(client) } : {}),
    mayCoverCluster,
    notifier,
  });
  const schedules = new ScheduledScanReconciler({
    client,
    events,
    metrics: createScheduleMetrics(metrics.registry),
    owned: ownedRuns(informers),
    namespaces: () => namespacesOf(informers),
    runningImages: (scope, signal) => runningImages(client, scope, signal),
    mayCoverCluster,
    findings: (scan) => severeFindings(scan, { client, parser: reportParser }),
    defaultTimeZone,
    notifier,
  });
  const reportRotation = new CertificateRotationReconciler(reportTls, 'ReportCertificate');
  const byController: Array<[ControllerName, Reconciler]> = [['imagescan', imageScans], ['scanpolicy', policies], ['compliancereport', compliance], ['scheduledscan', schedules]];
  const reconcilers: Reconciler[] = [...byController.filter(([name]) => config.controllers.includes(name)).map(([, reconciler]) => reconciler), admission.reconciler, reportRotation];
  if (config.workloadScanning) reconcilers.push(new WorkloadReconciler({ client, index: workloads, imageScansIn: (namespace) => cachedImageScans(informers, namespace), events, skipped: scanMetrics.workloadImagesSkipped, admissionGraceMs: config.admissionScanGraceMs }));
  const manager = new Manager({
    config,
    client,
    informers,
    log,
    metrics,
    reconcilers,
    secondaryWatches: [scanJobWatch(dispatcher), ...runWatches(), ...(config.workloadScanning ? [podWatch(workloads, namespacesWithAdmissionScans(informers))] : [])],
    periodicKeys: [admission.queueKey, reportRotation.queueKey],
    beforeTerm: async () => dispatcher.reset(await listScanJobs(client)),
  });
  leading = () => manager.isLeader;
  // New or changed policies change what the API server must send to the webhook.
  admission.caches.policies.onChange(() => manager.enqueue(admission.queueKey));
  if (config.trivyServerURL) {
    const db = new TrivyDbWatcher(config.trivyServerURL, config.dbPollIntervalMs, log);
    await db.start((version) => {
      cache.setDbVersion(version);
      // Every Completed ImageScan made with the older DB is now stale: reconcile them all.
      manager.requestResync();
    });
    const known = db.current();
    if (known) cache.setDbVersion(known);
  }
  readiness = () => (admission.caches.synced() ? manager.ready() : { ok: false, reason: 'admission caches not synced' });
  const servers = admission.server ? [server, reports, admission.server.server] : [server, reports];
  installSignalHandlers(manager, servers, notifications, log);
  log.info({ identity: config.identity, namespace: config.namespace, workers: config.workers, metricsPort: boundPort(server), reportPort: boundPort(reports), webhookPort: admission.server ? boundPort(admission.server.server) : undefined }, 'starting');
  await manager.start();
}

/**
 * The ImageScans of a namespace from the shared cache, which holds them whole for the ImageScan
 * reconciler; the API server validated them against the schema the type is generated from.
 */
function cachedImageScans(informers: InformerFactory, namespace: string): ImageScan[] {
  return informers.informer(collectionPath(imageScanType), { keep: 'object' }).inNamespace(namespace) as unknown as ImageScan[];
}

/** Namespaces and their labels from the shared informer (compliance scopes select by them). */
function namespacesOf(informers: InformerFactory): NamespaceInfo[] {
  return [...informers.informer(collectionPath({ group: '', version: 'v1', plural: 'namespaces' })).values()].map((namespace) => ({
    name: namespace.metadata?.name ?? '',
    labels: (namespace.metadata?.labels as Record<string, string> | undefined) ?? {},
  }));
}

const sourceIndex = labelIndexFunction(sourceLabel);

/**
 * Namespaces holding ImageScans the admission gate asked for, from an index on the shared cache:
 * looked up on every resync, so it costs what the gate asked for, not every ImageScan.
 */
function namespacesWithAdmissionScans(informers: InformerFactory): () => Set<string> {
  const scans = informers.informer(collectionPath(imageScanType));
  scans.addIndex(sourceLabel, sourceIndex);
  return () => new Set(scans.byIndex(sourceLabel, admissionSource).map((scan) => scan.metadata?.namespace ?? ''));
}

function createScanCache(config: OperatorConfig, metrics: ScanMetrics, log: Logger): ScanCache {
  if (!config.redisURL) return new MemoryCache(new MemoryLru(config.cacheMaxEntries, memoryCacheBytes), metrics);
  // Redis holds every result; memory keeps only a small front of the most recent ones.
  const front = new MemoryLru(Math.min(config.cacheMaxEntries, redisFrontEntries), Math.min(memoryCacheBytes, redisFrontBytes));
  return new FallbackCache({ url: config.redisURL, ttlSeconds: Math.ceil(config.rescanAfterMs / 1000), commandTimeoutMs: 1_000 }, front, metrics, log);
}

function installSignalHandlers(manager: Manager, servers: Server[], notifications: Notifications, log: Logger): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    manager
      .shutdown()
      // Pending deliveries go to this replica's shard, marked stopped: the leader adopts them at once.
      .then(() => notifications.stop())
      .then(() => Promise.all(servers.map((server) => new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }))))
      .then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`securestack: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
