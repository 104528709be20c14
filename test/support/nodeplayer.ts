// Test helpers for the node player (test/env/nodeplayer): the test-environment kubelet that runs
// pods labelled securestack.io/component=scanner as local processes. See docs/testenv.md.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { kubeconfigPath, kubectl } from './cluster';

/** The label that hands a pod to the node player instead of kwok's simulation. */
export const SCANNER_LABEL = { 'securestack.io/component': 'scanner' } as const;
/** A test-only image the player runs as `/bin/sh -c <args...>`. */
export const SHELL_IMAGE = 'securestack.test/shell:latest';

/** The plane's run dir: SECURESTACK_RUN_DIR, else the folder of the kubeconfig start.sh wrote. */
export function runDir(): string {
  return process.env.SECURESTACK_RUN_DIR || path.dirname(kubeconfigPath());
}

/** Where the player writes a container's stdout and stderr. */
export function containerLogPath(namespace: string, pod: string, container: string): string {
  return path.join(runDir(), 'logs', 'pods', `${namespace}_${pod}_${container}.log`);
}

export function readContainerLog(namespace: string, pod: string, container: string): string {
  try {
    return readFileSync(containerLogPath(namespace, pod, container), 'utf8');
  } catch {
    return '';
  }
}

/** Pids of live processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) {
      continue;
    }
    try {
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // Zombies (state Z) are dead already; only their parent has not collected them yet.
      if (cmdline.includes(marker) && !/^\d+ \(.*\) Z /.test(stat)) {
        out.push(Number(d));
      }
    } catch {
      // gone while we looked
    }
  }
  return out;
}

/**
 * Fails, with instructions, unless the node player renewed its Lease (kube-system/
 * securestack-nodeplayer) in the last 20 seconds.
 */
export async function requireNodePlayer(): Promise<void> {
  const res = await kubectl(['get', 'lease', 'securestack-nodeplayer', '-n', 'kube-system', '-o', 'jsonpath={.spec.renewTime}'], {
    allowFail: true,
  });
  const renewed = res.code === 0 ? Date.parse(res.stdout.trim()) : NaN;
  if (Number.isNaN(renewed) || Date.now() - renewed > 20_000) {
    const state = res.code === 0 ? `its Lease was last renewed at ${res.stdout.trim() || 'never'}` : 'it has no Lease kube-system/securestack-nodeplayer';
    throw new Error(
      `The SecureStack node player is not running (${state}). It starts with the test control plane: run ` +
        '`npm test`, or `bash test/env/start.sh` (which restarts a dead player), without SECURESTACK_NODEPLAYER=0; ' +
        `its log is ${path.join(runDir(), 'logs', 'nodeplayer.log')}.`,
    );
  }
}
