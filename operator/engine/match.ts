/**
 * Which objects a ScanPolicy applies to: kinds, operations, namespaces by name (with `*` globs)
 * and by label selector, and object labels. Same meaning as the Kubernetes fields they mirror.
 */
import type { GroupKind, LabelSelector, ResourceFilter } from '../api/types.generated';
import { podKinds } from './workload';
import { wildcardMatcher } from '../platform/patterns';

/** The operations an AdmissionReview can carry. */
export const admissionOperations = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
export type Operation = (typeof admissionOperations)[number];

/** What matching needs to know about one object and the request that carries it. */
export interface MatchSubject {
  group: string;
  kind: string;
  /** Admission operation; the background audit evaluates as CREATE. */
  operation: Operation;
  /** Namespace of a namespaced object; undefined for cluster-scoped ones. */
  namespace: string | undefined;
  /** Labels of that namespace (the object's own labels when the object is a Namespace). */
  namespaceLabels: Record<string, string> | undefined;
  labels: Record<string, string>;
}

const defaultOperations: readonly Operation[] = ['CREATE', 'UPDATE'];

/** metav1.LabelSelector semantics: every matchLabels entry and every expression must hold. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  return (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const present = Object.prototype.hasOwnProperty.call(labels, key);
    switch (operator) {
      case 'In': return present && values.includes(labels[key] ?? '');
      case 'NotIn': return !present || !values.includes(labels[key] ?? '');
      case 'Exists': return present;
      case 'DoesNotExist': return !present;
    }
  });
}

function kindMatches(kinds: readonly GroupKind[], group: string, kind: string): boolean {
  return kinds.some((entry) => ((entry.group ?? '') === '*' || (entry.group ?? '') === group) && (entry.kind === '*' || entry.kind === kind));
}

export interface CompiledFilter {
  kinds: readonly GroupKind[];
  operations: readonly Operation[];
  matches(subject: MatchSubject): boolean;
}

/**
 * Compiles `match` (or `exclude`). For `match`, an omitted list means "any" except kinds (the kinds
 * the policy's rules read: Pods and pod controllers, plus RBAC kinds for RBAC rules) and operations (CREATE and UPDATE); for `exclude`, an omitted list constrains
 * nothing and an exclude with no field set excludes nothing.
 */
export function compileFilter(filter: ResourceFilter | undefined, role: 'match' | 'exclude', defaultKinds: readonly GroupKind[] = podKinds): CompiledFilter {
  const kinds = filter?.kinds?.length ? filter.kinds : role === 'match' ? defaultKinds : [];
  const operations = filter?.operations?.length ? filter.operations : role === 'match' ? defaultOperations : [];
  const namespaceNames = filter?.namespaces?.length ? wildcardMatcher(filter.namespaces) : undefined;
  const namespaceSelector = filter?.namespaceSelector;
  const objectSelector = filter?.objectSelector;
  const constrains = kinds.length > 0 || operations.length > 0 || namespaceNames !== undefined || namespaceSelector !== undefined || objectSelector !== undefined;
  const matches = (subject: MatchSubject): boolean => {
    if (role === 'exclude' && !constrains) return false;
    if (kinds.length > 0 && !kindMatches(kinds, subject.group, subject.kind)) return false;
    if (operations.length > 0 && !operations.includes(subject.operation)) return false;
    // Namespace conditions say nothing about cluster-scoped objects, as with a webhook's
    // namespaceSelector: they do not keep them from matching, and cannot exclude them.
    const namespaceConditions = namespaceNames !== undefined || namespaceSelector !== undefined;
    if (subject.namespace === undefined && namespaceConditions && role === 'exclude') return false;
    if (subject.namespace !== undefined) {
      if (namespaceNames && !namespaceNames(subject.namespace)) return false;
      if (namespaceSelector && !selectorMatches(namespaceSelector, subject.namespaceLabels ?? {})) return false;
    }
    if (objectSelector && !selectorMatches(objectSelector, subject.labels)) return false;
    return true;
  };
  return { kinds, operations, matches };
}
