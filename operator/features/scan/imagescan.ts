/**
 * ImageScan reconciler: reference → digest → cached result, or one scan Job per digest
 * cluster-wide → report → status, SBOM, Events and metrics.
 *
 * Level-based and idempotent: every step reads what exists (status, the dispatcher's view of
 * running Jobs, stored results) and does the next thing, so a restart at any point resumes
 * without losing a scan or starting a duplicate Job. The report itself arrives through the
 * upload server, which stores it in objects owned by the Job's ImageScan; this reconciler only
 * projects stored results into status.
 */
import type { V1Job } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageScan, ImageScanStatus } from '../../api/types.generated';
import { parseDuration, type OperatorConfig } from '../../platform/config';
import { buildScanJob, scanJobName, type ScannerSettings } from './scanjob';
import { isAlreadyExists, KubeApiError, type KubeClient, type ObjectKey, type ResourceType } from '../../platform/kube/client';
import { isInsecureRegistry, isRegistryError } from '../../platform/registry';
import { rfc3339, type ConditionUpdate } from '../../platform/runtime/conditions';
import { writeStatus } from '../../platform/runtime/status';
import type { EventRecorder } from '../../platform/runtime/events';
import { cachedObject, ensureLeading, keyOf, type ReconcileContext, type ReconcileResult, type Reconciler } from '../../platform/runtime/reconciler';
import type { Outcome, ScanDispatcher } from './dispatcher';
import type { ScanMetrics } from './metrics';
import type { ScanSummary } from './report';
import { observedJob, scanTargetKey } from './jobs';
import { madeWithOlderDb, type ResultCache } from './result-cache';
import type { ResolvedScanTarget } from './resolver';
import type { ResultStore } from './results';
import type { SbomBlob } from './sbom-store';
import { imageScanType } from '../../api/resources';
import { noNotifier, type NotificationEvent, type Notifier } from '../../api/notifications';

const defaultTimeout = '10m';
const defaultScannerName = 'trivy';
/** A reference that does not resolve is tried again after this long (a Secret may appear). */
const resolveRetryMs = 5 * 60_000;
const queuedRefreshMs = 15_000;

export interface DigestResolver {
  /** Resolves a reference to the digest to scan with the namespace's pull secrets. */
  resolve(image: string, namespace: string, pullSecrets: readonly string[]): Promise<ResolvedScanTarget>;
}

export type ImageScanSettings = Pick<
  OperatorConfig,
  'scannerImage' | 'scanJobTtlSeconds' | 'debugReconcileDelayMs' | 'scanRetries' | 'scanRetryBackoffMs' | 'rescanAfterMs' | 'trivyServerURL' | 'trivyDbRepository' | 'insecureRegistries' | 'reportURL' | 'uploaderImage' | 'scanServiceAccount'
>;

export interface ImageScanDeps {
  client: KubeClient;
  events: EventRecorder;
  config: ImageScanSettings;
  dispatcher: ScanDispatcher;
  results: ResultStore;
  cache: ResultCache;
  resolver: DigestResolver;
  metrics: ScanMetrics;
  /**
   * The report endpoint's trust bundle now (one CA, two during a CA rotation), handed to the
   * uploader: it stays valid for the Job's whole life (operator/features/scan/report-tls.ts).
   */
  reportCaPem: () => string;
  /** Webhook notifications: scan.completed, scan.failed, finding.critical (on transitions only). */
  notifier?: Notifier;
}

interface Found {
  summary: ScanSummary;
  sbom: SbomBlob;
  cached: boolean;
  /** When the scan behind the result ran: the ImageScan's completedAt, and its age for rescans. */
  scannedAt: number;
}

export class ImageScanReconciler implements Reconciler {
  readonly type: ResourceType = imageScanType;
  /** Label sets of the vulnerability gauge per ImageScan, so a deleted scan's series go too. */
  private readonly gaugeLabels = new Map<string, { namespace: string; image: string; digest: string }>();

  constructor(private readonly deps: ImageScanDeps) {}

