/**
 * ComplianceReport reconciler (leader only): evaluates the report's framework over its scope with
 * the shared rule engine, when the report is created, when its spec changes, and when its
 * securestack.io/evaluate annotation takes a new value (what a ScheduledScan or a user sets).
 * Status keeps a result per control, a few failing objects and the score with its trend, under
 * 64 KiB; every object's result goes to owned ConfigMaps. Failures show as the Ready condition,
 * an Event and securestack_compliance_evaluations_total{result}.
 */
import type { ComplianceReport, ComplianceReportStatus } from '../../api/types.generated';
import { complianceReportType } from '../../api/resources';
import type { Notifier } from '../../api/notifications';
import { ComplianceTally, compileFramework, customFramework, evaluateObject, summarize, type CompiledFramework, type ControlOutcome, type ObjectVerdict } from '../../engine/compliance/evaluate';
import type { Framework } from '../../engine/compliance/framework';
import { fitControls } from '../../engine/compliance/status';
import type { ImageLookup } from '../../engine/evaluate';
import type { ClusterFacts } from '../../engine/types';
import { networkPolicyFacts, policyKinds } from '../../engine/inventory';
import type { KubeClient, ObjectKey, ResourceType } from '../../platform/kube/client';
import { rfc3339, type ConditionUpdate } from '../../platform/runtime/conditions';
import type { EventRecorder } from '../../platform/runtime/events';
import { cachedObject, ensureLeading, type ReconcileContext, type ReconcileResult, type Reconciler } from '../../platform/runtime/reconciler';
import { writeStatus } from '../../platform/runtime/status';
import type { ComplianceMetrics } from './metrics';
import type { OpenReportsWriter } from './openreports';
import { storeResults, type ComplianceResults } from './results-store';
import { listTargets, objectsInScope, resolveScope, type NamespaceInfo, type ResolvedScope } from './scope';
import { namespacesBeyond } from '../../engine/scope';

/** Setting this annotation to a new value asks for another evaluation. */
export const EVALUATE_ANNOTATION = 'securestack.io/evaluate';

export interface ComplianceDeps {
  client: KubeClient;
  events: EventRecorder;
  metrics: ComplianceMetrics;
  /** The built-in frameworks by id. */
  frameworks(id: string): Framework | undefined;
  /** Namespaces with their labels, from the shared informer. */
  namespaces(): NamespaceInfo[];
  images: ImageLookup;
  /** Images vulnerability controls leave out (the operator's own scanner and uploader). */
  exemptImages?: (image: string) => boolean;
  /** Evaluations wait for the shared caches (Namespaces, ImageScans) to be complete. */
  cachesSynced(): boolean;
  /** Writes OpenReports; absent when they are turned off. */
  openReports?: OpenReportsWriter;
  /** Whether reports in this namespace may cover other namespaces and the cluster (else only their own). */
  mayCoverCluster(namespace: string): boolean;
  now?: () => number;
  pageSize?: number;
  /** Webhook notifications: compliance.score.dropped. */
  notifier?: Notifier;
}

const syncWaitMs = 1_000;
/** Objects judged between two yields to the event loop, which also answers admission reviews. */
const yieldEvery = 50;
/** A failed evaluation (the API server refused a list, say) is tried again after this long. */
const retryMs = 60_000;

type Outcome = { ok: true; compiled: CompiledFramework } | { ok: false; errors: string[] };

export class ComplianceReportReconciler implements Reconciler {
  readonly type: ResourceType = complianceReportType;
  /** Metric label sets per report, so a re-evaluation or a deleted report removes its series. */
  private readonly series = new Map<string, { namespace: string; report: string; framework: string }>();
  /** When the last evaluation of a report failed (this process's leadership only). */
  private readonly failedAt = new Map<string, number>();

  constructor(private readonly deps: ComplianceDeps) {}

