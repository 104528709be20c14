/**
 * Versions of the Pod Security Standards, as the upstream Pod Security admission controller
 * (k8s.io/pod-security-admission) names and resolves them: `latest` or `v1.<minor>`. Each check
 * keeps a table of what it does from which Kubernetes minor on (next to the check, as data); a
 * version picks the last entry at or below it. Pure: no I/O, no clock.
 */

/**
 * The newest minor any check changes at, in the upstream release these rules follow (v0.37.2,
 * Kubernetes 1.37). Upstream evaluates `latest`, and any version newer than the newest it knows,
 * with the checks of that newest version; so do we.
 */
export const newestPodSecurityMinor = 37;

/** The grammar upstream's api.ParseVersion accepts (its `[0-9]|[1-9][0-9]*` is the same language). */
export const podSecurityVersionPattern = '^(latest|v1\\.(0|[1-9][0-9]*))$';
const versionExpression = new RegExp(podSecurityVersionPattern);

/** A parsed version: `latest`, or a Kubernetes 1.x minor. */
export type PodSecurityVersion = { latest: true } | { latest: false; minor: number };

/**
 * Parses `latest` or `v1.N`; undefined for anything else (`v1.01`, `1.30`, `v2.0`, `v1.x`).
 * There is no version older than v1.0 in this grammar: upstream refuses `v0.N` the same way.
 */
export function parsePodSecurityVersion(text: string): PodSecurityVersion | undefined {
  const match = versionExpression.exec(text);
  if (!match) return undefined;
  if (match[2] === undefined) return { latest: true };
  const minor = Number(match[2]);
  return Number.isSafeInteger(minor) ? { latest: false, minor } : undefined;
}

/**
 * The minor whose checks a version selects: itself, or the newest known one for `latest` and for
 * versions newer than that (upstream's registry clamps to its newest version the same way).
 */
export function effectiveMinor(version: PodSecurityVersion): number {
  return version.latest ? newestPodSecurityMinor : Math.min(version.minor, newestPodSecurityMinor);
}

/**
 * The minor a rule's `version` parameter selects. ajv has checked the parameter against the
 * pattern before a rule runs; a value that somehow is not a version counts as `latest`, as
 * upstream's ParseVersion falls back to latest next to its error.
 */
export function minorOfParameter(value: unknown): number {
  const parsed = typeof value === 'string' ? parsePodSecurityVersion(value) : undefined;
  return effectiveMinor(parsed ?? { latest: true });
}

/** One row of a check's version table: what the check does from Kubernetes 1.`since` on. */
export interface VersionedBehaviour<T> {
  since: number;
  behaviour: T;
}

/**
 * The behaviour a table gives a minor: its last row at or below the minor. Undefined when the
 * check did not exist yet at that minor (for example runAsUser before v1.23): the check then
 * allows everything, as upstream registers no check for those versions.
 */
export function behaviourAt<T>(table: readonly VersionedBehaviour<T>[], minor: number): T | undefined {
  let found: T | undefined;
  for (const row of table) if (row.since <= minor) found = row.behaviour;
  return found;
}

/** The `version` parameter every Pod Security rule takes (ScanPolicy.spec.podSecurityVersion fills it). */
export const versionParameter = {
  type: 'string',
  description:
    'Pod Security Standards version whose checks apply: latest or v1.<minor>, like the pod-security.kubernetes.io/enforce-version label. ' +
    'Versions newer than the newest known behave as latest. Filled from the policy\'s spec.podSecurityVersion unless set here.',
  maxLength: 16,
  pattern: podSecurityVersionPattern,
  default: 'latest',
} as const;

export type PodSecurityLevel = 'baseline' | 'restricted';

/**
 * The `level` parameter of the Baseline rules whose upstream check the Restricted level replaces
 * with a check of its own (capabilities, seccomp, procMount). compile.ts fills it: restricted when
 * the policy turns on any pod-security-restricted rule, baseline otherwise.
 */
export const levelParameter = {
  type: 'string',
  description:
    'Pod Security level the rule is evaluated at. Filled by the policy: restricted when it turns on any pod-security-restricted rule (pss-restricted does), baseline otherwise.',
  enum: ['baseline', 'restricted'],
  default: 'baseline',
} as const;

export function levelOfParameter(value: unknown): PodSecurityLevel {
  return value === 'restricted' ? 'restricted' : 'baseline';
}
