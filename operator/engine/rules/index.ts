/**
 * The built-in rule catalog: every rule a ScanPolicy can name in spec.rules, and the rule sets
 * spec.ruleSets turns on as a whole.
 */
import type { ClusterFacts, Rule, RuleFamily } from '../types';
import { bestPracticeRules } from './best-practices';
import { hardeningRules } from './hardening';
import { baselineRules } from './pod-security-baseline';
import { restrictedRules } from './pod-security-restricted';
import { rbacRules } from './rbac';

export const catalog: readonly Rule[] = [...baselineRules, ...restrictedRules, ...bestPracticeRules, ...rbacRules, ...hardeningRules];

const byId = new Map(catalog.map((rule) => [rule.id, rule]));

export function ruleById(id: string): Rule | undefined {
  return byId.get(id);
}

export type RuleSetName = 'pss-baseline' | 'pss-restricted' | 'best-practices' | 'rbac';
export const ruleSetNames: readonly RuleSetName[] = ['pss-baseline', 'pss-restricted', 'best-practices', 'rbac'];

/** A rule whose schema requires parameters cannot run on defaults, so no rule set turns it on. */
function runsOnDefaults(rule: Rule): boolean {
  const required = rule.parameters?.required;
  return !Array.isArray(required) || required.length === 0;
}

function idsOf(...families: RuleFamily[]): readonly string[] {
  return catalog.filter((rule) => families.includes(rule.family) && runsOnDefaults(rule)).map((rule) => rule.id);
}

/**
 * Rule ids per rule set. Like the Pod Security Standards, pss-restricted contains every
 * pss-baseline rule. Rules needing parameters (allowed-registries) are in no set. The hardening
 * family is in none yet: a set is a value of the ScanPolicy CRD's enum, and joining an existing
 * set would start denying pods of the default ServiceAccount under policies already enforced.
 */
export const ruleSets: Readonly<Record<RuleSetName, readonly string[]>> = {
  'pss-baseline': idsOf('pod-security-baseline'),
  'pss-restricted': idsOf('pod-security-baseline', 'pod-security-restricted'),
  'best-practices': idsOf('best-practices'),
  rbac: idsOf('rbac'),
};

/**
 * Parameters the examples of a rule are judged with (before schema defaults), for rules whose
 * schema has required parameters. docs/rules.md shows them next to the examples.
 */
const exampleParameterValues: Readonly<Record<string, Record<string, unknown>>> = {
  'allowed-registries': { registries: ['registry.example.com', 'ghcr.io/example-org'] },
};

export function exampleParameters(id: string): Record<string, unknown> | undefined {
  const values = exampleParameterValues[id];
  return values ? structuredClone(values) : undefined;
}

const exampleNetworkPolicies = new Map([
  ['shop', 0],
  ['payments', 2],
]);

/**
 * The cluster the examples of backgroundOnly rules are judged in: NetworkPolicies per namespace.
 * docs/rules.md shows them next to the examples.
 */
export const exampleFacts: ClusterFacts & { networkPolicies: ReadonlyMap<string, number> } = {
  networkPolicies: exampleNetworkPolicies,
  networkPolicyCount: (namespace) => exampleNetworkPolicies.get(namespace),
};
