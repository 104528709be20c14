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
import { freePort, imageScanManifest, pushUniqueImage, requireScanEnvironment, scanJobsForDigest, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment, webhookEnv } from './support/scanenv';
import { startLoopbackService, type LoopbackService } from './support/service';
import { answerOf, podReview, postToWebhook, webhookCa } from './support/webhook';

const run = randomBytes(3).toString('hex');
const webhookConfiguration = `securestack-resilience-${run}`;
const policyName = `resilience-${run}`;

describe('surviving the control plane', () => {
  let env: ScanEnvironment;
  const resources = new TestResources();

  before(async () => {
    env = await requireScanEnvironment();
  });
  const services: LoopbackService[] = [];
  afterEach(async () => {
    await resources.stopOperators();
    for (const service of services.splice(0)) await service.close();
    await kubectl(['delete', 'scanpolicy', policyName, '--ignore-not-found'], { allowFail: true });
    await kubectl(['delete', 'validatingwebhookconfiguration', webhookConfiguration, '--ignore-not-found'], { allowFail: true });
  });
  after(() => resources.deleteNamespaces());

  /**
   * A leader and a standby on one Lease; with `webhookPorts`, each serves the admission webhook.
   * Scan Jobs upload through one report address in front of both, as the chart's Service is: a
   * Job the leader started reaches whichever replica is alive.
   */
  async function replicas(home: string, lease: string, webhookPorts?: [number, number], extra: Record<string, string> = {}): Promise<[OperatorProcess, OperatorProcess]> {
    const reportPorts = [await freePort(), await freePort()];
    const service = await startLoopbackService(reportPorts);
    services.push(service);
    let started = 0;
    const start = (identity: string): OperatorProcess => {
      const replica = started++;
      const port = webhookPorts?.[replica];
      const webhook: Record<string, string> = port === undefined ? {} : webhookEnv(port, webhookConfiguration);
      const reports = { SECURESTACK_REPORT_URL: `https://127.0.0.1:${service.port}` };
      return resources.track(startOperator({ identity, namespace: home, leaseName: lease, env: scanOperatorEnv(env, reportPorts[replica] ?? 0, { ...webhook, ...reports, ...extra }) }));
    };
    const leader = start(`${lease}-a-${run}`);
    await waitUntilLeading(leader, home, lease);
    const standby = start(`${lease}-b-${run}`);
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

  it('kill -9 of kube-apiserver with the webhook serving: both replicas answer from their caches meanwhile, and the API server calls them again as soon as it is back', async () => {
    const home = await resources.namespace('res-adm-op');
    const ns = await resources.namespace('res-adm');
    const ports: [number, number] = [await freePort(), await freePort()];
    const [leader, standby] = await replicas(home, 'res-adm', ports);
    const privileged = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe' }, spec: { containers: [{ name: 'app', image: `${env.registry}/fixtures/debian-app:1`, securityContext: { privileged: true } }] } };
    const deniedThroughApi = async (): Promise<boolean> => {
      const result = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace: ns, input: JSON.stringify(privileged), allowFail: true, timeoutMs: 10_000 });
      return /denied the request.*disallow-privileged/s.test(result.stderr);
    };
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: policyName }, spec: { mode: 'Enforce', match: { namespaces: [ns] }, rules: [{ id: 'disallow-privileged' }] } }) });
    await waitFor('the API server to apply the policy through the webhook', async () => ((await deniedThroughApi()) ? true : undefined), { timeoutMs: 60_000, intervalMs: 300 });
    const ca = await webhookCa(home);

    // While the API server is down nothing can call the webhook but a direct client: each
    // replica still answers from its cache, with the policy applied.
    const answersWhileDown: string[] = [];
    await killAndRestart('kube-apiserver', 2_000, async () => {
      for (const [i, port] of ports.entries()) {
        const answer = answerOf(await postToWebhook(port, ca, podReview(`down-${i}`, ns, privileged)));
        answersWhileDown.push(`${port}: ${answer?.allowed === false ? `denied (${answer.message.slice(0, 60)})` : JSON.stringify(answer)}`);
        assert.equal(answer?.allowed, false, `replica on port ${port} denies while the API server is down`);
        assert.match(answer.message, /disallow-privileged/);
      }
    });
    const readyAt = await waitUntilApiReady();
    // Every admitted dry-run here would be a request the API server let through unchecked.
    let uncheckedAdmissions = 0;
    const deniedAt = await waitFor('the API server to call the webhook again', async () => {
      if (await deniedThroughApi()) return Date.now();
      uncheckedAdmissions++;
      return undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    process.stdout.write(`# webhook while the API server was down: ${answersWhileDown.join('; ')}\n`);
    process.stdout.write(`# admission answered again ${deniedAt - readyAt} ms after the API server was ready (${uncheckedAdmissions} probes admitted unchecked before)\n`);
    for (const operator of [leader, standby]) assert.ok(running(operator), `${operator.identity} is still running\n${operator.describe()}`);
  });

  it('the leader killed -9 mid-scan: the standby finishes every scan with one Job per digest', async () => {
    const home = await resources.namespace('res-scan-op');
    const ns = await resources.namespace('res-scan');
    // Two slots for five digests: at the kill some scans run and some wait in the queue.
    const [leader, standby] = await replicas(home, 'res-scan', undefined, { SECURESTACK_MAX_CONCURRENT_SCANS: '2' });
    const images = Array.from({ length: 5 }, (_, i) => pushUniqueImage(env, `resilience/app-${i}-${run}`));
    const digestOf = new Map<string, string>();
    for (const [i, image] of images.entries()) await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest(`scan-${i}`, image) });
    await waitFor('a scan Job to run', async () => {
      const jobs = await kubectl(['get', 'jobs', '-o', 'name'], { namespace: ns });
      return jobs.stdout.trim() !== '' ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    await leader.stop('SIGKILL');
    await waitUntilLeading(standby, home, 'res-scan', 60_000);
    for (let i = 0; i < images.length; i++) {
      const scan = await waitForPhase(ns, `scan-${i}`, 'Completed', standby, 180_000);
      assert.ok(scan.status?.digest, `scan-${i} has a digest`);
      digestOf.set(`scan-${i}`, scan.status.digest);
    }
    const jobsPerDigest = await Promise.all([...digestOf.values()].map(async (digest) => (await scanJobsForDigest(digest)).length));
    const uploads = [...(services.at(-1)?.forwarded ?? [])].map(([port, count]) => `${count} to :${port}`).join(', ');
    process.stdout.write(`# leader killed mid-scan: ${digestOf.size} of ${images.length} scans completed, Jobs per digest ${jobsPerDigest.join(', ')}; report connections ${uploads}\n`);
    assert.deepEqual(jobsPerDigest, images.map(() => 1), 'one Job per digest, none lost, none twice');
  });
});
