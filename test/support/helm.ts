// helm for the tests: the binary test/env/build.sh builds ($HELM) or one on PATH, run against the
// test control plane with the kubectl options of cluster.ts.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { kubeconfigPath, runTool, type KubectlOptions, type KubectlResult } from './cluster';

export const HELM_MISSING = 'helm is missing: `npm test` builds it with test/env/build.sh and sets $HELM, or put helm on PATH';

export function findHelm(): string | undefined {
  const candidates = [process.env.HELM, ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'helm'))];
  return candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
}

/** helm <args> against the test plane; fails with the way to get helm when it is missing. */
export function helm(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const program = findHelm();
  if (!program) return Promise.reject(new Error(HELM_MISSING));
  const namespace = opts.namespace !== undefined ? ['--namespace', opts.namespace] : [];
  return runTool(program, ['--kubeconfig', kubeconfigPath(), ...namespace, ...args], `helm ${args.join(' ')}`, opts);
}
