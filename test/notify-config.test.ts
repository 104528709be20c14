// Notification settings as the operator reads them: a mistake in the receivers list (or in a
// numeric setting) stops the real process at start with exit code 2 and ONE line naming the
// setting, before it talks to any API server; bounds at the edge and one past. And the Node
// verification snippet in docs/notifications.md, run as written, accepts a real signed delivery
// and refuses a tampered one (so the docs cannot drift from the signing code).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../operator/platform/config';
import { loadReceivers } from '../operator/features/notify/receivers';
import { decodeSigningKey, signedHeaders } from '../operator/features/notify/signing';

const root = path.resolve(__dirname, '..', '..');
const main = path.join(root, 'dist', 'operator', 'main.js');

function start(env: Record<string, string>): { code: number | null; stderr: string } {
  // No kubeconfig on purpose: a settings error must stop the process before any API call.
  const result = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', KUBECONFIG: '/nonexistent', ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stderr: result.stderr };
}

describe('notification settings at start', () => {
  const receiver = { name: 'ops', url: 'https://hooks.example.com/', events: ['scan.failed'], secret: { name: 'ops-key' } };

  it('an unknown event name stops the process with one line naming the setting and the receiver', () => {
    const { code, stderr } = start({ SECURESTACK_NOTIFY_RECEIVERS: JSON.stringify([{ ...receiver, events: ['scan.finished'] }]) });
    assert.equal(code, 2, stderr);
    assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
    assert.match(stderr, /^securestack: invalid setting SECURESTACK_NOTIFY_RECEIVERS: receiver 'ops': unknown event 'scan.finished'/);
  });

  it('bad JSON, a bad URL and a duplicate name each stop it the same way', () => {
    for (const [value, message] of [
      ['[{"name":', /not JSON/],
      [JSON.stringify([{ ...receiver, url: 'hooks.example.com' }]), /receiver 'ops': url 'hooks.example.com' is not a URL/],
      [JSON.stringify([receiver, receiver]), /duplicate receiver name 'ops'/],
    ] as const) {
      const { code, stderr } = start({ SECURESTACK_NOTIFY_RECEIVERS: value });
      assert.equal(code, 2, stderr);
      assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
      assert.match(stderr, /^securestack: invalid setting SECURESTACK_NOTIFY_RECEIVERS: /);
      assert.match(stderr, message);
    }
  });

  it('the file form names its own setting; both forms at once are refused', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'notify-'));
    try {
      const file = path.join(dir, 'receivers.json');
      writeFileSync(file, '{"not": "a list"}');
      assert.match(start({ SECURESTACK_NOTIFY_RECEIVERS_FILE: file }).stderr, /^securestack: invalid setting SECURESTACK_NOTIFY_RECEIVERS_FILE: expected a JSON array/);
      assert.match(start({ SECURESTACK_NOTIFY_RECEIVERS_FILE: path.join(dir, 'missing.json') }).stderr, /invalid setting SECURESTACK_NOTIFY_RECEIVERS_FILE: cannot read/);
      writeFileSync(file, JSON.stringify([receiver]));
      assert.equal(loadReceivers('', file)[0]?.name, 'ops');
      assert.throws(() => loadReceivers(JSON.stringify([receiver]), file), /set either it or SECURESTACK_NOTIFY_RECEIVERS_FILE, not both/);
      assert.match(start({ SECURESTACK_NOTIFY_RECEIVERS_FILE: 'relative.json' }).stderr, /invalid setting SECURESTACK_NOTIFY_RECEIVERS_FILE: expected an absolute path/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('numeric settings: bounds at the edge and one past, and the back-off below its cap', () => {
    const config = (env: Record<string, string>): ReturnType<typeof loadConfig> => loadConfig([], env);
    assert.equal(config({}).notifyQueueSize, 10_000);
    assert.equal(config({ SECURESTACK_NOTIFY_QUEUE_SIZE: '100000' }).notifyQueueSize, 100_000);
    assert.throws(() => config({ SECURESTACK_NOTIFY_QUEUE_SIZE: '100001' }), /invalid setting SECURESTACK_NOTIFY_QUEUE_SIZE: expected an integer between 1 and 100000, got '100001'/);
    assert.throws(() => config({ SECURESTACK_NOTIFY_QUEUE_SIZE: '0' }), ConfigError);
    assert.equal(config({ SECURESTACK_NOTIFY_TIMEOUT: '1m' }).notifyTimeoutMs, 60_000);
    assert.throws(() => config({ SECURESTACK_NOTIFY_TIMEOUT: '61s' }), /SECURESTACK_NOTIFY_TIMEOUT/);
    assert.equal(config({ SECURESTACK_NOTIFY_MAX_BODY_BYTES: '1048576' }).notifyMaxBodyBytes, 1_048_576);
    assert.throws(() => config({ SECURESTACK_NOTIFY_MAX_BODY_BYTES: '1048577' }), /SECURESTACK_NOTIFY_MAX_BODY_BYTES/);
    assert.throws(() => config({ SECURESTACK_NOTIFY_BACKOFF: '10m', SECURESTACK_NOTIFY_BACKOFF_CAP: '1m' }), /SECURESTACK_NOTIFY_BACKOFF: must not be longer than SECURESTACK_NOTIFY_BACKOFF_CAP/);
    assert.equal(config({ '--notify-adopt-after': 'x' }).notifyAdoptAfterMs, 30_000, 'an unrelated env key is ignored');
    assert.equal(loadConfig(['--notify-concurrency=8'], {}).notifyConcurrency, 8);
  });
});

describe('the verification snippet in docs/notifications.md', () => {
  it('accepts a delivery signed by the operator and refuses a tampered body, an old timestamp and another key', () => {
    const doc = readFileSync(path.join(root, 'docs', 'notifications.md'), 'utf8');
    const snippet = /```js\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    // The verify function and the key set-up, without the example server at the end.
    const code = snippet.split("require('node:http')")[0] ?? '';
    assert.match(code, /function verify\(/);
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    // Run as written, as a module of its own: only `module.exports` is added.
    const dir = mkdtempSync(path.join(tmpdir(), 'notify-doc-'));
    const file = path.join(dir, 'verify.js');
    writeFileSync(file, `${code}\nmodule.exports = verify;\n`);
    const previous = process.env.SIGNING_KEY;
    process.env.SIGNING_KEY = secret;
    let verify: (headers: Record<string, string>, body: Buffer) => boolean;
    try {
      verify = require(file) as typeof verify; // eslint-disable-line @typescript-eslint/no-require-imports -- a generated CommonJS file, loaded at run time
    } finally {
      if (previous === undefined) delete process.env.SIGNING_KEY;
      else process.env.SIGNING_KEY = previous;
      rmSync(dir, { recursive: true, force: true });
    }
    const body = '{"type":"scan.failed","timestamp":"2026-12-07T00:00:00Z","data":{}}';
    const now = Math.floor(Date.now() / 1000);
    const headers = { ...signedHeaders(decodeSigningKey(secret), 'msg_0123', now, body) };
    assert.equal(verify(headers, Buffer.from(body)), true);
    assert.equal(verify(headers, Buffer.from(body.replace('failed', 'completed'))), false);
    assert.equal(verify({ ...signedHeaders(decodeSigningKey(secret), 'msg_0123', now - 301, body) }, Buffer.from(body)), false);
    assert.equal(verify({ ...signedHeaders(decodeSigningKey(Buffer.alloc(32, 1).toString('base64')), 'msg_0123', now, body) }, Buffer.from(body)), false);
  });
});
