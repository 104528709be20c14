// The offline advisory check must (a) pass on the real lockfile and (b) catch each known-bad
// version we inject, by real package name, including behind npm aliases. Every case below
// asserts on exact findings so a matcher that matched nothing (or everything) fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  auditLockfile,
  listInstalled,
  parseAdvisories,
  type Advisory,
  type Finding,
} from '../tools/lockfile-audit';
import { compareVersions, parseRange, parseVersion, satisfies } from '../tools/semver-range';

// Compiled to dist/test/, two levels below the repo root.
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'tools', 'lockfile-audit.js');

interface LockEntry {
  version?: string;
  name?: string;
  dev?: boolean;
  link?: boolean;
  resolved?: string;
}
interface Lock {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

function realLock(): Lock {
  return JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as Lock;
}

function advisories(): Advisory[] {
  return parseAdvisories(JSON.parse(readFileSync(path.join(root, 'security', 'advisories.json'), 'utf8')));
}

/** A compact, order-independent description of findings for exact comparison. */
function keys(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.path} ${f.package}@${f.version} ${f.advisory}`).sort();
}

void test('the real package-lock.json has no known advisories', () => {
  const lock = realLock();
  const installed = listInstalled(lock);
  // Guard against a walker that silently sees nothing.
  const nodeModulesKeys = Object.keys(lock.packages).filter((k) => k.includes('node_modules/'));
  assert.ok(nodeModulesKeys.length > 100, 'lockfile should have many packages');
  assert.equal(installed.length, nodeModulesKeys.filter((k) => lock.packages[k]?.link !== true).length);
  assert.deepEqual(keys(auditLockfile(lock, advisories())), []);
});

void test('the real lockfile has neither request nor a fork of it (client-node 2 needs none; ADR 0014)', () => {
  const installed = listInstalled(realLock());
  assert.deepEqual(installed.filter((p) => p.name === 'request' || p.name === '@cypress/request').map((p) => p.path), []);
  assert.ok(installed.some((p) => p.name === '@kubernetes/client-node' && p.version.startsWith('2.')), 'the 2.x client');
});

void test('injected known-bad versions yield exactly their findings', () => {
  const lock = realLock();
  const set = (key: string, entry: LockEntry): void => {
    lock.packages[key] = entry;
  };
  set('node_modules/jsonpath-plus', { ...lock.packages['node_modules/jsonpath-plus'], version: '10.0.0' });
  set('node_modules/form-data', { ...lock.packages['node_modules/form-data'], version: '4.0.0' });
  set('node_modules/tough-cookie', { ...lock.packages['node_modules/tough-cookie'], version: '4.0.0' });
  // A nested, non-aliased copy of the real request package.
  set('node_modules/@kubernetes/client-node/node_modules/request', { version: '2.88.2' });
  assert.deepEqual(keys(auditLockfile(lock, advisories())), [
    'node_modules/@kubernetes/client-node/node_modules/request request@2.88.2 GHSA-p8p7-x288-28g6',
    'node_modules/form-data form-data@4.0.0 GHSA-fjxv-7rqg-78g4',
    'node_modules/jsonpath-plus jsonpath-plus@10.0.0 GHSA-hw8r-x6gr-5gjp',
    'node_modules/jsonpath-plus jsonpath-plus@10.0.0 GHSA-pppg-cpfq-h7wr',
    'node_modules/tough-cookie tough-cookie@4.0.0 GHSA-72xf-g2v4-qvf3',
  ]);
});

void test('aliases are audited under the package they point to', () => {
  const adv = advisories();
  const lockWith = (entry: LockEntry): Lock => ({ lockfileVersion: 3, packages: { '': {}, 'node_modules/request': entry } });
  // Folder "request" holding @cypress/request 3.x: safe.
  assert.deepEqual(keys(auditLockfile(lockWith({ name: '@cypress/request', version: '3.0.10' }), adv)), []);
  // Folder "request" holding an old @cypress/request: flagged as @cypress/request, not request.
  assert.deepEqual(keys(auditLockfile(lockWith({ name: '@cypress/request', version: '2.88.12' }), adv)), [
    'node_modules/request @cypress/request@2.88.12 GHSA-p8p7-x288-28g6',
  ]);
  // The same folder without an alias is the real, deprecated request: every version is flagged.
  assert.deepEqual(keys(auditLockfile(lockWith({ version: '3.0.10' }), adv)), [
    'node_modules/request request@3.0.10 GHSA-p8p7-x288-28g6',
  ]);
});

void test('scoped, nested, dev and linked entries', () => {
  const adv: Advisory[] = [
    { package: '@scope/pkg', range: '<2.0.0', id: 'TEST-1', aliases: [], summary: 's', fixedIn: ['2.0.0'] },
  ];
  const lock: Lock = {
    lockfileVersion: 3,
    packages: {
      '': { version: '1.0.0' },
      'packages/workspace-a': { version: '1.0.0', name: '@scope/pkg' },
      'node_modules/workspace-a': { link: true, resolved: 'packages/workspace-a' },
      'node_modules/@scope/pkg': { version: '2.0.0' },
      'node_modules/a/node_modules/@scope/pkg': { version: '1.9.9', dev: true },
      'node_modules/b': { version: 'git+https://example.invalid/b.git', name: '@scope/pkg' },
    },
  };
  const findings = auditLockfile(lock, adv);
  assert.deepEqual(keys(findings), [
    'node_modules/a/node_modules/@scope/pkg @scope/pkg@1.9.9 TEST-1',
    'node_modules/b @scope/pkg@git+https://example.invalid/b.git TEST-1',
  ]);
  assert.equal(findings[0]?.dev, true);
  assert.equal(findings[1]?.unparseableVersion, true);
});

void test('a lockfile without a packages map is rejected, not passed', () => {
  assert.throws(() => auditLockfile({ lockfileVersion: 1, dependencies: {} }, advisories()), /packages/);
});

void test('advisories file: every range parses and the required advisories are present', () => {
  const adv = advisories();
  const ids = new Set(adv.map((a) => `${a.package} ${a.id}`));
  for (const required of [
    'request GHSA-p8p7-x288-28g6',
    'jsonpath-plus GHSA-pppg-cpfq-h7wr',
    'jsonpath-plus GHSA-hw8r-x6gr-5gjp',
    'form-data GHSA-fjxv-7rqg-78g4',
    'tough-cookie GHSA-72xf-g2v4-qvf3',
    'js-yaml GHSA-mh29-5h37-fv8m',
  ]) {
    assert.ok(ids.has(required), `missing advisory ${required}`);
  }
  // Each fixed-in version must itself be outside the advisory's range.
  for (const a of adv) {
    for (const fixed of a.fixedIn) assert.equal(satisfies(fixed, a.range), false, `${a.id}: ${fixed} in ${a.range}`);
  }
  assert.throws(() => parseAdvisories({ advisories: [{ package: 'x', range: '^1.0.0', id: 'X', aliases: [], summary: '', fixedIn: [] }] }), /unsupported/);
  assert.throws(() => parseAdvisories({ advisories: [{ package: 'x', range: '<1.0.0' }] }), /needs/);
});

void test('advisory boundaries from the brief', () => {
  const adv = advisories();
  const hits = (name: string, version: string): string[] =>
    auditLockfile({ packages: { [`node_modules/${name}`]: { version } } }, adv).map((f) => f.advisory).sort();
  assert.deepEqual(hits('jsonpath-plus', '10.0.6'), ['GHSA-hw8r-x6gr-5gjp', 'GHSA-pppg-cpfq-h7wr']);
  assert.deepEqual(hits('jsonpath-plus', '10.0.7'), ['GHSA-hw8r-x6gr-5gjp']);
  assert.deepEqual(hits('jsonpath-plus', '10.3.0'), []);
  for (const bad of ['2.3.3', '2.5.3', '3.0.0', '3.0.3', '4.0.0', '4.0.3']) assert.deepEqual(hits('form-data', bad), ['GHSA-fjxv-7rqg-78g4'], bad);
  for (const good of ['2.5.4', '3.0.4', '4.0.4', '4.0.6']) assert.deepEqual(hits('form-data', good), [], good);
  assert.deepEqual(hits('tough-cookie', '4.1.2'), ['GHSA-72xf-g2v4-qvf3']);
  assert.deepEqual(hits('tough-cookie', '4.1.3'), []);
  assert.deepEqual(hits('js-yaml', '4.1.0'), ['GHSA-mh29-5h37-fv8m']);
  assert.deepEqual(hits('js-yaml', '4.1.1'), []);
  assert.deepEqual(hits('request', '2.88.2'), ['GHSA-p8p7-x288-28g6']);
});

void test('range matcher: comparators, AND, OR, star', () => {
  const cases: [string, string, boolean][] = [
    ['1.2.3', '1.2.3', true],
    ['1.2.4', '1.2.3', false],
    ['1.2.3', '=1.2.3', true],
    ['1.2.3', '<1.2.3', false],
    ['1.2.2', '<1.2.3', true],
    ['1.2.3', '<=1.2.3', true],
    ['1.2.4', '<=1.2.3', false],
    ['1.2.3', '>1.2.3', false],
    ['1.10.0', '>1.9.0', true],
    ['1.2.3', '>=1.2.3', true],
    ['1.2.2', '>=1.2.3', false],
    ['3.0.2', '>=3.0.0 <3.0.4', true],
    ['3.0.4', '>=3.0.0 <3.0.4', false],
    ['2.9.9', '>=3.0.0 <3.0.4', false],
    ['3.0.1', '>= 3.0.0 < 3.0.4', true],
    ['2.5.3', '<2.5.4 || >=3.0.0 <3.0.4 || >=4.0.0 <4.0.4', true],
    ['2.6.0', '<2.5.4 || >=3.0.0 <3.0.4 || >=4.0.0 <4.0.4', false],
    ['4.0.3', '<2.5.4 || >=3.0.0 <3.0.4 || >=4.0.0 <4.0.4', true],
    ['4.0.4', '<2.5.4 || >=3.0.0 <3.0.4 || >=4.0.0 <4.0.4', false],
    ['0.0.1', '*', true],
    ['99.0.0', '*', true],
    ['not-a-version', '*', true],
    ['not-a-version', '<1.0.0', false],
    // Prereleases are inside ranges on purpose (conservative for a vulnerability check).
    ['4.0.4-beta.1', '<4.0.4', true],
    ['4.0.0-rc.1', '>=4.0.0 <4.0.4', false],
    ['1.0.0+build.5', '=1.0.0', true],
    ['v1.0.0', '1.0.0', true],
  ];
  for (const [version, range, want] of cases) {
    assert.equal(satisfies(version, range), want, `${version} in "${range}"`);
  }
});

void test('range matcher: prerelease ordering follows semver', () => {
  const order = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
  for (let i = 1; i < order.length; i++) {
    const a = parseVersion(order[i - 1] ?? '');
    const b = parseVersion(order[i] ?? '');
    assert.ok(a && b);
    assert.ok(compareVersions(a, b) < 0, `${order[i - 1]} < ${order[i]}`);
  }
});

void test('range matcher: unsupported syntax is rejected', () => {
  for (const bad of ['^1.0.0', '~1.2.0', '1.x', '1.0.0 - 2.0.0', '>=1.0', '', '<', '1.0.0 ||']) {
    assert.throws(() => parseRange(bad), Error, `"${bad}" should be rejected`);
  }
});

void test('CLI exits 0 on the real lockfile and 1 with findings', () => {
  const ok = spawnSync(process.execPath, [cli], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /0 finding\(s\)/);

  const lock = realLock();
  lock.packages['node_modules/form-data'] = { ...lock.packages['node_modules/form-data'], version: '4.0.0' };
  const dir = mkdtempSync(path.join(tmpdir(), 'lockfile-audit-'));
  const bad = path.join(dir, 'package-lock.json');
  writeFileSync(bad, JSON.stringify(lock));
  const res = spawnSync(process.execPath, [cli, bad], { encoding: 'utf8' });
  assert.equal(res.status, 1, res.stdout + res.stderr);
  assert.match(res.stdout, /form-data@4\.0\.0 at node_modules\/form-data: GHSA-fjxv-7rqg-78g4\/CVE-2025-7783/);
  assert.match(res.stdout, /1 finding\(s\)/);

  const missing = spawnSync(process.execPath, [cli, path.join(dir, 'nope.json')], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
});
