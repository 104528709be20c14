// The publishers, end to end on the real plane: the real operator (with the webhook serving, the
// scan environment and a receiver configured from a Secret) sends what its features publish to a
// real HTTPS receiver that verifies every signature. An Enforce denial through the API server
// (dry runs are not notified), an ImageScan that completes (and its critical findings), one that
// fails, and a ComplianceReport whose score drops: each arrives once, signed, with its subject.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { kubectl, waitFor } from './support/cluster';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { freePort, imageScanManifest, requireScanEnvironment, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment, webhookEnv } from './support/scanenv';
import { startTestReceiver, type TestReceiver } from './support/webhook-receiver';

const run = randomBytes(3).toString('hex');
const keyBytes = randomBytes(32);
const webhookConfiguration = `securestack-notify-${run}`;
const policyName = `notify-enforce-${run}`;

interface Delivered {
  type: string;
  data: { subject: { kind: string; namespace?: string; name: string; uid?: string }; [field: string]: unknown };
}

describe('what the features publish reaches a receiver, signed', () => {
  const resources = new TestResources();
  let env: ScanEnvironment;
  let receiver: TestReceiver;
  let operator: OperatorProcess;
  let home: string;
  let ns: string;

  const delivered = (): Delivered[] => receiver.requests.map((request) => JSON.parse(request.body) as Delivered);
  const arrived = (what: string, match: (delivery: Delivered) => boolean, timeoutMs = 120_000): Promise<Delivered> =>
    waitFor(what, () => Promise.resolve(delivered().find(match)), { timeoutMs, intervalMs: 200 }).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nreceived: ${JSON.stringify(delivered().map((delivery) => [delivery.type, delivery.data.subject]))}\n${operator.describe()}`);
    });

  before(async () => {
    env = await requireScanEnvironment();
    home = await resources.namespace('ntf-pub-op');
    ns = await resources.namespace('ntf-pub');
    await kubectl(['create', 'secret', 'generic', 'hook-key', `--from-literal=signingKey=${keyBytes.toString('base64')}`], { namespace: home });
    receiver = await startTestReceiver(keyBytes);
    const webhookPort = await freePort();
    operator = resources.track(startOperator({
      identity: `ntf-pub-${run}`,
      namespace: home,
      leaseName: 'ntf-pub',
      env: scanOperatorEnv(env, await freePort(), {
        ...webhookEnv(webhookPort, webhookConfiguration),
        SECURESTACK_NOTIFY_RECEIVERS: JSON.stringify([{ name: 'hook', url: receiver.url, events: ['*'], secret: { name: 'hook-key' }, caBundle: receiver.ca.certPem }]),
      }),
    }));
    await waitUntilLeading(operator, home, 'ntf-pub');
  });
  after(async () => {
    await resources.stopOperators();
    await receiver.stop();
    await kubectl(['delete', 'scanpolicy', policyName, '--ignore-not-found'], { allowFail: true });
    await kubectl(['delete', 'validatingwebhookconfiguration', webhookConfiguration, '--ignore-not-found'], { allowFail: true });
    await resources.deleteNamespaces();
  });

  it('an Enforce denial through the API server: one policy.violation (source admission); dry runs are not notified', async () => {
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: policyName }, spec: { mode: 'Enforce', match: { namespaces: [ns] }, rules: [{ id: 'disallow-privileged' }] } }) });
    const pod = (name: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: `${env.registry}/fixtures/debian-app:1`, securityContext: { privileged: true } }] } });
    await waitFor('the webhook to deny a dry run', async () => {
      const result = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace: ns, input: pod('dry'), allowFail: true });
      return /denied the request.*disallow-privileged/s.test(result.stderr) ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300 });
    const denied = await kubectl(['create', '-f', '-'], { namespace: ns, input: pod('denied'), allowFail: true });
    assert.match(denied.stderr, /disallow-privileged/);
    const violation = await arrived('the denial', (delivery) => delivery.type === 'policy.violation' && delivery.data.source === 'admission');
    assert.deepEqual(violation.data.subject, { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: 'denied' });
    assert.equal(violation.data.mode, 'Enforce');
    assert.deepEqual(violation.data.policies, [policyName]);
    assert.deepEqual(violation.data.rules, ['disallow-privileged']);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.deepEqual(delivered().filter((delivery) => delivery.data.source === 'admission').map((delivery) => delivery.data.subject.name), ['denied'], 'the dry runs sent nothing');
    await kubectl(['delete', 'scanpolicy', policyName]);
  });

  it('an ImageScan that completes: scan.completed, and finding.critical when it has critical findings; one that cannot resolve: scan.failed', async () => {
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('app', `${env.registry}/fixtures/debian-app:1`) });
    const scan = await waitForPhase(ns, 'app', 'Completed', operator, 180_000);
    const completed = await arrived('scan.completed', (delivery) => delivery.type === 'scan.completed' && delivery.data.subject.name === 'app');
    assert.equal(completed.data.subject.namespace, ns);
    assert.deepEqual(completed.data.summary, scan.status?.summary);
    const critical = (scan.status?.summary as { critical?: number } | undefined)?.critical ?? 0;
    if (critical > 0) {
      const finding = await arrived('finding.critical', (delivery) => delivery.type === 'finding.critical' && delivery.data.subject.name === 'app');
      assert.equal(finding.data.critical, critical);
    } else {
      assert.ok(!delivered().some((delivery) => delivery.type === 'finding.critical' && delivery.data.subject.name === 'app'), 'no critical findings, no finding.critical');
    }

    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('missing', `${env.registry}/fixtures/does-not-exist:1`) });
    const failed = await arrived('scan.failed', (delivery) => delivery.type === 'scan.failed' && delivery.data.subject.name === 'missing');
    assert.equal(typeof failed.data.reason, 'string');
    // A re-reconcile of the same states sends nothing new: each id once.
    await kubectl(['annotate', 'imagescan', 'app', `touched=${run}`, '--overwrite'], { namespace: ns });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.ok([...receiver.countById().values()].every((count) => count === 1), `each delivery id once: ${JSON.stringify([...receiver.countById()])}`);
    assert.ok(receiver.requests.every((request) => request.verified));
  });

  it('a ComplianceReport whose score drops: compliance.score.dropped with both scores', async () => {
    const report = (request: string): string => JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceReport', metadata: { name: 'baseline', annotations: { 'securestack.io/evaluate': request } }, spec: { framework: 'pss-baseline', scope: { namespaces: [ns] } } });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'fine' }, spec: { containers: [{ name: 'app', image: `${env.registry}/fixtures/debian-app:1` }] } }) });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: report('1') });
    const scoreOf = async (request: string): Promise<number> => waitFor(`evaluation ${request}`, async () => {
      const status = JSON.parse((await kubectl(['get', 'compliancereport', 'baseline', '-o', 'json'], { namespace: ns })).stdout) as { status?: { phase?: string; evaluationRequest?: string; summary?: { score?: number } } };
      return status.status?.phase === 'Completed' && status.status.evaluationRequest === request ? status.status.summary?.score : undefined;
    }, { timeoutMs: 60_000 });
    const first = await scoreOf('1');
    // Now something fails the baseline: a privileged pod (the Enforce policy is gone).
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad' }, spec: { hostNetwork: true, containers: [{ name: 'app', image: `${env.registry}/fixtures/debian-app:1`, securityContext: { privileged: true } }] } }) });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: report('2') });
    const second = await scoreOf('2');
    assert.ok(second < first, `the score dropped (${first} -> ${second})`);
    const dropped = await arrived('compliance.score.dropped', (delivery) => delivery.type === 'compliance.score.dropped');
    assert.deepEqual([dropped.data.previousScore, dropped.data.score, dropped.data.framework], [first, second, 'pss-baseline']);
    assert.deepEqual(dropped.data.subject, { apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceReport', namespace: ns, name: 'baseline', uid: dropped.data.subject.uid });
  });
});
