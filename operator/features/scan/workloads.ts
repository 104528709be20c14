/**
 * Automatic workload scanning: keeps one ImageScan per image that running pods use, in the pods'
 * namespace, labelled `securestack.io/source=workload`, and removes it when no pod uses the image
 * any more. Many namespaces with one digest still share one Job and one cached result (the
 * dispatcher and the cache key by digest); rescans after the rescan period or a newer
 * vulnerability DB come from the ImageScan reconciler.
 *
 * Keys are namespaces. The pod watch keeps only what this needs from each pod (namespace, labels
 * matched, image references) so memory stays bounded with many pods.
 */
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { apiVersion, type ImageScan } from '../../api/types.generated';
import { admissionSource, createOwnImageScan, isOwnScan, ownScanName, sourceLabel, workloadSource } from '../../api/own-scans';
import type { Counter } from 'prom-client';
import { validateSpec } from '../../api/schema';
import { isInvalid, isNotFound, type KubeClient, type ObjectKey, type ResourceType } from '../../platform/kube/client';
import { parseReference } from '../../platform/registry/reference';
import type { EventRecorder } from '../../platform/runtime/events';
import type { SecondaryWatch } from '../../platform/runtime/manager';
import { ensureLeading, keyOf, type ReconcileContext, type ReconcileResult, type Reconciler } from '../../platform/runtime/reconciler';
import { imageScanType } from '../../api/resources';

const workloadKind = 'WorkloadImages';
const workloadType: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: workloadKind, namespaced: false };

export interface WorkloadFilter {
  /** Only these namespaces (empty: all). */
  includeNamespaces: readonly string[];
  excludeNamespaces: readonly string[];
  /** Pod label requirements: `key=value`, `key!=value`, `key` (exists), `!key`. */
  podSelector: readonly string[];
}

export function matchesSelector(labels: Record<string, string>, selector: readonly string[]): boolean {
  return selector.every((requirement) => {
    const notEqual = /^([^!=]+)!=(.*)$/.exec(requirement);
    if (notEqual) return labels[notEqual[1] ?? ''] !== notEqual[2];
    const equal = /^([^!=]+)==?(.*)$/.exec(requirement);
    if (equal) return labels[equal[1] ?? ''] === equal[2];
    if (requirement.startsWith('!')) return !(requirement.slice(1) in labels);
    return requirement in labels;
  });
}

/**
 * The images a pod runs: the digest the kubelet pulled (status imageID) when it reports one,
 * otherwise the reference in the spec, which the ImageScan resolves.
 */
export function podImages(pod: V1Pod): string[] {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return containers.map((container) => {
    const image = container.image ?? '';
    const digest = /sha256:[a-f0-9]{64}$/.exec(statuses.find((status) => status.name === container.name)?.imageID ?? '')?.[0];
    return digest ? `${image.replace(/@sha256:[a-f0-9]{64}$/, '').replace(/:[^/:]+$/, '')}@${digest}` : image;
  }).filter((image) => image !== '');
}

export class WorkloadIndex {
  /**
   * namespace → pod name → the images it runs: a namespace's reconcile reads its own pods only,
   * not every pod in the cluster.
   */
  private readonly podsByNamespace = new Map<string, Map<string, string[]>>();
  private pods = 0;
  /** One string per distinct image and namespace: thousands of pods share a handful of each. */
  private readonly strings = new Map<string, string>();

  constructor(
    private readonly filter: WorkloadFilter,
    /** Told the number of pods followed whenever it changes (a gauge). */
    private readonly onSize: (pods: number) => void = () => undefined,
  ) {}

  /** Records a pod event; returns the namespace key to reconcile, if the pod matters. */
  observe(pod: V1Pod, deleted: boolean): string | undefined {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const inNamespace = this.podsByNamespace.get(namespace);
    const previous = inNamespace?.get(name);
    const running = !deleted && !pod.metadata?.deletionTimestamp && (pod.status?.phase === 'Running' || pod.status?.phase === 'Pending');
    if (!running || !this.wanted(namespace, pod.metadata?.labels ?? {})) {
      if (!previous || !inNamespace) return undefined;
      inNamespace.delete(name);
      if (inNamespace.size === 0) this.podsByNamespace.delete(namespace);
      this.onSize(--this.pods);
      return namespace;
    }
    const images = podImages(pod).map((image) => this.intern(image));
    if (previous && previous.join('\n') === images.join('\n')) return undefined;
    if (inNamespace) inNamespace.set(name, images);
    else this.podsByNamespace.set(this.intern(namespace), new Map([[name, images]]));
    if (!previous) this.onSize(++this.pods);
    return namespace;
  }