  async reconcile(key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    const queueKey = keyOf(this.type.kind, key);
    const scan = cachedObject<ImageScan>(context);
    if (!scan?.metadata?.uid || scan.metadata.deletionTimestamp) {
      this.forget(queueKey);
      return {};
    }
    if (this.deps.config.debugReconcileDelayMs > 0) await sleep(this.deps.config.debugReconcileDelayMs);
    const status = scan.status ?? {};
    const current = status.observedGeneration === scan.metadata.generation;

    if (current && status.phase === 'Completed') {
      const age = Date.now() - Date.parse(status.completedAt ?? '');
      if (age < this.deps.config.rescanAfterMs && !this.olderDb(status.scanner?.dbUpdatedAt)) {
        this.deps.dispatcher.release(queueKey);
        return { requeueAfterMs: this.deps.config.rescanAfterMs - age };
      }
    }
    if (current && status.phase === 'Failed' && status.completedAt) {
      this.deps.dispatcher.release(queueKey);
      return {};
    }

    // Resolved on every pass: the registry answers from a HEAD request, and a moved tag must
    // not keep its old result.
    const resolved = await this.resolveDigest(scan, context);
    if (!resolved) return { requeueAfterMs: resolveRetryMs };
    const { digest } = resolved;

    const target = scanTargetKey(digest, this.scannerImage(scan));
    const found = await this.findResult(scan, digest, target);
    if (found) return this.complete(scan, digest, found, context, queueKey);

    const failure = await this.failureSinceStart(scan, digest, target, context);
    if (failure) return this.retryOrFail(scan, digest, failure, context, queueKey);

    // A retry waits out its back-off: the status write that scheduled it wakes this reconciler
    // at once, and a Job started then would make the back-off a no-op.
    const retryInMs = current && status.phase === 'Queued' ? Date.parse(status.startedAt ?? '') - Date.now() : 0;
    if (retryInMs > 0) return { requeueAfterMs: retryInMs };

    return this.admit(scan, resolved, target, context, queueKey);
  }

  private scannerImage(scan: ImageScan): string {
    return scan.spec.scanner?.image ?? this.deps.config.scannerImage;
  }

  /** The digest for this generation: from status when known, else from the registry. */
  private async resolveDigest(scan: ImageScan, context: ReconcileContext): Promise<ResolvedScanTarget | undefined> {
    const pullSecrets = (scan.spec.imagePullSecrets ?? []).map((secret) => secret.name);
    try {
      return await this.deps.resolver.resolve(scan.spec.image, scan.metadata?.namespace ?? '', pullSecrets);
    } catch (err) {
      if (!isRegistryError(err)) throw err;
      await this.writeStatus(scan, context, {
        phase: 'Failed',
        condition: { type: 'Scanned', status: 'False', reason: err.reason, message: `Resolving ${scan.spec.image}: ${err.message}` },
        event: { type: 'Warning', reason: 'ScanFailed' },
      });
      if (scan.status?.phase !== 'Failed') {
        this.deps.metrics.scansTotal.inc({ result: 'failed' });
        this.notify(scanFailedEvent(scan, err.reason, `Resolving ${scan.spec.image}: ${err.message}`, `resolve/${scan.status?.startedAt ?? ''}`));
      }
      return undefined;
    }
  }

  /** A result for the digest: the shared cache first, then the objects of the Job that scanned it. */
  private async findResult(scan: ImageScan, digest: string, target: string): Promise<Found | undefined> {
    const scanner = this.scannerImage(scan);
    const cached = await this.deps.cache.lookup(digest, scanner);
    if (cached) return { ...cached, cached: !this.ownsLastJob(scan, target) };
    const outcome = this.deps.dispatcher.outcome(target);
    const owner = outcome?.succeeded ? { namespace: outcome.job.namespace, name: outcome.job.owner } : { namespace: scan.metadata?.namespace ?? '', name: scan.metadata?.name ?? '' };
    const stored = await this.deps.results.load(owner.namespace, owner.name, digest);
    // A stored result past the rescan period, or made with an older DB, is what a rescan
    // replaces, not an answer.
    if (!stored || stored.kind !== 'result' || Date.now() - stored.at >= this.deps.config.rescanAfterMs) return undefined;
    if (this.olderDb(stored.summary.scanner.dbUpdatedAt)) return undefined;
    await this.deps.cache.store(digest, scanner, stored.summary, stored.sbom, stored.at);
    return { summary: stored.summary, sbom: stored.sbom, scannedAt: stored.at, cached: owner.name !== scan.metadata?.name || owner.namespace !== scan.metadata.namespace };
  }

  /** True when the scanner's DB is known to be newer than the one a result was made with. */
  private olderDb(resultDb: string | undefined): boolean {
    return madeWithOlderDb(resultDb, this.deps.cache.dbVersion);
  }

