/**
 * AdmissionReview in, decision out. Everything comes from memory: compiled policies, namespace
 * labels and ImageScan facts are kept current by watches, so no Kubernetes API call sits in the
 * request path. Enforce violations deny (one message listing every rule id, field and fix), Warn
 * violations become admission warnings that kubectl prints, Audit violations are only recorded;
 * every decision is written into audit annotations and metrics.
 */
import type { CompiledPolicy } from '../../engine/compile';
import { describeViolation, evaluatePolicy, subjectOf, type CachedVerdict, type ImageLookup, type PolicyVerdict } from '../../engine/evaluate';
import type { Operation } from '../../engine/match';
import { TemplateVerdictCache, controlledObject, templateHash } from '../../engine/template-verdicts';
import type { KubeObject } from '../../engine/types';
import type { AdmissionMetrics, FailOpenReason } from './metrics';

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

/** What the handler reads; all in memory. */
export interface AdmissionSources {
  policies(): readonly CompiledPolicy[];
  namespaceLabels(namespace: string): Record<string, string> | undefined;
  images: ImageLookup;
  /** Images the vulnerability gate leaves alone (SecureStack's own). */
  gateExempt?: (image: string) => boolean;
  /** False until every watch has listed once: before that, answers follow failurePolicy. */
  synced(): boolean;
}

export interface AdmissionOptions {
  sources: AdmissionSources;
  metrics: AdmissionMetrics;
  verdicts: TemplateVerdictCache;
  failurePolicy: 'Fail' | 'Ignore';
  /** Evaluation stops after this long and the request follows failurePolicy (below the webhook timeout). */
  deadlineMs: number;
  /** Images to queue ImageScans for (never called for dry-run requests). */
  requestScans(namespace: string, images: readonly string[]): void;
  /** Called for each denied (non-dry-run) request, synchronously: the webhook notification hook. */
  onDeny?: (request: AdmissionRequest, enforced: readonly PolicyVerdict[], message: string) => void;
  now?: () => number;
}

/** Longest deny message: the API server relays it whole, and kubectl prints it. */
const maxMessageLines = 30;
/** Most warnings per response; the API server also caps their total size. */
const maxWarnings = 20;
const maxAnnotationLength = 2048;
/** Distinct `kind` label values for kinds only a `*` policy matches; past it they count as "other". */
export const maxWildcardKindLabels = 64;

class DeadlineExceeded extends Error {}

type Mode = CompiledPolicy['mode'] | 'None';

export class AdmissionHandler {
  private readonly now: () => number;
  /** Kinds labelled by name because a policy matches every kind (at most maxWildcardKindLabels). */
  private readonly wildcardKinds = new Set<string>();
  private kindsFor: { policies: readonly CompiledPolicy[]; named: Set<string>; wildcardGroups: Set<string> } | undefined;

  constructor(private readonly options: AdmissionOptions) {
    this.now = options.now ?? Date.now;
  }

