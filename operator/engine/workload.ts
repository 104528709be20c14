/**
 * Where the pod is in each kind that describes one. Pod controllers are judged by their pod
 * templates, so a bad Deployment is refused at `kubectl apply` and not only its Pods later.
 */
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import type { ContainerList, ContainerView, KubeObject, PodTemplateView } from './types';

/** group/kind -> path of the pod template (metadata + spec) in the object; "" for a Pod itself. */
const templatePaths: Readonly<Record<string, readonly string[]>> = {
  '/Pod': [],
  '/PodTemplate': ['template'],
  '/ReplicationController': ['spec', 'template'],
  'apps/Deployment': ['spec', 'template'],
  'apps/StatefulSet': ['spec', 'template'],
  'apps/DaemonSet': ['spec', 'template'],
  'apps/ReplicaSet': ['spec', 'template'],
  'batch/Job': ['spec', 'template'],
  'batch/CronJob': ['spec', 'jobTemplate', 'spec', 'template'],
};

/** Kinds (group/kind) that carry a pod, for match defaults and the background audit. */
export const podKinds: readonly { group: string; kind: string }[] = Object.keys(templatePaths).map((key) => {
  const [group = '', kind = ''] = key.split('/');
  return { group, kind };
});

export function groupOf(apiVersion: string | undefined): string {
  const parts = (apiVersion ?? '').split('/');
  return parts.length === 2 ? (parts[0] ?? '') : '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[key] = entry;
  return out;
}

/** The pod an object describes, or undefined for kinds without one (or a template missing its spec). */
export function podTemplateOf(object: KubeObject): PodTemplateView | undefined {
  const path = templatePaths[`${groupOf(object.apiVersion)}/${object.kind ?? ''}`];
  if (!path) return undefined;
  let template: unknown = object;
  for (const step of path) template = isRecord(template) ? template[step] : undefined;
  if (!isRecord(template) || !isRecord(template.spec)) return undefined;
  const prefix = path.length === 0 ? '' : `${path.join('.')}.`;
  const metadata = isRecord(template.metadata) ? template.metadata : {};
  return {
    metadataPath: `${prefix}metadata`,
    specPath: `${prefix}spec`,
    labels: stringMap(metadata.labels),
    annotations: stringMap(metadata.annotations),
    // The API server validated the object against the Pod schema before admission webhooks run.
    spec: template.spec as unknown as V1PodSpec,
  };
}

const containerLists: readonly ContainerList[] = ['initContainers', 'containers', 'ephemeralContainers'];

/** Every container of the pod: init, regular and ephemeral, with its field path. */
export function containersOf(pod: PodTemplateView): ContainerView[] {
  const views: ContainerView[] = [];
  for (const list of containerLists) {
    const containers: unknown = pod.spec[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((container: V1Container, index) => {
      if (isRecord(container)) views.push({ list, path: `${pod.specPath}.${list}[${index}]`, container });
    });
  }
  return views;
}

/** True when the pod declares it runs on Windows (spec.os.name), which some controls exempt. */
export function isWindowsPod(pod: PodTemplateView): boolean {
  return pod.spec.os?.name === 'windows';
}

/** Image references of every container, in declaration order, without duplicates. */
export function imagesOf(pod: PodTemplateView): string[] {
  return [...new Set(containersOf(pod).map((view) => view.container.image ?? '').filter((image) => image !== ''))];
}
