// bench/scan: 1,000 ImageScans over 50 unique digests on the test plane, without and with Redis.
//
//   bash bench/scan.sh            (starts the plane, builds, runs this, prints and records figures)
//
// Phase 1 (cold): 1,000 ImageScans (20 per digest, spread over 5 namespaces) created at once;
// counts the scan Jobs (must be 50) and the time until all are Completed.
// Phase 2 (warm): 200 more ImageScans of the same digests, created one at a time; each one's
// time from the API create to Completed, from watch events, is a cache hit (p50, p99).
// Then the controller's RSS. The real Trivy scans through the node player, as in the tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { imageScanType } from '../operator/api/resources';
import { KubeClient } from '../operator/platform/kube/client';
import { operatorNodeFlags } from '../operator/platform/node-flags';
import { kubectl, kubeconfigPath, repoRoot } from '../test/support/cluster';
import { runDir } from '../test/support/nodeplayer';
import { heapMiB, rssByMapping, rssMiB } from './memory';
import { freePort, pushUniqueImage, requireScanEnvironment, scanOperatorEnv, type ScanEnvironment } from '../test/support/scanenv';

const digests = 50;
const coldScans = 1_000;
const warmScans = 200;
const namespaces = 5;

interface Figures {
  mode: string;
  jobs: number;
  coldSeconds: number;
  warmP50Ms: number;
  warmP99Ms: number;
  rssMiB: number;
  /** RSS once quiet for 75 s: the report parser's worker has ended (it does after 60 s idle). */
  quietRssMiB: number;
  quietHeap: string;
  /** The quiet RSS by kind of mapping (MiB): brk heap, anonymous, the node binary, ... */
  quietMappings: string;
}

/**
 * 50 images per run: the Debian fixture plus one small unique layer each, so every digest differs,
 * also from the other run's (whose results the operator would otherwise rightly reuse).
 */
function pushImages(env: ScanEnvironment, run: string): string[] {
  return Array.from({ length: digests }, (_, i) => pushUniqueImage(env, `bench/${run}-app-${i}`, `bench ${run} image ${i} ${Date.now()}`));
}

function startOperator(env: ScanEnvironment, namespace: string, reportPort: number, metricsPort: number, extra: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...operatorNodeFlags, path.join(repoRoot(), 'dist/operator/main.js')], {
    env: {
      ...process.env,
      KUBECONFIG: kubeconfigPath(),
      ...scanOperatorEnv(env, reportPort, extra),
      SECURESTACK_NAMESPACE: namespace,
      SECURESTACK_LEASE_NAME: `bench-${namespace}`,
      SECURESTACK_METRICS_PORT: String(metricsPort),
      SECURESTACK_BIND_ADDRESS: '127.0.0.1',
      SECURESTACK_WORKLOAD_SCANNING: 'false',
      SECURESTACK_LOG_LEVEL: 'warn',
      SECURESTACK_WORKERS: '8',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function manifest(name: string, image: string): Record<string, unknown> {
  return { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name }, spec: { image } };
}

async function createAll(namespace: string, items: Array<Record<string, unknown>>): Promise<void> {
  await kubectl(['apply', '-f', '-'], { namespace, input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), timeoutMs: 300_000 });
}

