// The CRDs against the real API server (test control plane, see test/support/cluster.ts):
// they install and become Established, every example is really created (not just dry-run) and
// comes back with the same defaults validateSpec applies, every invalid fixture is rejected with
// its "# expect" fragments, and kubectl shows the printer columns, short names and category.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { applyDefaults, loadCrds, validateSpec, validateStatus } from '../operator/api/schema';
import { createTestNamespace, deleteNamespace, kubectl, repoRoot, requireCluster } from './support/cluster';
import { loadExamples, loadInvalidFixtures, type JsonObject, type ManifestFile } from './support/crd-fixtures';

const crds = loadCrds();
const namespaced = new Map(crds.map((c) => [c.kind, c.scope === 'Namespaced']));
const plural = new Map(crds.map((c) => [c.kind, c.plural]));
// Cluster-scoped objects outlive the test namespace: a per-run suffix keeps names unique across
// runs sharing a plane, and a label lets after() delete exactly this run's objects.
const run = randomBytes(3).toString('hex');
const RUN_LABEL = 'securestack.io/test-run';

let ns = '';

/** The manifest as this run creates it: in the test namespace, or uniquely named and labelled. */
function forThisRun(m: ManifestFile['object']): ManifestFile['object'] {
  const copy = structuredClone(m);
  delete copy.metadata.namespace;
  if (!namespaced.get(copy.kind)) {
    copy.metadata.name = `${copy.metadata.name}-${run}`;
    copy.metadata.labels = { ...(copy.metadata.labels as Record<string, string> | undefined), [RUN_LABEL]: run };
  }
  return copy;
}

function nsFor(kind: string): string | undefined {
  return namespaced.get(kind) ? ns : undefined;
}

async function getJson(kind: string, name: string): Promise<JsonObject> {
  const res = await kubectl(['get', `${plural.get(kind)}.securestack.io`, name, '-o', 'json'], { namespace: nsFor(kind) });
  return JSON.parse(res.stdout) as JsonObject;
}

before(async () => {
  await requireCluster();
  ns = await createTestNamespace('crds');
});

after(async () => {
  if (ns) await deleteNamespace(ns);
  await kubectl(['delete', 'scanpolicies.securestack.io', '-l', `${RUN_LABEL}=${run}`, '--ignore-not-found'], { allowFail: true });
});

