// `securestack sbom diff` end to end on the real plane: two ImageScans of two versions of the
// Debian fixture image (each with a marker layer of its own; the second with openssl and libssl3 upgraded and tzdata added, in a layer
// of its own), scanned by the operator with the real Trivy, compared by the compiled command
// through --kubeconfig. The differences are checked against the two stored SBOMs read directly,
// and the severities against the ones the operator wrote into the ImageScans' status.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { readSbom } from '../operator/features/scan/sbom-store';
import { KubeClient } from '../operator/platform/kube/client';
import { kubeconfigPath, kubectl, repoRoot } from './support/cluster';
import { startOperator, waitUntilLeading } from './support/operator';
import { freePort, imageScanManifest, pushUniqueImage, requireScanEnvironment, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment, type ScanObject } from './support/scanenv';

const cli = path.join(repoRoot(), 'dist', 'operator', 'cli', 'main.js');

/** A dpkg status file as dpkg writes it: the fixture's packages, libssl3 and openssl upgraded, tzdata added. */
const upgradedStatus = [
  ['libssl3', '3.0.13-1~deb12u1', 'openssl', 'Multi-Arch: same'],
  ['openssl', '3.0.13-1~deb12u1', undefined, undefined],
  ['tzdata', '2024a-0+deb12u1', undefined, undefined],
  ['zlib1g', '1:1.2.13.dfsg-1', 'zlib', 'Multi-Arch: same'],
]
  .map(([name, version, source, extra]) => [`Package: ${name}`, 'Status: install ok installed', 'Priority: optional', `Architecture: ${name === 'tzdata' ? 'all' : 'amd64'}`, ...(extra ? [extra] : []), ...(source ? [`Source: ${source}`] : []), `Version: ${version}`, `Description: ${name}`, ''].join('\n'))
  .join('\n');

interface Bom {
  components?: Array<{ 'bom-ref'?: string; type?: string; name?: string; version?: string }>;
  vulnerabilities?: Array<{ id: string; affects?: Array<{ ref: string }> }>;
}

interface DiffJson {
  summary: { components: Record<string, number>; vulnerabilities: Record<string, number>; failing: number };
  components: { added: Array<{ name: string; versions: string[] }>; removed: Array<{ name: string; versions: string[] }>; changed: Array<{ name: string; from: string[]; to: string[] }> };
  vulnerabilities: { introduced: Array<{ id: string; package: string; severity: string }>; fixed: Array<{ id: string; package: string; severity: string }> };
}

/** The oracle, independent of the code under test: each component by type and name (one distro, one architecture here). */
function versionsByName(bom: Bom): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of bom.components ?? []) {
    const key = c.name ?? '';
    out.set(key, new Set([...(out.get(key) ?? []), c.version ?? '']));
  }
  return out;
}

/** "id package" of every vulnerability and affected component, from the raw document. */
function findingPairs(bom: Bom): Set<string> {
  const names = new Map((bom.components ?? []).map((c) => [c['bom-ref'] ?? '', c.name ?? '']));
  return new Set((bom.vulnerabilities ?? []).flatMap((v) => (v.affects ?? []).map((a) => `${v.id} ${names.get(a.ref) ?? a.ref}`)));
}

const minus = <T>(a: Set<T>, b: Set<T>): T[] => [...a].filter((x) => !b.has(x)).sort();
const sorted = (list: Iterable<string>): string[] => [...list].sort();

function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '/nonexistent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

