// The SecureStack image, built from the real Dockerfile on this machine (issue 12): buildah with
// chroot isolation over a Node base made from Debian packages (test/env/image.sh). It runs as UID
// 65532 with a read-only root file system, holds no npm, compiler, tests or sources, and the
// operator inside it starts against the test plane, takes the Lease and answers /healthz.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { operatorNodeFlags } from '../operator/platform/node-flags';
import { createTestNamespace, deleteNamespace, kubectl, requireCluster, waitFor } from './support/cluster';
import { ensureCrds } from './support/crds';
import { buildImage, inspectImage, mountImage, runInImage, runInImageSync, stopInImage, unpackedBytes, type MountedImage } from './support/image';
import { freePort, requireScanEnvironment } from './support/scanenv';

/** Every file below `dir` (relative paths), without following links. */
function filesBelow(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(prefix, entry.name);
    return entry.isDirectory() ? filesBelow(path.join(dir, entry.name), relative) : [relative];
  });
}

describe('the SecureStack image', () => {
  let image = '';
  let mounted: MountedImage;
  const namespaces: string[] = [];
  const cleanups: Array<() => void> = [];

  before(() => {
    image = buildImage();
    mounted = mountImage(image);
  });
  after(async () => {
    for (const cleanup of cleanups) cleanup();
    mounted?.remove();
    await Promise.all(namespaces.map((namespace) => deleteNamespace(namespace)));
  });

  it('is configured to run as 65532:65532 from /app with the operator entrypoint and its V8 flags; its size is reported', () => {
    const config = inspectImage(image);
    assert.equal(config.user, '65532:65532');
    assert.equal(config.workingDir, '/app');
    assert.deepEqual(config.entrypoint, ['node', ...operatorNodeFlags, 'dist/operator/main.js']);
    assert.ok(config.env.includes('NODE_ENV=production'));
    const bytes = unpackedBytes(mounted.rootfs);
    assert.ok(bytes > 50 * 1024 * 1024, `unpacked ${bytes} bytes`);
    console.log(`image ${image}: ${config.size} as buildah lists it, ${(bytes / 1024 / 1024).toFixed(1)} MiB unpacked`);
  });

  it('holds the compiled operator, production dependencies and CRDs only: no npm, compiler, tests or sources', () => {
    const root = mounted.rootfs;
    for (const gone of ['usr/local/bin/npm', 'usr/local/bin/npx', 'usr/local/bin/corepack', 'usr/local/lib/node_modules/npm', 'usr/local/lib/node_modules/corepack', 'app/operator', 'app/test', 'app/bench', 'app/tools', 'app/dist/test', 'app/dist/bench', 'app/dist/tools', 'app/node_modules/typescript', 'app/node_modules/eslint', 'app/tsconfig.json', 'app/package-lock.json']) {
      assert.equal(existsSync(path.join(root, gone)), false, `/${gone} is in the image`);
    }
    assert.deepEqual(readdirSync(path.join(root, 'app')).sort(), ['crds', 'dist', 'node_modules', 'package.json']);
    assert.ok(existsSync(path.join(root, 'app/dist/operator/main.js')));
    assert.ok(existsSync(path.join(root, 'app/dist/operator/uploader.js')), 'the uploader the scan Jobs run is in the same image');
    const appFiles = filesBelow(path.join(root, 'app'));
    const sources = appFiles.filter((file) => /\.ts$/.test(file) && !/\.d\.ts$/.test(file) && !file.startsWith('node_modules/'));
    assert.deepEqual(sources, [], 'no TypeScript sources');
    assert.deepEqual(appFiles.filter((file) => /\.test\.js$/.test(file) && !file.startsWith('node_modules/')), [], 'no compiled tests');
    // Owned by root and not writable by anyone else: the runtime user cannot change the code it runs.
    const writable = appFiles.filter((file) => {
      const stat = statSync(path.join(root, 'app', file));
      return stat.uid !== 0 || (stat.mode & 0o022) !== 0;
    });
    assert.deepEqual(writable.slice(0, 5), [], `${writable.length} file(s) under /app are not root-owned or are group/world-writable`);
  });

  it('runs as 65532 with a read-only root: only /tmp is writable', async () => {
    const probe = `
      const fs = require('node:fs');
      const tryWrite = (file) => { try { fs.writeFileSync(file, 'x'); return 'written'; } catch (err) { return err.code; } };
      console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), app: tryWrite('/app/probe'), root: tryWrite('/probe'), tmp: tryWrite('/tmp/probe'), node: process.version }));`;
    const result = await runInImageSync(mounted, { argv: ['/usr/local/bin/node', '-e', probe], workingDir: '/app' });
    assert.equal(result.code, 0, result.stderr);
    const seen = JSON.parse(result.stdout.trim()) as Record<string, unknown>;
    assert.deepEqual({ ...seen, node: undefined }, { uid: 65532, gid: 65532, app: 'EROFS', root: 'EROFS', tmp: 'written', node: undefined });
    assert.equal(seen.node, process.version, 'the image ships the Node the tests run on');
  });

  it('is pushed to the plane\'s registry, which serves the same digest', async () => {
    const env = await requireScanEnvironment();
    const pushed = buildImage(`${env.registry}/securestack/operator:test`);
    const [reference, digest] = pushed.split('@');
    assert.equal(reference, `${env.registry}/securestack/operator:test`);
    assert.match(digest ?? '', /^sha256:[a-f0-9]{64}$/);
    const response = await fetch(`http://${env.registry}/v2/securestack/operator/manifests/test`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-content-digest'), digest);
  });

  it('starts the operator from the image against the test plane: it takes the Lease and answers /healthz and /readyz', async () => {
    await requireCluster();
    await ensureCrds();
    const namespace = await createTestNamespace('image-op');
    namespaces.push(namespace);
    const metricsPort = await freePort();
    // The plane's admin kubeconfig, flattened (certificates inline) and readable by the image's
    // group only, as a projected Secret with fsGroup would be.
    const kubeDir = mkdtempSync(path.join(tmpdir(), 'securestack-image-kube-'));
    cleanups.push(() => rmSync(kubeDir, { recursive: true, force: true }));
    const flattened = (await kubectl(['config', 'view', '--raw', '--flatten'])).stdout;
    writeFileSync(path.join(kubeDir, 'kubeconfig'), flattened, { mode: 0o640 });
    chownSync(path.join(kubeDir, 'kubeconfig'), 0, 65532);
    chmodSync(kubeDir, 0o755);
    const config = inspectImage(image);
    const imageEnv = Object.fromEntries(config.env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
    const child = runInImage(mounted, {
      argv: config.entrypoint,
      workingDir: config.workingDir,
      readOnlyMounts: { [kubeDir]: '/etc/securestack-test' },
      env: {
        ...imageEnv,
        KUBECONFIG: '/etc/securestack-test/kubeconfig',
        SECURESTACK_NAMESPACE: namespace,
        SECURESTACK_IDENTITY: 'image-test',
        SECURESTACK_LEASE_NAME: 'image-test',
        SECURESTACK_METRICS_PORT: String(metricsPort),
        SECURESTACK_BIND_ADDRESS: '127.0.0.1',
        SECURESTACK_REPORT_PORT: String(await freePort()),
        SECURESTACK_WEBHOOK_ENABLED: 'false',
        SECURESTACK_WORKLOAD_SCANNING: 'false',
      },
    });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    try {
      await waitFor('the operator in the image to answer /healthz', async () => {
        if (child.exitCode !== null) throw new Error(`the operator exited ${child.exitCode}: ${output.slice(-2000)}`);
        const response = await fetch(`http://127.0.0.1:${metricsPort}/healthz`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
        return response?.status === 200 ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 250 });
      await waitFor('the Lease', async () => ((await kubectl(['get', 'lease', 'image-test', '-o', 'jsonpath={.spec.holderIdentity}'], { namespace, allowFail: true })).stdout === 'image-test' ? true : undefined), { timeoutMs: 30_000 });
      const ready = await waitFor('/readyz', async () => {
        const response = await fetch(`http://127.0.0.1:${metricsPort}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
        return response?.status === 200 ? response : undefined;
      }, { timeoutMs: 30_000 });
      assert.equal(ready.status, 200);
      // The Lease is taken before the term starts (its state rebuilt first); the gauge follows.
      await waitFor('securestack_leader 1', async () => (/^securestack_leader 1$/m.test(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(2_000) })).text()) ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\noutput: ${output.slice(-3000)}`);
    } finally {
      const code = await stopInImage(child);
      assert.equal(code, 0, `SIGTERM stops the operator cleanly: ${output.slice(-1000)}`);
    }
  });
});
