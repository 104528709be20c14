#!/usr/bin/env bash
# bench/ingest: admission webhook latency (p50/p99) idle and while a 50 MiB scan report is uploaded
# and ingested through the real upload server and intake, in one process (see bench/ingest.ts).
# Prints Markdown for docs/benchmarks.md; the SECURESTACK_BENCH_* knobs are listed at the top of
# bench/ingest.ts. The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" ingest "$@"
