// bench/helm-install: `helm install` to the webhook answering, on the test plane (issue 12).
//
//   bash bench/helm-install.sh     (compiles, starts the test plane, runs this, stops the plane)
//
// Builds the image and pushes it to the plane's registry (as test/helm-install.test.ts does), then
// SECURESTACK_BENCH_ROUNDS (3) times: `helm install --wait` with two replicas run by the node player
// from the image, then a privileged Pod dry run every 250 ms until the webhook denies it (through
// the chart's Service), then `helm uninstall --wait` until nothing of the release is left. Prints
// Markdown for docs/benchmarks.md.
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestNamespace, deleteNamespace, kubectl, repoRoot } from '../test/support/cluster';
import { helm } from '../test/support/helm';
import { admissionAnswer, installRelease, prepareOperatorImage, release, releaseLeftovers, releaseNamespace } from '../test/support/helm-release';
import { requireScanEnvironment } from '../test/support/scanenv';

const rounds = Number(process.env.SECURESTACK_BENCH_ROUNDS ?? 3);
const seconds = (ms: number): string => (ms / 1000).toFixed(1);

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function main(): Promise<void> {
  const env = await requireScanEnvironment();
  const image = prepareOperatorImage(env);
  const workloads = await createTestNamespace('helm-bench', { labels: { 'securestack.io/profile': 'restricted' } });
  const rows: string[] = [];
  try {
    await kubectl(['apply', '-f', `${repoRoot()}/examples/scanpolicy-enforce-restricted.yaml`], { namespace: workloads });
    for (let round = 1; round <= rounds; round++) {
      const started = Date.now();
      await installRelease(env, image.imageRef);
      const installed = Date.now();
      await until('the webhook denying', 120_000, async () => (await admissionAnswer(workloads)) === 'denied');
      const answering = Date.now();
      await helm(['uninstall', release, '--wait', '--timeout', '120s'], { namespace: releaseNamespace, timeoutMs: 150_000 });
      await until('nothing of the release left', 120_000, async () => (await releaseLeftovers()).length === 0);
      rows.push(`| ${round} | ${seconds(installed - started)} | ${seconds(answering - started)} | ${seconds(Date.now() - answering)} |`);
    }
  } finally {
    await helm(['uninstall', release, '--wait'], { namespace: releaseNamespace, allowFail: true });
    await deleteNamespace(workloads);
    await deleteNamespace(releaseNamespace);
    image.cleanup();
  }
  console.log('| round | `helm install --wait` (s) | install to the webhook denying (s) | `helm uninstall` to nothing left (s) |');
  console.log('|---|---|---|---|');
  for (const row of rows) console.log(row);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
