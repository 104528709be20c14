// The real Trivy (built by test/env/build.sh, $TRIVY) against the vulnerability DB fixture
// (test/env/build-trivydb.sh) finds exactly the findings of test/fixtures/scan/expected.json in
// three small root filesystems written here (Debian 12 dpkg status, Alpine 3.19 apk database,
// npm packages), fully offline:
//   - client/server mode against the Trivy server start.sh runs (<run dir>/trivy-server-url),
//   - `trivy image --input` of an OCI layout built here,
//   - `trivy image` of the fixture images test/env/images.sh pushed to the loopback registry,
//   - standalone mode with the fixture DB in a private cache dir (--skip-db-update --offline-scan),
//   - `trivy fs` of the package-lock.json alone (image and rootfs scans ignore lock files).
// Without trivy or the server the tests fail and say how to get them; they never skip.

import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { repoRoot } from './support/cluster';

type Ecosystem = 'debian' | 'alpine' | 'npm';
const ECOSYSTEMS: readonly Ecosystem[] = ['debian', 'alpine', 'npm'];

interface ExpectedFinding {
  id: string;
  package: string;
  installedVersion: string;
  fixedVersion?: string;
  severity: string;
  score: number;
  title: string;
  /** The advisory's publication date, as the operator stores it (toISOString). */
  published: string;
}

interface CdxComponent {
  'bom-ref'?: string;
  type?: string;
  name?: string;
  version?: string;
  purl?: string;
}

interface CdxRating {
  source?: { name?: string };
  score?: number;
  severity?: string;
  method?: string;
}

interface CdxVulnerability {
  id?: string;
  description?: string;
  published?: string;
  recommendation?: string;
  ratings?: CdxRating[];
  affects?: { ref?: string; versions?: { version?: string; status?: string }[] }[];
}

interface CdxBom {
  bomFormat?: string;
  specVersion?: string;
  metadata?: { tools?: { components?: CdxComponent[] } };
  components?: CdxComponent[];
  vulnerabilities?: CdxVulnerability[];
}

const root = repoRoot();
const runDir = process.env.SECURESTACK_RUN_DIR || path.join(root, '.testenv', 'run');
const expected = JSON.parse(
  readFileSync(path.join(root, 'test', 'fixtures', 'scan', 'expected.json'), 'utf8'),
) as Record<Ecosystem, ExpectedFinding[]>;

// Trivy v0.74.0 writes CycloneDX 1.7 (cyclonedx-go v0.11.0 defaults to the newest spec) and has no
// flag to choose another; Trivy <= 0.67 wrote 1.6. Its documents use nothing 1.7-specific, so the
// same document relabelled as 1.6 is valid CycloneDX 1.6 too: both are checked below.
const TRIVY_SPEC_VERSION = Spec.Version.v1dot7;

const HOW_TO =
  'run the tests with `bash test/run.sh` (it builds trivy with test/env/build.sh, exports TRIVY and ' +
  'starts the Trivy server with the control plane), or by hand: ' +
  'export TRIVY=$(bash test/env/build.sh | tail -n1)/trivy; bash test/env/start.sh';

function trivyBinary(): string {
  const bin = process.env.TRIVY;
  if (!bin) throw new Error(`TRIVY is not set: ${HOW_TO}`);
  if (!existsSync(bin)) throw new Error(`TRIVY=${bin} does not exist: ${HOW_TO}`);
  return bin;
}

