// bench/schedules: 1,000 ScheduledScans due in the same minute (issue 11).
//
//   bash bench/schedules.sh        (compiles, starts the test plane, runs this, stops the plane)
//
// Creates SECURESTACK_BENCH_SCHEDULES (1,000) ScheduledScans over 10 namespaces, all with the same
// `M H * * *` schedule in UTC for a minute at least 100 s ahead, each with an imageScanTemplate.
// One operator runs the scheduledscan controller (SECURESTACK_CONTROLLERS=scheduledscan, so the
// 1,000 ImageScans it creates are not scanned: this measures the scheduling, not the scanner).
// Measures: when each run's ImageScan appeared (a list every 250 ms, first-seen time), the last
// one after the due minute, that every ScheduledScan has exactly one run for the minute and its
// lastScheduleTime, and the controller's RSS every 100 ms. Prints Markdown for docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageScan, ScheduledScan } from '../operator/api/types.generated';
import { imageScanType, scheduledScanType } from '../operator/api/resources';
import { KubeClient } from '../operator/platform/kube/client';
import { runName } from '../operator/features/schedules/runs';
import { rssMiB } from './memory';
import { kubectl } from '../test/support/cluster';
import { ensureCrds } from '../test/support/crds';
import { startOperator } from '../test/support/operator';

const total = Number(process.env.SECURESTACK_BENCH_SCHEDULES ?? 1000);
const namespaceCount = 10;
const concurrency = 16;

async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]);
  }));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<void> {
  await ensureCrds();
  const client = KubeClient.fromDefault();
  const tag = randomBytes(3).toString('hex');
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `bench-sched-${tag}-${i}`);
  for (const namespace of namespaces) await kubectl(['create', 'namespace', namespace]);
  const home = `bench-sched-${tag}-home`;
  await kubectl(['create', 'namespace', home]);

  // A minute at least 100 s ahead: time to create everything and let the first reconciles settle.
  const due = Math.ceil((Date.now() + 100_000) / 60_000) * 60_000;
  const at = new Date(due);
  const schedule = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
  const items = Array.from({ length: total }, (_, i) => ({ namespace: namespaces[i % namespaceCount] ?? '', name: `nightly-${i}` }));

  const operator = startOperator({ identity: `bench-schedules-${tag}`, namespace: home, leaseName: 'bench-schedules', env: { SECURESTACK_CONTROLLERS: 'scheduledscan', SECURESTACK_LOG_LEVEL: 'info' } });
  const pid = operator.child.pid ?? 0;
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMiB(pid)), 100);
  try {
    await operator.metricsPort();
    const createStart = Date.now();
    await inParallel(items, (item) => client.createCustom(scheduledScanType, {
      apiVersion: 'securestack.io/v1alpha1', kind: 'ScheduledScan', metadata: { name: item.name, namespace: item.namespace },
      spec: { schedule, timeZone: 'UTC', imageScanTemplate: { spec: { image: `registry.example.com/team/app-${item.name}:1.0` } } },
    } satisfies ScheduledScan));
    const createMs = Date.now() - createStart;
    // Every ScheduledScan has its first status (nextScheduleTime) before the minute.
    for (;;) {
      const listed = await client.listCustom<ScheduledScan>(scheduledScanType, {});
      const ready = listed.filter((object) => object.metadata.namespace?.startsWith(`bench-sched-${tag}`) && object.status?.nextScheduleTime === at.toISOString().replace(/\.\d{3}Z$/, 'Z')).length;
      if (ready >= total) break;
      if (Date.now() > due - 5_000) throw new Error(`only ${ready} of ${total} ScheduledScans had their status before the due minute`);
      await sleep(1_000);
    }
    const beforeDue = Math.max(...samples);
    await sleep(Math.max(0, due - Date.now()));

    const seen = new Map<string, number>();
    const deadline = due + 90_000;
    while (seen.size < total && Date.now() < deadline) {
      const listed = await Promise.all(namespaces.map((namespace) => client.listCustom<ImageScan>(imageScanType, { namespace })));
      const now = Date.now();
      for (const scan of listed.flat()) if (!seen.has(`${scan.metadata.namespace}/${scan.metadata.name}`)) seen.set(`${scan.metadata.namespace}/${scan.metadata.name}`, now);
      await sleep(250);
    }
    const delays = [...seen.values()].map((time) => (time - due) / 1000).sort((a, b) => a - b);
    // Let the status writes land, then check every ScheduledScan: one run, named for the minute.
    await sleep(5_000);
    const scans = (await Promise.all(namespaces.map((namespace) => client.listCustom<ImageScan>(imageScanType, { namespace })))).flat();
    const expected = new Set(items.map((item) => `${item.namespace}/${runName(item.name, due)}`));
    const unexpected = scans.filter((scan) => !expected.has(`${scan.metadata.namespace}/${scan.metadata.name}`)).length;
    const scheduled = (await client.listCustom<ScheduledScan>(scheduledScanType, {})).filter((object) => object.metadata.namespace?.startsWith(`bench-sched-${tag}`));
    const recorded = scheduled.filter((object) => object.status?.lastScheduleTime === at.toISOString().replace(/\.\d{3}Z$/, 'Z')).length;
    const peak = Math.max(...samples);
    const started = await operator.metric('securestack_scheduledscan_runs_total', { result: 'started' });

    console.log(`## ScheduledScans due in the same minute (\`bash bench/schedules.sh\`, ${new Date().toISOString().slice(0, 10)})\n`);
    console.log('| what | measured |');
    console.log('|---|---|');
    console.log(`| ScheduledScans (all \`${schedule}\` UTC) | ${total} in ${namespaceCount} namespaces, created in ${(createMs / 1000).toFixed(1)} s |`);
    console.log(`| runs seen after the due minute | ${seen.size} of ${total} |`);
    console.log(`| first-seen delay after the minute (list every 250 ms) | p50 ${percentile(delays, 50).toFixed(2)} s, p99 ${percentile(delays, 99).toFixed(2)} s, last ${(delays.at(-1) ?? NaN).toFixed(2)} s |`);
    console.log(`| run objects not named for the minute (a run twice or a stray) | ${unexpected} |`);
    console.log(`| ScheduledScans whose lastScheduleTime is the minute | ${recorded} of ${total} |`);
    console.log(`| securestack_scheduledscan_runs_total{result="started"} | ${started} |`);
    console.log(`| controller RSS | peak ${peak.toFixed(1)} MiB (${beforeDue.toFixed(1)} MiB before the minute) |`);
  } finally {
    clearInterval(sampler);
    await operator.stop('SIGTERM');
    await Promise.all([...namespaces, home].map((namespace) => kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFail: true })));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exit(1);
});
