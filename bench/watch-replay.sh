#!/usr/bin/env bash
# bench/watch-replay: watch events replayed with 10,000 ImageScans and no changes (bench/watch-replay.ts).
# Starts the test plane (leaves it as it found it unless SECURESTACK_KEEP_PLANE=1), compiles, runs
# the benchmark and prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# The Node the image ships (test/env/node.sh): SecureStack needs Node >= 22.19.
# shellcheck source=../test/env/node.sh
source test/env/node.sh
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
run="${SECURESTACK_RUN_DIR:-$root/.testenv/run}"
was_up=0
[ -s "$run/kubeconfig" ] && kubectl --kubeconfig "$run/kubeconfig" --request-timeout=5s get --raw /readyz >/dev/null 2>&1 && was_up=1
kubeconfig="$(bash test/env/start.sh | tail -n 1)"
export KUBECONFIG="$kubeconfig" SECURESTACK_KUBECONFIG="$kubeconfig"
if [ "${SECURESTACK_KEEP_PLANE:-}" != 1 ] && [ "$was_up" = 0 ]; then
  trap 'bash test/env/stop.sh >/dev/null 2>&1 || true' EXIT
fi
node dist/bench/watch-replay.js
