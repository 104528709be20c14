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
  return `heap used ${value('nodejs_heap_size_used_bytes')} of ${value('nodejs_heap_size_total_bytes')} MiB, external ${value('nodejs_external_memory_bytes')} MiB`;
}
