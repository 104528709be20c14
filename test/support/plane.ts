// Restarts one component of the test control plane the way an operator of a cluster sees it
// happen: kill -9, then the same binary with the same flags, as start.sh launched it (its own
// session, its pid file, its log), so stop.sh still finds and stops it afterwards.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubectl, waitFor } from './cluster';
import { runDir } from './nodeplayer';

function pidOf(component: string): number {
  const pid = Number(readFileSync(path.join(runDir(), 'pids', `${component}.pid`), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid recorded for ${component} in ${runDir()}/pids`);
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Restart {
  /** When the old process was gone (ms since epoch). */
  killedAt: number;
  /** When the new one was started. */
  startedAt: number;
}

/**
 * kill -9 of a plane component, a pause of `downMs` (and until `whileDown` has run, if given),
 * then the same command line again. Resolves once the new process runs; `waitUntilApiReady`
 * tells when the API answers again.
 */
export async function killAndRestart(component: 'kube-apiserver' | 'etcd', downMs = 0, whileDown?: () => Promise<void>): Promise<Restart> {
  const pid = pidOf(component);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
  process.kill(pid, 'SIGKILL');
  await waitFor(`${component} (pid ${pid}) to exit`, () => Promise.resolve(alive(pid) ? undefined : true), { timeoutMs: 10_000, intervalMs: 50 });
  const killedAt = Date.now();
  // A failure while down is thrown only after the restart: the plane must come back regardless.
  let failedWhileDown: Error | undefined;
  await Promise.all([sleep(downMs), whileDown?.().catch((err: unknown) => (failedWhileDown = err instanceof Error ? err : new Error(`while down: ${JSON.stringify(err)}`)))]);
  const pidFile = path.join(runDir(), 'pids', `${component}.pid`);
  const log = openSync(path.join(runDir(), 'logs', `${component}.log`), 'a');
  try {
    // As start.sh's launch(): the child writes its own pid, then becomes the component.
    const child = spawn('setsid', ['bash', '-c', 'echo $$ >"$0"; exec "$@"', pidFile, ...argv], { detached: true, stdio: ['ignore', log, log] });
    child.unref();
  } finally {
    closeSync(log);
  }
  const startedAt = Date.now();
  await waitFor(`${component} to run again`, () => Promise.resolve(pidOf(component) !== pid && alive(pidOf(component)) ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
  if (failedWhileDown) throw failedWhileDown;
  return { killedAt, startedAt };
}

/** Waits until the API server answers /readyz; returns when (ms since epoch). */
export async function waitUntilApiReady(timeoutMs = 120_000): Promise<number> {
  await waitFor('the API server to be ready', async () => {
    const ready = await kubectl(['get', '--raw', '/readyz'], { allowFail: true, timeoutMs: 5_000 });
    return ready.code === 0 && ready.stdout.trim() === 'ok' ? true : undefined;
  }, { timeoutMs, intervalMs: 100 });
  return Date.now();
}
