// How the client finds the API server and proves who it is (operator/platform/kube/access.ts), from real
// files: kubeconfigs with embedded and relative credentials, a token file that rotates, the
// in-cluster service account, and the kinds of kubeconfig handed to client-node's loader (an exec
// plugin, run for real).
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { dump } from 'js-yaml';
import { defaultAccess, fileAccess, inClusterAccess, tokenFileReadMs } from '../operator/platform/kube/access';

const dir = mkdtempSync(path.join(tmpdir(), 'securestack-access-'));

function kubeconfig(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const file = path.join(dir, name);
  writeFileSync(file, dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'other', cluster: { server: 'https://other.invalid:1' } }, { name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }, { name: 'unused', context: { cluster: 'other', user: 'u' } }],
    'current-context': 'ctx',
  }));
  return file;
}

describe('cluster access', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads embedded CA and client certificate data of the current context, without client-node', async () => {
    const file = kubeconfig('embedded', { server: 'https://127.0.0.1:6443', 'certificate-authority-data': Buffer.from('CA PEM').toString('base64'), 'tls-server-name': 'kubernetes' }, {
      'client-certificate-data': Buffer.from('CERT PEM').toString('base64'),
      'client-key-data': Buffer.from('KEY PEM').toString('base64'),
    });
    const access = fileAccess(file);
    assert.equal(access.server?.href, 'https://127.0.0.1:6443/', 'known without loading anything');
    const credentials = await access.credentials();
    assert.deepEqual({ ...credentials.tls, ca: String(credentials.tls.ca), cert: String(credentials.tls.cert), key: String(credentials.tls.key) }, { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM', servername: 'kubernetes' });
    assert.deepEqual(credentials.headers, {});
  });

  it('resolves credential files relative to the kubeconfig, and sends a static token', async () => {
    writeFileSync(path.join(dir, 'ca.pem'), 'CA FROM FILE');
    const file = kubeconfig('relative', { server: 'https://api.example:443', 'certificate-authority': 'ca.pem', 'insecure-skip-tls-verify': false }, { token: 'static-token' });
    const credentials = await fileAccess(file).credentials();
    assert.equal(String(credentials.tls.ca), 'CA FROM FILE');
    assert.equal(credentials.tls.rejectUnauthorized, undefined, 'verification stays on unless skipped');
    assert.deepEqual(credentials.headers, { authorization: 'Bearer static-token' });
    const insecure = await fileAccess(kubeconfig('insecure', { server: 'https://api.example:443', 'insecure-skip-tls-verify': true }, {})).credentials();
    assert.equal(insecure.tls.rejectUnauthorized, false);
  });

  it('re-reads a token file once it is a minute old, not a millisecond before', async () => {
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'first\n');
    let now = 1_000_000;
    const access = fileAccess(kubeconfig('token-file', { server: 'https://api.example:443' }, { tokenFile: 'token' }), () => now);
    assert.deepEqual((await access.credentials()).headers, { authorization: 'Bearer first' });
    writeFileSync(tokenFile, 'second\n');
    now += tokenFileReadMs - 1;
    assert.deepEqual((await access.credentials()).headers, { authorization: 'Bearer first' });
    now += 1;
    assert.deepEqual((await access.credentials()).headers, { authorization: 'Bearer second' });
  });

  it('uses the in-cluster service account: the Service address (IPv6 too), its CA and the rotated token', async () => {
    const sa = path.join(dir, 'serviceaccount');
    mkdirSync(sa);
    writeFileSync(path.join(sa, 'ca.crt'), 'CLUSTER CA');
    writeFileSync(path.join(sa, 'token'), 'sa-token');
    const v4 = inClusterAccess('10.96.0.1', '443', sa);
    assert.equal(v4.server?.href, 'https://10.96.0.1/');
    const credentials = await v4.credentials();
    assert.equal(String(credentials.tls.ca), 'CLUSTER CA');
    assert.deepEqual(credentials.headers, { authorization: 'Bearer sa-token' });
    assert.equal(inClusterAccess('fd00::1', '6443', sa).server?.href, 'https://[fd00::1]:6443/');
  });

  it('hands exec plugins to client-node\'s loader, which runs the plugin for the token', async () => {
    const plugin = path.join(dir, 'plugin.sh');
    writeFileSync(plugin, '#!/bin/sh\necho \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}\'\n');
    chmodSync(plugin, 0o755);
    const access = fileAccess(kubeconfig('exec', { server: 'https://api.example:443' }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }));
    assert.equal(access.server, undefined, 'not read here');
    const credentials = await access.credentials();
    assert.equal(credentials.server.href, 'https://api.example/');
    assert.deepEqual(credentials.headers, { Authorization: 'Bearer from-exec' });
  });

  it('picks $KUBECONFIG, merges several files through client-node, and says what is missing', () => {
    const one = kubeconfig('one', { server: 'https://one.example:443' }, {});
    assert.equal(defaultAccess({ KUBECONFIG: one, HOME: dir }).server?.hostname, 'one.example');
    assert.match(defaultAccess({ KUBECONFIG: [one, one].join(path.delimiter) }).source, /2 files, merged/);
    assert.throws(() => defaultAccess({ HOME: path.join(dir, 'nowhere') }), /no kubeconfig .* not in a cluster/);
    assert.throws(() => fileAccess(kubeconfig('broken', { 'certificate-authority-data': 'x' }, {})), /names no cluster with a server/);
  });
});
