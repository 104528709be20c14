/**
 * Shared vocabulary of the policy engine. Everything under operator/engine is pure: no I/O, no
 * clock reads except through arguments, so the admission webhook, the background audit,
 * compliance reports and the CLI give the same answer for the same object.
 */
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';

export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW';
export const severities: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];

export type RuleFamily = 'pod-security-baseline' | 'pod-security-restricted' | 'best-practices' | 'rbac' | 'hardening';
export const ruleFamilies: readonly RuleFamily[] = ['pod-security-baseline', 'pod-security-restricted', 'best-practices', 'rbac', 'hardening'];

/**
 * A Kubernetes object as the API server sends it in an AdmissionReview or a list: plain JSON whose
 * shape nothing guarantees, so rules read it defensively.
 */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion?: string; kind?: string; name?: string; uid?: string; controller?: boolean }[];
  };
  [field: string]: unknown;
}

/** The pod a Pod or a pod controller describes, with the paths to report findings at. */
export interface PodTemplateView {
  /** Path of the pod's metadata in the object, for example `spec.template.metadata`. */
  metadataPath: string;
  /** Path of the pod spec in the object, for example `spec.template.spec` (`spec` for a Pod). */
  specPath: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: V1PodSpec;
}

export type ContainerList = 'containers' | 'initContainers' | 'ephemeralContainers';

/** One container of a pod, wherever it is declared. */
export interface ContainerView {
  list: ContainerList;
  /** Path of the container, for example `spec.template.spec.containers[0]`. */
  path: string;
  container: V1Container;
}

/** What a rule found wrong: where, and what. */
export interface Finding {
  /** Field path in the object, for example `spec.containers[0].securityContext.privileged`. */
  field: string;
  /** What is wrong, naming the value that is not allowed. */
  message: string;
  /** Image of the container the finding is about, so exceptions by image can apply. */
  image?: string;
}

/**
 * What the cluster holds beside the object under review, for the few rules that judge an object
 * by its surroundings (a Namespace by its NetworkPolicies). Background evaluations that list the
 * cluster provide it; admission has none, and rules that need it are skipped there.
 */
export interface ClusterFacts {
  /** NetworkPolicies in the namespace, or undefined when the caller does not know (not listed). */
  networkPolicyCount(namespace: string): number | undefined;
}

/** A JSON Schema for a rule's parameters; `default`s are filled in when a policy is compiled. */
export type ParameterSchema = Record<string, unknown>;

interface RuleMetadata {
  /** Stable id used in ScanPolicy.spec.rules, messages, metrics and docs/rules.md. */
  id: string;
  title: string;
  family: RuleFamily;
  severity: Severity;
  /** One line telling the user how to fix a violation. */
  remediation: string;
  /** Why the rule exists, for docs/rules.md. */
  description: string;
  /** Parameters the rule accepts, validated when a ScanPolicy is compiled. */
  parameters?: ParameterSchema;
  /** Manifests for docs/rules.md and the catalog tests: one that passes, one that fails. */
  examples: { pass: KubeObject; fail: KubeObject };
  /**
   * The rule reads ClusterFacts. An evaluation without facts (admission) skips it rather than
   * judge on nothing: a Namespace is always created before its NetworkPolicies.
   */
  backgroundOnly?: boolean;
}

/** A rule over the pod of a Pod or of a pod controller's template. */
export interface PodRule extends RuleMetadata {
  target: 'pod';
  check(pod: PodTemplateView, parameters: Record<string, unknown>): Finding[];
}

/** A rule over whole objects of some kinds, for example RBAC bindings. */
export interface ObjectRule extends RuleMetadata {
  target: 'object';
  /** Kinds (with their API groups) the rule reads. */
  kinds: readonly { group: string; kind: string }[];
  /** `facts` is set whenever the evaluation has them; rules marked backgroundOnly only run then. */
  check(object: KubeObject, parameters: Record<string, unknown>, facts?: ClusterFacts): Finding[];
}

export type Rule = PodRule | ObjectRule;

/** A violation as the engine reports it: a finding plus what the rule says about itself. */
export interface Violation extends Finding {
  ruleId: string;
  title: string;
  severity: Severity;
  remediation: string;
}