async function serverUrl(): Promise<string> {
  const file = path.join(runDir, 'trivy-server-url');
  if (!existsSync(file)) throw new Error(`the Trivy server is not running (${file} is missing): ${HOW_TO}`);
  const url = readFileSync(file, 'utf8').trim();
  let status = 'no answer';
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    status = `HTTP ${res.status}`;
    if (res.ok) return url;
  } catch (err) {
    status = err instanceof Error ? err.message : String(err);
  }
  throw new Error(`the Trivy server at ${url} is not healthy (${status}); see ${runDir}/logs/trivy-server.log: ${HOW_TO}`);
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs trivy offline: no proxy, no version check, a private home so no user config leaks in. */
function trivy(args: string[], home: string, timeoutMs = 240_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      TMPDIR: process.env.TMPDIR || tmpdir(),
      // Anything that would try the internet fails at once instead of waiting.
      HTTPS_PROXY: 'http://127.0.0.1:9',
      HTTP_PROXY: 'http://127.0.0.1:9',
      NO_PROXY: '127.0.0.1,localhost',
    };
    const child = spawn(trivyBinary(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const COMMON = ['--format', 'cyclonedx', '--scanners', 'vuln', '--quiet', '--skip-version-check', '--disable-telemetry'];

async function scan(args: string[], home: string): Promise<CdxBom> {
  const res = await trivy(args, home);
  assert.equal(res.code, 0, `trivy ${args.join(' ')} exited with ${res.code}:\n${res.stderr}`);
  const bom = JSON.parse(res.stdout) as CdxBom;
  for (const version of [TRIVY_SPEC_VERSION, Spec.Version.v1dot6]) {
    const relabelled = JSON.stringify({ ...bom, specVersion: version, $schema: undefined });
    const errors: unknown = await new Validation.JsonStrictValidator(version).validate(relabelled);
    assert.equal(errors, null, `trivy ${args.join(' ')}: not valid CycloneDX ${version}: ${JSON.stringify(errors)}`);
  }
  return bom;
}

// ---------------------------------------------------------------------------------------------
// fixture filesystems (the formats dpkg, apk and npm write)

function write(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

function debianRootfs(dir: string): void {
  write(
    path.join(dir, 'etc/os-release'),
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n' +
      'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
  );
  write(path.join(dir, 'etc/debian_version'), '12.2\n');
  const stanza = (fields: [string, string][]): string => fields.map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
  const pkg = (name: string, source: string | undefined, version: string, desc: string): string =>
    stanza([
      ['Package', name],
      ['Status', 'install ok installed'],
      ['Priority', 'optional'],
      ['Section', 'libs'],
      ['Installed-Size', '1024'],
      ['Maintainer', 'Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>'],
      ['Architecture', 'amd64'],
      ...(source ? ([['Source', source]] as [string, string][]) : []),
      ['Version', version],
      ['Description', desc],
    ]);
  write(
    path.join(dir, 'var/lib/dpkg/status'),
    [
      pkg('libssl3', 'openssl', '3.0.11-1~deb12u1', 'Secure Sockets Layer toolkit - shared libraries'),
      pkg('openssl', undefined, '3.0.11-1~deb12u1', 'Secure Sockets Layer toolkit - cryptographic utility'),
      pkg('zlib1g', 'zlib', '1:1.2.13.dfsg-1', 'compression library - runtime'),
    ].join('\n'),
  );
}

function alpineRootfs(dir: string): void {
  write(path.join(dir, 'etc/alpine-release'), '3.19.0\n');
  write(
    path.join(dir, 'etc/os-release'),
    'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.0\nPRETTY_NAME="Alpine Linux v3.19"\n',
  );
  const pkg = (name: string, version: string, desc: string, license: string, files: string[]): string =>
    [
      `C:Q1${createHash('sha1').update(`${name}-${version}`).digest('base64')}`,
      `P:${name}`,
      `V:${version}`,
      'A:x86_64',
      'S:400000',
      'I:800000',
      `T:${desc}`,
      `L:${license}`,
      `o:${name}`,
      'm:Natanael Copa <ncopa@alpinelinux.org>',
      't:1700000000',
      ...files.flatMap((f) => [`F:${path.dirname(f)}`, `R:${path.basename(f)}`]),
    ].join('\n') + '\n';
  write(
    path.join(dir, 'lib/apk/db/installed'),
    [
      pkg('musl', '1.2.4-r1', 'the musl c library (libc) implementation', 'MIT', ['lib/ld-musl-x86_64.so.1']),
      pkg('busybox', '1.36.1-r2', 'Size optimized toolbox of many common UNIX utilities', 'GPL-2.0-only', ['bin/busybox']),
    ].join('\n'),
  );
}

function npmRootfs(dir: string): void {
  const app = path.join(dir, 'app');
  write(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'fixture-app', version: '1.0.0', dependencies: { lodash: '4.17.20', minimist: '1.2.5' } }, null, 2),
  );
  write(
    path.join(app, 'package-lock.json'),
    JSON.stringify(
      {
        name: 'fixture-app',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'fixture-app', version: '1.0.0', dependencies: { lodash: '4.17.20', minimist: '1.2.5' } },
          'node_modules/lodash': {
            version: '4.17.20',
            resolved: 'https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz',
            integrity: 'sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==',
            license: 'MIT',
          },
          'node_modules/minimist': {
            version: '1.2.5',
            resolved: 'https://registry.npmjs.org/minimist/-/minimist-1.2.5.tgz',
            integrity: 'sha512-FM9nNUYrRBAELZQT3xeZQ7fmMOBg6nWNmJKTcgsJeaLstP/UODVpGsr5OhXhhXg6f+qtJ8uiZ+PUxkDWcgIXLw==',
            license: 'MIT',
          },
        },
      },
      null,
      2,
    ),
  );
  // Image and rootfs scans read installed packages (node_modules/*/package.json), not lock files.
  for (const [name, version] of [['lodash', '4.17.20'], ['minimist', '1.2.5']] as const) {
    write(path.join(app, 'node_modules', name, 'package.json'), JSON.stringify({ name, version, license: 'MIT' }, null, 2));
  }
}

