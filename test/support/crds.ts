// Installs SecureStack's CRDs into the test control plane once per test file and waits until
// the API server serves them.
import * as path from 'node:path';
import { kubectl, repoRoot } from './cluster';

export async function ensureCrds(): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', path.join(repoRoot(), 'crds')]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', path.join(repoRoot(), 'crds')]);
}
