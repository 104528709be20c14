/**
 * A ScheduledScan's runs as objects in the cluster: how a run's objects are named, labelled and
 * owned, and how the runs are read back from them. Nothing about runs is kept in memory: a new
 * leader, a restarted process or a second replica finds every run from the owned objects.
 *
 * Names come from the scheduled time (minutes since the epoch, as the CronJob controller names
 * Jobs), so creating a run twice for one due time meets AlreadyExists instead of a duplicate.
 */
import { createHash } from 'node:crypto';
import type { ComplianceReport, ImageScan, ImageScanSpec, ScheduledScan } from '../../api/types.generated';
import { apiVersion } from '../../api/types.generated';
import type { KubeObjectMeta } from '../../api/types.generated';
import { ownerLabelValue } from '../../platform/kube/parted-blob';
import { rfc3339 } from '../../platform/runtime/conditions';

/** The ScheduledScan's name (shortened to a label value) on each object of its runs. */
export const SCHEDULED_BY_LABEL = 'securestack.io/scheduledscan';
/** The run's scheduled time in minutes since the epoch: the objects of one run share it. */
export const SCHEDULED_TIME_LABEL = 'securestack.io/scheduled-time';
/** The scheduled time as RFC 3339, for people. */
export const SCHEDULED_TIME_ANNOTATION = 'securestack.io/scheduled-time';

export type RunKind = 'ImageScan' | 'ComplianceReport';
export type RunObject = ImageScan | ComplianceReport;

/** Longest object name; a run's name leaves room for `-<10 hex>` per image of a running-images run. */
const maxNameLength = 253;
const imageSuffixLength = 11;

/** Minutes since the epoch, the CronJob controller's getTimeHashInMinutes. */
export function scheduledMinutes(scheduledTime: number): number {
  return Math.floor(scheduledTime / 60_000);
}

/**
 * `<scheduledscan>-<minutes>`, as a CronJob names its Jobs. A name too long for that (and an
 * image suffix) keeps a prefix and a hash of the whole name, so two long names stay apart.
 */
export function runName(scheduledScanName: string, scheduledTime: number): string {
  const suffix = `-${scheduledMinutes(scheduledTime)}`;
  const max = maxNameLength - imageSuffixLength - suffix.length;
  if (scheduledScanName.length <= max) return `${scheduledScanName}${suffix}`;
  const hash = createHash('sha256').update(scheduledScanName).digest('hex').slice(0, 10);
  return `${scheduledScanName.slice(0, max - hash.length - 1).replace(/[.-]+$/, '')}-${hash}${suffix}`;
}

/** The ImageScan of one image in a running-images run: the run's name and a hash of the image. */
export function imageObjectName(run: string, image: string): string {
  return `${run}-${createHash('sha256').update(image).digest('hex').slice(0, 10)}`;
}

/** Metadata every object of a run carries: the template's labels and annotations, ours, the owner. */
function runMetadata(scheduledScan: ScheduledScan, name: string, scheduledTime: number, template: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined): KubeObjectMeta {
  const owner = scheduledScan.metadata;
  return {
    name,
    namespace: owner.namespace ?? '',
    labels: { ...template?.labels, [SCHEDULED_BY_LABEL]: ownerLabelValue(owner.name ?? ''), [SCHEDULED_TIME_LABEL]: String(scheduledMinutes(scheduledTime)) },
    annotations: { ...template?.annotations, [SCHEDULED_TIME_ANNOTATION]: rfc3339(new Date(scheduledTime)) },
    // The runs go with the ScheduledScan (garbage collection), and the owner index finds them.
    ownerReferences: [{ apiVersion, kind: 'ScheduledScan', name: owner.name ?? '', uid: owner.uid ?? '', controller: true, blockOwnerDeletion: true }],
  };
}

/** The objects of the run due at `scheduledTime`; `images` only for a running-images target. */
export function runObjects(scheduledScan: ScheduledScan, scheduledTime: number, images: readonly string[] = []): RunObject[] {
  const spec = scheduledScan.spec;
  const name = runName(scheduledScan.metadata.name ?? '', scheduledTime);
  if (spec.imageScanTemplate) {
    const template = spec.imageScanTemplate;
    return [{ apiVersion, kind: 'ImageScan', metadata: runMetadata(scheduledScan, name, scheduledTime, template.metadata), spec: { ...template.spec } }];
  }
  if (spec.complianceReportTemplate) {
    const template = spec.complianceReportTemplate;
    return [{ apiVersion, kind: 'ComplianceReport', metadata: runMetadata(scheduledScan, name, scheduledTime, template.metadata), spec: { ...template.spec } }];
  }
  const template = spec.runningImagesTemplate;
  if (!template) return [];
  // Every option of the template but the scope is an ImageScan option.
  const options: Omit<ImageScanSpec, 'image'> = { ...template.spec };
  delete (options as { scope?: unknown }).scope;
  return [...new Set(images)].sort().map((image): ImageScan => {
    const imageSpec: ImageScanSpec = { ...options, image };
    return { apiVersion, kind: 'ImageScan', metadata: runMetadata(scheduledScan, imageObjectName(name, image), scheduledTime, template.metadata), spec: imageSpec };
  });
}

