// A loopback stand-in for a Kubernetes Service in front of several replicas, as kube-proxy gives
// one: a TCP forwarder that sends each connection to the next backend that accepts it, so a
// killed replica's share goes to the others. (A real forwarder of real connections, not a fake.)
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface LoopbackService {
  port: number;
  /** Connections forwarded, by backend port. */
  forwarded: Map<number, number>;
  close(): Promise<void>;
}

export async function startLoopbackService(backends: readonly number[]): Promise<LoopbackService> {
  let next = 0;
  const forwarded = new Map<number, number>();
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  /** Tries the backends in turn from the next one; undefined when none accepts. */
  const open = async (): Promise<{ socket: Socket; port: number } | undefined> => {
    for (let tried = 0; tried < backends.length; tried++) {
      const port = backends[next++ % backends.length] ?? 0;
      const socket = await new Promise<Socket | undefined>((resolve) => {
        const attempt = connect({ host: '127.0.0.1', port });
        attempt.once('connect', () => resolve(attempt));
        attempt.once('error', () => resolve(undefined));
      });
      if (socket) return { socket, port };
    }
    return undefined;
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    void open().then((backend) => {
      if (!backend) {
        client.destroy();
        return;
      }
      track(backend.socket);
      forwarded.set(backend.port, (forwarded.get(backend.port) ?? 0) + 1);
      client.pipe(backend.socket).pipe(client);
      client.resume();
      const end = (): void => {
        client.destroy();
        backend.socket.destroy();
      };
      client.once('error', end).once('close', end);
      backend.socket.once('error', end).once('close', end);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the loopback service has no port');
  return {
    port: address.port,
    forwarded,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
