/**
 * Policy metrics: the state of each ScanPolicy and what the background audit found. Violation
 * series are per policy, rule, namespace and severity, and go with the policy.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface PolicyMetrics {
  policyViolations: Gauge<'policy' | 'rule' | 'namespace' | 'severity'>;
  auditRuns: Counter<'result'>;
  policies: Gauge<'state'>;
}

export function createPolicyMetrics(registry: Registry): PolicyMetrics {
  const registers = [registry];
  return {
    policyViolations: new Gauge({
      name: 'securestack_policy_violations',
      help: 'Objects violating a rule at the last background audit, by policy, rule, namespace and severity.',
      labelNames: ['policy', 'rule', 'namespace', 'severity'],
      registers,
    }),
    auditRuns: new Counter({
      name: 'securestack_policy_audit_runs_total',
      help: 'Background audit runs of one policy, by result (success, error).',
      labelNames: ['result'],
      registers,
    }),
    policies: new Gauge({
      name: 'securestack_policies',
      help: 'ScanPolicies by state: ready (compiled and in force) or invalid (not used; see its Ready condition).',
      labelNames: ['state'],
      registers,
    }),
  };
}
