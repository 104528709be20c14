// A real HTTPS webhook receiver on loopback, as a user would run one: its certificate comes from a
// CA made with the operator's own certificate helpers, it verifies every request's Standard
// Webhooks signature (operator/features/notify/signing.ts, the same check the docs show), and it
// counts deliveries by webhook-id, so tests can assert "at least once" and count duplicates.
// It can be stopped and started again on the same port, answer slowly, or answer with a status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { createCa, issueServingCert, type KeyPairPem } from '../../operator/platform/tls/certs';
import { verify } from '../../operator/features/notify/signing';

export interface ReceivedDelivery {
  id: string;
  timestamp: number;
  body: string;
  verified: boolean;
  receivedAt: number;
}

export interface ReceiverBehaviour {
  /** Called as each request arrives, headers read, before its body (timing for the benchmark). */
  onRequest?: (id: string) => void;
  /** Delay before answering, per request (ms); may look at the delivery id and how often it was seen. */
  delayMs?: (id: string, seen: number) => number;
  /** Status to answer (default 204), and headers to send with it. */
  answer?: (id: string, seen: number) => { status: number; headers?: Record<string, string> };
}

export interface TestReceiver {
  port: number;
  url: string;
  ca: KeyPairPem;
  /** Every request, in arrival order. */
  requests: ReceivedDelivery[];
  /** Requests per delivery id. */
  countById(): Map<string, number>;
  behaviour: ReceiverBehaviour;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A CA and a serving certificate for 127.0.0.1 and localhost. */
export async function receiverCertificates(): Promise<{ ca: KeyPairPem; serving: KeyPairPem }> {
  const ca = await createCa('securestack-test-receiver-ca', 1);
  return { ca, serving: await issueServingCert(ca, ['127.0.0.1', 'localhost'], 1) };
}

export async function startTestReceiver(key: Buffer, options: { port?: number; listen?: boolean; certificates?: { ca: KeyPairPem; serving: KeyPairPem } } = {}): Promise<TestReceiver> {
  const { ca, serving } = options.certificates ?? (await receiverCertificates());
  const requests: ReceivedDelivery[] = [];
  const seen = new Map<string, number>();
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const receiver: TestReceiver = {
    port: options.port ?? 0,
    url: '',
    ca,
    requests,
    behaviour: {},
    countById: () => new Map(seen),
    start: async () => {
      server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => void handle(req, res));
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(receiver.port, '127.0.0.1', () => resolve());
      });
      const address = server.address();
      receiver.port = typeof address === 'object' && address ? address.port : receiver.port;
      receiver.url = `https://127.0.0.1:${receiver.port}/hooks/securestack`;
    },
    stop: async () => {
      const closing = server;
      server = undefined;
      if (!closing) return;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    receiver.behaviour.onRequest?.(String(req.headers['webhook-id'] ?? ''));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const header = (name: string): string => String(req.headers[name] ?? '');
    const id = header('webhook-id');
    const verified = verify(key, { 'webhook-id': id, 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') }, body);
    const count = (seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    requests.push({ id, timestamp: Number(header('webhook-timestamp')), body, verified, receivedAt: Date.now() });
    const delay = receiver.behaviour.delayMs?.(id, count) ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (!verified) {
      res.writeHead(401).end('bad signature');
      return;
    }
    const answer = receiver.behaviour.answer?.(id, count) ?? { status: 204 };
    if (!res.destroyed) res.writeHead(answer.status, answer.headers ?? {}).end();
  }

  if (options.listen ?? true) await receiver.start();
  else {
    // Reserve a port number for a receiver that starts later ("down, then up").
    await receiver.start();
    await receiver.stop();
  }
  receiver.url = `https://127.0.0.1:${receiver.port}/hooks/securestack`;
  return receiver;
}
