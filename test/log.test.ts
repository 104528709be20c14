import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../operator/platform/log';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

describe('operator logs', () => {
  it('are JSON with the reconcile id of a child logger on every line', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream).child({ reconcileId: 'r-1', kind: 'ImageScan' });
    log.info('one');
    log.warn({ extra: 1 }, 'two');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.equal(entry.reconcileId, 'r-1');
      assert.equal(entry.kind, 'ImageScan');
      assert.equal(typeof entry.level, 'string');
    }
  });

  it('never print tokens, passwords, authorization headers or Secret data', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream);
    const secret = 'c2VjcmV0LXZhbHVl';
    log.info({ token: secret, password: secret, headers: { authorization: `Bearer ${secret}` } }, 'request');
    log.info({ secret: { data: { key: secret }, stringData: { key: secret } } }, 'object');
    log.info({ request: { bearerToken: secret, headers: { Authorization: `Bearer ${secret}` } } }, 'nested');
    assert.equal(lines.length, 3);
    for (const line of lines) {
      assert.ok(!line.includes(secret), `leaked in ${line}`);
      assert.ok(line.includes('[redacted]'));
    }
  });
});
