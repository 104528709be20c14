// A pod's own network namespace, as a CNI plugin gives one: the pod's containers bind their ports
// without colliding with other pods or the node, reach the node's loopback services through the
// sandbox's twins, and are reached (by Services, probes) through the sandbox's ingress socket.
// See netns-agent.ts for the sandbox side.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, isIPv4, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeBoth, readHeader } from './bridge';

const AGENT = path.join(__dirname, 'netns-agent.js');

export class PodNetwork {
  private sandbox: ChildProcess | undefined;
  private egress: Server | undefined;

  constructor(
    /** A short folder of the pod's (Unix socket paths are limited to 107 bytes). */
    readonly dir: string,
    private readonly env: Record<string, string>,
  ) {}

  /** /proc/<sandbox pid>/ns/net: what the pod's containers enter. */
  get namespacePath(): string {
    return `/proc/${this.sandbox?.pid ?? 0}/ns/net`;
  }

  /** Starts the sandbox in a new network namespace with loopback up; resolves once it serves. */
  async start(keepFree: readonly number[]): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.egress = await this.serveEgress();
    const script = `ip link set lo up && exec "$0" "$@"`;
    this.sandbox = spawn('unshare', ['--net', 'sh', '-c', script, process.execPath, AGENT, this.dir, String(process.pid), keepFree.join(',')], {
      env: { ...this.env, PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', 'inherit'],
      detached: true,
    });
    const exited = new Promise<void>((resolve) => this.sandbox?.once('exit', () => resolve()));
    for (let i = 0; i < 200; i++) {
      if (existsSync(path.join(this.dir, 'ready'))) return;
      if (this.sandbox.exitCode !== null) break;
      await Promise.race([sleep(50), exited]);
    }
    throw new Error(`the pod's network sandbox did not start (exit ${this.sandbox.exitCode ?? 'none'} within 10 s)`);
  }

  /** A connection to a port inside the pod (127.0.0.1:<port> in its namespace). */
  connect(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(path.join(this.dir, 'ingress.sock'));
      socket.once('connect', () => {
        socket.write(`${port}\n`);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  /** Stops the sandbox; the namespace goes with its last process. */
  stop(): void {
    const pid = this.sandbox?.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.egress?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The node side of the twins: dials what the pod asked for, on the node's loopback only. */
  private serveEgress(): Promise<Server> {
    const sock = path.join(this.dir, 'egress.sock');
    const server = createServer((client) => {
      readHeader(client, (header, rest) => {
        const colon = header.lastIndexOf(':');
        const host = header.slice(0, colon);
        const port = Number(header.slice(colon + 1));
        if (!isIPv4(host) || !host.startsWith('127.') || !(port > 0 && port < 65536)) {
          client.destroy();
          return;
        }
        const target = connect({ host, port });
        target.once('connect', () => {
          if (rest.length > 0) target.write(rest);
          pipeBoth(client, target);
          client.resume();
        });
        target.once('error', () => client.destroy());
      });
    });
    return new Promise((resolve) => server.listen(sock, () => resolve(server)));
  }
}
