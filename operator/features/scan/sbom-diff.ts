/**
 * What changed between two CycloneDX SBOMs: components added, removed and changed in version,
 * vulnerabilities introduced and fixed. Pure (no I/O), so `securestack sbom diff` and any other
 * caller (a ScheduledScan comparing runs) get the same answer.
 *
 * A component's identity is its purl without the version: `pkg:type/namespace/name`, the subpath,
 * and the qualifiers that name a different package rather than a different build of the same one
 * (IDENTITY_QUALIFIERS). Without a purl it is type, group and name (Trivy's operating-system
 * component has no purl). One identity may be present in several versions at once (two copies of
 * a library in node_modules); identities are compared by their sets of versions.
 *
 * A vulnerability is one id in one package identity, read by report.ts's affectedComponents (so
 * its severity is the one an ImageScan shows, and its fixed version the one Trivy recommends). A
 * vulnerability whose package only changed version but is still affected is unchanged, not fixed
 * and introduced again.
 */
import { affectedComponents, bomComponents, packageName, SEVERITY_RANK, type AffectedComponent, type BomComponent, type Severity } from './report';

/**
 * Qualifiers that tell packages apart (purl spec, "known qualifiers"): libc6:amd64 and libc6:i386
 * are both installed on a multiarch Debian; a Maven classifier or type is another artifact.
 * Left out on purpose: `distro` (Trivy writes the point release, debian-12.2, which changes at
 * every base image update and would turn every package into removed plus added), `epoch` (Trivy
 * writes it into the component's version too), and locations such as repository_url.
 */
const IDENTITY_QUALIFIERS = ['arch', 'classifier', 'type'] as const;

export interface ComponentEntry {
  /** The identity: the purl without its version and build qualifiers, or type:group/name. */
  key: string;
  /** The package as ImageScan findings name it (group:name, @scope/name, name). */
  name: string;
  /** The purl type (deb, npm, ...) or, without a purl, the CycloneDX component type. */
  type: string;
  /** Sorted, each once; empty strings stand for components without a version. */
  versions: string[];
}

export interface ComponentChange {
  key: string;
  name: string;
  type: string;
  /** Every version in A, sorted. */
  from: string[];
  /** Every version in B, sorted. */
  to: string[];
}

export interface VulnerabilityEntry {
  id: string;
  /** The affected package's name, and its identity as in the component lists. */
  package: string;
  key: string;
  severity: Severity;
  /** The installed versions that are affected, sorted. */
  installedVersions: string[];
  /** What to upgrade to, when the SBOM says (several joined by ", "). */
  fixedVersion?: string;
  title?: string;
}

export interface SbomDiff {
  components: { added: ComponentEntry[]; removed: ComponentEntry[]; changed: ComponentChange[]; unchanged: number };
  vulnerabilities: { introduced: VulnerabilityEntry[]; fixed: VulnerabilityEntry[]; unchanged: number };
}

interface Purl {
  type: string;
  /** `pkg:type/namespace/name`, as written (percent-encoding kept). */
  base: string;
  version?: string;
  qualifiers: Map<string, string>;
  subpath?: string;
}

/** Splits a purl (pkg:type/namespace/name@version?qualifiers#subpath), or undefined when it is none. */
export function parsePurl(purl: string): Purl | undefined {
  if (!purl.toLowerCase().startsWith('pkg:')) return undefined;
  let rest = purl.slice(4).replace(/^\/+/, '');
  let subpath: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    subpath = rest.slice(hash + 1).replace(/^\/+|\/+$/g, '') || undefined;
    rest = rest.slice(0, hash);
  }
  const qualifiers = new Map<string, string>();
  const question = rest.indexOf('?');
  if (question >= 0) {
    for (const pair of rest.slice(question + 1).split('&')) {
      const eq = pair.indexOf('=');
      if (eq > 0) qualifiers.set(pair.slice(0, eq).toLowerCase(), pair.slice(eq + 1));
    }
    rest = rest.slice(0, question);
  }
  // The version is after the last '@' of the path; an npm scope's '@' is encoded (%40) in purls.
  const at = rest.lastIndexOf('@');
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const version = at > slash ? rest.slice(at + 1) : undefined;
  const path = (at > slash ? rest.slice(0, at) : rest).replace(/\/+$/, '');
  const type = path.slice(0, slash).toLowerCase();
  return { type, base: `pkg:${type}${path.slice(slash)}`, qualifiers, ...(version ? { version: decode(version) } : {}), ...(subpath ? { subpath } : {}) };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A component's identity and display fields; see the file's comment. */
export function componentIdentity(component: BomComponent): { key: string; type: string; version: string } {
  const purl = component.purl ? parsePurl(component.purl) : undefined;
  if (purl) {
    const qualifiers = IDENTITY_QUALIFIERS.flatMap((name) => {
      const value = purl.qualifiers.get(name);
      return value === undefined ? [] : [`${name}=${value}`];
    });
    const key = `${purl.base}${qualifiers.length > 0 ? `?${qualifiers.join('&')}` : ''}${purl.subpath ? `#${purl.subpath}` : ''}`;
    return { key, type: purl.type, version: component.version ?? purl.version ?? '' };
  }
  const type = component.type ?? 'component';
  return { key: `${type}:${component.group ? `${component.group}/` : ''}${component.name}`, type, version: component.version ?? '' };
}

