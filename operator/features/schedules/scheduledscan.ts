/**
 * ScheduledScan reconciler (leader only), with the CronJob controller's semantics (ADR 0020):
 * one run per due time, at most one catch-up run after a gap, nothing after more than 100 missed,
 * startingDeadlineSeconds, concurrencyPolicy Allow / Forbid / Replace, suspend (active runs go
 * on), successful and failed history limits. A run is an ImageScan, a ComplianceReport, or one
 * ImageScan per image running in a scope; its objects are owned by the ScheduledScan and named
 * from the scheduled time, so no restart, leader change or second replica creates a run twice.
 *
 * Everything is read from the shared cache (the ScheduledScan and the objects it owns) each time:
 * the reconciler keeps no state that a new leader would lack, except which Warning Events it has
 * recorded already (a new leader may record one of them once more).
 */
import type { Notifier } from '../../api/notifications';
import type { ScheduledScan, ScheduledScanStatus } from '../../api/types.generated';
import { scheduledScanType, complianceReportType, imageScanType } from '../../api/resources';
import { namespacesBeyond, resolveScope, type NamespaceInfo } from '../../engine/scope';
import { isAlreadyExists, KubeApiError, type KubeClient, type ObjectKey, type ResourceType } from '../../platform/kube/client';
import { rfc3339, type ConditionUpdate } from '../../platform/runtime/conditions';
import type { EventRecorder } from '../../platform/runtime/events';
import { cachedObject, ensureLeading, type ReconcileContext, type ReconcileResult, type Reconciler } from '../../platform/runtime/reconciler';
import { writeStatus } from '../../platform/runtime/status';
import { dueRun, requeueDelay, type DueRun } from './due';
import { findingKey, readFindings, storeFindings, type FindingsSnapshot } from './findings-store';
import type { RunResult, ScheduleMetrics } from './metrics';
import { zeroSeries } from '../../platform/runtime/metrics';
import { groupRuns, runKind, runName, runObjects, type Run, type RunObject } from './runs';
import { checkSchedule } from './validate';

/** How a run's image findings are listed (the scan feature's severeFindings, injected by main). */
export type FindingsOf = (scan: Extract<RunObject, { kind: 'ImageScan' }>) => Promise<Array<{ id: string; package: string; installedVersion?: string; severity: 'CRITICAL' | 'HIGH' }>>;

export interface ScheduleDeps {
  client: KubeClient;
  events: EventRecorder;
  metrics: ScheduleMetrics;
  /** The ImageScans and ComplianceReports a ScheduledScan controls, by its uid, from the shared cache. */
  owned(uid: string): RunObject[];
  /** Namespaces with their labels, from the shared informer (running-images scopes select by them). */
  namespaces(): NamespaceInfo[];
  /** Unique images of the Pods running in the namespaces given ('all': every namespace). */
  runningImages(scope: ReturnType<typeof resolveScope>, signal: AbortSignal): Promise<string[]>;
  /** Whether a ScheduledScan in this namespace may scan other namespaces' images. */
  mayCoverCluster(namespace: string): boolean;
  findings?: FindingsOf;
  /** Webhook notifications: schedule.run.completed and schedule.run.failed for each finished run. */
  notifier?: Notifier;
  /** The zone of schedules without timeZone. */
  defaultTimeZone: string;
  now?: () => number;
}

/** Finished runs listed in status.recentRuns. */
const recentRunsKept = 20;
/** Active runs listed in status.active (the CRD's maxItems). */
const activeListed = 32;

type Status = ScheduledScanStatus;
type RunSummary = NonNullable<Status['recentRuns']>[number];

export class ScheduledScanReconciler implements Reconciler {
  readonly type: ResourceType = scheduledScanType;
  /** Per ScheduledScan, the due time whose Warning or skip Event was recorded (no Event every requeue). */
  private readonly announced = new Map<string, number>();
  private readonly series = new Map<string, { namespace: string; scheduledscan: string }>();

