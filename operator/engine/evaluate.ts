/**
 * Evaluates compiled policies against one object: match and exclude, built-in rules over the pod
 * (or the object, for RBAC kinds), custom JSON Schema rules, exceptions still in force, and the
 * vulnerability gate over what the watched ImageScans know. Pure: the clock, the ImageScan facts
 * and the cluster facts some background-only rules need come in as arguments.
 */
import type { VulnerabilitySummary } from '../api/types.generated';
import { gateRuleId, pointerToPath, type CompiledCustomRule, type CompiledException, type CompiledPolicy } from './compile';
import type { MatchSubject, Operation } from './match';
import type { ClusterFacts, Finding, KubeObject, PodTemplateView, Severity, Violation } from './types';
import { containersOf, groupOf, podTemplateOf } from './workload';

/** What the watched ImageScans say about one image reference. */
export interface ImageFacts {
  /** `namespace/name` of the ImageScan the facts come from, for messages. */
  scan: string;
  completed: boolean;
  /** When the scan completed (RFC 3339), for scan-age compliance controls. */
  completedAt?: string;
  digest?: string;
  summary?: VulnerabilitySummary;
}

/** Looks an image up in memory (never over the network): by digest when pinned, else by reference. */
export type ImageLookup = (image: string) => ImageFacts | undefined;

export interface EvaluationInput {
  object: KubeObject;
  operation: Operation;
  /** Labels of the object's namespace, from the watched namespace cache. */
  namespaceLabels?: Record<string, string>;
  /** Milliseconds since the epoch; exceptions past it no longer apply. */
  now: number;
  images?: ImageLookup;
  /**
   * Images the gate does not judge: SecureStack's own scanner and uploader, whose scan pods would
   * otherwise wait for a scan of the scanner (a deadlock under onMissingScan Deny).
   */
  gateExempt?: (image: string) => boolean;
  /** Cluster state beside the object; without it, rules marked backgroundOnly are skipped. */
  facts?: ClusterFacts;
}

export interface PolicyVerdict {
  policy: CompiledPolicy;
  /** Violations that remain after exceptions; what the policy's mode acts on. */
  violations: Violation[];
  /** Notes that never deny, whatever the mode (an image not scanned yet under onMissingScan Warn). */
  warnings: string[];
  /** Rules that would have been violated but an exception covered, with its owner. */
  excepted: { ruleId: string; owner: string }[];
  /** Images without a completed ImageScan: the caller queues scans for them outside dry-run. */
  unscannedImages: string[];
  /** Earliest expiry among the exceptions that applied (ms), so a cached verdict ends with it. */
  validUntil: number;
}

/** The pod (if any) and identity of an object, worked out once for all policies. */
export interface Subject {
  object: KubeObject;
  group: string;
  kind: string;
  name: string;
  namespace: string | undefined;
  pod: PodTemplateView | undefined;
  /**
   * Names of the workload that made the object, from its controller owner reference: the owner,
   * and for a Pod of a ReplicaSet or Job, the Deployment or CronJob that owner was named after.
   * Exceptions by name cover these too, so excepting Deployment web also admits its ReplicaSet
   * and Pods on every replica (a verdict cache is per replica and temporary).
   */
  ownerNames: string[];
}

export function subjectOf(object: KubeObject): Subject {
  return {
    object,
    group: groupOf(object.apiVersion),
    kind: object.kind ?? '',
    name: object.metadata?.name || object.metadata?.generateName || '',
    namespace: object.metadata?.namespace || (object.kind === 'Namespace' ? object.metadata?.name : undefined),
    pod: podTemplateOf(object),
    ownerNames: ownerNamesOf(object),
  };
}

/** Generated suffixes: ReplicaSets add a pod-template-hash, CronJobs a scheduled time in minutes. */
const generatedSuffix: Readonly<Record<string, RegExp>> = { ReplicaSet: /-[a-z0-9]{1,10}$/, Job: /-\d{8,}$/ };

function ownerNamesOf(object: KubeObject): string[] {
  const owner = object.metadata?.ownerReferences?.find((reference) => reference.controller === true);
  if (!owner?.name) return [];
  const suffix = object.kind === 'Pod' ? generatedSuffix[owner.kind ?? ''] : undefined;
  const stem = suffix ? owner.name.replace(suffix, '') : owner.name;
  return stem !== owner.name && stem !== '' ? [owner.name, stem] : [owner.name];
}

