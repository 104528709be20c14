/**
 * CPU priority per thread. Linux nice values belong to threads, not processes: setpriority on a
 * process id changes its main thread only, and threads started later inherit the value of the
 * thread that starts them. A process may lower (raise the nice value of) its own threads without
 * privileges. Elsewhere than Linux, or if refused, threads keep their priority.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Sets `nice` on every thread of this process now, except the thread ids in `except`; returns how many changed. */
export function setThreadPriorities(nice: number, except: readonly number[] = []): number {
  let changed = 0;
  try {
    for (const tid of readdirSync('/proc/self/task').map(Number)) {
      if (except.includes(tid)) continue;
      try {
        setPriority(tid, nice);
        changed++;
      } catch {
        // the thread ended meanwhile, or this one may not be changed: leave it
      }
    }
  } catch {
    // no /proc: not Linux
  }
  return changed;
}
