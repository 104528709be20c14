// bench/ingest: the admission webhook's latency while a 50 MiB scan report is ingested, against
// the same webhook idle (issue 9: "webhook p99 during a 50 MiB report ingest vs idle, within 2 ms").
//
//   bash bench/ingest.sh       (builds, starts the test plane through bench/plane.sh, runs this)
//
// One process plays the operator: the real webhook HTTPS server (operator/features/admission/server.ts) with the
// admission handler wired as in bench/admission.ts (Enforce, pss-restricted + best-practices +
// allowed-registries), and the real report upload server (operator/features/scan/upload-server.ts) with the
// real intake (operator/features/scan/intake.ts: report parser process, ResultStore, ResultCache on the
// memory LRU). Its Kubernetes API calls go to the test plane's kube-apiserver ($KUBECONFIG): the
// TokenReview, Pod and ImageScan reads that authenticate each upload, and the SBOM and result
// ConfigMap writes. For that the bench creates, in a namespace of its own (deleted at the end), an
// ImageScan with its digest in status, a ServiceAccount, a Pod on the kwok node carrying the
// ImageScan's UID label as a scan Job's pod does, and a TokenRequest token for the report audience
// bound to that Pod, which the uploads present.
//
// A worker thread plays the API server and the scan Job, so its clock does not stop when the
// operator's event loop does: it sends AdmissionReviews (bench/admission.ts's mix of 64 bodies)
// at a fixed rate, open loop, over keep-alive HTTPS, and times each one; on command it uploads the
// report (a Trivy-shaped CycloneDX document of about 50 MiB, gzip as the uploader sends it).
// Per round: an idle phase, then an ingest phase of back-to-back uploads, the same length or
// longer. The operator's own event-loop delay (perf_hooks) is reported per phase too.
//
// Knobs (environment): SECURESTACK_BENCH_RATE (reviews/s, 200), SECURESTACK_BENCH_ROUNDS (3),
// SECURESTACK_BENCH_UPLOADS (uploads per ingest phase, 2), SECURESTACK_BENCH_REPORT_MIB (50),
// SECURESTACK_BENCH_PARSE (process | inline: inflate and parse on the event loop, as before the
// parser moved out of the operator's thread, for comparison), SECURESTACK_BENCH_PIN (1: the plane
// and the load generator on CPU 0, the operator on CPU 1), SECURESTACK_BENCH_PARSER_CPU (a CPU
// list for the parser process, to see what it costs the operator's core), SECURESTACK_BENCH_HELPERS_NICE
// (a nice value for the operator's threads other than its event loop).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { Agent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import type { V1Pod } from '@kubernetes/client-node';
import type { ImageScan } from '../operator/api/types.generated';
import { imageScanType } from '../operator/api/resources';
import { imageScanUidLabel, reportTokenAudience } from '../operator/features/scan/scanjob';
import { KubeClient, type ConfigMap } from '../operator/platform/kube/client';
import { createLogger } from '../operator/platform/log';
import { MemoryLru } from '../operator/features/scan/cache';
import { acceptedSpecVersions, reportIntake } from '../operator/features/scan/intake';
import { createScanMetrics } from '../operator/features/scan/metrics';
import { inflateReport, parseReport, type ParseOptions } from '../operator/features/scan/report';
import { ReportParser } from '../operator/features/scan/report-parser';
import { ResultCache } from '../operator/features/scan/result-cache';
import { ResultStore } from '../operator/features/scan/results';
import { SBOM_LABEL_IMAGESCAN, imageScanLabelValue } from '../operator/features/scan/sbom-store';
import { startUploadServer } from '../operator/features/scan/upload-server';
import { createCa, issueServingCert } from '../operator/platform/tls/certs';
import { setThreadPriorities } from '../operator/platform/runtime/priority';
import { WebhookServer, validatePath } from '../operator/features/admission/server';
import { Registry } from 'prom-client';
import { ensureCrds } from '../test/support/crds';
import { generateTrivyReport } from '../test/support/cyclonedx';
import { runDir } from '../test/support/nodeplayer';
import { benchHandler, mixReviews, percentile } from './admission';