function componentsByIdentity(components: readonly BomComponent[]): Map<string, ComponentEntry> {
  const byKey = new Map<string, ComponentEntry & { seen: Set<string> }>();
  for (const component of components) {
    const { key, type, version } = componentIdentity(component);
    let entry = byKey.get(key);
    if (!entry) {
      entry = { key, name: packageName(component), type, versions: [], seen: new Set() };
      byKey.set(key, entry);
    }
    entry.seen.add(version);
  }
  return new Map([...byKey].map(([key, { seen, ...entry }]) => [key, { ...entry, versions: sorted(seen) }]));
}

function vulnerabilitiesByKey(doc: Record<string, unknown>, components: readonly BomComponent[]): Map<string, VulnerabilityEntry> {
  const grouped = new Map<string, AffectedComponent[]>();
  for (const affected of affectedComponents(doc, {}, components)) {
    const key = `${affected.id}\u0000${componentIdentity(affected.component).key}`;
    grouped.set(key, [...(grouped.get(key) ?? []), affected]);
  }
  const out = new Map<string, VulnerabilityEntry>();
  for (const [key, list] of grouped) out.set(key, vulnerabilityEntry(list));
  return out;
}

/** One id in one package identity, installed in one version or several. */
function vulnerabilityEntry(list: readonly AffectedComponent[]): VulnerabilityEntry {
  const [first] = list;
  if (!first) throw new Error('internal error: an empty group of findings');
  // One id has one severity in one document; should copies disagree, the worst counts.
  const worst = list.reduce((a, b) => (SEVERITY_RANK[b.severity] > SEVERITY_RANK[a.severity] ? b : a));
  const identity = componentIdentity(first.component);
  const entry: VulnerabilityEntry = {
    id: first.id,
    package: first.package,
    key: identity.key,
    severity: worst.severity,
    installedVersions: sorted(new Set(list.map((a) => a.installedVersion ?? ''))),
  };
  const fixed = [...new Set(list.flatMap((a) => (a.fixedVersion ? [a.fixedVersion] : [])))];
  if (fixed.length > 0) entry.fixedVersion = fixed.join(', ');
  const title = list.find((a) => a.title)?.title;
  if (title) entry.title = title;
  return entry;
}

/**
 * The differences from `a` (before) to `b` (after), each list in a stable order: components by
 * identity, vulnerabilities most severe first, then by id and package. Throws report.ts's
 * ReportError for a vulnerability that affects no component of its document.
 */
export function diffSboms(a: Record<string, unknown>, b: Record<string, unknown>): SbomDiff {
  // Each document's components walked once, for both the component and the vulnerability lists.
  const [componentsA, componentsB] = [bomComponents(a), bomComponents(b)];
  const before = componentsByIdentity(componentsA);
  const after = componentsByIdentity(componentsB);
  const components: SbomDiff['components'] = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const [key, entry] of after) if (!before.has(key)) components.added.push(entry);
  for (const [key, entry] of before) {
    const now = after.get(key);
    if (!now) components.removed.push(entry);
    else if (sameList(entry.versions, now.versions)) components.unchanged++;
    else components.changed.push({ key, name: now.name, type: now.type, from: entry.versions, to: now.versions });
  }
  for (const list of [components.added, components.removed, components.changed]) list.sort((x, y) => compare(x.key, y.key));

  const vulnsBefore = vulnerabilitiesByKey(a, componentsA);
  const vulnsAfter = vulnerabilitiesByKey(b, componentsB);
  const vulnerabilities: SbomDiff['vulnerabilities'] = { introduced: [], fixed: [], unchanged: 0 };
  for (const [key, entry] of vulnsAfter) if (!vulnsBefore.has(key)) vulnerabilities.introduced.push(entry);
  for (const [key, entry] of vulnsBefore) {
    if (vulnsAfter.has(key)) vulnerabilities.unchanged++;
    else vulnerabilities.fixed.push(entry);
  }
  vulnerabilities.introduced.sort(compareVulnerabilities);
  vulnerabilities.fixed.sort(compareVulnerabilities);
  return { components, vulnerabilities };
}

/** The introduced vulnerabilities at or above a severity (what --fail-on counts). */
export function introducedAtOrAbove(diff: SbomDiff, severity: Severity): VulnerabilityEntry[] {
  return diff.vulnerabilities.introduced.filter((v) => SEVERITY_RANK[v.severity] >= SEVERITY_RANK[severity]);
}

function compareVulnerabilities(x: VulnerabilityEntry, y: VulnerabilityEntry): number {
  return SEVERITY_RANK[y.severity] - SEVERITY_RANK[x.severity] || compare(x.id, y.id) || compare(x.key, y.key);
}

const compare = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

function sorted(values: Iterable<string>): string[] {
  return [...values].sort(compare);
}

function sameList(x: readonly string[], y: readonly string[]): boolean {
  return x.length === y.length && x.every((value, i) => value === y[i]);
}
