// A pod's sandbox process (the pause container of a real node), run by the node player inside the
// pod's own network namespace. It holds the namespace for the pod's containers (they enter it
// through /proc/<pid>/ns/net) and bridges it to the node over Unix sockets in the pod's folder,
// which both namespaces can reach:
//   - in:  the node connects to <dir>/ingress.sock and writes "<port>\n"; the agent connects to
//          127.0.0.1:<port> inside the pod (how Services and probes reach a container's port);
//   - out: every TCP listener on the node's loopback (the API server, registries, the node's
//          Service addresses, read from /proc/<node pid>/net/tcp every second) gets a twin listener
//          inside the pod, whose connections go to <dir>/egress.sock with "<address>:<port>\n"
//          first; the node player dials the address on the node.
// Ports the pod's containers declare are never taken, so the containers can bind them.
//
//   node netns-agent.js <dir> <node pid> <ports to leave free, comma-separated>
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import * as path from 'node:path';
import { pipeBoth, readHeader } from './bridge';
import { hostLoopbackListeners } from './util';

const [dir = '', nodePid = '', free = ''] = process.argv.slice(2);
const keepFree = new Set(free.split(',').filter(Boolean).map(Number));
const twins = new Map<string, Server>();

function serveIngress(): Promise<void> {
  const sock = path.join(dir, 'ingress.sock');
  rmSync(sock, { force: true });
  const server = createServer((client) => {
    readHeader(client, (header, rest) => {
      const port = Number(header);
      const target = connect({ host: '127.0.0.1', port });
      target.once('connect', () => {
        if (rest.length > 0) target.write(rest);
        pipeBoth(client, target);
        client.resume();
      });
      target.once('error', () => client.destroy());
    });
  });
  return new Promise((resolve) => server.listen(sock, resolve));
}

function twin(address: string, port: number): void {
  const key = `${address}:${port}`;
  if (twins.has(key) || keepFree.has(port)) return;
  const server = createServer((client) => {
    client.pause();
    const upstream = connect(path.join(dir, 'egress.sock'));
    upstream.once('connect', () => {
      upstream.write(`${key}\n`);
      pipeBoth(client, upstream);
      client.resume();
    });
    upstream.once('error', () => client.destroy());
  });
  // Taken by the pod itself meanwhile: leave it, and do not try again.
  server.once('error', () => undefined);
  twins.set(key, server);
  server.listen(port, address);
}

function syncTwins(): void {
  let text = '';
  try {
    text = readFileSync(`/proc/${nodePid}/net/tcp`, 'utf8');
  } catch {
    return; // the node player is gone; the pod is being torn down
  }
  for (const { address, port } of hostLoopbackListeners(text)) twin(address, port);
}

async function main(): Promise<void> {
  await serveIngress();
  syncTwins();
  setInterval(syncTwins, 1_000);
  writeFileSync(path.join(dir, 'ready'), `${process.pid}\n`);
}

process.on('SIGTERM', () => process.exit(0));
main().catch((err: unknown) => {
  process.stderr.write(`netns agent failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
