// The admission webhook end to end: the real kube-apiserver calls the operator's webhook over
// loopback through the ValidatingWebhookConfiguration the operator itself keeps, and kubectl
// shows what users see (denials, warnings). One operator per test; every test deletes its
// ScanPolicies and its webhook configuration, so nothing routes to a stopped process afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { kubectl, waitFor } from './support/cluster';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { postToWebhook, webhookCa } from './support/webhook';
import { freePort, imageScanManifest, pushUniqueImage, requireScanEnvironment, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment, type ScanObject, webhookEnv } from './support/scanenv';

const run = randomBytes(3).toString('hex');
const runLabel = 'securestack.io/test-run';
const webhookConfiguration = `securestack-test-${run}`;

interface Policy {
  name: string;
  spec: Record<string, unknown>;
}

function policyManifest(policy: Policy): string {
  return JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: policy.name, labels: { [runLabel]: run } }, spec: policy.spec });
}

function podManifest(name: string, image: string, securityContext: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image, securityContext }], ...extra } });
}

function deploymentManifest(name: string, image: string, securityContext: Record<string, unknown> = {}): string {
  const labels = { app: name };
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image, securityContext }] } } },
  });
}

/** A container that passes Pod Security restricted. */
const restrictedContext = {
  allowPrivilegeEscalation: false,
  runAsNonRoot: true,
  runAsUser: 1000,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

describe('admission webhook called by the real API server', () => {
  let env: ScanEnvironment;
  const resources = new TestResources();

  before(async () => {
    env = await requireScanEnvironment();
  });

  afterEach(async () => {
    await resources.stopOperators();
    await kubectl(['delete', 'scanpolicies.securestack.io', '-l', `${runLabel}=${run}`, '--ignore-not-found', '--wait=false'], { allowFail: true });
    await kubectl(['delete', 'validatingwebhookconfiguration', webhookConfiguration, '--ignore-not-found'], { allowFail: true });
  });
  after(() => resources.deleteNamespaces());

  async function admissionOperator(home: string, extra: Record<string, string> = {}): Promise<{ operator: OperatorProcess; webhookPort: number }> {
    const webhookPort = await freePort();
    const operator = resources.track(startOperator({
      identity: `admission-${run}-${resources.operators.length}`,
      namespace: home,
      leaseName: 'admission',
      env: scanOperatorEnv(env, await freePort(), {
        ...webhookEnv(webhookPort, webhookConfiguration),
        SECURESTACK_AUDIT_INTERVAL: '3s',
        ...extra,
      }),
    }));
    await waitUntilLeading(operator, home, 'admission');
    return { operator, webhookPort };
  }

  /** Applies a policy and waits until it is Ready and the API server sends matching requests. */
  async function applyPolicy(operator: OperatorProcess, policy: Policy, probe: { namespace: string; manifest: string; expect: RegExp }): Promise<void> {
    await kubectl(['apply', '-f', '-'], { input: policyManifest(policy) });
    try {
      await waitFor(`ScanPolicy ${policy.name} to be Ready`, async () => {
        const ready = await kubectl(['get', 'scanpolicy', policy.name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { allowFail: true });
        return ready.stdout === 'True' ? true : undefined;
      });
      // The API server picks the webhook configuration up from its own watch: probe with
      // server-side dry-run (no side effects) until the policy's answer comes back.
      await waitFor(`the API server to apply ${policy.name}`, async () => {
        const result = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace: probe.namespace, input: probe.manifest, allowFail: true });
        return probe.expect.test(result.stderr + result.stdout) ? true : undefined;
      }, { timeoutMs: 30_000, intervalMs: 300 });
    } catch (err) {
      const status = await kubectl(['get', 'scanpolicy', policy.name, '-o', 'jsonpath={.status}'], { allowFail: true });
      throw new Error(`${err instanceof Error ? err.message : String(err)}\npolicy status: ${status.stdout}\n${operator.describe()}`);
    }
  }

  it('Enforce rejects a privileged Pod and a :latest Deployment from an unlisted registry, naming rule ids, fields and fixes', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-enforce');
    const { operator, webhookPort } = await admissionOperator(home);
    const allowedImage = `${env.registry}/fixtures/debian-app:1`;
    await applyPolicy(operator, {
      name: `enforce-${run}`,
      spec: {
        mode: 'Enforce',
        match: { namespaces: [ns] },
        ruleSets: ['pss-baseline'],
        rules: [{ id: 'disallow-latest-tag' }, { id: 'allowed-registries', parameters: { registries: [env.registry] } }],
      },
    }, { namespace: ns, manifest: podManifest('probe', allowedImage, { privileged: true }), expect: /disallow-privileged/ });

    const privileged = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest('privileged', allowedImage, { privileged: true }), allowFail: true });
    assert.notEqual(privileged.code, 0, 'the privileged Pod is rejected');
    assert.match(privileged.stderr, /admission webhook "validate\.securestack\.io" denied the request/);
    assert.match(privileged.stderr, /\[disallow-privileged\] spec\.containers\[0\]\.securityContext\.privileged: .*Fix: /);

    const latest = await kubectl(['apply', '-f', '-'], { namespace: ns, input: deploymentManifest('web', 'docker.io/library/nginx:latest'), allowFail: true });
    assert.notEqual(latest.code, 0, 'the Deployment is rejected at apply, before any Pod exists');
    assert.match(latest.stderr, /it violates .*disallow-latest-tag/);
    assert.match(latest.stderr, /\[allowed-registries\] spec\.template\.spec\.containers\[0\]\.image/);
    assert.match(latest.stderr, /\[disallow-latest-tag\] spec\.template\.spec\.containers\[0\]\.image/);
    const absent = await kubectl(['get', 'deployment', 'web'], { namespace: ns, allowFail: true });
    assert.notEqual(absent.code, 0, 'nothing was stored');

    // A compliant Deployment is admitted, and the Pod its ReplicaSet makes reuses the verdict.
    const good = await kubectl(['apply', '-f', '-'], { namespace: ns, input: deploymentManifest('good', allowedImage) });
    assert.equal(good.code, 0);
    await waitFor('the good Deployment to have a Pod', async () => {
      const pods = await kubectl(['get', 'pods', '-l', 'app=good', '-o', 'name'], { namespace: ns });
      return pods.stdout.trim() !== '' ? true : undefined;
    });
    assert.ok(await operator.metric('securestack_admission_verdict_cache_total', { result: 'hit' }) >= 1, `the controller-made Pod hit the template verdict cache\n${operator.describe()}`);
    assert.ok(await operator.metric('securestack_admission_requests_total', { decision: 'deny', mode: 'Enforce', kind: 'Deployment', operation: 'CREATE' }) >= 1);
    assert.ok(await operator.metric('securestack_admission_duration_seconds_count') >= 3);

    // Request bodies are bounded and malformed reviews refused, on the same endpoint.
    const ca = await webhookCa(home);
    assert.equal((await postToWebhook(webhookPort, ca, Buffer.alloc(9 * 1024 * 1024, 0x20))).status, 413);
    const malformed = await postToWebhook(webhookPort, ca, Buffer.from('{"kind":"AdmissionReview"}'));
    assert.equal(malformed.status, 400);
    assert.match(malformed.body, /AdmissionReview of admission\.k8s\.io\/v1/);
  });

  it('Warn admits the object and kubectl prints the warnings', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-warn');
    const { operator } = await admissionOperator(home);
    const name = `warn-${run}`;
    await applyPolicy(operator, { name, spec: { mode: 'Warn', match: { namespaces: [ns] }, rules: [{ id: 'disallow-latest-tag' }, { id: 'require-resource-limits' }] } },
      { namespace: ns, manifest: podManifest('probe', 'nginx:latest'), expect: /Warning: ScanPolicy/ });
    const created = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest('latest', 'nginx:latest') });
    assert.equal(created.code, 0, 'admitted');
    assert.match(created.stderr, new RegExp(`Warning: ScanPolicy ${name}: \\[disallow-latest-tag\\] spec\\.containers\\[0\\]\\.image`));
    assert.match(created.stderr, new RegExp(`Warning: ScanPolicy ${name}: \\[require-resource-limits\\]`));
    assert.equal((await kubectl(['get', 'pod', 'latest', '-o', 'name'], { namespace: ns })).stdout.trim(), 'pod/latest');
    assert.ok(await operator.metric('securestack_admission_requests_total', { decision: 'warn', mode: 'Warn', kind: 'Pod' }) >= 1);
  });

  it('Audit admits silently, counts the request and shows the violation in ScanPolicy status and metrics after the audit', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-audit');
    const { operator } = await admissionOperator(home);
    const name = `audit-${run}`;
    await kubectl(['apply', '-f', '-'], { input: policyManifest({ name, spec: { mode: 'Audit', match: { namespaces: [ns] }, rules: [{ id: 'disallow-latest-tag' }] } }) });
    await waitFor('the audit policy to be sent requests', async () => {
      await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace: ns, input: podManifest('probe', 'nginx:latest') });
      return (await operator.metric('securestack_admission_requests_total', { mode: 'Audit', kind: 'Pod' })) >= 1 ? true : undefined;
    });
    const created = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest('latest', 'nginx:latest') });
    assert.equal(created.code, 0);
    assert.doesNotMatch(created.stderr, /Warning/, 'Audit never warns');
    const audit = await waitFor('the background audit to count the Pod', async () => {
      const status = JSON.parse((await kubectl(['get', 'scanpolicy', name, '-o', 'json'])).stdout) as { status?: { audit?: { lastRunAt?: string; violations?: { rule: string; count: number }[] } } };
      const entry = status.status?.audit?.violations?.find((violation) => violation.rule === 'disallow-latest-tag');
      return entry && entry.count >= 1 ? status.status?.audit : undefined;
    }, { timeoutMs: 30_000 });
    assert.ok(audit.lastRunAt);
    assert.equal(await operator.metric('securestack_policy_violations', { policy: name, rule: 'disallow-latest-tag', namespace: ns, severity: 'MEDIUM' }) + await operator.metric('securestack_policy_violations', { policy: name, rule: 'disallow-latest-tag', namespace: ns, severity: 'LOW' }) + await operator.metric('securestack_policy_violations', { policy: name, rule: 'disallow-latest-tag', namespace: ns, severity: 'HIGH' }), 1);
  });

  it('an exception applies until it expires, and not after, without anyone touching the policy', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-exception');
    const { operator } = await admissionOperator(home);
    const image = `${env.registry}/fixtures/debian-app:1`;
    const expiresAt = new Date(Date.now() + 25_000);
    await applyPolicy(operator, {
      name: `exception-${run}`,
      spec: {
        mode: 'Enforce',
        match: { namespaces: [ns] },
        rules: [{ id: 'disallow-privileged' }],
        exceptions: [{ rules: ['disallow-privileged'], names: ['agent-*'], reason: 'node agent needs privileges until SEC-1 lands', owner: 'platform@example.com', expiresAt: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') }],
      },
    }, { namespace: ns, manifest: podManifest('probe', image, { privileged: true }), expect: /disallow-privileged/ });

    const before = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest('agent-a', image, { privileged: true }), allowFail: true });
    assert.equal(before.code, 0, `excepted before expiry: ${before.stderr}`);
    const other = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest('other', image, { privileged: true }), allowFail: true });
    assert.notEqual(other.code, 0, 'the exception covers only the names it lists');

    const wait = expiresAt.getTime() + 1_500 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const afterExpiry = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest('agent-b', image, { privileged: true }), allowFail: true });
    assert.notEqual(afterExpiry.code, 0, 'the expired exception no longer applies');
    assert.match(afterExpiry.stderr, /disallow-privileged/);
  });

  it('a vulnerability gate denies an image whose ImageScan shows a critical finding', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-gate');
    const { operator } = await admissionOperator(home);
    const vulnerable = `${env.registry}/fixtures/debian-app:1`;
    // A real scan first (Trivy against the fixture DB), before the gate exists.
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('debian', vulnerable) });
    const scan = await waitForPhase(ns, 'debian', 'Completed', operator);
    assert.ok((scan.status?.summary?.critical ?? 0) > 0, 'the fixture image has critical findings');

    await applyPolicy(operator, { name: `gate-${run}`, spec: { mode: 'Enforce', match: { namespaces: [ns] }, vulnerabilityGate: { maxCritical: 0, onMissingScan: 'Allow' } } },
      { namespace: ns, manifest: podManifest('probe', vulnerable), expect: /vulnerability-gate/ });
    const denied = await kubectl(['apply', '-f', '-'], { namespace: ns, input: deploymentManifest('vulnerable', vulnerable), allowFail: true });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, new RegExp(`\\[vulnerability-gate\\] spec\\.template\\.spec\\.containers\\[0\\]\\.image: image ${vulnerable.replace(/[.]/g, '\\.')} has vulnerabilities over the gate: ${scan.status?.summary?.critical} critical \\(max 0\\)`));
    assert.match(denied.stderr, new RegExp(`ImageScan ${ns}/debian`));
    // An image without a scan passes under onMissingScan Allow.
    const unscanned = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest('unscanned', `${env.registry}/fixtures/alpine-app:1`), allowFail: true });
    assert.equal(unscanned.code, 0, unscanned.stderr);
  });

  it('a policy that denies the scan Job shows on the ImageScan: a Retrying condition and an Event, then Failed and a metric', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-scanjob');
    const { operator } = await admissionOperator(home, { SECURESTACK_SCAN_RETRIES: '1', SECURESTACK_SCAN_RETRY_BACKOFF: '1s' });
    const image = pushUniqueImage(env, `fixtures/denied-job-${run}`);
    // Jobs in this namespace must name images by digest; the scanner and uploader are named by tag.
    const job = JSON.stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'probe' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'registry.example.com/app:1' }] } } } });
    await applyPolicy(operator, { name: `deny-jobs-${run}`, spec: { mode: 'Enforce', match: { namespaces: [ns], kinds: [{ group: 'batch', kind: 'Job' }] }, rules: [{ id: 'require-image-digest' }] } },
      { namespace: ns, manifest: job, expect: /require-image-digest/ });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('denied', image) });
    const retrying = await waitFor('the ImageScan to say its Job was refused', async () => {
      const scan = JSON.parse((await kubectl(['get', 'imagescan', 'denied', '-o', 'json'], { namespace: ns })).stdout) as ScanObject;
      const condition = scan.status?.conditions?.find((c) => c.type === 'Scanned');
      return condition?.reason === 'Retrying' || scan.status?.phase === 'Failed' ? condition : undefined;
    });
    assert.match(retrying.message, /The API server refused the scan Job \(403\): .*denied the request/);
    const failed = await waitForPhase(ns, 'denied', 'Failed', operator);
    const condition = failed.status?.conditions?.find((c) => c.type === 'Scanned');
    assert.equal(condition?.reason, 'ScanJobRejected');
    assert.match(condition?.message ?? '', /SecureStack denied Job .*it violates require-image-digest.*\(attempt 2\)$/);
    const events = await kubectl(['get', 'events', '--field-selector', 'involvedObject.kind=ImageScan,involvedObject.name=denied,reason=ScanFailed', '-o', 'name'], { namespace: ns });
    assert.ok(events.stdout.trim().split('\n').filter((line) => line !== '').length >= 1, 'a ScanFailed Event');
    assert.equal(await operator.metric('securestack_scans_total', { result: 'failed' }), 1);
  });

  it('dry-run creates no ImageScan for an unscanned image; the same request for real does', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-dryrun');
    const { operator } = await admissionOperator(home);
    // An image no other test scans: an ImageScan of it anywhere would answer the gate.
    const image = pushUniqueImage(env, `fixtures/dryrun-${run}`);
    await applyPolicy(operator, { name: `dryrun-${run}`, spec: { mode: 'Warn', match: { namespaces: [ns] }, vulnerabilityGate: { maxCritical: 0, onMissingScan: 'Warn' } } },
      { namespace: ns, manifest: podManifest('probe', image), expect: /has no completed ImageScan yet/ });
    const scans = async (): Promise<string> => (await kubectl(['get', 'imagescans', '-l', 'securestack.io/source=admission', '-o', 'name'], { namespace: ns })).stdout.trim();

    const dry = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace: ns, input: podManifest('dry', image) });
    assert.match(dry.stderr, /Warning: .*has no completed ImageScan yet/);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal(await scans(), '', 'dry-run requests have no side effects');
    assert.equal(await operator.metric('securestack_admission_scan_requests_total', { result: 'created' }), 0);

    await kubectl(['create', '-f', '-'], { namespace: ns, input: podManifest('real', image) });
    const created = await waitFor('an ImageScan requested by the gate', async () => ((await scans()) !== '' ? scans() : undefined));
    assert.match(created, new RegExp(`^imagescan\\.securestack\\.io/img-dryrun-${run}-[0-9a-f]{12}$`));
  });

  it('with the webhook process stopped, failurePolicy Ignore admits and Fail denies', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-failure');
    const image = `${env.registry}/fixtures/debian-app:1`;
    const policy = { name: `failure-${run}`, spec: { mode: 'Enforce', match: { namespaces: [ns] }, rules: [{ id: 'disallow-privileged' }] } };
    const probe = { namespace: ns, manifest: podManifest('probe', image, { privileged: true }), expect: /disallow-privileged/ };

    for (const [failurePolicy, admitted] of [['Ignore', true], ['Fail', false]] as const) {
      const { operator } = await admissionOperator(home, { SECURESTACK_WEBHOOK_FAILURE_POLICY: failurePolicy });
      await applyPolicy(operator, policy, probe);
      const configured = await kubectl(['get', 'validatingwebhookconfiguration', webhookConfiguration, '-o', 'jsonpath={.webhooks[0].failurePolicy}']);
      assert.equal(configured.stdout, failurePolicy);
      await operator.stop('SIGKILL');
      const result = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest(`privileged-${failurePolicy.toLowerCase()}`, image, { privileged: true }), allowFail: true });
      if (admitted) {
        assert.equal(result.code, 0, `failurePolicy Ignore admits while the webhook is down: ${result.stderr}`);
      } else {
        assert.notEqual(result.code, 0, 'failurePolicy Fail denies while the webhook is down');
        assert.match(result.stderr, /failed calling webhook "validate\.securestack\.io"/);
      }
    }
  });

  it('a policy that does not compile says why in status, an Event and a metric, and is not used', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-invalid');
    const { operator } = await admissionOperator(home);
    const name = `invalid-${run}`;
    await kubectl(['apply', '-f', '-'], { input: policyManifest({ name, spec: { mode: 'Enforce', match: { namespaces: [ns] }, rules: [{ id: 'disallow-privileged' }, { id: 'no-such-rule' }, { id: 'disallow-host-ports', parameters: { allowedHostPorts: ['eighty'] } }] } }) });
    const condition = await waitFor('the Ready condition to explain the failure', async () => {
      const result = await kubectl(['get', 'scanpolicy', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")]}'], { allowFail: true });
      const parsed = result.stdout ? (JSON.parse(result.stdout) as { status: string; reason: string; message: string }) : undefined;
      return parsed?.status === 'False' ? parsed : undefined;
    });
    assert.equal(condition.reason, 'InvalidPolicy');
    assert.match(condition.message, /spec\.rules\[1\]\.id: no built-in rule is called "no-such-rule"/);
    assert.match(condition.message, /spec\.rules\[2\]\.parameters\.allowedHostPorts\[0\]/);
    assert.equal((await kubectl(['get', 'scanpolicy', name, '-o', 'jsonpath={.status.phase}'])).stdout, 'Failed');
    const events = await waitFor('a PolicyInvalid Event', async () => {
      const result = await kubectl(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${name},reason=PolicyInvalid`, '-o', 'name']);
      return result.stdout.trim() !== '' ? result.stdout : undefined;
    });
    assert.ok(events);
    assert.equal(await operator.metric('securestack_policies', { state: 'invalid' }), 1);
    const privileged = await kubectl(['apply', '-f', '-'], { namespace: ns, input: podManifest('privileged', `${env.registry}/fixtures/debian-app:1`, { privileged: true }), allowFail: true });
    assert.equal(privileged.code, 0, `an invalid policy is not used: ${privileged.stderr}`);
  });

  it('kubectl apply of a ScheduledScan with a backwards range or an unknown time zone is refused with the reason; a good one, in the operator namespace too, is admitted', async () => {
    const home = await resources.namespace('adm-sched-home');
    const ns = await resources.namespace('adm-sched');
    await admissionOperator(home);
    const scheduled = (name: string, spec: Record<string, unknown>): string => JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScheduledScan', metadata: { name }, spec: { imageScanTemplate: { spec: { image: 'nginx:1.27' } }, ...spec } });
    // The schema cannot see this one; the webhook can, once the API server has its configuration.
    const backwards = await waitFor('the API server to send ScheduledScans to the webhook', async () => {
      const result = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace: ns, input: scheduled('backwards', { schedule: '0 5-3 * * *' }), allowFail: true });
      return /denied the request/.test(result.stderr) ? result : undefined;
    }, { timeoutMs: 30_000, intervalMs: 300 });
    assert.match(backwards.stderr, /admission webhook "resources\.validate\.securestack\.io" denied the request: ScheduledScan backwards is invalid: spec\.schedule: beginning of range \(5\) beyond end of range \(3\)/);
    for (const namespace of [ns, home]) {
      const zone = await kubectl(['apply', '-f', '-'], { namespace, input: scheduled('mars', { schedule: '@daily', timeZone: 'Mars/Olympus_Mons' }), allowFail: true });
      assert.notEqual(zone.code, 0);
      assert.match(zone.stderr, /spec\.timeZone: unknown time zone Mars\/Olympus_Mons/);
      const lower = await kubectl(['apply', '-f', '-'], { namespace, input: scheduled('berlin', { schedule: '30 2 * * mon-fri', timeZone: 'europe/berlin' }), allowFail: true });
      assert.match(lower.stderr, /did you mean Europe\/Berlin/);
      const good = await kubectl(['apply', '-f', '-'], { namespace, input: scheduled('berlin', { schedule: '30 2 * * mon-fri', timeZone: 'Europe/Berlin' }), allowFail: true });
      assert.equal(good.code, 0, good.stderr);
    }
    const configuration = JSON.parse((await kubectl(['get', 'validatingwebhookconfiguration', webhookConfiguration, '-o', 'json'])).stdout) as { webhooks: Array<{ name: string; failurePolicy: string; rules: unknown[] }> };
    const resourcesWebhook = configuration.webhooks.find((webhook) => webhook.name === 'resources.validate.securestack.io');
    assert.equal(resourcesWebhook?.failurePolicy, 'Ignore', 'the controller checks again, so a webhook outage must not block ScheduledScans');
    assert.deepEqual(resourcesWebhook?.rules, [{ apiGroups: ['securestack.io'], apiVersions: ['v1alpha1'], resources: ['scheduledscans'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }]);
    await kubectl(['delete', 'scheduledscans.securestack.io', '--all'], { namespace: ns, allowFail: true });
    await kubectl(['delete', 'scheduledscans.securestack.io', '--all'], { namespace: home, allowFail: true });
  });

  it('every replica answers AdmissionReviews, the standby included', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-replicas');
    const { operator: leader } = await admissionOperator(home);
    await applyPolicy(leader, { name: `replicas-${run}`, spec: { mode: 'Enforce', match: { namespaces: [ns] }, rules: [{ id: 'disallow-privileged' }] } },
      { namespace: ns, manifest: podManifest('probe', `${env.registry}/fixtures/debian-app:1`, { privileged: true }), expect: /disallow-privileged/ });
    // A second process on the same Lease: it never leads while the first lives, but serves.
    const standbyPort = await freePort();
    const standby = resources.track(startOperator({
      identity: `admission-${run}-standby`,
      namespace: home,
      leaseName: 'admission',
      env: scanOperatorEnv(env, await freePort(), { SECURESTACK_WEBHOOK_ENABLED: 'true', SECURESTACK_WEBHOOK_PORT: String(standbyPort), SECURESTACK_WEBHOOK_CONFIGURATION: webhookConfiguration }),
    }));
    const review = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'standby-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: ns, name: 'x', object: { ...JSON.parse(podManifest('x', 'nginx:1.27', { privileged: true })) as object, metadata: { name: 'x', namespace: ns } } },
    });
    const ca = await webhookCa(home);
    const answer = await waitFor('the standby to answer with the policy applied', async () => {
      const reply = await postToWebhook(standbyPort, ca, Buffer.from(review)).catch(() => undefined);
      if (reply?.status !== 200) return undefined;
      const response = (JSON.parse(reply.body) as { response: { allowed: boolean; status?: { message: string } } }).response;
      return response.allowed ? undefined : response;
    }, { timeoutMs: 30_000 });
    assert.match(answer.status?.message ?? '', /disallow-privileged/);
    const lease = await kubectl(['get', 'lease', 'admission', '-o', 'jsonpath={.spec.holderIdentity}'], { namespace: home });
    assert.equal(lease.stdout, leader.identity, 'the standby does not lead');
    assert.equal(await standby.metric('securestack_leader'), 0);
  });

  it('the webhook configuration is owned by the installation and removed with it, or when the webhook is turned off', async () => {
    const home = await resources.namespace('adm-home');
    const owner = `securestack-test-owner-${run}`;
    await kubectl(['create', 'clusterrole', owner, '--verb=get', '--resource=configmaps']);
    try {
      const ownerUid = (await kubectl(['get', 'clusterrole', owner, '-o', 'jsonpath={.metadata.uid}'])).stdout;
      const ownerOf = async (): Promise<string | undefined> => {
        const result = await kubectl(['get', 'validatingwebhookconfiguration', webhookConfiguration, '-o', 'jsonpath={.metadata.ownerReferences[0].uid}'], { allowFail: true });
        return result.code === 0 ? result.stdout : undefined;
      };
      const first = await admissionOperator(home, { SECURESTACK_WEBHOOK_OWNER: owner });
      await waitFor('the configuration to name its owner', async () => ((await ownerOf()) === ownerUid ? true : undefined));
      // Uninstalling removes the ClusterRole; the garbage collector takes the configuration along.
      await first.operator.stop('SIGKILL');
      await kubectl(['delete', 'clusterrole', owner]);
      await waitFor('the garbage collector to delete the configuration', async () => ((await ownerOf()) === undefined ? true : undefined), { timeoutMs: 60_000 });

      // An install with the webhook turned off removes a configuration left by an earlier one.
      const second = await admissionOperator(home);
      await waitFor('the configuration to exist again', async () => ((await ownerOf()) !== undefined ? true : undefined));
      await second.operator.stop('SIGKILL');
      const disabled = await admissionOperator(home, { SECURESTACK_WEBHOOK_ENABLED: 'false' });
      await waitFor('the disabled operator to delete the configuration', async () => ((await ownerOf()) === undefined ? true : undefined), { timeoutMs: 30_000 }).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${disabled.operator.describe()}`);
      });
    } finally {
      await kubectl(['delete', 'clusterrole', owner, '--ignore-not-found'], { allowFail: true });
    }
  });

  it('a certificate rotation under a steady stream of requests fails none of them', async () => {
    const home = await resources.namespace('adm-home');
    const ns = await resources.namespace('adm-rotation');
    // Short lives so the serving certificate renews several times and the CA once within a
    // minute; failurePolicy Fail, so a TLS failure would surface as a failed request.
    const { operator } = await admissionOperator(home, {
      SECURESTACK_WEBHOOK_FAILURE_POLICY: 'Fail',
      SECURESTACK_WEBHOOK_CERT_VALIDITY: '15s',
      SECURESTACK_WEBHOOK_CA_VALIDITY: '45s',
    });
    const image = `${env.registry}/fixtures/debian-app:1`;
    const bad = podManifest('stream', image, { privileged: true });
    const good = podManifest('stream', image, restrictedContext);
    await applyPolicy(operator, { name: `rotation-${run}`, spec: { mode: 'Enforce', match: { namespaces: [ns] }, rules: [{ id: 'disallow-privileged' }] } }, { namespace: ns, manifest: bad, expect: /disallow-privileged/ });

    const caRotations = (): Promise<number> => operator.metric('securestack_webhook_certificate_rotations_total', { certificate: 'ca' });
    const startCa = await caRotations();
    const deadline = Date.now() + 120_000;
    const failures: string[] = [];
    let requests = 0;
    // Until the CA has rotated (added, re-issued, dropped) and at least 45 s passed; bounded by 2 min.
    const started = Date.now();
    while (Date.now() < deadline && (Date.now() - started < 45_000 || (await caRotations()) - startCa < 1)) {
      const denyExpected = requests % 2 === 0;
      const result = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace: ns, input: denyExpected ? bad : good, allowFail: true, timeoutMs: 20_000 });
      requests++;
      const ok = denyExpected ? result.code !== 0 && /denied the request: .*disallow-privileged/.test(result.stderr) : result.code === 0;
      if (!ok) failures.push(`request ${requests} (${denyExpected ? 'deny' : 'allow'} expected): code ${result.code} ${result.stderr.trim()}`);
    }
    const servingRotations = await operator.metric('securestack_webhook_certificate_rotations_total', { certificate: 'serving' });
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed during rotation`);
    assert.ok(requests >= 40, `a steady stream: ${requests} requests`);
    assert.ok(servingRotations >= 2, `the serving certificate was renewed during the stream (${servingRotations})\n${operator.describe()}`);
    assert.ok((await caRotations()) - startCa >= 1, `the CA was rotated during the stream\n${operator.describe()}`);
    assert.ok(await operator.metric('securestack_webhook_certificate_expiry_timestamp_seconds', { certificate: 'serving' }) > Date.now() / 1000);
  });
});