  /** Whether this ImageScan's own Job produced the result (else it is a cache hit). */
  private ownsLastJob(scan: ImageScan, target: string): boolean {
    // The report arrives before the Job finishes, so the running Job counts too.
    const job = this.deps.dispatcher.lastJob(target);
    return job?.owner === scan.metadata?.name && job?.namespace === scan.metadata?.namespace;
  }

  /** Why the scan that this ImageScan waited for failed, if it ended during the current attempt. */
  private async failureSinceStart(scan: ImageScan, digest: string, target: string, context: ReconcileContext): Promise<{ reason: string; message: string; final: boolean } | undefined> {
    const startedAt = Date.parse(scan.status?.startedAt ?? '') || 0;
    const outcome = this.deps.dispatcher.outcome(target);
    const stored = await this.deps.results.load(outcome?.job.namespace ?? scan.metadata?.namespace ?? '', outcome?.job.owner ?? scan.metadata?.name ?? '', digest);
    if (stored?.kind === 'invalid' && stored.at >= startedAt) {
      // A malformed report comes out the same on every retry: fail at once, with the reason.
      return { reason: 'InvalidReport', message: stored.reason, final: true };
    }
    if (!outcome) return undefined;
    if (!failedDuringAttempt(outcome, scan)) {
      if (!outcome.succeeded) context.log.debug({ job: `${outcome.job.namespace}/${outcome.job.name}`, finishedAt: outcome.finishedAt, startedAt: scan.status?.startedAt, attempts: scan.status?.attempts, jobName: scan.status?.jobName }, 'a failed scan Job of this digest ended before this attempt');
      return undefined;
    }
    return { reason: 'ScanJobFailed', message: `Scan Job ${outcome.job.namespace}/${outcome.job.name} failed: ${outcome.failureReason ?? 'unknown reason'}`, final: false };
  }

  private async retryOrFail(scan: ImageScan, digest: string, failure: { reason: string; message: string; final: boolean }, context: ReconcileContext, queueKey: string): Promise<ReconcileResult> {
    const attempts = scan.status?.attempts ?? 1;
    if (failure.final || attempts > this.deps.config.scanRetries) {
      this.deps.dispatcher.release(queueKey);
      // Before the status write: a write lost to a 409 comes back with the same key (same delivery id).
      this.notify(scanFailedEvent(scan, failure.reason, failure.message, `${scan.status?.startedAt ?? ''}/${attempts}`, digest));
      await this.writeStatus(scan, context, {
        phase: 'Failed',
        digest,
        completedAt: rfc3339(new Date()),
        condition: { type: 'Scanned', status: 'False', reason: failure.reason, message: `${failure.message} (attempt ${attempts})` },
        event: { type: 'Warning', reason: 'ScanFailed' },
      });
      // Counted once the status says so: a write lost to a 409 is retried and must not count twice.
      this.deps.metrics.scansTotal.inc({ result: 'failed' });
      return {};
    }
    const delayMs = this.deps.config.scanRetryBackoffMs * 2 ** (attempts - 1);
    // The next attempt starts when the back-off ends (rounded up to the second status can hold);
    // the failure that ended this one is older and does not count twice.
    const retryAt = Math.ceil((Date.now() + delayMs) / 1000) * 1000;
    await this.writeStatus(scan, context, {
      phase: 'Queued',
      digest,
      attempts: attempts + 1,
      startedAt: rfc3339(new Date(retryAt)),
      condition: { type: 'Scanned', status: 'Unknown', reason: 'Retrying', message: `${failure.message}; attempt ${attempts + 1} in ${Math.round(delayMs / 1000)}s` },
      event: { type: 'Warning', reason: 'ScanFailed' },
    });
    return { requeueAfterMs: delayMs };
  }