const BUILDERS: Record<Ecosystem, (dir: string) => void> = {
  debian: debianRootfs,
  alpine: alpineRootfs,
  npm: npmRootfs,
};

// ---------------------------------------------------------------------------------------------
// an OCI image layout of a root filesystem, without Docker: one uncompressed tar layer

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function ociLayout(rootfs: string, out: string): void {
  const blobs = path.join(out, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layerFile = path.join(out, 'layer.tar');
  const tar = spawnSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', layerFile, '-C', rootfs, '.']);
  assert.equal(tar.status, 0, `tar failed: ${tar.stderr?.toString() ?? ''}`);
  const layer = readFileSync(layerFile);
  rmSync(layerFile);
  const layerDigest = sha256(layer);
  writeFileSync(path.join(blobs, layerDigest), layer);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'securestack trivy.test.ts' }],
  });
  const configDigest = sha256(config);
  writeFileSync(path.join(blobs, configDigest), config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configDigest}`, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
  });
  const manifestDigest = sha256(manifest);
  writeFileSync(path.join(blobs, manifestDigest), manifest);
  writeFileSync(path.join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(out, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${manifestDigest}`, size: manifest.length }],
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// assertions

interface Finding {
  id: string;
  package: string;
  installedVersion: string;
  fixedVersion?: string;
  severity: string;
  score: number;
  title: string;
  published: string;
}

function key(f: { id: string; package: string }): string {
  return `${f.package} ${f.id}`;
}

/** The findings of a CycloneDX BOM, one per (vulnerability, affected component). */
function findings(bom: CdxBom): Finding[] {
  const byRef = new Map<string, CdxComponent>();
  for (const c of bom.components ?? []) if (c['bom-ref']) byRef.set(c['bom-ref'], c);
  const out: Finding[] = [];
  for (const v of bom.vulnerabilities ?? []) {
    const ratings = v.ratings ?? [];
    const severities = new Set(ratings.map((r) => (r.severity ?? '').toUpperCase()));
    assert.equal(severities.size, 1, `${v.id}: all ratings should agree on one severity, got ${JSON.stringify(ratings)}`);
    const score = ratings.find((r) => typeof r.score === 'number')?.score;
    // One vulnerability per id; with several affected packages Trivy joins their advice with "; ".
    const fixedBy = new Map<string, string>();
    for (const part of (v.recommendation ?? '').split('; ')) {
      const m = /^Upgrade (\S+) to version (.+)$/.exec(part);
      if (m?.[1] && m[2]) fixedBy.set(m[1], m[2]);
    }
    for (const a of v.affects ?? []) {
      const comp = a.ref ? byRef.get(a.ref) : undefined;
      assert.ok(comp, `${v.id}: affects ref ${a.ref} is not a component of the BOM`);
      const fixed = fixedBy.get(comp.name ?? '');
      out.push({
        id: v.id ?? '',
        package: comp.name ?? '',
        installedVersion: comp.version ?? '',
        ...(fixed ? { fixedVersion: fixed } : {}),
        severity: [...severities][0] ?? '',
        score: score ?? 0,
        title: v.description ?? '',
        published: v.published ? new Date(v.published).toISOString() : '',
      });
    }
  }
  return out.sort((x, y) => key(x).localeCompare(key(y)));
}

function assertReport(bom: CdxBom, eco: Ecosystem, what: string): void {
  assert.equal(bom.bomFormat, 'CycloneDX', `${what}: not a CycloneDX BOM`);
  assert.equal(bom.specVersion, String(TRIVY_SPEC_VERSION), `${what}: specVersion`);
  const want = [...expected[eco]].sort((x, y) => key(x).localeCompare(key(y)));
  const names = new Set((bom.components ?? []).map((c) => c.name));
  for (const pkg of new Set(want.map((f) => f.package))) {
    assert.ok(names.has(pkg), `${what}: no component for ${pkg} (components: ${[...names].join(', ')})`);
  }
  // The packages keep their purl types (deb, apk, npm), so the operator can tell them apart.
  const purlType = { debian: 'pkg:deb/debian/', alpine: 'pkg:apk/alpine/', npm: 'pkg:npm/' }[eco];
  for (const f of want) {
    const comp = (bom.components ?? []).find((c) => c.name === f.package);
    assert.ok(comp?.purl?.startsWith(purlType), `${what}: ${f.package} purl ${comp?.purl} should start with ${purlType}`);
  }
  assert.deepEqual(findings(bom), want, `${what}: findings differ from test/fixtures/scan/expected.json`);
}

// ---------------------------------------------------------------------------------------------

