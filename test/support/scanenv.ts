// What the image-scanning tests need from the test plane (test/env/start.sh): the loopback
// registries and their fixture images, the Trivy server, and a configured operator.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createTestNamespace, deleteNamespace, kubectl, repoRoot, requireCluster, waitFor } from './cluster';
import { ensureCrds } from './crds';
import type { OperatorProcess } from './operator';
import { requireNodePlayer, runDir } from './nodeplayer';

const HOW_TO = 'run `npm test` (it starts the plane with registries, the Trivy server and the node player) or `bash test/env/start.sh`';

function readRunFile(name: string): string {
  const file = path.join(runDir(), name);
  if (!existsSync(file)) throw new Error(`${file} is missing: the scan test environment is not running; ${HOW_TO}`);
  return readFileSync(file, 'utf8').trim();
}

export interface ScanEnvironment {
  /** host:port of the anonymous registry. */
  registry: string;
  authRegistry: string;
  /** image reference → digest, as pushed by images.sh. */
  images: Record<string, string>;
  trivyServer: string;
}

/** Fails, with instructions, unless the plane, the node player and the CRDs are ready; then the environment. */
export async function requireScanEnvironment(): Promise<ScanEnvironment> {
  await requireCluster();
  await requireNodePlayer();
  await ensureCrds();
  return scanEnvironment();
}

export function scanEnvironment(): ScanEnvironment {
  return {
    registry: new URL(readRunFile('registry-url')).host,
    authRegistry: new URL(readRunFile('auth-registry-url')).host,
    images: JSON.parse(readRunFile('images.json')) as Record<string, string>,
    trivyServer: readRunFile('trivy-server-url'),
  };
}

/** The digest images.sh recorded for a fixture reference such as `fixtures/debian-app:1`. */
export function fixtureDigest(env: ScanEnvironment, reference: string): string {
  const found = Object.entries(env.images).find(([ref]) => ref.endsWith(`/${reference}`) && ref.startsWith(env.registry));
  if (!found) throw new Error(`no fixture image ${reference} in images.json: ${JSON.stringify(env.images)}`);
  return found[1];
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Operator settings for scanning against the test plane; the report endpoint on `reportPort`. */
export function scanOperatorEnv(env: ScanEnvironment, reportPort: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SECURESTACK_TRIVY_SERVER: env.trivyServer,
    SECURESTACK_INSECURE_REGISTRIES: `${env.registry},${env.authRegistry}`,
    SECURESTACK_REPORT_PORT: String(reportPort),
    SECURESTACK_REPORT_URL: `https://127.0.0.1:${reportPort}`,
    SECURESTACK_SCANNER_IMAGE: 'docker.io/aquasec/trivy:0.74.0',
    SECURESTACK_UPLOADER_IMAGE: 'ghcr.io/securestack/securestack:0.1.0',
    ...extra,
  };
}

/** Settings that turn on an operator's webhook on `port`, called by URL, keeping `configuration`. */
export function webhookEnv(port: number, configuration: string): Record<string, string> {
  return {
    SECURESTACK_WEBHOOK_ENABLED: 'true',
    SECURESTACK_WEBHOOK_PORT: String(port),
    SECURESTACK_WEBHOOK_URL: `https://127.0.0.1:${port}/validate`,
    SECURESTACK_WEBHOOK_CONFIGURATION: configuration,
  };
}

export interface ScanObject {
  metadata: { name: string; namespace: string; generation: number };
  status?: {
    phase?: string;
    digest?: string;
    attempts?: number;
    jobName?: string;
    queuePosition?: number;
    observedGeneration?: number;
    summary?: { critical: number; high: number; medium: number; low: number; unknown: number; fixable: number };
    topFindings?: Array<{ id: string; package: string; severity: string; installedVersion?: string; fixedVersion?: string; score?: number; title?: string }>;
    componentCount?: number;
    sbomRef?: { name: string; parts: number };
    scanner?: { name?: string; version?: string; dbUpdatedAt?: string };
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  };
}

export async function getScan(namespace: string, name: string): Promise<ScanObject | undefined> {
  const result = await kubectl(['get', 'imagescan', name, '-o', 'json'], { namespace, allowFail: true });
  return result.code === 0 ? (JSON.parse(result.stdout) as ScanObject) : undefined;
}

export function imageScanManifest(name: string, image: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name }, spec: { image, ...spec } });
}

/** Scan Jobs for a digest in every namespace. */
export async function scanJobsForDigest(digest: string): Promise<string[]> {
  const label = `securestack.io/digest=${digest.replace(/^sha256:/, '').slice(0, 63)}`;
  const result = await kubectl(['get', 'jobs', '-A', '-l', label, '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}']);
  return result.stdout.split('\n').filter((line) => line !== '');
}