  private intern(text: string): string {
    const known = this.strings.get(text);
    if (known !== undefined) return known;
    // Bounded by the distinct images in use; start over rather than grow without limit.
    if (this.strings.size > 100_000) this.strings.clear();
    this.strings.set(text, text);
    return text;
  }

  /** The name of one pod in the namespace that runs the image, for Events about it. */
  podUsing(namespace: string, image: string): string | undefined {
    for (const [name, images] of this.podsByNamespace.get(namespace) ?? []) if (images.includes(image)) return name;
    return undefined;
  }

  imagesIn(namespace: string): Set<string> {
    const found = new Set<string>();
    for (const images of this.podsByNamespace.get(namespace)?.values() ?? []) for (const image of images) found.add(image);
    return found;
  }

  namespaces(): string[] {
    return [...this.podsByNamespace.keys()];
  }

  get size(): number {
    return this.pods;
  }

  private wanted(namespace: string, labels: Record<string, string>): boolean {
    const { includeNamespaces, excludeNamespaces, podSelector } = this.filter;
    // SecureStack's own pods (the scan Jobs above all) are never scanned as workloads.
    if (labels['app.kubernetes.io/managed-by'] === 'securestack') return false;
    if (includeNamespaces.length > 0 && !includeNamespaces.includes(namespace)) return false;
    if (excludeNamespaces.includes(namespace)) return false;
    return matchesSelector(labels, podSelector);
  }
}

/**
 * Pod events into the index, namespaces into the work queue. `otherNamespaces` adds, on every
 * resync, namespaces where SecureStack's own ImageScans may wait for removal without any pod left.
 */
export function podWatch(index: WorkloadIndex, otherNamespaces: () => Iterable<string> = () => []): SecondaryWatch {
  const keyFor = (namespace: string): string => keyOf(workloadKind, { name: namespace });
  return {
    group: '',
    version: 'v1',
    plural: 'pods',
    // The index keeps its own compact view; the shared store only who each pod is.
    keep: 'identity',
    keysFor(object: KubernetesObject, deleted: boolean): string[] {
      const namespace = index.observe(object, deleted);
      return namespace ? [keyFor(namespace)] : [];
    },
    allKeys: () => [...new Set([...index.namespaces(), ...otherNamespaces()])].map(keyFor),
  };
}

/**
 * Why an image from a pod spec cannot become an ImageScan, or undefined when it can. The API server
 * does not check image syntax on Pods, so any string can arrive here; the ImageScan schema (the
 * same one the API server applies) and the resolver's reference parser decide.
 */
