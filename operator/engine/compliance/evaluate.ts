/**
 * A compliance framework over objects, with the rule engine admission and the background audit
 * use (never a second implementation): the framework's rules are compiled into one policy, each
 * object is judged once by `ruleViolations`, and each control reads the verdict of its rules.
 * Pure: objects, the clock and what ImageScans know come in as arguments; the caller lists.
 */
import type { ComplianceReportSpec, CustomRule, ScanPolicy } from '../../api/types.generated';
import { compilePolicy, type CompiledPolicy } from '../compile';
import { ruleViolations, subjectOf, type ImageLookup, type Subject } from '../evaluate';
import { judgedThroughController } from '../inventory';
import { ruleById } from '../rules';
import type { ClusterFacts, KubeObject, Rule, Severity, Violation } from '../types';
import { containersOf } from '../workload';
import { findingCounts, type Control, type ControlCheck, type Framework, type VulnerabilityCheck } from './framework';

export type ControlResultKind = 'Pass' | 'Fail' | 'Manual' | 'Skip';

/** A control and what its evaluation needs, ready to judge objects. */
export interface CompiledControl {
  control: Control;
  /** Rule ids (built-in, or the custom rule's internal id) an object fails the control by. */
  ruleIds: readonly string[];
}

export interface CompiledFramework {
  framework: Framework;
  /** Pod Security Standards version the pod security rules follow. */
  podSecurityVersion: string;
  /** One policy holding every rule the controls name, in Audit mode, matching what they read. */
  policy: CompiledPolicy;
  /** The policy's built-in rules by id, looked up for every object and control. */
  ruleById: ReadonlyMap<string, Rule>;
  controls: readonly CompiledControl[];
}

/** Internal id of a custom control's rule, apart from every built-in rule id. */
export function customRuleId(controlId: string): string {
  return `control:${controlId}`;
}

/** Reports errors by the spec field a user wrote, for a framework defined in a ComplianceReport. */
export type ControlsPath = (index: number) => string;

/**
 * Compiles a framework: its rule ids must exist, custom schemas must compile (patterns in RE2).
 * `controlsPath` names a control in messages (spec.controls[i] for a custom framework).
 */
export function compileFramework(
  framework: Framework,
  podSecurityVersion = 'latest',
  controlsPath: ControlsPath = (index) => `controls[${index}]`,
): { ok: true; compiled: CompiledFramework } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const ruleIds = new Set<string>();
  const customRules: CustomRule[] = [];
  const customIndex: number[] = [];
  const seen = new Set<string>();
  framework.controls.forEach((control, index) => {
    if (seen.has(control.id)) errors.push(`${controlsPath(index)}.id: control id "${control.id}" appears twice`);
    seen.add(control.id);
    const check = control.check;
    if (check.type === 'rules') {
      check.rules.forEach((id, ruleIndex) => {
        if (ruleById(id)) ruleIds.add(id);
        else errors.push(`${controlsPath(index)}.rules[${ruleIndex}]: no built-in rule is called "${id}" (see docs/rules.md)`);
      });
    } else if (check.type === 'custom') {
      customRules.push({ id: customRuleId(control.id), message: check.message, severity: control.severity, target: check.target, schema: check.schema });
      customIndex.push(index);
    }
  });
  if (errors.length > 0) return { ok: false, errors };

  const result = compilePolicy(syntheticPolicy(framework, [...ruleIds], customRules, podSecurityVersion));
  if (!result.ok) {
    // compilePolicy names fields of the synthetic policy: spec.customRules[i] is a control's customRule.
    return {
      ok: false,
      errors: result.errors.map((error) => error.replace(/^spec\.customRules\[(\d+)\]\.schema/, (_, i: string) => `${controlsPath(customIndex[Number(i)] ?? 0)}.customRule.schema`)),
    };
  }
  const controls = framework.controls.map((control) => ({
    control,
    ruleIds: control.check.type === 'rules' ? control.check.rules : control.check.type === 'custom' ? [customRuleId(control.id)] : [],
  }));
  const byId = new Map(result.policy.rules.map(({ rule }) => [rule.id, rule]));
  return { ok: true, compiled: { framework, podSecurityVersion, policy: result.policy, ruleById: byId, controls } };
}

