// How much memory a process under benchmark uses: its RSS from /proc, and the operator's own split
// (V8 heap used and reserved, external) from its /metrics (prom-client's process metrics).
import { readFileSync } from 'node:fs';

/** Resident set size of a process, MiB with one decimal. */
export function rssMiB(pid: number = process.pid): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

/** The operator's heap as its /metrics reports it, for a table cell. */
export async function heapMiB(metricsPort: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = (name: string): string => (Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1024 / 1024).toFixed(1);
  // V8's spaces: which one holds the reserved heap (the young generation grows under load and is
  // not given back while the process idles).
  const spaces = [...text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)$/gm)]
    .map(([, space, bytes]) => [space, Number(bytes) / 1024 / 1024] as const)
    .filter(([, mib]) => mib >= 1)
    .map(([space, mib]) => `${space} ${mib.toFixed(1)}`)
    .join(', ');
  return `heap used ${value('nodejs_heap_size_used_bytes')} of ${value('nodejs_heap_size_total_bytes')} MiB (${spaces}), external ${value('nodejs_external_memory_bytes')} MiB`;
}

/**
 * Where a process's RSS lives, from /proc/PID/smaps: the brk heap (glibc's main arena), anonymous
 * mappings (V8's heap spaces, other malloc arenas, large allocations), the executable and other
 * files. For finding memory that the V8 heap figures do not show.
 */
export function rssByMapping(pid: number): string {
  const totals = new Map<string, number>();
  let kind = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[3] ?? '';
      // glibc reserves each thread arena as a 64 MiB-aligned mapping of at most 64 MiB (zlib and
      // the libuv pool allocate there); the main thread's arena is the brk heap.
      const size = parseInt(header[2] ?? '0', 16) - parseInt(header[1] ?? '0', 16);
      const arena = name === '' && size <= 64 * 1024 * 1024 && parseInt(header[1] ?? '0', 16) % (64 * 1024 * 1024) === 0;
      kind = name === '' ? (arena ? 'thread arenas' : 'anonymous') : name === '[heap]' ? 'brk heap' : name.startsWith('[') ? name : name.includes('/node') ? 'node binary' : 'other files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) totals.set(kind, (totals.get(kind) ?? 0) + Number(rss[1]));
  }
  return [...totals].filter(([, kb]) => kb >= 1024).sort((a, b) => b[1] - a[1]).map(([name, kb]) => `${name} ${(kb / 1024).toFixed(1)}`).join(', ');
}