const settings = {
  rate: Number(process.env.SECURESTACK_BENCH_RATE ?? 200),
  rounds: Number(process.env.SECURESTACK_BENCH_ROUNDS ?? 3),
  uploads: Number(process.env.SECURESTACK_BENCH_UPLOADS ?? 2),
  reportMiB: Number(process.env.SECURESTACK_BENCH_REPORT_MIB ?? 50),
  parse: process.env.SECURESTACK_BENCH_PARSE === 'inline' ? 'inline' : 'process',
  // 1: the plane and the load generator on CPU 0, the operator's threads (and the parser process
  // it starts) on CPU 1, as in a cluster where the control plane does not share the operator's
  // node. Default: everything shares both cores.
  pin: process.env.SECURESTACK_BENCH_PIN === '1',
};

/** Sets the CPU affinity of a process (all its threads) or of one thread. */
function pinTo(cpus: string, id: number, allThreads: boolean): void {
  const result = spawnSync('taskset', [...(allThreads ? ['-a'] : []), '-p', '-c', cpus, String(id)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`taskset -c ${cpus} ${id} failed (SECURESTACK_BENCH_PIN=1 needs taskset): ${result.stderr || result.error?.message}`);
}

/** The test plane's processes, from test/env/start.sh's pid files. */
function planePids(): number[] {
  const dir = path.join(runDir(), 'pids');
  return readdirSync(dir).map((file) => Number(readFileSync(path.join(dir, file), 'utf8').trim())).filter((pid) => Number.isInteger(pid) && pid > 0);
}

function pinPlane(cpus: string): void {
  for (const pid of planePids()) {
    try {
      pinTo(cpus, pid, true);
    } catch {
      // a plane component that is not running (its pid file left over) has nothing to pin
    }
  }
}

/** Made up once, in the main thread: the worker evaluates this module again and is told it (ClientSetup). */
const namespace = `bench-ingest-${randomBytes(3).toString('hex')}`;
const scanName = 'app';
const serviceAccount = 'scanner';
const kwokNode = 'kwok-node-0';
const digest = `sha256:${'d'.repeat(64)}`;

// ---- the client side (worker thread) --------------------------------------------------------

interface ClientSetup {
  webhookPort: number;
  uploadPort: number;
  caPem: string;
  namespace: string;
  /** The scan Pod's bound ServiceAccount token, as the uploader reads it from its projected volume. */
  token: string;
  rate: number;
  reportMiB: number;
}

type Command = { kind: 'reviews'; seconds?: number } | { kind: 'stop' } | { kind: 'upload' };
type ClientEvent =
  | { kind: 'ready'; jsonBytes: number; gzipBytes: number; components: number; vulnerabilities: number }
  | { kind: 'latencies'; ms: number[]; failed: number }
  | { kind: 'uploaded'; status: number; ms: number };

/** Components and vulnerabilities for a report of about `mib` MiB (5,000/2,000 make 7.8 MiB). */
function reportShape(mib: number): { components: number; vulnerabilities: number } {
  const scale = mib / 7.8;
  return { components: Math.round(5000 * scale), vulnerabilities: Math.round(2000 * scale) };
}

function send(agent: Agent, port: number, path: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, method: path === validatePath ? 'POST' : 'PUT', agent, servername: 'localhost', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function client(setup: ClientSetup): void {
  const port = parentPort;
  if (!port) return;
  // The load generator plays the API server and the scan Job: with the plane, not the operator.
  if (settings.pin) pinTo('0', Number(readlinkSync('/proc/thread-self').split('/').pop()), false);
  const shape = reportShape(setup.reportMiB);
  const report = generateTrivyReport({ ...shape, seed: 5 });
  const json = Buffer.from(report.json);
  const gzip = gzipSync(json); // level 6, what the uploader's createGzip() sends
  const reviews = mixReviews('shop').map((r) => r.body);
  const reviewAgent = new Agent({ keepAlive: true, maxSockets: 16, ca: setup.caPem });
  const uploadAgent = new Agent({ keepAlive: false, ca: setup.caPem });
  let sending: { stop: boolean; latencies: number[]; failed: number } | undefined;

  const reviewLoop = async (state: NonNullable<typeof sending>): Promise<void> => {
    const interval = 1000 / setup.rate;
    const start = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; !state.stop; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const body = reviews[i % reviews.length] ?? Buffer.alloc(0);
      const sent = performance.now();
      inFlight.push(
        send(reviewAgent, setup.webhookPort, validatePath, body, { 'content-type': 'application/json' }).then(
          (status) => {
            if (status === 200) state.latencies.push(performance.now() - sent);
            else state.failed++;
          },
          () => void state.failed++,
        ),
      );
    }
    await Promise.all(inFlight);
  };

  let loop: Promise<void> = Promise.resolve();
  port.on('message', (command: Command) => {
    if (command.kind === 'reviews') {
      sending = { stop: false, latencies: [], failed: 0 };
      loop = reviewLoop(sending);
    } else if (command.kind === 'stop' && sending) {
      const state = sending;
      state.stop = true;
      void loop.then(() => port.postMessage({ kind: 'latencies', ms: state.latencies, failed: state.failed } satisfies ClientEvent));
    } else if (command.kind === 'upload') {
      const started = performance.now();
      void send(uploadAgent, setup.uploadPort, `/v1/reports/${setup.namespace}/${scanName}`, gzip, { authorization: `Bearer ${setup.token}`, 'content-encoding': 'gzip', 'content-type': 'application/json' }).then((status) =>
        port.postMessage({ kind: 'uploaded', status, ms: performance.now() - started } satisfies ClientEvent),
      );
    }
  });
  port.postMessage({ kind: 'ready', jsonBytes: json.length, gzipBytes: gzip.length, ...shape } satisfies ClientEvent);
}

// ---- the operator side (main thread) -------------------------------------------------------

/**
 * What a scan Job's upload is authenticated against, made real on the plane: the ImageScan (its
 * digest in status, as the reconciler resolves it before launching the Job), a Pod on the kwok node
 * labelled with the ImageScan's UID, and a token for the report audience bound to that Pod.
 */
async function scanCredentials(kube: KubeClient): Promise<{ token: string }> {
  await kube.request('create namespaces', 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'securestack.io/bench': 'ingest' } } });
  await kube.request('create serviceaccounts', 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceAccount } });
  const created = await kube.createCustom<ImageScan>(imageScanType, { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { namespace, name: scanName }, spec: { image: 'registry.example.com/app:1.0' } });
  const scan = await kube.replaceCustomStatus<ImageScan>(imageScanType, { ...created, status: { digest } });
  const pod = await kube.request<V1Pod>('create pods', 'POST', `/api/v1/namespaces/${namespace}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    // The scan Job's pod template labels it with the ImageScan's UID; that label is what the upload server checks.
    metadata: { name: 'scan-pod', labels: { [imageScanUidLabel]: scan.metadata?.uid ?? '' } },
    spec: {
      nodeName: kwokNode,
      tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
      serviceAccountName: serviceAccount,
      automountServiceAccountToken: false,
      containers: [{ name: 'uploader', image: 'registry.example.com/uploader:1.0' }],
    },
  });
  // As the kubelet makes the token of the Job's serviceAccountToken projection (test/env/nodeplayer/player.ts, requestToken).
  const request = await kube.request<{ status?: { token?: string } }>('create serviceaccounts/token', 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences: [reportTokenAudience], expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`the TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return { token };
}