  review(request: AdmissionRequest): AdmissionResponse {
    const started = process.hrtime.bigint();
    let response: AdmissionResponse;
    let decision: string;
    let mode: Mode = 'None';
    try {
      if (!this.options.sources.synced()) {
        ({ response, decision } = this.failure(request, 'not-ready', 'SecureStack has not loaded its policies yet'));
      } else {
        const verdicts = this.evaluate(request);
        ({ response, decision, mode } = this.decide(request, verdicts));
        if (!response.allowed && !request.dryRun) this.options.onDeny?.(request, verdicts.filter((verdict) => verdict.policy.mode === 'Enforce' && verdict.violations.length > 0), response.status?.message ?? '');
        const images = verdicts.flatMap((verdict) => verdict.unscannedImages);
        if (images.length > 0 && !request.dryRun && request.namespace) this.options.requestScans(request.namespace, [...new Set(images)]);
      }
    } catch (err) {
      const reason = err instanceof DeadlineExceeded ? 'deadline' : 'error';
      ({ response, decision } = this.failure(request, reason, err instanceof Error ? err.message : String(err)));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.options.metrics.duration.observe({ decision }, seconds);
    this.options.metrics.requests.inc({ decision, mode, kind: this.kindLabel(request.kind), operation: request.operation });
    return response;
  }

  /**
   * The `kind` label: a kind some policy names, or one of the first kinds seen under a policy that
   * matches `*`; anything else is "other". Request bodies can carry any kind, and each new label
   * value would be a series kept for the life of the process.
   */
  private kindLabel(kind: AdmissionRequest['kind']): string {
    const { named, wildcardGroups } = this.labelKinds();
    const group = kind.group ?? '';
    if (named.has(`${group}/${kind.kind}`) || named.has(`*/${kind.kind}`)) return kind.kind;
    if ((wildcardGroups.has(group) || wildcardGroups.has('*')) && (this.wildcardKinds.has(kind.kind) || this.wildcardKinds.size < maxWildcardKindLabels)) {
      this.wildcardKinds.add(kind.kind);
      return kind.kind;
    }
    return 'other';
  }

  /** The kinds policies name, derived once per set of Ready policies (the store keeps the array until it changes). */
  private labelKinds(): { named: Set<string>; wildcardGroups: Set<string> } {
    const policies = this.options.sources.policies();
    if (this.kindsFor?.policies !== policies) {
      const named = new Set<string>();
      const wildcardGroups = new Set<string>();
      for (const policy of policies) {
        for (const entry of policy.match.kinds) {
          if (entry.kind === '*') wildcardGroups.add(entry.group ?? '');
          else named.add(`${entry.group ?? ''}/${entry.kind}`);
        }
      }
      this.kindsFor = { policies, named, wildcardGroups };
    }
    return this.kindsFor;
  }

  private evaluate(request: AdmissionRequest): PolicyVerdict[] {
    const object = (request.operation === 'DELETE' ? request.oldObject : request.object) ?? undefined;
    if (!object) return [];
    const deadline = this.now() + this.options.deadlineMs;
    const now = this.now();
    const subject = subjectOf(object);
    const namespace = request.namespace || subject.namespace;
    const input = {
      object,
      operation: request.operation,
      now,
      images: this.options.sources.images,
      ...(this.options.sources.gateExempt ? { gateExempt: this.options.sources.gateExempt } : {}),
      ...(namespace ? { namespaceLabels: this.options.sources.namespaceLabels(namespace) ?? {} } : {}),
    };
    // Hashing is only worth it for a Pod a controller made (to look a verdict up) and for a pod
    // controller (to remember one); other Pods are judged directly.
    const controlled = subject.kind === 'Pod' && controlledObject(object);
    const wanted = subject.pod !== undefined && (controlled || subject.kind !== 'Pod') && this.options.sources.policies().some((policy) => policy.templateVerdictsReusable);
    const hash = wanted && subject.pod ? templateHash(subject.pod) : undefined;
    const reusable = hash !== undefined && controlled;
    const verdicts: PolicyVerdict[] = [];
    for (const policy of this.options.sources.policies()) {
      if (this.now() >= deadline) throw new DeadlineExceeded(`evaluation took longer than ${this.options.deadlineMs} ms`);
      const key = hash !== undefined && policy.templateVerdictsReusable ? TemplateVerdictCache.key(policy.uid, policy.generation, namespace ?? '', hash) : undefined;
      const cached = key && reusable ? this.options.verdicts.get(key, now) : undefined;
      if (key && reusable) this.options.metrics.verdictCache.inc({ result: cached ? 'hit' : 'miss' });
      const verdict = evaluatePolicy(policy, subject, input, cached);
      if (!verdict) continue;
      verdicts.push(verdict);
      // Templates of controllers are remembered for the Pods they will make.
      if (key && !cached && subject.kind !== 'Pod' && request.operation !== 'DELETE') {
        this.options.verdicts.set(key, withoutPolicy(verdict), now);
      }
    }
    return verdicts;
  }

  private decide(request: AdmissionRequest, verdicts: readonly PolicyVerdict[]): { response: AdmissionResponse; decision: string; mode: Mode } {
    const enforced = verdicts.filter((verdict) => verdict.policy.mode === 'Enforce' && verdict.violations.length > 0);
    const warned = verdicts.filter((verdict) => verdict.policy.mode === 'Warn' && verdict.violations.length > 0);
    const audited = verdicts.filter((verdict) => verdict.policy.mode === 'Audit' && verdict.violations.length > 0);
    const warnings = [
      ...warned.flatMap((verdict) => verdict.violations.map((violation) => `ScanPolicy ${verdict.policy.name}: ${describeViolation(violation)}`)),
      ...verdicts.flatMap((verdict) => verdict.warnings),
    ];
    const decision = enforced.length > 0 ? 'deny' : warnings.length > 0 ? 'warn' : 'allow';
    const mode: Mode = enforced.length > 0 ? 'Enforce' : warned.length > 0 ? 'Warn' : audited.length > 0 ? 'Audit' : 'None';
    const response: AdmissionResponse = { uid: request.uid, allowed: enforced.length === 0, auditAnnotations: auditAnnotations(decision, verdicts) };
    if (enforced.length > 0) response.status = { code: 403, reason: 'Forbidden', message: denyMessage(request, enforced) };
    if (warnings.length > 0) response.warnings = capWarnings(warnings);
    return { response, decision, mode };
  }

  /** Evaluation could not finish: failurePolicy decides, and every fail-open is counted. */
  private failure(request: AdmissionRequest, reason: FailOpenReason, detail: string): { response: AdmissionResponse; decision: string } {
    if (this.options.failurePolicy === 'Ignore') {
      this.options.metrics.failOpen.inc({ reason });
      return {
        decision: 'error',
        response: {
          uid: request.uid,
          allowed: true,
          warnings: [`SecureStack admitted this request without checking it (${reason}: ${detail}); failurePolicy is Ignore`],
          auditAnnotations: { decision: 'fail-open', reason },
        },
      };
    }
    return {
      decision: 'error',
      response: {
        uid: request.uid,
        allowed: false,
        status: { code: 503, reason: 'ServiceUnavailable', message: `SecureStack could not check this request (${reason}: ${detail}); failurePolicy is Fail, retry shortly` },
        auditAnnotations: { decision: 'fail-closed', reason },
      },
    };
  }
}

function withoutPolicy(verdict: PolicyVerdict): CachedVerdict {
  return { violations: verdict.violations, warnings: verdict.warnings, excepted: verdict.excepted, unscannedImages: verdict.unscannedImages, validUntil: verdict.validUntil };
}

function objectName(request: AdmissionRequest): string {
  const object = request.object ?? request.oldObject;
  const name = request.name || object?.metadata?.name || `${object?.metadata?.generateName ?? ''}*`;
  return request.namespace ? `${request.namespace}/${name}` : name;
}

function denyMessage(request: AdmissionRequest, enforced: readonly PolicyVerdict[]): string {
  const lines = enforced.flatMap((verdict) => verdict.violations.map((violation) => `- ScanPolicy ${verdict.policy.name}: ${describeViolation(violation)}`));
  const shown = lines.slice(0, maxMessageLines);
  if (lines.length > shown.length) shown.push(`- and ${lines.length - shown.length} more violation(s)`);
  const ids = [...new Set(enforced.flatMap((verdict) => verdict.violations.map((violation) => violation.ruleId)))];
  return `SecureStack denied ${request.kind.kind} ${objectName(request)}: it violates ${ids.join(', ')}\n${shown.join('\n')}`;
}

function capWarnings(warnings: readonly string[]): string[] {
  const shown = warnings.slice(0, maxWarnings);
  if (warnings.length > shown.length) shown.push(`and ${warnings.length - shown.length} more SecureStack warning(s)`);
  return shown;
}

/** `decision`, and per mode the policies and rules involved, for the API server's audit log. */
function auditAnnotations(decision: string, verdicts: readonly PolicyVerdict[]): Record<string, string> {
  const annotations: Record<string, string> = { decision };
  const summary = (filter: (verdict: PolicyVerdict) => boolean): string =>
    verdicts
      .filter((verdict) => filter(verdict) && verdict.violations.length > 0)
      .map((verdict) => `${verdict.policy.name}:${[...new Set(verdict.violations.map((violation) => violation.ruleId))].join(',')}`)
      .join(';');
  for (const [key, mode] of [['enforce-violations', 'Enforce'], ['warn-violations', 'Warn'], ['audit-violations', 'Audit']] as const) {
    const value = summary((verdict) => verdict.policy.mode === mode);
    if (value) annotations[key] = value.slice(0, maxAnnotationLength);
  }
  const excepted = verdicts.flatMap((verdict) => verdict.excepted.map((entry) => `${verdict.policy.name}:${entry.ruleId}(${entry.owner})`));
  if (excepted.length > 0) annotations.exceptions = [...new Set(excepted)].join(';').slice(0, maxAnnotationLength);
  return annotations;
}