  private async admit(scan: ImageScan, resolved: ResolvedScanTarget, target: string, context: ReconcileContext, queueKey: string): Promise<ReconcileResult> {
    const { digest } = resolved;
    const createdAt = Date.parse(scan.metadata?.creationTimestamp ?? '') || Date.now();
    const admission = this.deps.dispatcher.admit(queueKey, target, createdAt);
    // A rescan of a Completed result, or a new digest, starts a new round of scanning.
    const sameRound = scan.status?.startedAt && scan.status.digest === digest && scan.status.phase !== 'Completed';
    const startedAt = sameRound ? (scan.status?.startedAt ?? '') : rfc3339(new Date());
    if (admission.action === 'queued') {
      await this.writeStatus(scan, context, {
        phase: 'Queued',
        digest,
        startedAt,
        queuePosition: admission.position,
        condition: { type: 'Scanned', status: 'Unknown', reason: 'Queued', message: `Waiting for a free scan slot (position ${admission.position})` },
        event: { type: 'Normal', reason: 'ScanQueued' },
      });
      // Positions move as scans ahead finish; refresh them now and then.
      return { requeueAfterMs: queuedRefreshMs };
    }
    if (admission.action === 'wait') {
      const job = admission.job;
      const own = job?.owner === scan.metadata?.name && job?.namespace === scan.metadata?.namespace;
      if (own) return {};
      await this.writeStatus(scan, context, {
        phase: 'Scanning',
        digest,
        startedAt,
        jobName: job && job.namespace === scan.metadata?.namespace ? job.name : scan.status?.jobName,
        condition: { type: 'Scanned', status: 'Unknown', reason: 'WaitingForScan', message: job ? `Job ${job.namespace}/${job.name} is scanning this digest` : 'A scan of this digest is starting' },
      });
      return {};
    }
    let started: { job: V1Job; ended: boolean };
    try {
      started = await this.startJob(scan, resolved, target, startedAt, context);
    } catch (err) {
      // The API server refused the Job (an admission policy in this namespace, Pod Security,
      // a quota, RBAC): say so on the ImageScan, with an Event, and retry as a failed scan, since
      // a policy or quota change can let the next attempt through.
      if (!(err instanceof KubeApiError) || (err.code !== 403 && err.code !== 422)) throw err;
      const reason = err.message.split('\n')[0] ?? '';
      return this.retryOrFail(scan, digest, { reason: 'ScanJobRejected', message: `The API server refused the scan Job (${err.code}): ${reason}`, final: false }, context, queueKey);
    }
    const { job, ended } = started;
    await this.writeStatus(scan, context, {
      phase: 'Scanning',
      digest,
      startedAt,
      jobName: job.metadata?.name,
      attempts: scan.status?.attempts ?? 1,
      condition: { type: 'Scanned', status: 'Unknown', reason: 'JobCreated', message: `Job ${job.metadata?.name ?? ''} scans ${scan.spec.image}` },
      event: { type: 'Normal', reason: 'ScanStarted' },
    });
    // An adopted Job that already ended: look at its outcome on the next pass, at once.
    return ended ? { requeueAfterMs: 1 } : {};
  }

  /** Creates the attempt's Job, or adopts it when it exists; `ended` when the adopted one already ended. */
  private async startJob(scan: ImageScan, resolved: ResolvedScanTarget, target: string, round: string, context: ReconcileContext): Promise<{ job: V1Job; ended: boolean }> {
    const { config } = this.deps;
    const { digest } = resolved;
    const namespace = scan.metadata?.namespace ?? '';
    const name = scan.metadata?.name ?? '';
    const attempt = scan.status?.attempts ?? 1;
    const scanner: ScannerSettings = {
      image: this.scannerImage(scan),
      serverURL: scan.spec.scanner?.serverURL ?? (config.trivyServerURL || undefined),
      dbRepository: config.trivyDbRepository || undefined,
      insecureRegistry: isInsecureRegistry(resolved.registry, config.insecureRegistries),
      ignoreUnfixed: scan.spec.ignoreUnfixed ?? false,
      severities: scan.spec.severities ?? [],
    };
    const job = buildScanJob({
      scanName: name,
      scanUid: scan.metadata?.uid ?? '',
      namespace,
      image: `${resolved.repository}@${digest}`,
      digest,
      scanner,
      upload: { image: config.uploaderImage, baseURL: config.reportURL, caPem: this.deps.reportCaPem() },
      pullSecret: resolved.pullSecret,
      serviceAccountName: config.scanServiceAccount,
      timeoutSeconds: Math.ceil(parseDuration(scan.spec.timeout ?? defaultTimeout) / 1000),
      ttlSecondsAfterFinished: config.scanJobTtlSeconds,
      attempt,
      round,
    });
    const jobName = job.metadata?.name ?? scanJobName(name, scan.metadata?.uid ?? '', attempt, round);
    try {
      ensureLeading(context);
      const created = await this.deps.client.createJob(namespace, job);
      context.log.info({ job: jobName, digest }, 'created scan Job');
      this.deps.dispatcher.started(target, { namespace, name: jobName, owner: name });
      return { job: created, ended: false };
    } catch (err) {
      // A previous reconcile created it and its status write was lost: it is ours, adopt it as
      // it is now. It may have ended already; then its end is the news, not a running Job.
      if (isAlreadyExists(err)) {
        const existing = await this.deps.client.getJob(namespace, jobName);
        const observed = existing ? observedJob(existing, false) : undefined;
        const ended = observed !== undefined && !observed.active;
        if (ended) {
          this.deps.dispatcher.abandon(target);
          this.deps.dispatcher.observe(observed);
          context.log.info({ job: jobName, digest, succeeded: observed.succeeded }, 'adopted a scan Job that had already ended');
        } else {
          this.deps.dispatcher.started(target, { namespace, name: jobName, owner: name });
        }
        return { job: existing ?? job, ended };
      }
      this.deps.dispatcher.abandon(target);
      throw err;
    }
  }