  async reconcile(key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    let report = cachedObject<ComplianceReport>(context);
    const seriesKey = `${key.namespace ?? ''}/${key.name}`;
    if (!report?.metadata.uid || report.metadata.deletionTimestamp) {
      this.forgetSeries(seriesKey);
      this.failedAt.delete(seriesKey);
      // Reports in other namespaces cannot be owned by it: delete them by their labels.
      const removed = await this.deps.openReports?.forget({ namespace: key.namespace ?? '', name: key.name });
      if (removed) context.log.info({ removed }, 'OpenReports of a deleted ComplianceReport removed');
      return {};
    }
    if (!evaluationDue(report)) return {};
    if (!this.deps.cachesSynced()) return { requeueAfterMs: syncWaitMs };
    // After a failed evaluation, wait before the next attempt: our own status write brings the key back at once.
    const failedAt = this.failedAt.get(seriesKey);
    if (failedAt !== undefined && Date.now() - failedAt < retryMs && report.status?.phase === 'Failed') return { requeueAfterMs: failedAt + retryMs - Date.now() };

    const request = report.metadata.annotations?.[EVALUATE_ANNOTATION] ?? '';
    const compiled = this.compile(report);
    if (!compiled.ok) {
      this.deps.metrics.evaluations.inc({ result: 'invalid' });
      this.forgetSeries(seriesKey);
      await this.write(report, context, { phase: 'Failed', evaluationRequest: request }, {
        type: 'Ready', status: 'False', reason: 'InvalidSpec', message: `The report cannot be evaluated: ${compiled.errors.join('; ')}`,
      }, { type: 'Warning', reason: 'InvalidSpec' });
      return {};
    }
    const outside = this.outsideOwnNamespace(report);
    if (outside) {
      this.deps.metrics.evaluations.inc({ result: 'invalid' });
      this.forgetSeries(seriesKey);
      await this.write(report, context, { phase: 'Failed', evaluationRequest: request }, { type: 'Ready', status: 'False', reason: 'ScopeNotAllowed', message: outside }, { type: 'Warning', reason: 'ScopeNotAllowed' });
      return {};
    }
    const started = Date.now();
    // Running shows in kubectl while a large scope is listed; later writes build on what it stored.
    const running = await this.write(report, context, { phase: 'Running' }, { type: 'Ready', status: 'Unknown', reason: 'Evaluating', message: `Evaluating ${compiled.compiled.framework.title}` });
    if (running) report = running;
    let evaluation: Evaluation;
    try {
      evaluation = await this.evaluate(report, compiled.compiled, context);
    } catch (err) {
      if (context.signal.aborted) throw err;
      this.deps.metrics.evaluations.inc({ result: 'error' });
      this.failedAt.set(seriesKey, Date.now());
      const message = `The evaluation failed: ${err instanceof Error ? err.message : String(err)}`;
      await this.write(report, context, { phase: 'Failed', evaluationRequest: request }, { type: 'Ready', status: 'False', reason: 'EvaluationFailed', message }, { type: 'Warning', reason: 'EvaluationFailed' });
      return { requeueAfterMs: retryMs };
    }
    this.deps.metrics.evaluations.inc({ result: 'success' });
    this.failedAt.delete(seriesKey);
    await this.complete(report, compiled.compiled, evaluation, request, context, started);
    this.recordSeries(seriesKey, report, compiled.compiled, evaluation.outcomes, evaluation.score);
    context.log.info({ objects: evaluation.objects, score: evaluation.score, ms: Date.now() - started }, 'compliance report evaluated');
    return {};
  }

  /**
   * Why the report may not cover its scope, or undefined: outside the namespaces allowed to, a
   * report covers its own namespace only (its results name other tenants' objects and their flaws).
   */
  private outsideOwnNamespace(report: ComplianceReport): string | undefined {
    const own = report.metadata.namespace ?? '';
    if (this.deps.mayCoverCluster(own)) return undefined;
    const scope = resolveScope(report.spec.scope, this.deps.namespaces());
    const others = namespacesBeyond(scope, own);
    if (!scope.clusterScoped && others === undefined) return undefined;
    const what = scope.clusterScoped ? 'the whole cluster' : `namespace(s) ${others ?? ''}`;
    return `spec.scope: a ComplianceReport in namespace ${own} may evaluate only ${own}, not ${what}; create it in the operator's namespace or one listed in SECURESTACK_COMPLIANCE_CLUSTER_NAMESPACES (chart: compliance.clusterNamespaces)`;
  }

