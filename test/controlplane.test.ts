// Checks that the test control plane (test/env/start.sh) behaves like the real cluster the rest
// of the suite assumes: API server, kwok node, scheduler + kwok pod lifecycle, Job controller,
// garbage collector and Pod Security admission. If one of these breaks, the operator tests would
// fail in confusing ways; this file says which piece is missing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  createTestNamespace,
  deleteNamespace,
  jobManifest,
  kubectl,
  repoRoot,
  requireCluster,
  waitFor,
} from './support/cluster';

interface Condition {
  type: string;
  status: string;
  reason?: string;
}

interface ContainerStatus {
  name: string;
  state?: { terminated?: { exitCode: number; reason?: string }; running?: object };
}

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: Condition[]; containerStatuses?: ContainerStatus[] };
}

interface Job {
  status?: { succeeded?: number; failed?: number; conditions?: Condition[] };
}

interface Node {
  metadata: { name: string; annotations?: Record<string, string> };
  status?: { conditions?: Condition[] };
}

interface List<T> {
  items: T[];
}

// kubectl prints JSON; the shapes above describe only the fields these tests read.
function parse<T>(json: string): T {
  return JSON.parse(json) as T;
}

function condition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

// The version the plane is built from, read from the single place that pins it.
function pinnedKubeVersion(): string {
  const versions = readFileSync(path.join(repoRoot(), 'test', 'env', 'versions.sh'), 'utf8');
  const match = /^KUBE_VERSION=(\S+)$/m.exec(versions);
  assert.ok(match, 'KUBE_VERSION not found in test/env/versions.sh');
  return match[1];
}

function kwokJob(name: string, annotations: Record<string, string> = {}): string {
  return jobManifest(name, {
    podMetadata: { annotations },
    // Never pulled: kwok only pretends to run containers.
    podSpec: { containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', 'exit 0'] }] },
  });
}

async function getJson<T>(args: string[], namespace?: string): Promise<T> {
  const { stdout } = await kubectl([...args, '-o', 'json'], { namespace });
  return parse<T>(stdout);
}

async function jobPods(namespace: string, job: string): Promise<Pod[]> {
  const pods = await getJson<List<Pod>>(['get', 'pods', '-l', `job-name=${job}`], namespace);
  return pods.items;
}

// Restricted-profile-compliant except for what each test changes.
function podManifest(name: string, securityContext: object): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'main',
          image: 'busybox:1.36',
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            ...securityContext,
          },
        },
      ],
    },
  });
}

