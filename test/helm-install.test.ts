// The chart installed for real: `helm install` onto the test plane with the operator's pods run by
// the node player from the image test/env/image.sh builds (chrooted into its root file system, in
// their own network namespace), the API server calling the webhook through the chart's Service
// (its cluster egress goes through the player's kube-proxy stand-in). Then admission, a scan whose
// uploader also runs from the image, leader failover by pod deletion, an upgrade that rolls the
// pods while admission keeps answering, the CRD upgrade path, and an uninstall that leaves nothing
// but the CRDs and the custom resources behind.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { load } from 'js-yaml';
import { createTestNamespace, deleteNamespace, kubectl, repoRoot, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';
import { helm } from './support/helm';
import { admissionAnswer, chart, fullname, installRelease, leaseName, prepareOperatorImage, privilegedPod, release, releaseLeftovers, releaseNamespace } from './support/helm-release';
import { requireScanEnvironment, type ScanEnvironment } from './support/scanenv';

let env: ScanEnvironment;
let imageRef = '';
let workloads = '';
const cleanups: Array<() => Promise<void> | void> = [];

async function leaseHolder(): Promise<string> {
  const result = await kubectl(['get', 'lease', leaseName, '-o', 'jsonpath={.spec.holderIdentity}'], { namespace: releaseNamespace, allowFail: true });
  return result.code === 0 ? result.stdout.trim() : '';
}

interface PodView {
  name: string;
  ready: boolean;
  deleting: boolean;
  hash: string;
}

async function operatorPods(): Promise<PodView[]> {
  const out = await kubectl(['get', 'pods', '-l', `app.kubernetes.io/instance=${release}`, '-o', 'json'], { namespace: releaseNamespace });
  const items = (JSON.parse(out.stdout) as { items: Array<{ metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> }; status?: { phase?: string; conditions?: Array<{ type: string; status: string }> } }> }).items;
  return items
    .filter((pod) => pod.status?.phase === 'Running' || pod.status?.phase === 'Pending')
    .map((pod) => ({
      name: pod.metadata.name,
      ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
      deleting: pod.metadata.deletionTimestamp !== undefined,
      hash: pod.metadata.labels?.['pod-template-hash'] ?? '',
    }));
}

