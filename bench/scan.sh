#!/usr/bin/env bash
# bench/scan: 1,000 ImageScans over 50 unique digests, without and with Redis (see bench/scan.ts).
# Starts the test plane (leaves it as it found it unless SECURESTACK_KEEP_PLANE=1), compiles,
# runs the benchmark and prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# The Node the image ships (test/env/node.sh): SecureStack needs Node >= 22.19.
# shellcheck source=../test/env/node.sh
source test/env/node.sh
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
kubeconfig="$(bash test/env/start.sh | tail -n 1)"
export KUBECONFIG="$kubeconfig" SECURESTACK_KUBECONFIG="$kubeconfig"
[ "${SECURESTACK_KEEP_PLANE:-}" = 1 ] || trap 'bash test/env/stop.sh >/dev/null 2>&1 || true' EXIT
node dist/bench/scan.js
