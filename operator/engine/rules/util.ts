/**
 * Helpers the built-in rules share: reading parameters, walking security contexts at pod and
 * container level, and building field paths that point into the object under review.
 *
 * Objects arrive as unchecked JSON (an AdmissionReview, a list from the API), so every helper
 * reads defensively: a field of the wrong type counts as absent.
 */
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import { minorOfParameter, versionParameter } from '../pod-security-version';
import type { ContainerView, KubeObject, ParameterSchema, PodTemplateView } from '../types';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The strings of a string-array parameter, or the fallback when it is absent (ajv fills defaults). */
export function stringList(parameters: Record<string, unknown>, name: string, fallback: readonly string[]): string[] {
  const value = parameters[name];
  if (!Array.isArray(value)) return [...fallback];
  return value.filter((entry): entry is string => typeof entry === 'string');
}

export function numberList(parameters: Record<string, unknown>, name: string, fallback: readonly number[]): number[] {
  const value = parameters[name];
  if (!Array.isArray(value)) return [...fallback];
  return value.filter((entry): entry is number => typeof entry === 'number');
}

export function booleanParameter(parameters: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = parameters[name];
  return typeof value === 'boolean' ? value : fallback;
}

export function stringParameter(parameters: Record<string, unknown>, name: string, fallback: string): string {
  const value = parameters[name];
  return typeof value === 'string' ? value : fallback;
}

/**
 * The parameter schema of a Pod Security rule: `version` (which Kubernetes minor's checks apply)
 * plus the rule's own parameters.
 */
export function podSecurityParameters(properties: Record<string, unknown> = {}): ParameterSchema {
  return { type: 'object', additionalProperties: false, properties: { version: versionParameter, ...properties } };
}

/** The Kubernetes minor a Pod Security rule's `version` parameter selects (latest: the newest known). */
export function podSecurityMinor(parameters: Record<string, unknown>): number {
  return minorOfParameter(parameters.version);
}

/** Records of an array parameter (for example RBAC subjects), or the fallback. */
export function recordList(parameters: Record<string, unknown>, name: string, fallback: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const value = parameters[name];
  if (!Array.isArray(value)) return fallback.map((entry) => ({ ...entry }));
  return value.filter(isRecord);
}

/** The elements of a JSON array field, or none. */
export function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

/**
 * Whether a field is left out. JSON null counts as left out: the API server (and the Go structs
 * upstream's checks read) turn a null pointer field into an absent one.
 */