/** Inflating and parsing on the event loop, as the intake did before the parser process: for comparison only. */
const inlineParser = {
  parse: async (gzip: Buffer, options?: ParseOptions) => {
    const json = inflateReport(gzip);
    const { summary, sha256 } = await parseReport(json, options);
    return { summary, sha256, bytes: json.length };
  },
};

interface PhaseFigures {
  phase: 'idle' | 'ingest';
  seconds: number;
  reviews: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
  loopDelayP99: number;
  loopDelayMax: number;
  stall: Stall;
  uploads: { status: number; ms: number }[];
}

class ClientHandle {
  private readonly waiters: ((event: ClientEvent) => void)[] = [];
  constructor(readonly worker: Worker) {
    worker.on('message', (event: ClientEvent) => this.waiters.shift()?.(event));
  }
  next<K extends ClientEvent['kind']>(kind: K): Promise<Extract<ClientEvent, { kind: K }>> {
    return new Promise((resolve, reject) =>
      this.waiters.push((event) => (event.kind === kind ? resolve(event as Extract<ClientEvent, { kind: K }>) : reject(new Error(`expected ${kind}, got ${event.kind}`)))),
    );
  }
  send(command: Command): void {
    this.worker.postMessage(command);
  }
}

/** The main thread's CPU time and run-queue wait so far, in ms (Linux schedstat; 0 elsewhere). */
function threadSched(): { cpuMs: number; waitMs: number } {
  try {
    const [cpu = '0', wait = '0'] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return { cpuMs: Number(cpu) / 1e6, waitMs: Number(wait) / 1e6 };
  } catch {
    return { cpuMs: 0, waitMs: 0 };
  }
}

interface Stall {
  gapMs: number;
  /** Of the gap: on CPU (code that blocks the loop), and waiting for a core (a busy machine). */
  cpuMs: number;
  waitMs: number;
}

