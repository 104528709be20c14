// The node player (test/env/nodeplayer) plays the kubelet for scan pods: their containers run as
// local processes, and the real Job controller sees them through the pods' status.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createTestNamespace, deleteNamespace, jobManifest, kubectl, repoRoot, requireCluster, waitFor } from './support/cluster';
import {
  processesWith,
  readContainerLog,
  requireNodePlayer,
  runDir,
  SCANNER_LABEL,
  SHELL_IMAGE,
} from './support/nodeplayer';

interface ContainerStatusJson {
  name: string;
  restartCount: number;
  state: {
    running?: { startedAt: string };
    waiting?: { reason: string; message?: string };
    terminated?: { exitCode: number; reason: string; message?: string; startedAt: string; finishedAt: string };
  };
}

interface PodJson {
  metadata: { name: string; uid: string; creationTimestamp: string };
  status: {
    phase?: string;
    reason?: string;
    message?: string;
    podIP?: string;
    startTime?: string;
    conditions?: Array<{ type: string; status: string; reason?: string }>;
    containerStatuses?: ContainerStatusJson[];
    initContainerStatuses?: ContainerStatusJson[];
  };
}

interface JobJson {
  status: { conditions?: Array<{ type: string; status: string; reason?: string; lastTransitionTime: string }> };
}

interface TokenReviewJson {
  status: {
    authenticated?: boolean;
    audiences?: string[];
    error?: string;
    user?: { username?: string; extra?: Record<string, string[]> };
  };
}

type Container = Record<string, unknown> & { name: string };

let ns = '';

function job(name: string, podSpec: Record<string, unknown>, jobSpec: Record<string, unknown> = {}): string {
  return jobManifest(name, {
    jobSpec,
    podMetadata: { labels: { ...SCANNER_LABEL, 'securestack.io/test-job': name } },
    podSpec: { terminationGracePeriodSeconds: 1, ...podSpec },
  });
}

function shell(name: string, script: string, extra: Record<string, unknown> = {}): Container {
  return { name, image: SHELL_IMAGE, args: [script], ...extra };
}

async function jobCondition(name: string): Promise<{ type: string; reason?: string; at: string } | undefined> {
  const res = await kubectl(['get', 'job', name, '-o', 'json'], { namespace: ns });
  const j = JSON.parse(res.stdout) as JobJson;
  const c = (j.status.conditions ?? []).find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  return c ? { type: c.type, reason: c.reason, at: c.lastTransitionTime } : undefined;
}

async function waitJobFinished(name: string, timeoutMs = 60_000): Promise<{ type: string; reason?: string; at: string }> {
  return waitFor(`Job ${ns}/${name} to finish`, () => jobCondition(name), { timeoutMs, intervalMs: 250 });
}

async function jobPods(name: string): Promise<PodJson[]> {
  const res = await kubectl(['get', 'pods', '-l', `securestack.io/test-job=${name}`, '-o', 'json'], { namespace: ns });
  return (JSON.parse(res.stdout) as { items: PodJson[] }).items;
}

async function onePod(name: string): Promise<PodJson> {
  return waitFor(`the pod of Job ${name}`, async () => (await jobPods(name))[0]);
}

function describePod(p: PodJson | undefined): string {
  return JSON.stringify(p?.status ?? {}, null, 1);
}

before(async () => {
  await requireCluster();
  await requireNodePlayer();
  ns = await createTestNamespace('nodeplayer');
});

after(async () => {
  if (ns) {
    await deleteNamespace(ns);
  }
});