/** The policy the framework's rules run in: Audit mode, the kinds its rules read, no exceptions. */
function syntheticPolicy(framework: Framework, rules: readonly string[], customRules: CustomRule[], podSecurityVersion: string): ScanPolicy {
  return {
    apiVersion: 'securestack.io/v1alpha1',
    kind: 'ScanPolicy',
    metadata: { name: `framework-${framework.id}` },
    spec: {
      mode: 'Audit',
      podSecurityVersion,
      rules: rules.map((id) => ({ id })),
      ...(customRules.length > 0 ? { customRules } : {}),
    },
  };
}

/** A custom framework from a ComplianceReport's spec.controls. */
export function customFramework(spec: Pick<ComplianceReportSpec, 'title' | 'controls'>, id: string): Framework {
  return {
    id,
    title: spec.title ?? id,
    version: 'custom',
    source: 'ComplianceReport spec.controls',
    description: 'Controls defined in the ComplianceReport.',
    controls: (spec.controls ?? []).map((item): Control => ({
      id: item.id,
      title: item.title,
      severity: item.severity,
      description: item.description ?? '',
      remediation: item.remediation ?? '',
      check: item.rules
        ? { type: 'rules', rules: item.rules }
        : item.customRule
          ? { type: 'custom', message: item.customRule.message ?? item.title, target: item.customRule.target ?? 'Object', schema: item.customRule.schema }
          : item.vulnerabilities
            ? { type: 'vulnerabilities', vulnerabilities: item.vulnerabilities }
            : { type: 'manual', reason: item.manual ?? 'marked manual' },
    })),
  };
}

/** Names one object in results and examples. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
}

/** One object's outcome for every control it was evaluated for (by index into the framework's controls). */
export interface ObjectVerdict {
  object: ObjectRef;
  passed: number[];
  failed: { control: number; message: string }[];
}

export interface ComplianceInput {
  /** Milliseconds since the epoch: scan and fix ages are measured from it. */
  now: number;
  /** What the ImageScans know, for vulnerability controls. */
  images?: ImageLookup;
  /** What rules over more than one object read (NetworkPolicies per namespace). */
  facts?: ClusterFacts;
  /**
   * Images vulnerability controls leave out: SecureStack's own scanner and uploader, as the
   * admission gate does, whose scan Jobs would otherwise fail every namespace that scans.
   */
  exemptImages?: (image: string) => boolean;
}

/**
 * One object against every control, or undefined when the object is judged through its
 * controller (the Pods of a Deployment) or no control reads it.
 */
export function evaluateObject(compiled: CompiledFramework, object: KubeObject, input: ComplianceInput): ObjectVerdict | undefined {
  if (judgedThroughController(object, compiled.policy)) return undefined;
  const subject = subjectOf(object);
  const byRule = violationsByRule(ruleViolations(compiled.policy, subject, input.facts));
  const verdict: ObjectVerdict = { object: refOf(object, subject), passed: [], failed: [] };
  compiled.controls.forEach(({ control, ruleIds }, index) => {
    let outcome: { applies: boolean; message?: string };
    if (control.check.type === 'vulnerabilities') outcome = vulnerabilityOutcome(control.check.vulnerabilities, subject, input);
    else if (control.check.type === 'manual') outcome = { applies: false };
    else outcome = rulesOutcome(compiled, control.check, ruleIds, subject, byRule, input.facts !== undefined);
    if (!outcome.applies) return;
    if (outcome.message === undefined) verdict.passed.push(index);
    else verdict.failed.push({ control: index, message: outcome.message });
  });
  return verdict.passed.length + verdict.failed.length > 0 ? verdict : undefined;
}

function refOf(object: KubeObject, subject: Subject): ObjectRef {
  return {
    apiVersion: object.apiVersion ?? '',
    kind: subject.kind,
    ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
    name: subject.name,
    ...(object.metadata?.uid ? { uid: object.metadata.uid } : {}),
  };
}