  constructor(private readonly deps: ScheduleDeps) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async reconcile(key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    const scheduledScan = cachedObject<ScheduledScan>(context);
    const seriesKey = `${key.namespace ?? ''}/${key.name}`;
    if (!scheduledScan?.metadata.uid || scheduledScan.metadata.deletionTimestamp) {
      this.forget(seriesKey);
      return {};
    }
    const labels = { namespace: key.namespace ?? '', scheduledscan: key.name };
    this.series.set(seriesKey, labels);
    const verdict = checkSchedule(scheduledScan.spec, this.deps.defaultTimeZone);
    if (!verdict.ok) return this.refuse(scheduledScan, context, verdict.reason, verdict.message);
    const outside = this.outsideOwnNamespace(scheduledScan);
    if (outside) return this.refuse(scheduledScan, context, 'ScopeNotAllowed', outside);

    const now = this.now();
    const runs = groupRuns(scheduledScan, this.deps.owned(scheduledScan.metadata.uid));
    let status = await this.recordFinished(scheduledScan, runs, context);
    const finishedNames = new Set(runs.filter((run) => run.done).map((run) => run.name));
    let active = runs.filter((run) => !run.done);

    const history = {
      createdAt: Date.parse(scheduledScan.metadata.creationTimestamp ?? '') || now,
      ...(status.lastScheduleTime ? { lastScheduleTime: Date.parse(status.lastScheduleTime) } : {}),
      ...(scheduledScan.spec.startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds: scheduledScan.spec.startingDeadlineSeconds } : {}),
    };
    const due: DueRun = scheduledScan.spec.suspend ? { kind: 'none' } : dueRun(verdict.schedule, history, now);
    if (due.kind === 'tooManyMissed') await this.tooManyMissed(scheduledScan, due, context, seriesKey, labels);
    if (due.kind === 'run' && finishedNames.has(runName(key.name, due.scheduledTime))) {
      // Started and finished already, but the status write that followed did not land.
      status = { ...status, lastScheduleTime: rfc3339(new Date(due.scheduledTime)) };
    } else if (due.kind === 'run') {
      const started = await this.startRun(scheduledScan, due, active, context, seriesKey, labels);
      if (started) {
        status = { ...status, lastScheduleTime: rfc3339(new Date(due.scheduledTime)) };
        active = started.active;
        status = started.recorded ? { ...status, recentRuns: mergeRecent(status.recentRuns, [started.recorded]), lastSuccessfulTime: rfc3339(new Date(now)) } : status;
      }
    }
    const next = scheduledScan.spec.suspend ? undefined : due.next;
    // The first run, failure or missed time must show as an increase (runtime/metrics.ts zeroSeries).
    zeroSeries(this.deps.metrics.missed, [labels]);
    zeroSeries(this.deps.metrics.runs, (['succeeded', 'failed'] satisfies RunResult[]).map((result) => ({ ...labels, result })));
    if (next === undefined) this.deps.metrics.nextRun.remove(labels);
    else this.deps.metrics.nextRun.set(labels, Math.floor(next / 1000));
    await this.writeSchedule(scheduledScan, context, status, active, next, verdict.timeZone);
    // After the status that records them: a run deleted first and then not recorded (a failed
    // write) would be lost from recentRuns.
    await this.applyHistoryLimits(scheduledScan, runs, context);
    const delay = requeueDelay(next, this.now());
    return delay === undefined ? {} : { requeueAfterMs: delay };
  }

  /** A ScheduledScan that cannot run: a Failed phase, a Warning Event (once per spec) and a metric. */
  private async refuse(scheduledScan: ScheduledScan, context: ReconcileContext, reason: string, message: string): Promise<ReconcileResult> {
    this.deps.metrics.invalid.inc({ reason });
    this.deps.metrics.nextRun.remove({ namespace: scheduledScan.metadata.namespace ?? '', scheduledscan: scheduledScan.metadata.name ?? '' });
    await writeStatus<Status, ScheduledScan>(this.deps, this.type, scheduledScan, context, {
      fields: { phase: 'Failed' },
      condition: { type: 'Ready', status: 'False', reason, message },
      event: { type: 'Warning', reason },
      normalize: (next) => delete next.nextScheduleTime,
    });
    return {};
  }

  /** Outside the namespaces allowed to, a running-images schedule covers its own namespace only. */
  private outsideOwnNamespace(scheduledScan: ScheduledScan): string | undefined {
    const template = scheduledScan.spec.runningImagesTemplate;
    const own = scheduledScan.metadata.namespace ?? '';
    if (!template || this.deps.mayCoverCluster(own)) return undefined;
    const scope = resolveScope({ ...template.spec.scope }, this.deps.namespaces());
    const others = namespacesBeyond(scope, own);
    if (others === undefined) return undefined;
    return `spec.runningImagesTemplate.spec.scope: a ScheduledScan in namespace ${own} may scan the images running in ${own} only, not in ${others}; create it in the operator's namespace or one listed in SECURESTACK_COMPLIANCE_CLUSTER_NAMESPACES (chart: compliance.clusterNamespaces)`;
  }

  /**
   * Runs that finished since the status last listed them: a summary in recentRuns, an Event and
   * the metrics. Finished runs older than the newest recentRunsKept are taken as recorded.
   */
  private async recordFinished(scheduledScan: ScheduledScan, runs: readonly Run[], context: ReconcileContext): Promise<Status> {
    const status: Status = { ...scheduledScan.status };
    const known = new Set((status.recentRuns ?? []).map((run) => run.name));
    const fresh = runs.filter((run) => run.done).slice(-recentRunsKept).filter((run) => !known.has(run.name));
    if (fresh.length === 0) return status;
    const summaries: RunSummary[] = [];
    for (const run of fresh) {
      const summary = await this.summarize(scheduledScan, run, context);
      summaries.push(summary);
      const succeeded = summary.result === 'Succeeded';
      const labels = { namespace: scheduledScan.metadata.namespace ?? '', scheduledscan: scheduledScan.metadata.name ?? '' };
      this.deps.metrics.runs.inc({ ...labels, result: succeeded ? 'succeeded' : 'failed' });
      const created = Math.min(...run.objects.map((object) => Date.parse(object.metadata.creationTimestamp ?? '') || run.scheduledTime));
      if (run.completionTime !== undefined) this.deps.metrics.runDuration.observe({ target: targetOf(scheduledScan), result: summary.result }, Math.max(0, run.completionTime - created) / 1000);
      await this.deps.events.record(scheduledScan, succeeded ? 'Normal' : 'Warning', succeeded ? 'RunCompleted' : 'RunFailed', `Run ${run.name} (scheduled ${rfc3339(new Date(run.scheduledTime))}) ${describe(summary)}`, context.log);
      this.notify(scheduledScan, summary);
      if (succeeded && run.completionTime !== undefined) {
        const last = status.lastSuccessfulTime ? Date.parse(status.lastSuccessfulTime) : 0;
        if (run.completionTime > last) status.lastSuccessfulTime = rfc3339(new Date(run.completionTime));
      }
    }
    status.recentRuns = mergeRecent(status.recentRuns, summaries);
    return status;
  }

  /** What a finished run found: counts, new critical and high findings, or the compliance score. */
  private async summarize(scheduledScan: ScheduledScan, run: Run, context: ReconcileContext): Promise<RunSummary> {
    const summary: RunSummary = {
      kind: run.kind,
      name: run.name,
      scheduledTime: rfc3339(new Date(run.scheduledTime)),
      result: run.failed > 0 ? 'Failed' : 'Succeeded',
      ...(run.completionTime !== undefined ? { completionTime: rfc3339(new Date(run.completionTime)) } : {}),
      ...(run.failed > 0 ? { failed: run.failed, message: (run.failure ?? '').slice(0, 1024) } : {}),
    };
    if (run.kind === 'ComplianceReport') {
      const score = run.objects[0]?.kind === 'ComplianceReport' ? run.objects[0].status?.summary?.score : undefined;
      return score === undefined ? summary : { ...summary, score };
    }
    const scans = run.objects.filter((object): object is Extract<RunObject, { kind: 'ImageScan' }> => object.kind === 'ImageScan');
    summary.images = scans.length;
    summary.critical = scans.reduce((sum, scan) => sum + (scan.status?.summary?.critical ?? 0), 0);
    summary.high = scans.reduce((sum, scan) => sum + (scan.status?.summary?.high ?? 0), 0);
    const fresh = await this.newFindings(scheduledScan, run, scans, context);
    return fresh ? { ...summary, newCritical: fresh.critical, newHigh: fresh.high } : summary;
  }

  /**
   * Critical and high findings of this run that the previous finished run did not report. The
   * newest run's findings become the snapshot the next run is compared with. Undefined when the
   * findings could not be listed (logged; the run's counts still stand).
   */
  private async newFindings(scheduledScan: ScheduledScan, run: Run, scans: readonly Extract<RunObject, { kind: 'ImageScan' }>[], context: ReconcileContext): Promise<{ critical: number; high: number } | undefined> {
    if (!this.deps.findings) return undefined;
    const owner = { namespace: scheduledScan.metadata.namespace ?? '', name: scheduledScan.metadata.name ?? '', uid: scheduledScan.metadata.uid ?? '' };
    try {
      const snapshot: Omit<FindingsSnapshot, 'fresh'> = { scheduledTime: run.scheduledTime, critical: [], high: [] };
      for (const scan of scans) {
        for (const finding of await this.deps.findings(scan)) (finding.severity === 'CRITICAL' ? snapshot.critical : snapshot.high).push(findingKey(scan.spec.image, finding));
      }
      const previous = await readFindings(this.deps.client, owner);
      // This run was compared already (a status write after it failed): the same answer again.
      if (previous?.scheduledTime === run.scheduledTime) return previous.fresh;
      const before = previous && previous.scheduledTime < run.scheduledTime ? previous : undefined;
      const known = { critical: new Set(before?.critical ?? []), high: new Set(before?.high ?? []) };
      const fresh = { critical: snapshot.critical.filter((key) => !known.critical.has(key)).length, high: snapshot.high.filter((key) => !known.high.has(key)).length };
      // A run that finished after a newer one is compared, but the newer snapshot stays.
      if (!previous || previous.scheduledTime < run.scheduledTime) {
        ensureLeading(context);
        await storeFindings(this.deps.client, owner, { ...snapshot, fresh });
      }
      return fresh;
    } catch (err) {
      if (context.signal.aborted) throw err;
      context.log.warn({ run: run.name, err: err instanceof Error ? err.message : String(err) }, 'could not compare the run\'s findings with the previous run');
      return undefined;
    }
  }

  /** Deletes the objects of finished runs beyond successfulRunsHistoryLimit and failedRunsHistoryLimit, oldest first. */
  private async applyHistoryLimits(scheduledScan: ScheduledScan, runs: readonly Run[], context: ReconcileContext): Promise<void> {
    const finished = runs.filter((run) => run.done);
    const successes = finished.filter((run) => run.failed === 0);
    const failures = finished.filter((run) => run.failed > 0);
    const limits = { succeeded: scheduledScan.spec.successfulRunsHistoryLimit ?? 3, failed: scheduledScan.spec.failedRunsHistoryLimit ?? 1 };
    const expired = [...successes.slice(0, Math.max(0, successes.length - limits.succeeded)), ...failures.slice(0, Math.max(0, failures.length - limits.failed))];
    for (const run of expired) {
      await this.deleteRun(run, context);
      context.log.info({ run: run.name }, 'deleted a finished run beyond the history limit');
    }
  }

  private async deleteRun(run: Run, context: ReconcileContext): Promise<void> {
    for (const object of run.objects) {
      ensureLeading(context);
      await this.deps.client.deleteCustom(object.kind === 'ImageScan' ? imageScanType : complianceReportType, { namespace: object.metadata.namespace ?? '', name: object.metadata.name ?? '' });
    }
  }

  private async tooManyMissed(scheduledScan: ScheduledScan, due: Extract<DueRun, { kind: 'tooManyMissed' }>, context: ReconcileContext, seriesKey: string, labels: { namespace: string; scheduledscan: string }): Promise<void> {
    // Once per stretch: the next due time names the stretch.
    const marker = -(due.next ?? 0);
    if (this.announced.get(seriesKey) === marker) return;
    this.announced.set(seriesKey, marker);
    this.deps.metrics.missed.inc(labels, due.missed);
    await this.deps.events.record(scheduledScan, 'Warning', 'TooManyMissedTimes', `Too many missed start times (> 100): no run started. Set or decrease spec.startingDeadlineSeconds or check clock skew.`, context.log);
  }

  /**
   * Starts the run due at `due.scheduledTime` unless the concurrency policy says otherwise.
   * Returns undefined when nothing was started (Forbid), else the runs active afterwards and, for
   * a running-images run with no image to scan, the summary of that run (it is over at once).
   */
  private async startRun(scheduledScan: ScheduledScan, due: Extract<DueRun, { kind: 'run' }>, active: readonly Run[], context: ReconcileContext, seriesKey: string, labels: { namespace: string; scheduledscan: string }): Promise<{ active: Run[]; recorded?: RunSummary } | undefined> {
    const name = runName(scheduledScan.metadata.name ?? '', due.scheduledTime);
    // Objects of this very run exist: a previous attempt (or leader) started it; finish creating it.
    const resuming = active.some((run) => run.name === name);
    const others = active.filter((run) => run.name !== name);
    const policy = scheduledScan.spec.concurrencyPolicy ?? 'Allow';
    if (!resuming && others.length > 0 && policy === 'Forbid') {
      if (this.announced.get(seriesKey) !== due.scheduledTime) {
        this.announced.set(seriesKey, due.scheduledTime);
        this.deps.metrics.runs.inc({ ...labels, result: 'skipped' });
        await this.deps.events.record(scheduledScan, 'Normal', 'RunSkipped', `Not starting the run due at ${rfc3339(new Date(due.scheduledTime))}: ${others.map((run) => run.name).join(', ')} is still active and concurrencyPolicy is Forbid`, context.log);
      }
      return undefined;
    }
    let remaining = [...active];
    if (!resuming && others.length > 0 && policy === 'Replace') {
      for (const run of others) {
        await this.deleteRun(run, context);
        this.deps.metrics.runs.inc({ ...labels, result: 'replaced' });
        await this.deps.events.record(scheduledScan, 'Normal', 'RunReplaced', `Deleted the active run ${run.name} (scheduled ${rfc3339(new Date(run.scheduledTime))}): the run due at ${rfc3339(new Date(due.scheduledTime))} replaces it (concurrencyPolicy Replace)`, context.log);
      }
      remaining = [];
    }
    const images = scheduledScan.spec.runningImagesTemplate ? await this.deps.runningImages(resolveScope({ ...scheduledScan.spec.runningImagesTemplate.spec.scope }, this.deps.namespaces()), context.signal) : [];
    const objects = runObjects(scheduledScan, due.scheduledTime, images);
    const { created, refused } = await this.createAll(objects, context);
    if (due.missed > 0) this.deps.metrics.missed.inc(labels, due.missed);
    if (created > 0 || objects.length === 0) {
      this.deps.metrics.runs.inc({ ...labels, result: 'started' });
      const what = scheduledScan.spec.runningImagesTemplate ? `${objects.length} ImageScan(s), one per running image${refused.length > 0 ? `; ${refused.length} image(s) refused: ${refused.slice(0, 3).join('; ')}` : ''}` : `${objects[0]?.kind ?? 'object'} ${name}`;
      await this.deps.events.record(scheduledScan, 'Normal', 'RunStarted', `Started run ${name} for ${rfc3339(new Date(due.scheduledTime))}: ${what}${due.missed > 0 ? ` (${due.missed} earlier due time(s) missed)` : ''}`, context.log);
    }
    context.log.info({ run: name, scheduledTime: rfc3339(new Date(due.scheduledTime)), objects: objects.length, created, missed: due.missed }, 'scheduled run started');
    if (objects.length === 0) {
      // Nothing runs in scope: the run is over as it starts, and says so.
      const recorded: RunSummary = { kind: 'ImageScan', name, scheduledTime: rfc3339(new Date(due.scheduledTime)), completionTime: rfc3339(new Date(this.now())), result: 'Succeeded', images: 0, critical: 0, high: 0, newCritical: 0, newHigh: 0 };
      this.deps.metrics.runs.inc({ ...labels, result: 'succeeded' });
      await this.deps.events.record(scheduledScan, 'Normal', 'RunCompleted', `Run ${name} found no running image in its scope`, context.log);
      this.notify(scheduledScan, recorded);
      return { active: remaining, recorded };
    }
    const started: Run = { name, kind: runKind(scheduledScan), scheduledTime: due.scheduledTime, objects, finished: 0, failed: 0, done: false };
    return { active: [...remaining.filter((run) => run.name !== name), started] };
  }

  /** Creates the objects; one that exists already (an earlier attempt made it) counts as done. */
  private async createAll(objects: readonly RunObject[], context: ReconcileContext): Promise<{ created: number; refused: string[] }> {
    let created = 0;
    const refused: string[] = [];
    for (const object of objects) {
      ensureLeading(context);
      try {
        await this.deps.client.createCustom(object.kind === 'ImageScan' ? imageScanType : complianceReportType, object);
        created += 1;
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        // A running image whose reference the ImageScan schema refuses must not stop the others.
        if (err instanceof KubeApiError && err.code === 422 && objects.length > 1) {
          refused.push(`${object.kind === 'ImageScan' ? object.spec.image : object.metadata.name}: ${err.message}`.slice(0, 300));
          continue;
        }
        throw err;
      }
    }
    return { created, refused };
  }

  private async writeSchedule(scheduledScan: ScheduledScan, context: ReconcileContext, status: Status, active: readonly Run[], next: number | undefined, timeZone: string): Promise<void> {
    const suspended = scheduledScan.spec.suspend === true;
    const phase = suspended ? 'Suspended' : active.length > 0 ? 'Running' : 'Scheduled';
    const nextText = next === undefined ? undefined : rfc3339(new Date(next));
    const condition: ConditionUpdate = suspended
      ? { type: 'Ready', status: 'True', reason: 'Suspended', message: `Suspended: no new runs start${active.length > 0 ? `; ${active.length} active run(s) go on` : ''}` }
      : nextText
        ? { type: 'Ready', status: 'True', reason: 'Scheduled', message: `Next run at ${nextText} (${timeZone})` }
        : { type: 'Ready', status: 'True', reason: 'NoFutureRuns', message: `The schedule ${scheduledScan.spec.schedule} has no due time in the next five years (${timeZone})` };
    const fields: Partial<Status> = {
      phase,
      active: active.slice(-activeListed).map((run) => ({ kind: run.kind, name: run.name, scheduledTime: rfc3339(new Date(run.scheduledTime)), objects: run.objects.length, finished: run.finished })),
      ...(status.lastScheduleTime ? { lastScheduleTime: status.lastScheduleTime } : {}),
      ...(status.lastSuccessfulTime ? { lastSuccessfulTime: status.lastSuccessfulTime } : {}),
      ...(status.recentRuns ? { recentRuns: status.recentRuns } : {}),
      ...(nextText ? { nextScheduleTime: nextText } : {}),
    };
    await writeStatus<Status, ScheduledScan>(this.deps, this.type, scheduledScan, context, {
      fields,
      condition,
      normalize: (next) => {
        if (!nextText) delete next.nextScheduleTime;
        if (next.active?.length === 0) delete next.active;
      },
    });
  }

  /**
   * schedule.run.completed or schedule.run.failed, keyed by the run (the ScheduledScan's uid and
   * the run's name): a reconcile that records the same run again after a failed status write
   * publishes the same delivery id.
   */
  private notify(scheduledScan: ScheduledScan, summary: RunSummary): void {
    const meta = scheduledScan.metadata;
    this.deps.notifier?.publish({
      type: summary.result === 'Succeeded' ? 'schedule.run.completed' : 'schedule.run.failed',
      subject: { apiVersion: 'securestack.io/v1alpha1', kind: 'ScheduledScan', namespace: meta.namespace ?? '', name: meta.name ?? '', uid: meta.uid ?? '' },
      occurredAt: summary.completionTime ?? rfc3339(new Date(this.now())),
      dedupeKey: `schedule-run/${meta.uid ?? ''}/${summary.name}`,
      data: { ...summary, schedule: scheduledScan.spec.schedule, target: targetOf(scheduledScan) },
    });
  }

  private forget(seriesKey: string): void {
    const labels = this.series.get(seriesKey);
    this.announced.delete(seriesKey);
    if (!labels) return;
    this.deps.metrics.nextRun.remove(labels);
    for (const result of ['started', 'succeeded', 'failed', 'skipped', 'replaced'] satisfies RunResult[]) this.deps.metrics.runs.remove({ ...labels, result });
    this.deps.metrics.missed.remove(labels);
    this.series.delete(seriesKey);
  }
}

