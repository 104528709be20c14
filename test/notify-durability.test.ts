// Webhook deliveries survive the process that queued them, on the real control plane: a leader
// audits ScanPolicies (policy.violation events) while the receiver is down, so its deliveries
// wait in its shard ConfigMap; the process is killed (kill -9, and SIGTERM), the receiver comes
// up, another process takes the Lease, adopts the dead replica's shard and delivers. The receiver
// (real HTTPS on loopback, verifying signatures) must see every id the shard held (no loss), with
// duplicates bounded by the at-least-once contract (at most one extra copy per id here).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { after, afterEach, before, describe, it } from 'node:test';
import { kubectl, requireCluster, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { freePort, TestResources } from './support/scanenv';
import { startTestReceiver, type TestReceiver } from './support/webhook-receiver';

const run = randomBytes(3).toString('hex');
const keyBytes = randomBytes(32);
const policiesPerRun = 5;

interface ShardContent {
  name: string;
  owner: string;
  state: string;
  ids: string[];
}

async function shards(namespace: string): Promise<ShardContent[]> {
  const result = await kubectl(['get', 'configmaps', '-l', 'securestack.io/notify-shard=true', '-o', 'json'], { namespace });
  const list = JSON.parse(result.stdout) as { items: Array<{ metadata: { name: string; annotations?: Record<string, string> }; binaryData?: Record<string, string> }> };
  return list.items.map((item) => {
    const encoded = item.binaryData?.['deliveries.json.gz'];
    const deliveries = encoded ? (JSON.parse(gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8')) as Array<{ id: string }>) : [];
    return { name: item.metadata.name, owner: item.metadata.annotations?.['securestack.io/notify-owner'] ?? '', state: item.metadata.annotations?.['securestack.io/notify-state'] ?? '', ids: deliveries.map((delivery) => delivery.id) };
  });
}

describe('webhook deliveries survive a leader change', () => {
  const resources = new TestResources();
  const receivers: TestReceiver[] = [];

  before(async () => {
    await requireCluster();
    await ensureCrds();
  });
  afterEach(async () => {
    await resources.stopOperators();
    for (const receiver of receivers.splice(0)) await receiver.stop();
    await kubectl(['delete', 'scanpolicies', '-l', `securestack.io/test-run=${run}`, '--ignore-not-found'], { allowFail: true });
  });
  after(() => resources.deleteNamespaces());

  async function operator(identity: string, home: string, lease: string, receiver: TestReceiver): Promise<OperatorProcess> {
    const reportPort = await freePort();
    return resources.track(startOperator({
      identity,
      namespace: home,
      leaseName: lease,
      env: {
        SECURESTACK_REPORT_PORT: String(reportPort),
        SECURESTACK_REPORT_URL: `https://127.0.0.1:${reportPort}`,
        // Quick takeover: a 4 s Lease, and shards silent for 3 s are adopted.
        SECURESTACK_LEASE_DURATION: '4s',
        SECURESTACK_RENEW_DEADLINE: '3s',
        SECURESTACK_RETRY_PERIOD: '500ms',
        SECURESTACK_NOTIFY_ADOPT_AFTER: '3s',
        SECURESTACK_NOTIFY_BACKOFF: '200ms',
        SECURESTACK_NOTIFY_BACKOFF_CAP: '1s',
        SECURESTACK_NOTIFY_MAX_ATTEMPTS: '100',
        SECURESTACK_NOTIFY_RECEIVERS: JSON.stringify([{ name: 'hook', url: receiver.url, events: ['policy.violation'], secret: { name: 'hook-key' }, caBundle: receiver.ca.certPem }]),
      },
    }));
  }

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`${signal} of the replica holding pending deliveries: the next leader delivers every one of them`, async () => {
      const lease = signal === 'SIGKILL' ? 'ntf-kill' : 'ntf-term';
      const home = await resources.namespace(`${lease}-op`);
      const ns = await resources.namespace(lease);
      await kubectl(['create', 'secret', 'generic', 'hook-key', `--from-literal=signingKey=whsec_${keyBytes.toString('base64')}`], { namespace: home });
      // The receiver's port is reserved, but nothing listens yet: every attempt fails to connect.
      const receiver = await startTestReceiver(keyBytes, { listen: false });
      receivers.push(receiver);

      const first = await operator(`${lease}-a-${run}`, home, lease, receiver);
      await waitUntilLeading(first, home, lease);
      await kubectl(['apply', '-f', '-'], { namespace: ns, input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'privileged' }, spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1', securityContext: { privileged: true } }] } }) });
      for (let n = 0; n < policiesPerRun; n++) {
        const policy = { apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: `${lease}-${run}-${n}`, labels: { 'securestack.io/test-run': run } }, spec: { mode: 'Audit', match: { namespaces: [ns] }, rules: [{ id: 'disallow-privileged' }] } };
        await kubectl(['apply', '-f', '-'], { input: JSON.stringify(policy) });
      }
      // Each audit that finds the violation publishes once; the deliveries wait in the shard.
      const pending = await waitFor(`${policiesPerRun} pending deliveries in ${first.identity}'s shard`, async () => {
        const own = (await shards(home)).find((shard) => shard.owner === first.identity);
        return own && own.ids.length === policiesPerRun ? own : undefined;
      }, { timeoutMs: 60_000, intervalMs: 300 });
      assert.ok((await first.metric('securestack_notify_attempts_total', { result: 'network' })) >= policiesPerRun, `attempts failed while the receiver is down\n${first.describe()}`);
      // The policies go, so the next leader has nothing of its own to publish: whatever reaches the
      // receiver from now on came from the adopted shard.
      await kubectl(['delete', 'scanpolicies', '-l', `securestack.io/test-run=${run}`, '--wait=true']);

      const stoppedAt = Date.now();
      await first.stop(signal);
      if (signal === 'SIGTERM') {
        const left = (await shards(home)).find((shard) => shard.owner === first.identity);
        assert.equal(left?.state, 'stopped', 'a clean shutdown marks the shard for adoption at once');
        assert.deepEqual(new Set(left.ids), new Set(pending.ids), 'the shard still holds every pending delivery');
      }
      await receiver.start();
      const second = await operator(`${lease}-b-${run}`, home, lease, receiver);
      await waitUntilLeading(second, home, lease, 60_000);
      await waitFor('every pending id at the receiver', () => Promise.resolve(pending.ids.every((id) => receiver.countById().has(id)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
      const deliveredAfterMs = Date.now() - stoppedAt;
      process.stdout.write(`# ${signal}: all ${pending.ids.length} pending deliveries at the receiver ${deliveredAfterMs} ms after the stop\n`);

      const counts = receiver.countById();
      const duplicates = [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
      assert.ok(receiver.requests.every((request) => request.verified), 'every delivery verifies with the Secret\'s key');
      assert.deepEqual([...counts.keys()].sort(), [...pending.ids].sort(), 'exactly the pending ids, nothing invented');
      assert.ok(duplicates <= pending.ids.length, `duplicates bounded: ${duplicates}`);
      await waitFor('the adopted shard to be deleted', async () => ((await shards(home)).some((shard) => shard.owner === first.identity) ? undefined : true), { timeoutMs: 30_000 });
      assert.equal(await second.metric('securestack_notify_adopted_total'), pending.ids.length, second.describe());
      assert.equal(await second.metric('securestack_notify_deliveries_total', { receiver: 'hook', result: 'delivered' }), pending.ids.length);
      // And its own shard is empty again.
      await waitFor('the new leader\'s shard to be empty', async () => ((await shards(home)).find((shard) => shard.owner === second.identity)?.ids.length === 0 ? true : undefined), { timeoutMs: 10_000 });
    });
  }
});
