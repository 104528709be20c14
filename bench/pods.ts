// bench/pods: the controller's memory with 10,000 Pods on kwok nodes and workload scanning on.
//
//   bash bench/pods.sh        (compiles, starts the test plane, runs this, stops the plane)
//
// Starts one operator with workload scanning on for the bench's namespaces, samples its RSS, then
// creates SECURESTACK_BENCH_PODS (default 10,000) Pods bound to the kwok node, shaped like real
// ones (labels, annotations, ten env vars, two containers), over SECURESTACK_BENCH_NAMESPACES
// (default 20) namespaces, each running the three fixture images. kwok marks them Running. Once
// every Pod is cached and the workload reconciles settle, it samples RSS for 30 s and prints the
// figures as Markdown for docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient } from '../operator/platform/kube/client';
import { heapMiB, rssMiB } from './memory';
import { kubeconfigPath } from '../test/support/cluster';
import { startOperator } from '../test/support/operator';
import { freePort, requireScanEnvironment, scanOperatorEnv } from '../test/support/scanenv';

const podCount = Number(process.env.SECURESTACK_BENCH_PODS ?? 10_000);
const namespaceCount = Number(process.env.SECURESTACK_BENCH_NAMESPACES ?? 20);
const concurrency = 16;
const kwokNode = 'kwok-node-0';

function pod(i: number, namespace: string, image: string): Record<string, unknown> {
  const app = `service-${i % 50}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-7d9f8c6b5-${i.toString(36).padStart(5, '0')}`,
      namespace,
      labels: { app, 'pod-template-hash': '7d9f8c6b5', tier: i % 2 ? 'web' : 'worker' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-01T00:00:00Z', 'checksum/config': 'a'.repeat(64) },
    },
    spec: {
      nodeName: kwokNode,
      tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
      containers: [
        { name: 'app', image, env: Array.from({ length: 10 }, (_, e) => ({ name: `VAR_${e}`, value: 'x'.repeat(40) })), resources: { requests: { cpu: '1m', memory: '1Mi' } } },
        { name: 'sidecar', image },
      ],
    },
  };
}

async function inParallel(count: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < count; i = next++) await work(i);
  }));
}

async function main(): Promise<void> {
  const env = await requireScanEnvironment();
  const client = KubeClient.fromFile(kubeconfigPath());
  // A previous run's namespaces still deleting 10,000 Pods would be measured too: wait them out.
  for (let waited = 0; ; waited++) {
    const { items } = await client.request<{ items: Array<{ metadata?: { name?: string } }> }>('list namespaces', 'GET', '/api/v1/namespaces');
    const leftover = items.filter((item) => item.metadata?.name?.startsWith('bench-pods-')).length;
    if (leftover === 0) break;
    if (waited === 0) process.stdout.write(`waiting for ${leftover} namespaces of an earlier run to go\n`);
    if (waited > 300) throw new Error(`${leftover} bench-pods namespaces still there after 10 minutes`);
    await sleep(2_000);
  }
  const run = randomBytes(3).toString('hex');
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `bench-pods-${run}-${i}`);
  const home = `bench-pods-${run}-op`;
  const images = Object.keys(env.images).filter((ref) => ref.startsWith(`${env.registry}/fixtures/`)).slice(0, 3);
  for (const name of [home, ...namespaces]) await client.request('create namespaces', 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const operator = startOperator({
    identity: `bench-pods-${run}`,
    namespace: home,
    leaseName: 'bench-pods',
    env: scanOperatorEnv(env, await freePort(), { SECURESTACK_WORKLOAD_SCANNING: 'true', SECURESTACK_WORKLOAD_NAMESPACES: namespaces.join(','), SECURESTACK_LOG_LEVEL: 'info' }),
  });
  try {
    await operator.metricsPort();
    await sleep(10_000);
    const pid = operator.child.pid ?? 0;
    const metricsPort = await operator.metricsPort();
    const idle = rssMiB(pid);
    const idleHeap = await heapMiB(metricsPort);
    const started = performance.now();
    await inParallel(podCount, (i) => {
      const namespace = namespaces[i % namespaceCount] ?? '';
      return client.request('create pods', 'POST', `/api/v1/namespaces/${namespace}/pods`, pod(i, namespace, images[i % images.length] ?? ''));
    });
    const createSeconds = (performance.now() - started) / 1000;
    process.stdout.write(`created ${podCount} Pods in ${createSeconds.toFixed(1)} s\n`);
    // kwok marks them Running; the operator's pod index follows. Wait until it has them all.
    const deadline = Date.now() + 15 * 60_000;
    for (;;) {
      const running = await operator.metric('securestack_workload_pods');
      if (running >= podCount) break;
      if (Date.now() > deadline) throw new Error(`the operator indexed ${running} of ${podCount} running Pods in 15 minutes`);
      await sleep(2_000);
    }
    const indexedSeconds = (performance.now() - started) / 1000;
    const samples: number[] = [];
    for (let i = 0; i < 30; i++) {
      samples.push(rssMiB(pid));
      await sleep(1_000);
    }
    const busyHeap = await heapMiB(metricsPort);
    // Then quiet: the report parser's worker ends after 60 s idle, the scans are done.
    await sleep(75_000);
    const settled = rssMiB(pid);
    const imageScans = await client.listCustom({ group: 'securestack.io', version: 'v1alpha1', plural: 'imagescans', kind: 'ImageScan', namespaced: true });
    const ours = imageScans.filter((scan) => namespaces.includes(scan.metadata?.namespace ?? '')).length;
    process.stdout.write([
      '',
      '| what | figure |',
      '|---|---|',
      `| Pods (on ${kwokNode}, ${namespaceCount} namespaces, ${images.length} images) | ${podCount} |`,
      `| created in / indexed by the operator after | ${createSeconds.toFixed(1)} s / ${indexedSeconds.toFixed(1)} s |`,
      `| ImageScans workload scanning made (one per image and namespace) | ${ours} |`,
      `| controller RSS before the Pods | ${idle} MiB (${idleHeap}) |`,
      `| controller RSS with the Pods, max / last of 30 samples | ${Math.max(...samples)} / ${samples.at(-1) ?? NaN} MiB (${busyHeap}) |`,
      `| controller RSS with the Pods, 75 s later (no report worker) | ${settled} MiB (${await heapMiB(metricsPort)}) |`,
      '',
    ].join('\n'));
  } finally {
    await operator.stop('SIGTERM');
    for (const name of [home, ...namespaces]) await client.request('delete namespaces', 'DELETE', `/api/v1/namespaces/${name}`).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