/** The kind of object a ScheduledScan's runs are made of. */
export function runKind(scheduledScan: ScheduledScan): RunKind {
  return scheduledScan.spec.complianceReportTemplate ? 'ComplianceReport' : 'ImageScan';
}

/** One run as found in the cluster. */
export interface Run {
  name: string;
  kind: RunKind;
  scheduledTime: number;
  objects: RunObject[];
  finished: number;
  failed: number;
  /** Every object finished (a run with no objects never is: it is not found at all). */
  done: boolean;
  /** When the last object finished, if done. */
  completionTime?: number;
  /** The first failure's message, if any failed. */
  failure?: string;
}

/** The condition that says how an object of a run ended: an ImageScan's Scanned, a ComplianceReport's Ready. */
const outcomeCondition: Record<RunKind, string> = { ImageScan: 'Scanned', ComplianceReport: 'Ready' };

/** Whether an object of a run has finished, and how. */
export function objectOutcome(object: RunObject): { finished: boolean; failed: boolean; at?: number; message?: string } {
  const status = object.status;
  // A ComplianceReport's status may be from before a spec change: only this generation's counts.
  if (!status || status.observedGeneration !== object.metadata.generation) return { finished: false, failed: false };
  const condition = status.conditions?.find((entry) => entry.type === outcomeCondition[object.kind]);
  if (status.phase !== 'Completed' && status.phase !== 'Failed') return { finished: false, failed: false };
  const at = finishedAt(object, condition?.lastTransitionTime);
  if (status.phase === 'Completed') return { finished: true, failed: false, ...at };
  return { finished: true, failed: true, ...at, message: `${object.kind} ${object.metadata.name ?? ''}: ${condition?.message ?? 'failed'}` };
}

/**
 * When this object finished: the later of its outcome condition's transition and the time its
 * result names. An ImageScan answered from the scan cache names when the cached scan ran (hours
 * ago, perhaps); the condition says when this object got it.
 */
function finishedAt(object: RunObject, transition: string | undefined): { at?: number } {
  const named = object.kind === 'ImageScan' ? object.status?.completedAt : object.status?.generatedAt;
  const times = [transition, named].map((text) => (text ? Date.parse(text) : NaN)).filter((time) => !Number.isNaN(time));
  return times.length > 0 ? { at: Math.max(...times) } : {};
}


/** The runs of a ScheduledScan from the objects it owns, oldest first. */
export function groupRuns(scheduledScan: ScheduledScan, owned: readonly RunObject[]): Run[] {
  const byTime = new Map<number, RunObject[]>();
  for (const object of owned) {
    const minutes = Number(object.metadata.labels?.[SCHEDULED_TIME_LABEL]);
    if (!Number.isSafeInteger(minutes)) continue;
    const annotated = Date.parse(object.metadata.annotations?.[SCHEDULED_TIME_ANNOTATION] ?? '');
    // The annotation has the exact instant (an @every schedule need not fall on a whole minute).
    const scheduledTime = Number.isNaN(annotated) || scheduledMinutes(annotated) !== minutes ? minutes * 60_000 : annotated;
    const list = byTime.get(scheduledTime) ?? [];
    list.push(object);
    byTime.set(scheduledTime, list);
  }
  const name = scheduledScan.metadata.name ?? '';
  return [...byTime.entries()].sort(([a], [b]) => a - b).map(([scheduledTime, objects]) => summarizeRun(runName(name, scheduledTime), scheduledTime, objects));
}

function summarizeRun(name: string, scheduledTime: number, objects: RunObject[]): Run {
  let finished = 0;
  let failed = 0;
  let completionTime: number | undefined;
  let failure: string | undefined;
  for (const object of objects) {
    const outcome = objectOutcome(object);
    if (!outcome.finished) continue;
    finished += 1;
    if (outcome.failed) {
      failed += 1;
      failure ??= outcome.message;
    }
    if (outcome.at !== undefined) completionTime = Math.max(completionTime ?? 0, outcome.at);
  }
  const done = objects.length > 0 && finished === objects.length;
  return {
    name,
    kind: objects[0]?.kind ?? 'ImageScan',
    scheduledTime,
    objects,
    finished,
    failed,
    done,
    ...(done && completionTime !== undefined ? { completionTime } : {}),
    ...(failure !== undefined ? { failure } : {}),
  };
}
