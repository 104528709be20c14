// Generates Trivy-style CycloneDX 1.6 reports (the shape of pkg/sbom/cyclonedx/marshal.go in
// Trivy: one vulnerability per id with an affects[] entry per package, ratings per vendor and
// CVSS method, the fixed version in `recommendation`, the scanner in metadata.tools.components,
// the image in metadata.component with a pkg:oci purl and RepoDigest property), plus the exact
// counts a correct summary must report. Deterministic for a given seed. Used by the report and
// SBOM-store tests and by benchmarks.
import { createHash } from 'node:crypto';
import { prng } from './manifests';

export type GenSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';

export interface GenerateOptions {
  /** Library components (an OS component is added on top). */
  components: number;
  /** Distinct vulnerability ids. */
  vulnerabilities: number;
  /** Every k-th vulnerability affects two packages instead of one (default 10; 0: never). */
  multiAffectEvery?: number;
  /** Every k-th vulnerability has no fix (default 3). */
  unfixedEvery?: number;
  seed?: number;
  trivyVersion?: string;
  /** Description length; Trivy copies the advisory text, often several hundred characters. */
  descriptionChars?: number;
  /**
   * File hashes on language packages (Trivy writes them from the files' digests), default true.
   * Hashes and varied descriptions make the JSON compress about as badly as real SBOMs do.
   */
  hashes?: boolean;
}

export interface ExpectedFinding {
  id: string;
  package: string;
  installedVersion: string;
  fixedVersion?: string;
  severity: GenSeverity;
  score?: number;
}

export interface GeneratedReport {
  bom: Record<string, unknown>;
  json: string;
  digest: string;
  counts: Record<Lowercase<GenSeverity>, number> & { fixable: number; fixableBySeverity: Record<Lowercase<GenSeverity>, number>; oldestFixablePublished: Partial<Record<Lowercase<GenSeverity>, string>> };
  /** One per (vulnerability id, affected component). */
  findings: ExpectedFinding[];
  componentCount: number;
}

const WORDS = (
  'buffer overflow heap stack use after free integer underflow out of bounds read write null pointer dereference ' +
  'remote local attacker crafted request header cookie certificate parser decoder encoder library function allows ' +
  'denial service arbitrary code execution information disclosure privilege escalation bypass authentication via ' +
  'when processing handling malformed specially packet file archive image font string regular expression memory leak'
).split(' ');

const SEVERITIES: GenSeverity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];

const hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export function generateTrivyReport(options: GenerateOptions): GeneratedReport {
  const rand = prng(options.seed ?? 42);
  const multiEvery = options.multiAffectEvery ?? 10;
  const unfixedEvery = options.unfixedEvery ?? 3;
  const descriptionChars = options.descriptionChars ?? 400;
  const withHashes = options.hashes ?? true;
  const digest = `sha256:${hex(`image-${options.seed ?? 42}`)}`;
  const layer = `sha256:${hex('layer')}`;

  const components: Record<string, unknown>[] = [
    {
      'bom-ref': '3ff14136-e09f-4df9-80ea-000000000002',
      type: 'operating-system',
      name: 'debian',
      version: '12.8',
      properties: [
        { name: 'aquasecurity:trivy:Class', value: 'os-pkgs' },
        { name: 'aquasecurity:trivy:Type', value: 'debian' },
      ],
    },
  ];
  const packages: { ref: string; name: string; version: string; group?: string }[] = [];
  for (let i = 0; i < options.components; i++) {
    const kind = i % 3;
    if (kind === 0) {
      const name = `libpkg${i}`;
      const version = `${1 + (i % 7)}.${i % 13}.${i % 5}-${1 + (i % 3)}+deb12u1`;
      const purl = `pkg:deb/debian/${name}@${version}?arch=amd64&distro=debian-12.8`;
      packages.push({ ref: purl, name, version });
      components.push({
        'bom-ref': purl,
        type: 'library',
        supplier: { name: 'Debian Maintainers <debian-devel@lists.debian.org>' },
        name,
        version,
        licenses: [{ license: { id: 'GPL-2.0-only' } }],
        purl,
        properties: [
          { name: 'aquasecurity:trivy:LayerDiffID', value: layer },
          { name: 'aquasecurity:trivy:PkgID', value: `${name}@${version}` },
          { name: 'aquasecurity:trivy:PkgType', value: 'debian' },
          { name: 'aquasecurity:trivy:SrcName', value: name },
          { name: 'aquasecurity:trivy:SrcVersion', value: version },
        ],
      });
    } else if (kind === 1) {
      const name = `node-module-${i}`;
      const version = `${i % 9}.${i % 17}.${i % 4}`;
      const purl = `pkg:npm/${name}@${version}`;
      packages.push({ ref: purl, name, version });
      components.push({
        'bom-ref': purl,
        type: 'library',
        name,
        version,
        ...(withHashes ? { hashes: [{ alg: 'SHA-1', content: hex(`sha1-${i}-${rand()}`).slice(0, 40) }, { alg: 'SHA-256', content: hex(`sha256-${i}-${rand()}`) }] } : {}),
        licenses: [{ license: { id: 'MIT' } }],
        purl,
        properties: [
          { name: 'aquasecurity:trivy:FilePath', value: `app/node_modules/${name}/package.json` },
          { name: 'aquasecurity:trivy:PkgID', value: `${name}@${version}` },
          { name: 'aquasecurity:trivy:PkgType', value: 'node-pkg' },
        ],
      });
    } else {
      const group = `org.example${i % 11}`;
      const name = `artifact-${i}`;
      const version = `${i % 5}.${i % 10}.${i % 3}`;
      const purl = `pkg:maven/${group}/${name}@${version}`;
      packages.push({ ref: purl, name, version, group });
      components.push({
        'bom-ref': purl,
        type: 'library',
        group,
        name,
        version,
        ...(withHashes ? { hashes: [{ alg: 'SHA-1', content: hex(`sha1-${i}-${rand()}`).slice(0, 40) }] } : {}),
        purl,
        properties: [
          { name: 'aquasecurity:trivy:FilePath', value: `app/lib/${name}-${version}.jar` },
          { name: 'aquasecurity:trivy:PkgID', value: `${group}:${name}:${version}` },
          { name: 'aquasecurity:trivy:PkgType', value: 'jar' },
        ],
      });
    }
  }

  const fixableBySeverity = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  // When the oldest fixable advisory of each severity was published (absent when none is fixable).
  const oldestFixablePublished: Partial<Record<Lowercase<GenSeverity>, string>> = {};
  const counts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0, fixableBySeverity, oldestFixablePublished };
  const findings: ExpectedFinding[] = [];
  const vulnerabilities: Record<string, unknown>[] = [];
  const lorem = 'A flaw was found in the parser that allows a remote attacker to cause a denial of service or possibly execute arbitrary code via a crafted input. ';
  for (let v = 0; v < options.vulnerabilities; v++) {
    const id = v % 7 === 6 ? `GHSA-${(1000 + v).toString(36)}-abcd-efgh` : `CVE-20${20 + (v % 6)}-${10000 + v}`;
    const severity = SEVERITIES[Math.floor(rand() * SEVERITIES.length)] ?? 'UNKNOWN';
    const score = severity === 'UNKNOWN' ? undefined : Math.round((({ CRITICAL: 9, HIGH: 7, MEDIUM: 4, LOW: 0.1 } as const)[severity] + rand() * 0.9) * 10) / 10;
    const count = multiEvery > 0 && v % multiEvery === 0 ? 2 : 1;
    const affected = Array.from({ length: count }, (_, k) => packages[(v * 7 + k * 13) % packages.length]).filter((p): p is NonNullable<typeof p> => p !== undefined);
    const fixed = unfixedEvery > 0 && v % unfixedEvery === 0 ? undefined : `${v % 9 + 1}.99.0`;
    const source = id.startsWith('GHSA-') ? 'ghsa' : v % 2 === 0 ? 'debian' : 'nvd';
    // Trivy: vendor rating (the data source's judgement) plus NVD's CVSS ratings; NVD may
    // disagree with the vendor, and the vendor wins.
    const ratings: Record<string, unknown>[] = [];
    if (severity !== 'UNKNOWN') {
      ratings.push({ source: { name: source }, severity: severity.toLowerCase() });
      if (source !== 'nvd') ratings.push({ source: { name: 'nvd' }, score: 2.0, method: 'CVSSv2', severity: 'low', vector: 'AV:N/AC:L/Au:N/C:N/I:N/A:P' });
      ratings.push({
        source: { name: source === 'nvd' ? 'nvd' : 'redhat' },
        score,
        method: 'CVSSv31',
        severity: source === 'nvd' ? severity.toLowerCase() : 'critical',
        vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      });
      if (source !== 'nvd') ratings.push({ source: { name: 'nvd' }, score, method: 'CVSSv31', severity: severity.toLowerCase(), vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' });
    }
    let text = '';
    while (text.length < descriptionChars) text += `${WORDS[Math.floor(rand() * WORDS.length)] ?? 'flaw'} `;
    const description = `${lorem.slice(0, 60)}${text}`.slice(0, descriptionChars).trim() + ` (${id})`;
    const vuln: Record<string, unknown> = {
      id,
      source: { name: source, url: source === 'ghsa' ? 'https://github.com/advisories' : 'https://security-tracker.debian.org/tracker/' },
      ratings,
      cwes: [79, 787],
      description,
      advisories: [{ url: `https://avd.aquasec.com/nvd/${id.toLowerCase()}` }],
      // Spread over two years, so the oldest fixable advisory differs by severity.
      published: publishedOf(v),
      updated: '2024-06-01T12:00:00+00:00',
      affects: affected.map((p) => ({ ref: p.ref, versions: [{ version: p.version, status: 'affected' }] })),
    };
    if (fixed) {
      const pkgName = (p: (typeof affected)[number]): string => (p.group ? `${p.group}:${p.name}` : p.name);
      vuln.recommendation = [...new Set(affected.map((p) => `Upgrade ${pkgName(p)} to version ${fixed}`))].sort().join('; ');
    }
    vulnerabilities.push(vuln);
    const seen = new Set<string>();
    for (const p of affected) {
      if (seen.has(p.ref)) continue;
      seen.add(p.ref);
      const level = severity.toLowerCase() as Lowercase<GenSeverity>;
      counts[level]++;
      if (fixed) {
        counts.fixable++;
        fixableBySeverity[level]++;
        const published = new Date(publishedOf(v)).toISOString();
        if (!oldestFixablePublished[level] || published < (oldestFixablePublished[level] ?? '')) oldestFixablePublished[level] = published;
      }
      const finding: ExpectedFinding = { id, package: p.group ? `${p.group}:${p.name}` : p.name, installedVersion: p.version, severity };
      if (fixed) finding.fixedVersion = fixed;
      if (score !== undefined) finding.score = score;
      findings.push(finding);
    }
  }
  vulnerabilities.sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1));

  const bom: Record<string, unknown> = {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${hex('serial').slice(0, 8)}-${hex('serial').slice(8, 12)}-4${hex('serial').slice(13, 16)}-8${hex('serial').slice(17, 20)}-${hex('serial').slice(20, 32)}`,
    version: 1,
    metadata: {
      timestamp: '2025-11-20T10:00:00+00:00',
      tools: {
        components: [
          { type: 'application', manufacturer: { name: 'Aqua Security Software Ltd.' }, group: 'aquasecurity', name: 'trivy', version: options.trivyVersion ?? '0.67.2' },
        ],
      },
      component: {
        'bom-ref': 'pkg:oci/app@' + encodeURIComponent(digest) + '?arch=amd64&repository_url=registry.local%2Fteam%2Fapp',
        type: 'container',
        name: 'registry.local/team/app:1.0',
        purl: 'pkg:oci/app@' + encodeURIComponent(digest) + '?arch=amd64&repository_url=registry.local%2Fteam%2Fapp',
        properties: [
          { name: 'aquasecurity:trivy:DiffID', value: layer },
          { name: 'aquasecurity:trivy:ImageID', value: `sha256:${hex('config')}` },
          { name: 'aquasecurity:trivy:RepoDigest', value: `registry.local/team/app@${digest}` },
          { name: 'aquasecurity:trivy:RepoTag', value: 'registry.local/team/app:1.0' },
          { name: 'aquasecurity:trivy:SchemaVersion', value: '2' },
        ],
      },
    },
    components,
    dependencies: [
      { ref: (components[0] as { 'bom-ref': string })['bom-ref'], dependsOn: packages.filter((_, i) => i % 3 === 0).map((p) => p.ref) },
    ],
    vulnerabilities,
  };
  return { bom, json: JSON.stringify(bom, null, 2), digest, counts, findings, componentCount: components.length };
}

const RANK: Record<GenSeverity, number> = { CRITICAL: 4, HIGH: 3, MEDIUM: 2, LOW: 1, UNKNOWN: 0 };

/** The expected top-N order: severity, then highest score, then id (then package, version). */
export function expectedTop(findings: ExpectedFinding[], n = 20): ExpectedFinding[] {
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...findings]
    .sort((a, b) => RANK[b.severity] - RANK[a.severity] || (b.score ?? -1) - (a.score ?? -1) || cmp(a.id, b.id) || cmp(a.package, b.package) || cmp(a.installedVersion, b.installedVersion))
    .slice(0, n);
}

/** Publication date of generated vulnerability v, in Trivy's format: one day apart, over 730 days from 2023-01-01. */
function publishedOf(v: number): string {
  return `${new Date(Date.UTC(2023, 0, 1) + ((v * 37) % 730) * 86_400_000).toISOString().slice(0, 10)}T12:00:00+00:00`;
}
