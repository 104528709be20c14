// The node player's kube-proxy and cluster DNS, for pods that have their own network (network.ts):
//   - every ClusterIP Service gets a node address on loopback, 127.<2nd>.<3rd>.<4th> octets of its
//     ClusterIP, listening on the Service's ports, and its names (<svc>.<ns>.svc[.cluster.local])
//     in the hosts file chrooted containers see as /etc/hosts;
//   - the API server's "cluster" egress (--egress-selector-config-file, written by start.sh) is an
//     HTTP CONNECT proxy on <run>/nodeplayer/cluster-egress.sock: a webhook or aggregated API
//     called through its Service arrives as CONNECT <ClusterIP>:<port>.
// Either way a connection goes to a ready endpoint of the Service's EndpointSlices (round robin)
// and, through the endpoint's pod IP, into that pod's network. Other CONNECT targets are dialled
// as they are, which is what the API server would have done without the egress configuration.
import type * as k8s from '@kubernetes/client-node';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import type { KubeClient } from '../../../operator/platform/kube/client';
import { pipeBoth } from './bridge';
import type { PodNetwork } from './network';

/** The node address of a ClusterIP: 10.96.3.7 -> 127.96.3.7. */
export function nodeAddressOf(clusterIP: string): string | undefined {
  const octets = clusterIP.split('.');
  return octets.length === 4 ? `127.${octets.slice(1).join('.')}` : undefined;
}

/** The hosts file for a set of Services: localhost, then each Service's names at its node address. */
export function hostsFileText(services: readonly k8s.V1Service[]): string {
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback'];
  for (const svc of services) {
    const address = nodeAddressOf(svc.spec?.clusterIP ?? '');
    const { name, namespace } = svc.metadata ?? {};
    if (address && name && namespace) lines.push(`${address} ${name}.${namespace}.svc ${name}.${namespace}.svc.cluster.local`);
  }
  return `${lines.join('\n')}\n`;
}

