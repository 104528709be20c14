// One pod played by the node player: its volumes as local folders, its containers as local
// processes, its status written through the pods/status subresource the way a kubelet writes it.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { chrootArgv, prepareMountPoints, type ChrootMount } from './chroot';
import { PodNetwork } from './network';
import { ReadinessProbe } from './probes';
import {
  expandVars,
  lookupImage,
  parseImageMap,
  parseQuantity,
  rewritePaths,
  safeFileName,
  type ImageEntry,
  type ImageMap,
  type PathMapping,
} from './util';

/** What a PodRun needs from the player that owns it. */
export interface PodHost {
  runDir: string;
  imagesFile: string;
  /** KUBERNETES_SERVICE_HOST/PORT for the processes: the test API server. */
  apiHost: string;
  apiPort: string;
  killGraceSeconds: number;
  maxRuntimeSeconds: number;
  /** The node's /etc/hosts for chrooted containers: Service names at their node addresses. */
  hostsFile: string | undefined;
  log(msg: string, fields?: Record<string, unknown>): void;
  /** Makes a pod's own network reachable at its IP (Services route to it), or forgets it. */
  registerNetwork(podIP: string, network: PodNetwork | undefined): void;
  patchStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void>;
  readSecret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  readConfigMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  requestToken(
    namespace: string,
    serviceAccount: string,
    audience: string | undefined,
    expirationSeconds: number,
    pod: { name: string; uid: string },
  ): Promise<string>;
}

/** Environment variables every process of this run dir carries, so leftovers can be found again. */
export const RUN_MARKER = 'SECURESTACK_NODEPLAYER_RUN';
export const POD_MARKER = 'SECURESTACK_NODEPLAYER_POD_UID';

interface Terminated {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
  containerID?: string;
}

interface ContainerState {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: Terminated;
}

interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: ContainerState;
  lastState?: ContainerState;
}

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string | null;
  lastTransitionTime: string;
}

interface Prepared {
  argv: string[];
  /** What the log shows instead of argv: the container's own command (the chroot wrapper carries its environment). */
  shown?: string[];
  env: Record<string, string>;
  cwd: string;
  logPath: string;
}

interface Abort {
  reason: string;
  message: string;
  /** Deleted pods get no status beyond a best-effort Failed. */
  deleted: boolean;
}

class PodFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const now = (): string => new Date().toISOString();
/** Failures before any container could start, which a kubelet retries rather than failing the pod. */
const SETUP_FAILURES = ['ErrImageNeverPull', 'CreateContainerConfigError', 'FailedMount'];
const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

export class PodRun {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly dir: string;
  /** Resolves when every process has exited and the last status is written. */
  done: Promise<void> = Promise.resolve();
  private aborted: Abort | undefined;
  private readonly abortWaiters: Array<() => void> = [];
  private readonly groups = new Set<number>();
  private readonly initStatuses: ContainerStatus[];
  private readonly statuses: ContainerStatus[];
  private readonly conditions = new Map<string, Condition>();
  private phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  private startTime = '';
  private patchChain: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  /** The pod's own network namespace: pods whose every container runs from an image root. */
  private network: PodNetwork | undefined;
  private readonly probes: ReadinessProbe[] = [];

  constructor(
    private readonly host: PodHost,
    private readonly pod: k8s.V1Pod,
    private readonly podIP: string,
    private readonly hostIP: string,
  ) {
    this.uid = pod.metadata?.uid ?? '';
    this.namespace = pod.metadata?.namespace ?? '';
    this.name = pod.metadata?.name ?? '';
    this.dir = path.join(host.runDir, 'nodeplayer', 'pods', safeFileName(this.namespace, this.name, this.uid));
    const waitingInit = (c: k8s.V1Container): ContainerStatus => ({
      name: c.name,
      image: c.image ?? '',
      imageID: '',
      ready: false,
      started: false,
      restartCount: 0,
      state: { waiting: { reason: 'PodInitializing' } },
    });
    this.initStatuses = (pod.spec?.initContainers ?? []).map(waitingInit);
    this.statuses = (pod.spec?.containers ?? []).map(waitingInit);
  }

  /** Starts the pod; `done` settles when it has finished (never rejects). */
  start(): void {
    this.done = this.run().catch((err: unknown) => {
      this.host.log('pod run crashed', { pod: `${this.namespace}/${this.name}`, error: String(err) });
    });
  }

