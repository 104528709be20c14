/**
 * `securestack audit`: the admission webhook's judgement over manifests on disk, with no cluster.
 * The same pure engine, the same policies (ScanPolicy files, validated and defaulted by the CRD
 * schema, compiled as the operator compiles them) and the same words: a manifest the webhook would
 * deny in Enforce is an error here, Warn a warning, Audit a record. Pod controllers are judged by
 * their templates, as in admission; namespace selectors read labels from Namespace objects among
 * the inputs or given on the command line.
 */
import type { ScanPolicy } from '../api/types.generated';
import { applyDefaults, validateSpec } from '../api/schema';
import { compilePolicy, type CompiledPolicy, type PolicyMode } from '../engine/compile';
import { describeViolation, evaluateAll, type ImageLookup } from '../engine/evaluate';
import type { KubeObject, Severity } from '../engine/types';
import { defaultPullPolicyOf } from '../engine/rules/best-practices';
import { isRecord } from '../engine/rules/util';
import { podTemplateOf } from '../engine/workload';
import type { SourcedObject } from './documents';
import { DocumentLines } from './locate';

export const severities: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];
export const modes: readonly PolicyMode[] = ['Enforce', 'Warn', 'Audit'];

/** One violation of one object under one policy: what every output format prints. */
export interface AuditResult {
  source: string;
  line: number;
  kind: string;
  namespace: string | undefined;
  name: string;
  policy: string;
  mode: PolicyMode;
  ruleId: string;
  title: string;
  severity: Severity;
  field: string;
  message: string;
  remediation: string;
  /** The line the webhook prints for it: `[rule] field: message. Fix: remediation`. */
  text: string;
  /** The line of the offending field in the source (locate.ts), for code-scanning annotations. */
  fieldLine: number;
}

/** A note that never fails the run: an image the vulnerability gate could not judge offline. */
export interface AuditWarning {
  source: string;
  line: number;
  policy: string;
  message: string;
}

/** What fails the run: violations in these modes, or at or above this severity. */
export type FailOn = { mode: PolicyMode } | { severity: Severity };

/** `enforce`, `warn`, `audit`, or a severity (`critical` ... `low`); case does not matter. */
export function parseFailOn(value: string): FailOn {
  const mode = modes.find((m) => m.toLowerCase() === value.toLowerCase());
  if (mode) return { mode };
  const severity = severities.find((s) => s.toLowerCase() === value.toLowerCase());
  if (severity) return { severity };
  throw new Error(`--fail-on ${value}: expected a mode (enforce, warn, audit) or a severity (critical, high, medium, low)`);
}

/** Whether a result fails the run: a mode counts itself and the stricter ones (warn: Warn and Enforce). */
export function fails(result: Pick<AuditResult, 'mode' | 'severity'>, failOn: FailOn): boolean {
  if ('mode' in failOn) return modes.indexOf(result.mode) <= modes.indexOf(failOn.mode);
  return severities.indexOf(result.severity) <= severities.indexOf(failOn.severity);
}

/**
 * ScanPolicies from documents, checked against the CRD schema and compiled; errors name the
 * policy's file and line and what is wrong. Other kinds among them are an error too.
 */
export function loadPolicies(documents: readonly SourcedObject[]): { policies: CompiledPolicy[]; errors: string[] } {
  const policies: CompiledPolicy[] = [];
  const errors: string[] = [];
  for (const { object, source, line } of documents) {
    const where = `${source}:${line}`;
    if (object.kind !== 'ScanPolicy' || object.apiVersion !== 'securestack.io/v1alpha1') {
      errors.push(`${where}: ${object.kind ?? '?'} ${object.metadata?.name ?? ''} is not a ScanPolicy (securestack.io/v1alpha1)`);
      continue;
    }
    const validation = validateSpec('ScanPolicy', object);
    if (!validation.ok) {
      errors.push(`${where}: ScanPolicy ${object.metadata?.name ?? ''}: ${validation.errors.join('; ')}`);
      continue;
    }
    const compiled = compilePolicy(applyDefaults('ScanPolicy', object as unknown as ScanPolicy));
    if (compiled.ok) policies.push(compiled.policy);
    else errors.push(`${where}: ScanPolicy ${object.metadata?.name ?? ''}: ${compiled.errors.join('; ')}`);
  }
  return { policies, errors };
}