describe('securestack sbom diff against ImageScans on the real plane (real Trivy, real registry)', () => {
  let env: ScanEnvironment;
  const resources = new TestResources();

  before(async () => {
    env = await requireScanEnvironment();
  });
  afterEach(() => resources.stopOperators());
  after(() => resources.deleteNamespaces());

  it('reports the upgraded, added and fixed parts of the second image, as the two stored SBOMs say', async () => {
    const ns = await resources.namespace('sbom-diff');
    const reportPort = await freePort();
    const op = resources.track(startOperator({ identity: 'sbom-diff-0', namespace: ns, leaseName: 'sbom-diff', env: scanOperatorEnv(env, reportPort) }));
    await waitUntilLeading(op, ns, 'sbom-diff');
    // Both are images of their own (the fixture plus a marker layer), never debian-app:1 itself: a
    // scan of the fixture would be cached and the image-scanning tests after this file expect to scan it first.
    const original = pushUniqueImage(env, `sbom-diff/debian-${ns}`);
    const upgraded = pushUniqueImage(env, `sbom-diff/debian-upgraded-${ns}`, undefined, undefined, undefined, { 'var/lib/dpkg/status': upgradedStatus });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('before', original) });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('after', upgraded) });
    const scanStarted = Date.now();
    const [scanA, scanB] = await Promise.all([waitForPhase(ns, 'before', 'Completed', op), waitForPhase(ns, 'after', 'Completed', op)]);
    console.log(`two ImageScans Completed in ${Date.now() - scanStarted} ms`);

    const client = KubeClient.fromDefault();
    const sbomOf = async (scan: ScanObject): Promise<Bom> => {
      assert.ok(scan.status?.sbomRef, `${scan.metadata.name} has an SBOM`);
      return JSON.parse((await readSbom(client, ns, scan.status.sbomRef)).toString('utf8')) as Bom;
    };
    const [bomA, bomB] = await Promise.all([sbomOf(scanA), sbomOf(scanB)]);

    // KUBECONFIG points nowhere in the child: only --kubeconfig can find the plane.
    const kubeconfig = kubeconfigPath();
    const diff = await run(['sbom', 'diff', 'imagescan/before', `imagescan/${ns}/after`, '-n', ns, '--kubeconfig', kubeconfig, '-o', 'json']);
    console.log(`sbom diff of two ImageScans: ${diff.ms} ms`);
    assert.equal(diff.code, 0, diff.stderr);
    const result = JSON.parse(diff.stdout) as DiffJson;

    // Components, against the raw SBOMs.
    const before = versionsByName(bomA);
    const after = versionsByName(bomB);
    assert.deepEqual(sorted(result.components.added.map((c) => c.name)), minus(new Set(after.keys()), new Set(before.keys())));
    assert.deepEqual(sorted(result.components.removed.map((c) => c.name)), minus(new Set(before.keys()), new Set(after.keys())));
    const changed = [...before.keys()].filter((name) => after.has(name) && sorted(before.get(name) ?? []).join() !== sorted(after.get(name) ?? []).join()).sort();
    assert.deepEqual(sorted(result.components.changed.map((c) => c.name)), changed);
    for (const c of result.components.changed) {
      assert.deepEqual(c.from, sorted(before.get(c.name) ?? []), `${c.name} from`);
      assert.deepEqual(c.to, sorted(after.get(c.name) ?? []), `${c.name} to`);
    }
    assert.equal(result.summary.components.unchanged, [...before.keys()].filter((name) => after.has(name)).length - changed.length);
    // What the second image is: openssl and libssl3 upgraded, tzdata added, nothing removed.
    assert.deepEqual(changed, ['libssl3', 'openssl']);
    assert.deepEqual(result.components.changed.find((c) => c.name === 'openssl')?.to, ['3.0.13-1~deb12u1']);
    assert.deepEqual(result.components.added.map((c) => c.name), ['tzdata']);
    assert.deepEqual(result.components.removed, []);

    // Vulnerabilities, against the raw SBOMs: fixed are in A only, introduced in B only.
    const pairsA = findingPairs(bomA);
    const pairsB = findingPairs(bomB);
    assert.deepEqual(sorted(result.vulnerabilities.fixed.map((v) => `${v.id} ${v.package}`)), minus(pairsA, pairsB));
    assert.deepEqual(sorted(result.vulnerabilities.introduced.map((v) => `${v.id} ${v.package}`)), minus(pairsB, pairsA));
    assert.equal(result.summary.vulnerabilities.unchanged, [...pairsA].filter((pair) => pairsB.has(pair)).length);
    assert.ok(result.vulnerabilities.fixed.some((v) => v.id === 'CVE-2023-5363' && v.package === 'openssl'), 'the upgrade fixes CVE-2023-5363');
    // Severities as the operator wrote them into the ImageScan it came from.
    for (const v of result.vulnerabilities.fixed) {
      const shown = scanA.status?.topFindings?.find((f) => f.id === v.id && f.package === v.package);
      if (shown) assert.equal(v.severity, shown.severity, `${v.id} ${v.package}`);
    }

    // B → A: the same differences the other way round, and --fail-on at the worst introduced severity and above it.
    const back = await run(['sbom', 'diff', `imagescan/${ns}/after`, 'imagescan/before', '-n', ns, '--kubeconfig', kubeconfig, '-o', 'json', '--fail-on', 'high']);
    assert.equal(back.code, 1, back.stderr);
    const reverse = JSON.parse(back.stdout) as DiffJson;
    assert.deepEqual(sorted(reverse.vulnerabilities.introduced.map((v) => `${v.id} ${v.package}`)), sorted(result.vulnerabilities.fixed.map((v) => `${v.id} ${v.package}`)));
    assert.deepEqual(reverse.components.removed.map((c) => c.name), ['tzdata']);
    // The fixture DB's CVE-2023-5363 (HIGH) comes back; CVE-2024-5535 (CRITICAL, fixed only in 3.0.14) never left.
    assert.equal(reverse.vulnerabilities.introduced[0]?.severity, 'HIGH');
    assert.equal(reverse.summary.failing, reverse.vulnerabilities.introduced.filter((v) => v.severity === 'HIGH').length);
    const critical = await run(['sbom', 'diff', `imagescan/${ns}/after`, `imagescan/${ns}/before`, '--kubeconfig', kubeconfig, '--fail-on', 'critical']);
    assert.equal(critical.code, 0, critical.stderr);
    assert.match(critical.stdout, /None introduced at or above CRITICAL: the run passes\./);
    console.log(critical.stdout);

    // An ImageScan that is not there, and one without an SBOM yet.
    const missing = await run(['sbom', 'diff', 'imagescan/nope', 'imagescan/before', '-n', ns, '--kubeconfig', kubeconfig]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, new RegExp(`imagescan/${ns}/nope: no such ImageScan in namespace "${ns}"`));
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('pending', `${env.registry}/fixtures/debian-app:does-not-exist`) });
    const pending = await run(['sbom', 'diff', 'imagescan/pending', 'imagescan/before', '-n', ns, '--kubeconfig', kubeconfig]);
    assert.equal(pending.code, 2);
    assert.match(pending.stderr, new RegExp(`imagescan/${ns}/pending: the ImageScan has no SBOM yet`));
  });
});
