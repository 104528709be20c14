// The pure parts of the node player's pod network, image roots and Services: which node listeners
// a pod's sandbox mirrors, where a mount path inside an image lands, a Service's node address and
// hosts file, probe ports, rootfs image-map entries.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import { chrootArgv, resolveInRoot } from './env/nodeplayer/chroot';
import { probePort } from './env/nodeplayer/probes';
import { hostsFileText, nodeAddressOf } from './env/nodeplayer/services';
import { hostLoopbackListeners, parseImageMap } from './env/nodeplayer/util';

const procNetTcp = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 315 1',
  '   1: 0100007F:405B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 336 2',
  '   2: 0100007F:405B 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 337 2',
  '   3: 0300607F:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 338 2',
  '   4: 0F02000A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 339 2',
  '   5: 0100007F:405B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 340 2',
].join('\n');

describe('node player pod network and image roots', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('mirrors listening sockets on loopback and on every address, once each; not connections, not other addresses', () => {
    assert.deepEqual(hostLoopbackListeners(procNetTcp), [
      { address: '127.0.0.1', port: 2024 }, // 0.0.0.0:2024 becomes the pod's 127.0.0.1:2024
      { address: '127.0.0.1', port: 16475 },
      { address: '127.96.0.3', port: 443 }, // a Service's node address
    ]);
    assert.deepEqual(hostLoopbackListeners(procNetTcp.split('\n')[0] ?? ''), []);
  });

  it('resolves mount paths inside the image: absolute links count from the image root, .. stops at it', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rootfs-'));
    dirs.push(root);
    mkdirSync(path.join(root, 'run'));
    mkdirSync(path.join(root, 'var'));
    symlinkSync('/run', path.join(root, 'var', 'run'));
    symlinkSync('../../../../etc', path.join(root, 'escape'));
    assert.equal(resolveInRoot(root, '/var/run/secrets/kubernetes.io/serviceaccount'), path.join(root, 'run/secrets/kubernetes.io/serviceaccount'));
    assert.equal(resolveInRoot(root, '/tmp'), path.join(root, 'tmp'));
    assert.equal(resolveInRoot(root, '/escape/hosts'), path.join(root, 'etc/hosts'));
    assert.equal(resolveInRoot(root, '/../../x'), path.join(root, 'x'));
    symlinkSync('/loop', path.join(root, 'loop'));
    assert.throws(() => resolveInRoot(root, '/loop/x'), /too many symbolic links/);
  });

  it('runs the container chrooted as its user, the root read-only only when asked, in the pod network when given', () => {
    const spec = { rootfs: '/r', argv: ['node', 'main.js'], env: { A: "it's" }, user: '65532:65532', workingDir: '/app', mounts: [{ host: '/h/tmp', inside: 'tmp', readOnly: false }, { host: '/h/sa', inside: 'run/secrets', readOnly: true }], readOnlyRoot: true, tmpfsTmp: false };
    const argv = chrootArgv(spec);
    assert.deepEqual(argv.slice(0, 6), ['unshare', '--mount', '--propagation', 'private', '--fork', '--kill-child']);
    const script = argv.at(-1) ?? '';
    assert.match(script, /mount --bind '\/h\/tmp' '\/r\/tmp'\n/);
    assert.doesNotMatch(script, /remount,bind,ro '\/r\/tmp'/);
    assert.match(script, /mount -o remount,bind,ro '\/r\/run\/secrets'/);
    assert.match(script, /mount -o remount,bind,ro '\/r'\n/);
    assert.match(script, /exec chroot --userspec=65532:65532 '\/r' \/usr\/bin\/env -i 'A=it'\\''s'/);
    assert.doesNotMatch(chrootArgv({ ...spec, readOnlyRoot: false }).at(-1) ?? '', /remount,bind,ro '\/r'\n/);
    assert.deepEqual(chrootArgv({ ...spec, netns: '/proc/7/ns/net' }).slice(0, 3), ['nsenter', '--net=/proc/7/ns/net', 'unshare']);
  });

  it('gives a Service the node address of its ClusterIP and its DNS names in the hosts file', () => {
    assert.equal(nodeAddressOf('10.96.3.7'), '127.96.3.7');
    assert.equal(nodeAddressOf('None'), undefined);
    const service = (name: string, clusterIP: string): k8s.V1Service => ({ metadata: { name, namespace: 'ns' }, spec: { clusterIP } });
    assert.equal(
      hostsFileText([service('web', '10.96.0.10'), service('headless', 'None')]),
      '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n127.96.0.10 web.ns.svc web.ns.svc.cluster.local\n',
    );
  });

  it('finds a probe port by number, numeric string or name', () => {
    const container: k8s.V1Container = { name: 'c', ports: [{ name: 'metrics', containerPort: 8080 }] };
    assert.equal(probePort(container, 9000), 9000);
    assert.equal(probePort(container, '9001'), 9001);
    assert.equal(probePort(container, 'metrics'), 8080);
    assert.throws(() => probePort(container, 'webhook'), /probe port webhook names no port of container c/);
  });

  it('reads rootfs entries of the image map and names a bad field', () => {
    const entry = { rootfs: '/r', entrypoint: ['node'], workingDir: '/app', user: '65532:65532', env: ['PATH=/usr/bin'] };
    assert.deepEqual(parseImageMap(JSON.stringify({ 'reg/op': entry }), 'map'), { 'reg/op': { ...entry, cmd: undefined } });
    assert.throws(() => parseImageMap(JSON.stringify({ 'reg/op': { ...entry, rootfs: 1 } }), 'map'), /map: entry reg\/op: rootfs must be a string/);
    assert.throws(() => parseImageMap(JSON.stringify({ 'reg/op': { ...entry, env: 'PATH=/x' } }), 'map'), /entry reg\/op: env must be an array of strings/);
  });
});
