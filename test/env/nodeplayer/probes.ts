// A container's readiness probe, run the way the kubelet runs it: after initialDelaySeconds, every
// periodSeconds, each try bounded by timeoutSeconds; ready after successThreshold successes in a
// row, unready after failureThreshold failures in a row. httpGet (2xx and 3xx succeed; HTTPS is
// not verified, as the kubelet does not) and tcpSocket are supported; the connection comes from
// the pod's network (network.ts).
import type * as k8s from '@kubernetes/client-node';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** A probe's port, named or numbered, as a number of the container's ports. */
export function probePort(container: k8s.V1Container, port: number | string | undefined): number {
  if (typeof port === 'number') return port;
  if (port !== undefined && /^[0-9]+$/.test(port)) return Number(port);
  const named = (container.ports ?? []).find((p) => p.name === port);
  if (!named) throw new Error(`probe port ${String(port)} names no port of container ${container.name}`);
  return named.containerPort;
}

export class ReadinessProbe {
  private timer: NodeJS.Timeout | undefined;
  private successes = 0;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly container: k8s.V1Container,
    private readonly dial: (port: number) => Promise<Socket>,
    private readonly onChange: (ready: boolean) => void,
  ) {}

  private get spec(): k8s.V1Probe {
    return this.container.readinessProbe ?? {};
  }

  start(): void {
    this.schedule((this.spec.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const ok = await this.tryOnce().catch(() => false);
    if (ok) {
      this.failures = 0;
      if (++this.successes >= (this.spec.successThreshold ?? 1)) this.onChange(true);
    } else {
      this.successes = 0;
      if (++this.failures >= (this.spec.failureThreshold ?? 3)) this.onChange(false);
    }
    this.schedule((this.spec.periodSeconds ?? 10) * 1000);
  }

  private async tryOnce(): Promise<boolean> {
    const timeoutMs = (this.spec.timeoutSeconds ?? 1) * 1000;
    const http = this.spec.httpGet;
    if (http) {
      const socket = await this.dial(probePort(this.container, http.port));
      return this.get(socket, http, timeoutMs);
    }
    if (this.spec.tcpSocket) {
      const socket = await this.dial(probePort(this.container, this.spec.tcpSocket.port));
      // The bridge accepts before the container does: a closed port shows as an immediate end.
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
          resolve(true);
        }, 200);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
    }
    throw new Error('only httpGet and tcpSocket readiness probes are supported by the node player');
  }

  private get(socket: Socket, http: k8s.V1HTTPGetAction, timeoutMs: number): Promise<boolean> {
    const https = http.scheme === 'HTTPS';
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.36' };
    for (const h of http.httpHeaders ?? []) headers[h.name] = h.value;
    return new Promise<boolean>((resolve) => {
      const options = {
        method: 'GET',
        path: http.path ?? '/',
        headers,
        timeout: timeoutMs,
        createConnection: () => (https ? tlsConnect({ socket, rejectUnauthorized: false }) : socket),
      };
      const req = (https ? httpsRequest : httpRequest)(options, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400);
        socket.destroy();
      });
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(false));
      req.end();
    });
  }
}
