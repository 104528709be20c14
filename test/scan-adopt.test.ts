// The ImageScan reconciler adopting a scan Job that already ended, on the real plane: a leader
// created the attempt's Job, its status write was lost, the Job failed, and a new leader whose
// cache has not seen the Job yet creates it again. The create answers AlreadyExists; the Job's
// end is recorded as the attempt's outcome instead of waiting for a Job that will never report,
// and no second Job starts. (In a running operator this is a race between the create and the Job
// informer; here the reconciler is called directly so the race is taken the same way every time.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { ImageScan } from '../operator/api/types.generated';
import { imageScanType } from '../operator/api/resources';
import { MemoryLru } from '../operator/features/scan/cache';
import { ScanDispatcher } from '../operator/features/scan/dispatcher';
import { ImageScanReconciler } from '../operator/features/scan/imagescan';
import { createScanMetrics } from '../operator/features/scan/metrics';
import { RegistryResolver } from '../operator/features/scan/resolver';
import { ResultCache } from '../operator/features/scan/result-cache';
import { ResultStore } from '../operator/features/scan/results';
import { loadConfig } from '../operator/platform/config';
import { KubeClient } from '../operator/platform/kube/client';
import { createLogger } from '../operator/platform/log';
import { RegistryClient } from '../operator/platform/registry/client';
import { EventRecorder } from '../operator/platform/runtime/events';
import type { ReconcileContext } from '../operator/platform/runtime/reconciler';
import { createTestNamespace, deleteNamespace, kubeconfigPath, kubectl, waitFor } from './support/cluster';
import { imageScanManifest, requireScanEnvironment, scanOperatorEnv, type ScanEnvironment } from './support/scanenv';

describe('adopting a scan Job that already ended (real plane)', () => {
  let env: ScanEnvironment;
  let ns = '';

  before(async () => {
    env = await requireScanEnvironment();
    process.env.KUBECONFIG = kubeconfigPath();
    ns = await createTestNamespace('adopt');
  });
  after(async () => {
    if (ns) await deleteNamespace(ns);
  });

  it('records the adopted Job\'s failure as the attempt\'s outcome and starts no second Job', async () => {
    const client = KubeClient.fromDefault();
    const config = loadConfig([], { ...process.env, ...scanOperatorEnv(env, 1, { SECURESTACK_SCAN_RETRIES: '0' }), SECURESTACK_NAMESPACE: ns });
    const log = createLogger('error');
    // Every part real; only the dispatcher is each leader's own, as after a failover.
    const leader = (): ImageScanReconciler =>
      new ImageScanReconciler({
        client,
        events: new EventRecorder(client, 'securestack-controller', 'adopt-test'),
        config,
        dispatcher: new ScanDispatcher(config.maxConcurrentScans),
        results: new ResultStore(client),
        cache: new ResultCache(new MemoryLru(10, 1024 * 1024), config.rescanAfterMs),
        resolver: new RegistryResolver(client, new RegistryClient({ insecureRegistries: config.insecureRegistries })),
        metrics: createScanMetrics(new Registry()),
        reportCaPem: () => '',
      });
    const key = { namespace: ns, name: 'adopt' };
    const context = async (): Promise<ReconcileContext> => {
      const cached = await client.getCustom<ImageScan>(imageScanType, key);
      return { log, signal: new AbortController().signal, reconcileId: 'adopt', ...(cached ? { cached } : {}) };
    };
    const status = async (): Promise<ImageScan['status']> => (await client.getCustom<ImageScan>(imageScanType, key))?.status;
    const jobs = async (): Promise<V1Job[]> => (JSON.parse((await kubectl(['get', 'jobs', '-l', 'securestack.io/imagescan=adopt', '-o', 'json'], { namespace: ns })).stdout) as { items: V1Job[] }).items;

    // The test shell image runs `sh -c image ...` with no `image` command: it exits 127.
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('adopt', `${env.registry}/fixtures/debian-app:1`, { scanner: { image: 'securestack.test/shell:1' } }) });

    // 1. The first leader creates the attempt's Job and records it.
    const first = leader();
    for (let pass = 0; pass < 5 && !(await status())?.jobName; pass++) await first.reconcile(key, await context());
    const recorded = await status();
    const jobName = recorded?.jobName ?? '';
    assert.equal(recorded?.phase, 'Scanning');
    assert.ok(jobName, 'the Job is recorded');

    // 2. That status write is lost: the ImageScan says Queued, same attempt and round, no Job.
    await kubectl(['patch', 'imagescan', 'adopt', '--subresource=status', '--type=json', '-p', JSON.stringify([
      { op: 'replace', path: '/status/phase', value: 'Queued' },
      { op: 'remove', path: '/status/jobName' },
    ])], { namespace: ns });

    // 3. The Job fails meanwhile.
    await waitFor('the Job to fail', async () => ((await jobs())[0]?.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True') ? true : undefined), { timeoutMs: 90_000, intervalMs: 500 });

    // 4. A new leader that has not seen the Job: its create answers AlreadyExists.
    const second = leader();
    assert.deepEqual(await second.reconcile(key, await context()), { requeueAfterMs: 1 }, 'an adopted Job that ended: look again at once');
    assert.equal((await status())?.jobName, jobName, 'the adopted Job is recorded');
    await second.reconcile(key, await context());
    const failed = await status();
    assert.equal(failed?.phase, 'Failed');
    assert.equal(failed?.conditions?.find((c) => c.type === 'Scanned')?.reason, 'ScanJobFailed');
    assert.deepEqual((await jobs()).map((job) => job.metadata?.name), [jobName], 'no second Job');
  });
});
