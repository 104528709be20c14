// Request-body bounds of the operator's HTTP servers (operator/platform/runtime/http.ts), on a real
// loopback server: a body over the limit is refused with a 413 that a client still sending its body
// actually reads (the rest is drained first, bounded, rather than the connection reset under it),
// and past the drain's byte bound the connection is dropped.
import { strict as assert } from 'node:assert';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { BodyTooLargeError, drainRefusedBody, readBoundedBody } from '../operator/platform/runtime/http';

const limit = 1024;
const servers: Server[] = [];

async function boundedServer(drainBytes: number): Promise<number> {
  const server = createServer((req, res) => {
    readBoundedBody(req, limit).then(
      (body) => res.writeHead(200).end(`read ${body.length}`),
      (err: unknown) => {
        void drainRefusedBody(req, drainBytes, 5_000).then((ended) => {
          if (ended) res.writeHead(err instanceof BodyTooLargeError ? 413 : 400, { connection: 'close' }).end('refused');
        });
      },
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function post(port: number, body: Buffer, contentLength = body.length): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'content-length': contentLength } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('request body bounds', () => {
  after(() => servers.forEach((server) => server.close()));

  it('reads a body of exactly the limit, and refuses one byte more with a 413 the sender reads', async () => {
    const port = await boundedServer(64 * 1024 * 1024);
    assert.deepEqual(await post(port, Buffer.alloc(limit)), { status: 200, text: `read ${limit}` });
    assert.equal((await post(port, Buffer.alloc(limit + 1))).status, 413);
  });

  it('answers 413 on the announced length, even for a body of many megabytes still being written (20 of 20)', async () => {
    const port = await boundedServer(64 * 1024 * 1024);
    for (let i = 0; i < 20; i++) assert.equal((await post(port, Buffer.alloc(8 * 1024 * 1024, 0x20))).status, 413, `attempt ${i + 1}`);
  });

  it('stops draining past its byte bound and drops the connection without an answer', async () => {
    const port = await boundedServer(4096);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`);
    // Keep sending past the drain bound (at most 64 chunks of 1 KiB): the server must hang up.
    for (let i = 0; i < 64 && !socket.destroyed; i++) {
      socket.write(Buffer.alloc(1024));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await closed;
    assert.equal(received, '', 'no answer is owed to a client sending past the bound');
  });
});
