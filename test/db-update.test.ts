// A vulnerability-DB update rescans what was scanned with the older DB. The test runs its own
// Trivy server on a copy of the plane's fixture DB, then moves the DB's UpdatedAt forward as a
// real DB download would; the operator reads it from the server's /version endpoint.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestNamespace, deleteNamespace, kubectl, waitFor } from './support/cluster';
import { runDir } from './support/nodeplayer';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { freePort, getScan, imageScanManifest, pushUniqueImage, requireScanEnvironment, scanJobsForDigest, scanOperatorEnv, waitForPhase, type ScanEnvironment } from './support/scanenv';

function trivyBinary(): string {
  const trivy = process.env.TRIVY;
  if (!trivy || !existsSync(trivy)) throw new Error('TRIVY is not set to the trivy binary: run `npm test` (it exports TRIVY) or export TRIVY=$(bash test/env/build.sh | tail -n1)/trivy');
  return trivy;
}

describe('vulnerability DB updates', () => {
  let cacheDir = '';
  let server: ChildProcess | undefined;
  let operator: OperatorProcess | undefined;
  const namespaces: string[] = [];

  let env: ScanEnvironment;

  before(async () => {
    env = await requireScanEnvironment();
  });

  after(async () => {
    await operator?.stop('SIGKILL');
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await once(server, 'exit');
    }
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
    await Promise.all(namespaces.map((namespace) => deleteNamespace(namespace)));
  });

  it('rescans an image when the Trivy server reports a newer DB', async () => {
    const trivy = trivyBinary();
    cacheDir = mkdtempSync(path.join(tmpdir(), 'securestack-trivy-'));
    cpSync(path.join(runDir(), 'trivy', 'cache', 'db'), path.join(cacheDir, 'db'), { recursive: true });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    server = spawn(trivy, ['server', '--listen', `127.0.0.1:${port}`, '--cache-dir', cacheDir, '--skip-db-update', '--no-progress'], { stdio: 'ignore' });
    await waitFor('the test Trivy server', async () => {
      const response = await fetch(`${url}/healthz`).catch(() => undefined);
      return response?.ok ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });

    const home = await createTestNamespace('db-op');
    const ns = await createTestNamespace('db');
    namespaces.push(home, ns);
    operator = startOperator({
      identity: 'db-a',
      namespace: home,
      leaseName: 'db',
      env: scanOperatorEnv(env, await freePort(), { SECURESTACK_TRIVY_SERVER: url, SECURESTACK_DB_POLL_INTERVAL: '1s' }),
    });
    await waitUntilLeading(operator, home, 'db');
    const image = pushUniqueImage(env, 'db-test/app');
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: imageScanManifest('app', image) });
    const first = await waitForPhase(ns, 'app', 'Completed', operator);
    const firstDb = first.status?.scanner?.dbUpdatedAt;
    assert.ok(firstDb, 'the result names the DB it was made with');

    // A newer DB: Trivy re-reads metadata.json on every /version request.
    const metadataFile = path.join(cacheDir, 'db', 'metadata.json');
    const metadata = JSON.parse(readFileSync(metadataFile, 'utf8')) as { UpdatedAt: string };
    const newer = new Date(Date.parse(metadata.UpdatedAt) + 86_400_000).toISOString();
    writeFileSync(metadataFile, JSON.stringify({ ...metadata, UpdatedAt: newer }));

    const rescanned = await waitFor('the ImageScan to be rescanned with the newer DB', async () => {
      const scan = await getScan(ns, 'app');
      const db = scan?.status?.scanner?.dbUpdatedAt;
      return scan?.status?.phase === 'Completed' && db && Date.parse(db) === Date.parse(newer) ? scan : undefined;
    }, { timeoutMs: 120_000 });
    assert.deepEqual(rescanned.status?.summary, first.status?.summary, 'same DB content, same findings');
    const jobs = await scanJobsForDigest(first.status?.digest ?? '');
    assert.equal(jobs.length, 2, `a second Job scanned it: ${jobs.join(', ')}`);
    assert.ok(operator.logs.some((line) => line.msg === 'vulnerability DB version' && line.previous !== undefined));
  });
});