describe('CRD installation', () => {
  it('kubectl apply -f crds/ succeeds and every CRD becomes Established with its names accepted', async () => {
    // Server-side, like test/support/crds.ts, so this and other suites on the same plane never
    // fight over field ownership.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', path.join(repoRoot(), 'crds')]);
    for (const crd of crds) {
      await kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${crd.name}`]);
      const names = await kubectl(['get', `crd/${crd.name}`, '-o', 'jsonpath={.status.conditions[?(@.type=="NamesAccepted")].status}']);
      assert.equal(names.stdout, 'True', `${crd.name}: names not accepted`);
    }
  });

  it('short names are unique in the cluster and the securestack category lists all four kinds', async () => {
    const res = await kubectl(['api-resources', '-o', 'wide', '--no-headers']);
    const shortNames = res.stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols.length > 4)
      // NAME SHORTNAMES APIVERSION NAMESPACED KIND VERBS CATEGORIES: SHORTNAMES may be empty, so
      // take it only when the row has a group/version in column 3.
      .flatMap((cols) => (cols[2]?.includes('/') || cols[2] === 'v1' ? cols[1].split(',') : []));
    for (const crd of crds) {
      for (const s of crd.shortNames) assert.equal(shortNames.filter((n) => n === s).length, 1, `short name ${s} is not unique`);
    }
    const cat = await kubectl(['api-resources', '--categories=securestack', '-o', 'name']);
    assert.deepEqual(cat.stdout.trim().split('\n').sort(), crds.map((c) => `${c.plural}.securestack.io`).sort());
  });
});

describe('examples are accepted by the API server', () => {
  for (const example of loadExamples()) {
    it(`${example.file}: created, and stored with the defaults validateSpec applies`, async () => {
      const obj = forThisRun(example.object);
      await kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj), namespace: nsFor(obj.kind) });
      const stored = await getJson(obj.kind, obj.metadata.name);
      assert.deepEqual(stored.spec, applyDefaults(obj.kind, obj).spec);
    });
  }
});

describe('invalid fixtures are rejected by the API server', () => {
  for (const fixture of loadInvalidFixtures()) {
    it(`${fixture.file} (${fixture.case}): rejected with ${fixture.expects.map((e) => JSON.stringify(e)).join(' and ')}`, async () => {
      const obj = forThisRun(fixture.object);
      const res = await kubectl(['create', '-f', '-'], { input: JSON.stringify(obj), namespace: nsFor(obj.kind), allowFail: true });
      if (res.code === 0) {
        await kubectl(['delete', `${plural.get(obj.kind)}.securestack.io`, obj.metadata.name], { namespace: nsFor(obj.kind), allowFail: true });
        assert.fail(`the API server accepted it: ${res.stdout.trim()}`);
      }
      for (const fragment of fixture.expects) assert.ok(res.stderr.includes(fragment), `missing ${JSON.stringify(fragment)} in:\n${res.stderr}`);
    });
  }
});

describe('ImageScan on the server', () => {
  const name = 'printer-columns';
  const status = {
    observedGeneration: 1,
    phase: 'Completed',
    digest: `sha256:${'a'.repeat(64)}`,
    conditions: [
      { type: 'Ready', status: 'True', reason: 'ScanCompleted', message: 'scan completed', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 1 },
    ],
    summary: { critical: 2, high: 5, medium: 11, low: 3, unknown: 0, fixable: 9 },
    topFindings: [{ id: 'CVE-2024-6387', package: 'openssh-client', installedVersion: '1:9.2p1-2', fixedVersion: '1:9.2p1-2+deb12u3', severity: 'CRITICAL', score: 8.1, title: 'regreSSHion' }],
  };

  before(async () => {
    const scan = { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name }, spec: { image: 'docker.io/library/nginx:1.27' } };
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify(scan), namespace: ns });
  });

  it('accepts a realistic status through the status subresource, as validateStatus does', async () => {
    assert.deepEqual(validateStatus('ImageScan', status), { ok: true });
    await kubectl(['patch', 'imagescans.securestack.io', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })], { namespace: ns });
    const stored = await getJson('ImageScan', name);
    assert.deepEqual(stored.status, status);
  });

  it('kubectl get imagescans shows Image, Phase, Critical, High and Age', async () => {
    const res = await kubectl(['get', 'imagescans.securestack.io', name], { namespace: ns });
    const [header, row] = res.stdout.trim().split('\n');
    assert.deepEqual(header.trim().split(/\s+/), ['NAME', 'IMAGE', 'PHASE', 'CRITICAL', 'HIGH', 'AGE']);
    assert.deepEqual(row.trim().split(/\s+/).slice(0, 5), [name, 'docker.io/library/nginx:1.27', 'Completed', '2', '5']);
    const byShortName = await kubectl(['get', 'iscan', name, '-o', 'name'], { namespace: ns });
    assert.equal(byShortName.stdout.trim(), `imagescan.securestack.io/${name}`);
  });

  it('rejects an invalid status the way validateStatus does', async () => {
    const bad = { phase: 'Done' };
    assert.equal(validateStatus('ImageScan', bad).ok, false);
    const res = await kubectl(['patch', 'imagescans.securestack.io', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: bad })], { namespace: ns, allowFail: true });
    assert.notEqual(res.code, 0);
    assert.ok(res.stderr.includes('status.phase: Unsupported value: "Done"'), res.stderr);
  });

  it('keeps spec.image immutable (CEL transition rule)', async () => {
    const res = await kubectl(['patch', 'imagescans.securestack.io', name, '--type=merge', '-p', JSON.stringify({ spec: { image: 'docker.io/library/nginx:1.28' } })], { namespace: ns, allowFail: true });
    assert.notEqual(res.code, 0);
    assert.ok(res.stderr.includes('spec.image is immutable'), res.stderr);
  });

  it('accepts a repository name of exactly 255 characters with a tag and a digest, as the resolver does (256 is the invalid fixture)', async () => {
    const repository = `registry.example.com/${'a'.repeat(255 - 'registry.example.com/'.length)}`;
    assert.equal(repository.length, 255);
    const image = `${repository}:${'t'.repeat(128)}@sha256:${'a'.repeat(64)}`;
    const scan = { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name: 'name-255' }, spec: { image } };
    const res = await kubectl(['create', '-f', '-'], { input: JSON.stringify(scan), namespace: ns, allowFail: true });
    assert.equal(res.code, 0, res.stderr);
    await kubectl(['delete', 'imagescans.securestack.io', 'name-255'], { namespace: ns });
    // Without a tag, the name is everything before the digest; a port is part of the host.
    for (const [reference, accepted] of [[`${repository}@sha256:${'a'.repeat(64)}`, true], [`${repository}a`, false], [`localhost:5000/${'a'.repeat(255 - 'localhost:5000/'.length)}`, true]] as const) {
      const created = await kubectl(['create', '-f', '-'], { input: JSON.stringify({ ...scan, metadata: { name: 'name-edge' }, spec: { image: reference } }), namespace: ns, allowFail: true });
      assert.equal(created.code === 0, accepted, `${reference.length} characters: ${created.stderr}`);
      if (created.code === 0) await kubectl(['delete', 'imagescans.securestack.io', 'name-edge'], { namespace: ns });
    }
  });
});

// The API server evaluates patterns with Go's RE2, ajv with JavaScript regular expressions. The
// CRD patterns stick to the syntax both share; these edge cases prove both engines agree.
describe('ajv and the API server agree on pattern edge cases', () => {
  const images = [
    'nginx', 'nginx:1.27', 'library/nginx', 'docker.io/library/nginx:1.27-alpine', 'localhost:5000/a/b/c:tag',
    'registry.example.com/team/app@sha256:' + 'a'.repeat(64), 'ghcr.io/org/app:v1.2.3@sha256:' + '0'.repeat(64),
    'my_registry.io/app', 'a__b/c', 'a--b/c.d', 'Nginx', 'nginx:', 'nginx@sha256:' + 'a'.repeat(63), ':tag',
    'nginx:' + 't'.repeat(129), 'nginx:.tag', 'host:99999/app', 'host:123456/app', 'a/-b', 'a//b', 'nginx ', 'ngïnx',
  ];
  const schedules = [
    '*/5 * * * *', '0 3 * * MON-FRI', '0 0 1 JAN *', '59 23 31 12 7', '0 0 ? * SUN', '0,30 8-18/2 * * 1-5', '@daily',
    '@every 90s', '@every 1h30m', '60 * * * *', '0 0 0 * *', '0 0 * 13 *', '0 0 * * 8', '0 0 * * mon', '0 0 * jan-Mar Mon-fri', '0 0 * * SUNDAY', '*  *  *  *  *',
    '* * * * * *', '@every', '@every 1d', '@reboot', ' 0 0 * * *', '0 0 * * *\n',
  ];
  const durations = ['30s', '10m', '1h30m', '6h', '1h1m1s', '90', '1.5h', '1d', '10ms', '', '0s1h'];
  const timeZones = ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5', 'Europe/', '/UTC', 'Europe Berlin', 'A/B/C/D'];
  const cases: { what: string; kind: string; spec: JsonObject }[] = [
    ...images.map((image) => ({ what: `image ${JSON.stringify(image)}`, kind: 'ImageScan', spec: { image } })),
    ...durations.map((timeout) => ({ what: `timeout ${JSON.stringify(timeout)}`, kind: 'ImageScan', spec: { image: 'nginx', timeout } })),
    ...schedules.map((schedule) => ({ what: `schedule ${JSON.stringify(schedule)}`, kind: 'ScheduledScan', spec: { schedule, imageScanTemplate: { spec: { image: 'nginx' } } } })),
    ...timeZones.map((timeZone) => ({ what: `timeZone ${JSON.stringify(timeZone)}`, kind: 'ScheduledScan', spec: { schedule: '@daily', timeZone, imageScanTemplate: { spec: { image: 'nginx' } } } })),
  ];
  for (const c of cases) {
    it(`${c.kind} ${c.what}`, async () => {
      const obj = { apiVersion: 'securestack.io/v1alpha1', kind: c.kind, metadata: { name: 'pattern-check' }, spec: c.spec };
      const res = await kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(obj), namespace: ns, allowFail: true });
      const ajv = validateSpec(c.kind, obj);
      // CEL rules (timeout bounds, @every minimum) are the API server's alone; compare only
      // verdicts the schema decides.
      if (ajv.ok && res.code !== 0 && /must be between|at least 1m apart/.test(res.stderr)) return;
      assert.equal(ajv.ok, res.code === 0, `ajv ${ajv.ok ? 'accepts' : 'rejects'}, the API server ${res.code === 0 ? 'accepts' : `rejects: ${res.stderr}`}`);
    });
  }
});