  private async complete(scan: ImageScan, digest: string, found: Found, context: ReconcileContext, queueKey: string): Promise<ReconcileResult> {
    const { summary } = found;
    ensureLeading(context);
    const sbomRef = await this.deps.results.storeSbom(scan, found.sbom);
    const counts = summary.summary;
    const previous = scan.status ?? {};
    const completedAt = rfc3339(new Date(found.scannedAt));
    const wasComplete = previous.phase === 'Completed' && previous.completedAt === completedAt && previous.observedGeneration === scan.metadata?.generation;
    // Published before the status write, on the transition only; a write lost to a 409 is
    // retried with the same dedupe keys, so receivers see one delivery id per transition.
    if (!wasComplete) for (const event of completionEvents(scan, digest, summary, completedAt, found.cached)) this.notify(event);
    await this.writeStatus(scan, context, {
      phase: 'Completed',
      digest,
      queuePosition: undefined,
      scanner: { name: summary.scanner.name ?? defaultScannerName, version: summary.scanner.version, dbUpdatedAt: summary.scanner.dbUpdatedAt },
      summary: counts,
      topFindings: summary.topFindings,
      componentCount: summary.componentCount,
      sbomRef,
      completedAt,
      condition: {
        type: 'Scanned',
        status: 'True',
        reason: found.cached ? 'CachedResult' : 'ScanCompleted',
        message: `${counts.critical} critical, ${counts.high} high, ${counts.medium} medium, ${counts.low} low (${counts.fixable} fixable)${found.cached ? ', from the scan cache' : ''}`,
      },
      event: { type: 'Normal', reason: 'ScanCompleted' },
    });
    this.deps.dispatcher.release(queueKey);
    this.recordVulnerabilities(queueKey, scan, digest, counts);
    if (!wasComplete) {
      this.deps.metrics.scansTotal.inc({ result: found.cached ? 'cached' : 'completed' });
      const since = Date.parse(previous.startedAt ?? scan.metadata?.creationTimestamp ?? '');
      if (since) this.deps.metrics.scanDuration.observe((Date.now() - since) / 1000);
    }
    return { requeueAfterMs: this.deps.config.rescanAfterMs };
  }

  private notify(event: NotificationEvent): void {
    (this.deps.notifier ?? noNotifier).publish(event);
  }

  private recordVulnerabilities(queueKey: string, scan: ImageScan, digest: string, counts: ScanSummary['summary']): void {
    const labels = { namespace: scan.metadata?.namespace ?? '', image: scan.spec.image, digest };
    this.forgetSeries(queueKey);
    this.gaugeLabels.set(queueKey, labels);
    const severities = { critical: counts.critical, high: counts.high, medium: counts.medium, low: counts.low, unknown: counts.unknown };
    for (const [severity, value] of Object.entries(severities)) {
      this.deps.metrics.imageVulnerabilities.set({ ...labels, severity }, value);
    }
  }

  private forgetSeries(queueKey: string): void {
    const labels = this.gaugeLabels.get(queueKey);
    if (!labels) return;
    for (const severity of ['critical', 'high', 'medium', 'low', 'unknown']) this.deps.metrics.imageVulnerabilities.remove({ ...labels, severity });
    this.gaugeLabels.delete(queueKey);
  }

