/**
 * The V8 flags the operator runs with, wherever it starts: the image's entry point, `npm run
 * operator`, the demo, the tests and the benches (test/node-flags.test.ts keeps them all equal).
 * Figures: docs/benchmarks.md (bench/scan runs 5-8, bench/admission).
 *
 * - `--max-semi-space-size=8` (MiB): under a burst of work V8 grew the young generation to 64 MiB
 *   per semi-space and kept it reserved while the process idled: 128 MiB of a 274 MiB RSS after
 *   bench/scan, for about 34 MiB of live objects. With the bound: 169 MiB.
 * - `--optimize-for-size`: V8 grows the heap with less slack and keeps less code, so what it
 *   reserves stays close to what is live: quiet RSS after bench/scan with Redis 114 MiB (target
 *   150). It costs rule-engine throughput: 7,600-7,800 reviews/s on one core instead of
 *   9,800-10,100 (target 5,000), p99 0.38 ms per review either way.
 */
export const operatorNodeFlags: readonly string[] = ['--max-semi-space-size=8', '--optimize-for-size'];