export function unscannableImage(image: string, namespace: string): string | undefined {
  const checked = validateSpec('ImageScan', { apiVersion, kind: 'ImageScan', metadata: { name: ownScanName(image), namespace }, spec: { image } });
  if (!checked.ok) return checked.errors.join('; ');
  try {
    parseReference(image);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export interface WorkloadReconcilerOptions {
  client: KubeClient;
  index: WorkloadIndex;
  /** The ImageScans of a namespace, from the shared cache. */
  imageScansIn: (namespace: string) => readonly ImageScan[];
  events: EventRecorder;
  /** Images skipped because no ImageScan can be made of them, by reason. */
  skipped: Counter<'reason'>;
  /** How long an ImageScan the admission gate asked for stays while no pod runs its image. */
  admissionGraceMs: number;
  now?: () => number;
}

export class WorkloadReconciler implements Reconciler {
  readonly type = workloadType;
  readonly virtual = true;
  /** Images already reported as unscannable, per namespace: one Event and one count each. */
  private readonly reported = new Map<string, Set<string>>();

  constructor(private readonly options: WorkloadReconcilerOptions) {}

  async reconcile(key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    const namespace = key.name;
    const wanted = this.options.index.imagesIn(namespace);
    // Both sources: one ImageScan per image and namespace, whoever asked for it first.
    const existing = this.options.imageScansIn(namespace).filter(isOwnScan);
    const have = new Map(existing.map((scan) => [scan.spec.image, scan]));
    const reported = this.reported.get(namespace) ?? new Set<string>();
    this.reported.set(namespace, reported);
    for (const image of reported) if (!wanted.has(image)) reported.delete(image);
    // One image that fails must not keep the others from being scanned or stale scans from going:
    // every image is tried, and the first unexpected error is raised at the end for a retry.
    const failures: unknown[] = [];
    const fail = (err: unknown): undefined => void failures.push(err);
    for (const image of wanted) {
      if (!reported.has(image)) await this.ensureScan(namespace, image, have.get(image), context).catch(fail);
    }
    let requeueAfterMs: number | undefined;
    for (const [image, scan] of have) {
      if (wanted.has(image)) continue;
      const left = await this.removeUnused(scan, context).catch(fail);
      if (left !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? left, left);
    }
    if (failures.length > 0) throw failures[0] instanceof Error ? failures[0] : new Error(String(failures[0]));
    return requeueAfterMs !== undefined ? { requeueAfterMs } : {};
  }

  /** A running image has its ImageScan: created, or taken over from the admission gate. */
  private async ensureScan(namespace: string, image: string, found: ImageScan | undefined, context: ReconcileContext): Promise<void> {
    const { client } = this.options;
    if (found) {
      if (found.metadata.labels?.[sourceLabel] !== admissionSource) return;
      // The gate asked for it; pods run the image now, so it lives and goes with them.
      ensureLeading(context);
      await ignoreNotFound(client.replaceCustom<ImageScan>(imageScanType, { ...found, metadata: { ...found.metadata, labels: { ...found.metadata.labels, [sourceLabel]: workloadSource } } }));
      context.log.info({ image }, 'took over the ImageScan the admission gate asked for');
      return;
    }
    ensureLeading(context);
    const problem = unscannableImage(image, namespace);
    if (problem !== undefined) return this.skip(namespace, image, 'invalid-reference', problem, context);
    try {
      await createOwnImageScan(client, namespace, image, workloadSource);
      context.log.info({ image }, 'created ImageScan for a running workload');
    } catch (err) {
      if (!isInvalid(err)) throw err;
      await this.skip(namespace, image, 'rejected', err instanceof Error ? err.message : String(err), context);
    }
  }

  /**
   * Deletes an ImageScan no pod uses. One the gate asked for may be awaited by a denied apply: it
   * stays for the grace period after its creation; returns how long is left then.
   */
  private async removeUnused(scan: ImageScan, context: ReconcileContext): Promise<number | undefined> {
    if (scan.metadata.labels?.[sourceLabel] === admissionSource) {
      const left = Date.parse(scan.metadata.creationTimestamp ?? '') + this.options.admissionGraceMs - (this.options.now ?? Date.now)();
      if (left > 0) return left;
    }
    ensureLeading(context);
    await this.options.client.deleteCustom(imageScanType, { namespace: scan.metadata.namespace ?? '', name: scan.metadata.name ?? '' });
    context.log.info({ image: scan.spec.image }, 'deleted ImageScan of an image no pod uses any more');
    return undefined;
  }

  /** Reports an image no ImageScan can be made of: a Warning Event on a pod using it, a count, a log line. */
  private async skip(namespace: string, image: string, reason: 'invalid-reference' | 'rejected', problem: string, context: ReconcileContext): Promise<void> {
    this.reported.get(namespace)?.add(image);
    this.options.skipped.inc({ reason });
    context.log.warn({ namespace, image, problem }, 'skipped an image no ImageScan can be made of');
    const pod = this.options.index.podUsing(namespace, image);
    if (pod === undefined) return;
    await this.options.events.record(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace } },
      'Warning',
      'ImageNotScannable',
      `SecureStack cannot scan image ${JSON.stringify(image.slice(0, 300))}: ${problem}`,
      context.log,
    );
  }
}

async function ignoreNotFound(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
