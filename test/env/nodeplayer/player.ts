// The node player: a test-environment kubelet for SecureStack's scan pods. It watches pods labelled
// securestack.io/component=scanner that the scheduler bound to a kwok node and runs each one as
// local processes (see pod.ts). kwok's stages skip these pods (test/env/kwok/stages.yaml), except
// for the final removal of a deleted pod.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { KubeApiError, KubeClient } from '../../../operator/platform/kube/client';
import type { PodNetwork } from './network';
import { killGroup, PodRun, POD_MARKER, RUN_MARKER, type PodHost } from './pod';
import { ServiceProxy } from './services';

export interface PlayerOptions {
  kubeconfig: string;
  runDir: string;
  imagesFile: string;
  labelSelector: string;
  maxRuntimeSeconds: number;
  killGraceSeconds: number;
}

export const LEASE_NAMESPACE = 'kube-system';
export const LEASE_NAME = 'securestack-nodeplayer';
const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases/${LEASE_NAME}`;
const LEASE_SECONDS = 15;
const RENEW_MS = 5_000;

const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

type Known = PodRun | 'finished' | 'foreign';

export function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function statusCode(err: unknown): number | undefined {
  return err instanceof KubeApiError ? err.code : undefined;
}

/** MicroTime as the API server parses it: RFC 3339 with exactly six fractional digits. */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class Player implements PodHost {
  readonly runDir: string;
  readonly imagesFile: string;
  readonly apiHost: string;
  readonly apiPort: string;
  readonly killGraceSeconds: number;
  readonly maxRuntimeSeconds: number;
  private readonly client: KubeClient;
  private readonly known = new Map<string, Known>();
  private readonly nodes = new Map<string, string>();
  private nodesFetchedAt = 0;
  private nextIP = Math.floor(Math.random() * 4000);
  private stopped = false;
  private currentWatch: (() => void) | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly identity = `nodeplayer-${hostname()}-${process.pid}`;
  /** Pods with their own network, by pod IP. */
  private readonly networks = new Map<string, PodNetwork>();
  private readonly serviceProxy: ServiceProxy;

  constructor(private readonly opts: PlayerOptions) {
    this.runDir = opts.runDir;
    this.imagesFile = opts.imagesFile;
    this.killGraceSeconds = opts.killGraceSeconds;
    this.maxRuntimeSeconds = opts.maxRuntimeSeconds;
    this.client = KubeClient.fromFile(opts.kubeconfig);
    const server = this.client.access.server ?? new URL('https://127.0.0.1:443');
    this.apiHost = server.hostname;
    this.apiPort = server.port || '443';
    this.serviceProxy = new ServiceProxy(this.client, this.runDir, (ip) => this.networks.get(ip), log);
  }

  get hostsFile(): string {
    return this.serviceProxy.hostsFile;
  }

  registerNetwork(podIP: string, network: PodNetwork | undefined): void {
    if (network) this.networks.set(podIP, network);
    else this.networks.delete(podIP);
  }

  log(msg: string, fields?: Record<string, unknown>): void {
    log(msg, fields);
  }

  /** Initial sync (orphans, leftovers), then the watch loop in the background. */
  async start(): Promise<void> {
    mkdirSync(path.join(this.runDir, 'nodeplayer', 'pods'), { recursive: true });
    this.killLeftoverProcesses();
    const rv = await this.resync(true);
    await this.serviceProxy.start();
    await this.renewLease();
    this.leaseTimer = setInterval(() => {
      this.renewLease().catch((err: unknown) => log('lease renewal failed', { error: errText(err) }));
    }, RENEW_MS);
    writeFileSync(path.join(this.runDir, 'nodeplayer', 'ready'), `${process.pid}\n`);
    log('node player ready', { labelSelector: this.opts.labelSelector, images: this.imagesFile, identity: this.identity });
    void this.loop(rv);
  }

  /** Stops every pod (they end Failed/NodeShutdown), gives up the Lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.currentWatch?.();
    if (this.leaseTimer) {
      clearInterval(this.leaseTimer);
    }
    const runs = [...this.known.values()].filter((k): k is PodRun => k instanceof PodRun);
    for (const r of runs) {
      r.abort('NodeShutdown', 'the node player was stopped while the pod ran', false);
    }
    // stop.sh sends SIGKILL 5 s after SIGTERM: leave no process behind before that.
    await Promise.race([Promise.all(runs.map((r) => r.done)), new Promise((res) => setTimeout(res, 3_000))]);
    for (const r of runs) {
      r.forceKill();
    }
    this.serviceProxy.stop();
    rmSync(path.join(this.runDir, 'nodeplayer', 'ready'), { force: true });
    await this.client.request('delete leases', 'DELETE', leasePath).catch(() => undefined);
  }

  private async loop(initialRv: string): Promise<void> {
    let rv: string | undefined = initialRv;
    while (!this.stopped) {
      try {
        if (rv === undefined) {
          rv = await this.resync(false);
        }
        const gone = await this.watch(rv);
        rv = gone ? undefined : this.lastRv;
      } catch (err) {
        if (this.stopped) {
          break;
        }
        log('watch failed; re-listing', { error: errText(err) });
        rv = undefined;
        await new Promise((res) => setTimeout(res, 1_000));
      }
    }
  }

  private lastRv: string | undefined;

  /** Lists the pods and handles each; returns the list's resourceVersion. */
  private async resync(initial: boolean): Promise<string> {
    const { items: pods, resourceVersion } = await this.client.listCollection<k8s.V1Pod>('/api/v1/pods', this.opts.labelSelector);
    const uids = new Set<string>();
    for (const pod of pods) {
      uids.add(pod.metadata?.uid ?? '');
      this.onPod('SYNC', pod);
    }
    for (const [uid, k] of this.known) {
      if (!uids.has(uid)) {
        this.onGone(uid, k);
      }
    }
    if (initial) {
      // Folders of pods that no longer exist (a previous player died before cleaning up).
      const podsDir = path.join(this.runDir, 'nodeplayer', 'pods');
      for (const d of readdirSync(podsDir)) {
        const uid = d.split('_').pop() ?? '';
        if (!uids.has(uid)) {
          rmSync(path.join(podsDir, d), { recursive: true, force: true });
        }
      }
    }
    this.lastRv = resourceVersion;
    return this.lastRv;
  }

  /** One watch from rv; resolves true when the version is too old (410) and a re-list is due. */
  private watch(rv: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let gone = false;
      this.currentWatch = this.client.watchPath(
        '/api/v1/pods',
        { labelSelector: this.opts.labelSelector, resourceVersion: rv, timeoutSeconds: 300 },
        (type, obj) => {
          const o = obj as k8s.V1Pod & { code?: number };
          if (type === 'ERROR') {
            gone = true;
            log('watch error event', { code: o.code });
            return;
          }
          if (o.metadata?.resourceVersion) {
            this.lastRv = o.metadata.resourceVersion;
          }
          if (type !== 'BOOKMARK') {
            this.onPod(type, o);
          }
        },
        (err) => {
          this.currentWatch = undefined;
          if (err) {
            reject(err);
          } else {
            resolve(gone);
          }
        },
      );
    });
  }

  private onPod(type: string, pod: k8s.V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) {
      return;
    }
    const k = this.known.get(uid);
    if (type === 'DELETED') {
      this.onGone(uid, k);
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (k instanceof PodRun) {
        k.abort('Killing', 'the pod was deleted', true);
      }
      return;
    }
    if (k !== undefined) {
      return;
    }
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) {
      return;
    }
    this.known.set(uid, 'foreign');
    void this.admit(pod, nodeName).catch((err: unknown) => {
      log('cannot start pod', { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, error: errText(err) });
      this.known.delete(uid);
    });
  }

  private onGone(uid: string, k: Known | undefined): void {
    this.known.delete(uid);
    if (k instanceof PodRun) {
      k.abort('Killing', 'the pod was deleted', true);
      void k.done.then(() => k.cleanup());
    } else if (k !== undefined) {
      const podsDir = path.join(this.runDir, 'nodeplayer', 'pods');
      try {
        for (const d of readdirSync(podsDir)) {
          if (d.endsWith(`_${uid}`)) {
            rmSync(path.join(podsDir, d), { recursive: true, force: true });
          }
        }
      } catch {
        // nothing to clean
      }
    }
  }

  /** Decides what to do with a pod seen for the first time by this process. */
  private async admit(pod: k8s.V1Pod, nodeName: string): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const hostIP = await this.kwokNodeIP(nodeName);
    if (hostIP === undefined) {
      if (!this.otherNodes.has(nodeName)) {
        this.known.delete(uid); // a node not seen yet: look again on the pod's next event
      }
      return; // not ours: a real node, or a node kwok does not play
    }
    const phase = pod.status?.phase ?? 'Pending';
    if (phase === 'Succeeded' || phase === 'Failed') {
      this.known.set(uid, 'finished');
      return;
    }
    const label = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    if (phase === 'Running' || pod.status?.startTime) {
      // Started by a player that is gone: its processes are gone too, so say so.
      this.known.set(uid, 'finished');
      log('pod was running under a previous node player; marking it Failed', { pod: label });
      const at = new Date().toISOString();
      const lost = (s: k8s.V1ContainerStatus): Record<string, unknown> => ({
        name: s.name,
        image: s.image,
        imageID: s.imageID ?? '',
        ready: false,
        started: false,
        restartCount: s.restartCount ?? 0,
        state: {
          terminated: s.state?.terminated ?? {
            exitCode: 137,
            reason: 'ContainerStatusUnknown',
            message: 'The container could not be located when the pod was terminated',
            startedAt: s.state?.running?.startedAt ?? at,
            finishedAt: at,
          },
        },
      });
      await this.patchStatus(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '', {
        phase: 'Failed',
        reason: 'NodeLost',
        message: 'the node player that ran this pod stopped or restarted; its processes are gone',
        conditions: [
          { type: 'Ready', status: 'False', reason: 'PodFailed', lastTransitionTime: at },
          { type: 'ContainersReady', status: 'False', reason: 'PodFailed', lastTransitionTime: at },
        ],
        containerStatuses: (pod.status?.containerStatuses ?? []).map(lost),
        ...(pod.status?.initContainerStatuses ? { initContainerStatuses: pod.status.initContainerStatuses.map(lost) } : {}),
      });
      return;
    }
    const run = new PodRun(this, pod, this.allocateIP(), hostIP);
    this.known.set(uid, run);
    log('starting pod', { pod: label, node: nodeName });
    run.start();
    void run.done.then(() => {
      if (this.known.get(uid) === run) {
        this.known.set(uid, 'finished');
      }
    });
  }

  /**
   * The node's InternalIP when it is a kwok node; undefined for other nodes. Nodes are re-listed
   * (at most every 2 s, one list at a time) when a pod names one not seen yet.
   */
  private async kwokNodeIP(name: string): Promise<string | undefined> {
    if (this.nodeFetch) {
      await this.nodeFetch;
    }
    if (!this.nodes.has(name) && !this.otherNodes.has(name) && Date.now() - this.nodesFetchedAt > 2_000) {
      this.nodeFetch ??= this.fetchNodes().finally(() => {
        this.nodeFetch = undefined;
      });
      await this.nodeFetch;
    }
    return this.nodes.get(name);
  }

  private nodeFetch: Promise<void> | undefined;
  private readonly otherNodes = new Set<string>();

  private async fetchNodes(): Promise<void> {
    this.nodesFetchedAt = Date.now();
    const res = await this.client.request<k8s.V1NodeList>('list nodes', 'GET', '/api/v1/nodes');
    this.nodes.clear();
    this.otherNodes.clear();
    for (const n of res.items) {
      const nodeName = n.metadata?.name ?? '';
      if (n.metadata?.annotations?.[KWOK_NODE_ANNOTATION] === 'fake') {
        this.nodes.set(nodeName, n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '10.0.0.1');
      } else {
        this.otherNodes.add(nodeName);
      }
    }
  }

  /** Pod IPs from 10.244.240.0/20, the top of kwok's 10.244.0.0/16, which kwok fills from below. */
  private allocateIP(): string {
    const n = (this.nextIP++ % 4094) + 1;
    return `10.244.${240 + (n >> 8)}.${n & 255}`;
  }

  // -------------------------------------------------------------------------------------------
  // PodHost

  /** Patches pods/status; retries transient failures (not 404: a deleted pod stays deleted). */
  async patchStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const podStatus = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/status?fieldManager=securestack-nodeplayer`;
        await this.client.request('patch pods/status', 'PATCH', podStatus, { status }, 'application/strategic-merge-patch+json');
        return;
      } catch (err) {
        if (statusCode(err) === 404 || attempt >= 5 || this.stopped) {
          throw new Error(`status of pod ${namespace}/${name}: ${errText(err)}`);
        }
        await new Promise((res) => setTimeout(res, 200 * attempt));
      }
    }
  }

  async readSecret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined> {
    try {
      const res = await this.client.request<k8s.V1Secret>('get secrets', 'GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`);
      const out: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(res.data ?? {})) {
        out[k] = Buffer.from(v, 'base64');
      }
      for (const [k, v] of Object.entries(res.stringData ?? {})) {
        out[k] = Buffer.from(v, 'utf8');
      }
      return out;
    } catch (err) {
      if (statusCode(err) === 404) {
        return undefined;
      }
      throw err;
    }
  }

  async readConfigMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined> {
    try {
      const res = await this.client.request<k8s.V1ConfigMap>('get configmaps', 'GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`);
      const out: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(res.data ?? {})) {
        out[k] = Buffer.from(v, 'utf8');
      }
      for (const [k, v] of Object.entries(res.binaryData ?? {})) {
        out[k] = Buffer.from(v, 'base64');
      }
      return out;
    } catch (err) {
      if (statusCode(err) === 404) {
        return undefined;
      }
      throw err;
    }
  }

  /** A TokenRequest bound to the pod, as the kubelet makes for a serviceAccountToken projection. */
  async requestToken(
    namespace: string,
    serviceAccount: string,
    audience: string | undefined,
    expirationSeconds: number,
    pod: { name: string; uid: string },
  ): Promise<string> {
    const tokenPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`;
    const res = await this.client.request<k8s.AuthenticationV1TokenRequest>('create serviceaccounts/token', 'POST', tokenPath, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: audience ? [audience] : [],
        expirationSeconds,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid },
      },
    });
    const token = res.status?.token;
    if (!token) {
      throw new Error(`TokenRequest for ServiceAccount ${namespace}/${serviceAccount} returned no token`);
    }
    return token;
  }

  // -------------------------------------------------------------------------------------------
  // liveness and leftovers

  /** A Lease kube-system/securestack-nodeplayer, renewed every 5 s: how tests see the player is up. */
  private async renewLease(): Promise<void> {
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: LEASE_NAME, namespace: LEASE_NAMESPACE },
      spec: { holderIdentity: this.identity, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime() },
    };
    await this.client.request('apply leases', 'PATCH', `${leasePath}?fieldManager=securestack-nodeplayer&force=true`, body, 'application/apply-patch+yaml');
  }

  /**
   * Kills processes a previous player of this run dir left behind (it was SIGKILLed, so it could not
   * stop them): every process carries SECURESTACK_NODEPLAYER_RUN=<run dir> in its environment.
   */
  private killLeftoverProcesses(): void {
    const marker = `${RUN_MARKER}=${this.runDir}\0`;
    let entries: string[] = [];
    try {
      entries = readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d));
    } catch {
      return;
    }
    for (const pid of entries) {
      let environ = '';
      try {
        environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      } catch {
        continue;
      }
      if (`\0${environ}`.includes(`\0${marker}`) && environ.includes(`${POD_MARKER}=`)) {
        log('killing a process left by a previous node player', { pid: Number(pid) });
        killGroup(Number(pid), 'SIGKILL');
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }
}
