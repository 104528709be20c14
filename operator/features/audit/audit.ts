/**
 * The background audit: existing objects evaluated against a policy, page by page, with the same
 * pure engine admission uses, so a rule gives the same answer at the door and afterwards.
 * Objects a matched controller owns (the Pods of a Deployment, the Jobs of a CronJob) are judged
 * through their controller and not counted twice.
 */
import type { CompiledPolicy } from '../../engine/compile';
import { evaluatePolicy, subjectOf, type ImageLookup } from '../../engine/evaluate';
import type { ClusterFacts, KubeObject, Severity } from '../../engine/types';
import { judgedThroughController, networkPolicyFacts, policyKinds } from '../../engine/inventory';
import type { KubeClient } from '../../platform/kube/client';

export interface AuditSources {
  client: KubeClient;
  namespaceLabels(namespace: string): Record<string, string> | undefined;
  images: ImageLookup;
  gateExempt?: (image: string) => boolean;
  /** Namespaces admission never sees (the operator's own, kube-system...): audited the same way, not at all. */
  excludedNamespaces?: readonly string[];
  pageSize?: number;
  now?: () => number;
}

export interface AuditResult {
  /** Objects evaluated. */
  objects: number;
  /** Objects violating each rule. */
  byRule: Map<string, number>;
  /** Violating objects per rule, namespace ('' for cluster-scoped) and severity, for metrics. */
  series: Map<string, { rule: string; namespace: string; severity: Severity; count: number }>;
  /** Kinds the policy matches that the audit cannot list (custom resources, unknown groups). */
  skippedKinds: string[];
}

/** The kinds to list for a policy (engine/inventory), under the name the audit's callers know. */
export const auditKinds = policyKinds;

export async function auditPolicy(policy: CompiledPolicy, sources: AuditSources, signal?: AbortSignal): Promise<AuditResult> {
  const result: AuditResult = { objects: 0, byRule: new Map(), series: new Map(), skippedKinds: [] };
  const { kinds, skipped } = auditKinds(policy);
  result.skippedKinds = skipped;
  const now = (sources.now ?? Date.now)();
  // Background-only rules (require-network-policy) read NetworkPolicies per namespace: counted once per audit.
  let facts: ClusterFacts | undefined;
  if (policy.rules.some(({ rule }) => rule.backgroundOnly)) {
    facts = networkPolicyFacts(await sources.client.countPerNamespace('networking.k8s.io/v1', 'NetworkPolicy'));
  }
  for (const { apiVersion, kind } of kinds) {
    let continueToken: string | undefined;
    do {
      if (signal?.aborted) throw new Error('audit aborted');
      const page = await sources.client.listPage(apiVersion, kind, sources.pageSize ?? 250, continueToken);
      for (const item of page.items) {
        // Lists leave apiVersion and kind off their items.
        const object = { ...(item as KubeObject), apiVersion, kind };
        if (judgedThroughController(object, policy)) continue;
        // A Namespace belongs to itself: excluding a namespace leaves its Namespace object out too.
        const namespace = kind === 'Namespace' && apiVersion === 'v1' ? object.metadata?.name : object.metadata?.namespace;
        if (namespace && sources.excludedNamespaces?.includes(namespace)) continue;
        result.objects++;
        countViolations(policy, object, sources, now, result, facts);
      }
      continueToken = page.continueToken;
    } while (continueToken);
  }
  return result;
}

function countViolations(policy: CompiledPolicy, object: KubeObject, sources: AuditSources, now: number, result: AuditResult, facts: ClusterFacts | undefined): void {
  const subject = subjectOf(object);
  const namespace = subject.namespace;
  const verdict = evaluatePolicy(policy, subject, {
    object,
    operation: 'CREATE',
    now,
    images: sources.images,
    ...(facts ? { facts } : {}),
    ...(sources.gateExempt ? { gateExempt: sources.gateExempt } : {}),
    ...(namespace ? { namespaceLabels: sources.namespaceLabels(namespace) ?? {} } : {}),
  });
  if (!verdict) return;
  // An object counts once per rule, at the rule's most severe finding.
  const worst = new Map<string, Severity>();
  for (const violation of verdict.violations) {
    const known = worst.get(violation.ruleId);
    if (!known || severityRank(violation.severity) < severityRank(known)) worst.set(violation.ruleId, violation.severity);
  }
  for (const [rule, severity] of worst) {
    result.byRule.set(rule, (result.byRule.get(rule) ?? 0) + 1);
    const key = `${rule}\u0000${namespace ?? ''}\u0000${severity}`;
    const series = result.series.get(key) ?? { rule, namespace: namespace ?? '', severity, count: 0 };
    series.count++;
    result.series.set(key, series);
  }
}

const severityRank = (severity: Severity): number => ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'].indexOf(severity);
