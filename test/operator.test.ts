// The operator runtime against the real control plane: the ImageScan vertical slice, leader
// election with kill -9 and SIGTERM, and convergence after 409 conflicts.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createTestNamespace, deleteNamespace, kubectl, waitFor } from './support/cluster';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { freePort, pushUniqueImage, requireScanEnvironment, scanEnvironment, scanOperatorEnv } from './support/scanenv';

interface ContainerShape {
  securityContext?: Record<string, unknown>;
  resources?: { requests?: object; limits?: object };
}

interface Job {
  metadata: { name: string; ownerReferences?: Array<{ kind: string; name: string; controller?: boolean; blockOwnerDeletion?: boolean }> };
  spec: {
    activeDeadlineSeconds?: number;
    ttlSecondsAfterFinished?: number;
    template: { spec: { securityContext?: Record<string, unknown>; initContainers?: ContainerShape[]; containers: ContainerShape[] } };
  };
  status?: { succeeded?: number };
}

interface ImageScanObject {
  metadata: { generation: number };
  status?: {
    phase?: string;
    observedGeneration?: number;
    jobName?: string;
    conditions?: Array<{ type: string; status: string; reason: string; lastTransitionTime: string }>;
  };
}

async function getJson<T>(args: string[], namespace?: string): Promise<T | undefined> {
  const result = await kubectl(['get', ...args, '-o', 'json'], { namespace, allowFail: true });
  return result.code === 0 ? (JSON.parse(result.stdout) as T) : undefined;
}

async function jobsOf(namespace: string, scanName: string): Promise<Job[]> {
  const list = await getJson<{ items: Job[] }>(['jobs', '-l', `securestack.io/imagescan=${scanName}`], namespace);
  return list?.items ?? [];
}

function imageScan(name: string, image: string, extra = ''): string {
  return `apiVersion: securestack.io/v1alpha1
kind: ImageScan
metadata:
  name: ${name}
spec:
  image: ${image}
${extra}`;
}

