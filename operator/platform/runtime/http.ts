/**
 * /healthz, /readyz and /metrics on one small HTTP server. Liveness only says the event loop
 * answers; readiness says the watches are established, so a Service never routes to a process
 * that has not caught up.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthSource {
  ready(): { ok: boolean; reason: string };
}

export function startHttpServer(options: { port: number; host: string; registry: Registry; health: HealthSource }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const { ok, reason } = options.health.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`);
    } else if (path === '/metrics') {
      options.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  // Slow clients must not pin sockets: these endpoints answer in milliseconds.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** A request body over its limit: answered with 413 and the connection closed. */
export class BodyTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Before answering a request whose body was refused (413), reads and discards the rest of what the
 * client sends, at most `maxBytes` or for `maxMs`. A client writes its whole body before it reads
 * the answer: answering and closing at once would reset the connection under it, and it would see
 * a write error (EPIPE, "connection reset") instead of the 413. Resolves true when the body ended
 * within the bounds (answer then, with Connection: close); false when it did not (the connection
 * is destroyed: no answer is owed to a client sending that much). Nothing is kept in memory.
 */
export function drainRefusedBody(req: IncomingMessage, maxBytes: number, maxMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    const stop = (ended: boolean): void => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      if (!ended) req.socket.destroy();
      resolve(ended);
    };
    const timer = setTimeout(() => stop(false), maxMs);
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) stop(false);
    });
    req.once('end', () => stop(true));
    req.once('error', () => stop(false));
    req.resume();
  });
}

/**
 * Reads a whole request body, refusing at once when Content-Length announces more than
 * `maxBytes` and stopping as soon as more arrive, so one request never holds more than that.
 */
export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > maxBytes) return Promise.reject(new BodyTooLargeError(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        settled = true;
        chunks.length = 0;
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLargeError(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    req.once('end', () => {
      if (!settled) resolve(Buffer.concat(chunks, bytes));
      settled = true;
    });
  });
}
