#!/usr/bin/env bash
# bench/ingest: admission webhook latency (p50/p99) idle and while a 50 MiB scan report is uploaded
# and ingested through the real upload server and intake, in one process (see bench/ingest.ts).
# Needs no control plane: the Kubernetes API calls of the upload path are answered in memory.
# Compiles, runs on the Node the image ships (test/env/node.sh) and prints Markdown for
# docs/benchmarks.md; the SECURESTACK_BENCH_* knobs are listed at the top of bench/ingest.ts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=../test/env/node.sh
source test/env/node.sh
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
node dist/bench/ingest.js
