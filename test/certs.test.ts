import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createCa, createCaValidFor, issueServingCert, issueServingCertValidFor, renewalDue, stillGood, validityOf } from '../operator/platform/tls/certs';

describe('operator certificates', () => {
  it('issue a CA and a serving certificate that a TLS client verifies for its hosts', async () => {
    const ca = await createCa('test-ca', 30);
    const serving = await issueServingCert(ca, ['localhost', '127.0.0.1'], 10);
    const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', ca: ca.certPem, timeout: 5_000 }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(body, 'ok');
      const other = await createCa('other-ca', 30);
      await assert.rejects(
        new Promise((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/', ca: other.certPem, timeout: 5_000 }, resolve);
          req.on('error', reject);
          req.end();
        }),
        /self-signed|unable to verify|certificate/,
      );
    } finally {
      server.close();
    }
  });

  it('are renewed when a host is missing or two thirds of the lifetime has passed', async () => {
    const ca = await createCa('test-ca', 30);
    const now = new Date();
    const serving = await issueServingCert(ca, ['reports.securestack.svc', '127.0.0.1'], 30, now);
    assert.equal(stillGood(serving.certPem, ['reports.securestack.svc', '127.0.0.1'], now), true);
    assert.equal(stillGood(serving.certPem, ['other.svc'], now), false);
    assert.equal(stillGood(serving.certPem, ['127.0.0.1'], new Date(now.getTime() + 21 * 86_400_000)), false);
  });

  it('are due for renewal from the moment the configured fraction of the lifetime is left, not a millisecond earlier', async () => {
    const now = new Date();
    const ca = await createCaValidFor('test-ca', 30 * 86_400_000, now);
    const serving = await issueServingCertValidFor(ca, ['127.0.0.1'], 9_000_000, now);
    const { notBefore, notAfter } = validityOf(serving.certPem);
    for (const fraction of [1 / 3, 0.5]) {
      const due = Math.ceil(notAfter - (notAfter - notBefore) * fraction);
      assert.equal(renewalDue(serving.certPem, new Date(due - 1), fraction), false, `fraction ${fraction}: one millisecond before`);
      assert.equal(renewalDue(serving.certPem, new Date(due), fraction), true, `fraction ${fraction}: at the edge`);
    }
  });
});
