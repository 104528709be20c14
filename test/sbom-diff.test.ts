// `securestack sbom diff` without a cluster: the compiled command run as a child process over the
// Trivy-shaped CycloneDX 1.6 fixtures in test/fixtures/sbom (app-v1 → app-v2: Debian 12.2 → 12.5
// with openssl, libc6:amd64, lodash and minimist upgraded, curl removed, express and a Go binary
// added), golden table, JSON and CSV, each change kind both ways, --fail-on at its edges, exit 2
// for inputs that cannot be used, CSV formula neutralising; and the pure diff on small documents.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { kubeContext } from '../operator/cli/cluster';
import { parseFlags } from '../operator/cli/command';
import { sbomDiffCommand } from '../operator/cli/commands/sbom-diff';
import { componentIdentity, diffSboms, parsePurl, type SbomDiff } from '../operator/features/scan/sbom-diff';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'operator', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'securestack-sbom-diff-'));
const fixtures = 'test/fixtures/sbom';
const v1 = `${fixtures}/app-v1.cdx.json`;
const v2 = `${fixtures}/app-v2.cdx.json`;
const golden = (name: string): string => readFileSync(path.join(root, fixtures, 'golden', name), 'utf8');

function run(args: readonly string[], input?: string | Buffer): { code: number; stdout: string; stderr: string } {
  // Relative fixture paths from the repository root, so the goldens name them the same everywhere.
  const result = spawnSync(process.execPath, [cli, 'sbom', 'diff', ...args], { cwd: root, encoding: 'utf8', input, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

interface DiffJson extends SbomDiff {
  summary: { components: Record<string, number>; vulnerabilities: Record<string, number>; failOn: string | null; failing: number };
}

function json(args: readonly string[]): DiffJson {
  const result = run([...args, '-o', 'json']);
  assert.ok(result.code === 0 || result.code === 1, result.stderr);
  return JSON.parse(result.stdout) as DiffJson;
}

const pairs = (list: ReadonlyArray<{ id: string; key: string }>): string[] => list.map((v) => `${v.id} ${v.key}`).sort();

function write(name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

const minimalBom = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1, ...extra });

after(() => rmSync(dir, { recursive: true, force: true }));

describe('securestack sbom diff', () => {
  it('prints the golden table, JSON and CSV for app-v1 → app-v2', () => {
    const table = run([v1, v2]);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout, golden('app-v1-v2.table.txt'));
    const asJson = run([v1, v2, '-o', 'json', '--fail-on', 'high']);
    assert.equal(asJson.code, 1, asJson.stderr);
    assert.equal(asJson.stdout, golden('app-v1-v2.json'));
    const csv = run([v1, v2, '-o', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csv.stdout, golden('app-v1-v2.csv'));
  });

  it('finds each kind of change, and the swap B → A turns added into removed and introduced into fixed', () => {
    const forward = json([v1, v2]);
    const backward = json([v2, v1]);
    assert.deepEqual(forward.components.added.map((c) => c.name), ['usr/local/bin/server', 'golang.org/x/net', 'express']);
    assert.deepEqual(forward.components.removed.map((c) => c.name), ['curl']);
    assert.deepEqual(backward.components.removed, forward.components.added);
    assert.deepEqual(backward.components.added, forward.components.removed);
    assert.deepEqual(
      backward.components.changed,
      forward.components.changed.map(({ from, to, ...rest }) => ({ ...rest, from: to, to: from })),
    );
    assert.deepEqual(pairs(forward.vulnerabilities.introduced), ['CVE-2024-0727 pkg:deb/debian/libssl3?arch=amd64', 'CVE-2024-0727 pkg:deb/debian/openssl?arch=amd64', 'CVE-2024-2511 pkg:deb/debian/openssl?arch=amd64', 'CVE-2024-29041 pkg:npm/express', 'GHSA-4374-p667-p6c8 pkg:golang/golang.org/x/net']);
    assert.deepEqual(pairs(forward.vulnerabilities.fixed), ['CVE-2021-23337 pkg:npm/lodash', 'CVE-2023-38545 pkg:deb/debian/curl?arch=amd64', 'CVE-2023-5363 pkg:deb/debian/libssl3?arch=amd64', 'CVE-2023-5363 pkg:deb/debian/openssl?arch=amd64']);
    assert.deepEqual(pairs(backward.vulnerabilities.introduced), pairs(forward.vulnerabilities.fixed));
    assert.deepEqual(pairs(backward.vulnerabilities.fixed), pairs(forward.vulnerabilities.introduced));
    assert.equal(backward.summary.components.unchanged, forward.summary.components.unchanged);
    assert.equal(backward.summary.vulnerabilities.unchanged, forward.summary.vulnerabilities.unchanged);
    // A fixed vulnerability keeps what A said about it: severity, installed and fixed versions.
    const curl = forward.vulnerabilities.fixed.find((v) => v.id === 'CVE-2023-38545');
    assert.deepEqual(curl, { id: 'CVE-2023-38545', package: 'curl', key: 'pkg:deb/debian/curl?arch=amd64', severity: 'HIGH', installedVersions: ['7.88.1-10+deb12u4'], fixedVersion: '7.88.1-10+deb12u5', title: 'curl: heap based buffer overflow in the SOCKS5 proxy handshake' });
  });

  it('detects version changes by identity: distro point release ignored, arch kept apart, the OS component without purl, the epoch in the version', () => {
    const { components, summary } = json([v1, v2]);
    const changed = new Map(components.changed.map((c) => [c.key, [c.from, c.to]]));
    // distro=debian-12.2 → debian-12.5 in every purl: still the same packages, upgraded.
    assert.deepEqual(changed.get('pkg:deb/debian/libssl3?arch=amd64'), [['3.0.11-1~deb12u1'], ['3.0.11-1~deb12u2']]);
    assert.deepEqual(changed.get('operating-system:debian'), [['12.2'], ['12.5']]);
    // libc6:amd64 upgraded, libc6:i386 not: two packages.
    assert.deepEqual(changed.get('pkg:deb/debian/libc6?arch=amd64'), [['2.36-9+deb12u3'], ['2.36-9+deb12u4']]);
    assert.equal(changed.has('pkg:deb/debian/libc6?arch=i386'), false);
    // Unchanged: libc6:i386, tzdata, zlib1g (1:1.2.13.dfsg-1, epoch in the purl's qualifiers), @babel/traverse, the npm application.
    assert.equal(summary.components.unchanged, 5);
    assert.equal([...components.added, ...components.removed].some((c) => c.key.includes('zlib1g') || c.key.includes('libc6')), false);
  });

  it('compares a package present in several versions by its set of versions', () => {
    const { components, vulnerabilities } = json([v1, v2]);
    assert.deepEqual(components.changed.find((c) => c.name === 'minimist'), { key: 'pkg:npm/minimist', name: 'minimist', type: 'npm', from: ['0.0.8', '1.2.5'], to: ['1.2.5', '1.2.8'] });
    // CVE-2021-44906 still affects minimist 1.2.5 in B: neither fixed nor introduced.
    assert.equal([...vulnerabilities.introduced, ...vulnerabilities.fixed].some((v) => v.id === 'CVE-2021-44906'), false);

    const lib = (ref: string, version: string, purl = `pkg:npm/lodash@${version}`): Record<string, unknown> => ({ 'bom-ref': ref, type: 'library', name: 'lodash', version, purl });
    const cve = (refs: string[]): Record<string, unknown> => ({ id: 'CVE-2021-23337', ratings: [{ source: { name: 'ghsa' }, severity: 'high' }], affects: refs.map((ref) => ({ ref })) });
    // Two copies of one version count once: unchanged against a single copy.
    const twice = diffSboms(minimalBom({ components: [lib('a', '4.17.20'), lib('b', '4.17.20')], vulnerabilities: [cve(['a', 'b'])] }), minimalBom({ components: [lib('c', '4.17.20')], vulnerabilities: [cve(['c'])] }));
    assert.deepEqual(twice, { components: { added: [], removed: [], changed: [], unchanged: 1 }, vulnerabilities: { introduced: [], fixed: [], unchanged: 1 } });
    // A second version appearing beside the first is a change of the set; the vulnerability in both versions is one.
    const more = diffSboms(minimalBom({ components: [lib('a', '4.17.20')] }), minimalBom({ components: [lib('a', '4.17.20'), lib('b', '4.17.19')], vulnerabilities: [cve(['a', 'b'])] }));
    assert.deepEqual(more.components.changed, [{ key: 'pkg:npm/lodash', name: 'lodash', type: 'npm', from: ['4.17.20'], to: ['4.17.19', '4.17.20'] }]);
    assert.deepEqual(more.vulnerabilities.introduced, [{ id: 'CVE-2021-23337', package: 'lodash', key: 'pkg:npm/lodash', severity: 'HIGH', installedVersions: ['4.17.19', '4.17.20'] }]);
  });

  it('takes the severity Trivy gives (report.ts), not the highest rating', () => {
    const { vulnerabilities } = json([v1, v2]);
    // GHSA id: GHSA's "high" wins over NVD's "critical"; curl: the Debian source's "high" over NVD's "critical".
    assert.equal(vulnerabilities.introduced.find((v) => v.id === 'GHSA-4374-p667-p6c8')?.severity, 'HIGH');
    assert.equal(vulnerabilities.fixed.find((v) => v.id === 'CVE-2023-38545')?.severity, 'HIGH');
  });

  it('--fail-on: exit 1 at exactly the worst introduced severity, 0 one above it, both ways', () => {
    // A → B: the worst introduced is HIGH (GHSA-4374-p667-p6c8).
    assert.equal(run([v1, v2, '--fail-on', 'high']).code, 1);
    assert.equal(run([v1, v2, '--fail-on', 'HIGH']).code, 1, 'any case');
    assert.equal(run([v1, v2, '--fail-on', 'medium']).code, 1);
    const critical = run([v1, v2, '--fail-on', 'critical']);
    assert.equal(critical.code, 0);
    assert.match(critical.stdout, /\nNone introduced at or above CRITICAL: the run passes\.\n$/);
    assert.equal(run([v1, v2]).code, 0, 'no --fail-on: never 1');
    // B → A: the four HIGH ones come back.
    const back = run([v2, v1, '--fail-on', 'high']);
    assert.equal(back.code, 1);
    assert.match(back.stdout, /\n4 introduced at or above HIGH: the run fails\.\n$/);
    assert.equal(run([v2, v1, '--fail-on', 'critical']).code, 0);
    // A LOW one: fails at low, passes at medium.
    const empty = write('empty.cdx.json', JSON.stringify(minimalBom({ components: [] })));
    assert.equal(run([empty, `${fixtures}/formula.cdx.json`, '--fail-on', 'low']).code, 1);
    assert.equal(run([empty, `${fixtures}/formula.cdx.json`, '--fail-on', 'medium']).code, 0);
  });

  it('neutralises spreadsheet formulas and quotes cells in CSV', () => {
    const empty = write('empty2.cdx.json', JSON.stringify(minimalBom({ components: [] })));
    const csv = run([empty, `${fixtures}/formula.cdx.json`, '-o', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.split('\r\n');
    assert.equal(rows[1], "added,component,,,'=cmd,npm,pkg:npm/%3Dcmd,,1.0.0,,");
    assert.equal(rows[2], `introduced,vulnerability,LOW,CVE-2099-0001,'=cmd,,pkg:npm/%3Dcmd,,1.0.0,'+1.0.1,"'@SUM(1+1) made-up advisory, ""quoted"", with a comma"`);
    assert.equal(rows[3], '');
    assert.equal(rows.length, 4);
  });

  it('reads gzip (by its bytes, whatever the name) and stdin', () => {
    const expected = json([v1, v2]);
    const gz = write('v1.cdx.json.gz', gzipSync(readFileSync(path.join(root, v1))));
    const unnamed = write('v2-gzip-without-suffix', gzipSync(readFileSync(path.join(root, v2))));
    const fromGzip = JSON.parse(run([gz, unnamed, '-o', 'json']).stdout) as DiffJson;
    assert.deepEqual({ ...fromGzip, a: undefined, b: undefined }, { ...expected, a: undefined, b: undefined });
    const fromStdin = run(['-', v2, '-o', 'json'], readFileSync(path.join(root, v1)));
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.deepEqual((JSON.parse(fromStdin.stdout) as { a: unknown }).a, { source: 'stdin', image: 'registry.example/team/app:1.0' });
  });

  it('exits 2 naming the input and what is wrong', () => {
    const cases: Array<[string[], RegExp, string?]> = [
      [[v1, 'missing.cdx.json'], /^securestack: missing\.cdx\.json: no such file\n$/],
      [[v1, write('notjson.json', '{"bomFormat": ')], /notjson\.json: not a usable CycloneDX JSON document: not JSON: /],
      [[write('spdx.json', '{"spdxVersion": "SPDX-2.3"}'), v1], /spdx\.json: not a usable CycloneDX JSON document: not CycloneDX 1\.2 or 1\.3 or 1\.4 or 1\.5 or 1\.6 or 1\.7: bomFormat is missing, expected "CycloneDX"/],
      [[v1, write('schema.json', JSON.stringify(minimalBom({ components: [{ name: 'no-type' }] })))], /schema\.json: not a usable CycloneDX JSON document: not CycloneDX 1\.6: 1 schema error\(s\): \/components\/0 must have required property 'type'/],
      [[v1, write('dangling.json', JSON.stringify(minimalBom({ components: [], vulnerabilities: [{ id: 'CVE-1', affects: [{ ref: 'gone' }] }] })))], /dangling\.json: .*vulnerability CVE-1 affects gone, which is not a component of this BOM/],
      [[v1, write('broken.gz', gzipSync('{}').subarray(0, 8))], /broken\.gz: not a usable CycloneDX JSON document: not a gzip stream/],
      [[v1, dir], /: not a file\n$/],
      [[v1], /expected two SBOMs, A and B .*; got 1\nSee 'securestack sbom diff --help' for usage\./],
      [['-', '-'], /only one of the SBOMs can be - \(stdin\)/],
      [[v1, v2, '--fail-on', 'unknown'], /--fail-on unknown: expected one of critical, high, medium, low/],
      [[v1, v2, '-o', 'xml'], /--output xml: expected one of table, json, csv/],
      [['imagescan/app', v1, '--kubeconfig', path.join(dir, 'no-kubeconfig')], /^securestack: /],
    ];
    for (const [args, message] of cases) {
      const result = run(args, '');
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stdout, '', 'nothing on stdout');
    }
  });

  it('refuses absurd sizes before running out of memory: a 201 MiB file, and a gzip bomb', () => {
    const huge = write('huge.json', '');
    truncateSync(huge, 201 * 1024 * 1024); // sparse: nothing is written
    const big = run([v1, huge]);
    assert.equal(big.code, 2);
    assert.match(big.stderr, /huge\.json: 210763776 bytes, more than the 209715200-byte limit for an SBOM/);
    const bomb = write('bomb.json.gz', gzipSync(Buffer.alloc(201 * 1024 * 1024, 0x20), { level: 1 }));
    const inflated = run([bomb, v1]);
    assert.equal(inflated.code, 2);
    assert.match(inflated.stderr, /bomb\.json\.gz: more than 209715200 bytes once decompressed, the limit for an SBOM/);
  });

  it('is listed under `securestack sbom`, has help, and completes its flags', () => {
    const group = spawnSync(process.execPath, [cli, 'sbom', '--help'], { encoding: 'utf8' });
    assert.equal(group.status, 0);
    assert.match(group.stdout, /\n {2}diff {2}Compare two CycloneDX SBOMs/);
    const help = run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Compare two CycloneDX SBOMs/);
    assert.match(help.stdout, /\n {4}--fail-on='':\n/);
    assert.match(help.stdout, /\nUsage:\n {2}securestack sbom diff A B \[options\]\n/);
    const complete = spawnSync(process.execPath, [cli, '__complete', 'sbom', 'diff', '--fail-on', ''], { encoding: 'utf8' });
    assert.equal(complete.stdout, 'critical\nhigh\nmedium\nlow\n:nofiles\n');
  });
});

describe('sbom diff identities', () => {
  it('splits purls: npm scopes, versions after the last @, qualifiers and subpaths', () => {
    assert.deepEqual(parsePurl('pkg:npm/%40babel/traverse@7.23.0?foo=bar#lib/x'), { type: 'npm', base: 'pkg:npm/%40babel/traverse', version: '7.23.0', qualifiers: new Map([['foo', 'bar']]), subpath: 'lib/x' });
    assert.equal(parsePurl('not-a-purl'), undefined);
    assert.deepEqual(componentIdentity({ name: 'zlib1g', version: '1:1.2.13.dfsg-1', purl: 'pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12.2&epoch=1' }), { key: 'pkg:deb/debian/zlib1g?arch=amd64', type: 'deb', version: '1:1.2.13.dfsg-1' });
    assert.deepEqual(componentIdentity({ name: 'guava', group: 'com.google.guava', purl: 'pkg:maven/com.google.guava/guava@32.0.0-jre?classifier=sources&type=jar' }), { key: 'pkg:maven/com.google.guava/guava?classifier=sources&type=jar', type: 'maven', version: '32.0.0-jre' });
    assert.deepEqual(componentIdentity({ type: 'operating-system', name: 'alpine', version: '3.19.0' }), { key: 'operating-system:alpine', type: 'operating-system', version: '3.19.0' });
  });

  it('reads the namespace of imagescan/NAME from the kube context, as kubectl', () => {
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncurrent-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c, user: u, namespace: team-a}\n- name: prod\n  context: {cluster: c, user: u}\n');
    const parsed = (args: string[]): ReturnType<typeof parseFlags> => parseFlags(sbomDiffCommand, args);
    assert.equal(kubeContext(parsed(['--kubeconfig', kubeconfig]), {}).namespace, 'team-a');
    assert.equal(kubeContext(parsed(['--kubeconfig', kubeconfig, '--context', 'prod']), {}).namespace, 'default');
    assert.equal(kubeContext(parsed([]), { KUBECONFIG: kubeconfig }).namespace, 'team-a');
    assert.equal(kubeContext(parsed([]), { HOME: dir }).namespace, 'default');
  });
});
