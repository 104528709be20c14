/**
 * ImageScan reconciler: one owned scanner Job per ImageScan, its progress mirrored into status.
 *
 * Idempotent by construction: the Job name is derived from the ImageScan's UID and attempt, and
 * existing Jobs are found again by label, so a restart or a second reconcile never starts a
 * second Job. Deleting the ImageScan deletes the Job through its ownerReference (the
 * controller-manager's garbage collector), so nothing here handles deletion.
 */
import type { V1Job } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageScan, ImageScanStatus } from '../api/types.generated';
import { parseDuration, type OperatorConfig } from '../config';
import { buildScanJob, imageScanUidLabel, scanJobName } from '../jobs/scanjob';
import { isAlreadyExists, type KubeClient, type ObjectKey, type ResourceType } from '../kube/client';
import { setCondition, type ConditionUpdate } from '../runtime/conditions';
import type { EventRecorder } from '../runtime/events';
import { ensureLeading, type ReconcileContext, type ReconcileResult, type Reconciler } from '../runtime/reconciler';
import { imageScanType } from './types';

type Phase = NonNullable<ImageScanStatus['phase']>;

const defaultTimeout = '10m';

/** What the Job says about the scan, reduced to what status needs. */
interface JobOutcome {
  phase: Phase;
  scanned: ConditionUpdate;
}

export class ImageScanReconciler implements Reconciler {
  readonly type: ResourceType = imageScanType;

  constructor(
    private readonly client: KubeClient,
    private readonly events: EventRecorder,
    private readonly config: Pick<OperatorConfig, 'scannerImage' | 'scanJobTtlSeconds' | 'debugReconcileDelayMs'>,
  ) {}

  async reconcile(key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    const scan = await this.client.getCustom<ImageScan>(this.type, key);
    if (!scan?.metadata?.uid || scan.metadata.deletionTimestamp) return {};
    if (this.config.debugReconcileDelayMs > 0) await sleep(this.config.debugReconcileDelayMs);

    // spec.image is immutable (a CEL rule in the CRD), so an existing Job always scans it.
    let job = await this.currentJob(scan);
    let attempts = scan.status?.attempts ?? 0;
    if (!job && !isTerminal(scan.status?.phase, scan)) {
      attempts += 1;
      job = await this.createJob(scan, attempts, context);
    }
    await this.writeStatus(scan, job, attempts, context);
    return {};
  }

  private async currentJob(scan: ImageScan): Promise<V1Job | undefined> {
    const jobs = await this.client.listJobs(scan.metadata?.namespace ?? '', `${imageScanUidLabel}=${scan.metadata?.uid ?? ''}`);
    const live = jobs.filter((job) => !job.metadata?.deletionTimestamp);
    return live.sort((a, b) => attemptOf(b) - attemptOf(a))[0];
  }

  private async createJob(scan: ImageScan, attempt: number, context: ReconcileContext): Promise<V1Job> {
    const namespace = scan.metadata?.namespace ?? '';
    const name = scan.metadata?.name ?? '';
    const job = buildScanJob({
      scanName: name,
      scanUid: scan.metadata?.uid ?? '',
      namespace,
      image: scan.spec.image,
      scannerImage: scan.spec.scanner?.image ?? this.config.scannerImage,
      pullSecrets: (scan.spec.imagePullSecrets ?? []).map((secret) => secret.name),
      timeoutSeconds: Math.ceil(parseDuration(scan.spec.timeout ?? defaultTimeout) / 1000),
      ttlSecondsAfterFinished: this.config.scanJobTtlSeconds,
      attempt,
    });
    ensureLeading(context);
    try {
      const created = await this.client.createJob(namespace, job);
      context.log.info({ job: created.metadata?.name, image: scan.spec.image }, 'created scan Job');
      await this.events.record(scan, 'Normal', 'ScanStarted', `Created Job ${created.metadata?.name ?? ''} to scan ${scan.spec.image}`, context.log);
      return created;
    } catch (err) {
      // A previous reconcile created it but its status write was lost: adopt it.
      if (isAlreadyExists(err)) return job;
      throw err;
    }
  }

  private async writeStatus(scan: ImageScan, job: V1Job | undefined, attempts: number, context: ReconcileContext): Promise<void> {
    const previous = scan.status ?? {};
    const generation = scan.metadata?.generation;
    let status: ImageScanStatus = { ...previous, observedGeneration: generation, attempts };
    if (job) {
      const jobName = job.metadata?.name ?? scanJobName(scan.metadata?.name ?? '', scan.metadata?.uid ?? '', attempts);
      const outcome = jobOutcome(job);
      status = {
        ...status,
        phase: outcome.phase,
        jobName,
        startedAt: previous.jobName === jobName && previous.startedAt ? previous.startedAt : rfc3339(new Date()),
        conditions: setCondition(
          setCondition(previous.conditions, { type: 'JobCreated', status: 'True', reason: 'JobCreated', message: `Created Job ${jobName} to scan ${scan.spec.image}` }, generation),
          outcome.scanned,
          generation,
        ),
      };
      if (outcome.phase === 'Failed' && previous.phase !== 'Failed') {
        await this.events.record(scan, 'Warning', 'ScanFailed', outcome.scanned.message, context.log);
      }
    }
    if (JSON.stringify(status) === JSON.stringify(previous)) return;
    ensureLeading(context);
    // Sends the resourceVersion we read: if the object changed meanwhile this fails with 409 and
    // the work queue retries from a fresh read.
    await this.client.replaceCustomStatus(this.type, { ...scan, status });
  }
}

function attemptOf(job: V1Job): number {
  return Number(job.metadata?.annotations?.['securestack.io/attempt'] ?? 0);
}

/** Finished scans are not restarted when their Job is gone (TTL); a new generation restarts them. */
function isTerminal(phase: Phase | undefined, scan: ImageScan): boolean {
  return (phase === 'Completed' || phase === 'Failed') && scan.status?.observedGeneration === scan.metadata?.generation;
}

function jobOutcome(job: V1Job): JobOutcome {
  const conditions = job.status?.conditions ?? [];
  const failed = conditions.find((condition) => condition.type === 'Failed' && condition.status === 'True');
  if (failed) {
    return {
      phase: 'Failed',
      scanned: { type: 'Scanned', status: 'False', reason: failed.reason ?? 'JobFailed', message: `Scan Job failed: ${failed.message ?? failed.reason ?? 'unknown reason'}` },
    };
  }
  const complete = conditions.find((condition) => condition.type === 'Complete' && condition.status === 'True');
  if (complete) {
    return {
      phase: 'Scanning',
      scanned: { type: 'Scanned', status: 'Unknown', reason: 'AwaitingReport', message: 'Scan Job finished; waiting for the scanner report' },
    };
  }
  const running = (job.status?.active ?? 0) > 0;
  return {
    phase: 'Scanning',
    scanned: { type: 'Scanned', status: 'Unknown', reason: running ? 'JobRunning' : 'JobPending', message: running ? 'Scan Job is running' : 'Scan Job is waiting for its pod' },
  };
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
