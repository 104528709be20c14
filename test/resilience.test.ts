// The operator outlives its control plane: kill -9 of the kube-apiserver (or etcd) and a restart
// with the same flags, with a leader and a standby running. No operator process may exit (the old
// framework exited on any watch error, taking the webhook with it), the Lease stays held, and an
// ImageScan created once the API is back completes. Runs last-but-one in the suite's order and
// waits for the API to be ready again, so the files after it find a healthy plane.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { kubectl, waitFor } from './support/cluster';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { killAndRestart, waitUntilApiReady } from './support/plane';
import { freePort, imageScanManifest, requireScanEnvironment, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment } from './support/scanenv';

const run = randomBytes(3).toString('hex');

describe('surviving the control plane', () => {
  let env: ScanEnvironment;
  const resources = new TestResources();

  before(async () => {
    env = await requireScanEnvironment();
  });
  afterEach(() => resources.stopOperators());
  after(() => resources.deleteNamespaces());

  async function replicas(home: string, lease: string): Promise<[OperatorProcess, OperatorProcess]> {
    const start = async (identity: string): Promise<OperatorProcess> =>
      resources.track(startOperator({ identity, namespace: home, leaseName: lease, env: scanOperatorEnv(env, await freePort()) }));
    const leader = await start(`${lease}-a-${run}`);
    await waitUntilLeading(leader, home, lease);
    const standby = await start(`${lease}-b-${run}`);
    await standby.metricsPort();
    return [leader, standby];
  }

  const running = (operator: OperatorProcess): boolean => operator.child.exitCode === null && operator.child.signalCode === null;

  async function holder(home: string, lease: string): Promise<string> {
    return (await kubectl(['get', 'lease', lease, '-o', 'jsonpath={.spec.holderIdentity}'], { namespace: home, allowFail: true })).stdout.trim();
  }

  for (const component of ['kube-apiserver', 'etcd'] as const) {
    it(`kill -9 of ${component} and a restart: no replica exits, the Lease is held, a new ImageScan completes`, async () => {
      const lease = component === 'etcd' ? 'res-etcd' : 'res-api';
      const home = await resources.namespace(`${lease}-op`);
      const ns = await resources.namespace(lease);
      const [leader, standby] = await replicas(home, lease);

      const restart = await killAndRestart(component, 1_000);
      const readyAt = await waitUntilApiReady();
      process.stdout.write(`# ${component}: down ${restart.startedAt - restart.killedAt} ms, API ready ${readyAt - restart.killedAt} ms after the kill\n`);

      await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('after-restart', `${env.registry}/fixtures/debian-app:1`) });
      const leading = await holder(home, lease);
      const current = [leader, standby].find((operator) => operator.identity === leading) ?? leader;
      const scan = await waitForPhase(ns, 'after-restart', 'Completed', current, 180_000);
      assert.ok(scan.status?.summary, 'the scan has a summary');

      // Whoever held the Lease keeps it (or the standby took it over): someone leads.
      await waitFor('a replica to hold the Lease', async () => {
        const identity = await holder(home, lease);
        return identity === leader.identity || identity === standby.identity ? identity : undefined;
      }, { timeoutMs: 60_000 });
      // Informers back off up to 30 s between relists: give any delayed exit time to happen.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      assert.ok(running(leader), `the leader is still running\n${leader.describe()}`);
      assert.ok(running(standby), `the standby is still running\n${standby.describe()}`);
      for (const operator of [leader, standby]) {
        const ready = await fetch(`http://127.0.0.1:${await operator.metricsPort()}/readyz`, { signal: AbortSignal.timeout(5_000) });
        assert.equal(ready.status, 200, `${operator.identity} is ready again`);
      }
    });
  }
});