describe('test control plane', () => {
  let ns = '';

  before(async () => {
    await requireCluster();
    ns = await createTestNamespace('controlplane');
  });

  after(async () => {
    if (ns) {
      await deleteNamespace(ns);
    }
  });

  it('API server is ready and reports the pinned Kubernetes version', async () => {
    const ready = await kubectl(['get', '--raw', '/readyz']);
    assert.equal(ready.stdout.trim(), 'ok');
    const version = parse<{ gitVersion: string }>((await kubectl(['get', '--raw', '/version'])).stdout);
    assert.equal(version.gitVersion, pinnedKubeVersion());
    assert.equal(version.gitVersion, 'v1.36.1');
  });

  it('has a Ready node managed by kwok', async () => {
    const nodes = await getJson<List<Node>>(['get', 'nodes', '-l', 'securestack.io/kwok-node=true']);
    assert.ok(nodes.items.length >= 1, 'no kwok node found');
    for (const node of nodes.items) {
      assert.equal(node.metadata.annotations?.['kwok.x-k8s.io/node'], 'fake', node.metadata.name);
      assert.equal(condition(node.status?.conditions, 'Ready')?.status, 'True', node.metadata.name);
    }
  });

  it('schedules a pod onto the kwok node, makes it Running and Ready, and removes it on delete', async () => {
    await kubectl(['create', '-f', '-'], { namespace: ns, input: podManifest('lifecycle', {}) });
    const pod = await waitFor('pod lifecycle to be Running and Ready', async () => {
      const p = await getJson<Pod>(['get', 'pod', 'lifecycle'], ns);
      const ready = condition(p.status?.conditions, 'Ready')?.status === 'True';
      return p.status?.phase === 'Running' && ready ? p : undefined;
    });
    assert.match(pod.spec.nodeName ?? '', /^kwok-node-/);
    assert.ok(pod.status?.containerStatuses?.[0]?.state?.running, 'container not reported running');

    await kubectl(['delete', 'pod', 'lifecycle', '--wait=false'], { namespace: ns });
    await waitFor('pod lifecycle to be removed', async () => {
      const res = await kubectl(['get', 'pod', 'lifecycle', '-o', 'name'], { namespace: ns, allowFail: true });
      return res.code !== 0 && /NotFound/.test(res.stderr) ? true : undefined;
    });
  });

  it('runs a Job to Complete (pod Succeeded, container exited 0 with reason Completed)', async () => {
    await kubectl(['create', '-f', '-'], { namespace: ns, input: kwokJob('ok') });
    const job = await waitFor(
      'Job ok to be Complete',
      async () => {
        const j = await getJson<Job>(['get', 'job', 'ok'], ns);
        return condition(j.status?.conditions, 'Complete')?.status === 'True' ? j : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(job.status?.succeeded, 1);

    const pods = await jobPods(ns, 'ok');
    assert.equal(pods.length, 1);
    assert.equal(pods[0].status?.phase, 'Succeeded');
    const terminated = pods[0].status?.containerStatuses?.[0]?.state?.terminated;
    assert.deepEqual({ exitCode: terminated?.exitCode, reason: terminated?.reason }, { exitCode: 0, reason: 'Completed' });
  });

  it('fails a Job whose pod is annotated kwok.securestack.io/exit-code', async () => {
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: kwokJob('boom', { 'kwok.securestack.io/exit-code': '3' }),
    });
    const job = await waitFor(
      'Job boom to be Failed',
      async () => {
        const j = await getJson<Job>(['get', 'job', 'boom'], ns);
        return condition(j.status?.conditions, 'Failed')?.status === 'True' ? j : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(job.status?.failed, 1);
    const terminated = (await jobPods(ns, 'boom'))[0]?.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 3);
  });

  it('garbage-collects a dependent when its owner is deleted', async () => {
    await kubectl(['create', 'configmap', 'owner', '--from-literal=k=v'], { namespace: ns });
    const uid = (await kubectl(['get', 'configmap', 'owner', '-o', 'jsonpath={.metadata.uid}'], { namespace: ns }))
      .stdout;
    assert.ok(uid, 'owner has no uid');
    const dependent = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'dependent',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid }],
      },
      data: { k: 'v' },
    };
    await kubectl(['create', '-f', '-'], { namespace: ns, input: JSON.stringify(dependent) });

    await kubectl(['delete', 'configmap', 'owner', '--wait=false'], { namespace: ns });
    await waitFor(
      'the garbage collector to delete ConfigMap dependent',
      async () => {
        const res = await kubectl(['get', 'configmap', 'dependent', '-o', 'name'], {
          namespace: ns,
          allowFail: true,
        });
        return res.code !== 0 && /NotFound/.test(res.stderr) ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
  });

  describe('Pod Security admission', () => {
    let restricted = '';

    before(async () => {
      restricted = await createTestNamespace('psa-restricted', {
        labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
      });
    });

    after(async () => {
      if (restricted) {
        await deleteNamespace(restricted);
      }
    });

    it('rejects a privileged pod in a namespace enforcing restricted', async () => {
      const res = await kubectl(['create', '-f', '-'], {
        namespace: restricted,
        // Validation forbids privileged with allowPrivilegeEscalation=false, so both are flipped.
        input: podManifest('privileged', { privileged: true, allowPrivilegeEscalation: true }),
        allowFail: true,
      });
      assert.notEqual(res.code, 0, 'privileged pod was admitted');
      assert.match(res.stderr, /violates PodSecurity "restricted/);
      assert.match(res.stderr, /privileged/);
    });

    it('admits a pod that meets restricted in the same namespace', async () => {
      // The counterpart proves the rejection above came from the policy, not from a broken manifest.
      await kubectl(['create', '-f', '-', '--dry-run=server'], {
        namespace: restricted,
        input: podManifest('compliant', {}),
      });
    });
  });
});
