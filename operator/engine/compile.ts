/**
 * ScanPolicy -> CompiledPolicy, once per policy generation: rule sets expanded, rule parameters
 * validated (with their defaults filled in), custom JSON Schemas compiled by ajv, name globs turned
 * into matchers. A policy that does not compile is reported with every reason and never used.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { CustomRule, RuleConfig, ScanPolicy, VulnerabilityGate } from '../api/types.generated';
import { linearRegExpEngine, wildcardMatcher } from '../platform/patterns';
import { compileFilter, type CompiledFilter } from './match';
import { parsePodSecurityVersion } from './pod-security-version';
import { ruleById, ruleSets } from './rules';
import type { Rule, Severity } from './types';
import { podKinds } from './workload';

export type PolicyMode = ScanPolicy['spec']['mode'];

export interface CompiledRule {
  rule: Rule;
  severity: Severity;
  parameters: Record<string, unknown>;
}

export interface CompiledCustomRule {
  id: string;
  message: string;
  severity: Severity;
  target: 'Object' | 'Container';
  validate: ValidateFunction;
}

export interface CompiledException {
  /** Rule ids it covers; undefined covers all. */
  rules: ReadonlySet<string> | undefined;
  namespaces: ((namespace: string) => boolean) | undefined;
  names: ((name: string) => boolean) | undefined;
  images: ((image: string) => boolean) | undefined;
  expiresAt: number;
  owner: string;
  reason: string;
}

export interface CompiledGate extends Required<Pick<VulnerabilityGate, 'onMissingScan' | 'ignoreUnfixed'>> {
  max: Partial<Record<'critical' | 'high' | 'medium' | 'low', number>>;
}

export interface CompiledPolicy {
  name: string;
  uid: string;
  generation: number;
  mode: PolicyMode;
  match: CompiledFilter;
  exclude: CompiledFilter;
  rules: readonly CompiledRule[];
  customRules: readonly CompiledCustomRule[];
  exceptions: readonly CompiledException[];
  gate: CompiledGate | undefined;
  /** Rules in effect, built-in and custom (the vulnerability gate counts as one). */
  ruleCount: number;
  /**
   * Whether a verdict on a pod template holds for every pod made from it: not when a custom rule
   * reads the whole object, whose fields outside the template differ between a controller and its pods.
   */
  templateVerdictsReusable: boolean;
}

export type CompileResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: string[] };

/** Parameter validators per rule id: the catalog is fixed, so each schema compiles once. */
const parameterValidators = new Map<string, ValidateFunction>();
const parameterAjv = new Ajv({ allErrors: true, useDefaults: true, strict: true });

function parameterValidator(rule: Rule): ValidateFunction {
  let validate = parameterValidators.get(rule.id);
  if (!validate) {
    validate = parameterAjv.compile(rule.parameters ?? { type: 'object', additionalProperties: false });
    parameterValidators.set(rule.id, validate);
  }
  return validate;
}

/** ajv's error list as one line per problem, with JSON pointers turned into dotted paths. */
export function describeAjvErrors(errors: readonly ErrorObject[] | null | undefined, prefix: string): string[] {
  return (errors ?? []).map((error) => {
    const at = `${prefix}${pointerToPath(error.instancePath)}`;
    const extra = error.keyword === 'additionalProperties' ? ` (${String((error.params as { additionalProperty?: string }).additionalProperty)})` : '';
    return `${at}: ${error.message ?? 'is invalid'}${extra}`;
  });
}

/** `/spec/containers/0/image` -> `.spec.containers[0].image` */
export function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((token) => (/^\d+$/.test(token) ? `[${token}]` : /^[A-Za-z_$][\w$-]*$/.test(token) ? `.${token}` : `[${JSON.stringify(token)}]`))
    .join('');
}

function isPodSecurityRule(rule: Rule): boolean {
  return rule.family === 'pod-security-baseline' || rule.family === 'pod-security-restricted';
}

/** Whether a rule's parameter schema declares a parameter. */
function declares(rule: Rule, name: string): boolean {
  const properties = rule.parameters?.properties;
  return typeof properties === 'object' && properties !== null && Object.prototype.hasOwnProperty.call(properties, name);
}

/**
 * The Pod Security Standards settings a policy hands to its pod-security rules, unless a rule's
 * own parameters set them: the version (spec.podSecurityVersion, default latest) and the level
 * (restricted when any pod-security-restricted rule is on, as upstream's Restricted level then
 * replaces some Baseline checks with its own).
 */
function podSecurityDefaults(policy: ScanPolicy, enabled: readonly Rule[], errors: string[]): Record<string, unknown> {
  const version = policy.spec.podSecurityVersion;
  const defaults: Record<string, unknown> = {
    level: enabled.some((rule) => rule.family === 'pod-security-restricted') ? 'restricted' : 'baseline',
  };
  if (version === undefined) return defaults;
  // The CRD's pattern keeps bad versions out; a stored object from an older schema could not.
  if (typeof version !== 'string' || parsePodSecurityVersion(version) === undefined) {
    errors.push(`spec.podSecurityVersion: ${JSON.stringify(version)} is not "latest" or "v1.<minor>" (for example v1.35)`);
    return defaults;
  }
  return { ...defaults, version };
}