export function policyMatches(policy: CompiledPolicy, subject: Subject, input: EvaluationInput): boolean {
  const labels = subject.object.metadata?.labels ?? {};
  const match: MatchSubject = {
    group: subject.group,
    kind: subject.kind,
    operation: input.operation,
    namespace: subject.namespace,
    namespaceLabels: subject.kind === 'Namespace' ? labels : input.namespaceLabels,
    labels,
  };
  return policy.match.matches(match) && !policy.exclude.matches(match);
}

/** Findings of the built-in and custom rules, before exceptions: the part a template verdict caches. */
export function ruleViolations(policy: CompiledPolicy, subject: Subject, facts?: ClusterFacts): Violation[] {
  const violations: Violation[] = [];
  for (const { rule, severity, parameters } of policy.rules) {
    // Judging without the facts would deny every new Namespace: skipped, not failed.
    if (rule.backgroundOnly && !facts) continue;
    let findings: Finding[] = [];
    if (rule.target === 'pod') {
      if (subject.pod) findings = rule.check(subject.pod, parameters);
    } else if (rule.kinds.some((kind) => kind.group === subject.group && kind.kind === subject.kind)) {
      findings = rule.check(subject.object, parameters, facts);
    }
    for (const finding of findings) violations.push({ ...finding, ruleId: rule.id, title: rule.title, severity, remediation: rule.remediation });
  }
  for (const rule of policy.customRules) violations.push(...customRuleViolations(rule, subject));
  return violations;
}

/** Custom rules report what the schema found (ajv's words); their own message is the fix. */
function customRuleViolations(rule: CompiledCustomRule, subject: Subject): Violation[] {
  const violation = (field: string, detail: string, image?: string): Violation => ({
    ruleId: rule.id,
    title: rule.message,
    severity: rule.severity,
    remediation: rule.message,
    field,
    message: detail,
    ...(image !== undefined ? { image } : {}),
  });
  if (rule.target === 'Object') {
    if (rule.validate(subject.object)) return [];
    const error = rule.validate.errors?.[0];
    const field = pointerToPath(error?.instancePath ?? '').replace(/^\./, '') || '(object)';
    return [violation(field, `${field} ${error?.message ?? 'is invalid'}`)];
  }
  if (!subject.pod) return [];
  return containersOf(subject.pod).flatMap(({ container, path }) => {
    // validate() is a type guard; keep it from narrowing the container to never on failure.
    const valid: boolean = rule.validate(container);
    if (valid) return [];
    const error = rule.validate.errors?.[0];
    const at = pointerToPath(error?.instancePath ?? '');
    return [violation(`${path}${at}`, `container "${container.name ?? '?'}"${at ? ` ${at.replace(/^\./, '')}` : ''} ${error?.message ?? 'is invalid'}`, container.image)];
  });
}

function exceptionCovers(exception: CompiledException, violation: Violation, subject: Subject, now: number): boolean {
  if (now >= exception.expiresAt) return false;
  if (exception.rules && !exception.rules.has(violation.ruleId)) return false;
  if (exception.namespaces && !exception.namespaces(subject.namespace ?? '')) return false;
  if (exception.names && !exception.names(subject.name) && !subject.ownerNames.some(exception.names)) return false;
  if (exception.images && !(violation.image !== undefined && exception.images(violation.image))) return false;
  return true;
}

/** Splits violations into those an exception in force covers and those that remain. */
export function applyExceptions(policy: CompiledPolicy, violations: readonly Violation[], subject: Subject, now: number): Pick<PolicyVerdict, 'violations' | 'excepted' | 'validUntil'> {
  const remaining: Violation[] = [];
  const excepted: PolicyVerdict['excepted'] = [];
  let validUntil = Number.POSITIVE_INFINITY;
  for (const violation of violations) {
    const exception = policy.exceptions.find((candidate) => exceptionCovers(candidate, violation, subject, now));
    if (!exception) {
      remaining.push(violation);
      continue;
    }
    excepted.push({ ruleId: violation.ruleId, owner: exception.owner });
    validUntil = Math.min(validUntil, exception.expiresAt);
  }
  return { violations: remaining, excepted, validUntil };
}

const gateLevels = ['critical', 'high', 'medium', 'low'] as const;