  private compile(report: ComplianceReport): Outcome {
    const spec = report.spec;
    const version = spec.podSecurityVersion ?? 'latest';
    if (spec.framework === 'custom') {
      const framework = customFramework(spec, `custom:${report.metadata.name ?? ''}`);
      const result = compileFramework(framework, version, (index) => `spec.controls[${index}]`);
      return result.ok ? { ok: true, compiled: result.compiled } : result;
    }
    const framework = this.deps.frameworks(spec.framework);
    if (!framework) return { ok: false, errors: [`spec.framework: no built-in framework is called "${spec.framework}"`] };
    const result = compileFramework(framework, version);
    // A built-in framework that does not compile is this operator's bug, but say so on the report.
    return result.ok ? { ok: true, compiled: result.compiled } : { ok: false, errors: result.errors.map((error) => `built-in framework ${framework.id}: ${error}`) };
  }

  private async evaluate(report: ComplianceReport, compiled: CompiledFramework, context: ReconcileContext): Promise<Evaluation> {
    const now = (this.deps.now ?? Date.now)();
    const scope = resolveScope(report.spec.scope, this.deps.namespaces());
    const tally = new ComplianceTally(compiled);
    const verdicts: ObjectVerdict[] = [];
    const { kinds } = policyKinds(compiled.policy);
    const options = { signal: context.signal, ...(this.deps.pageSize ? { pageSize: this.deps.pageSize } : {}) };
    const facts = compiled.policy.rules.some(({ rule }) => rule.backgroundOnly) ? await this.clusterFacts(scope) : undefined;
    let judged = 0;
    const messages = new Map<string, string>();
    for await (const object of objectsInScope(this.deps.client, kinds, scope, options)) {
      // A page of 500 objects is 20-50 ms of rules: let the webhook in between every few.
      if (++judged % yieldEvery === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const verdict = evaluateObject(compiled, object, { now, images: this.deps.images, ...(facts ? { facts } : {}), ...(this.deps.exemptImages ? { exemptImages: this.deps.exemptImages } : {}) });
      if (!verdict) continue;
      // Workloads made from one chart fail in the same words: keep one copy of each message.
      for (const failure of verdict.failed) failure.message = intern(messages, failure.message);
      tally.add(verdict);
      verdicts.push(verdict);
    }
    const outcomes = tally.outcomes();
    const summary = summarize(outcomes, tally.objects);
    return { outcomes, verdicts, objects: tally.objects, score: summary.score, summary, generatedAt: rfc3339(new Date(now)) };
  }

  /** What rules over several objects read: NetworkPolicies per namespace, counted from metadata-only pages. */
  private async clusterFacts(scope: ResolvedScope): Promise<ClusterFacts> {
    const counts = new Map<string, number>();
    for (const namespace of listTargets(scope)) {
      for (const [at, count] of await this.deps.client.countPerNamespace('networking.k8s.io/v1', 'NetworkPolicy', namespace)) counts.set(at, count);
    }
    return networkPolicyFacts(counts);
  }

  private async complete(report: ComplianceReport, compiled: CompiledFramework, evaluation: Evaluation, request: string, context: ReconcileContext, started: number): Promise<void> {
    const { framework } = compiled;
    const owner = { namespace: report.metadata.namespace ?? '', name: report.metadata.name ?? '', uid: report.metadata.uid ?? '' };
    const header = { report: { namespace: owner.namespace, name: owner.name }, framework: { id: framework.id, title: framework.title, version: framework.version }, podSecurityVersion: compiled.podSecurityVersion, generatedAt: evaluation.generatedAt };
    ensureLeading(context);
    const results: ComplianceResults = { header, controls: framework.controls, verdicts: evaluation.verdicts };
    const stored = await storeResults(this.deps.client, owner, results);

    const previous = report.status;
    // A trend only means something within one framework: a report switched to another starts afresh.
    const previousScore = previous?.framework?.id === framework.id ? previous.summary?.score : undefined;
    const summary: NonNullable<ComplianceReportStatus['summary']> = { ...evaluation.summary };
    if (summary.score === undefined) delete summary.score;
    if (previousScore !== undefined) {
      summary.previousScore = previousScore;
      if (summary.score !== undefined) summary.scoreChange = Math.round((summary.score - previousScore) * 100) / 100;
    }
    const rest = { ...header.framework, summary, resultsRef: { name: stored.name, parts: stored.parts, objects: evaluation.verdicts.length } };
    const { controls, examplesCut } = fitControls(evaluation.outcomes, rest);
    const counts = `${summary.pass} pass, ${summary.fail} fail, ${summary.manual} manual, ${summary.skip} skip`;
    const message = `${evaluation.objects} object(s) evaluated: ${counts}${summary.score !== undefined ? `; score ${summary.score}` : ''}${examplesCut ? ' (examples shortened to keep status small; every result is in the results ConfigMaps)' : ''}`;
    // Before the status write that records the new score: a write lost to a 409 is evaluated again
    // and publishes the same key (one delivery id per drop), a crash after it loses nothing.
    this.publishScoreDrop(report, framework.id, summary, request);
    const written = await this.write(report, context, {
      phase: 'Completed',
      generatedAt: evaluation.generatedAt,
      evaluationRequest: request,
      framework: header.framework,
      podSecurityVersion: compiled.podSecurityVersion,
      summary,
      controls,
      resultsRef: { name: stored.name, parts: stored.parts, objects: evaluation.verdicts.length },
    }, { type: 'Ready', status: 'True', reason: 'Evaluated', message }, { type: 'Normal', reason: 'Evaluated' });
    this.deps.metrics.evaluationDuration.observe({ framework: framework.id }, (Date.now() - started) / 1000);
    await this.recordChanges(report, evaluation, context);
    // OpenReports last: hundreds of namespaces' reports take a while to write, and the result is
    // complete (status, results ConfigMaps) before they start.
    const published = await this.publish(report, results, context);
    if (published) await this.write(written ?? report, context, {}, published);
  }

  /**
   * OpenReports for the evaluation, when turned on: the OpenReports condition says whether they
   * were written (undefined: turned off, nothing to say). A failure here does not fail the
   * evaluation, whose results are stored; it shows as the condition, an Event and a metric.
   */
  private async publish(report: ComplianceReport, results: ComplianceResults, context: ReconcileContext): Promise<ConditionUpdate | undefined> {
    if (!this.deps.openReports) return undefined;
    try {
      const { served, written, deleted } = await this.deps.openReports.write(results);
      if (!served) return { type: 'OpenReports', status: 'False', reason: 'APINotServed', message: 'openreports.io/v1alpha1 is not served by this cluster: install the OpenReports CRDs to get Reports' };
      return { type: 'OpenReports', status: 'True', reason: 'Written', message: `${written} report(s) written${deleted > 0 ? `, ${deleted} stale one(s) deleted` : ''}` };
    } catch (err) {
      if (context.signal.aborted) throw err;
      this.deps.metrics.evaluations.inc({ result: 'openreports-error' });
      const message = `OpenReports could not be written: ${err instanceof Error ? err.message : String(err)}`;
      context.log.warn({ err: message }, 'OpenReports write failed');
      await this.deps.events.record(report, 'Warning', 'OpenReportsFailed', message.slice(0, 1024), context.log);
      return { type: 'OpenReports', status: 'False', reason: 'WriteFailed', message };
    }
  }

  private publishScoreDrop(report: ComplianceReport, frameworkId: string, summary: NonNullable<ComplianceReportStatus['summary']>, request: string): void {
    const before = summary.previousScore;
    const after = summary.score;
    if (!this.deps.notifier || before === undefined || after === undefined || after >= before) return;
    const { uid = '', namespace = '', name = '', generation = 0 } = report.metadata;
    this.deps.notifier.publish({
      type: 'compliance.score.dropped',
      subject: { apiVersion: report.apiVersion ?? 'securestack.io/v1alpha1', kind: 'ComplianceReport', namespace, name, uid },
      occurredAt: new Date().toISOString(),
      dedupeKey: `compliancereport/${uid}/score-dropped/${generation}/${request}/${before}/${after}`,
      data: { framework: frameworkId, previousScore: before, score: after, scoreChange: summary.scoreChange, pass: summary.pass, fail: summary.fail },
    });
  }

  /** Events for what an auditor follows: the score moving, and controls that newly fail. */
  private async recordChanges(report: ComplianceReport, evaluation: Evaluation, context: ReconcileContext): Promise<void> {
    const before = report.status;
    if (before?.summary?.score !== undefined && evaluation.score !== undefined && before.summary.score !== evaluation.score) {
      const direction = evaluation.score > before.summary.score ? 'rose' : 'fell';
      await this.deps.events.record(report, evaluation.score > before.summary.score ? 'Normal' : 'Warning', 'ScoreChanged', `Compliance score ${direction} from ${before.summary.score} to ${evaluation.score}`, context.log);
    }
    const wasFailing = new Set((before?.controls ?? []).filter((control) => control.result === 'Fail').map((control) => control.id));
    for (const outcome of evaluation.outcomes) {
      if (outcome.result !== 'Fail' || wasFailing.has(outcome.control.id)) continue;
      const example = outcome.examples[0];
      const where = example ? `, for example ${example.kind} ${example.namespace ? `${example.namespace}/` : ''}${example.name}: ${example.message}` : '';
      await this.deps.events.record(report, 'Warning', 'ControlFailed', `Control ${outcome.control.id} (${outcome.control.title}) fails for ${outcome.failed} object(s)${where}`.slice(0, 1024), context.log);
    }
  }

  private recordSeries(seriesKey: string, report: ComplianceReport, compiled: CompiledFramework, outcomes: readonly ControlOutcome[], score: number | undefined): void {
    this.forgetSeries(seriesKey);
    const labels = { namespace: report.metadata.namespace ?? '', report: report.metadata.name ?? '', framework: compiled.framework.id };
    if (score !== undefined) this.deps.metrics.score.set(labels, score);
    for (const result of ['Pass', 'Fail', 'Manual', 'Skip'] as const) {
      this.deps.metrics.controls.set({ ...labels, result }, outcomes.filter((outcome) => outcome.result === result).length);
    }
    this.series.set(seriesKey, labels);
  }

  private forgetSeries(seriesKey: string): void {
    const labels = this.series.get(seriesKey);
    if (!labels) return;
    this.deps.metrics.score.remove(labels);
    for (const result of ['Pass', 'Fail', 'Manual', 'Skip']) this.deps.metrics.controls.remove({ ...labels, result });
    this.series.delete(seriesKey);
  }

  private async write(report: ComplianceReport, context: ReconcileContext, fields: Partial<ComplianceReportStatus>, condition: ConditionUpdate, event?: { type: 'Normal' | 'Warning'; reason: string }): Promise<ComplianceReport | undefined> {
    return writeStatus(this.deps, this.type, report, context, { fields, condition, ...(event ? { event } : {}) });
  }
}

interface Evaluation {
  outcomes: ControlOutcome[];
  verdicts: ObjectVerdict[];
  objects: number;
  score: number | undefined;
  summary: ReturnType<typeof summarize>;
  generatedAt: string;
}

/**
 * Due when the spec changed since the last evaluation, the evaluate annotation has a value the
 * last evaluation did not answer, or no evaluation finished (a new report, or a leader that
 * stopped mid-way).
 */
export function evaluationDue(report: ComplianceReport): boolean {
  const status = report.status;
  if (status?.observedGeneration !== report.metadata.generation) return true;
  if ((report.metadata.annotations?.[EVALUATE_ANNOTATION] ?? '') !== (status?.evaluationRequest ?? '')) return true;
  if (status?.phase === 'Failed') {
    // An invalid spec stays invalid until it changes; a failed list or write is worth another try.
    return status.conditions?.find((condition) => condition.type === 'Ready')?.reason === 'EvaluationFailed';
  }
  return status?.phase !== 'Completed';
}

/** The one stored copy of a string equal to `text`. */
function intern(seen: Map<string, string>, text: string): string {
  const known = seen.get(text);
  if (known !== undefined) return known;
  seen.set(text, text);
  return text;
}