function craneBinary(): string {
  const built = spawnSync('bash', [path.join(repoRoot(), 'test', 'env', 'build.sh')], { encoding: 'utf8' });
  const bin = built.stdout.trim().split('\n').pop() ?? '';
  const crane = path.join(bin, 'crane');
  if (built.status !== 0 || !existsSync(crane)) throw new Error(`crane is missing: bash test/env/build.sh builds it (${built.stderr.slice(-300)})`);
  return crane;
}

/**
 * Pushes `<registry>/<repository>:1`: the Debian fixture plus one small layer holding `marker`, so
 * the image has a digest no other test has scanned (a fresh scan, never a cache hit). With
 * `base: null` the marker layer is the whole image (linux/amd64, no packages): Trivy finds nothing in it.
 * `files` go into the same layer (e.g. another var/lib/dpkg/status: other package versions).
 */
export function pushUniqueImage(
  env: ScanEnvironment,
  repository: string,
  marker: string = randomUUID(),
  target: { registry: string; dockerConfig?: string } = { registry: env.registry },
  base: string | null = `${env.registry}/fixtures/debian-app:1`,
  files: Readonly<Record<string, string>> = {},
): string {
  const work = mkdtempSync(path.join(tmpdir(), 'securestack-image-'));
  try {
    // `files` (path in the image → content) replace the base's files of the same path.
    for (const [file, content] of Object.entries({ ...files, 'etc/securestack-test-id': `${marker}\n` })) {
      mkdirSync(path.join(work, 'layer', path.dirname(file)), { recursive: true });
      writeFileSync(path.join(work, 'layer', file), content);
    }
    const tar = path.join(work, 'layer.tar');
    const tops = [...new Set(['etc', ...Object.keys(files).map((file) => file.split('/')[0] ?? '')])].filter((top) => top !== '');
    const tarred = spawnSync('tar', ['-C', path.join(work, 'layer'), '--owner=0', '--group=0', '--mtime=@0', '-cf', tar, ...tops], { encoding: 'utf8' });
    if (tarred.status !== 0) throw new Error(`tar failed: ${tarred.stderr}`);
    const ref = `${target.registry}/${repository}:1`;
    // crane takes registry credentials from $DOCKER_CONFIG/config.json.
    let craneEnv = process.env;
    if (target.dockerConfig) {
      mkdirSync(path.join(work, 'docker'));
      writeFileSync(path.join(work, 'docker', 'config.json'), readFileSync(target.dockerConfig));
      craneEnv = { ...process.env, DOCKER_CONFIG: path.join(work, 'docker') };
    }
    const crane = craneBinary();
    const pushed = spawnSync(crane, ['--insecure', 'append', ...(base === null ? [] : ['-b', base]), '-f', tar, '-t', ref], { encoding: 'utf8', env: craneEnv });
    if (pushed.status !== 0) throw new Error(`crane append failed: ${pushed.stderr}`);
    if (base === null) {
      // An image from scratch has an empty platform in its config; give it the one the fixtures have.
      const mutated = spawnSync(crane, ['--insecure', 'mutate', '--set-platform', 'linux/amd64', '-t', ref, ref], { encoding: 'utf8', env: craneEnv });
      if (mutated.status !== 0) throw new Error(`crane mutate failed: ${mutated.stderr}`);
    }
    return ref;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Waits for an ImageScan's phase; on timeout the error carries its status and the operator's logs. */
export async function waitForPhase(namespace: string, name: string, phase: string, operator: OperatorProcess, timeoutMs = 120_000): Promise<ScanObject> {
  try {
    return await waitFor(`ImageScan ${namespace}/${name} to be ${phase}`, async () => {
      const scan = await getScan(namespace, name);
      if (scan?.status?.phase === 'Failed' && phase !== 'Failed') throw new Error(`ImageScan failed: ${JSON.stringify(scan.status.conditions)}`);
      return scan?.status?.phase === phase ? scan : undefined;
    }, { timeoutMs, intervalMs: 250 });
  } catch (err) {
    const scan = await getScan(namespace, name);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${JSON.stringify(scan?.status)}\n${operator.describe()}`);
  }
}

/**
 * The namespaces and operator processes a test file creates. Operators are stopped after every
 * test: each leads its own Lease and would otherwise reconcile the next test's objects too.
 */
export class TestResources {
  readonly operators: OperatorProcess[] = [];
  private readonly namespaces: string[] = [];

  async namespace(prefix: string): Promise<string> {
    const name = await createTestNamespace(prefix);
    this.namespaces.push(name);
    return name;
  }

  track(operator: OperatorProcess): OperatorProcess {
    this.operators.push(operator);
    return operator;
  }

  async stopOperators(): Promise<void> {
    await Promise.all(this.operators.splice(0).map((operator) => operator.stop('SIGKILL')));
  }

  async deleteNamespaces(): Promise<void> {
    await Promise.all(this.namespaces.splice(0).map((namespace) => deleteNamespace(namespace)));
  }
}