/** Counts the gate compares with its maxima: per severity, or only the fixable ones. */
function gateCounts(summary: VulnerabilitySummary, ignoreUnfixed: boolean): Record<(typeof gateLevels)[number], number> {
  // Results cached before per-severity fixable counts existed lack them: count everything rather
  // than let an image through on missing data.
  const source = ignoreUnfixed && summary.fixableBySeverity ? summary.fixableBySeverity : summary;
  return { critical: source.critical ?? 0, high: source.high ?? 0, medium: source.medium ?? 0, low: source.low ?? 0 };
}

/** The vulnerability gate over every image the pod uses. */
export function gateVerdict(policy: CompiledPolicy, subject: Subject, images: ImageLookup | undefined, exempt?: (image: string) => boolean): Pick<PolicyVerdict, 'warnings' | 'unscannedImages'> & { violations: Violation[] } {
  const gate = policy.gate;
  const result = { violations: [] as Violation[], warnings: [] as string[], unscannedImages: [] as string[] };
  if (!gate || !subject.pod) return result;
  for (const { container, path } of containersOf(subject.pod)) {
    const image = container.image ?? '';
    if (image === '' || exempt?.(image)) continue;
    const facts = images?.(image);
    if (!facts?.completed || !facts.summary) {
      const first = !result.unscannedImages.includes(image);
      if (first) result.unscannedImages.push(image);
      const note = `image ${image} has no completed ImageScan yet`;
      // A denial names every container (each field needs fixing); a warning names the image once.
      if (gate.onMissingScan === 'Deny') result.violations.push(gateViolation(`${path}.image`, `${note}; the policy denies unscanned images`, 'HIGH', image));
      else if (gate.onMissingScan === 'Warn' && first) result.warnings.push(`ScanPolicy ${policy.name}: ${note} (SecureStack requests one, except for dry-run requests)`);
      continue;
    }
    const counts = gateCounts(facts.summary, gate.ignoreUnfixed);
    const exceeded = gateLevels.filter((level) => gate.max[level] !== undefined && counts[level] > (gate.max[level] ?? 0));
    if (exceeded.length === 0) continue;
    const what = exceeded.map((level) => `${counts[level]} ${level} (max ${gate.max[level] ?? 0})`).join(', ');
    const severity = (exceeded[0] ?? 'low').toUpperCase() as Severity;
    result.violations.push(gateViolation(`${path}.image`, `image ${image} has ${gate.ignoreUnfixed ? 'fixable ' : ''}vulnerabilities over the gate: ${what} (ImageScan ${facts.scan})`, severity, image));
  }
  return result;
}

function gateViolation(field: string, message: string, severity: Severity, image: string): Violation {
  return {
    ruleId: gateRuleId,
    title: 'Image vulnerabilities within the policy gate',
    severity,
    remediation: 'rebuild the image on patched packages, or pin a version whose ImageScan passes the gate',
    field,
    message,
    image,
  };
}

/** A verdict without its policy: what a template verdict cache keeps. */
export type CachedVerdict = Omit<PolicyVerdict, 'policy'>;

/**
 * One policy over one subject, or undefined when the policy does not match it. `cached` is a
 * verdict already reached for the same pod template (a Pod made by a controller whose template
 * was judged): it is reused whole, exceptions and gate included, because exceptions name the
 * controller and not its generated Pods.
 */
export function evaluatePolicy(policy: CompiledPolicy, subject: Subject, input: EvaluationInput, cached?: CachedVerdict): PolicyVerdict | undefined {
  if (!policyMatches(policy, subject, input)) return undefined;
  if (cached) return { policy, ...cached };
  const gate = gateVerdict(policy, subject, input.images, input.gateExempt);
  const { violations, excepted, validUntil } = applyExceptions(policy, [...ruleViolations(policy, subject, input.facts), ...gate.violations], subject, input.now);
  return { policy, violations, warnings: gate.warnings, excepted, unscannedImages: gate.unscannedImages, validUntil };
}

/** Every policy over one object, in the order given. */
export function evaluateAll(policies: readonly CompiledPolicy[], input: EvaluationInput): PolicyVerdict[] {
  const subject = subjectOf(input.object);
  return policies.flatMap((policy) => evaluatePolicy(policy, subject, input) ?? []);
}

/** `rule-id at field: message. Fix: remediation` — the line users see for one violation. */
export function describeViolation(violation: Violation): string {
  return `[${violation.ruleId}] ${violation.field}: ${violation.message}. Fix: ${violation.remediation}`;
}