function targetOf(scheduledScan: ScheduledScan): string {
  return scheduledScan.spec.imageScanTemplate ? 'image' : scheduledScan.spec.complianceReportTemplate ? 'compliance' : 'running-images';
}

/** recentRuns with `added`: one entry per run, newest first, at most recentRunsKept. */
function mergeRecent(existing: readonly RunSummary[] | undefined, added: readonly RunSummary[]): RunSummary[] {
  const byName = new Map((existing ?? []).map((run) => [run.name, run]));
  for (const run of added) byName.set(run.name, run);
  return [...byName.values()].sort((a, b) => Date.parse(b.scheduledTime) - Date.parse(a.scheduledTime)).slice(0, recentRunsKept);
}

function describe(summary: RunSummary): string {
  const outcome = summary.result === 'Succeeded' ? 'completed' : `failed (${summary.failed ?? 0} object(s) failed${summary.message ? `: ${summary.message}` : ''})`;
  if (summary.kind === 'ComplianceReport') return `${outcome}${summary.score !== undefined ? `; score ${summary.score}` : ''}`;
  const fresh = summary.newCritical !== undefined ? `; new since the previous run: ${summary.newCritical} critical, ${summary.newHigh ?? 0} high` : '';
  return `${outcome}: ${summary.images ?? 0} image(s) scanned, ${summary.critical ?? 0} critical and ${summary.high ?? 0} high vulnerabilities${fresh}`;
}