describe('the chart installed on the test plane, the operator running from its image', { timeout: 900_000 }, () => {
  // Building and pushing the image takes minutes the first time.
  before(async () => {
    env = await requireScanEnvironment();
    const prepared = prepareOperatorImage(env);
    imageRef = prepared.imageRef;
    cleanups.push(prepared.cleanup);
    workloads = await createTestNamespace('helm-workloads', { labels: { 'securestack.io/profile': 'restricted' } });
    cleanups.push(() => deleteNamespace(workloads));
    await helm(['uninstall', release, '--wait'], { namespace: releaseNamespace, allowFail: true });
  }, { timeout: 600_000 });

  after(async () => {
    await helm(['uninstall', release, '--wait', '--timeout', '60s'], { namespace: releaseNamespace, allowFail: true, timeoutMs: 90_000 });
    await deleteNamespace(releaseNamespace);
    // Whatever the CRD test changed, the repository's CRDs are what later tests expect.
    await ensureCrds();
    for (const cleanup of cleanups.reverse()) await cleanup();
  }, { timeout: 300_000 });

  it('installs: two replicas from the image become Ready and the API server calls the webhook through the Service', async (t) => {
    const started = Date.now();
    await installRelease(env, imageRef);
    const installed = Date.now();
    const pods = await operatorPods();
    assert.equal(pods.filter((p) => p.ready).length, 2, JSON.stringify(pods));
    // Admitted by the API server's PodSecurity plugin under enforce=restricted, with no warning kept.
    const labels = JSON.parse((await kubectl(['get', 'namespace', releaseNamespace, '-o', 'jsonpath={.metadata.labels}'])).stdout) as Record<string, string>;
    assert.equal(labels['pod-security.kubernetes.io/enforce'], 'restricted');
    const denied = await kubectl(['get', 'events', '--field-selector', 'reason=FailedCreate', '-o', 'name'], { namespace: releaseNamespace });
    assert.equal(denied.stdout.trim(), '', 'no pod of the chart was refused by Pod Security');
    // The webhook configuration names the chart's Service, not a URL.
    const webhooks = JSON.parse((await kubectl(['get', 'validatingwebhookconfiguration', fullname, '-o', 'json'])).stdout) as { webhooks: Array<{ name: string; failurePolicy: string; clientConfig: { url?: string; service?: { name: string; namespace: string; port: number } } }> };
    for (const hook of webhooks.webhooks) {
      assert.equal(hook.clientConfig.url, undefined, hook.name);
      assert.deepEqual({ name: hook.clientConfig.service?.name, namespace: hook.clientConfig.service?.namespace, port: hook.clientConfig.service?.port }, { name: fullname, namespace: releaseNamespace, port: 443 });
    }
    assert.equal(webhooks.webhooks.find((hook) => hook.name === 'validate.securestack.io')?.failurePolicy, 'Fail');
    await kubectl(['apply', '-f', path.join(repoRoot(), 'examples', 'scanpolicy-enforce-restricted.yaml')], { namespace: workloads });
    await waitFor('the privileged Pod denied by the webhook', async () => ((await admissionAnswer(workloads)) === 'denied' ? true : undefined), { timeoutMs: 60_000, intervalMs: 500 });
    t.diagnostic(`helm install --wait: ${((installed - started) / 1000).toFixed(1)} s; to the webhook denying: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('denies a privileged Pod for real (not a dry run), naming the rule and the fix', async () => {
    const result = await kubectl(privilegedPod('privileged').filter((a) => a !== '--dry-run=server'), { namespace: workloads, allowFail: true });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /denied the request: SecureStack denied Pod .*\/privileged: it violates disallow-privileged/);
    assert.match(result.stderr, /Fix: Remove securityContext\.privileged/);
    assert.equal((await kubectl(['get', 'pod', 'privileged', '--ignore-not-found', '-o', 'name'], { namespace: workloads })).stdout.trim(), '');
  });

  it('completes an ImageScan: the scan Job uploads its report to the chart\'s report Service', async () => {
    const manifest = { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name: 'debian-app' }, spec: { image: `${env.registry}/fixtures/debian-app:1` } };
    await kubectl(['apply', '-f', '-'], { namespace: workloads, input: JSON.stringify(manifest) });
    const status = await waitFor('ImageScan debian-app Completed', async () => {
      const out = await kubectl(['get', 'imagescan', 'debian-app', '-o', 'jsonpath={.status}'], { namespace: workloads });
      const parsed = out.stdout ? (JSON.parse(out.stdout) as { phase?: string; summary?: { critical: number }; conditions?: Array<{ message: string }> }) : {};
      if (parsed.phase === 'Failed') throw new Error(`the scan failed: ${JSON.stringify(parsed.conditions)}`);
      return parsed.phase === 'Completed' ? parsed : undefined;
    }, { timeoutMs: 180_000, intervalMs: 1_000 });
    assert.ok((status.summary?.critical ?? 0) > 0, JSON.stringify(status));
  });

  it('fails over: deleting the leader\'s pod hands the Lease to the standby, and admission keeps answering', async (t) => {
    const leader = await leaseHolder();
    const before = await operatorPods();
    assert.ok(before.some((p) => p.name === leader), `the Lease holder ${leader} is one of the pods ${JSON.stringify(before)}`);
    const standby = before.find((p) => p.name !== leader)?.name;
    const deleted = Date.now();
    await kubectl(['delete', 'pod', leader, '--wait=false'], { namespace: releaseNamespace });
    const holder = await waitFor('the standby holding the Lease', async () => ((await leaseHolder()) === standby ? standby : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    t.diagnostic(`Lease held by ${holder} ${((Date.now() - deleted) / 1000).toFixed(1)} s after the leader's pod was deleted`);
    assert.equal(await admissionAnswer(workloads), 'denied');
    await waitFor('a replacement pod Ready', async () => ((await operatorPods()).filter((p) => p.ready && !p.deleting).length === 2 ? true : undefined), { timeoutMs: 120_000, intervalMs: 500 });
  });

  it('upgrades to changed values: the pods roll, admission answers throughout, and no custom resource is lost', async (t) => {
    const oldHashes = new Set((await operatorPods()).map((p) => p.hash));
    const answers = { denied: 0, allowed: 0, unanswered: 0 };
    let rolling = true;
    const prober = (async () => {
      // Bounded: at most one probe per 300 ms for as long as the upgrade runs (helm's own timeout).
      while (rolling) {
        answers[await admissionAnswer(workloads)]++;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    })();
    try {
      await helm(['upgrade', release, chart, '--reuse-values', '--set', 'operator.logLevel=debug', '--set', 'webhook.timeoutSeconds=7', '--wait', '--timeout', '180s'], { namespace: releaseNamespace, timeoutMs: 200_000 });
      await waitFor('only new pods, both Ready', async () => {
        const pods = await operatorPods();
        return pods.length === 2 && pods.every((p) => p.ready && !oldHashes.has(p.hash)) ? true : undefined;
      }, { timeoutMs: 120_000, intervalMs: 500 });
    } finally {
      rolling = false;
      await prober;
    }
    t.diagnostic(`admission during the roll: ${JSON.stringify(answers)}`);
    assert.ok(answers.denied > 0);
    assert.deepEqual({ allowed: answers.allowed, unanswered: answers.unanswered }, { allowed: 0, unanswered: 0 });
    const env = JSON.parse((await kubectl(['get', 'deployment', fullname, '-o', 'jsonpath={.spec.template.spec.containers[0].env}'], { namespace: releaseNamespace })).stdout) as Array<{ name: string; value?: string }>;
    assert.equal(env.find((e) => e.name === 'SECURESTACK_LOG_LEVEL')?.value, 'debug');
    await waitFor('the webhook configuration re-synced with the new timeout', async () => {
      const out = await kubectl(['get', 'validatingwebhookconfiguration', fullname, '-o', 'jsonpath={.webhooks[0].timeoutSeconds}']);
      return out.stdout.trim() === '7' ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assert.equal((await kubectl(['get', 'scanpolicy', 'enforce-restricted', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { namespace: workloads })).stdout, 'True');
    assert.equal((await kubectl(['get', 'imagescan', 'debian-app', '-o', 'jsonpath={.status.phase}'], { namespace: workloads })).stdout, 'Completed');
  });

  it('upgrades CRDs by the documented path: helm upgrade leaves crds/ alone, kubectl apply --server-side brings the new schema, CRs kept', async () => {
    // The previous release's ImageScan CRD, as it would be in the cluster: without spec.ignoreUnfixed.
    const file = path.join(chart, 'crds', 'imagescans.securestack.io.yaml');
    const crd = load(readFileSync(file, 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }> } };
    for (const version of crd.spec.versions) delete version.schema.openAPIV3Schema.properties.spec.properties.ignoreUnfixed;
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: JSON.stringify(crd) });
    const withNewField = { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name: 'unfixed-ignored' }, spec: { image: `${env.registry}/fixtures/debian-app:1`, ignoreUnfixed: true } };
    const refused = await kubectl(['apply', '-f', '-'], { namespace: workloads, input: JSON.stringify(withNewField), allowFail: true });
    assert.notEqual(refused.code, 0, 'the old schema refuses the new field');
    assert.match(refused.stderr, /unknown field "spec\.ignoreUnfixed"/);
    await helm(['upgrade', release, chart, '--reuse-values', '--wait', '--timeout', '180s'], { namespace: releaseNamespace, timeoutMs: 200_000 });
    const served = (await kubectl(['get', 'crd', 'imagescans.securestack.io', '-o', 'jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.ignoreUnfixed.type}'])).stdout;
    assert.equal(served, '', 'helm upgrade does not touch the CRDs');
    // The documented step (docs/install.md, the chart's NOTES): apply the chart's CRDs first.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', path.join(chart, 'crds')]);
    await kubectl(['apply', '-f', '-'], { namespace: workloads, input: JSON.stringify(withNewField) });
    assert.equal((await kubectl(['get', 'imagescan', 'unfixed-ignored', '-o', 'jsonpath={.spec.ignoreUnfixed}'], { namespace: workloads })).stdout, 'true');
    assert.equal((await kubectl(['get', 'imagescan', 'debian-app', '-o', 'jsonpath={.status.phase}'], { namespace: workloads })).stdout, 'Completed');
  });

  it('uninstalls: no webhook configuration, Lease, certificate Secret or cluster-scoped object is left; CRDs and CRs stay', async () => {
    const secretsBefore = (await kubectl(['get', 'secrets', '-o', 'name'], { namespace: releaseNamespace })).stdout;
    assert.match(secretsBefore, /securestack-webhook-tls/);
    assert.match(secretsBefore, /securestack-reports-tls/);
    await helm(['uninstall', release, '--wait', '--timeout', '120s'], { namespace: releaseNamespace, timeoutMs: 150_000 });
    // The garbage collector removes what the operator made for itself (owned by the ClusterRole).
    const leftovers = await waitFor('nothing of the release left', async () => {
      const left = await releaseLeftovers();
      return left.length === 0 ? left : undefined;
    }, { timeoutMs: 90_000, intervalMs: 1_000 }).catch(async (err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; left: ${JSON.stringify(await releaseLeftovers())}`);
    });
    assert.deepEqual(leftovers, []);
    for (const crd of ['scanpolicies', 'imagescans', 'compliancereports', 'scheduledscans']) {
      assert.equal((await kubectl(['get', 'crd', `${crd}.securestack.io`, '-o', 'name'])).stdout.trim(), `customresourcedefinition.apiextensions.k8s.io/${crd}.securestack.io`);
    }
    assert.equal((await kubectl(['get', 'imagescan', 'debian-app', '-o', 'name'], { namespace: workloads })).stdout.trim(), 'imagescan.securestack.io/debian-app');
    assert.equal((await kubectl(['get', 'scanpolicy', 'enforce-restricted', '-o', 'name'], { namespace: workloads })).stdout.trim(), 'scanpolicy.securestack.io/enforce-restricted');
    // Nothing intercepts requests any more: the privileged dry run is admitted.
    assert.equal(await admissionAnswer(workloads), 'allowed');
  });
});
