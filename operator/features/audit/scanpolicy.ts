/**
 * ScanPolicy reconciler (leader only): compiles the policy with the same code admission uses and
 * reports it in status (Ready or the reasons it is not used), then runs the background audit of
 * existing objects when the policy changed or the audit interval passed, writing the counts per
 * rule to status and securestack_policy_violations.
 */
import type { ScanPolicy, ScanPolicyStatus } from '../../api/types.generated';
import { auditPolicy, type AuditResult, type AuditSources } from './audit';
import type { KubeClient, ObjectKey, ResourceType } from '../../platform/kube/client';
import { compilePolicy } from '../../engine/compile';
import { rfc3339, setCondition, type ConditionUpdate } from '../../platform/runtime/conditions';
import type { EventRecorder } from '../../platform/runtime/events';
import { writeStatus } from '../../platform/runtime/status';
import { cachedObject, type ReconcileContext, type ReconcileResult, type Reconciler } from '../../platform/runtime/reconciler';
import type { PolicyMetrics } from './metrics';
import { scanPolicyType } from '../../api/resources';
import type { Notifier } from '../../api/notifications';
import { createHash } from 'node:crypto';

export interface ScanPolicyDeps {
  client: KubeClient;
  events: EventRecorder;
  metrics: PolicyMetrics;
  audit: Omit<AuditSources, 'client'>;
  auditIntervalMs: number;
  /** Audits wait for the watched caches (namespace labels, ImageScans) to be complete. */
  cachesSynced(): boolean;
  /** Webhook notifications: policy.violation when an audit finds a different set of violations. */
  notifier?: Notifier;
}

/** Most rules listed in status.audit.violations (the CRD's maxItems). */
const maxAuditRules = 128;
const syncWaitMs = 1_000;
/** A failed audit is tried again after this long (the policy keeps working at admission). */
const auditRetryMs = 60_000;

export class ScanPolicyReconciler implements Reconciler {
  readonly type: ResourceType = scanPolicyType;
  /** Metric label sets per policy, so a re-audit or a deleted policy removes stale series. */
  private readonly series = new Map<string, { policy: string; rule: string; namespace: string; severity: string }[]>();
  private readonly states = new Map<string, 'ready' | 'invalid'>();

  constructor(private readonly deps: ScanPolicyDeps) {}

  async reconcile(key: ObjectKey, context: ReconcileContext): Promise<ReconcileResult> {
    const policy = cachedObject<ScanPolicy>(context);
    if (!policy?.metadata.uid || policy.metadata.deletionTimestamp) {
      this.forgetSeries(key.name);
      this.setState(key.name, undefined);
      return {};
    }
    const generation = policy.metadata.generation ?? 0;
    const compiled = compilePolicy(policy);
    this.setState(key.name, compiled.ok ? 'ready' : 'invalid');
    if (!compiled.ok) {
      this.forgetSeries(key.name);
      await this.writeStatus(policy, context, { phase: 'Failed', ruleCount: 0 }, {
        type: 'Ready', status: 'False', reason: 'InvalidPolicy', message: `The policy is not used: ${compiled.errors.join('; ')}`,
      }, { type: 'Warning', reason: 'PolicyInvalid' });
      return {};
    }
    const ready: ConditionUpdate = { type: 'Ready', status: 'True', reason: 'Compiled', message: `${compiled.policy.ruleCount} rule(s) in force in ${policy.spec.mode} mode` };
    const lastRun = Date.parse(policy.status?.audit?.lastRunAt ?? '') || 0;
    const auditDue = policy.status?.observedGeneration !== generation || Date.now() - lastRun >= this.deps.auditIntervalMs || policy.status?.phase !== 'Ready';
    if (!auditDue) {
      await this.writeStatus(policy, context, { phase: 'Ready', ruleCount: compiled.policy.ruleCount }, ready, { type: 'Normal', reason: 'PolicyReady' });
      return { requeueAfterMs: Math.max(1_000, lastRun + this.deps.auditIntervalMs - Date.now()) };
    }
    if (!this.deps.cachesSynced()) return { requeueAfterMs: syncWaitMs };

    let result: AuditResult;
    try {
      result = await auditPolicy(compiled.policy, { ...this.deps.audit, client: this.deps.client }, context.signal);
    } catch (err) {
      if (context.signal.aborted) throw err;
      // The policy still works at admission; only the audit failed (for example a list the
      // ServiceAccount may not make). Say so where users look, and try again later.
      this.deps.metrics.auditRuns.inc({ result: 'error' });
      const message = `The background audit failed: ${err instanceof Error ? err.message : String(err)}`;
      const conditions = setCondition(policy.status?.conditions, { type: 'Audited', status: 'False', reason: 'AuditFailed', message }, generation);
      await this.writeStatus(policy, context, { phase: 'Degraded', ruleCount: compiled.policy.ruleCount, conditions }, { ...ready, message: `${ready.message}; ${message}` }, { type: 'Warning', reason: 'AuditFailed' });
      return { requeueAfterMs: auditRetryMs };
    }
    this.deps.metrics.auditRuns.inc({ result: 'success' });
    this.recordSeries(key.name, result);
    const audit = auditStatus(result);
    const skipped = result.skippedKinds.length > 0 ? `; not audited (no built-in listing): ${result.skippedKinds.join(', ')}` : '';
    const found = [...result.byRule.values()].reduce((sum, count) => sum + count, 0);
    const previousCounts = JSON.stringify(policy.status?.audit?.violations ?? []);
    // The audit's own condition: later passes that only confirm Ready leave it as it is.
    // On a change of the counts only (a re-audit finding the same is no news), before the status
    // write so a write lost to a 409 re-publishes the same key.
    if (found > 0 && previousCounts !== JSON.stringify(audit.violations)) this.publishViolations(policy, result.objects, found, audit);
    const conditions = setCondition(policy.status?.conditions, { type: 'Audited', status: 'True', reason: 'AuditCompleted', message: `${result.objects} object(s) evaluated, ${found} violation(s)${skipped}` }, generation);
    await this.writeStatus(policy, context, { phase: 'Ready', ruleCount: compiled.policy.ruleCount, audit, conditions }, ready, { type: 'Normal', reason: 'PolicyReady' });
    if (previousCounts !== JSON.stringify(audit.violations)) {
      await this.deps.events.record(policy, found > 0 ? 'Warning' : 'Normal', 'AuditCompleted', `Audit of ${result.objects} object(s) found ${found} violation(s)${found > 0 ? `: ${audit.violations?.slice(0, 10).map((entry) => `${entry.rule}=${entry.count}`).join(', ')}` : ''}`, context.log);
    }
    context.log.info({ objects: result.objects, violations: found }, 'policy audit finished');
    return { requeueAfterMs: this.deps.auditIntervalMs };
  }

