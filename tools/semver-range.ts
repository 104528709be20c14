// A deliberately small semver range matcher for the offline lockfile audit. It lives here
// rather than as a dependency because the audit guards the dependency tree itself, and the
// grammar it needs is tiny: <, <=, >, >=, =, a bare version, space-joined AND, `||` OR, `*`.
// Anything else (^, ~, x-ranges, hyphen ranges) is rejected loudly so that a typo in
// security/advisories.json cannot silently match nothing.

export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly (string | number)[];
}

type Operator = '<' | '<=' | '>' | '>=' | '=';

interface Comparator {
  readonly op: Operator;
  readonly version: SemVer;
}

// An empty comparator list is `*`: it matches every version.
type ComparatorSet = readonly Comparator[];

const VERSION_RE =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Parses a full `major.minor.patch[-pre][+build]` version; returns undefined if it is not one. */
export function parseVersion(text: string): SemVer | undefined {
  const m = VERSION_RE.exec(text.trim());
  if (!m) return undefined;
  const prerelease = m[4] === undefined ? [] : m[4].split('.').map(toIdentifier);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease };
}

function toIdentifier(part: string): string | number {
  return /^\d+$/.test(part) ? Number(part) : part;
}

/** Semver precedence: negative if a < b, 0 if equal, positive if a > b. Build metadata is ignored. */
export function compareVersions(a: SemVer, b: SemVer): number {
  return (
    a.major - b.major ||
    a.minor - b.minor ||
    a.patch - b.patch ||
    comparePrerelease(a.prerelease, b.prerelease)
  );
}

function comparePrerelease(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  // A release sorts after any of its prereleases.
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareIdentifier(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function compareIdentifier(a: string | number | undefined, b: string | number | undefined): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  // Numeric identifiers sort before alphanumeric ones.
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  const sa = a ?? '';
  const sb = b ?? '';
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

const COMPARATOR_RE = /^(<=|>=|<|>|=)?(.+)$/;

function parseComparator(token: string, range: string): Comparator {
  const m = COMPARATOR_RE.exec(token);
  const version = m?.[2] === undefined ? undefined : parseVersion(m[2]);
  if (!m || !version) {
    throw new Error(`unsupported comparator "${token}" in range "${range}"`);
  }
  return { op: (m[1] ?? '=') as Operator, version };
}

function parseComparatorSet(part: string, range: string): ComparatorSet {
  // Allow "< 1.2.3" as well as "<1.2.3" by gluing a lone operator to the next token.
  const tokens = part.trim().replace(/(<=|>=|<|>|=)\s+/g, '$1').split(/\s+/).filter((t) => t !== '');
  if (tokens.length === 0) throw new Error(`empty comparator set in range "${range}"`);
  if (tokens.length === 1 && tokens[0] === '*') return [];
  return tokens.map((t) => parseComparator(t, range));
}

/** Parses a range into OR-ed comparator sets; throws on syntax this matcher does not support. */
export function parseRange(range: string): readonly ComparatorSet[] {
  if (range.trim() === '') throw new Error('empty range');
  return range.split('||').map((part) => parseComparatorSet(part, range));
}

function satisfiesComparator(v: SemVer, c: Comparator): boolean {
  const cmp = compareVersions(v, c.version);
  switch (c.op) {
    case '<':
      return cmp < 0;
    case '<=':
      return cmp <= 0;
    case '>':
      return cmp > 0;
    case '>=':
      return cmp >= 0;
    case '=':
      return cmp === 0;
  }
}

/**
 * True if `version` lies in `range`. Unlike npm's semver, prereleases are not excluded from
 * ranges: for a vulnerability check, 4.0.4-beta.1 under "<4.0.4" must count as affected.
 * A version that is not valid semver never matches a bounded range (callers decide what an
 * unparseable version means) but does match `*`.
 */
export function satisfies(version: string, range: string): boolean {
  const sets = parseRange(range);
  const v = parseVersion(version);
  return sets.some((set) => (v ? set.every((c) => satisfiesComparator(v, c)) : set.length === 0));
}