  /** Stops the pod: kills its processes (SIGTERM, then SIGKILL after the grace period). */
  abort(reason: string, message: string, deleted: boolean): void {
    if (this.aborted) {
      return;
    }
    this.aborted = { reason, message, deleted };
    this.host.log('stopping pod', { pod: `${this.namespace}/${this.name}`, reason });
    for (const w of this.abortWaiters.splice(0)) {
      w();
    }
    const podGrace = this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const grace = Math.max(0, Math.min(podGrace, this.host.killGraceSeconds));
    for (const pgid of this.groups) {
      killGroup(pgid, 'SIGTERM');
    }
    const t = setTimeout(() => {
      for (const pgid of this.groups) {
        killGroup(pgid, 'SIGKILL');
      }
    }, grace * 1000);
    t.unref();
  }

  /** SIGKILLs whatever processes of the pod are still alive. */
  forceKill(): void {
    for (const pgid of this.groups) {
      killGroup(pgid, 'SIGKILL');
    }
  }

  /** Removes the pod's folders (volumes, working dir). Logs stay. */
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async run(): Promise<void> {
    const started = Date.now();
    const label = `${this.namespace}/${this.name}`;
    this.startTime = now();
    this.setCondition('PodReadyToStartContainers', 'True');
    this.setCondition('Initialized', this.initStatuses.length > 0 ? 'False' : 'True', this.initStatuses.length > 0 ? 'ContainersNotInitialized' : undefined);
    this.setCondition('ContainersReady', 'False', 'ContainersNotReady');
    this.setCondition('Ready', 'False', 'ContainersNotReady');
    this.armDeadlines();
    let failure: PodFailure | undefined;
    try {
      const images = this.resolveImages();
      mkdirSync(path.join(this.dir, 'root'), { recursive: true });
      await this.startNetwork(images);
      mkdirSync(path.join(this.host.runDir, 'logs', 'pods'), { recursive: true });
      if (this.initStatuses.length > 0) {
        this.markRunning(this.initStatuses, 0);
      } else {
        this.phase = 'Running';
        this.statuses.forEach((_, i) => this.markRunning(this.statuses, i));
      }
      await this.writeStatus();
      const volumes = await this.prepareVolumes();
      const spec = this.pod.spec ?? { containers: [] };
      for (const [i, c] of (spec.initContainers ?? []).entries()) {
        if (i > 0) {
          this.markRunning(this.initStatuses, i);
          await this.writeStatus();
        }
        const result = await this.runContainer(c, this.initStatuses, i, images.get(c.name), volumes);
        if (result.exitCode !== 0) {
          throw new PodFailure('InitContainerFailed', `init container ${c.name} exited with code ${result.exitCode}`);
        }
      }
      if (this.initStatuses.length > 0) {
        this.setCondition('Initialized', 'True');
        this.phase = 'Running';
        this.statuses.forEach((_, i) => this.markRunning(this.statuses, i));
      }
      this.startProbes();
      this.updateReadiness();
      await this.writeStatus();
      const results = await Promise.all(
        spec.containers.map((c, i) => this.runContainer(c, this.statuses, i, images.get(c.name), volumes)),
      );
      const failed = spec.containers.filter((_, i) => results[i]?.exitCode !== 0).map((c) => c.name);
      if (failed.length > 0) {
        throw new PodFailure('Error', `container(s) ${failed.join(', ')} exited with a non-zero code`);
      }
    } catch (err) {
      failure = err instanceof PodFailure ? err : new PodFailure('NodePlayerError', err instanceof Error ? err.message : String(err));
    } finally {
      for (const t of this.timers) {
        clearTimeout(t);
      }
      for (const probe of this.probes) {
        probe.stop();
      }
      if (this.network) {
        this.host.registerNetwork(this.podIP, undefined);
        this.network.stop();
      }
    }
    const abort = this.aborted;
    if (abort) {
      failure = new PodFailure(abort.reason, abort.message);
    }
    if (failure && !abort && (this.pod.spec?.restartPolicy ?? 'Always') === 'Always' && SETUP_FAILURES.includes(failure.reason)) {
      // A kubelet keeps such a pod Pending with its containers waiting, rather than failing it:
      // a Deployment's ReplicaSet would otherwise replace it at once, again and again.
      await this.stayPending(failure);
      return;
    }
    this.phase = failure ? 'Failed' : 'Succeeded';
    // Whatever never ran is reported as terminated, so the pod's status is complete and final.
    for (const s of [...this.initStatuses, ...this.statuses]) {
      if (!s.state.terminated) {
        const wasRunning = s.state.running !== undefined;
        s.state = {
          terminated: {
            exitCode: 137,
            reason: wasRunning ? 'Error' : 'ContainerStatusUnknown',
            message: wasRunning ? `killed: ${failure?.reason ?? 'pod stopped'}` : 'The container was never started',
            startedAt: s.state.running?.startedAt ?? now(),
            finishedAt: now(),
          },
        };
      }
      s.ready = false;
      s.started = false;
    }
    const why = failure?.reason ?? 'PodCompleted';
    this.setCondition('ContainersReady', 'False', this.phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed');
    this.setCondition('Ready', 'False', this.phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed');
    const podLevel: Record<string, unknown> = {};
    if (failure && ['DeadlineExceeded', 'NodePlayerMaxRuntime', 'NodeShutdown', 'ErrImageNeverPull', 'FailedMount'].includes(failure.reason)) {
      podLevel.reason = failure.reason;
      podLevel.message = failure.message;
    } else if (failure && failure.reason === 'NodePlayerError') {
      podLevel.reason = failure.reason;
      podLevel.message = failure.message;
    }
    try {
      await this.writeStatus(podLevel);
    } catch (err) {
      // A deleted pod may already be gone; that is the expected end for it.
      if (!abort?.deleted) {
        this.host.log('final status not written', { pod: label, error: String(err) });
      }
    }
    this.host.log('pod finished', {
      pod: label,
      phase: this.phase,
      reason: why,
      message: failure?.message,
      durationMs: Date.now() - started,
    });
  }

  private async stayPending(failure: PodFailure): Promise<void> {
    this.phase = 'Pending';
    // null drops the state a strategic merge would otherwise keep beside `waiting`.
    const waiting = (s: ContainerStatus): Record<string, unknown> => ({
      ...s,
      ready: false,
      started: false,
      state: { waiting: { reason: s.state.terminated?.reason ?? failure.reason, message: s.state.terminated?.message ?? failure.message }, running: null, terminated: null },
    });
    this.setCondition('ContainersReady', 'False', 'ContainersNotReady');
    this.setCondition('Ready', 'False', 'ContainersNotReady');
    await this.writeStatus({
      containerStatuses: this.statuses.map(waiting),
      ...(this.initStatuses.length > 0 ? { initContainerStatuses: this.initStatuses.map(waiting) } : {}),
    }).catch(() => undefined);
    this.host.log('pod left pending', { pod: `${this.namespace}/${this.name}`, reason: failure.reason, message: failure.message });
  }

  /** Every container's image must be in the map, or the pod fails before anything runs. */
  private resolveImages(): Map<string, ImageEntry> {
    let map: ImageMap = {};
    let mapError = '';
    try {
      map = readImageMaps(this.host.imagesFile);
    } catch (err) {
      mapError = ` (the map could not be read: ${err instanceof Error ? err.message : String(err)})`;
    }
    const out = new Map<string, ImageEntry>();
    const missing: string[] = [];
    const spec = this.pod.spec ?? { containers: [] };
    const check = (c: k8s.V1Container, statuses: ContainerStatus[], i: number): void => {
      const entry = lookupImage(map, c.image ?? '');
      const status = statuses[i];
      if (entry) {
        out.set(c.name, entry);
      } else if (status) {
        missing.push(`${c.name} (${c.image ?? ''})`);
        const at = now();
        status.state = {
          terminated: {
            exitCode: 128,
            reason: 'ErrImageNeverPull',
            message:
              `image ${c.image ?? ''} is not in the node player's image map ${this.host.imagesFile}${mapError}; ` +
              'add its repository there (test/env/start.sh writes the map)',
            startedAt: at,
            finishedAt: at,
          },
        };
      }
    };
    (spec.initContainers ?? []).forEach((c, i) => check(c, this.initStatuses, i));
    spec.containers.forEach((c, i) => check(c, this.statuses, i));
    if (missing.length > 0) {
      throw new PodFailure('ErrImageNeverPull', `image(s) not in the node player's image map: ${missing.join(', ')}`);
    }
    return out;
  }

  private armDeadlines(): void {
    const deadline = this.pod.spec?.activeDeadlineSeconds;
    if (deadline !== undefined && deadline > 0) {
      this.timers.push(
        setTimeout(() => this.abort('DeadlineExceeded', 'Pod was active on the node longer than the specified deadline', false), deadline * 1000),
      );
    }
    this.timers.push(
      setTimeout(
        () => this.abort('NodePlayerMaxRuntime', `the node player stops every pod after ${this.host.maxRuntimeSeconds}s (SECURESTACK_NODEPLAYER_MAX_RUNTIME)`, false),
        this.host.maxRuntimeSeconds * 1000,
      ),
    );
  }

  private setCondition(type: string, status: 'True' | 'False', reason?: string): void {
    const old = this.conditions.get(type);
    if (old && old.status === status && old.reason === (reason ?? null)) {
      return;
    }
    // reason null: a strategic merge patch then drops a reason left from the previous state.
    this.conditions.set(type, { type, status, reason: reason ?? null, lastTransitionTime: now() });
  }

  private markRunning(statuses: ContainerStatus[], i: number): void {
    const s = statuses[i];
    if (s && !s.state.terminated) {
      s.state = { running: { startedAt: now() } };
      s.started = true;
      // A container with a readiness probe is ready once the probe says so (probes.ts).
      s.ready = statuses === this.statuses && !this.probedContainer(s.name);
    }
  }

  /** Writes the whole status (strategic merge: conditions by type, container statuses by name). */
  private writeStatus(extra: Record<string, unknown> = {}): Promise<void> {
    const status: Record<string, unknown> = {
      phase: this.phase,
      conditions: [...this.conditions.values()],
      hostIP: this.hostIP,
      hostIPs: [{ ip: this.hostIP }],
      podIP: this.podIP,
      podIPs: [{ ip: this.podIP }],
      startTime: this.startTime,
      containerStatuses: this.statuses.map((s) => ({ ...s })),
      ...(this.initStatuses.length > 0 ? { initContainerStatuses: this.initStatuses.map((s) => ({ ...s })) } : {}),
      ...extra,
    };
    const next = this.patchChain.then(() => this.host.patchStatus(this.namespace, this.name, status));
    this.patchChain = next.catch(() => undefined);
    return next;
  }

  // -------------------------------------------------------------------------------------------
  // volumes

  /** Materialises every volume of the pod under <dir>/volumes/<name>; returns name -> folder. */
  private async prepareVolumes(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    // A Secret or ConfigMap may appear shortly after its pod; the kubelet retries, so do we.
    const deadline = Date.now() + 30_000;
    for (const v of this.pod.spec?.volumes ?? []) {
      for (;;) {
        try {
          out.set(v.name, await this.prepareVolume(v));
          break;
        } catch (err) {
          if (this.aborted) {
            throw err;
          }
          if (!(err instanceof RetryableMount) || Date.now() > deadline) {
            throw new PodFailure('FailedMount', `volume ${v.name}: ${err instanceof Error ? err.message : String(err)}`);
          }
          await this.sleepOrAbort(1000);
        }
      }
    }
    return out;
  }

  private async prepareVolume(v: k8s.V1Volume): Promise<string> {
    if (v.hostPath) {
      if (v.hostPath.type === 'DirectoryOrCreate') {
        mkdirSync(v.hostPath.path, { recursive: true });
      }
      return v.hostPath.path;
    }
    const dir = path.join(this.dir, 'volumes', safeFileName(v.name));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    if (v.emptyDir) {
      // As the kubelet makes it: writable by whatever user the containers run as.
      chmodSync(dir, 0o777);
      return dir;
    }
    if (v.secret) {
      const data = await this.host.readSecret(this.namespace, v.secret.secretName ?? '');
      this.writeKeys(dir, `Secret ${v.secret.secretName ?? ''}`, data, v.secret.items, v.secret.optional, v.secret.defaultMode);
      return dir;
    }
    if (v.configMap) {
      const data = await this.host.readConfigMap(this.namespace, v.configMap.name ?? '');
      this.writeKeys(dir, `ConfigMap ${v.configMap.name ?? ''}`, data, v.configMap.items, v.configMap.optional, v.configMap.defaultMode);
      return dir;
    }
    if (v.downwardAPI) {
      this.writeDownward(dir, v.downwardAPI.items ?? [], v.downwardAPI.defaultMode);
      return dir;
    }
    if (v.projected) {
      const mode = v.projected.defaultMode;
      for (const src of v.projected.sources ?? []) {
        if (src.serviceAccountToken) {
          const t = src.serviceAccountToken;
          const token = await this.host.requestToken(
            this.namespace,
            this.pod.spec?.serviceAccountName ?? 'default',
            t.audience || undefined,
            t.expirationSeconds ?? 3600,
            { name: this.name, uid: this.uid },
          );
          writeFile(dir, t.path, token, mode ?? 0o644);
        } else if (src.secret) {
          const data = await this.host.readSecret(this.namespace, src.secret.name ?? '');
          this.writeKeys(dir, `Secret ${src.secret.name ?? ''}`, data, src.secret.items, src.secret.optional, mode);
        } else if (src.configMap) {
          const data = await this.host.readConfigMap(this.namespace, src.configMap.name ?? '');
          this.writeKeys(dir, `ConfigMap ${src.configMap.name ?? ''}`, data, src.configMap.items, src.configMap.optional, mode);
        } else if (src.downwardAPI) {
          this.writeDownward(dir, src.downwardAPI.items ?? [], mode);
        } else {
          throw new Error('projected source type not supported by the node player');
        }
      }
      return dir;
    }
    throw new Error(
      'volume type not supported by the node player (emptyDir, secret, configMap, downwardAPI, projected and hostPath are)',
    );
  }

  private writeKeys(
    dir: string,
    what: string,
    data: Record<string, Buffer> | undefined,
    items: Array<{ key: string; path: string; mode?: number }> | undefined,
    optional: boolean | undefined,
    defaultMode: number | undefined,
  ): void {
    if (!data) {
      if (optional) {
        return;
      }
      throw new RetryableMount(`${what} not found in namespace ${this.namespace}`);
    }
    const mode = defaultMode ?? 0o644;
    if (items && items.length > 0) {
      for (const item of items) {
        const value = data[item.key];
        if (value === undefined) {
          if (optional) {
            continue;
          }
          throw new RetryableMount(`${what} has no key ${item.key}`);
        }
        writeFile(dir, item.path, value, item.mode ?? mode);
      }
    } else {
      for (const [key, value] of Object.entries(data)) {
        writeFile(dir, key, value, mode);
      }
    }
  }

  private writeDownward(dir: string, items: k8s.V1DownwardAPIVolumeFile[], defaultMode: number | undefined): void {
    for (const item of items) {
      let value = '';
      if (item.fieldRef) {
        value = this.fieldValue(item.fieldRef.fieldPath);
      } else if (item.resourceFieldRef) {
        const c = this.pod.spec?.containers.find((x) => x.name === item.resourceFieldRef?.containerName);
        value = resourceValue(c, item.resourceFieldRef);
      }
      writeFile(dir, item.path, value, item.mode ?? defaultMode ?? 0o644);
    }
  }

  private fieldValue(fieldPath: string): string {
    const md = this.pod.metadata ?? {};
    const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
    if (m) {
      const bag = m[1] === 'labels' ? md.labels : md.annotations;
      return bag?.[m[2] ?? ''] ?? '';
    }
    switch (fieldPath) {
      case 'metadata.name':
        return md.name ?? '';
      case 'metadata.namespace':
        return md.namespace ?? '';
      case 'metadata.uid':
        return md.uid ?? '';
      case 'metadata.labels':
        return Object.entries(md.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
      case 'metadata.annotations':
        return Object.entries(md.annotations ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
      case 'spec.nodeName':
        return this.pod.spec?.nodeName ?? '';
      case 'spec.serviceAccountName':
        return this.pod.spec?.serviceAccountName ?? '';
      case 'status.podIP':
      case 'status.podIPs':
        return this.podIP;
      case 'status.hostIP':
      case 'status.hostIPs':
        return this.hostIP;
      default:
        throw new PodFailure('CreateContainerConfigError', `fieldRef ${fieldPath} is not supported by the node player`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // processes

  private async prepareContainer(c: k8s.V1Container, image: ImageEntry, volumes: Map<string, string>): Promise<Prepared> {
    const env: Record<string, string> = {};
    const lookup = (name: string): string | undefined => env[name];
    // Service variables of the `kubernetes` Service point at the test API server on loopback.
    env.KUBERNETES_SERVICE_HOST = this.host.apiHost;
    env.KUBERNETES_SERVICE_PORT = this.host.apiPort;
    for (const from of c.envFrom ?? []) {
      const prefix = from.prefix ?? '';
      let data: Record<string, Buffer> | undefined;
      if (from.secretRef) {
        data = await this.host.readSecret(this.namespace, from.secretRef.name ?? '');
        if (!data && !from.secretRef.optional) {
          throw new PodFailure('CreateContainerConfigError', `secret "${from.secretRef.name ?? ''}" not found`);
        }
      } else if (from.configMapRef) {
        data = await this.host.readConfigMap(this.namespace, from.configMapRef.name ?? '');
        if (!data && !from.configMapRef.optional) {
          throw new PodFailure('CreateContainerConfigError', `configmap "${from.configMapRef.name ?? ''}" not found`);
        }
      }
      for (const [k, v] of Object.entries(data ?? {})) {
        env[prefix + k] = v.toString('utf8');
      }
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom) {
        const vf = e.valueFrom;
        if (vf.fieldRef) {
          env[e.name] = this.fieldValue(vf.fieldRef.fieldPath);
        } else if (vf.secretKeyRef) {
          const data = await this.host.readSecret(this.namespace, vf.secretKeyRef.name ?? '');
          const v = data?.[vf.secretKeyRef.key];
          if (v === undefined) {
            if (vf.secretKeyRef.optional) {
              continue;
            }
            throw new PodFailure('CreateContainerConfigError', `secret "${vf.secretKeyRef.name ?? ''}" key "${vf.secretKeyRef.key}" not found`);
          }
          env[e.name] = v.toString('utf8');
        } else if (vf.configMapKeyRef) {
          const data = await this.host.readConfigMap(this.namespace, vf.configMapKeyRef.name ?? '');
          const v = data?.[vf.configMapKeyRef.key];
          if (v === undefined) {
            if (vf.configMapKeyRef.optional) {
              continue;
            }
            throw new PodFailure('CreateContainerConfigError', `configmap "${vf.configMapKeyRef.name ?? ''}" key "${vf.configMapKeyRef.key}" not found`);
          }
          env[e.name] = v.toString('utf8');
        } else if (vf.resourceFieldRef) {
          env[e.name] = resourceValue(c, vf.resourceFieldRef);
        }
      } else {
        env[e.name] = expandVars(e.value ?? '', lookup);
      }
    }
    if (image.rootfs) {
      return this.prepareChrooted(c, image, image.rootfs, volumes, env);
    }
    // Mount paths -> local folders, for argv, env values and the working directory.
    const mappings: PathMapping[] = mountSources(c, volumes, lookup).map(({ mount, host }) => ({ from: mount.mountPath, to: host }));
    const finalEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      finalEnv[k] = rewritePaths(v, mappings);
    }
    const expand = (s: string): string => rewritePaths(expandVars(s, lookup), mappings);
    const command = c.command && c.command.length > 0 ? c.command.map(expand) : image.entrypoint;
    const args = c.args ? c.args.map(expand) : c.command && c.command.length > 0 ? [] : (image.cmd ?? []);
    const argv = [...command, ...args];
    if (argv.length === 0) {
      throw new PodFailure('CreateContainerConfigError', 'no command: the container sets none and the image map entry has no entrypoint');
    }
    let cwd = path.join(this.dir, 'root');
    const mappedWd = c.workingDir ? rewritePaths(c.workingDir, mappings) : undefined;
    if (mappedWd !== undefined && mappedWd !== c.workingDir) {
      cwd = mappedWd;
    } else if (image.workingDir) {
      cwd = image.workingDir;
    }
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'HOME']) {
      const v = process.env[k];
      if (v !== undefined) {
        base[k] = v;
      }
    }
    return {
      argv,
      env: {
        ...base,
        HOSTNAME: this.name,
        ...finalEnv,
        [RUN_MARKER]: this.host.runDir,
        [POD_MARKER]: this.uid,
      },
      cwd,
      logPath: path.join(this.host.runDir, 'logs', 'pods', `${safeFileName(this.namespace, this.name, c.name)}.log`),
    };
  }

  /**
   * A container whose image is an unpacked root file system: chrooted into it with its volumes
   * bind-mounted at their mount paths, so paths are the container's own and need no rewriting.
   */
  private prepareChrooted(c: k8s.V1Container, image: ImageEntry, rootfs: string, volumes: Map<string, string>, env: Record<string, string>): Prepared {
    const lookup = (name: string): string | undefined => env[name];
    const mounts: ChrootMount[] = mountSources(c, volumes, lookup).map(({ mount, host }) => ({ host, inside: mount.mountPath, readOnly: mount.readOnly === true }));
    if (this.host.hostsFile && !mounts.some((m) => m.inside === '/etc/hosts')) {
      mounts.push({ host: this.host.hostsFile, inside: '/etc/hosts', readOnly: true });
    }
    const imageEnv = Object.fromEntries((image.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const expand = (text: string): string => expandVars(text, lookup);
    const command = c.command && c.command.length > 0 ? c.command.map(expand) : image.entrypoint;
    const args = c.args ? c.args.map(expand) : c.command && c.command.length > 0 ? [] : (image.cmd ?? []);
    const markers = { [RUN_MARKER]: this.host.runDir, [POD_MARKER]: this.uid };
    const sc = c.securityContext;
    const podSc = this.pod.spec?.securityContext;
    const uid = sc?.runAsUser ?? podSc?.runAsUser;
    const gid = sc?.runAsGroup ?? podSc?.runAsGroup;
    const [imageUid = '0', imageGid] = (image.user ?? '0').split(':');
    const spec = {
      rootfs,
      argv: [...command, ...args],
      env: { ...imageEnv, HOSTNAME: this.name, ...env, ...markers },
      user: `${uid ?? imageUid}:${gid ?? imageGid ?? uid ?? imageUid}`,
      workingDir: c.workingDir || image.workingDir || '/',
      mounts,
      readOnlyRoot: sc?.readOnlyRootFilesystem === true,
      tmpfsTmp: false,
      netns: this.network?.namespacePath,
    };
    if (spec.argv.length === 0) {
      throw new PodFailure('CreateContainerConfigError', 'no command: the container sets none and the image has no entrypoint');
    }
    prepareMountPoints(spec);
    return {
      argv: chrootArgv(spec),
      shown: spec.argv,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...markers },
      cwd: path.join(this.dir, 'root'),
      logPath: path.join(this.host.runDir, 'logs', 'pods', `${safeFileName(this.namespace, this.name, c.name)}.log`),
    };
  }

  /**
   * A pod whose every container runs from an image root, and that does not ask for the node's
   * network, gets its own network namespace (network.ts), reachable at its pod IP.
   */
  private async startNetwork(images: Map<string, ImageEntry>): Promise<void> {
    const spec = this.pod.spec ?? { containers: [] };
    const all = [...(spec.initContainers ?? []), ...spec.containers];
    if (spec.hostNetwork || !all.every((c) => images.get(c.name)?.rootfs)) {
      return;
    }
    const declared = all.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
    this.network = new PodNetwork(path.join(this.host.runDir, 'nodeplayer', 'net', this.uid.slice(0, 8)), { [RUN_MARKER]: this.host.runDir, [POD_MARKER]: this.uid });
    await this.network.start(declared);
    this.host.registerNetwork(this.podIP, this.network);
  }

  private probedContainer(name: string): boolean {
    return this.network !== undefined && this.pod.spec?.containers.some((c) => c.name === name && c.readinessProbe) === true;
  }

  /** Readiness probes of a pod with its own network: they reach the container through it. */
  private startProbes(): void {
    const network = this.network;
    if (!network) {
      return;
    }
    for (const [i, c] of (this.pod.spec?.containers ?? []).entries()) {
      if (!c.readinessProbe) {
        continue;
      }
      const probe = new ReadinessProbe(c, (port) => network.connect(port), (ready) => {
        const status = this.statuses[i];
        if (!status || status.ready === ready || !status.state.running) {
          return;
        }
        status.ready = ready;
        this.updateReadiness();
        void this.writeStatus().catch(() => undefined);
      });
      this.probes.push(probe);
      probe.start();
    }
  }

  /** ContainersReady and Ready follow the containers' readiness, as the kubelet sets them. */
  private updateReadiness(): void {
    const ready = this.statuses.every((s) => s.ready);
    this.setCondition('ContainersReady', ready ? 'True' : 'False', ready ? undefined : 'ContainersNotReady');
    this.setCondition('Ready', ready ? 'True' : 'False', ready ? undefined : 'ContainersNotReady');
  }

  /** Runs one container to its end (restarting it under restartPolicy OnFailure/Always). */
  private async runContainer(
    c: k8s.V1Container,
    statuses: ContainerStatus[],
    i: number,
    image: ImageEntry | undefined,
    volumes: Map<string, string>,
  ): Promise<Terminated> {
    const status = statuses[i];
    if (!status || !image) {
      throw new Error(`internal: no status or image for container ${c.name}`);
    }
    const restart = (c.restartPolicy ?? this.pod.spec?.restartPolicy ?? 'Always') !== 'Never';
    let backoff = 1000;
    for (;;) {
      if (this.aborted) {
        throw new PodFailure(this.aborted.reason, this.aborted.message);
      }
      let result: Terminated;
      try {
        const prepared = await this.prepareContainer(c, image, volumes);
        result = await this.spawnProcess(c.name, prepared);
      } catch (err) {
        if (!(err instanceof PodFailure) || err.reason !== 'CreateContainerConfigError') {
          throw err;
        }
        const at = now();
        status.state = { terminated: { exitCode: 128, reason: err.reason, message: err.message, startedAt: at, finishedAt: at } };
        throw err;
      }
      status.state = { terminated: result };
      status.containerID = result.containerID;
      if (result.exitCode === 0 || !restart || this.aborted) {
        return result;
      }
      // OnFailure: the kubelet restarts the container in place with a growing back-off.
      status.lastState = { terminated: result };
      status.restartCount++;
      status.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${backoff / 1000}s restarting failed container` } };
      await this.writeStatus().catch(() => undefined);
      await this.sleepOrAbort(backoff);
      backoff = Math.min(backoff * 2, 10_000);
      status.state = { running: { startedAt: now() } };
      await this.writeStatus().catch(() => undefined);
    }
  }

  private spawnProcess(name: string, p: Prepared): Promise<Terminated> {
    return new Promise<Terminated>((resolve) => {
      const startedAt = now();
      let fd: number | undefined;
      try {
        fd = openSync(p.logPath, 'a');
      } catch {
        fd = undefined;
      }
      const child = spawn(p.argv[0] ?? '', p.argv.slice(1), {
        cwd: p.cwd,
        env: p.env,
        detached: true,
        stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
      });
      if (fd !== undefined) {
        closeSync(fd);
      }
      const pgid = child.pid;
      if (pgid !== undefined) {
        this.groups.add(pgid);
        if (this.aborted) {
          killGroup(pgid, 'SIGKILL');
        }
      }
      this.host.log('container started', { pod: `${this.namespace}/${this.name}`, container: name, pid: pgid, argv: p.shown ?? p.argv, cwd: p.cwd });
      let settled = false;
      const finish = (t: Terminated): void => {
        if (settled) {
          return;
        }
        settled = true;
        if (pgid !== undefined) {
          // Like a container runtime, take down whatever the main process left behind in its group.
          killGroup(pgid, 'SIGKILL');
          this.groups.delete(pgid);
        }
        this.host.log('container exited', { pod: `${this.namespace}/${this.name}`, container: name, exitCode: t.exitCode, reason: t.reason });
        resolve(t);
      };
      child.on('error', (err) => {
        finish({
          exitCode: 128,
          reason: 'StartError',
          message: `failed to start ${p.argv[0] ?? ''} (cwd ${p.cwd}): ${err.message}`,
          startedAt,
          finishedAt: now(),
        });
      });
      child.on('exit', (code, signal) => {
        const exitCode = code ?? 128 + (signal ? (SIGNALS[signal] ?? 1) : 1);
        finish({
          exitCode,
          reason: exitCode === 0 ? 'Completed' : 'Error',
          ...(signal ? { message: `killed by ${signal}` } : {}),
          startedAt,
          finishedAt: now(),
          containerID: `nodeplayer://${this.uid}/${name}/${pgid ?? 0}`,
        });
      });
    });
  }

  private sleepOrAbort(ms: number): Promise<void> {
    if (this.aborted) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.abortWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

class RetryableMount extends Error {}

/** Each volume mount of a container with the host folder behind it (subPath and subPathExpr made). */
function mountSources(c: k8s.V1Container, volumes: Map<string, string>, lookup: (name: string) => string | undefined): Array<{ mount: k8s.V1VolumeMount; host: string }> {
  return (c.volumeMounts ?? []).map((mount) => {
    const base = volumes.get(mount.name);
    if (base === undefined) {
      throw new PodFailure('CreateContainerConfigError', `volumeMount ${mount.name} names no volume of the pod`);
    }
    const sub = mount.subPathExpr ? expandVars(mount.subPathExpr, lookup) : (mount.subPath ?? '');
    const host = sub ? path.join(base, sub) : base;
    if (sub) {
      mkdirSync(host, { recursive: true });
    }
    return { mount, host };
  });
}

/** The image map file merged with every *.json of its `.d` folder (which tests may add to). */
function readImageMaps(file: string): ImageMap {
  const map = parseImageMap(readFileSync(file, 'utf8'), file);
  const extra = `${file.replace(/\.json$/, '')}.d`;
  if (existsSync(extra)) {
    for (const name of readdirSync(extra).filter((n) => n.endsWith('.json')).sort()) {
      Object.assign(map, parseImageMap(readFileSync(path.join(extra, name), 'utf8'), path.join(extra, name)));
    }
  }
  return map;
}

function writeFile(dir: string, rel: string, data: string | Buffer, mode: number): void {
  const target = path.join(dir, rel);
  if (!target.startsWith(dir + path.sep)) {
    throw new Error(`path ${rel} escapes its volume`);
  }
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, data, { mode });
}

function resourceValue(c: k8s.V1Container | undefined, ref: k8s.V1ResourceFieldSelector): string {
  const [kind, res] = ref.resource.split('.');
  const bag = kind === 'limits' ? c?.resources?.limits : c?.resources?.requests;
  const raw = bag?.[res ?? ''];
  const divisor = ref.divisor !== undefined ? parseQuantity(String(ref.divisor)) : 1;
  if (raw === undefined) {
    // Without a limit the kubelet reports the node's allocatable; the fake node's is huge.
    return res === 'cpu' ? '1000' : String(2 ** 40);
  }
  return String(Math.ceil(parseQuantity(String(raw)) / (divisor || 1)));
}

export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}