  private publishViolations(policy: ScanPolicy, objects: number, found: number, audit: NonNullable<ScanPolicyStatus['audit']>): void {
    if (!this.deps.notifier) return;
    const counts = JSON.stringify(audit.violations ?? []);
    const { uid = '', name = '', generation = 0 } = policy.metadata;
    this.deps.notifier.publish({
      type: 'policy.violation',
      subject: { apiVersion: policy.apiVersion ?? 'securestack.io/v1alpha1', kind: 'ScanPolicy', name, uid },
      occurredAt: audit.lastRunAt ?? new Date().toISOString(),
      dedupeKey: `scanpolicy/${uid}/audit/${generation}/${createHash('sha256').update(counts).digest('hex').slice(0, 16)}`,
      data: { source: 'audit', mode: policy.spec.mode, policy: name, objects, violations: found, rules: (audit.violations ?? []).slice(0, 20) },
    });
  }

  private setState(policy: string, state: 'ready' | 'invalid' | undefined): void {
    if (state) this.states.set(policy, state);
    else this.states.delete(policy);
    const counts = { ready: 0, invalid: 0 };
    for (const value of this.states.values()) counts[value]++;
    for (const [label, count] of Object.entries(counts)) this.deps.metrics.policies.set({ state: label }, count);
  }

  private recordSeries(policy: string, result: AuditResult): void {
    this.forgetSeries(policy);
    const labels = [...result.series.values()].map(({ rule, namespace, severity, count }) => {
      const set = { policy, rule, namespace, severity };
      this.deps.metrics.policyViolations.set(set, count);
      return set;
    });
    this.series.set(policy, labels);
  }

  private forgetSeries(policy: string): void {
    for (const labels of this.series.get(policy) ?? []) this.deps.metrics.policyViolations.remove(labels);
    this.series.delete(policy);
  }

  /** Writes status when something changed; records the Event when the phase or generation changes. */
  private async writeStatus(policy: ScanPolicy, context: ReconcileContext, fields: Partial<ScanPolicyStatus>, condition: ConditionUpdate, event: { type: 'Normal' | 'Warning'; reason: string }): Promise<void> {
    await writeStatus(this.deps, this.type, policy, context, { fields, condition, event });
  }
}

function auditStatus(result: AuditResult): NonNullable<ScanPolicyStatus['audit']> {
  const violations = [...result.byRule.entries()]
    .map(([rule, count]) => ({ rule, count }))
    .sort((a, b) => b.count - a.count || (a.rule < b.rule ? -1 : 1))
    .slice(0, maxAuditRules);
  return { lastRunAt: rfc3339(new Date()), violations };
}
