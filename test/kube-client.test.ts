// The Kubernetes transport of operator/platform/kube/client.ts against a loopback HTTP server that answers
// like the API server: errors with a Status body, watches as newline-delimited JSON, connections
// cut or gone quiet, answers at and past the size bound, one kept-alive connection.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isConflict, isNotFound, KubeApiError, KubeClient, type TransportLimits, type WatchEventType } from '../operator/platform/kube/client';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('KubeClient transport', () => {
  let server: Server;
  let handler: Handler = (_req, res) => res.end('{}');
  let connections = 0;
  const seen: Array<{ method: string; url: string; authorization: string; body: string }> = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization ?? '', body });
        handler(req, res);
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  function client(errors: Array<[string, number]> = [], limits: Partial<TransportLimits> = {}): KubeClient {
    const { port } = server.address() as AddressInfo;
    return KubeClient.fromKubeConfig((config) => config.loadFromOptions({
      clusters: [{ name: 'loopback', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'token-1' }],
      contexts: [{ name: 'test', cluster: 'loopback', user: 'tester' }],
      currentContext: 'test',
    }), (verb, code) => errors.push([verb, code]), limits);
  }

  const status = (res: ServerResponse, code: number, reason: string, message: string): void => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }));
  };
  const imageScans = { group: 'securestack.io', version: 'v1alpha1', plural: 'imagescans', kind: 'ImageScan', namespaced: true };

  it('sends the token and JSON to the REST path, and returns the object as sent (timestamps stay strings)', async () => {
    seen.length = 0;
    handler = (_req, res) => res.end(JSON.stringify({ metadata: { name: 'a', namespace: 'ns', creationTimestamp: '2026-12-06T10:00:00Z' } }));
    const created = await client().createCustom(imageScans, { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name: 'a', namespace: 'ns' } });
    assert.deepEqual(created, { metadata: { name: 'a', namespace: 'ns', creationTimestamp: '2026-12-06T10:00:00Z' } });
    assert.deepEqual(seen.map(({ method, url, authorization }) => ({ method, url, authorization })), [{ method: 'POST', url: '/apis/securestack.io/v1alpha1/namespaces/ns/imagescans', authorization: 'Bearer token-1' }]);
    assert.equal((JSON.parse(seen[0]?.body ?? '{}') as { metadata?: { name?: string } }).metadata?.name, 'a');
  });

  it('turns a Status answer into KubeApiError with the API server\'s message and reason, and reports it', async () => {
    const errors: Array<[string, number]> = [];
    handler = (req, res) => (req.method === 'GET' ? status(res, 404, 'NotFound', 'imagescans "x" not found') : status(res, 409, 'Conflict', 'the object has been modified'));
    assert.equal(await client(errors).getCustom(imageScans, { namespace: 'ns', name: 'x' }), undefined, '404 on a get is "absent"');
    const conflict = await client(errors).replaceCustomStatus(imageScans, { metadata: { name: 'x', namespace: 'ns', resourceVersion: '1' } }).then(() => undefined, (err: unknown) => err);
    assert.ok(conflict instanceof KubeApiError);
    assert.equal(conflict.code, 409);
    assert.equal(conflict.reason, 'Conflict');
    assert.match(conflict.message, /update imagescans\/status: 409 the object has been modified/);
    assert.ok(isConflict(conflict) && !isNotFound(conflict));
    assert.deepEqual(errors, [['get imagescans', 404], ['update imagescans/status', 409]]);
  });

  it('tries a 429 with Retry-After again up to 3 times, and fails on the fourth or without Retry-After', async () => {
    const throttle = (times: number, retryAfter: string | undefined): Handler => {
      let left = times;
      return (_req, res) => {
        if (left-- > 0) {
          res.writeHead(429, { 'content-type': 'application/json', ...(retryAfter !== undefined ? { 'retry-after': retryAfter } : {}) });
          res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 429, reason: 'TooManyRequests', message: 'storage is (re)initializing' }));
        } else res.end(JSON.stringify({ metadata: { name: 'x' } }));
      };
    };
    seen.length = 0;
    handler = throttle(3, '0');
    assert.deepEqual(await client().getCustom(imageScans, { namespace: 'ns', name: 'x' }), { metadata: { name: 'x' } });
    assert.equal(seen.length, 4, 'three retries, then the answer');
    seen.length = 0;
    handler = throttle(4, '0');
    await assert.rejects(client().getCustom(imageScans, { namespace: 'ns', name: 'x' }), /429 storage is \(re\)initializing/);
    assert.equal(seen.length, 4, 'no fifth request');
    seen.length = 0;
    handler = throttle(1, undefined);
    await assert.rejects(client().getCustom(imageScans, { namespace: 'ns', name: 'x' }), /429/);
    assert.equal(seen.length, 1, 'without Retry-After, no retry');
  });

  it('keeps one connection alive across requests', async () => {
    handler = (_req, res) => res.end('{"items":[]}');
    const kube = client();
    const before = connections;
    for (let i = 0; i < 5; i++) await kube.listCustom(imageScans, { namespace: 'ns' });
    assert.equal(connections - before, 1);
  });

  it('refuses an answer one byte past the size bound, and takes one exactly at it', async () => {
    const limit = 1024;
    const answer = (size: number): string => JSON.stringify({ pad: 'x'.repeat(size - '{"pad":""}'.length) });
    assert.equal(answer(limit).length, limit);
    handler = (req, res) => res.end(answer(req.url?.includes('at-limit') ? limit : limit + 1));
    const kube = client([], { maxResponseBytes: limit });
    assert.deepEqual(Object.keys(await kube.request('get', 'GET', '/at-limit')), ['pad']);
    await assert.rejects(kube.request('get', 'GET', '/past-limit'), /answer larger than 1024 bytes/);
  });

  describe('watch', () => {
    function watchOnce(kube: KubeClient): Promise<{ events: Array<[WatchEventType, string]>; err: Error | undefined }> {
      return new Promise((resolve) => {
        const events: Array<[WatchEventType, string]> = [];
        kube.watchPath('/api/v1/configmaps', { resourceVersion: '5' }, (type, object) => events.push([type, String(object.metadata?.name ?? object.metadata?.resourceVersion)]), (err) => resolve({ events, err }));
      });
    }

    it('asks for bookmarks from the version, reads events split across chunks, and ends cleanly when the server ends', async () => {
      seen.length = 0;
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const lines = `${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'one' } } })}\n${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } })}\n`;
        res.write(lines.slice(0, 20));
        setTimeout(() => res.end(lines.slice(20)), 20);
      };
      const { events, err } = await watchOnce(client());
      assert.deepEqual(events, [['ADDED', 'one'], ['BOOKMARK', '9']]);
      assert.equal(err, undefined);
      assert.equal(seen[0]?.url, '/api/v1/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=5');
    });

    it('ends with an error when the connection is cut mid-stream, refused (410), or quiet past the bound', async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'one' } } })}\n`);
        setTimeout(() => res.socket?.destroy(), 20);
      };
      const cut = await watchOnce(client());
      assert.deepEqual(cut.events, [['ADDED', 'one']]);
      assert.ok(cut.err, 'a cut connection is an error, not a normal end');

      const errors: Array<[string, number]> = [];
      handler = (_req, res) => status(res, 410, 'Expired', 'too old resource version');
      const gone = await watchOnce(client(errors));
      assert.ok(gone.err instanceof KubeApiError && gone.err.code === 410, String(gone.err));
      assert.deepEqual(errors, [['watch', 410]]);

      handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
      const quiet = await watchOnce(client([], { watchIdleTimeoutMs: 200 }));
      assert.match(String(quiet.err), /watch quiet for 200 ms/);
    });

    it('stops without calling done', async () => {
      handler = (_req, res) => res.writeHead(200).flushHeaders();
      let ended = false;
      const stop = client().watchPath('/api/v1/configmaps', { resourceVersion: '1' }, () => undefined, () => (ended = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      stop();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(ended, false);
    });
  });
});