function violationsByRule(violations: readonly Violation[]): Map<string, Violation[]> {
  const byRule = new Map<string, Violation[]>();
  for (const violation of violations) {
    const known = byRule.get(violation.ruleId);
    if (known) known.push(violation);
    else byRule.set(violation.ruleId, [violation]);
  }
  return byRule;
}

/**
 * Whether a rule reads this object at all: a pod rule an object with a pod, an object rule its
 * kinds; a background-only rule only when the evaluation has the facts it needs.
 */
function ruleApplies(compiled: CompiledFramework, ruleId: string, subject: Subject, hasFacts: boolean): boolean {
  const rule = compiled.ruleById.get(ruleId);
  if (rule) {
    if (rule.backgroundOnly && !hasFacts) return false;
    return rule.target === 'pod' ? subject.pod !== undefined : rule.kinds.some((kind) => kind.group === subject.group && kind.kind === subject.kind);
  }
  // A custom control's rule reads the kinds that carry a pod (whole object or each container).
  return subject.pod !== undefined;
}

function rulesOutcome(compiled: CompiledFramework, check: ControlCheck, ruleIds: readonly string[], subject: Subject, byRule: Map<string, Violation[]>, hasFacts: boolean): { applies: boolean; message?: string } {
  const applicable = ruleIds.filter((id) => ruleApplies(compiled, id, subject, hasFacts));
  if (applicable.length === 0) return { applies: false };
  for (const id of applicable) {
    // A control that covers part of a rule (CIS 5.2.3: hostPID of disallow-host-namespaces) counts only findings at its fields.
    const violation = (byRule.get(id) ?? []).find((found) => check.type !== 'rules' || findingCounts(check, found.field));
    if (violation) return { applies: true, message: `${violation.field}: ${violation.message}` };
  }
  return { applies: true };
}

const severityOrder: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];
const dayMs = 24 * 60 * 60 * 1000;

/** Severities at or above the given one, as the summary's lower-case keys. */
function levelsAtOrAbove(severity: Severity): ('critical' | 'high' | 'medium' | 'low')[] {
  return severityOrder.slice(0, severityOrder.indexOf(severity) + 1).map((level) => level.toLowerCase() as 'critical' | 'high' | 'medium' | 'low');
}

/** Every image of the workload must meet the condition; the first that does not is the message. */
function vulnerabilityOutcome(check: VulnerabilityCheck, subject: Subject, input: ComplianceInput): { applies: boolean; message?: string } {
  if (!subject.pod) return { applies: false };
  const images = [...new Set(containersOf(subject.pod).map(({ container }) => container.image ?? '').filter((image) => image !== '' && !input.exemptImages?.(image)))];
  if (images.length === 0) return { applies: false };
  for (const image of images) {
    const problem = imageProblem(check, image, input);
    if (problem) return { applies: true, message: problem };
  }
  return { applies: true };
}

/** Why an image fails the check, or undefined when it passes. */
export function imageProblem(check: VulnerabilityCheck, image: string, input: ComplianceInput): string | undefined {
  const facts = input.images?.(image);
  // An image nobody scanned cannot be shown compliant: it fails, never passes by default.
  if (!facts?.completed || !facts.summary) return `image ${image} has no completed ImageScan`;
  if (check.maxScanAgeHours !== undefined) {
    const completedAt = Date.parse(facts.completedAt ?? '');
    if (Number.isNaN(completedAt)) return `image ${image}: ImageScan ${facts.scan} has no completion time`;
    const hours = (input.now - completedAt) / 3_600_000;
    if (hours > check.maxScanAgeHours) return `image ${image} was last scanned ${Math.floor(hours)} h ago (ImageScan ${facts.scan}), over ${check.maxScanAgeHours} h`;
  }
  if (check.fixableAtOrAbove !== undefined) {
    const fixable = facts.summary.fixableBySeverity;
    for (const level of levelsAtOrAbove(check.fixableAtOrAbove)) {
      // Results stored before per-severity fixable counts existed lack them: count all.
      const count = fixable ? (fixable[level] ?? 0) : (facts.summary[level] ?? 0);
      if (count === 0) continue;
      if (check.maxFixAgeDays === undefined) return `image ${image} has ${count} fixable ${level} vulnerabilit${count === 1 ? 'y' : 'ies'} (ImageScan ${facts.scan})`;
      const oldest = Date.parse(facts.summary.oldestFixablePublished?.[level] ?? '');
      // Without an advisory date the vulnerability cannot be shown to be inside the window.
      if (Number.isNaN(oldest)) return `image ${image} has ${count} fixable ${level} vulnerabilit${count === 1 ? 'y' : 'ies'} of unknown age (ImageScan ${facts.scan})`;
      const days = (input.now - oldest) / dayMs;
      if (days > check.maxFixAgeDays) return `image ${image} has a fixable ${level} vulnerability published ${Math.floor(days)} days ago, over ${check.maxFixAgeDays} (ImageScan ${facts.scan})`;
    }
  }
  return undefined;
}

