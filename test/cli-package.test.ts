// The securestack command as people get it: the package `npm pack` makes (what `npm publish`
// uploads) installed into an empty folder with its production dependencies only, and `npx
// securestack` from this repository. The package carries the command, the operator's compiled code
// and the CRDs it validates policies with, and nothing of the tests or sources.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'securestack-package-'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function sh(program: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(program, args, { cwd, encoding: 'utf8', timeout: 180_000, env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' } });
}

const policy = `apiVersion: securestack.io/v1alpha1
kind: ScanPolicy
metadata: {name: restricted}
spec: {mode: Enforce, ruleSets: [pss-restricted]}
`;
const privileged = `apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: x}
spec:
  containers:
    - name: app
      image: registry.example.com/app:1.0.0
      securityContext: {privileged: true}
`;

describe('the securestack package', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('installs from its tarball with production dependencies and runs', () => {
    // --ignore-scripts: test/run.sh has compiled dist/ already (prepack would compile it again).
    const packed = sh(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root);
    assert.equal(packed.status, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    assert.ok(info);
    const files = info.files.map((file) => file.path);
    assert.ok(files.includes('bin/securestack'));
    assert.ok(files.includes('dist/operator/cli/main.js'));
    assert.ok(files.includes('crds/scanpolicies.securestack.io.yaml'));
    assert.deepEqual(files.filter((file) => /^(test|dist\/test|bench|tools|operator)\//.test(file) || file.endsWith('.ts') && !file.endsWith('.d.ts')), [], 'no tests, benchmarks, dev tools or sources');

    const prefix = path.join(dir, 'install');
    const installed = sh(npm, ['install', '--prefix', prefix, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(dir, info.filename)], dir);
    assert.equal(installed.status, 0, `npm install of the tarball (needs the npm registry or its cache): ${installed.stderr}`);
    const bin = path.join(prefix, 'node_modules', '.bin', 'securestack');
    const version = sh(bin, ['version'], dir);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^securestack \d+\.\d+\.\d+\n$/);
    writeFileSync(path.join(dir, 'policy.yaml'), policy);
    writeFileSync(path.join(dir, 'pod.yaml'), privileged);
    const audit = sh(bin, ['audit', '-p', 'policy.yaml', 'pod.yaml'], dir);
    assert.equal(audit.status, 1, audit.stderr);
    assert.match(audit.stdout, /\[disallow-privileged\] spec\.containers\[0\]\.securityContext\.privileged/);
    // No dev dependency came along (TypeScript, eslint): the command needs none. (Some @types
    // packages do: @kubernetes/client-node depends on them.)
    assert.deepEqual(readdirSync(path.join(prefix, 'node_modules')).filter((name) => ['typescript', 'eslint', 'typescript-eslint', '@eslint'].includes(name)), []);
  });

  it('runs as `npx securestack` from the repository', () => {
    const result = sh(npm, ['exec', '--yes', '--', 'securestack', 'rules', 'list', '-o', 'name'], root);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^disallow-host-process\n/);
  });
});