/** The longest gap between 1 ms ticks of the operator's event loop, and what filled it. */
function stallWatch(): { stop: () => Stall } {
  let worst: Stall = { gapMs: 0, cpuMs: 0, waitMs: 0 };
  let lastWall = performance.now();
  let last = threadSched();
  const timer = setInterval(() => {
    const wall = performance.now();
    const now = threadSched();
    const gapMs = wall - lastWall;
    if (gapMs > worst.gapMs) worst = { gapMs, cpuMs: now.cpuMs - last.cpuMs, waitMs: now.waitMs - last.waitMs };
    lastWall = wall;
    last = now;
  }, 1);
  return {
    stop: () => {
      clearInterval(timer);
      return worst;
    },
  };
}

async function phase(client: ClientHandle, kind: PhaseFigures['phase'], seconds: number, uploads: number): Promise<PhaseFigures> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const started = performance.now();
  loop.enable();
  const stalls = stallWatch();
  client.send({ kind: 'reviews' });
  const done: { status: number; ms: number }[] = [];
  if (uploads > 0) {
    for (let i = 0; i < uploads; i++) {
      const next = client.next('uploaded');
      client.send({ kind: 'upload' });
      done.push(await next);
    }
  } else {
    await sleep(seconds * 1000);
  }
  const latencies = client.next('latencies');
  client.send({ kind: 'stop' });
  const { ms, failed } = await latencies;
  loop.disable();
  const stall = stalls.stop();
  const sorted = Float64Array.from(ms).sort();
  return {
    phase: kind,
    seconds: (performance.now() - started) / 1000,
    reviews: ms.length,
    failed,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    loopDelayP99: loop.percentile(99) / 1e6,
    loopDelayMax: loop.max / 1e6,
    stall,
    uploads: done,
  };
}

const fmt = (n: number): string => n.toFixed(2);

async function operator(): Promise<void> {
  const log = createLogger('error');
  const ca = await createCa('securestack-bench', 1);
  const serving = await issueServingCert(ca, ['localhost', '127.0.0.1'], 1);
  const { handler } = benchHandler();
  // A fixed key pair: nothing rotates during a bench run.
  const fixedTls = { attach: (server: { setSecureContext(options: { cert: string; key: string }): void }) => (server.setSecureContext({ cert: serving.certPem, key: serving.keyPem }), () => undefined) };
  const webhook = await WebhookServer.start({ port: 0, host: '127.0.0.1', tls: fixedTls, handler, log, maxBodyBytes: 8 * 1024 * 1024 });
  // $KUBECONFIG is the test plane's (bench/plane.sh).
  const kube = KubeClient.fromDefault();
  await ensureCrds();
  if (settings.pin) {
    pinPlane('0');
    pinTo('1', process.pid, true);
  }
  // SECURESTACK_BENCH_HELPERS_NICE=N: the operator's other threads (V8's GC and compiler helpers)
  // at nice N, its event loop at 0.
  if (process.env.SECURESTACK_BENCH_HELPERS_NICE) setThreadPriorities(Number(process.env.SECURESTACK_BENCH_HELPERS_NICE), [process.pid]);
  try {
    const { token } = await scanCredentials(kube);
    const parser = settings.parse === 'process' ? new ReportParser() : undefined;
    if (parser) await parser.checkValidator(); // as operator/main.ts does at start
    // SECURESTACK_BENCH_PARSER_CPU=0 (with PIN=1) moves the parser process off the operator's core.
    if (parser?.pid && process.env.SECURESTACK_BENCH_PARSER_CPU) pinTo(process.env.SECURESTACK_BENCH_PARSER_CPU, parser.pid, true);
    const cache = new ResultCache(new MemoryLru(1000, 256 * 1024 * 1024), 24 * 3_600_000);
    const intake = reportIntake(new ResultStore(kube), cache, log, 'trivy', { parser: parser ?? inlineParser });
    const uploads = await startUploadServer({ port: 0, host: '127.0.0.1', tls: fixedTls, client: kube, log, metrics: createScanMetrics(new Registry()), onReport: intake });

    const setup: ClientSetup = { webhookPort: (webhook.server.address() as AddressInfo).port, uploadPort: (uploads.address() as AddressInfo).port, caPem: ca.certPem, namespace, token, rate: settings.rate, reportMiB: settings.reportMiB };
    const client = new ClientHandle(new Worker(__filename, { workerData: setup }));
    const ready = await client.next('ready');
    process.stdout.write(`report: ${(ready.jsonBytes / 1048576).toFixed(1)} MiB CycloneDX ${acceptedSpecVersions[0]} JSON (${ready.components} components, ${ready.vulnerabilities} vulnerabilities), ${(ready.gzipBytes / 1048576).toFixed(1)} MiB gzip; parse: ${settings.parse}; ${settings.rate} reviews/s\n`);

    // Warm-up: TLS sessions, JIT, the parser process's first report.
    const warmUp = await phase(client, 'ingest', 0, 1);
    if (warmUp.uploads.some((u) => u.status !== 201)) throw new Error(`the warm-up upload was not accepted: ${warmUp.uploads.map((u) => u.status).join(', ')}`);
    const figures: PhaseFigures[] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      const ingest = await phase(client, 'ingest', 0, settings.uploads);
      const idle = await phase(client, 'idle', ingest.seconds, 0);
      // A refused report is ingested in a fraction of the time: its figures would measure nothing.
      if (ingest.uploads.some((u) => u.status !== 201)) throw new Error(`an upload was not accepted: ${ingest.uploads.map((u) => u.status).join(', ')}`);
      figures.push(idle, ingest);
      const uploadsText = ingest.uploads.map((u) => `${u.status} in ${(u.ms / 1000).toFixed(1)} s`).join(', ');
      process.stdout.write(`round ${round}: idle p99 ${fmt(idle.p99)} ms, ingest p99 ${fmt(ingest.p99)} ms (uploads ${uploadsText})\n`);
    }
    const parts = (await kube.listCollection<ConfigMap>(`/api/v1/namespaces/${namespace}/configmaps`, `${SBOM_LABEL_IMAGESCAN}=${imageScanLabelValue(scanName)}`)).items;
    process.stdout.write(`on the plane: the SBOM in ${parts.length} ConfigMap part(s) of ImageScan ${namespace}/${scanName}, ${parts.reduce((n, p) => n + Buffer.byteLength(JSON.stringify(p)), 0)} bytes as JSON\n`);
    printTable(figures);
    await client.worker.terminate();
    await parser?.close();
    webhook.server.close();
    uploads.close();
  } finally {
    if (settings.pin) pinPlane(`0-${cpus().length - 1}`);
    // The ImageScan, its SBOM and result ConfigMaps, the Pod and the ServiceAccount go with it.
    await kube.request('delete namespaces', 'DELETE', `/api/v1/namespaces/${namespace}`).catch(() => undefined);
  }
}