/** How one control came out over everything evaluated. */
export interface ControlOutcome {
  control: Control;
  result: ControlResultKind;
  passed: number;
  failed: number;
  examples: (Omit<ObjectRef, 'apiVersion' | 'uid'> & { message: string })[];
}

/** Counts per control as verdicts arrive, keeping at most `maxExamples` failed objects per control. */
export class ComplianceTally {
  private readonly passed: number[];
  private readonly failed: number[];
  private readonly examples: ControlOutcome['examples'][];
  objects = 0;

  constructor(private readonly compiled: CompiledFramework, private readonly maxExamples = 5) {
    const size = compiled.controls.length;
    this.passed = new Array<number>(size).fill(0);
    this.failed = new Array<number>(size).fill(0);
    this.examples = Array.from({ length: size }, () => []);
  }

  add(verdict: ObjectVerdict): void {
    this.objects++;
    for (const index of verdict.passed) this.passed[index] = (this.passed[index] ?? 0) + 1;
    for (const { control, message } of verdict.failed) {
      this.failed[control] = (this.failed[control] ?? 0) + 1;
      const examples = this.examples[control];
      if (examples && examples.length < this.maxExamples) {
        const { kind, namespace, name } = verdict.object;
        examples.push({ kind, ...(namespace ? { namespace } : {}), name, message });
      }
    }
  }

  outcomes(): ControlOutcome[] {
    return this.compiled.controls.map(({ control }, index) => {
      const passed = this.passed[index] ?? 0;
      const failed = this.failed[index] ?? 0;
      const result: ControlResultKind = control.check.type === 'manual' ? 'Manual' : failed > 0 ? 'Fail' : passed > 0 ? 'Pass' : 'Skip';
      return { control, result, passed, failed, examples: this.examples[index] ?? [] };
    });
  }
}

export interface ComplianceSummary {
  pass: number;
  fail: number;
  manual: number;
  skip: number;
  objects: number;
  /** Undefined when no control had anything to evaluate. */
  score?: number;
}

/**
 * Kubescape's compliance score: each evaluated control (Pass or Fail) scores passed objects ÷
 * evaluated objects × 100; the framework scores the mean over those controls. Manual and Skip
 * controls are left out, so they neither raise nor lower it. Two decimals.
 */
export function summarize(outcomes: readonly ControlOutcome[], objects: number): ComplianceSummary {
  const count = (result: ControlResultKind): number => outcomes.filter((outcome) => outcome.result === result).length;
  const evaluated = outcomes.filter((outcome) => outcome.result === 'Pass' || outcome.result === 'Fail');
  const summary: ComplianceSummary = { pass: count('Pass'), fail: count('Fail'), manual: count('Manual'), skip: count('Skip'), objects };
  if (evaluated.length > 0) {
    const mean = evaluated.reduce((sum, outcome) => sum + (outcome.passed / (outcome.passed + outcome.failed)) * 100, 0) / evaluated.length;
    summary.score = Math.round(mean * 100) / 100;
  }
  return summary;
}