export function isUnset(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

export function stringsOf(value: unknown): string[] {
  return arrayOf(value).filter((entry): entry is string => typeof entry === 'string');
}

// ---------------------------------------------------------------------------------------------
// Field paths

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/**
 * Appends steps to a dotted path: numbers become `[n]`, plain names `.name`, and keys that are not
 * identifiers (annotation keys) `["key"]` — the same notation the policy compiler uses for errors.
 */
export function joinPath(base: string, ...steps: readonly (string | number)[]): string {
  let path = base;
  for (const step of steps) {
    if (typeof step === 'number') path += `[${step}]`;
    else if (IDENTIFIER.test(step)) path += path === '' ? step : `.${step}`;
    else path += `[${JSON.stringify(step)}]`;
  }
  return path;
}

/**
 * The path of `steps` below `base`, cut just after the first step that is missing in `root`, so a
 * finding about an unset field names the field when its parent exists and otherwise the nearest
 * missing ancestor: a path that always points into the object or one step past it.
 */
export function pathToward(base: string, root: unknown, steps: readonly (string | number)[]): string {
  let node: unknown = root;
  const taken: (string | number)[] = [];
  for (const step of steps) {
    taken.push(step);
    const next: unknown = typeof step === 'number' ? (Array.isArray(node) ? (node as unknown[])[step] : undefined) : isRecord(node) ? node[step] : undefined;
    if (next === undefined || next === null) break;
    node = next;
  }
  return joinPath(base, ...taken);
}

/** Splits a path built by joinPath back into its steps. */
export function splitPath(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  const pattern = /(?:^|\.)([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(path)) !== null) {
    if (match[1] !== undefined) steps.push(match[1]);
    else if (match[2] !== undefined) steps.push(Number(match[2]));
    else if (match[3] !== undefined) steps.push(JSON.parse(match[3]) as string);
    if (pattern.lastIndex === path.length) return steps;
  }
  throw new Error(`not a field path: ${path}`);
}

// ---------------------------------------------------------------------------------------------
// Containers and security contexts

/** `container "app"`, `init container "setup"` or `ephemeral container "debugger"`, for messages. */
export function containerLabel(view: ContainerView): string {
  const kind = view.list === 'initContainers' ? 'init container' : view.list === 'ephemeralContainers' ? 'ephemeral container' : 'container';
  return `${kind} "${view.container.name ?? '?'}"`;
}

/** Container-level finding fields: the image rides along so exceptions by image can apply. */
export function imageOf(view: ContainerView): { image?: string } {
  return typeof view.container.image === 'string' && view.container.image !== '' ? { image: view.container.image } : {};
}

export function podSecurityContext(pod: PodTemplateView): V1PodSecurityContext | undefined {
  const context: unknown = pod.spec.securityContext;
  return isRecord(context) ? context : undefined;
}

export function containerSecurityContext(view: ContainerView): V1SecurityContext | undefined {
  const context: unknown = view.container.securityContext;
  return isRecord(context) ? context : undefined;
}

/** One security context that may set a field shared by pod and container level. */
export interface SecurityContextSite {
  /** `pod` or a container label, for messages. */
  owner: string;
  /** Path of the securityContext itself, for example `spec.securityContext`. */
  path: string;
  context: V1PodSecurityContext | V1SecurityContext;
  /** The container, for container-level sites. */
  view?: ContainerView;
}

/**
 * The pod-level security context (if any) followed by each container's, for controls the Pod
 * Security Standards apply at both levels (SELinux, seccomp, AppArmor, runAsUser, hostProcess).
 */
export function securityContextSites(pod: PodTemplateView, containers: readonly ContainerView[]): SecurityContextSite[] {
  const sites: SecurityContextSite[] = [];
  const podContext = podSecurityContext(pod);
  if (podContext) sites.push({ owner: 'pod', path: joinPath(pod.specPath, 'securityContext'), context: podContext });
  for (const view of containers) {
    const context = containerSecurityContext(view);
    if (context) sites.push({ owner: containerLabel(view), path: joinPath(view.path, 'securityContext'), context, view });
  }
  return sites;
}

/** Finding fields of a site: container-level findings carry the container's image. */
export function siteImage(site: SecurityContextSite): { image?: string } {
  return site.view ? imageOf(site.view) : {};
}

// ---------------------------------------------------------------------------------------------
// Matching

/** `*` matches any run of characters; everything else literally. */
export function globMatch(pattern: string, value: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === value;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!value.startsWith(first) || value.length < first.length + last.length || !value.endsWith(last)) return false;
  let at = first.length;
  const end = value.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = value.indexOf(middle, at);
    if (found < 0 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

/** A value as a message shows it: strings and numbers in JSON, absent values as (unset). */
export function show(value: unknown): string {
  if (value === undefined || value === null) return '(unset)';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  return '(not a scalar)';
}

/** `"a"`, `"a", "b"`: quoted values for messages. */
export function quoteAll(values: readonly string[]): string {
  return values.map((value) => JSON.stringify(value)).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Example manifests (docs/rules.md and the catalog tests)

/** A Pod manifest for a rule's examples. */
export function examplePod(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...metadata }, spec };
}

/** A Deployment manifest for a rule's examples, with the usual selector and labels. */
export function exampleDeployment(name: string, podSpec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: podSpec },
    },
  };
}

/**
 * Remembers the results of a pure function of a string, up to `max` entries (then starts over):
 * image references and variable names repeat across thousands of admission requests. Results
 * are shared, so callers must not modify them.
 */
export function memoize<T>(fn: (input: string) => T, max = 4_096): (input: string) => T {
  const results = new Map<string, T>();
  return (input) => {
    const known = results.get(input);
    if (known !== undefined || results.has(input)) return known as T;
    if (results.size >= max) results.clear();
    const result = fn(input);
    results.set(input, result);
    return result;
  };
}
