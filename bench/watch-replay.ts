// bench/watch-replay: watch events replayed with 10,000 ImageScans and no changes.
//
//   bash bench/watch-replay.sh        (compiles, starts the test plane, runs this, stops the plane)
//
// Creates 10,000 ImageScans (no operator runs, so nothing changes them), then runs the operator's
// Informer on them with the API server asked to end every watch after SECURESTACK_BENCH_WATCH_SECONDS
// (default 5 s instead of its 30-60 min) for SECURESTACK_BENCH_REPLAY_SECONDS (default 60 s): every
// watch end is one the API server would do about once an hour per kind. Prints the lists, watch
// ends and events after the first sync (a replaying client would deliver 10,000 events per watch
// end), and the process's RSS with the 10,000 objects cached.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { imageScanType } from '../operator/api/resources';
import { collectionPath, KubeClient } from '../operator/platform/kube/client';
import { Informer } from '../operator/platform/kube/informer';
import { rssMiB } from './memory';
import { kubeconfigPath } from '../test/support/cluster';

const objects = Number(process.env.SECURESTACK_BENCH_OBJECTS ?? 10_000);
const watchSeconds = Number(process.env.SECURESTACK_BENCH_WATCH_SECONDS ?? 5);
const runSeconds = Number(process.env.SECURESTACK_BENCH_REPLAY_SECONDS ?? 60);
const concurrency = 16;

async function createAll(client: KubeClient, namespace: string, label: string): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < objects; i = next++) {
      await client.createCustom(imageScanType, {
        apiVersion: 'securestack.io/v1alpha1',
        kind: 'ImageScan',
        metadata: { name: `scan-${i}`, namespace, labels: { 'securestack.io/bench': label } },
        spec: { image: `registry.example.com/team-${i % 50}/service-${i % 500}:1.${i % 7}.0` },
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  const client = KubeClient.fromFile(kubeconfigPath());
  const label = randomBytes(4).toString('hex');
  const namespace = `bench-replay-${label}`;
  await client.request('create namespaces', 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  try {
    const createSeconds = await createAll(client, namespace, label);
    process.stdout.write(`created ${objects} ImageScans in ${createSeconds.toFixed(1)} s\n`);
    const before = rssMiB();
    const informer = new Informer(client, { path: collectionPath(imageScanType), labelSelector: `securestack.io/bench=${label}`, watchTimeoutSeconds: watchSeconds });
    let events = 0;
    informer.addListener(() => events++);
    informer.start();
    await informer.waitForSync();
    const synced = { ...informer.stats, events };
    await sleep(runSeconds * 1000);
    const after = { ...informer.stats, events };
    informer.stop();
    const watchEnds = after.watches - synced.watches;
    const replayed = after.events - synced.events;
    process.stdout.write([
      '',
      `| what | figure |`,
      `|---|---|`,
      `| objects cached | ${[...informer.values()].length} |`,
      `| watch ends in ${runSeconds} s (the API server asked to end each after ${watchSeconds} s) | ${watchEnds} |`,
      `| lists after the first sync | ${after.lists - synced.lists} |`,
      `| events delivered after the first sync (replayed) | ${replayed} |`,
      `| events a client that re-watches without a resourceVersion would have replayed | ${watchEnds * objects} |`,
      `| watch errors | ${after.errors} |`,
      `| RSS before the informer / with ${objects} objects cached (metadata) | ${before} / ${rssMiB()} MiB |`,
      '',
    ].join('\n'));
  } finally {
    await client.request('delete namespaces', 'DELETE', `/api/v1/namespaces/${namespace}`).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