export class ServiceProxy {
  readonly hostsFile: string;
  private readonly services = new Map<string, k8s.V1Service>();
  private readonly listeners = new Map<string, Server>();
  private egress: HttpServer | undefined;
  private stopped = false;
  private stopWatch: (() => void) | undefined;
  private nextEndpoint = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly runDir: string,
    private readonly podNetwork: (podIP: string) => PodNetwork | undefined,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.hostsFile = path.join(runDir, 'nodeplayer', 'hosts');
  }

  static egressSocket(runDir: string): string {
    return path.join(runDir, 'nodeplayer', 'cluster-egress.sock');
  }

  async start(): Promise<void> {
    mkdirSync(path.dirname(this.hostsFile), { recursive: true });
    const rv = await this.relist();
    this.egress = await this.serveEgress();
    void this.loop(rv);
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
    this.egress?.close();
    for (const server of this.listeners.values()) server.close();
  }

  private async relist(): Promise<string> {
    const { items, resourceVersion } = await this.client.listCollection<k8s.V1Service>('/api/v1/services');
    this.services.clear();
    for (const svc of items) this.services.set(`${svc.metadata?.namespace}/${svc.metadata?.name}`, svc);
    this.sync();
    return resourceVersion;
  }

  private async loop(initial: string): Promise<void> {
    let rv: string | undefined = initial;
    while (!this.stopped) {
      try {
        rv ??= await this.relist();
        rv = await this.watch(rv);
      } catch (err) {
        if (this.stopped) break;
        this.log('service watch failed; re-listing', { error: err instanceof Error ? err.message : String(err) });
        rv = undefined;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** One watch; resolves with the version to go on from, or undefined when a re-list is due. */
  private watch(rv: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      let last: string | undefined = rv;
      this.stopWatch = this.client.watchPath(
        '/api/v1/services',
        { resourceVersion: rv, timeoutSeconds: 300 },
        (type, obj) => {
          const svc = obj as k8s.V1Service;
          if (type === 'ERROR') {
            last = undefined;
            return;
          }
          last = svc.metadata?.resourceVersion ?? last;
          if (type === 'BOOKMARK') return;
          const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
          if (type === 'DELETED') this.services.delete(key);
          else this.services.set(key, svc);
          this.sync();
        },
        (err) => (err ? reject(err) : resolve(last)),
      );
    });
  }

  /** Listeners and hosts file to match the Services now known. */
  private sync(): void {
    const wanted = new Map<string, { svc: k8s.V1Service; port: k8s.V1ServicePort; address: string }>();
    for (const svc of this.services.values()) {
      const address = nodeAddressOf(svc.spec?.clusterIP ?? '');
      if (!address) continue;
      for (const port of svc.spec?.ports ?? []) {
        if ((port.protocol ?? 'TCP') === 'TCP') wanted.set(`${address}:${port.port}`, { svc, port, address });
      }
    }
    for (const [key, server] of this.listeners) {
      if (!wanted.has(key)) {
        server.close();
        this.listeners.delete(key);
      }
    }
    for (const [key, { svc, port, address }] of wanted) {
      if (this.listeners.has(key)) continue;
      const namespace = svc.metadata?.namespace ?? '';
      const name = svc.metadata?.name ?? '';
      const server = createServer((client) => {
        client.pause();
        this.route(namespace, name, port.name ?? '', (err, upstream) => {
          if (err || !upstream) {
            client.destroy();
            return;
          }
          pipeBoth(client, upstream);
          client.resume();
        });
      });
      server.once('error', (err) => this.log('service address not served', { service: `${namespace}/${name}`, address: key, error: err.message }));
      server.listen(port.port, address);
      this.listeners.set(key, server);
    }
    // In place, not renamed: chrooted containers hold this inode bind-mounted at /etc/hosts.
    writeFileSync(this.hostsFile, hostsFileText([...this.services.values()]));
  }

  /** A connection to a ready endpoint of the Service's named port, in the endpoint pod's network. */
  private route(namespace: string, service: string, portName: string, done: (err: Error | undefined, socket?: Socket) => void): void {
    const selector = `kubernetes.io/service-name=${service}`;
    this.client
      .listCollection<k8s.V1EndpointSlice>(`/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`, selector)
      .then(async ({ items }) => {
        const candidates: Array<{ ip: string; port: number }> = [];
        for (const slice of items) {
          const port = (slice.ports ?? []).find((p) => (p.name ?? '') === portName)?.port;
          if (port === undefined) continue;
          for (const endpoint of slice.endpoints ?? []) {
            if (endpoint.conditions?.ready === false) continue;
            for (const ip of endpoint.addresses) candidates.push({ ip, port });
          }
        }
        for (let tried = 0; tried < candidates.length; tried++) {
          const pick = candidates[this.nextEndpoint++ % candidates.length];
          const network = pick ? this.podNetwork(pick.ip) : undefined;
          if (pick && network) {
            done(undefined, await network.connect(pick.port));
            return;
          }
        }
        done(new Error(`no ready endpoint of ${namespace}/${service} port ${portName} runs in a pod network of this node`));
      })
      .catch((err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
  }

  private serveEgress(): Promise<HttpServer> {
    const socketPath = ServiceProxy.egressSocket(this.runDir);
    rmSync(socketPath, { force: true });
    const server = createHttpServer((_req, res) => {
      res.writeHead(405).end('CONNECT only\n');
    });
    server.on('connect', (req, client: Socket, head: Buffer) => {
      const target = req.url ?? '';
      const colon = target.lastIndexOf(':');
      const host = target.slice(0, colon);
      const port = Number(target.slice(colon + 1));
      const established = (err: Error | undefined, upstream?: Socket): void => {
        if (err || !upstream) {
          this.log('cluster egress refused', { target, error: err?.message });
          client.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
          return;
        }
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        pipeBoth(client, upstream);
      };
      const svc = [...this.services.values()].find((s) => s.spec?.clusterIP === host);
      const svcPort = svc?.spec?.ports?.find((p) => p.port === port);
      const pod = this.podNetwork(host);
      if (svc && svcPort) {
        this.route(svc.metadata?.namespace ?? '', svc.metadata?.name ?? '', svcPort.name ?? '', established);
      } else if (pod) {
        pod.connect(port).then((s) => established(undefined, s), (err: Error) => established(err));
      } else {
        const direct = connect({ host, port });
        direct.once('connect', () => established(undefined, direct));
        direct.once('error', (err) => established(err));
      }
    });
    return new Promise((resolve) => server.listen(socketPath, () => resolve(server)));
  }
}