describe('operator against the real control plane', () => {
  let namespace = '';
  const running: OperatorProcess[] = [];

  before(async () => {
    // Scans here run for real (registry, Trivy server, node player), so all of it must be up.
    await requireScanEnvironment();
    namespace = await createTestNamespace('operator');
  });

  // One test's operators never outlive it: each leads its own Lease and would reconcile the next
  // test's objects too.
  afterEach(async () => {
    await Promise.all(running.splice(0).map((process) => process.stop('SIGKILL')));
  });

  after(async () => {
    if (namespace) await deleteNamespace(namespace);
  });

  /** An operator wired to the plane's registry, Trivy server and node player, on free ports. */
  async function launch(identity: string, leaseName: string, env: Record<string, string> = {}): Promise<OperatorProcess> {
    const process = startOperator({ identity, namespace, leaseName, env: scanOperatorEnv(scanEnvironment(), await freePort(), env) });
    running.push(process);
    return process;
  }

  async function waitForScan(name: string): Promise<void> {
    await waitFor(`ImageScan ${name} to complete`, async () => {
      const found = await getJson<ImageScanObject>(['imagescan', name], namespace);
      return found?.status?.phase === 'Completed' ? true : undefined;
    }, { timeoutMs: 90_000 });
  }

  /** A fresh image, so the scan needs a Job of its own rather than an earlier test's result. */
  const freshImage = (name: string): string => pushUniqueImage(scanEnvironment(), `operator-test/${name}`);

  it('creates one restricted, owned scan Job per ImageScan, reports it in status, and the GC removes it with the ImageScan', async () => {
    const operator = await launch('slice-a', 'slice');
    await waitUntilLeading(operator, namespace, 'slice');
    await kubectl(['apply', '-f', '-'], { namespace, input: imageScan('nginx', freshImage('slice')) });

    const job = await waitFor('the scan Job', async () => (await jobsOf(namespace, 'nginx'))[0], { timeoutMs: 30_000 });
    const owner = job.metadata.ownerReferences?.[0];
    assert.equal(owner?.kind, 'ImageScan');
    assert.equal(owner?.name, 'nginx');
    assert.equal(owner?.controller, true);
    const pod = job.spec.template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.deepEqual(pod.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
    const containers = [...(pod.initContainers ?? []), ...pod.containers];
    assert.equal(containers.length, 2, 'the scanner and the uploader');
    for (const container of containers) {
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
      assert.deepEqual(container.securityContext?.capabilities, { drop: ['ALL'] });
      assert.ok(container.resources?.requests && container.resources.limits, 'requests and limits are set');
    }
    assert.equal(job.spec.activeDeadlineSeconds, 600);
    assert.equal(typeof job.spec.ttlSecondsAfterFinished, 'number');

    const scan = await waitFor('ImageScan status to name the Job', async () => {
      const found = await getJson<ImageScanObject>(['imagescan', 'nginx'], namespace);
      return found?.status?.jobName === job.metadata.name ? found : undefined;
    });
    assert.equal(scan.status?.observedGeneration, 1);
    const created = scan.status?.conditions?.find((condition) => condition.type === 'Scanned');
    assert.equal(created?.status, 'Unknown');
    assert.equal(created?.reason, 'JobCreated');

    // The node player runs the pod (Trivy, then the uploader); the Job controller marks the Job
    // Complete; status follows.
    await waitFor('the scan to complete and status to follow', async () => {
      const found = await getJson<ImageScanObject>(['imagescan', 'nginx'], namespace);
      return found?.status?.conditions?.find((condition) => condition.type === 'Scanned' && condition.status === 'True');
    }, { timeoutMs: 90_000 });
    const events = await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=nginx,reason=ScanStarted', '-o', 'name'], { namespace });
    assert.notEqual(events.stdout.trim(), '', 'a ScanStarted Event was recorded');
    assert.equal((await jobsOf(namespace, 'nginx')).length, 1, 'still exactly one Job');

    await kubectl(['delete', 'imagescan', 'nginx', '--wait=true'], { namespace });
    await waitFor('the garbage collector to delete the Job', async () => ((await jobsOf(namespace, 'nginx')).length === 0 ? true : undefined), { timeoutMs: 60_000 });
    assert.ok((await operator.metric('securestack_reconcile_total', { kind: 'ImageScan', result: 'success' })) >= 1);
    await operator.stop();
  });

  it('serves /healthz, /readyz and /metrics with reconcile, queue, leader and process metrics', async () => {
    const operator = await launch('health-a', 'health');
    await waitUntilLeading(operator, namespace, 'health');
    await kubectl(['apply', '-f', '-'], { namespace, input: imageScan('metrics', freshImage('metrics')) });
    await waitFor('a reconcile to be counted', async () => ((await operator.metric('securestack_reconcile_total', { kind: 'ImageScan' })) > 0 ? true : undefined));
    const base = `http://127.0.0.1:${await operator.metricsPort()}`;
    const healthz = await fetch(`${base}/healthz`);
    assert.equal(healthz.status, 200);
    const readyz = await fetch(`${base}/readyz`);
    assert.equal(readyz.status, 200);
    assert.equal((await readyz.text()).trim(), 'leading');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'securestack_reconcile_total',
      'securestack_reconcile_duration_seconds_bucket',
      'securestack_workqueue_depth',
      'securestack_leader 1',
      'process_cpu_user_seconds_total',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.ok(metrics.includes(name), `/metrics has ${name}`);
    }
    await operator.stop();
  });

  it('stops at start with one line naming a bad setting', async () => {
    const operator = await launch('bad-config', 'bad', { SECURESTACK_WORKERS: 'many' });
    assert.equal(await operator.exited, 2);
    assert.equal(operator.stderr(), "securestack: invalid setting SECURESTACK_WORKERS: expected an integer between 1 and 64, got 'many'\n");
  });

  it('only the leader reconciles; kill -9 hands over within 20 s and SIGTERM within 5 s', async () => {
    const lease = 'failover';
    const first = await launch('fail-a', lease);
    await waitUntilLeading(first, namespace, lease);
    const second = await launch('fail-b', lease);
    await second.metricsPort();
    await kubectl(['apply', '-f', '-'], { namespace, input: imageScan('one', freshImage('one')) });
    // Each scan finishes under the leader that started it: its Job uploads to that process.
    await waitForScan('one');
    assert.equal(await second.metric('securestack_reconcile_total'), 0, 'the standby reconciled nothing');
    assert.equal(await second.metric('securestack_leader'), 0);
    assert.equal(await first.metric('securestack_leader'), 1);

    const killedAt = Date.now();
    await first.stop('SIGKILL');
    await waitUntilLeading(second, namespace, lease, 25_000);
    const killTakeoverMs = Date.now() - killedAt;
    assert.ok(killTakeoverMs < 20_000, `takeover after kill -9 took ${killTakeoverMs} ms`);
    await kubectl(['apply', '-f', '-'], { namespace, input: imageScan('two', freshImage('two')) });
    await waitForScan('two');

    const third = await launch('fail-c', lease);
    await third.metricsPort();
    const termAt = Date.now();
    const exitCode = await second.stop('SIGTERM');
    assert.equal(exitCode, 0, 'graceful shutdown exits 0');
    await waitUntilLeading(third, namespace, lease, 10_000);
    const termTakeoverMs = Date.now() - termAt;
    assert.ok(termTakeoverMs < 5_000, `takeover after SIGTERM took ${termTakeoverMs} ms`);
    assert.ok(second.logs.some((line) => line.msg === 'released lease'), 'the old leader released the Lease');
    await kubectl(['apply', '-f', '-'], { namespace, input: imageScan('three', freshImage('three')) });
    await waitForScan('three');
    for (const name of ['one', 'two', 'three']) assert.equal((await jobsOf(namespace, name)).length, 1, `exactly one Job for ${name}`);
    process.stdout.write(`# leader takeover: kill -9 ${killTakeoverMs} ms, SIGTERM ${termTakeoverMs} ms\n`);
    await third.stop();
  });

  it('a reconcile that hits a 409 retries and ends with the observedGeneration of the latest edit', async () => {
    // The delay holds each reconcile between its read and its status write, so the edit below
    // lands in that window and the write fails with 409.
    const operator = await launch('conflict-a', 'conflict', { SECURESTACK_DEBUG_RECONCILE_DELAY: '3s' });
    await waitUntilLeading(operator, namespace, 'conflict');
    await kubectl(['apply', '-f', '-'], { namespace, input: imageScan('edited', freshImage('edited')) });
    await waitFor('the first reconcile to start', () => Promise.resolve(operator.logs.find((line) => line.name === 'edited' && line.msg === 'reconciling')), { timeoutMs: 15_000, intervalMs: 50 });
    await kubectl(['patch', 'imagescan', 'edited', '--type=merge', '-p', '{"spec":{"ignoreUnfixed":true}}'], { namespace });

    const scan = await waitFor('status to reach generation 2', async () => {
      const found = await getJson<ImageScanObject>(['imagescan', 'edited'], namespace);
      return found?.status?.observedGeneration === 2 ? found : undefined;
    }, { timeoutMs: 60_000 });
    assert.equal(scan.metadata.generation, 2);
    assert.ok((await operator.metric('securestack_reconcile_total', { kind: 'ImageScan', result: 'conflict' })) >= 1, 'a 409 conflict happened and was retried');
    assert.equal((await jobsOf(namespace, 'edited')).length, 1, 'the retry did not start a second Job');
    await operator.stop();
  });
});
