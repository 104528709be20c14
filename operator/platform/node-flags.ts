/**
 * The V8 flags the operator runs with, wherever it starts: the image's entry point, `npm run
 * operator`, the demo, the tests and the benches (test/node-flags.test.ts keeps them all equal).
 *
 * `--max-semi-space-size=8` (MiB): under a burst of work V8 grows the young generation up to
 * 64 MiB per semi-space and keeps it reserved while the process idles. After bench/scan that was
 * 128 MiB of a 274 MiB RSS for about 34 MiB of live objects; with 8 MiB the quiet RSS was 169 MiB
 * and the cache-hit p99 did not move (docs/benchmarks.md). Allocation-heavy moments scavenge more
 * often instead, each scavenge as short as before (it copies survivors, not the space).
 */
export const operatorNodeFlags: readonly string[] = ['--max-semi-space-size=8'];