  private forget(queueKey: string): void {
    this.deps.dispatcher.release(queueKey);
    this.forgetSeries(queueKey);
  }

  /** Status for the generation that was read (runtime/status.ts); queuePosition only while Queued. */
  private async writeStatus(
    scan: ImageScan,
    context: ReconcileContext,
    update: Partial<Omit<ImageScanStatus, 'conditions' | 'observedGeneration'>> & { condition: ConditionUpdate; event?: { type: 'Normal' | 'Warning'; reason: string } },
  ): Promise<void> {
    const { condition, event, ...fields } = update;
    await writeStatus(this.deps, this.type, scan, context, {
      fields,
      condition,
      ...(event ? { event } : {}),
      normalize: (next: ImageScanStatus) => {
        if (next.phase !== 'Queued') delete next.queuePosition;
      },
    });
  }
}

function subjectOf(scan: ImageScan): NotificationEvent['subject'] {
  return { apiVersion: scan.apiVersion ?? 'securestack.io/v1alpha1', kind: 'ImageScan', namespace: scan.metadata?.namespace ?? '', name: scan.metadata?.name ?? '', uid: scan.metadata?.uid ?? '' };
}

function scanFailedEvent(scan: ImageScan, reason: string, message: string, round: string, digest?: string): NotificationEvent {
  return {
    type: 'scan.failed',
    subject: subjectOf(scan),
    occurredAt: new Date().toISOString(),
    dedupeKey: `imagescan/${scan.metadata?.uid ?? ''}/failed/${scan.metadata?.generation ?? 0}/${round}/${reason}`,
    data: { image: scan.spec.image, ...(digest ? { digest } : {}), reason, message },
  };
}

/**
 * scan.completed, and finding.critical when the result has critical findings the previous
 * status did not (by id among the top findings, or by count). Pure, for tests.
 */
export function completionEvents(scan: ImageScan, digest: string, summary: ScanSummary, completedAt: string, cached: boolean): NotificationEvent[] {
  const uid = scan.metadata?.uid ?? '';
  const counts = summary.summary;
  const subject = subjectOf(scan);
  const base = { image: scan.spec.image, digest };
  const events: NotificationEvent[] = [{
    type: 'scan.completed',
    subject,
    occurredAt: completedAt,
    dedupeKey: `imagescan/${uid}/completed/${digest}/${completedAt}`,
    data: { ...base, cached, summary: counts, scanner: summary.scanner },
  }];
  const previous = scan.status;
  const before = new Set((previous?.topFindings ?? []).filter((finding) => finding.severity === 'CRITICAL').map((finding) => finding.id));
  const critical = summary.topFindings.filter((finding) => finding.severity === 'CRITICAL');
  const newIds = critical.map((finding) => finding.id).filter((id) => !before.has(id)).sort();
  const previousCount = previous?.summary?.critical ?? 0;
  if (newIds.length > 0 || counts.critical > previousCount) {
    events.push({
      type: 'finding.critical',
      subject,
      occurredAt: completedAt,
      dedupeKey: `imagescan/${uid}/critical/${digest}/${completedAt}/${newIds.join(',') || `count:${counts.critical}`}`,
      data: { ...base, critical: counts.critical, previousCritical: previousCount, newFindings: critical.filter((finding) => newIds.includes(finding.id)) },
    });
  }
  return events;
}

/**
 * Whether a finished scan Job ends the ImageScan's current attempt (pure, for tests). Job and
 * status times have whole seconds, so a Job that failed in the second the attempt started is
 * told apart by identity: the Job this attempt creates (its name derives from the attempt), or
 * the one status says it is waiting for. Any other Job counts when it finished in a later second
 * than the attempt started.
 */
export function failedDuringAttempt(outcome: Outcome, scan: Pick<ImageScan, 'metadata' | 'status'>): boolean {
  if (outcome.succeeded) return false;
  const namespace = scan.metadata?.namespace ?? '';
  const name = scan.metadata?.name ?? '';
  const status = scan.status ?? {};
  if (outcome.job.namespace === namespace && status.startedAt) {
    const attemptJob = scanJobName(name, scan.metadata?.uid ?? '', status.attempts ?? 1, status.startedAt);
    if (outcome.job.name === attemptJob) return true;
    if (status.phase === 'Scanning' && status.jobName === outcome.job.name) return true;
  }
  return outcome.finishedAt > (Date.parse(status.startedAt ?? '') || 0);
}