describe('node player', () => {
  it('runs init and main containers with volumes, env and a bound token; the Job controller marks the Job Complete', async () => {
    await kubectl(['create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret', '--from-literal=user=scanner'], {
      namespace: ns,
    });
    const script = [
      'set -e',
      'test "$(cat /work/greeting)" = "hello from init"',
      'test "$GREETING" = "hi scanner"',
      'test "$PASSWORD" = s3cret',
      'test "$(cat /etc/creds/user-file)" = scanner',
      'test "$POD_NAME" = "$HOSTNAME"',
      'test -n "$POD_UID"',
      'test "$OUT" = /work/out.txt',
      'echo written >"$OUT"',
      'echo "args: $0 $1"',
      'echo "cwd: $(pwd)"',
      'echo "TOKEN=$(cat /var/run/securestack/token)"',
    ].join('\n');
    const created = Date.now();
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: job('ok', {
        initContainers: [shell('init', 'echo "hello from init" >/work/greeting && echo init ran', { volumeMounts: [{ name: 'work', mountPath: '/work' }] })],
        containers: [
          {
            name: 'main',
            image: SHELL_IMAGE,
            // $(VAR) expansion as the kubelet does it, then mount paths rewritten.
            args: [script, '$(NAME_ARG)', '/work/arg'],
            env: [
              { name: 'NAME_ARG', value: 'expanded' },
              { name: 'WHO', valueFrom: { secretKeyRef: { name: 'creds', key: 'user' } } },
              { name: 'GREETING', value: 'hi $(WHO)' },
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
              { name: 'OUT', value: '/work/out.txt' },
            ],
            volumeMounts: [
              { name: 'work', mountPath: '/work' },
              { name: 'creds', mountPath: '/etc/creds', readOnly: true },
              { name: 'report-token', mountPath: '/var/run/securestack', readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: 'work', emptyDir: {} },
          { name: 'creds', secret: { secretName: 'creds', items: [{ key: 'user', path: 'user-file' }] } },
          {
            name: 'report-token',
            projected: { sources: [{ serviceAccountToken: { audience: 'securestack-report', expirationSeconds: 600, path: 'token' } }] },
          },
        ],
      }),
    });
    const done = await waitJobFinished('ok');
    const pod = await onePod('ok');
    const log = readContainerLog(ns, pod.metadata.name, 'main');
    assert.equal(done.type, 'Complete', `Job failed: ${describePod(pod)}\nlog:\n${log}`);
    console.log(`# Job create -> Complete: ${Date.parse(done.at) - created} ms (condition time, 1 s resolution)`);

    assert.equal(pod.status.phase, 'Succeeded');
    assert.match(pod.status.podIP ?? '', /^10\.244\./);
    const init = pod.status.initContainerStatuses?.[0];
    assert.equal(init?.state.terminated?.reason, 'Completed');
    assert.equal(readContainerLog(ns, pod.metadata.name, 'init').trim(), 'init ran');
    const main = pod.status.containerStatuses?.[0];
    assert.equal(main?.state.terminated?.exitCode, 0);
    assert.equal(main?.state.terminated?.reason, 'Completed');
    assert.equal(pod.status.conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');

    // argv: $(NAME_ARG) expanded, /work/arg mapped to the emptyDir's folder.
    const argsLine = /^args: (\S+) (\S+)$/m.exec(log);
    assert.ok(argsLine, log);
    assert.equal(argsLine[1], 'expanded');
    assert.ok(argsLine[2]?.startsWith(runDir()) && argsLine[2].endsWith('/volumes/work/arg'), argsLine[2]);
    // The emptyDir is a real folder the test can see.
    const podDirs = readdirSync(path.join(runDir(), 'nodeplayer', 'pods')).filter((d) => d.endsWith(pod.metadata.uid));
    assert.equal(podDirs.length, 1);
    assert.equal(readFileSync(path.join(runDir(), 'nodeplayer', 'pods', podDirs[0] ?? '', 'volumes', 'work', 'out.txt'), 'utf8'), 'written\n');

    // The token is a real TokenRequest token, bound to the pod, for the report audience.
    const token = /^TOKEN=(\S+)$/m.exec(log)?.[1];
    assert.ok(token, `no token in the log:\n${log}`);
    const review = await kubectl(['create', '-f', '-', '-o', 'json'], {
      input: JSON.stringify({
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences: ['securestack-report'] },
      }),
    });
    const tr = JSON.parse(review.stdout) as TokenReviewJson;
    assert.equal(tr.status.authenticated, true, tr.status.error);
    assert.deepEqual(tr.status.audiences, ['securestack-report']);
    assert.equal(tr.status.user?.username, `system:serviceaccount:${ns}:default`);
    assert.deepEqual(tr.status.user?.extra?.['authentication.kubernetes.io/pod-name'], [pod.metadata.name]);
    assert.deepEqual(tr.status.user?.extra?.['authentication.kubernetes.io/pod-uid'], [pod.metadata.uid]);
    // ... and useless for any other audience.
    const wrong = await kubectl(['create', '-f', '-', '-o', 'json'], {
      input: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['other'] } }),
    });
    assert.notEqual((JSON.parse(wrong.stdout) as TokenReviewJson).status.authenticated, true);
  });

  it('a container exiting non-zero fails the pod, and the Job controller fails the Job', async () => {
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: job('fails', { containers: [shell('main', 'echo about to fail >&2; exit 3')] }),
    });
    const done = await waitJobFinished('fails');
    const pod = await onePod('fails');
    assert.equal(done.type, 'Failed', describePod(pod));
    assert.equal(pod.status.phase, 'Failed');
    const t = pod.status.containerStatuses?.[0]?.state.terminated;
    assert.equal(t?.exitCode, 3);
    assert.equal(t?.reason, 'Error');
    assert.equal(readContainerLog(ns, pod.metadata.name, 'main').trim(), 'about to fail');
  });

  it('a failing init container stops the pod before the main container runs', async () => {
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: job('initfails', {
        initContainers: [shell('init', 'exit 7')],
        containers: [shell('main', 'echo must not run')],
      }),
    });
    assert.equal((await waitJobFinished('initfails')).type, 'Failed');
    const pod = await onePod('initfails');
    assert.equal(pod.status.initContainerStatuses?.[0]?.state.terminated?.exitCode, 7);
    assert.notEqual(pod.status.containerStatuses?.[0]?.state.terminated?.reason, 'Completed');
    assert.equal(readContainerLog(ns, pod.metadata.name, 'main'), '');
  });

  it('an image missing from the image map fails the pod with ErrImageNeverPull', async () => {
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: job('noimage', { containers: [{ name: 'main', image: 'example.invalid/unknown:1', command: ['true'] }] }),
    });
    assert.equal((await waitJobFinished('noimage')).type, 'Failed');
    const pod = await onePod('noimage');
    const t = pod.status.containerStatuses?.[0]?.state.terminated;
    assert.equal(t?.reason, 'ErrImageNeverPull', describePod(pod));
    assert.match(t?.message ?? '', /example\.invalid\/unknown:1 is not in the node player's image map/);
    assert.equal(pod.status.reason, 'ErrImageNeverPull');
  });

  it('a pod that restarts Always (a Deployment\'s) stays Pending with its container waiting, as under a kubelet, instead of failing', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'always-noimage', labels: { ...SCANNER_LABEL } }, spec: { containers: [{ name: 'main', image: 'example.invalid/unknown:1' }] } };
    await kubectl(['create', '-f', '-'], { namespace: ns, input: JSON.stringify(pod) });
    const seen = await waitFor('the container waiting with ErrImageNeverPull', async () => {
      const out = await kubectl(['get', 'pod', 'always-noimage', '-o', 'json'], { namespace: ns });
      const p = JSON.parse(out.stdout) as PodJson;
      return p.status.containerStatuses?.[0]?.state.waiting?.reason === 'ErrImageNeverPull' ? p : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(seen.status.phase, 'Pending', describePod(seen));
    assert.equal(seen.status.containerStatuses?.[0]?.state.terminated, undefined);
    assert.match(seen.status.containerStatuses?.[0]?.state.waiting?.message ?? '', /is not in the node player's image map/);
  });

  it("enforces the pod's activeDeadlineSeconds: the sleeping process is killed, the pod fails with DeadlineExceeded", async () => {
    const marker = `np-deadline-${randomBytes(4).toString('hex')}`;
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: job('deadline', { activeDeadlineSeconds: 2, containers: [shell('main', 'echo sleeping; sleep 600', { args: ['echo sleeping; sleep 600', marker] })] }),
    });
    await waitFor('the sleeping process', () => Promise.resolve(processesWith(marker).length > 0 ? true : undefined), { timeoutMs: 30_000 });
    const done = await waitJobFinished('deadline', 30_000);
    const pod = await onePod('deadline');
    assert.equal(done.type, 'Failed', describePod(pod));
    assert.equal(pod.status.phase, 'Failed');
    assert.equal(pod.status.reason, 'DeadlineExceeded', describePod(pod));
    assert.notEqual(pod.status.containerStatuses?.[0]?.state.terminated?.exitCode, 0);
    await waitFor('the process to be gone', () => Promise.resolve(processesWith(marker).length === 0 ? true : undefined), { timeoutMs: 10_000 });
  });

  it("the Job's own activeDeadlineSeconds (how scan Jobs time out): the Job controller deletes the pod, the player kills it", async () => {
    const marker = `np-jobdeadline-${randomBytes(4).toString('hex')}`;
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: job('jobdeadline', { containers: [shell('main', 'sleep 600', { args: ['sleep 600', marker] })] }, { activeDeadlineSeconds: 3 }),
    });
    await waitFor('the sleeping process', () => Promise.resolve(processesWith(marker).length > 0 ? true : undefined), { timeoutMs: 30_000 });
    const done = await waitJobFinished('jobdeadline', 30_000);
    assert.equal(done.type, 'Failed');
    assert.equal(done.reason, 'DeadlineExceeded');
    await waitFor('the process to be gone', () => Promise.resolve(processesWith(marker).length === 0 ? true : undefined), { timeoutMs: 15_000 });
  });

  it('deleting a running pod kills its processes, removes its folders, and the pod disappears', async () => {
    const marker = `np-delete-${randomBytes(4).toString('hex')}`;
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: job('deleted', {
        containers: [shell('main', 'sleep 600', { args: ['sleep 600', marker], volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] })],
        volumes: [{ name: 'scratch', emptyDir: {} }],
      }),
    });
    await waitFor('the sleeping process', () => Promise.resolve(processesWith(marker).length > 0 ? true : undefined), { timeoutMs: 30_000 });
    const pod = await waitFor('the pod Running', async () => {
      const p = (await jobPods('deleted'))[0];
      return p?.status.phase === 'Running' ? p : undefined;
    });
    const podsDir = path.join(runDir(), 'nodeplayer', 'pods');
    assert.ok(readdirSync(podsDir).some((d) => d.endsWith(pod.metadata.uid)));
    await kubectl(['delete', 'pod', pod.metadata.name, '--wait=false'], { namespace: ns });
    await waitFor('the process to be gone', () => Promise.resolve(processesWith(marker).length === 0 ? true : undefined), { timeoutMs: 15_000 });
    await waitFor('the pod to be gone', async () => {
      const res = await kubectl(['get', 'pod', pod.metadata.name, '-o', 'name'], { namespace: ns, allowFail: true });
      return res.code !== 0 && /NotFound/.test(res.stderr) ? true : undefined;
    });
    await waitFor('its folders to be gone', () =>
      Promise.resolve(readdirSync(podsDir).some((d) => d.endsWith(pod.metadata.uid)) ? undefined : true),
    );
  });

  it('a restarted player marks pods it lost Failed (NodeLost) and kills their leftover processes', async () => {
    const marker = `np-lost-${randomBytes(4).toString('hex')}`;
    await kubectl(['create', '-f', '-'], {
      namespace: ns,
      input: job('lost', { containers: [shell('main', 'sleep 600', { args: ['sleep 600', marker] })] }),
    });
    await waitFor('the sleeping process', () => Promise.resolve(processesWith(marker).length > 0 ? true : undefined), { timeoutMs: 30_000 });
    await waitFor('the pod Running', async () => ((await jobPods('lost'))[0]?.status.phase === 'Running' ? true : undefined));
    // Kill the player the hard way, as a crash would; its children survive it.
    const pidFile = path.join(runDir(), 'pids', 'nodeplayer.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await waitFor('the player to die', () => Promise.resolve(existsSync(`/proc/${pid}`) ? undefined : true));
    assert.ok(processesWith(marker).length > 0, 'the container process should outlive a SIGKILLed player');
    // start.sh restarts a dead player and leaves the rest of the plane alone.
    const restarted = spawnSync('bash', [path.join(repoRoot(), 'test', 'env', 'start.sh')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(restarted.status, 0, restarted.stderr);
    await requireNodePlayer();
    const done = await waitJobFinished('lost', 30_000);
    const pod = await onePod('lost');
    assert.equal(done.type, 'Failed', describePod(pod));
    assert.equal(pod.status.reason, 'NodeLost', describePod(pod));
    assert.equal(processesWith(marker).length, 0, 'the restarted player kills the lost pod\'s processes');
  });
});