export interface AuditOptions {
  policies: readonly CompiledPolicy[];
  /** Namespace for objects without one (kubectl's current namespace: `default`). */
  defaultNamespace: string;
  /** Labels of namespaces, from Namespace objects and the command line. */
  namespaceLabels: ReadonlyMap<string, Record<string, string>>;
  now: number;
  /** What ImageScans say about images (--cluster); without it the vulnerability gate sees none. */
  images?: ImageLookup;
}

/** Judges one object as a CREATE request would be; cluster-scoped objects keep no namespace. */
export function auditObject(item: SourcedObject, options: AuditOptions): { results: AuditResult[]; warnings: AuditWarning[] } {
  const namespaced = !clusterScoped(item.object);
  const namespace = namespaced ? item.object.metadata?.namespace || options.defaultNamespace : undefined;
  const object: KubeObject = applyApiServerDefaults(namespace ? { ...item.object, metadata: { ...item.object.metadata, namespace } } : item.object);
  const verdicts = evaluateAll(options.policies, {
    object,
    operation: 'CREATE',
    now: options.now,
    ...(options.images ? { images: options.images } : {}),
    ...(namespace ? { namespaceLabels: options.namespaceLabels.get(namespace) ?? {} } : {}),
  });
  // Scanned on the first violation only: most objects have none, or several to locate.
  let lines: DocumentLines | undefined;
  const locate = (field: string): number => (item.text === undefined ? item.line : (lines ??= new DocumentLines(item.text, item.line)).locate(field));
  const identity = { source: item.source, line: item.line, kind: object.kind ?? '', namespace, name: object.metadata?.name || object.metadata?.generateName || '' };
  return {
    results: verdicts.flatMap((verdict) =>
      verdict.violations.map((violation) => ({
        ...identity,
        policy: verdict.policy.name,
        mode: verdict.policy.mode,
        ruleId: violation.ruleId,
        title: violation.title,
        severity: violation.severity,
        field: violation.field,
        message: violation.message,
        remediation: violation.remediation,
        text: describeViolation(violation),
        fieldLine: locate(violation.field),
      })),
    ),
    warnings: verdicts.flatMap((verdict) => verdict.warnings.map((message) => ({ source: item.source, line: item.line, policy: verdict.policy.name, message }))),
  };
}

/**
 * Fills in, in place, the defaults the API server gives an object before admission that change
 * what a rule reports (k8s.io/kubernetes pkg/apis/core/v1 defaults.go), so that the audit's words
 * are the webhook's, which only ever sees defaulted objects:
 * - every container (init, regular, ephemeral) of a Pod or a pod template: `imagePullPolicy`
 *   (Always for `:latest` or no tag, else IfNotPresent) and `resources` (`{}`: the API writes the
 *   struct even when empty), so require-image-pull-policy and the resource rules name the same
 *   fields and words;
 * - every pod spec, a Pod's or a template's: `securityContext` (`{}`, SetDefaults_PodSpec);
 * - a Pod with hostNetwork: hostPort = containerPort on each port of its containers and init
 *   containers that sets none (defaultHostNetworkPorts). Pod templates no longer get this from
 *   v1.28 (DefaultHostNetworkHostPortsInPodTemplates off); ephemeral containers never did.
 * The object is the command's own, parsed for this judgement; nothing prints it afterwards.
 */
export function applyApiServerDefaults(object: KubeObject): KubeObject {
  const pod = podTemplateOf(object);
  if (!pod) return object;
  const spec = pod.spec as unknown as Record<string, unknown>;
  for (const list of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      if (!isRecord(container)) continue;
      if (container.imagePullPolicy === undefined || container.imagePullPolicy === '') container.imagePullPolicy = defaultPullPolicyOf(typeof container.image === 'string' ? container.image : '');
      container.resources ??= {};
    }
  }
  spec.securityContext ??= {};
  if (object.kind !== 'Pod' || object.apiVersion !== 'v1' || spec.hostNetwork !== true) return object;
  for (const list of ['initContainers', 'containers'] as const) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      const ports = isRecord(container) ? container.ports : undefined;
      if (!Array.isArray(ports)) continue;
      for (const port of ports) if (isRecord(port) && (port.hostPort === undefined || port.hostPort === 0)) port.hostPort = port.containerPort;
    }
  }
  return object;
}

// Kinds whose objects have no namespace, as the API server serves them; the rest are namespaced.
const clusterKinds = new Set(['Namespace', 'Node', 'PersistentVolume', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'StorageClass', 'PriorityClass', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'RuntimeClass', 'IngressClass', 'CSIDriver', 'APIService', 'ScanPolicy']);

function clusterScoped(object: KubeObject): boolean {
  return clusterKinds.has(object.kind ?? '');
}