function compileRules(policy: ScanPolicy, errors: string[]): CompiledRule[] {
  const configured = new Map((policy.spec.rules ?? []).map((config, index) => [config.id, { config, index }]));
  const ids = new Set<string>();
  (policy.spec.ruleSets ?? []).forEach((set, index) => {
    // The CRD's enum keeps unknown names out; a stored object from an older schema could not.
    const members = Object.prototype.hasOwnProperty.call(ruleSets, set) ? ruleSets[set] : undefined;
    if (!members) errors.push(`spec.ruleSets[${index}]: no rule set is called "${String(set)}"`);
    for (const id of members ?? []) ids.add(id);
  });
  for (const id of configured.keys()) ids.add(id);

  const enabled: { rule: Rule; entry: { config: RuleConfig; index: number } | undefined }[] = [];
  for (const id of ids) {
    const entry = configured.get(id);
    const rule = ruleById(id);
    if (!rule) {
      errors.push(`spec.rules[${entry?.index ?? 0}].id: no built-in rule is called "${id}" (see docs/rules.md)`);
      continue;
    }
    if (entry?.config.enabled !== false) enabled.push({ rule, entry });
  }
  const podSecurity = podSecurityDefaults(
    policy,
    enabled.map(({ rule }) => rule),
    errors,
  );

  const compiled: CompiledRule[] = [];
  for (const { rule, entry } of enabled) {
    const parameters = structuredClone(entry?.config.parameters ?? {});
    if (isPodSecurityRule(rule)) {
      for (const [name, value] of Object.entries(podSecurity)) if (declares(rule, name) && parameters[name] === undefined) parameters[name] = value;
    }
    const validate = parameterValidator(rule);
    if (!validate(parameters)) {
      errors.push(...describeAjvErrors(validate.errors, `spec.rules[${entry?.index ?? 0}].parameters`));
      continue;
    }
    compiled.push({ rule, severity: entry?.config.severity ?? rule.severity, parameters });
  }
  return compiled;
}

function compileCustomRules(rules: readonly CustomRule[], errors: string[]): CompiledCustomRule[] {
  // One ajv per policy: schemas of different policies must not see each other's $ids. No remote
  // $refs can load (no loadSchema), so compiling never does I/O. Patterns run on RE2 (linear time):
  // one crafted regular expression must not be able to stall the webhook's event loop.
  const ajv = new Ajv({ allErrors: false, strict: false, validateSchema: true, code: { regExp: linearRegExpEngine } });
  const compiled: CompiledCustomRule[] = [];
  rules.forEach((rule, index) => {
    try {
      compiled.push({ id: rule.id, message: rule.message, severity: rule.severity ?? 'MEDIUM', target: rule.target ?? 'Object', validate: ajv.compile(rule.schema) });
    } catch (err) {
      errors.push(`spec.customRules[${index}].schema: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return compiled;
}

function compileExceptions(policy: ScanPolicy, errors: string[]): CompiledException[] {
  return (policy.spec.exceptions ?? []).flatMap((exception, index) => {
    const expiresAt = Date.parse(exception.expiresAt);
    if (Number.isNaN(expiresAt)) {
      errors.push(`spec.exceptions[${index}].expiresAt: "${exception.expiresAt}" is not a date-time`);
      return [];
    }
    const unknown = (exception.rules ?? []).filter((id) => id !== gateRuleId && !ruleById(id) && !(policy.spec.customRules ?? []).some((rule) => rule.id === id));
    if (unknown.length > 0) errors.push(`spec.exceptions[${index}].rules: unknown rule id(s) ${unknown.join(', ')}`);
    const matcher = (patterns: readonly string[] | undefined): ((value: string) => boolean) | undefined => (patterns?.length ? wildcardMatcher(patterns) : undefined);
    return [{
      rules: exception.rules?.length ? new Set(exception.rules) : undefined,
      namespaces: matcher(exception.namespaces),
      names: matcher(exception.names),
      images: matcher(exception.images),
      expiresAt,
      owner: exception.owner,
      reason: exception.reason,
    }];
  });
}

/** Rule id under which vulnerability gate findings are reported and excepted. */
export const gateRuleId = 'vulnerability-gate';

function compileGate(gate: VulnerabilityGate | undefined): CompiledGate | undefined {
  if (!gate) return undefined;
  const max: CompiledGate['max'] = {};
  if (gate.maxCritical !== undefined) max.critical = gate.maxCritical;
  if (gate.maxHigh !== undefined) max.high = gate.maxHigh;
  if (gate.maxMedium !== undefined) max.medium = gate.maxMedium;
  if (gate.maxLow !== undefined) max.low = gate.maxLow;
  return { max, onMissingScan: gate.onMissingScan ?? 'Warn', ignoreUnfixed: gate.ignoreUnfixed ?? false };
}

/** What a policy matches when spec.match.kinds is left out: the kinds its rules read. */
function defaultKinds(rules: readonly CompiledRule[]): { group: string; kind: string }[] {
  const kinds = new Map(podKinds.map((kind) => [`${kind.group}/${kind.kind}`, kind]));
  for (const { rule } of rules) {
    if (rule.target === 'object') for (const kind of rule.kinds) kinds.set(`${kind.group}/${kind.kind}`, kind);
  }
  return [...kinds.values()];
}

export function compilePolicy(policy: ScanPolicy): CompileResult {
  const errors: string[] = [];
  const rules = compileRules(policy, errors);
  const customRules = compileCustomRules(policy.spec.customRules ?? [], errors);
  const exceptions = compileExceptions(policy, errors);
  if (errors.length > 0) return { ok: false, errors };
  const gate = compileGate(policy.spec.vulnerabilityGate);
  return {
    ok: true,
    policy: {
      name: policy.metadata.name ?? '',
      uid: policy.metadata.uid ?? '',
      generation: policy.metadata.generation ?? 0,
      mode: policy.spec.mode,
      match: compileFilter(policy.spec.match, 'match', defaultKinds(rules)),
      exclude: compileFilter(policy.spec.exclude, 'exclude'),
      rules,
      customRules,
      exceptions,
      gate,
      ruleCount: rules.length + customRules.length + (gate ? 1 : 0),
      templateVerdictsReusable: customRules.every((rule) => rule.target === 'Container'),
    },
  };
}