function printTable(figures: PhaseFigures[]): void {
  const out = process.stdout;
  out.write('\n| phase | seconds | reviews | failed | p50 (ms) | p99 (ms) | max (ms) | event-loop delay p99 / max (ms) | longest stall (ms): of it on CPU / waiting for a core |\n|---|---|---|---|---|---|---|---|---|\n');
  for (const f of figures) {
    out.write(`| ${f.phase} | ${f.seconds.toFixed(1)} | ${f.reviews} | ${f.failed} | ${fmt(f.p50)} | ${fmt(f.p99)} | ${fmt(f.max)} | ${fmt(f.loopDelayP99)} / ${fmt(f.loopDelayMax)} | ${fmt(f.stall.gapMs)}: ${fmt(f.stall.cpuMs)} / ${fmt(f.stall.waitMs)} |\n`);
  }
  const pooled = (kind: PhaseFigures['phase']): number[] => figures.filter((f) => f.phase === kind).map((f) => f.p99);
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const idle = median(pooled('idle'));
  const ingest = median(pooled('ingest'));
  out.write(`\nwebhook p99, median of ${settings.rounds} round(s): idle ${fmt(idle)} ms, during ingest ${fmt(ingest)} ms, difference ${ingest - idle >= 0 ? '+' : ''}${fmt(ingest - idle)} ms\n`);
  const knobs = Object.entries({ RATE: settings.rate, ROUNDS: settings.rounds, UPLOADS: settings.uploads, REPORT_MIB: settings.reportMiB, PARSE: settings.parse, PIN: settings.pin ? 1 : 0 }).map(([k, v]) => `SECURESTACK_BENCH_${k}=${v}`);
  out.write(`Command: \`${knobs.join(' ')} bash bench/ingest.sh\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version})\n`);
}

if (isMainThread) {
  operator().catch((err: unknown) => {
    process.stderr.write(`bench/ingest: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
} else {
  client(workerData as ClientSetup);
}