async function countCompleted(prefix: string): Promise<number> {
  const out = await kubectl(['get', 'imagescans', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.namespace} {.status.phase}{"\\n"}{end}'], { timeoutMs: 120_000 });
  return out.stdout.split('\n').filter((line) => line.startsWith(prefix) && line.endsWith('Completed')).length;
}

async function scanJobs(prefix: string): Promise<number> {
  const out = await kubectl(['get', 'jobs', '-A', '-l', 'securestack.io/component=scanner', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}{"\\n"}{end}']);
  return out.stdout.split('\n').filter((line) => line.startsWith(prefix)).length;
}


function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Create → Completed latency of each warm ImageScan, from watch events (not polling). */
async function warmLatencies(namespace: string, images: string[]): Promise<number[]> {
  const client = KubeClient.fromFile(kubeconfigPath());
  const created = new Map<string, number>();
  const done = new Map<string, number>();
  const stopWatch = client.watchPath(`/apis/securestack.io/v1alpha1/namespaces/${namespace}/imagescans`, { resourceVersion: '' }, (_type, object: { metadata?: { name?: string }; status?: { phase?: string } }) => {
    const name = object.metadata?.name ?? '';
    if (object.status?.phase === 'Completed' && !done.has(name)) done.set(name, performance.now());
  }, () => undefined);
  // Created through the API, not kubectl: a kubectl process start (and its occasional discovery
  // refresh) would be measured as the operator's latency.
  for (let i = 0; i < warmScans; i++) {
    const name = `warm-${i}`;
    created.set(name, performance.now());
    await client.createCustom(imageScanType, { ...manifest(name, images[i % images.length] ?? ''), metadata: { name, namespace } });
  }
  const deadline = Date.now() + 120_000;
  while (done.size < warmScans && Date.now() < deadline) await sleep(200);
  stopWatch();
  return [...created].filter(([name]) => done.has(name)).map(([name, at]) => (done.get(name) ?? at) - at);
}

/**
 * With SECURESTACK_BENCH_HEAP_SNAPSHOT=1 (and NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2, which the
 * operator inherits), asks the quiet operator for a heap snapshot: Node writes it to the working
 * directory. For finding what the heap holds; adds nothing to the figures.
 */
async function heapSnapshot(operator: ChildProcess): Promise<Record<string, never>> {
  if (process.env.SECURESTACK_BENCH_HEAP_SNAPSHOT !== '1' || !operator.pid) return {};
  operator.kill('SIGUSR2');
  await sleep(30_000);
  return {};
}

async function run(env: ScanEnvironment, mode: 'memory' | 'redis'): Promise<Figures> {
  const images = pushImages(env, mode);
  process.stdout.write(`${mode}: pushed ${images.length} images with unique digests to ${env.registry}\n`);
  const prefix = `bench-${mode}-`;
  const spaces = Array.from({ length: namespaces }, (_, i) => `${prefix}${i}`);
  for (const ns of [...spaces, `${prefix}op`, `${prefix}warm`]) await kubectl(['create', 'namespace', ns]);
  const extra: Record<string, string> = {};
  if (mode === 'redis') {
    const url = readFileSync(path.join(runDir(), 'redis-url'), 'utf8').trim();
    spawnSync('redis-cli', ['-u', url, 'flushall']);
    extra.SECURESTACK_REDIS_URL = url;
  }
  const metricsPort = await freePort();
  const operator = startOperator(env, `${prefix}op`, await freePort(), metricsPort, extra);
  try {
    const started = performance.now();
    await Promise.all(
      spaces.map((ns, n) =>
        createAll(ns, Array.from({ length: coldScans / namespaces }, (_, i) => manifest(`scan-${i}`, images[(i * namespaces + n) % images.length] ?? ''))),
      ),
    );
    const deadline = Date.now() + 30 * 60_000;
    while ((await countCompleted(prefix)) < coldScans) {
      if (Date.now() > deadline) throw new Error(`${mode}: not all ${coldScans} ImageScans completed in 30 minutes`);
      await sleep(2_000);
    }
    const coldSeconds = (performance.now() - started) / 1000;
    const jobs = await scanJobs(prefix);
    const latencies = await warmLatencies(`${prefix}warm`, images);
    if (latencies.length < warmScans) throw new Error(`${mode}: only ${latencies.length} of ${warmScans} warm ImageScans completed`);
    const figures = {
      mode,
      jobs,
      coldSeconds: Math.round(coldSeconds * 10) / 10,
      warmP50Ms: Math.round(percentile(latencies, 50)),
      warmP99Ms: Math.round(percentile(latencies, 99)),
      rssMiB: rssMiB(operator.pid ?? 0),
      quietRssMiB: await sleep(75_000).then(() => rssMiB(operator.pid ?? 0)),
      quietHeap: await heapMiB(metricsPort),
      quietMappings: rssByMapping(operator.pid ?? 0),
      ...(await heapSnapshot(operator)),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    return figures;
  } finally {
    operator.kill('SIGTERM');
    await kubectl(['delete', 'namespace', ...spaces, `${prefix}op`, `${prefix}warm`, '--wait=true', '--timeout=300s'], { allowFail: true, timeoutMs: 320_000 });
  }
}

async function main(): Promise<void> {
  const env = await requireScanEnvironment();
  // SECURESTACK_BENCH_MODES=redis runs one mode only, when only its figures are wanted.
  const modes = (process.env.SECURESTACK_BENCH_MODES ?? 'memory,redis').split(',').filter((m): m is 'memory' | 'redis' => m === 'memory' || m === 'redis');
  const results: Figures[] = [];
  for (const mode of modes) results.push(await run(env, mode));
  process.stdout.write('\n| cache | scan Jobs | 1,000 scans done (s) | cache hit p50 (ms) | cache hit p99 (ms) | controller RSS after the burst / 75 s later (MiB) |\n|---|---|---|---|---|---|\n');
  for (const r of results) process.stdout.write(`| ${r.mode} | ${r.jobs} | ${r.coldSeconds} | ${r.warmP50Ms} | ${r.warmP99Ms} | ${r.rssMiB} / ${r.quietRssMiB} (${r.quietHeap}; by mapping: ${r.quietMappings}) |\n`);
  if (results.some((r) => r.jobs !== digests)) {
    process.stderr.write(`FAIL: expected ${digests} scan Jobs per run\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/scan: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