describe('trivy with the vulnerability DB fixture, offline', () => {
  let tmp = '';
  let home = '';
  let url = '';
  const rootfs = {} as Record<Ecosystem, string>;

  before(async () => {
    trivyBinary();
    url = await serverUrl();
    tmp = mkdtempSync(path.join(tmpdir(), 'securestack-trivy-'));
    home = path.join(tmp, 'home');
    mkdirSync(home);
    for (const eco of ECOSYSTEMS) {
      rootfs[eco] = path.join(tmp, eco);
      BUILDERS[eco](rootfs[eco]);
    }
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('expected.json covers every ecosystem with CRITICAL, HIGH, fixed and unfixed findings', () => {
    for (const eco of ECOSYSTEMS) {
      const list = expected[eco];
      assert.ok(list.some((f) => f.severity === 'CRITICAL' && f.fixedVersion), `${eco}: CRITICAL with a fix`);
      assert.ok(list.some((f) => f.severity === 'HIGH' && f.fixedVersion), `${eco}: HIGH with a fix`);
      assert.ok(list.some((f) => !f.fixedVersion), `${eco}: a finding without a fix`);
      assert.ok(list.some((f) => f.severity === 'MEDIUM' || f.severity === 'LOW'), `${eco}: MEDIUM or LOW`);
      for (const f of list) assert.ok(f.score > 0 && f.title.length > 0, `${eco} ${f.id}: score and title`);
    }
  });

  for (const eco of ECOSYSTEMS) {
    it(`client/server: trivy rootfs --server finds the ${eco} fixture CVEs`, async () => {
      const bom = await scan(['rootfs', '--server', url, ...COMMON, rootfs[eco]], home);
      assertReport(bom, eco, `rootfs ${eco} (client/server)`);
    });
  }

  for (const eco of ECOSYSTEMS) {
    it(`client/server: trivy image --input <OCI layout> finds the ${eco} fixture CVEs`, async () => {
      const layout = path.join(tmp, `oci-${eco}`);
      ociLayout(rootfs[eco], layout);
      const bom = await scan(['image', '--server', url, ...COMMON, '--input', layout], home);
      assertReport(bom, eco, `image --input ${eco} (client/server)`);
    });
  }

  it('standalone: --cache-dir with the fixture DB, --skip-db-update --offline-scan', async () => {
    const built = spawnSync('bash', [path.join(root, 'test', 'env', 'build-trivydb.sh')], { encoding: 'utf8' });
    assert.equal(built.status, 0, `test/env/build-trivydb.sh failed:\n${built.stderr}`);
    const fixtureDir = built.stdout.trim().split('\n').pop() ?? '';
    const cache = path.join(tmp, 'standalone-cache');
    mkdirSync(path.join(cache, 'db'), { recursive: true });
    for (const f of ['trivy.db', 'metadata.json']) copyFileSync(path.join(fixtureDir, f), path.join(cache, 'db', f));
    for (const eco of ECOSYSTEMS) {
      const bom = await scan(
        ['rootfs', '--cache-dir', cache, '--skip-db-update', '--offline-scan', ...COMMON, rootfs[eco]],
        home,
      );
      assertReport(bom, eco, `rootfs ${eco} (standalone)`);
    }
    assert.ok(statSync(path.join(cache, 'db', 'trivy.db')).size > 0);
  });

  // The fixture images test/env/images.sh pushes to the plane's plain-HTTP loopback registry
  // (<run>/images.json): no --insecure needed for 127.0.0.1, --image-src remote skips the
  // docker/containerd/podman daemons that do not exist here.
  const IMAGES: Record<Ecosystem, string> = { debian: 'fixtures/debian-app:1', alpine: 'fixtures/alpine-app:1', npm: 'fixtures/node-app:1' };
  for (const eco of ECOSYSTEMS) {
    it(`client/server: trivy image <loopback registry>/${IMAGES[eco]} finds the ${eco} fixture CVEs`, async () => {
      const file = path.join(runDir, 'images.json');
      assert.ok(existsSync(file), `${file} is missing (start.sh pushes the fixture images): ${HOW_TO}`);
      const refs = Object.keys(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>);
      const ref = refs.find((r) => r.endsWith(`/${IMAGES[eco]}`));
      assert.ok(ref, `${file} lists no image ending in /${IMAGES[eco]}: ${refs.join(', ')}`);
      const bom = await scan(['image', '--server', url, ...COMMON, '--image-src', 'remote', ref], home);
      assertReport(bom, eco, `image ${ref} (client/server)`);
    });
  }

  it('trivy fs reads the package-lock.json (lockfileVersion 3) alone', async () => {
    const lockOnly = path.join(tmp, 'lock-only');
    mkdirSync(lockOnly);
    copyFileSync(path.join(rootfs.npm, 'app', 'package-lock.json'), path.join(lockOnly, 'package-lock.json'));
    const bom = await scan(['fs', '--server', url, ...COMMON, lockOnly], home);
    assertReport(bom, 'npm', 'fs package-lock.json (client/server)');
  });
});
